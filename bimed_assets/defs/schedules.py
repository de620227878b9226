"""The nightly rebuild of the corpus.

It runs the main job on its usual inputs. The LLM steps (chat synthesis, translation, benchmark translation) walk
only the items that are new or changed since an earlier build (``bimed_assets.llm.incremental``: each item's
result is kept under a hash of its content, the step's code version and settings), so a night with unchanged
sources makes no LLM call and does not walk an item, and a night after a small change walks and pays only for
the items that changed. Their outputs carry data versions (content hashes) and code versions, so Dagster shows
what an unchanged night left as it was.
Running by default: the point of the nightly build is that nobody has to remember it, and it costs nothing
when nothing changed. ``BIMED_NIGHTLY_CRON`` sets another time (cron syntax, UTC).

Its runs carry no run config on purpose: what they build (source locations, mix, weights, licences, caps, the
corpus directory) comes from the project settings file (``bimed_assets.settings``) through the job's resources
and default config, the same as a manual run's; a source configured but absent is left out, never replaced by
the bundled sample.
"""

import os

import dagster as dg

nightly_corpus_rebuild = dg.ScheduleDefinition(
    name="nightly_corpus_rebuild",
    job_name="build_corpus",  # defined with the resources in bimed_assets.definitions
    cron_schedule=os.environ.get("BIMED_NIGHTLY_CRON", "0 2 * * *"),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Rebuild the whole corpus graph every night (02:00 UTC by default); the LLM steps walk only new or "
    "changed items, so unchanged inputs cost no call.",
)

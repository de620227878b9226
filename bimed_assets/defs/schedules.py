"""The nightly rebuild of the corpus.

It runs the main job on its usual inputs. Every LLM answer is in the cache and every step redoes only what its
inputs changed (selection by a hash of the id, one request per item and round or attempt), so a night with
unchanged sources makes no LLM call, and a night after a small change pays only for the items that changed.
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
    description="Rebuild the whole corpus graph every night (02:00 UTC by default); LLM answers come from the "
    "cache, so unchanged inputs cost no call.",
)

"""The nightly rebuild of the corpus.

It runs the main job on its usual inputs. The LLM steps (chat synthesis, translation, benchmark translation) walk
only the items that are new or changed since an earlier build (``bimed_assets.llm.incremental``: each item's
result is kept under a hash of its content, the step's code version and settings), so a night with unchanged
sources makes no LLM call and does not walk an item, and a night after a small change walks and pays only for
the items that changed. Their outputs carry data versions (content hashes) and code versions, so Dagster shows
what an unchanged night left as it was.
Running by default: the point of the nightly build is that nobody has to remember it, and it costs nothing
when nothing changed. ``BIMED_NIGHTLY_CRON`` sets another time (cron syntax, UTC).

With the LLM steps cut into shards (``llm.shards`` > 1, ``bimed_assets.defs.partitions``) a build of the whole
graph cannot be one run: a run of one shard would rebuild the corpus from the shards built so far. Then the
nightly rebuild is the sensor of ``nightly_backfill`` (same name, same cron): at the cron time it requests an
asset backfill of the same selection, and Dagster's backfill daemon runs the unpartitioned sources first, then
one run per shard of each LLM step (a failed shard reruns alone), then the unpartitioned corpus, review queues and
benchmarks once, from every shard.

Its runs carry no run config on purpose: what they build (source locations, mix, weights, licences, caps, the
corpus directory) comes from the project settings file (``bimed_assets.settings``) through the job's resources
and default config, the same as a manual run's; a source configured but absent is left out, never replaced by
the bundled sample.
"""

import os
import time

import dagster as dg
from dagster._utils.schedules import reverse_cron_string_iterator

from bimed_assets.backfill import CORPUS_SELECTION, backfill_subset

nightly_corpus_rebuild = dg.ScheduleDefinition(
    name="nightly_corpus_rebuild",
    job_name="build_corpus",  # defined with the resources in bimed_assets.definitions
    cron_schedule=os.environ.get("BIMED_NIGHTLY_CRON", "0 2 * * *"),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Rebuild the whole corpus graph every night (02:00 UTC by default); the LLM steps walk only new or "
    "changed items, so unchanged inputs cost no call.",
)


def nightly_backfill(schedule: dg.ScheduleDefinition = nightly_corpus_rebuild) -> dg.SensorDefinition:
    """The nightly rebuild as an asset backfill of every partition, for a graph with partitioned LLM steps.

    A sensor, not a schedule: in Dagster 1.13 only a sensor's request may be a backfill
    (``RunRequest.for_asset_graph_subset``); the cron times come from the iterator Dagster's schedules use.
    Its cursor is the last cron time it requested; like a schedule, it does not catch up on nights from before
    it was first evaluated."""

    @dg.sensor(name=schedule.name, asset_selection=CORPUS_SELECTION, minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"{schedule.description} With partitioned LLM steps: a backfill of every partition.")
    def nightly(context: dg.SensorEvaluationContext):
        due = next(reverse_cron_string_iterator(time.time(), schedule.cron_schedule,
                                                schedule.execution_timezone)).timestamp()
        last = float(context.cursor) if context.cursor else None
        context.update_cursor(str(due))
        if last is None or due <= last:
            return dg.SkipReason(f"next rebuild after {schedule.cron_schedule} ({schedule.execution_timezone})")
        asset_graph = context.repository_def.asset_graph
        subset = backfill_subset(asset_graph, CORPUS_SELECTION.resolve(asset_graph))
        return dg.RunRequest.for_asset_graph_subset(subset, tags={"bimed/nightly": str(int(due))})

    return nightly

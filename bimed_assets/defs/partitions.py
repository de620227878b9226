"""The LLM steps cut into shards: one Dagster partition per shard, when the project file asks for more than one.

``llm.shards`` (bimed.yaml, or ``BIMED_LLM_SHARDS``) = N > 1: ``chat_synthesis``, ``translation`` and
``benchmark_translation`` share one static partition set of N keys ("00".."N-1"); a partition builds the items of
its shard (``bimed_assets.llm.shards``), so a full build is a backfill of N small runs per step, a failed shard
reruns alone, and each partition's materialization reports its own items, rounds, review share, tokens and cost.
Chats' shard k feeds translation's shard k (the same keys: Dagster's identity mapping). The assets downstream stay
unpartitioned and read every partition (``ALL_SHARDS``, ``one_table``).

N = 1 (the default): no partitions, the assets exactly as defined in their modules. One run per shard costs a
run process (~2 s to start, more than the whole LLM work on the bundled sample, as bench/results/sample_build.md
measured for a process per step), and a partitioned graph needs a backfill where one run does today.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from bimed_assets.defs import (
    schedules,  # the module, not its objects: the defs folder loads what a module holds
)
from bimed_assets.llm.shards import in_shard, shard_keys

# The multi-assets (by op name) that call the LLM endpoint per item.
LLM_STEPS = ("chat_synthesis", "translation", "benchmark_translation")
# The annotation of an input read from an LLM asset: Dagster hands a partitioned upstream's partitions as
# {key: table}, and only ``Any`` accepts both that and the table of an unpartitioned one; ``one_table`` joins them.
ALL_SHARDS = Any


def shard_partitions(count: int) -> dg.StaticPartitionsDefinition | None:
    return dg.StaticPartitionsDefinition(shard_keys(count)) if count > 1 else None


def partition_llm_steps(defs: dg.Definitions, count: int) -> dg.Definitions:
    """``defs`` with the LLM steps partitioned into ``count`` shards, and the nightly rebuild a backfill of every
    partition instead of one run of the job; ``defs`` itself when ``count`` is 1."""
    partitions = shard_partitions(count)
    if partitions is None:
        return defs

    def partitioned(assets_def):
        if not (isinstance(assets_def, dg.AssetsDefinition) and assets_def.node_def.name in LLM_STEPS):
            return assets_def  # the same object: a module that imports another's asset must not make a copy
        return dg.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=partitions), [assets_def])[0]

    return dg.Definitions(
        assets=[partitioned(assets_def) for assets_def in defs.assets or ()], asset_checks=defs.asset_checks,
        schedules=[schedule for schedule in defs.schedules or ()
                   if schedule.name != schedules.nightly_corpus_rebuild.name],
        sensors=[*(defs.sensors or ()), schedules.nightly_backfill(schedules.nightly_corpus_rebuild)],
        jobs=defs.jobs, resources=defs.resources,
        executor=defs.executor, loggers=defs.loggers, metadata=defs.metadata, component_tree=defs.component_tree)


def this_shard(context: dg.AssetExecutionContext, frame: pl.DataFrame, column: str = "id") -> pl.DataFrame:
    """The rows of ``frame`` in the shard this run builds; every row when the step is unpartitioned."""
    if not context.has_partition_key:
        return frame
    return in_shard(frame, context.partition_key, len(context.assets_def.partitions_def.get_partition_keys()),
                    column)

"""Launch a build of the corpus graph as a Dagster asset backfill: ``python -m bimed_assets.backfill``.

    python -m bimed_assets.backfill                                  # the whole graph, every shard
    python -m bimed_assets.backfill --select 'group:translation' --partitions 03   # one shard of one step again

With the LLM steps cut into shards (``llm.shards`` > 1 in bimed.yaml, ``bimed_assets.defs.partitions``) a full
build is a backfill, not one run of ``build_corpus``: Dagster's backfill daemon (``make ui`` or
``dagster-daemon run``) runs the unpartitioned sources, then one run per shard, then the corpus, the review queues
and the benchmarks once, from every shard. The command records the backfill in the instance of ``DAGSTER_HOME``
and prints its id; the UI's Overview → Backfills shows it (the UI's "Materialize all" launches the same).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id

# What the nightly rebuild (and the build_corpus job) builds: training and evaluation are their own job
# (train_and_evaluate), meant for a GPU node.
CORPUS_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.groups("training")


def backfill_subset(asset_graph, keys: Iterable[dg.AssetKey], partitions: Sequence[str] | None = None
                    ) -> AssetGraphSubset:
    """``keys``, each partitioned one with every partition (or only ``partitions``). Dagster's own type for what
    a backfill covers (kept private in 1.13, as ``RunRequest.for_asset_graph_subset`` that takes it)."""
    subset = AssetGraphSubset.from_asset_keys(keys, asset_graph)
    if partitions is None:
        return subset
    return AssetGraphSubset(
        partitions_subsets_by_asset_key={
            key: asset_graph.get(key).partitions_def.empty_subset().with_partition_keys(partitions)
            for key in subset.partitions_subsets_by_asset_key},
        non_partitioned_asset_keys=subset.non_partitioned_asset_keys)


def launch(instance: dg.DagsterInstance, subset: AssetGraphSubset, tags: dict[str, str] | None = None,
           run_config: dict | None = None) -> str:
    """Record a backfill of ``subset`` (every run with ``run_config``); the backfill daemon runs it. Its id."""
    backfill_id = make_new_backfill_id()
    instance.add_backfill(PartitionBackfill.from_asset_graph_subset(
        backfill_id=backfill_id, backfill_timestamp=time.time(), tags=tags or {}, dynamic_partitions_store=instance,
        asset_graph_subset=subset, title=None, description=None, run_config=run_config))
    return backfill_id


def main(argv: Sequence[str] | None = None) -> int:
    args = argparse.ArgumentParser(prog="python -m bimed_assets.backfill", description=__doc__.splitlines()[0])
    args.add_argument("--select", help="Dagster asset selection (e.g. 'group:translation'); default: the "
                      "build_corpus job's assets")
    args.add_argument("--partitions", help="comma-separated shard keys of the partitioned assets (default: all)")
    options = args.parse_args(argv)
    from bimed_assets.definitions import defs

    asset_graph = defs().resolve_asset_graph()
    selection = dg.AssetSelection.from_string(options.select) if options.select else CORPUS_SELECTION
    partitions = options.partitions.split(",") if options.partitions else None
    keys = selection.resolve(asset_graph)
    if not keys:
        raise SystemExit(f"--select {options.select!r}: no asset matches")
    with dg.DagsterInstance.get() as instance:
        backfill_id = launch(instance, backfill_subset(asset_graph, keys, partitions))
    print(f"backfill {backfill_id}: {len(keys)} assets; the daemon runs it (dagster-daemon run, or make ui)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

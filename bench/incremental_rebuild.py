"""The nightly rebuild of the LLM stages over 20k items against the test server: the first build, unchanged
rebuilds, and rebuilds after 1% of the items changed; LLM calls (counted by the server) and wall time.

    flock -x /tmp/bimed-quiet.lock .venv/bin/python bench/incremental_rebuild.py --write \\
        [--items 20000] [--repeats 3] [--changed 0.01] [--latency 0.2] [--concurrency 64]

What runs is what a nightly run does to these stages: the ``chat_synthesis`` and ``translation`` assets
materialized by Dagster (``dg.materialize``, in process, ephemeral instance) with the project's resources (the
Parquet IO manager, the ``llm`` resource with its SQLite cache and kept item results), on a training pool of
``--items`` items (the bundled sample's pool copied with distinct ids and questions), given as an asset.
Translation takes every item (``share`` 1.0), chat synthesis its default share of the vignettes. The test server
runs in its own process (the pipeline's responder, ``--latency`` per request) and counts every request.

After the first build, each repeat runs an unchanged rebuild and then a rebuild after ``--changed`` of the items
got a new question (a fresh share each repeat), so both kinds see the same machine. Wall time is Dagster's: the
whole materialization, and the two LLM steps' own durations from the run's events. Writes
bench/results/incremental_rebuild.md with ``--write``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import polars as pl
from dagster_polars import PolarsParquetIOManager
from llm_bench import server_stats, test_server, write_results

from bimed_assets.defs.chats.assets import chat_synthesis
from bimed_assets.defs.resources import LLMResource
from bimed_assets.defs.translation.assets import translation
from bimed_assets.sources import SOURCES, load_files
from bimed_assets.sources.pools import training_pool

RESULTS = Path(__file__).resolve().parent / "results" / "incremental_rebuild.md"
LLM_STEPS = ("chat_synthesis", "translation")
EVERY_ITEM = {"ops": {"translation": {"config": {"share": 1.0}}}}


def pool_of(items: int) -> pl.DataFrame:
    """``items`` rows: copies of the bundled sample's training pool, each copy with its own ids and questions."""
    sample = training_pool([load_files(spec).records for spec in SOURCES.values()])
    copies = -(-items // len(sample))
    return pl.concat([sample.with_columns(pl.format("c{}-{}", pl.lit(copy), "id").alias("id"),
                                          pl.format("{} (case {})", "question", pl.lit(copy)).alias("question"))
                      for copy in range(copies)]).head(items)


def changed(pool: pl.DataFrame, share: float, repeat: int) -> pl.DataFrame:
    """``pool`` with ``share`` of its rows (drawn at random, seeded by ``repeat``) given a new question."""
    rows = set(random.Random(repeat).sample(range(len(pool)), round(share * len(pool))))
    return pool.with_columns(pl.when(pl.int_range(pl.len()).is_in(list(rows)))
                             .then(pl.format("{} (revised {})", "question", pl.lit(repeat)))
                             .otherwise("question").alias("question"))


def build(pool: pl.DataFrame, llm: LLMResource, assets_dir: Path, url: str) -> dict:
    @dg.asset(name="training_pool")
    def given_pool() -> pl.DataFrame:
        return pool

    before = server_stats(url)["received"]
    started = time.perf_counter()
    result = dg.materialize([given_pool, chat_synthesis, translation], run_config=EVERY_ITEM,
                            resources={"llm": llm, "io_manager": PolarsParquetIOManager(base_dir=str(assets_dir))},
                            instance=dg.DagsterInstance.ephemeral())
    wall = time.perf_counter() - started
    assert result.success
    steps = {event.step_key: event.event_specific_data.duration_ms / 1000 for event in result.all_events
             if event.event_type_value == "STEP_SUCCESS"}
    meta = {event.asset_key.to_user_string(): event.event_specific_data.materialization.metadata
            for event in result.get_asset_materialization_events()}
    walked = {name: meta[name]["items_walked"].value for name in ("synthesized_chats", "translation_attempts")}
    return {"calls": server_stats(url)["received"] - before, "wall": wall,
            "llm_steps": sum(steps[name] for name in LLM_STEPS), "chats_walked": walked["synthesized_chats"],
            "translations_walked": walked["translation_attempts"],
            "translated": meta["translation_attempts"]["selected_items"].value}


def row(name: str, run: dict, first: dict) -> str:
    return (f"| {name} | {run['translated']:,.0f} | {run['chats_walked']:,.0f} | {run['translations_walked']:,.0f} | "
            f"{run['calls']:,.0f} | {run['calls'] / first['calls']:.2%} | {run['wall']:.1f} | {run['llm_steps']:.1f} | "
            f"{run['llm_steps'] / first['llm_steps']:.1%} |")


def median_row(name: str, runs: list[dict], first: dict) -> str:
    middle = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    return row(f"**{name}, median of {len(runs)}**", middle, first)


def verdict(first: dict, unchanged: list[dict], after_change: list[dict], share: float) -> str:
    """The issue's targets against these medians: an unchanged rebuild makes 0 calls in at most 10% of the first
    build's LLM-step time; after 1% of the items changed, at most 1.5% of its calls."""
    calls = max(run["calls"] for run in unchanged)
    steps = statistics.median(run["llm_steps"] for run in unchanged) / first["llm_steps"]
    changed_calls = statistics.median(run["calls"] for run in after_change) / first["calls"]
    met = {True: "met", False: "**not met**"}
    return (f"Targets: unchanged rebuild 0 calls (most in any: {calls}) and LLM steps ≤ 10% of the first build's "
            f"(median {steps:.1%}): {met[calls == 0 and steps <= 0.10]}; after {share:.0%} changed, calls ≤ 1.5% "
            f"of the first build's (median {changed_calls:.2%}): {met[changed_calls <= 0.015]}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--changed", type=float, default=0.01, help="share of the items changed per repeat")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = parser.parse_args()
    pool = pool_of(args.items)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bimed-incremental-") as scratch, \
            test_server("--latency", str(args.latency)) as url:
        work = Path(scratch)
        llm = LLMResource(base_url=url, api_key="bench", concurrency=args.concurrency,
                          cache_path=str(work / "llm_cache.sqlite"))
        first = build(pool, llm, work / "assets", url)
        print(f"first build: {first}", flush=True)
        unchanged, after_change = [], []
        for repeat in range(args.repeats):
            unchanged.append(build(pool, llm, work / "assets", url))
            print(f"unchanged rebuild: {unchanged[-1]}", flush=True)
            pool = changed(pool, args.changed, repeat)
            after_change.append(build(pool, llm, work / "assets", url))
            print(f"after {args.changed:.0%} changed: {after_change[-1]}", flush=True)
    lines = [
        "# Incremental rebuild of the LLM stages",
        "",
        f"Command: `{' '.join(['python bench/incremental_rebuild.py', *sys.argv[1:]])}`",
        (f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, load average {load_before:.1f} before the run; test server in "
         f"its own process on 127.0.0.1 (pipeline responder, {args.latency * 1000:.0f} ms a request), `llm` "
         f"concurrency {args.concurrency}, translation `processes` {os.cpu_count()}; {time.strftime('%Y-%m-%d')}."),
        (f"Setup: `chat_synthesis` and `translation` materialized by Dagster (`dg.materialize`, in process) on a "
         f"training pool of {args.items:,} items; translation takes every item and the synthesized chats; each "
         f"repeat: an unchanged rebuild, then a rebuild after {args.changed:.0%} of the items got a new question. "
         "Calls are the requests the server received; LLM steps = the two steps' durations from the run's events."),
        "",
        ("| build | items translated | chats walked | translations walked | LLM calls | calls vs first | wall s "
         "| LLM steps s | LLM steps vs first |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        row("first build", first, first),
        *(row(f"unchanged rebuild {n + 1}", run, first) for n, run in enumerate(unchanged)),
        median_row("unchanged rebuild", unchanged, first),
        *(row(f"{args.changed:.0%} changed, rebuild {n + 1}", run, first) for n, run in enumerate(after_change)),
        median_row(f"{args.changed:.0%} changed", after_change, first),
        "",
        verdict(first, unchanged, after_change, args.changed),
    ]
    if args.write:
        write_results(RESULTS, lines)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()

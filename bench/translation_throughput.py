"""Throughput of the translation stage against the local test server: requests/s over concurrency / latency.

    .venv/bin/python bench/translation_throughput.py [--copies 6] [--processes 2] [--concurrency 64] [--latency 0.2]

The whole stage runs as in the asset (prompts, structured output, fidelity checks, judge, back-translation
chrF, re-translation; ``--processes`` in all: this one for the HTTP calls, the rest for the checks, and the
time includes starting them) over the bundled sample's training pool, ``--copies`` times with distinct
content, with the cache off. The server runs in its own process and answers with ``CipherResponder``
(model-free, passes the checks). Ideal = concurrency / latency (64 / 0.2 s = 320 req/s).
Writes bench/results/translation_throughput.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bimed_assets.llm.client import LLMClient, LLMConfig
from bimed_assets.sources import SOURCES, load_files
from bimed_assets.sources.pools import training_pool
from bimed_assets.translation import prompts
from bimed_assets.translation.parallel import translate_parallel
from bimed_assets.translation.scoring import ScoringConfig

RESULTS = Path(__file__).resolve().parent / "results" / "translation_throughput.md"


def samples(copies: int, tag: str) -> list[dict]:
    pool = training_pool([load_files(spec).records for spec in SOURCES.values()])
    return [{**row, "id": f"{tag}-{copy}-{row['id']}", "question": f"({tag} {copy}) {row['question']}"}
            for copy in range(copies) for row in pool.iter_rows(named=True)]


def one_run(url: str, items: list[dict], concurrency: int, processes: int) -> tuple[float, int, Counter]:
    config = LLMConfig(base_url=url, model="bench", api_key="bench-key", concurrency=concurrency, timeout=30)
    start = time.perf_counter()
    results, usage = translate_parallel(config, items, ScoringConfig(), processes)
    elapsed = time.perf_counter() - start
    return elapsed, int(usage["total"]["calls"]), Counter(r.status for r in results)


def baseline_run(url: str, n: int, concurrency: int, tag: str) -> float:
    """The bare LLM client, same server, same number of requests: the ceiling the stage can reach here."""
    # One short translate request each: the responder answers it like any translation, with no checks after.
    requests = [prompts.translate(str(i), {"question": f"Which drug is first line, case {tag}-{i}?"}, 1)
                for i in range(n)]

    async def run() -> float:
        config = LLMConfig(base_url=url, model="bench", api_key="bench-key", concurrency=concurrency, timeout=30)
        async with LLMClient(config) as llm:
            start = time.perf_counter()
            await llm.run_many(requests)
            return time.perf_counter() - start

    return n / asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-m", "bimed_assets.llm.test_server", "--latency", str(args.latency),
         "--responder", "bimed_assets.translation.cipher_responder:CipherResponder"],
        stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        load = os.getloadavg()[0]
        runs, baselines, loads = [], [], []
        for repeat in range(args.repeats):  # alternate, so that both see the same machine
            loads.append(os.getloadavg()[0])  # the machine is shared: a busy one shows here
            runs.append(one_run(url, samples(args.copies, f"r{repeat}"), args.concurrency, args.processes))
            baselines.append(baseline_run(url, runs[-1][1], args.concurrency, f"b{repeat}"))
    finally:
        server.terminate()
        server.wait(timeout=10)

    ideal = args.concurrency / args.latency
    rates = [calls / elapsed for elapsed, calls, _ in runs]
    median = statistics.median(rates)
    lines = [
        "# Translation stage throughput",
        "",
        f"Command: `python bench/translation_throughput.py {' '.join(sys.argv[1:])}`".strip(),
        (f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; test server "
         f"in a separate process on 127.0.0.1 answering with CipherResponder; load average before: {load:.2f}."),
        (f"Setup: the bundled sample's training pool x {args.copies} ({len(samples(args.copies, 'x'))} items), "
         f"{args.processes} processes in all (one for the HTTP calls, the rest for the checks), concurrency "
         f"{args.concurrency}, latency {args.latency * 1000:.0f} ms, back-translation on, cache off. "
         f"Ideal = {ideal:.0f} req/s."),
        "",
        "| run | load before | seconds | requests | req/s | ratio to ideal | bare client req/s (same run) | outcomes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *(f"| {i + 1} | {before:.2f} | {elapsed:.1f} | {calls} | {rate:.1f} | {rate / ideal:.3f} | {base:.1f} "
          f"({base / ideal:.3f}) | {dict(outcomes)} |"
          for i, ((elapsed, calls, outcomes), rate, base, before)
          in enumerate(zip(runs, rates, baselines, loads, strict=True))),
        "",
        (f"**Median: {median:.1f} req/s = {median / ideal:.3f} of ideal** (target >= 0.9); the bare LLM client, "
        f"alternating with it on the same server: median {statistics.median(baselines):.1f} req/s = "
        f"{statistics.median(baselines) / ideal:.3f}."),
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()

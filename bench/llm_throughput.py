"""Throughput of the LLM client against the local test server: achieved req/s over the ideal concurrency/latency,
and the client's CPU per request, with each kind of cache in one run.

    .venv/bin/python bench/llm_throughput.py [--requests 3000] [--concurrency 64] [--latency 0.2] [--repeats 3] \\
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

The server runs in its own process so that client and server do not share a GIL, and answers any prompt with a
short Arabic text. Every request is new (no cache hit), so every one is a real HTTP round trip; with a cache each
answer is also written to it before the caller sees it, as in a build. Caches: none, a SQLite file, and with
``--postgres`` (a database the user may create tables in) the PostgreSQL form: the bench's rows are purged
afterwards. The client's CPU per request is the bench process's own CPU time. Kinds alternate within each repeat,
so that all see the same machine. Prints the table and writes bench/results/llm_throughput.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from llm_bench import test_server, write_results

from bimed_assets.llm.cache import CompletionCache, Selection
from bimed_assets.llm.client import LLMClient, LLMConfig, LLMRequest

RESULTS = Path(__file__).resolve().parent / "results" / "llm_throughput.md"


async def _one_run(url: str, n: int, concurrency: int, cache: str | None) -> tuple[float, int, float]:
    """Seconds, answers that came back, and this process's CPU seconds: the client's whole cost, since the
    server runs in its own process."""
    tag = uuid.uuid4().hex  # new prompts every run: no answer comes from a cache
    requests = [LLMRequest([{"role": "user", "content": f"Translate to Arabic: sample {tag}-{i}"}],
                           max_tokens=64, item_id=f"{tag}-{i}") for i in range(n)]
    async with LLMClient(LLMConfig(base_url=url, model="bench", api_key="bench-key", concurrency=concurrency,
                                   timeout=30, cache_path=cache, run_id=f"bench-{tag}")) as llm:
        start, cpu = time.perf_counter(), time.process_time()
        outcomes = await llm.run_many(requests)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if cache is not None and "://" in cache:
        CompletionCache(cache).purge(Selection(run_id=f"bench-{tag}"))
    return elapsed, sum(outcome.ok for outcome in outcomes), cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", help="also with the cache in this PostgreSQL database")
    args = parser.parse_args()

    runs: dict[str, list[tuple[float, int, float]]] = {}
    # The bare client: short Arabic answers to any prompt. The server's command-line default answers the
    # pipeline's own prompts, and a 500 to these, which the client would retry with backoff.
    with tempfile.TemporaryDirectory(prefix="bimed-llm-throughput-") as scratch, \
            test_server("--latency", str(args.latency), "--responder",
                        "bimed_assets.llm.test_server:default_responder") as url:
        caches = {"none": None, "SQLite file": str(Path(scratch) / "llm.sqlite")}
        if args.postgres:
            caches["PostgreSQL"] = args.postgres
        load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
        for _ in range(args.repeats):
            for name, cache in caches.items():
                runs.setdefault(name, []).append(asyncio.run(_one_run(url, args.requests, args.concurrency, cache)))

    ideal = args.concurrency / args.latency
    command = "python bench/llm_throughput.py " + " ".join(sys.argv[1:])
    rows, medians = [], []
    for name, measured in runs.items():
        rates = [args.requests / elapsed for elapsed, _, _ in measured]
        cpu_ms = [1000 * cpu / args.requests for _, _, cpu in measured]
        rows += [f"| {name} | {i + 1} | {elapsed:.2f} | {ok} | {rate:.1f} | {rate / ideal:.3f} | {ms:.3f} |"
                 for i, ((elapsed, ok, _), rate, ms) in enumerate(zip(measured, rates, cpu_ms, strict=True))]
        rate, ms = statistics.median(rates), statistics.median(cpu_ms)
        medians.append(f"| **{name}, median of {args.repeats}** | | | | {rate:.1f} | {rate / ideal:.3f} | {ms:.3f} |")
    lines = [
        "# LLM client throughput",
        "",
        f"Command: `{command.strip()}`",
        (f"Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
         f"Python {platform.python_version()}; test server in a separate process on 127.0.0.1; "
         f"1-minute load average before the runs: {load:.2f}."),
        (f"Setup: {args.requests} requests a run, concurrency {args.concurrency}, "
         f"server latency {args.latency * 1000:.0f} ms, no faults, every request new (no cache hit). "
         f"Ideal = concurrency / latency = {ideal:.0f} req/s. Client CPU: the bench process's (cache, limits, "
         "validation and HTTP); not the database server's own processes."),
        "",
        "| cache | run | seconds | ok | req/s | ratio to ideal | client CPU ms per request |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        *medians,
        "",
        "Target: at least 0.9 of ideal.",
    ]
    write_results(RESULTS, lines)


if __name__ == "__main__":
    main()

"""Throughput of the LLM client against the local test server: achieved req/s over the ideal concurrency/latency.

    .venv/bin/python bench/llm_throughput.py [--requests 3000] [--concurrency 64] [--latency 0.2] [--repeats 3]

The server runs in its own process so that client and server do not share a GIL; the cache is off, so every
request is a real HTTP round trip. The client's CPU per request is the bench process's own CPU time. Prints the table and writes bench/results/llm_throughput.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from llm_bench import test_server, write_results

from bimed_assets.llm.client import LLMClient, LLMConfig, LLMRequest

RESULTS = Path(__file__).resolve().parent / "results" / "llm_throughput.md"


async def _one_run(url: str, n: int, concurrency: int, tag: str) -> tuple[float, int, float]:
    """Seconds, answers that came back, and this process's CPU seconds: the client's whole cost, since the
    server runs in its own process."""
    requests = [LLMRequest([{"role": "user", "content": f"Translate to Arabic: sample {tag}-{i}"}],
                           max_tokens=64, item_id=f"{tag}-{i}") for i in range(n)]
    async with LLMClient(LLMConfig(base_url=url, model="bench", api_key="bench-key",
                                   concurrency=concurrency, timeout=30)) as llm:
        start, cpu = time.perf_counter(), time.process_time()
        outcomes = await llm.run_many(requests)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, sum(outcome.ok for outcome in outcomes), cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    # The bare client: short Arabic answers to any prompt. The server's command-line default answers the
    # pipeline's own prompts, and a 500 to these, which the client would retry with backoff.
    with test_server("--latency", str(args.latency), "--responder",
                     "bimed_assets.llm.test_server:default_responder") as url:
        load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
        runs = [asyncio.run(_one_run(url, args.requests, args.concurrency, f"r{repeat}"))
                for repeat in range(args.repeats)]

    ideal = args.concurrency / args.latency
    rates = [args.requests / elapsed for elapsed, _, _ in runs]
    cpu_ms = [1000 * cpu / args.requests for _, _, cpu in runs]
    median = statistics.median(rates)
    command = "python bench/llm_throughput.py " + " ".join(sys.argv[1:])
    lines = [
        "# LLM client throughput",
        "",
        f"Command: `{command.strip()}`",
        (f"Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
         f"Python {platform.python_version()}; test server in a separate process on 127.0.0.1; "
         f"1-minute load average before the runs: {load:.2f}."),
        (f"Setup: {args.requests} requests, concurrency {args.concurrency}, "
         f"server latency {args.latency * 1000:.0f} ms, no faults, cache off. "
         f"Ideal = concurrency / latency = {ideal:.0f} req/s."),
        "",
        "| run | seconds | ok | req/s | ratio to ideal | client CPU ms per request |",
        "| --- | --- | --- | --- | --- | --- |",
        *(f"| {i + 1} | {elapsed:.2f} | {ok} | {rate:.1f} | {rate / ideal:.3f} | {ms:.3f} |"
          for i, ((elapsed, ok, _), rate, ms) in enumerate(zip(runs, rates, cpu_ms, strict=True))),
        "",
        (f"**Median: {median:.1f} req/s = {median / ideal:.3f} of ideal** (target >= 0.9); the client's CPU "
         f"(cache, limits, validation and HTTP: the bench's own process) {statistics.median(cpu_ms):.3f} ms per "
         "request."),
    ]
    write_results(RESULTS, lines)


if __name__ == "__main__":
    main()

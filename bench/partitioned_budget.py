"""20k items against the test server under one shared budget of 64 requests in flight: one run with all 64
slots vs 8 shards ("partitions") running at once, each with 64 / 8 slots, as the ``llm`` resource's
``pool_steps`` gives every step of the ``llm_endpoint`` pool.

    .venv/bin/python bench/partitioned_budget.py [--items 20000] [--shards 8] [--concurrency 64] [--latency 0.2]

Each item is one request (a one-line translate prompt) through the project's LLM client with the cache off; the
shards are separate processes, as a backfill's runs are. The server runs in its own process and reports the most
requests it held at once (``max_in_flight``). Ideal = concurrency / latency. Writes
bench/results/partitioned_budget.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from llm_bench import server_stats, test_server, write_results

RESULTS = Path(__file__).resolve().parent / "results" / "partitioned_budget.md"
SHARD = """
import asyncio, sys
from bimed_assets.llm.client import LLMClient, LLMConfig
from bimed_assets.translation import prompts
url, tag, first, last, slots = sys.argv[1:6]
async def main():
    config = LLMConfig(base_url=url, model="bench", api_key="k", concurrency=int(slots), timeout=60)
    requests = [prompts.translate(str(i), {"question": f"Which drug is first line, case {tag}-{i}?"}, 1)
                for i in range(int(first), int(last))]
    async with LLMClient(config) as llm:
        outcomes = await llm.run_many(requests)
    print(sum(o.ok for o in outcomes))
asyncio.run(main())
"""


def run(items: int, shards: int, concurrency: int, latency: float, tag: str) -> dict:
    with test_server("--latency", str(latency)) as url:
        bounds = [items * k // shards for k in range(shards + 1)]
        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", SHARD, url, tag, str(bounds[k]), str(bounds[k + 1]),
                                   str(concurrency // shards)], stdout=subprocess.PIPE, text=True)
                 for k in range(shards)]
        answered = sum(int(proc.communicate()[0]) for proc in procs)
        elapsed = time.perf_counter() - started
        stats = server_stats(url)
    # At the server: from the first arrival to the last answer (the last arrival plus one latency), so without the
    # processes' start-up (importing the project takes seconds of CPU each, 8 at once on a small machine).
    sending = stats["arrival_span"] + latency
    return {"answered": answered, "seconds": elapsed, "rate": stats["received"] / elapsed,
            "sending": sending, "sending_rate": stats["received"] / sending, "max_in_flight": stats["max_in_flight"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    ideal = args.concurrency / args.latency
    load_before = os.getloadavg()[0]
    rows = []
    for repeat in range(args.repeats):  # alternate, so that both see the same machine
        rows.append(("one run", run(args.items, 1, args.concurrency, args.latency, f"one{repeat}")))
        rows.append((f"{args.shards} shards at once", run(args.items, args.shards, args.concurrency, args.latency,
                                                          f"sharded{repeat}")))
    lines = [
        "# One endpoint budget: one run vs shards at once",
        "",
        f"Command: `python bench/partitioned_budget.py {' '.join(sys.argv[1:])}`".strip(),
        (f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, load average {load_before:.1f} before the run; test server "
         f"in its own process on 127.0.0.1, latency {args.latency * 1000:.0f} ms. Ideal = {ideal:.0f} req/s."),
        (f"Setup: {args.items} items of one request each, cache off; shards are separate processes, each with "
         f"{args.concurrency} / {args.shards} = {args.concurrency // args.shards} slots (`pool_steps`)."),
        "",
        ("The shards are separate OS processes started by this script, each a client of its own, under one budget "
         "of slots: what a backfill's runs do; they are not Dagster partitions (the LLM assets are not partitioned)."),
        "",
        ("| layout | answered | wall s | req/s over the wall | ratio to ideal | sending s (server) | req/s while "
         "sending | ratio to ideal | server max in flight |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(f"| {name} | {row['answered']} | {row['seconds']:.1f} | {row['rate']:.1f} | {row['rate'] / ideal:.3f} "
          f"| {row['sending']:.1f} | {row['sending_rate']:.1f} | {row['sending_rate'] / ideal:.3f} "
          f"| {row['max_in_flight']} |" for name, row in rows),
        *([] if args.repeats < 2 else [
            "",
            "Medians: " + "; ".join(
                f"{name}: {statistics.median(r['rate'] for n, r in rows if n == name):.1f} req/s over the wall, "
                f"{statistics.median(r['sending_rate'] for n, r in rows if n == name):.1f} while sending"
                for name in dict.fromkeys(n for n, _ in rows))]),
    ]
    write_results(RESULTS, lines)


if __name__ == "__main__":
    main()

"""Two processes, one endpoint, 600 requests/minute: with the shared Redis budget, and each with its own.

    .venv/bin/python bench/shared_limiter.py [--rpm 600] [--requests 800] [--redis redis://127.0.0.1:6379/0]

The test server runs in its own process (no latency, its plain responder: the requests are one-line prompts, not
the pipeline's) and counts arrivals; each client process asks for ``--requests`` distinct one-line requests, a
minute's budget each, so that together they keep sending for two minutes under the shared budget. The measure is the server's: the most requests that arrived within any 60 seconds. Writes
bench/results/shared_limiter.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis
from llm_bench import server_stats, test_server, write_results

RESULTS = Path(__file__).resolve().parent / "results" / "shared_limiter.md"
CLIENT = """
import asyncio, sys
from bimed_assets.llm.client import LLMClient, LLMConfig, LLMRequest
url, limiter, prefix, tag, n, rpm = sys.argv[1:7]
config = LLMConfig(base_url=url, model="bench", api_key="k", concurrency=16, rpm=float(rpm),
                   limiter_url=limiter or None, limiter_prefix=prefix)
async def main():
    async with LLMClient(config) as llm:
        outcomes = await llm.run_many([LLMRequest([{"role": "user", "content": f"{tag} {i}"}]) for i in range(int(n))])
    print(sum(o.ok for o in outcomes))
asyncio.run(main())
"""


def measure(limiter: str, rpm: float, n: int) -> dict:
    prefix = f"bimed-bench-{uuid.uuid4().hex}"
    try:
        with test_server("--responder", "bimed_assets.llm.test_server:default_responder") as url:
            started = time.monotonic()
            clients = [subprocess.Popen([sys.executable, "-c", CLIENT, url, limiter, prefix, f"p{k}", str(n),
                                         str(rpm)], stdout=subprocess.PIPE, text=True) for k in range(2)]
            answered = [int(client.communicate()[0]) for client in clients]
            elapsed = time.monotonic() - started
            stats = server_stats(url)
    finally:
        if limiter:
            store = redis.Redis.from_url(limiter)
            for key in store.scan_iter(f"{prefix}*"):
                store.delete(key)
    return {"answered": sum(answered), "received": stats["received"], "max_per_minute": stats["max_per_minute"],
            "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rpm", type=float, default=600)
    parser.add_argument("--requests", type=int, default=600, help="per process")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    rows = [("shared budget in Redis", measure(args.redis, args.rpm, args.requests)),
            ("a budget per process (no Redis)", measure("", args.rpm, args.requests))]
    lines = [
        "# Shared requests/minute budget across processes",
        "",
        f"Command: `{' '.join(['python bench/shared_limiter.py', *sys.argv[1:]])}`",
        (f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; the test server "
         "in its own process on 127.0.0.1 (no latency), Redis 127.0.0.1:6379. A count, not a timing: the "
         "machine may be busy."),
        (f"Setup: 2 client processes, each `rpm={args.rpm:g}` and {args.requests} distinct requests; the server "
         "counts every arrival, and the measure is the most arrivals within any 60 s."),
        "",
        "| budget | requests answered | most requests in any 60 s at the server | limit | seconds |",
        "| --- | --- | --- | --- | --- |",
        *(f"| {name} | {row['answered']} | **{row['max_per_minute']}** | {args.rpm:g} | {row['seconds']:.0f} |"
          for name, row in rows),
        "",
        ("With the shared budget the two processes together stay within the limit (the budget holds at most "
         f"{args.rpm:g} in any 61 s and {int(-(-args.rpm // 60))} in any second); each with its own budget, "
         "they send about twice the limit."),
    ]
    write_results(RESULTS, lines)


if __name__ == "__main__":
    main()

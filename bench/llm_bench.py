"""What the LLM benchmarks share: the test server in its own process, its counters, and the results file."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def test_server(*args: str) -> Iterator[str]:
    """``python -m bimed_assets.llm.test_server *args`` in its own process; yields its URL."""
    server = subprocess.Popen([sys.executable, "-m", "bimed_assets.llm.test_server", *args], stdout=subprocess.PIPE,
                              text=True)
    try:
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait(timeout=10)


def server_stats(url: str) -> dict:
    """The server's counters (``GET /stats``)."""
    with urllib.request.urlopen(url.removesuffix("/v1") + "/stats") as response:
        return json.load(response)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot, all cores and processes together (Linux's
    /proc/stat: everything but idle and I/O wait): what a run costs in CPU, whichever processes it spreads over."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(field) for field in stat.readline().split()[1:]]
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")  # guest time is counted in user already


def write_results(path: Path, lines: list[str]) -> None:
    """Prints the report and writes it to ``path`` (bench/results/<name>.md)."""
    report = "\n".join(lines) + "\n"
    print(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report, encoding="utf-8")

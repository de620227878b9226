"""Helpers for tests that run a real ``dagster-daemon`` (``tests/`` is on the path through its conftest)."""

import subprocess
import time
from pathlib import Path


def wait_for(what: str, condition, daemon: subprocess.Popen, log: Path, bound_s: float, poll_s: float = 0.5):
    """``condition()``'s first true value. The wait ends as soon as it holds; ``bound_s`` only reports a stuck
    daemon (with the end of its log), and a daemon that exits fails at once."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise AssertionError(f"dagster-daemon exited while waiting for {what}:\n{log.read_text()[-3000:]}")
        if result := condition():
            return result
        time.sleep(poll_s)
    raise AssertionError(f"not within {bound_s} s: {what}\n{log.read_text()[-3000:]}")

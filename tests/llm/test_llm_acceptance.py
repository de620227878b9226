"""The issue's acceptance tests: faults lose nothing and pay nothing twice; kill -9 and re-runs re-pay nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from llm_helpers import ask, config_for, run_many

from bimed_assets.llm.cache import CompletionCache
from bimed_assets.llm.errors import BAD_ANSWER, TRANSIENT
from bimed_assets.llm.test_server import PROMPT_FAULTS
from bimed_assets.llm.validators import require_arabic

BATCH_RUN = Path(__file__).with_name("batch_run.py")


def test_a_thousand_requests_under_twenty_percent_faults(start_server, tmp_path):
    server = start_server(latency=0.005, fault_rate=0.2, fault_mix=PROMPT_FAULTS, retry_after=0.1, seed=7)
    config = config_for(server, concurrency=64, cache_path=str(tmp_path / "llm.sqlite"),
                        backoff_initial=0.02, backoff_max=0.2)
    requests = [ask(f"Translate sample {i}", item_id=f"s{i}", validator=require_arabic()) for i in range(1000)]
    outcomes, llm = run_many(config, requests)

    assert len(outcomes) == 1000 and [o.request.item_id for o in outcomes] == [r.item_id for r in requests]
    failed = [o for o in outcomes if not o.ok]
    assert all(o.error.reason in TRANSIENT | BAD_ANSWER and o.error.item_id for o in failed)  # a reason each
    assert all((o.completion is None) != (o.error is None) for o in outcomes)
    stats = server.stats()
    assert sum(stats.faults.values()) > 150  # the faults did happen
    assert stats.duplicate_deliveries() == 0  # no answer paid for twice
    assert stats.delivered.total() == len(outcomes) - len(failed)  # every delivered answer was kept
    assert len(failed) <= 5
    assert len(CompletionCache(tmp_path / "llm.sqlite")) == 1000 - len(failed)
    total = llm.meter.total()
    assert (total.requests_ok, total.requests_failed) == (1000 - len(failed), len(failed))
    # Every request the server saw was metered; on a loaded machine a connection can also fail before it arrives.
    assert total.calls >= stats.received.total()


def test_kill_9_midway_then_rerun_repays_at_most_the_in_flight_calls(start_server, tmp_path):
    n, concurrency = 400, 8
    server = start_server(latency=0.05)
    args = [sys.executable, str(BATCH_RUN), server.url, str(tmp_path / "llm.sqlite"), str(n), str(concurrency)]
    run = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while server.stats().delivered.total() < n // 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    before = _settled(server)  # the calls that were in flight are answered (to nobody) before counting
    assert n // 3 <= before.delivered.total() < n  # killed midway

    rerun = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    assert rerun.stdout.split() == [str(n), "ok"]
    after = server.stats()
    resent = sum(after.received[key] - before.received[key] for key in before.delivered)
    assert resent <= concurrency
    assert after.delivered.total() - before.delivered.total() == (n - before.delivered.total()) + resent


def _settled(server):
    """The server's counts once every request it received has been answered (no fault server: each is)."""
    deadline = time.monotonic() + 60
    while (stats := server.stats()).delivered.total() < stats.received.total() and time.monotonic() < deadline:
        time.sleep(0.05)
    return stats


def test_unchanged_rerun_makes_no_http_call(start_server, tmp_path):
    server = start_server()
    config = config_for(server, concurrency=16, cache_path=str(tmp_path / "llm.sqlite"))
    requests = [ask(f"q{i}", purpose="translate") for i in range(300)]
    first, _ = run_many(config, requests)
    received = server.stats().received.total()
    assert received == 300
    second, llm = run_many(config, requests)
    assert server.stats().received.total() == received
    assert [o.completion.text for o in second] == [o.completion.text for o in first]
    assert llm.meter["translate"].cache_hits == 300 and llm.meter["translate"].calls == 0

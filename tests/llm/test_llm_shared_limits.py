"""One requests/minute budget per endpoint, shared through Redis by separate processes, measured at the server.

600 requests/minute is held as at most 10 in any second and 600 in any 61 seconds (``rate_limits.windows``), so
two processes that each want to send 60 requests at once are held, together, to 10 a second: each alone would
send 10 a second, 20 together. The whole minute is measured by ``bench/shared_limiter.py``.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from llm_helpers import ask, config_for, run_many

from bimed_assets.llm.rate_limits import windows

REDIS_URL = "redis://127.0.0.1:6379/0"
HERE = Path(__file__).resolve().parent


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own in the local Redis; its keys are deleted afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"bimed-test-{uuid.uuid4().hex}"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_a_budget_paces_each_second_and_guarantees_the_minute():
    assert [(w.amount, w.get_expiry()) for w in windows(600)] == [(10, 1), (600, 61)]
    assert [(w.amount, w.get_expiry()) for w in windows(30.5)] == [(1, 1), (30, 61)]


def test_two_processes_share_one_requests_per_minute_budget(start_server, redis_prefix):
    server = start_server()
    runs = [subprocess.Popen([sys.executable, str(HERE / "limited_run.py"), server.url, REDIS_URL, redis_prefix,
                              f"p{n}", "60", "600"], stdout=subprocess.PIPE, text=True, cwd=HERE)
            for n in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert [line.strip() for line in outputs] == ["60 ok", "60 ok"]
    stats = server.stats()
    assert stats.received.total() == 120
    # 10 a second together: 120 requests are 12 seconds' worth, the first at once, so the last arrives 11 s after
    # the first (5.5 s if each process had a budget of its own). A slow machine only spreads them further.
    assert stats.arrivals[-1] - stats.arrivals[0] >= 10


def test_tokens_are_counted_in_the_shared_budget(start_server, redis_prefix):
    server = start_server()
    config = config_for(server, tpm=60_000, limiter_url=REDIS_URL, limiter_prefix=redis_prefix)
    outcomes, _ = run_many(config, [ask(f"t{i}", max_tokens=200) for i in range(8)])
    assert all(outcome.ok for outcome in outcomes)
    # 60,000/min = 1,000 tokens a second; each request is estimated at a little over 200 tokens, so the 8 need
    # two seconds' worth: the last leaves a second after the first.
    arrivals = server.stats().arrivals
    assert arrivals[-1] - arrivals[0] >= 0.9


def test_the_shared_budget_needs_a_reachable_redis(start_server):
    config = config_for(start_server(), rpm=600, limiter_url="redis://127.0.0.1:1/0")
    outcomes, _ = run_many(config, [ask("unreachable")])
    assert not outcomes[0].ok
    assert "internal_error" in outcomes[0].error.reason


def test_the_local_budget_is_kept_without_redis(start_server):
    server = start_server()
    started = time.monotonic()
    run_many(config_for(server, rpm=600), [ask(f"l{i}") for i in range(30)])
    # 10 at once, then 10 a second: the last of 30 cannot arrive before 2 s. Measured from the start (load can only
    # delay the last arrival), not from the first arrival, which load can delay too.
    assert server.stats().arrivals[-1] - started >= 1.9

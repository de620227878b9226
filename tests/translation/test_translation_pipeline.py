"""The translation pipeline over real HTTP against the local OpenAI-compatible test server.

The server answers with ``CipherResponder``: a model-free translator whose output passes the fidelity checks,
so these tests exercise the real prompts, client, cache, checks and scoring, at the scale the issue names.
"""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bimed_assets.llm.client import LLMClient, LLMConfig
from bimed_assets.llm.test_server import PROMPT_FAULTS, OpenAITestServer, ServerConfig
from bimed_assets.translation import parallel
from bimed_assets.translation.cipher_responder import CipherResponder
from bimed_assets.translation.pipeline import Interleaved, translate_all
from bimed_assets.translation.scoring import ScoringConfig

RUN_TRANSLATION = Path(__file__).with_name("run_translation.py")


def sample(i: int, variant: str = "", item_id: str | None = None) -> dict:
    """A synthetic MCQA item with a dose and a lab value, unique per ``i``."""
    return {
        "id": item_id or f"item-{i}",
        "task": "mcqa",
        "question": f"Patient {i}, aged {20 + i % 60} years, has a potassium of {3 + i % 3}.{i % 10} mEq/L{variant}. "
        "Which drug is most likely responsible?",
        "options": [{"letter": "A", "text": f"Furosemide {20 + i % 40} mg"}, {"letter": "B", "text": "Metformin"},
                    {"letter": "C", "text": "Lisinopril"}, {"letter": "D", "text": "Atorvastatin"}],
        "explanation": "Loop diuretics waste potassium in the urine.",
    }


@pytest.fixture
def server():
    servers = []

    def start(**config):
        config.setdefault("responder", CipherResponder())
        servers.append(OpenAITestServer(ServerConfig(**config)).start())
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def translate(url, samples, scoring=None, **config):
    async def run():
        async with LLMClient(LLMConfig(base_url=url, model="test", api_key="k", **config)) as llm:
            return await translate_all(llm, samples, scoring or ScoringConfig()), llm.meter.total()

    return asyncio.run(run())


def test_a_thousand_items_under_twenty_percent_faults_are_all_accounted_for(server, tmp_path):
    s = server(responder=CipherResponder(flawed=0.1, hopeless=0.05), latency=0.002, fault_rate=0.2,
               fault_mix=PROMPT_FAULTS, retry_after=0.05, seed=3)
    # 980 items and 20 duplicates of them under other ids: a duplicate waits for its twin's answers.
    samples = [sample(i) for i in range(980)] + [sample(i, item_id=f"copy-{i}") for i in range(20)]
    results, usage = translate(s.url, samples, concurrency=64, backoff_initial=0.02, backoff_max=0.2,
                               cache_path=str(tmp_path / "llm.sqlite"))

    assert [r.item_id for r in results] == [x["id"] for x in samples]
    status = Counter(r.status for r in results)
    assert sum(status.values()) == 1000 and status["accepted"] > 800 and status["review"] > 0
    assert all(r.error is not None and r.error.reason for r in results if r.status == "failed")
    assert all(r.attempts[-1].passed for r in results if r.status == "accepted")
    assert any(r.status == "accepted" and len(r.attempts) == 2 for r in results)  # re-translated, then accepted
    stats = s.stats()
    assert sum(stats.faults.values()) > 300
    assert stats.duplicate_deliveries() == 0  # nothing paid for twice
    assert usage.calls >= stats.received.total()  # all metered; load can only add calls that never arrived


def test_unchanged_rerun_makes_no_call_and_a_one_percent_change_few(server, tmp_path):
    s = server()
    cache = str(tmp_path / "llm.sqlite")
    samples = [sample(i) for i in range(200)]
    first, _ = translate(s.url, samples, cache_path=cache)
    first_calls = s.stats().received.total()
    assert Counter(r.status for r in first) == {"accepted": 200}

    translate(s.url, samples, cache_path=cache)
    assert s.stats().received.total() == first_calls  # 0 calls

    changed = [sample(i, " on admission" if i % 100 == 0 else "") for i in range(200)]  # 1% of the items
    translate(s.url, changed, cache_path=cache)
    assert s.stats().received.total() - first_calls <= 0.015 * first_calls


@pytest.mark.parametrize("back_translation, calls", [(False, 2), (True, 3)])
def test_an_item_accepted_in_round_one_costs_two_or_three_calls(server, back_translation, calls):
    s = server()
    results, usage = translate(s.url, [sample(i) for i in range(20)], ScoringConfig(back_translation=back_translation))
    assert all(r.status == "accepted" and len(r.attempts) == 1 for r in results)
    assert usage.calls == s.stats().received.total() == 20 * calls


def test_flawed_first_pass_is_retranslated_with_the_fidelity_feedback(server):
    seen, inner = [], CipherResponder(flawed=1.0)

    def responder(body):
        seen.append(body["messages"][-1]["content"])
        return inner(body)

    s = server(responder=responder)
    (result,), _ = translate(s.url, [sample(7)])
    first, second = result.attempts
    assert result.status == "accepted" and not first.passed and first.judge_score is None  # scorers skipped
    assert any(f.startswith("numbers:") for f in first.fidelity)
    retry = next(text for text in seen if "Your previous translation was" in text)
    assert "number" in retry and "missing from the translation" in retry  # the feedback went back
    assert second.passed and second.fidelity == []


def test_hopeless_items_go_to_review_with_every_attempt(server):
    s = server(responder=CipherResponder(hopeless=1.0))
    (result,), _ = translate(s.url, [sample(1)], ScoringConfig(max_rounds=3))
    assert result.status == "review" and [a.round for a in result.attempts] == [1, 2, 3]
    assert all(a.judge_score == 55 and a.score < 80 for a in result.attempts)
    assert "the key term is mistranslated" in " ".join(result.attempts[-1].feedback())


def test_kill_9_midway_then_rerun_resends_at_most_the_in_flight_calls(server, tmp_path):
    n, concurrency = 120, 8
    s = server(latency=0.05)
    cache = tmp_path / "llm.sqlite"
    args = [sys.executable, str(RUN_TRANSLATION), s.url, str(cache), str(n), str(concurrency)]
    run = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while s.stats().delivered.total() < n and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    delivered_before = set(s.stats().delivered)
    assert 0 < len(delivered_before)

    rerun = subprocess.run(args, capture_output=True, text=True, check=True)
    summary = json.loads(rerun.stdout)
    assert summary["accepted"] == n
    repaid = sum(count - 1 for key, count in s.stats().delivered.items() if key in delivered_before and count > 1)
    assert repaid <= concurrency  # only calls in flight at the kill (answered but not yet cached) are paid again


def test_worker_processes_give_the_results_of_one_process(server, caplog):
    # 0.1 s a call: long enough for the worker to start (about a second) and take over the checks.
    s = server(responder=CipherResponder(flawed=0.2, hopeless=0.05), latency=0.1)
    samples = [sample(i) for i in range(parallel.MIN_ITEMS_FOR_WORKERS + 50)]
    config = LLMConfig(base_url=s.url, model="test", api_key="k", concurrency=32)

    def outcome(processes):
        results, usage = parallel.translate_parallel(config, samples, ScoringConfig(), processes)
        return [(r.item_id, r.status, [(a.fidelity, a.judge_score, a.chrf) for a in r.attempts])
                for r in results], usage["total"]["calls"]

    caplog.set_level("INFO", logger=parallel.__name__)
    one, two = outcome(1), outcome(2)
    assert one == two
    in_workers = re.search(r"checks and chrF: (\d+) in worker processes", caplog.text)
    assert in_workers and int(in_workers.group(1)) > 0
    assert any(attempts[0][0] for _, _, attempts in one[0])  # fidelity failures came back from the workers


def test_checks_run_in_a_worker_process_and_inline_once_it_dies():
    workers = parallel._Workers(1)

    async def pids():
        deadline = time.monotonic() + 60
        while (pid := await workers(os.getpid)) == os.getpid():  # inline until the worker is up
            assert time.monotonic() < deadline, "the worker process did not start"
            await asyncio.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        return pid, await workers(os.getpid)

    try:
        worker, after_its_death = asyncio.run(pids())
    finally:
        workers.close()
    assert worker != os.getpid() and after_its_death == os.getpid()


def test_checks_on_the_event_loop_run_one_per_pass_so_answers_are_read_between_them():
    """Eight items' checks started in the same pass of the loop: each runs in a pass of its own (where the loop
    first reads what has arrived), in the order asked, and a failing check leaves the next one its turn."""
    async def main():
        loop = asyncio.get_running_loop()
        passes = 0

        def count_pass():  # runs once in every pass of the loop
            nonlocal passes
            passes += 1
            loop.call_soon(count_pass)

        loop.call_soon(count_pass)
        offload, ran = Interleaved(), []

        def check(index):
            ran.append((index, passes))
            if index == 3:
                raise ValueError("a check that fails")
            return index

        results = await asyncio.gather(*(offload(check, index) for index in range(8)), return_exceptions=True)
        return results, ran

    results, ran = asyncio.run(main())
    assert [index for index, _ in ran] == list(range(8))
    assert len({at_pass for _, at_pass in ran}) == 8
    assert isinstance(results[3], ValueError) and [r for i, r in enumerate(results) if i != 3] == [0, 1, 2, 4, 5, 6, 7]


def test_a_fresh_seed_translates_an_item_afresh_once(server, tmp_path):
    s = server(responder=CipherResponder(hopeless=1.0))
    cache = str(tmp_path / "llm.sqlite")
    results, _ = translate(s.url, [sample(1)], cache_path=cache)
    assert results[0].status == "review"
    paid = s.stats().received.total()

    async def retry(seed):
        async with LLMClient(LLMConfig(base_url=s.url, model="test", api_key="k", cache_path=cache)) as llm:
            return await translate_all(llm, [sample(1)], ScoringConfig(), seed=seed)

    asyncio.run(retry(7))
    assert s.stats().received.total() == 2 * paid  # every call asked again, under the seed
    asyncio.run(retry(7))
    assert s.stats().received.total() == 2 * paid  # and cached like any other


def test_the_judge_is_told_what_the_checks_flag_without_failing(server):
    """The negation signal (a negation in the source the translation does not show) reaches the judge's request
    and the attempt, and fails nothing."""
    judged, inner = [], CipherResponder()

    def responder(body):
        if "Score the following translation" in body["messages"][0]["content"]:
            judged.append(body["messages"][-1]["content"])
        return inner(body)

    s = server(responder=responder)
    negated = {**sample(3), "explanation": "Loop diuretics should not be stopped without a potassium check."}
    (plain, flagged), _ = translate(s.url, [sample(2), negated])
    assert plain.status == flagged.status == "accepted"
    assert plain.attempts[0].signals == []
    (attempt,) = flagged.attempts
    assert attempt.signals and attempt.signals[0].startswith("negation: explanation: the source negates")
    request = next(text for text in judged if "should not be stopped" in text)
    assert "Automatic checks flagged the following for you to verify" in request
    assert f"- {attempt.signals[0]}" in request
    other = next(text for text in judged if "should not be stopped" not in text)
    assert "Automatic checks flagged" not in other  # no signal, the request is as it was

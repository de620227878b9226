"""A cache a team can manage: failed answers are kept (not paid twice), and entries can be found and purged by
model, endpoint, time, run, item or purpose, from Python and from the command line."""

from __future__ import annotations

import time

from llm_helpers import ask, config_for, run_many

from bimed_assets.llm import cache_cli
from bimed_assets.llm.cache import CompletionCache, Selection
from bimed_assets.translation.cipher_responder import CipherResponder
from bimed_assets.translation.parallel import translate_parallel
from bimed_assets.translation.scoring import ScoringConfig


def reject(text, parsed):
    raise ValueError("not usable")


def test_a_failed_answer_is_kept_and_not_paid_again(start_server, cache_location):
    server = start_server()
    config = config_for(server, cache_path=cache_location, max_bad_answers=2)
    first, _ = run_many(config, [ask("x", validator=reject, item_id="a")])
    paid = server.stats().received.total()
    assert first[0].error.reason == "validator_rejected" and paid == 3  # the first answer and 2 re-asks

    again, _ = run_many(config, [ask("x", validator=reject, item_id="a")])
    assert again[0].error.reason == "validator_rejected" and "cached failed answer" in again[0].error.detail
    assert server.stats().received.total() == paid  # an unchanged rebuild re-pays nothing

    retried, _ = run_many(config_for(server, cache_path=config.cache_path, retry_failed=True),
                          [ask("x", item_id="a")])
    assert retried[0].ok and server.stats().received.total() == paid + 1
    assert CompletionCache(config.cache_path).get(retried[0].completion.key).error is None


def test_entries_are_selected_and_purged_by_provenance(start_server, cache_location):
    server = start_server()
    path = cache_location
    run_many(config_for(server, cache_path=path, run_id="run-1"), [ask(f"a{i}", item_id=f"a{i}") for i in range(3)])
    between = time.time()
    run_many(config_for(server, cache_path=path, run_id="run-2", model="other"),
             [ask(f"b{i}", item_id=f"b{i}", purpose="judge") for i in range(2)])
    cache = CompletionCache(path)
    assert {call.item_id for call in cache.select(Selection(run_id="run-1"))} == {"a0", "a1", "a2"}
    assert {(row["model"], row["entries"]) for row in cache.summary(Selection())} == {("test-model", 3), ("other", 2)}
    assert all(call.endpoint == server.url for call in cache.select(Selection()))
    assert len(cache.select(Selection(since=between))) == 2
    assert cache.purge(Selection(item_id="a0")) == 1
    assert cache.purge(Selection(model="other", purpose="judge")) == 2
    assert cache.purge(Selection(endpoint=server.url, until=between)) == 2
    assert len(cache) == 0


def test_the_command_line_inspects_and_purges(start_server, cache_location, capsys):
    server = start_server()
    path = cache_location
    run_many(config_for(server, cache_path=path, run_id="r"), [ask("ok", item_id="ok")])
    run_many(config_for(server, cache_path=path, run_id="r"), [ask("bad", item_id="bad", validator=reject)])
    assert cache_cli.main(["inspect", "--cache", path, "--rows", "5"]) == 0
    shown = capsys.readouterr().out
    assert "test-model" in shown and "validator_rejected" in shown
    assert cache_cli.main(["purge", "--cache", path, "--failed", "--item", "bad"]) == 0
    assert "purged 1 entries" in capsys.readouterr().out
    assert len(CompletionCache(path)) == 1 and not CompletionCache(path).select(Selection(failed_only=True))


def _translate(server, cache_path: str, samples: list[dict], run_id: str) -> dict[str, str]:
    """Each item's status, through the stage the translation asset runs (finished items kept for the next build)."""
    config = config_for(server, cache_path=cache_path, run_id=run_id, concurrency=16)
    return {result.item_id: result.status for result in translate_parallel(config, samples, ScoringConfig())[0]}


def test_purging_a_bad_period_restores_the_clean_review_queue(start_server, tmp_path, cache_location):
    """Well-formed but useless answers (English where Arabic was asked, 20% of calls) send items to review and
    stay cached, with the results of the items that used them; purging that period's entries (which drops those
    results too) and rebuilding against a healthy server gives the clean build's review queue."""
    samples = [{"id": f"item-{i}", "task": "open_qa", "question": f"Patient {i} has a fever of 39 C for {i % 9 + 1} "
                "days. What should they do?", "answer_text": "Rest, fluids and paracetamol 500 mg."}
               for i in range(60)]
    responder = CipherResponder(hopeless=0.1)
    clean = _translate(start_server(responder=responder), str(tmp_path / "clean.sqlite"), samples, "clean")

    path = cache_location
    started = time.time()
    faulty = start_server(responder=responder, fault_rate=0.2, fault_mix={"wrong_language": 1.0}, seed=5)
    during = _translate(faulty, path, samples, "faulty")
    ended = time.time()
    assert during != clean  # the bad period sent items to review (or failed them)

    healthy = start_server(responder=responder)
    assert _translate(healthy, path, samples, "unchanged") == during  # cached: the bad answers stay
    assert healthy.stats().received.total() == 0
    purged = CompletionCache(path).purge(Selection(since=started, until=ended))
    assert purged > 0
    rebuilt = _translate(healthy, path, samples, "rebuild")
    assert rebuilt == clean
    assert {item for item, status in rebuilt.items() if status == "review"} == {
        item for item, status in clean.items() if status == "review"} != set()

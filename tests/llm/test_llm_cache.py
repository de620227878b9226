"""The persistent cache, in a SQLite file and in PostgreSQL: content-addressed keys, zero HTTP on a hit,
concurrent writers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import psycopg
import pytest
from llm_helpers import ask, complete, config_for, run_many

from bimed_assets.llm.cache import CompletionCache, cache_key
from bimed_assets.llm.client import LLMRequest


def test_cache_hit_makes_no_http_request(start_server, cache_location):
    server = start_server()
    config = config_for(server, cache_path=cache_location, model="gpt-4o")
    first, _ = complete(config, ask("حمى", purpose="translate"))
    assert server.stats().received.total() == 1
    again, meter = complete(config, ask("حمى", purpose="translate", item_id="another-item"))
    assert server.stats().received.total() == 1
    assert again.cached and not first.cached and again.text == first.text and again.attempts == 0
    usage = meter["translate"]
    assert (usage.cache_hits, usage.calls, usage.usd) == (1, 0, 0.0)


def test_cache_row_holds_request_response_and_usage(start_server, cache_location):
    server = start_server()
    completion, _ = complete(config_for(server, cache_path=cache_location), ask("cough"))
    row = CompletionCache(cache_location).get(completion.key)
    assert row.response == completion.text and row.model == "test-model"
    assert row.request["messages"] == [{"role": "user", "content": "cough"}]
    assert (row.prompt_tokens, row.completion_tokens) == (completion.prompt_tokens, completion.completion_tokens)
    assert row.prompt_tokens > 0 and row.created_at > 0


def test_cache_key_covers_generation_parameters_only():
    def key(**fields):
        return cache_key(LLMRequest([{"role": "user", "content": "x"}], **fields).payload("m"))

    base = key()
    assert base == key(item_id="a", replay_key="translate/a/round1", purpose="judge")
    assert base == cache_key(LLMRequest([{"content": "x", "role": "user"}]).payload("m"))  # key order
    for variant in ({"temperature": 0.7}, {"max_tokens": 10}, {"model": "other"}, {"params": {"seed": 1}},
                    {"response_format": {"type": "json_object"}}):
        assert key(**variant) != base, variant


def test_failed_validation_of_a_cached_answer_asks_again(start_server, tmp_path):
    server = start_server()
    config = config_for(server, cache_path=str(tmp_path / "llm.sqlite"))
    complete(config, ask("x"))

    def reject_once_cached(text, parsed):
        raise ValueError("stale")

    outcomes, _ = run_many(config, [ask("x", validator=reject_once_cached)])
    assert outcomes[0].error.reason == "validator_rejected"
    assert server.stats().received.total() == 1 + 3  # the cached answer did not count as an answer


def test_concurrent_requests_in_one_process_all_land(start_server, cache_location):
    server = start_server()
    outcomes, _ = run_many(config_for(server, cache_path=cache_location, concurrency=32),
                           [ask(f"q{i}") for i in range(200)])
    assert all(outcome.ok for outcome in outcomes)
    assert len(CompletionCache(cache_location)) == 200


def test_two_processes_write_one_cache(cache_location):
    """Both create the tables at once, then write; on PostgreSQL, as steps on two machines would."""
    writer = textwrap.dedent("""
        import sys
        from bimed_assets.llm.cache import CompletionCache
        cache = CompletionCache(sys.argv[1])
        for i in range(300):
            cache.put(f"{sys.argv[2]}-{i}", "m", "{}", "answer", 1, 1)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", writer, cache_location, name]) for name in ("a", "b")]
    assert [proc.wait() for proc in procs] == [0, 0]
    cache = CompletionCache(cache_location)
    assert len(cache) == 600 and cache.get("b-299").response == "answer"


@pytest.mark.postgres
def test_a_postgresql_cache_reconnects_after_the_server_drops_it(postgres_database):
    """A restart or failover of the database between two answers must not lose the second, already paid for."""
    def drop_connections() -> None:
        with psycopg.connect(postgres_database, autocommit=True) as admin:
            dropped = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                                    "current_database() AND pid <> pg_backend_pid()").fetchall()
        assert dropped == [(True,)]

    cache = CompletionCache(postgres_database)
    cache.put("before", "m", '{"i": 1}', "answer", 1, 1)
    drop_connections()
    cache.put("after", "m", '{"i": 2}', "answer", 1, 1)
    assert len(cache) == 2 and cache.get("before").response == cache.get("after").response == "answer"
    drop_connections()  # as while a long walk of items waits on the endpoint
    cache.keep_item_results("translation", [("item-1", b"result", ["after"])])
    assert cache.item_results(["item-1"]) == {"item-1": b"result"}


def test_a_cache_url_of_another_database_is_refused_not_taken_for_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"'mysql://bimed:\*\*\*@db/llm'.*SQLite file's path or a postgresql:// URL"):
        CompletionCache("mysql://bimed:hunter2@db/llm")
    assert not any(tmp_path.iterdir())

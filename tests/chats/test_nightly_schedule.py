"""The nightly rebuild: its schedule, and a second run on unchanged inputs that makes no LLM call.

The build runs against the local test server over real HTTP (chats from ``ChatResponder``, translations from
``CipherResponder``), and the server counts every request it receives.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import dagster as dg
import polars as pl
import pytest

from bimed_assets.chats.responder import ChatResponder
from bimed_assets.llm.test_server import OpenAITestServer, ServerConfig
from bimed_assets.translation.cipher_responder import CipherResponder


@pytest.fixture
def live(tmp_path, monkeypatch):
    responder = ChatResponder(leaky=0.5, fallback=CipherResponder(flawed=0.3))
    server = OpenAITestServer(ServerConfig(responder=responder)).start()
    monkeypatch.setenv("BIMED_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("BIMED_LLM_BASE_URL", server.url)
    monkeypatch.delenv("BIMED_SOURCE_ROOT", raising=False)
    from bimed_assets.definitions import defs

    yield defs(), server, tmp_path
    server.stop()


def test_the_schedule_rebuilds_the_corpus_at_two_utc_by_default(monkeypatch):
    from bimed_assets.definitions import defs

    schedule = defs().resolve_schedule_def("nightly_corpus_rebuild")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "UTC")
    assert schedule.job_name == "build_corpus" and schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.build_schedule_context(scheduled_execution_time=datetime(2026, 12, 2, 2, 0, tzinfo=UTC)) as context:
        assert len(schedule.evaluate_tick(context).run_requests) == 1

    from bimed_assets.defs import schedules

    monkeypatch.setenv("BIMED_NIGHTLY_CRON", "30 3 * * *")
    try:
        assert importlib.reload(schedules).nightly_corpus_rebuild.cron_schedule == "30 3 * * *"
    finally:
        monkeypatch.delenv("BIMED_NIGHTLY_CRON")
        importlib.reload(schedules)


def _metadata(result) -> dict[str, dict]:
    return {e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
            for e in result.get_asset_materialization_events()}


def _data_version(result, key: str) -> str | None:
    return next(e.event_specific_data.materialization.tags.get("dagster/data_version")
                for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key)


def test_an_unchanged_nightly_run_makes_no_llm_call(live):
    defs, server, var = live
    job = defs.resolve_job_def(defs.resolve_schedule_def("nightly_corpus_rebuild").job_name)
    instance = dg.DagsterInstance.ephemeral()

    first = job.execute_in_process(instance=instance)
    assert first.success
    paid = server.stats().received.total()
    chats = _metadata(first)["synthesized_chats"]
    assert chats["llm_http_calls"].value > chats["chats_produced"].value == 4
    assert chats["regenerated"].value >= 1  # the leaky first chats were rewritten
    assert paid > chats["llm_http_calls"].value  # translation asked too

    second = job.execute_in_process(instance=instance)
    assert second.success
    assert server.stats().received.total() == paid  # not one request more at the endpoint
    for name, meta in _metadata(second).items():
        if "llm_http_calls" in meta:  # no call, and no item walked: each keeps its result of the first run
            assert meta["llm_http_calls"].value == meta["llm_requests"].value == meta["items_walked"].value == 0, name
            assert meta["items_reused"].value == meta["selected_items"].value > 0, name
    # Dagster's view: the LLM steps' outputs are unchanged, and their data versions (content hashes) say so.
    for key in ("synthesized_chats", "translation_attempts", "accepted_translations", "translation_review_queue",
                "benchmark_translation"):
        assert _data_version(first, key) == _data_version(second, key) is not None, key

    corpus = pl.read_parquet(var / "corpus/bimed_corpus.parquet")
    assert set(corpus.filter(pl.col("task") == "chat")["language"]) == {"en", "ar"}

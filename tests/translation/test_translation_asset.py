"""The translation asset in Dagster against a live (local) endpoint: metadata, secrecy, and free re-runs."""

import importlib
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from pydantic import ValidationError

from bimed_assets.chats.responder import ChatResponder
from bimed_assets.llm.test_server import OpenAITestServer, ServerConfig
from bimed_assets.translation.cipher_responder import CipherResponder

SECRET = "sk-bimed-test-0123456789abcdefghijklmnop"


@pytest.fixture
def live(tmp_path, monkeypatch):
    # One server answers the whole build: the chat writer's requests, and the translator's.
    responder = ChatResponder(fallback=CipherResponder(flawed=0.3))
    server = OpenAITestServer(ServerConfig(responder=responder)).start()
    monkeypatch.setenv("BIMED_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("BIMED_LLM_BASE_URL", server.url)
    monkeypatch.setenv("BIMED_LLM_API_KEY", SECRET)
    from bimed_assets.definitions import defs

    yield defs(), server, tmp_path
    server.stop()


def run(defs):
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("build_corpus").execute_in_process(instance=instance)
    assert result.success
    return result, instance


def test_live_run_reports_usage_and_never_shows_the_key(live):
    defs, server, var = live
    result, instance = run(defs)

    meta = {e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
            for e in result.get_asset_materialization_events()}
    attempts = meta["translation_attempts"]
    assert attempts["selected_items"].value == 15  # two per training source, and one synthesized chat
    assert attempts["llm_http_calls"].value > 28
    # Every request the server received is accounted for by the asset that made it.
    assert sum(m["llm_http_calls"].value for m in meta.values() if "llm_http_calls" in m) == (
        server.stats().received.total())
    assert attempts["prompt_tokens"].value > 0 and attempts["cost_usd"].value > 0  # gpt-4o-mini prices
    scores = pl.read_parquet(var / "assets/translation_attempts.parquet")["score"].drop_nulls()
    histogram = attempts["score_histogram"].value
    assert f"{len(scores):,} attempts; {(scores >= 80).sum():,} at or above the threshold, 80" in histogram
    assert sum(int(row.split("|")[2].replace(",", "")) for row in histogram.splitlines()
               if row.startswith("| ") and "–" in row) == len(scores)  # every scored attempt in one bin
    assert "| purpose |" in attempts["llm_usage"].value and "translate" in attempts["llm_usage"].value
    assert "| round | items |" in meta["accepted_translations"]["accepted_by_round"].value
    accepted = pl.read_parquet(var / "assets/accepted_translations.parquet")
    assert len(accepted) > 0 and set(accepted["round"]) >= {1, 2}  # the flawed first passes were redone
    in_review = len(pl.read_parquet(var / "assets/translation_review_queue.parquet"))
    assert meta["translation_review_queue"]["review_share"].value == in_review / 15

    everything = repr([e for e in instance.all_logs(result.run_id)]) + repr(meta)
    assert SECRET not in everything and "sk-bimed" not in everything


def test_an_unchanged_rerun_makes_no_llm_call(live):
    defs, server, _ = live
    run(defs)
    first = server.stats().received.total()
    result, _ = run(defs)
    assert server.stats().received.total() == first
    meta = next(e.event_specific_data.materialization.metadata for e in result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey("translation_attempts"))
    assert meta["llm_http_calls"].value == 0 and meta["llm_requests"].value == 0  # not even a cache lookup
    assert (meta["items_walked"].value, meta["items_reused"].value) == (0, meta["selected_items"].value)


def test_llm_steps_share_one_endpoint_pool_and_its_slots(tmp_path, monkeypatch):
    monkeypatch.setenv("BIMED_VAR_DIR", str(tmp_path))
    from bimed_assets.definitions import defs
    from bimed_assets.defs.resources import LLM_POOL, LLMResource, llm_from_env

    definitions = defs()
    for key in ("synthesized_chats", "translation_attempts", "benchmark_translation"):
        assert definitions.resolve_assets_def(key).op.pool == LLM_POOL
    fields = {"base_url": "http://gpu-node:8000/v1", "concurrency": 64, "pool_steps": 8,
              "limiter_url": "redis://127.0.0.1:6379/0", "cache_path": str(tmp_path / "llm.sqlite")}
    # On one machine: the whole budget, taken through one lock file per endpoint and model.
    config = LLMResource(**fields).llm_config("run-1")
    assert (config.concurrency, config.limiter_url, config.run_id) == (64, "redis://127.0.0.1:6379/0", "run-1")
    assert config.slots_path == str(tmp_path / "llm_slots" / Path(config.slots_path).name)
    assert LLMResource(**fields, model="other").llm_config().slots_path != config.slots_path
    # Steps on several machines: each its split, no lock file.
    split = LLMResource(**fields, slots="split").llm_config("run-1")
    assert (split.concurrency, split.slots_path) == (8, None)
    assert LLMResource(slots="machine").llm_config().slots_path is None  # replaying: no endpoint, no slots

    monkeypatch.setenv("BIMED_LLM_BASE_URL", "http://gpu-node:8000/v1")
    assert llm_from_env().slots == "machine"
    monkeypatch.setenv("BIMED_EXECUTOR", "k8s")
    assert llm_from_env().slots == "split"
    monkeypatch.setenv("BIMED_LLM_SLOTS", "machine")  # a node of its own for every LLM step: as set
    assert llm_from_env().slots == "machine"


def test_llm_steps_that_run_at_once_share_the_cores(monkeypatch):
    from bimed_assets.defs.resources import LLMResource

    monkeypatch.setattr("os.cpu_count", lambda: 16)
    # Alone, a step uses every core (its client and 15 check workers); 8 steps at once get 2 each, 32 one each.
    assert [LLMResource(pool_steps=steps).step_processes(None) for steps in (1, 8, 32)] == [16, 2, 1]
    assert LLMResource(pool_steps=8).step_processes(3) == 3  # set in the step's config: as set


@pytest.mark.parametrize("config_class", ["translation.assets.TranslationConfig",
                                          "benchmarks.assets.BenchmarkTranslationConfig"])
def test_a_step_refuses_no_processes_rather_than_choosing_for_the_user(config_class):
    module, _, name = config_class.rpartition(".")
    config = getattr(importlib.import_module(f"bimed_assets.defs.{module}"), name)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        config(processes=0)
    assert config().processes is None  # unset: the cores shared by the steps that run at once

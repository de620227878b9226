"""One configuration for every run: the project file's source locations, mix and caps reach the runs that the
nightly schedule and the review sensor request (which carry no run config), and a source with no files is
left out with a note instead of failing the build."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import dagster as dg
import polars as pl
import pytest
import yaml

from bimed_assets import settings
from bimed_assets.benchmarks.translations import REVIEW_TASK
from bimed_assets.defs.review.assets import ReviewStore, review_decisions_sensor
from bimed_assets.paths import SAMPLE_DATA


def _corpus_metadata(result) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node("bimed_corpus")[0].metadata.items()}


def _mix_target(result) -> float:
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "mix_ratio")
    assert check.passed
    return check.metadata["target_arabic_share"].value


@pytest.fixture
def configured(tmp_path, monkeypatch):
    """A project file with the sources in another folder (LiveQA absent there), a 1:1 mix, its own corpus
    directory, and the sample's item caps (the items whose LLM answers are recorded)."""
    sources = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA, sources, ignore=shutil.ignore_patterns("liveqa", "llm_recordings"))
    config = tmp_path / "conf" / "bimed.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump({
        "sources": {"root": "../data", "locations": {"chatdoctor": str(sources / "chatdoctor" / "*.json")}},
        "corpus": {"ar_per_en": 1.0, "directory": "../published", "keep_versions": 3},
        "caps": settings.SAMPLE_CAPS,
    }))
    monkeypatch.setenv("BIMED_CONFIG", str(config))
    monkeypatch.setenv("BIMED_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BIMED_REVIEW_DB", f"sqlite:///{tmp_path / 'review.sqlite'}")
    for name in ("BIMED_SOURCE_ROOT", "BIMED_LLM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    from bimed_assets.definitions import defs

    return defs(), tmp_path


def test_the_project_file_is_read_strictly(tmp_path):
    loaded = settings.parse({"sources": {"root": "data"}, "corpus": {"licences": ["permissive"]}}, tmp_path)
    assert loaded.sources.root == str(tmp_path / "data") and not loaded.on_sample and loaded.job_config() is None
    assert settings.parse(None).on_sample and settings.parse(None).job_config()["ops"]["translation"]
    with pytest.raises(ValueError, match="unknown key.*ar_per_enn"):
        settings.parse({"corpus": {"ar_per_enn": 1}})
    with pytest.raises(ValueError, match="unknown licence kind"):
        settings.parse({"corpus": {"licences": ["public"]}})


def test_schedule_and_sensor_runs_build_with_the_configured_sources_and_mix(configured):
    defs, root = configured
    instance = dg.DagsterInstance.ephemeral()
    schedule = defs.resolve_schedule_def("nightly_corpus_rebuild")
    with dg.build_schedule_context(instance=instance,
                                   scheduled_execution_time=datetime(2026, 12, 2, 2, 0, tzinfo=UTC)) as context:
        [request] = schedule.evaluate_tick(context).run_requests
    nightly = defs.resolve_job_def(schedule.job_name).execute_in_process(
        run_config=request.run_config, tags=request.tags, instance=instance)
    assert nightly.success

    medqa = {k: v.value for k, v in nightly.asset_materializations_for_node("medqa")[0].metadata.items()}
    assert medqa["location"].startswith(str(root / "data"))  # the configured folder, not the bundled sample
    liveqa = {k: v.value for k, v in nightly.asset_materializations_for_node("liveqa")[0].metadata.items()}
    assert "no file matches" in liveqa["left_out"] and liveqa["kept"] == 0  # a note, not a failed build
    corpus = _corpus_metadata(nightly)
    assert corpus["published"] and corpus["path"] == str(root / "published" / "bimed_corpus.parquet")
    assert "liveqa" in corpus["left_out_sources"] and _mix_target(nightly) == 0.5  # 1:1
    assert "source `liveqa`: no file matches" in (root / "published" / "README.md").read_text(encoding="utf-8")

    # A reviewer's decision: the sensor's run (no run config either) builds with the same settings.
    service = ReviewStore().service()
    reviewer = service.create_reviewer("amal", "a long passphrase")
    item = next(i for i in service.list_items() if i["task"] != REVIEW_TASK)
    service.claim(item["item_id"], reviewer.id)
    service.decide(item["item_id"], reviewer.id, item["version"], "reject", reason="not Arabic enough")
    sensor_context = dg.build_sensor_context(instance=instance, resources={"review_store": ReviewStore()})
    request = review_decisions_sensor(sensor_context)
    assert isinstance(request, dg.RunRequest) and not request.run_config
    selection = review_decisions_sensor.asset_selection.resolve(defs.resolve_asset_graph())
    reviewed = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=list(selection), tags=request.tags)
    assert reviewed.success and _mix_target(reviewed) == 0.5
    after = _corpus_metadata(reviewed)
    assert after["published"] and after["removed_by_reason"].get("review_rejected") == 1
    assert "liveqa" in after["left_out_sources"]
    published = pl.read_parquet(root / "published" / "bimed_corpus.parquet")
    assert published.height == after["dagster/row_count"]
    assert not (root / "var" / "corpus").exists()  # nothing went to the default place


def test_a_licence_subset_leaves_the_other_sources_out():
    from bimed_assets.defs.corpus.assets import left_out_sources

    left_out = left_out_sources(settings.CorpusSettings(licences=["permissive"]), settings.SourceFiles())
    assert set(left_out) == {"chatdoctor", "medical_meadow", "liveqa", "medicationqa"}
    assert left_out["medical_meadow"] == "licence kind copyleft is not in corpus.licences"
    assert left_out_sources(settings.CorpusSettings(), settings.SourceFiles(left_out=["medqa"])) == {
        "medqa": "left out in the configuration (sources.left_out)"}


@pytest.mark.parametrize("value", ["0", "-2", "four", "2.5"])
def test_a_count_in_the_environment_that_is_not_a_whole_number_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("BIMED_LLM_SHARDS", value)
    with pytest.raises(ValueError, match=rf"BIMED_LLM_SHARDS='{value}': expected a whole number of at least 1"):
        settings.load()
    monkeypatch.setenv("BIMED_LLM_SHARDS", " 4 ")
    assert settings.env_whole_number("BIMED_LLM_SHARDS") == 4


def test_the_endpoint_budget_of_every_run_comes_from_the_environment(monkeypatch):
    from bimed_assets.defs.resources import llm_from_env

    for name, value in {"BIMED_LLM_CONCURRENCY": "64", "BIMED_LLM_POOL_STEPS": "8", "BIMED_LLM_RPM": "600",
                        "BIMED_LLM_TPM": "90000"}.items():
        monkeypatch.setenv(name, value)
    llm = llm_from_env()
    assert (llm.concurrency, llm.pool_steps, llm.rpm, llm.tpm) == (64, 8, 600, 90000)
    monkeypatch.setenv("BIMED_LLM_RPM", "fast")
    with pytest.raises(ValueError, match="BIMED_LLM_RPM='fast'"):
        llm_from_env()


def test_the_llm_cache_of_every_run_comes_from_the_environment(monkeypatch):
    """BIMED_LLM_CACHE (a PostgreSQL URL, for steps on several machines) is read as dg.EnvVar, like the key."""
    from bimed_assets.defs.resources import llm_from_env

    url = "postgresql://bimed:hunter2@db-host/bimed"
    monkeypatch.setenv("BIMED_LLM_CACHE", url)
    llm = llm_from_env()
    assert isinstance(llm.cache_path, dg.EnvVar)
    assert llm.process_config_and_initialize().cache_path == url

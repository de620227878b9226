"""The benchmark assets in Dagster on the bundled sample, offline: translate, push every item to review, build
``mcqa_benchmarks``; then reviewers decide, the review sensor's selection includes ``mcqa_benchmarks``, and the
re-materialized frame carries the verification. Temp asset storage, Dagster home and SQLite review store."""

import copy

import dagster as dg
import polars as pl
import pytest

from bimed_assets.benchmarks.selection import BENCHMARKS
from bimed_assets.benchmarks.translations import REVIEW_TASK
from bimed_assets.defs.review.assets import ReviewStore, review_decisions_sensor
from translation_review.service import QueueFilter

BENCHMARK_ASSETS = ("benchmark_translation", "benchmark_review_queue_store", "mcqa_benchmarks")


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("BIMED_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("BIMED_REVIEW_DB", f"sqlite:///{tmp_path / 'review.sqlite'}")
    monkeypatch.delenv("BIMED_SOURCE_ROOT", raising=False)
    monkeypatch.delenv("BIMED_LLM_BASE_URL", raising=False)
    (tmp_path / "dagster_home").mkdir()
    from bimed_assets.definitions import defs
    from bimed_assets.settings import SAMPLE_CAPS

    definitions = defs()
    # The benchmark assets and everything they need; the sample run's limits, as the main job sets them.
    selection = (dg.AssetSelection.assets("mcqa_benchmarks", "benchmark_review_queue_store").upstream()
                 .required_multi_asset_neighbors())
    keys = list(selection.resolve(definitions.resolve_asset_graph()))
    nodes = {definitions.resolve_assets_def(key).node_def.name for key in keys}
    ops = {op: {"config": config} for op, config in SAMPLE_CAPS.items() if op in nodes}
    assert "benchmark_translation" in ops
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        yield definitions, instance, keys, {"ops": ops}, tmp_path


def _run(definitions, instance, keys, run_config=None):
    result = definitions.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=keys, run_config=run_config)
    assert result.success
    return result


def _meta(result, asset):
    return next(e.event_specific_data.materialization.metadata for e in result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey(asset))


def _check(result):
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "arabic_items_verified"]
    return check


def test_sample_benchmarks_go_to_review_and_verification_follows_decisions(project):
    definitions, instance, keys, run_config, var = project
    assert set(BENCHMARK_ASSETS) <= {k.to_user_string() for k in keys}
    result = _run(definitions, instance, keys, run_config)

    translation = _meta(result, "benchmark_translation")
    assert translation["selected_items"].value == len(BENCHMARKS)
    assert translation["llm_requests"].value == 3 * len(BENCHMARKS) and translation["llm_http_calls"].value == 0
    assert "| medqa | accepted | 1 |" in translation["by_benchmark_and_status"].value
    assert _meta(result, "benchmark_review_queue_store")["pushed"].value == len(BENCHMARKS)

    frame = pl.read_parquet(var / "assets/mcqa_benchmarks.parquet")
    assert frame.columns == ["item_id", "benchmark", "language", "question", "options", "answer", "verified"]
    assert frame.group_by("benchmark", "language").len()["len"].to_list() == [1] * 2 * len(BENCHMARKS)
    assert frame.filter(pl.col("language") == "en")["verified"].all()
    assert not frame.filter(pl.col("language") == "ar")["verified"].any()
    meta = _meta(result, "mcqa_benchmarks")
    assert meta["verified_share"].value == 0.5 and meta["arabic_unverified_share"].value == 1.0
    assert "| mmlu_anatomy | ar | 1 | 0 |" in meta["by_benchmark_and_language"].value
    check = _check(result)  # warns, does not block
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["unverified_share"].value == 1.0

    # Every benchmark item is in the review store, accepted ones included; a re-run pushes nothing new.
    service = ReviewStore().service()
    benchmark_queue = QueueFilter(task=REVIEW_TASK)
    assert service.progress(benchmark_queue)["pending"] == len(BENCHMARKS)
    again = _run(definitions, instance, keys, run_config)
    assert _meta(again, "benchmark_review_queue_store")["import"].value["unchanged"] == len(BENCHMARKS)
    assert service.progress(benchmark_queue)["pending"] == len(BENCHMARKS)

    # Reviewers decide; the sensor asks for a run whose selection includes mcqa_benchmarks.
    context = dg.build_sensor_context(instance=instance, resources={"review_store": ReviewStore()})
    assert isinstance(review_decisions_sensor(context), dg.SkipReason)
    reviewer = service.create_reviewer("amal", "a long passphrase")
    ids = dict(frame.filter(pl.col("language") == "ar").select("benchmark", "item_id").iter_rows())
    for benchmark, item_id in ids.items():
        item = service.claim(item_id, reviewer.id)
        if benchmark == "medmcqa":
            service.decide(item_id, reviewer.id, item.version, "reject", reason="the enzyme names are garbled")
        elif benchmark == "pubmedqa":
            edited = copy.deepcopy(item.best_translation)
            edited["question"] = edited["question"].replace("هل له أهمية؟", "هل يُحدث فرقًا؟")
            service.decide(item_id, reviewer.id, item.version, "edit", translation=edited)
        elif benchmark != "medqa":  # medqa stays undecided
            service.decide(item_id, reviewer.id, item.version, "approve")
    assert isinstance(review_decisions_sensor(context), dg.RunRequest)
    sensed = review_decisions_sensor.asset_selection.resolve(definitions.resolve_asset_graph())
    assert {dg.AssetKey("reviewed_translations"), dg.AssetKey("mcqa_benchmarks")} <= sensed

    rerun = _run(definitions, instance, [dg.AssetKey("reviewed_translations"), dg.AssetKey("mcqa_benchmarks")])
    frame = pl.read_parquet(var / "assets/mcqa_benchmarks.parquet")
    arabic = {r["benchmark"]: r for r in frame.filter(pl.col("language") == "ar").iter_rows(named=True)}
    assert "medmcqa" not in arabic and len(arabic) == len(BENCHMARKS) - 1
    assert {b for b, r in arabic.items() if not r["verified"]} == {"medqa"}
    assert arabic["pubmedqa"]["question"].endswith("هل يُحدث فرقًا؟")
    assert len(frame.filter(pl.col("language") == "en")) == len(BENCHMARKS)
    check = _check(rerun)
    assert not check.passed and check.metadata["unverified_share"].value == pytest.approx(1 / 8)

    item = service.claim(ids["medqa"], reviewer.id)
    service.decide(ids["medqa"], reviewer.id, item.version, "approve")
    assert _check(_run(definitions, instance, [dg.AssetKey("reviewed_translations"),
                                               dg.AssetKey("mcqa_benchmarks")])).passed  # all verified now

"""The Dagster layer of training end to end on CPU: the bundled sample's corpus and benchmarks (build_corpus), then
base_model (the tiny Mixtral built on that corpus) → qlora_adapter → evaluation_report, every step a real Pipes
subprocess; and the corpus's blocking checks gating the training."""

import base64
import re
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import torch
from transformers import AutoModelForCausalLM

KINDS = {"attention": 8, "experts.gate_up_proj": 2, "experts.down_proj": 2, "router": 2}
BENCHMARKS = ["medqa", "medmcqa", "pubmedqa", "mmlu_anatomy", "mmlu_clinical_knowledge", "mmlu_college_biology",
              "mmlu_college_medicine", "mmlu_medical_genetics", "mmlu_professional_medicine"]
TINY_RUN = {"ops": {
    "qlora_adapter": {"config": {
        "max_steps": 10, "lora_rank": 8, "lora_alpha": 16, "learning_rate": 5e-3, "lr_scheduler_type": "constant",
        "max_length": 256, "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1, "logging_steps": 1,
        "save_steps": 100}},
    # The sample's Arabic benchmark items await review: scored here on purpose, refused by default (below).
    "evaluation_report": {"config": {"allow_unverified": True, "batch_size": 8, "generation_prompts": 2,
                                     "max_new_tokens": 4}},
}}
@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The project's definitions over a throwaway var dir, and an instance where build_corpus has run."""
    var = tmp_path_factory.mktemp("var")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIMED_VAR_DIR", str(var))
        patch.delenv("BIMED_SOURCE_ROOT", raising=False)
        patch.delenv("BIMED_TRAINING_POD", raising=False)
        from bimed_assets.definitions import defs

        definitions = defs()
        instance = dg.DagsterInstance.ephemeral()
        built = definitions.resolve_job_def("build_corpus").execute_in_process(instance=instance)
        assert built.success
        yield definitions, instance, built.run_id, var


def materialized(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {e.asset_key.to_user_string(): {k: v.value for k, v in e.step_materialization_data.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


def png(markdown: str) -> bytes:
    data = base64.b64decode(re.fullmatch(r"!\[.*\]\(data:image/png;base64,(.+)\)", markdown).group(1))
    assert data.startswith(b"\x89PNG")
    return data


@pytest.fixture(scope="module")
def trained(project):
    definitions, instance, _, _ = project
    result = definitions.resolve_job_def("train_and_evaluate").execute_in_process(instance=instance,
                                                                                 run_config=TINY_RUN)
    assert result.success
    return materialized(result)


def test_base_model_is_the_tiny_mixtral_built_on_the_corpus(trained, project):
    meta = trained["base_model"]
    assert meta["tiny"] is True and meta["model_type"] == "mixtral" and meta["num_local_experts"] == 4
    assert (Path(meta["path"]) / "config.json").is_file() and (Path(meta["path"]) / "tokenizer.json").is_file()


def test_a_configured_base_model_is_used_as_it_is(trained, project, tmp_path):
    """In production model_path names a local Mixtral directory; its config is described when it is visible
    here, and only recorded when it lives on the GPU pod's volume."""
    definitions = project[0]
    tiny = trained["base_model"]["path"]
    for path, described in ((tiny, True), (str(tmp_path / "on-the-pod"), False)):
        result = definitions.resolve_job_def("train_and_evaluate").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), asset_selection=[dg.AssetKey("base_model")],
            run_config={"ops": {"base_model": {"config": {"model_path": path}}}})
        meta = materialized(result)["base_model"]
        assert meta["path"] == path and meta["tiny"] is False
        assert ("num_local_experts" in meta) == described
        if described:
            assert (meta["model_type"], meta["num_local_experts"], meta["num_hidden_layers"]) == ("mixtral", 4, 2)


def test_adapter_metadata_comes_from_the_training_job(trained, project):
    _, _, build_run, var = project
    meta = trained["qlora_adapter"]
    assert meta["global_step"] == 10 and meta["lora_coverage"] == KINDS
    assert 0 < meta["trainable_share_pct"] < 100
    assert meta["trainable_share_pct"] == pytest.approx(100 * meta["trainable_params"] / meta["total_params"], 1e-3)
    assert meta["tokens_per_second"] > 0 and meta["train_tokens"] > 0
    history = meta["loss_history"]
    assert [h["step"] for h in history] == list(range(1, 11))
    first, last = (sum(h["loss"] for h in part) / 3 for part in (history[:3], history[-3:]))
    assert last < first, history  # it learns the tiny corpus
    assert meta["corpus_run_id"] == build_run
    assert meta["corpus_path"] == str(var / "corpus" / "bimed_corpus.parquet")
    assert meta["base_model_path"] == trained["base_model"]["path"]
    assert (Path(meta["adapter_dir"]) / "adapter_config.json").is_file()
    png(meta["loss_curve"])


def test_merged_model_is_written_next_to_the_adapter(trained):
    meta = trained["merged_model"]
    adapter_dir = Path(trained["qlora_adapter"]["adapter_dir"])
    assert meta["path"] == str(adapter_dir.parent / "merged") and meta["dtype"] == "bfloat16"
    assert meta["chat_template"] and meta["adapter_path"] == str(adapter_dir)
    assert (Path(meta["path"]) / "model.safetensors").is_file() and (Path(meta["path"]) / "tokenizer.json").is_file()
    merged = AutoModelForCausalLM.from_pretrained(meta["path"], dtype="auto")
    assert {p.dtype for p in merged.parameters()} == {torch.bfloat16}


def test_report_compares_base_and_adapted_per_benchmark_and_language(trained):
    meta = trained["evaluation_report"]
    assert meta["items"] == 18 and meta["unverified_items"] == 9  # 9 benchmarks × en (verified) and ar
    assert meta["models"] == ["base", "adapted"]
    keys = {f"{b}/{lang}" for b in [*BENCHMARKS, "all"] for lang in ("en", "ar", "bilingual")}
    for model in ("base", "adapted"):
        assert set(meta["scores"][model]) == keys
        assert meta["scores"][model]["all/bilingual"]["n"] == 18
        assert meta[f"acc/{model}/all/bilingual"] == meta["scores"][model]["all/bilingual"]["acc"]
    # Every figure is the mean of the job's own per-item predictions.
    predictions = pl.read_parquet(meta["predictions"])
    assert predictions.height == 36
    for (model, benchmark, language), part in predictions.group_by("model", "benchmark", "language"):
        score = meta["scores"][model][f"{benchmark}/{language}"]
        assert score["acc"] == part["acc"].mean() and score["acc_norm"] == part["acc_norm"].mean()
    overall = meta["overall"]
    assert "acc_base" in overall and "acc_adapted" in overall and "acc_delta" in overall and "bilingual" in overall
    assert all(f"**{b}**" in meta["scores_by_benchmark"] for b in BENCHMARKS)
    png(meta["accuracy_chart"])
    for model in ("base", "adapted"):
        for batch in (1, 8):
            assert meta[f"generation/{model}/batch_{batch}/tokens_per_second"] > 0
            assert meta[f"generation/{model}/batch_{batch}/generated_tokens"] == 2 * 4
            assert meta[f"generation/{model}/batch_{batch}/batch_latency_s_median"] > 0
    assert meta["generation_setup"]["precision"] == "NF4 weights (attention and experts), float32 compute"
    assert meta["generation_setup"]["device"] == "cpu (CPU)"
    assert meta["max_length"] == 2048  # the tiny model's context, as lm-eval takes it
    assert "tokens_per_second" in meta["generation_table"] and "precision" in meta["generation_table"]


def test_unverified_benchmark_items_are_refused_by_default(trained, project):
    definitions, instance, _, _ = project
    result = definitions.resolve_job_def("train_and_evaluate").execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("evaluation_report")], raise_on_error=False)
    assert not result.success
    assert [e.step_key for e in result.all_events if e.is_step_failure] == ["evaluation_report"]
    # Refused by the asset itself, before any (GPU) job is launched: no Pipes session was opened.
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "9 of 18 benchmark items are not verified by human review" in failure.step_failure_data.error.cause.message
    assert not [r for r in instance.all_logs(result.run_id)
                if r.dagster_event and (r.dagster_event.message or "").startswith("[pipes]")]
    # English alone is all verified.
    english = definitions.resolve_job_def("train_and_evaluate").execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("evaluation_report")], run_config={"ops": {
            "evaluation_report": {"config": {"languages": ["en"], "benchmarks": ["medqa", "pubmedqa"],
                                             "generation_prompts": 0}}}})
    meta = materialized(english)["evaluation_report"]
    assert meta["items"] == 2 and meta["unverified_items"] == 0
    assert set(meta["scores"]["adapted"]) == {f"{b}/{lang}" for b in ("medqa", "pubmedqa", "all")
                                              for lang in ("en", "bilingual")}


@pytest.fixture(scope="module")
def english_as_arabic(project, tmp_path_factory):
    """The definitions over a copy of the var dir where every accepted "translation" is its English original:
    the corpus's blocking arabic_script check must fail on it."""
    _, _, _, var = project
    planted = tmp_path_factory.mktemp("planted")
    shutil.copytree(var / "assets", planted / "assets")
    accepted = planted / "assets" / "accepted_translations.parquet"
    pl.read_parquet(accepted).with_columns(translation=pl.col("document")).write_parquet(accepted)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIMED_VAR_DIR", str(planted))
        from bimed_assets.definitions import defs

        yield defs()


def run(definitions, instance, *assets, corpus_dir=None):
    """The given assets in one run (the corpus written to corpus_dir), their upstream read from the var dir."""
    config = {"ops": {"bimed_corpus": {"config": {"directory": str(corpus_dir)}}}}
    return definitions.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(a) for a in assets], raise_on_error=False,
        run_config=config if "bimed_corpus" in assets else None)


def refusal(result) -> str:
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "qlora_adapter"
    return str(failure.event_specific_data.error)


def test_training_launched_alone_refuses_a_corpus_whose_blocking_check_failed(english_as_arabic, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    corpus = run(english_as_arabic, instance, "bimed_corpus", corpus_dir=tmp_path)
    assert not corpus.success  # materialized, then a blocking check failed
    checks = corpus.get_asset_check_evaluations()
    assert {c.check_name for c in checks if not c.passed} == {"arabic_script"}
    message = refusal(run(english_as_arabic, instance, "qlora_adapter"))
    assert f"refusing to train on bimed_corpus (materialized in run {corpus.run_id})" in message
    assert "blocking checks did not pass: arabic_script (failed)" in message
    assert message.count("(failed)") == 1  # the passing checks are not named


def test_training_refuses_a_corpus_materialization_its_checks_did_not_see(project, tmp_path):
    definitions, _, _, _ = project
    instance = dg.DagsterInstance.ephemeral()
    assert run(definitions, instance, "bimed_corpus", corpus_dir=tmp_path).success  # every check passes...
    # ...then the corpus is replaced outside the checked pipeline.
    instance.report_runless_asset_event(dg.AssetMaterialization(
        "bimed_corpus", metadata={"path": dg.MetadataValue.path(str(tmp_path / "bimed_corpus.parquet"))}))
    message = refusal(run(definitions, instance, "qlora_adapter"))
    for check in ("schema", "non_null", "arabic_script", "role_alternation", "mix_ratio", "zero_contamination"):
        assert f"{check} (not evaluated on the latest materialization)" in message
    assert "length_bounds" not in message  # a warning, not a blocking check


def test_training_refuses_a_corpus_never_built(project):
    definitions, _, _, _ = project
    message = refusal(run(definitions, dg.DagsterInstance.ephemeral(), "qlora_adapter"))
    assert "bimed_corpus has never been materialized: build it first (job build_corpus)" in message


def test_in_one_run_a_failed_blocking_check_stops_training_before_it_starts(english_as_arabic, tmp_path):
    result = run(english_as_arabic, dg.DagsterInstance.ephemeral(), "bimed_corpus", "base_model", "qlora_adapter",
                 corpus_dir=tmp_path)
    assert not result.success
    assert [e.step_key for e in result.all_events if e.is_step_failure] == ["bimed_corpus"]
    assert {e.step_key for e in result.all_events if e.is_step_start} == {"bimed_corpus"}  # the rest never ran
    assert set(materialized(result)) == {"bimed_corpus"}

"""QLoRA training, the merged export and MCQA evaluation, each launched through Dagster Pipes (`TrainingLauncher`): a local
subprocess by default, a pod on a GPU node in production. The jobs' reports become the assets' metadata."""

import dataclasses
import json
import typing
from pathlib import Path

import dagster as dg
import polars as pl
import pydantic
from pydantic import Field

from bimed_assets.defs import metadata
from bimed_assets.defs.corpus.assets import bimed_corpus
from bimed_assets.defs.training.gate import latest_materialization, require_passing_checks
from bimed_assets.defs.training.launcher import TrainingLauncher
from bimed_assets.paths import var_dir
from bimed_assets.training import report
from training_jobs.config import EvalConfig, ExportConfig, TrainConfig, refuse_unverified

GROUP = "training"


def runs_dir_field():
    return Field(default_factory=lambda: str(var_dir() / "training"),
                 description="Where runs write checkpoints, adapters and predictions (seen by the job: in "
                             "production a shared volume mounted at the same path in the pod).")


def job_config(name: str, job: type, exclude: set[str], doc: str, **fields) -> type[dg.Config]:
    """A run-config class with the job's own fields and defaults (training_jobs/config.py is the one source),
    less those the asset fills in, plus the asset's own."""
    hints = typing.get_type_hints(job)
    own = {f.name: (hints[f.name], ... if f.default is dataclasses.MISSING else f.default)  # ...: required
           for f in dataclasses.fields(job) if f.name not in exclude}
    return pydantic.create_model(name, __base__=dg.Config, __doc__=doc, **own, **fields)


def job_extras(config: dg.Config, job: type) -> dict:
    names = {f.name for f in dataclasses.fields(job)}
    return {k: v for k, v in config.model_dump().items() if k in names}


def recorded(record: dg.EventLogRecord, key: str):
    value = record.asset_materialization.metadata[key]
    return value.path if isinstance(value, dg.PathMetadataValue) else value.value


class BaseModelConfig(dg.Config):
    model_path: str | None = Field(default=None, description="Local directory of the base model in Hugging "
                                   "Face format (e.g. Mixtral-8x7B-Instruct-v0.1; nothing is downloaded). Unset: "
                                   "build the tiny random Mixtral with a tokenizer trained on the corpus (CPU path).")
    tiny_vocab_size: int = Field(default=1024, description="Vocabulary of the tiny model's tokenizer.")


@dg.asset(group_name=GROUP, deps=[bimed_corpus], kinds={"pytorch"})
def base_model(context: dg.AssetExecutionContext, config: BaseModelConfig,
               training_launcher: TrainingLauncher) -> dg.MaterializeResult:
    """The model to adapt: the configured directory, or the tiny random Mixtral built on the corpus (its
    tokenizer is trained on the corpus, hence the lineage edge)."""
    if config.model_path:
        described = Path(config.model_path) / "config.json"
        facts = {"tiny": False}
        if described.is_file():  # on a pod-only volume it is checked by the job instead
            model = json.loads(described.read_text(encoding="utf-8"))
            facts |= {k: model[k] for k in ("model_type", "hidden_size", "num_hidden_layers", "num_local_experts",
                                            "num_experts_per_tok", "vocab_size") if k in model}
        return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(config.model_path), **facts})
    corpus = recorded(latest_materialization(context.instance, bimed_corpus.key), "path")
    extras = {"corpus": corpus, "output_dir": str(var_dir() / "training" / "tiny_mixtral"),
              "vocab_size": config.tiny_vocab_size}
    built = training_launcher.run(context, "training_jobs.tiny", extras).get_materialize_result()
    return dg.MaterializeResult(metadata={**built.metadata, "path": dg.MetadataValue.path(built.metadata["path"].value)})


QLoraConfig = job_config(
    "QLoraConfig", TrainConfig, {"model_path", "corpus", "output_dir"},
    "Hyperparameters of training_jobs.train (see training_jobs/README.md); the base model and the corpus come "
    "from the upstream assets.",
    runs_dir=(str, runs_dir_field()),
    run_name=(str | None, Field(default=None, description="Run folder under runs_dir. Unset: the root run id, so "
                                "re-executing a failed run resumes from its checkpoints.")),
)


def loss_chart(history: list[dict]) -> dg.MetadataValue:
    plt = metadata.pyplot()
    figure, axes = plt.subplots(figsize=(6, 3), dpi=100)
    axes.plot([h["step"] for h in history], [h["loss"] for h in history], color="#4f6bed", marker=".")
    axes.set(title="Training loss", xlabel="step", ylabel="loss")
    return metadata.picture(figure, "Training loss")


@dg.asset(group_name=GROUP, deps=[bimed_corpus, base_model], kinds={"pytorch", "peft"})
def qlora_adapter(context: dg.AssetExecutionContext, config: QLoraConfig,
                  training_launcher: TrainingLauncher) -> dg.MaterializeResult:
    """QLoRA adapters (attention, experts, router) trained on the corpus's latest materialization, refused
    unless all its blocking checks passed; loss, learning rate, tokens/s and trainable share come from the job."""
    corpus = require_passing_checks(context, bimed_corpus)
    base = recorded(latest_materialization(context.instance, base_model.key), "path")
    output_dir = Path(config.runs_dir) / (config.run_name or context.run.root_run_id or context.run.run_id)
    extras = {**job_extras(config, TrainConfig), "model_path": base, "corpus": recorded(corpus, "path"),
              "output_dir": str(output_dir)}
    trained = training_launcher.run(context, "training_jobs.train", extras, distributed=True).get_materialize_result()
    reported = dict(trained.metadata)
    history = reported["loss_history"].value
    return dg.MaterializeResult(metadata={
        **({"loss_curve": loss_chart(history)} if history else {}),
        **reported,
        "adapter_dir": dg.MetadataValue.path(reported["adapter_dir"].value),
        "base_model_path": dg.MetadataValue.path(base),
        "corpus_path": dg.MetadataValue.path(recorded(corpus, "path")),
        "corpus_run_id": corpus.run_id,
    })


EvaluationConfig = job_config(
    "EvaluationConfig", EvalConfig, {"model_path", "items", "adapter_path", "output_dir", "limit"},
    "Settings of training_jobs.evaluate (see training_jobs/README.md) and which benchmark items to score.",
    benchmarks=(list[str], Field(default_factory=list, description="Benchmarks to score (empty: every one).")),
    languages=(list[str], Field(default_factory=lambda: ["en", "ar"], description="`en` and/or `ar`; "
                                "bilingual pools the two.")),
    per_benchmark_limit=(int | None, Field(default=None, description="At most this many items per benchmark "
                                           "and language.")),
    runs_dir=(str, runs_dir_field()),
)


def comparison_chart(frame: pl.DataFrame, models: list[str]) -> dg.MetadataValue:
    """acc of each model per benchmark, one panel per language."""
    plt = metadata.pyplot()
    languages = [lang for lang in report.LANGUAGES if lang in set(frame["language"])]
    # About 900 px wide for three panels: the width of the UI's Markdown dialog.
    figure, panels = plt.subplots(1, len(languages), figsize=(3 * len(languages), 3.4), dpi=100, squeeze=False)
    colours = {"base": "#9aa5b1", "adapted": "#4f6bed"}
    for axes, language in zip(panels[0], languages):
        part = frame.filter(pl.col("language") == language)
        width = 0.8 / len(models)
        for i, model in enumerate(models):
            axes.bar([x + i * width for x in range(len(part))], part[f"acc_{model}"], width, label=model,
                     color=colours.get(model))
        axes.set_xticks([x + 0.4 - width / 2 for x in range(len(part))], part["benchmark"], rotation=60,
                        ha="right", fontsize=6)
        axes.set(title=language, ylim=(0, 1), ylabel="accuracy")
    panels[0][0].legend(loc="upper left", fontsize=8)
    return metadata.picture(figure, "MCQA accuracy, base vs adapted")


@dg.asset(group_name=GROUP, deps=[qlora_adapter], kinds={"pytorch"})
def evaluation_report(context: dg.AssetExecutionContext, config: EvaluationConfig,
                      training_launcher: TrainingLauncher, mcqa_benchmarks: pl.DataFrame) -> dg.MaterializeResult:
    """MCQA accuracy (lm-eval's log-likelihood method) of the base model and of the adapted one, per benchmark
    in English, Arabic and bilingual, with generation throughput; unverified benchmark items are refused
    unless `allow_unverified`."""
    adapter = latest_materialization(context.instance, qlora_adapter.key)
    out = Path(config.runs_dir) / context.run.run_id / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    items = report.select_items(mcqa_benchmarks, config.benchmarks, config.languages, config.per_benchmark_limit)
    refuse_unverified(items.select("benchmark", "language", "verified").to_dicts(), config.allow_unverified)
    items.write_parquet(out / "items.parquet")
    extras = {**job_extras(config, EvalConfig), "model_path": recorded(adapter, "base_model_path"),
              "adapter_path": recorded(adapter, "adapter_dir"), "items": str(out / "items.parquet"),
              "output_dir": str(out)}
    evaluated = training_launcher.run(context, "training_jobs.evaluate", extras).get_materialize_result()
    reported = dict(evaluated.metadata)
    scores = reported["scores"].value
    table = report.comparison(scores)
    by_benchmark = "\n".join(f"**{name}**\n\n{metadata.table(part).value}"
                             for name, part in report.per_benchmark(table).items())
    return dg.MaterializeResult(metadata={  # what people read first, then the job's report
        "overall": metadata.table(table.filter(pl.col("benchmark") == "all")),
        "accuracy_chart": comparison_chart(table, list(scores)),
        "scores_by_benchmark": dg.MetadataValue.md(by_benchmark),
        "generation_table": metadata.table(report.generation(reported["generation"].value,
                                                             reported["generation_setup"].value)),
        **reported,
        "adapter_run_id": adapter.run_id,
        "predictions": dg.MetadataValue.path(str(out / "predictions.parquet")),
    })


MergedModelConfig = job_config(
    "MergedModelConfig", ExportConfig, {"model_path", "adapter_path", "output_dir"},
    "Settings of training_jobs.export (see training_jobs/README.md); the base model and the adapter are those "
    "qlora_adapter recorded.",
)


@dg.asset(group_name=GROUP, deps=[qlora_adapter], kinds={"pytorch", "safetensors"})
def merged_model(context: dg.AssetExecutionContext, config: MergedModelConfig,
                 training_launcher: TrainingLauncher) -> dg.MaterializeResult:
    """The adapter merged into a dense copy of the base (its 4-bit weights dequantized, as training saw them): a
    standard transformers model with the tokenizer and chat template, written next to the adapter, to serve
    (transformers, vLLM) and release as BiMediX released its merged models."""
    adapter = latest_materialization(context.instance, qlora_adapter.key)
    adapter_dir = recorded(adapter, "adapter_dir")
    extras = {**job_extras(config, ExportConfig), "model_path": recorded(adapter, "base_model_path"),
              "adapter_path": adapter_dir, "output_dir": str(Path(adapter_dir).parent / "merged")}
    exported = training_launcher.run(context, "training_jobs.export", extras).get_materialize_result()
    reported = dict(exported.metadata)
    return dg.MaterializeResult(metadata={
        **reported,
        "path": dg.MetadataValue.path(reported["path"].value),
        "adapter_run_id": adapter.run_id,
    })


train_and_evaluate = dg.define_asset_job(
    "train_and_evaluate",
    selection=dg.AssetSelection.groups(GROUP),
    description="Base model → QLoRA adapter → evaluation report and merged model, on the corpus and benchmarks already built "
                "(job build_corpus). Launched from the UI with run configuration; runs on a GPU pod when the "
                "training launcher is configured for Kubernetes.",
)

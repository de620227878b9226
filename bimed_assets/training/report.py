"""The evaluation's input selection and its report's tables: scores per benchmark × language, base against
adapted, and generation throughput at batch 1 and at the batch size.

``scores`` is what ``training_jobs.evaluate`` reports: ``{model: {"<benchmark>/<language>": {n, acc, acc_norm}}}``
with ``bilingual`` (both languages pooled) and ``all`` (every benchmark) among the keys.
"""

from __future__ import annotations

import polars as pl

from bimed_assets.benchmarks.selection import BENCHMARKS

LANGUAGES = ["en", "ar", "bilingual"]
METRICS = ["acc", "acc_norm"]


def select_items(frame: pl.DataFrame, benchmarks: list[str], languages: list[str],
                 per_benchmark_limit: int | None) -> pl.DataFrame:
    """The benchmark items to score (``mcqa_benchmarks`` rows): the chosen benchmarks (empty: all) and languages,
    at most ``per_benchmark_limit`` items per benchmark and language, in the frame's order."""
    if bad := set(languages) - {"en", "ar"}:
        raise ValueError(f"languages are en and ar (bilingual is both, pooled in the report), not {sorted(bad)}")
    unknown = set(benchmarks) - set(frame["benchmark"])
    if unknown:
        raise ValueError(f"no items for benchmarks {sorted(unknown)}; present: {sorted(set(frame['benchmark']))}")
    chosen = frame.filter(pl.col("language").is_in(languages))
    if benchmarks:
        chosen = chosen.filter(pl.col("benchmark").is_in(benchmarks))
    if per_benchmark_limit is not None:
        chosen = chosen.filter(pl.int_range(pl.len()).over("benchmark", "language") < per_benchmark_limit)
    if chosen.is_empty():
        raise ValueError(f"no benchmark items in languages {languages} for {benchmarks or 'any benchmark'}")
    return chosen


def _order(frame: pl.DataFrame) -> pl.DataFrame:
    benchmarks = pl.Enum([*BENCHMARKS, *sorted(set(frame["benchmark"]) - set(BENCHMARKS) - {"all"}), "all"])
    return frame.sort(pl.col("benchmark").cast(benchmarks), pl.col("language").cast(pl.Enum(LANGUAGES)))


def comparison(scores: dict[str, dict[str, dict]]) -> pl.DataFrame:
    """One row per benchmark and language: n, then acc and acc_norm of each model, and adapted − base."""
    models = list(scores)
    keys = sorted({key for per in scores.values() for key in per})
    rows = []
    for key in keys:
        benchmark, language = key.rsplit("/", 1)
        row = {"benchmark": benchmark, "language": language, "n": scores[models[0]][key]["n"]}
        for metric in METRICS:
            for model in models:
                row[f"{metric}_{model}"] = round(scores[model][key][metric], 4)
            if {"base", "adapted"} <= set(models):
                row[f"{metric}_delta"] = round(row[f"{metric}_adapted"] - row[f"{metric}_base"], 4)
        rows.append(row)
    return _order(pl.DataFrame(rows))


def per_benchmark(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The comparison split into one small table per benchmark (``all`` last), its rows the languages."""
    return {name: part.drop("benchmark")
            for (name,), part in frame.group_by("benchmark", maintain_order=True)}


def generation(generation: dict[str, dict[str, dict]], setup: dict[str, str] | None = None) -> pl.DataFrame:
    """Generation throughput and latency per model (base, adapted) and batch size, with what it ran on (``setup``:
    the model directory, the weights' precision and the device)."""
    return pl.DataFrame([{"model": model, **values, **(setup or {})}
                         for model, runs in generation.items() for values in runs.values()])

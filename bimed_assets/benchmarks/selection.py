"""Which evaluation items make up each benchmark.

The nine benchmarks of BiMediX's evaluation: MedQA (the 4-option USMLE test, as lm-evaluation-harness and
BiMediX use it; the 5-option file holds the same questions), MedMCQA dev, PubMedQA test (its abstract is part of
the question) and six MMLU medical test subjects, each its own benchmark. A per-benchmark limit keeps the items
with the lowest hash draw of their id, so a limited benchmark is a stable subset that only grows with the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from bimed_assets.translation.selection import draw


@dataclass(frozen=True)
class Benchmark:
    source: str
    subset: str | None = None  # None: every subset of the source's evaluation split
    with_context: bool = False  # the record's context is part of the question (PubMedQA's abstract)


MMLU_SUBJECTS = ("anatomy", "clinical_knowledge", "college_biology", "college_medicine", "medical_genetics",
                 "professional_medicine")
BENCHMARKS: dict[str, Benchmark] = {
    "medqa": Benchmark("medqa", "US_4options"),
    "medmcqa": Benchmark("medmcqa"),
    "pubmedqa": Benchmark("pubmedqa", with_context=True),
    **{f"mmlu_{subject}": Benchmark("mmlu_medical", subject) for subject in MMLU_SUBJECTS},
}


def benchmark_name() -> pl.Expr:
    """The benchmark an evaluation record belongs to; null for records in none (MedQA's 5-option copy)."""
    expr = pl.lit(None, pl.String)
    for name, bench in reversed(BENCHMARKS.items()):
        matches = pl.col("source") == bench.source
        if bench.subset is not None:
            matches &= pl.col("subset") == bench.subset
        expr = pl.when(matches).then(pl.lit(name)).otherwise(expr)
    return expr


def select(evaluation_sets: pl.DataFrame, per_benchmark_limit: int | None = None) -> pl.DataFrame:
    """The evaluation records (``RECORD_SCHEMA``) of every benchmark with a ``benchmark`` column, in benchmark
    order then draw order; at most ``per_benchmark_limit`` per benchmark."""
    if per_benchmark_limit is not None and per_benchmark_limit < 0:
        raise ValueError(f"per_benchmark_limit must be >= 0, not {per_benchmark_limit}")
    order = pl.Enum(list(BENCHMARKS))
    chosen = (
        evaluation_sets.filter(pl.col("task") == "mcqa")
        .with_columns(benchmark=benchmark_name())
        .drop_nulls("benchmark")
        .with_columns(pl.col("id").map_elements(draw, return_dtype=pl.Float64).alias("_draw"))
        .sort(pl.col("benchmark").cast(order), "_draw")
    )
    if per_benchmark_limit is not None:
        chosen = chosen.filter(pl.int_range(pl.len()).over("benchmark") < per_benchmark_limit)
    return chosen.drop("_draw")

"""Which evaluation items make up each benchmark, and the per-benchmark limit."""

import polars as pl
import pytest

from bimed_assets.benchmarks.selection import BENCHMARKS, select


def test_nine_benchmarks_from_the_evaluation_splits(evaluation):
    chosen = select(evaluation)
    counts = dict(chosen.group_by("benchmark").len().iter_rows())
    assert list(BENCHMARKS) == ["medqa", "medmcqa", "pubmedqa", "mmlu_anatomy", "mmlu_clinical_knowledge",
                                "mmlu_college_biology", "mmlu_college_medicine", "mmlu_medical_genetics",
                                "mmlu_professional_medicine"]
    assert set(counts) == set(BENCHMARKS)
    # MedQA is its 4-option test: the 5-option file repeats the same questions and is left out.
    medqa = evaluation.filter(pl.col("source") == "medqa")
    assert counts["medqa"] == medqa.filter(pl.col("subset") == "US_4options").height < medqa.height
    for subject in ("anatomy", "professional_medicine"):
        assert counts[f"mmlu_{subject}"] == evaluation.filter(pl.col("subset") == subject).height
    assert counts["medmcqa"] == evaluation.filter(pl.col("source") == "medmcqa").height
    assert chosen["is_eval"].all() and chosen["id"].is_unique().all()
    # In benchmark order, as listed.
    assert chosen["benchmark"].unique(maintain_order=True).to_list() == list(BENCHMARKS)


def test_the_limit_keeps_a_stable_subset_per_benchmark(evaluation):
    one, three, every = select(evaluation, 1), select(evaluation, 3), select(evaluation)
    assert dict(one.group_by("benchmark").len().iter_rows()) == dict.fromkeys(BENCHMARKS, 1)
    assert dict(three.group_by("benchmark").len().iter_rows()) == dict.fromkeys(BENCHMARKS, 3)
    for name in BENCHMARKS:
        ids = [three.filter(pl.col("benchmark") == name)["id"].to_list(),
               every.filter(pl.col("benchmark") == name)["id"].to_list()]
        assert one.filter(pl.col("benchmark") == name)["id"].to_list() == ids[0][:1]
        assert ids[0] == ids[1][:3]  # a larger limit only adds items
    # Other records in the evaluation sets do not move a benchmark's selection.
    assert select(evaluation.filter(pl.col("source") != "medqa"), 1).equals(one.filter(pl.col("source") != "medqa"))
    assert select(evaluation, 0).is_empty()
    with pytest.raises(ValueError, match="per_benchmark_limit"):
        select(evaluation, -1)


def test_non_mcqa_and_non_benchmark_records_are_ignored(evaluation):
    extra = evaluation.head(2).with_columns(id=pl.lit("x-") + pl.col("id"), source=pl.lit("liveqa"))
    assert select(pl.concat([evaluation, extra])).equals(select(evaluation))
    open_qa = evaluation.head(1).with_columns(task=pl.lit("open_qa"))
    assert select(open_qa).is_empty()

"""The evaluation report's plain parts: which benchmark items are scored, and the comparison tables."""

import polars as pl
import pytest

from bimed_assets.training.report import comparison, generation, per_benchmark, select_items

ITEMS = pl.DataFrame({
    "item_id": ["q1", "q1", "q2", "q2", "q3", "q3"],
    "benchmark": ["medqa", "medqa", "medqa", "medqa", "pubmedqa", "pubmedqa"],
    "language": ["en", "ar"] * 3,
    "verified": [True, False] * 3,
})


def test_select_items_by_benchmark_language_and_limit():
    assert select_items(ITEMS, [], ["en", "ar"], None).height == 6
    assert select_items(ITEMS, ["pubmedqa"], ["en"], None)["item_id"].to_list() == ["q3"]
    limited = select_items(ITEMS, [], ["en", "ar"], 1)  # one per benchmark and language, in order
    assert limited.select("item_id", "benchmark", "language").rows() == [
        ("q1", "medqa", "en"), ("q1", "medqa", "ar"), ("q3", "pubmedqa", "en"), ("q3", "pubmedqa", "ar")]


def test_select_items_refuses_what_is_not_there():
    with pytest.raises(ValueError, match=r"no items for benchmarks \['mmlu_anatomy'\]"):
        select_items(ITEMS, ["mmlu_anatomy"], ["en"], None)
    with pytest.raises(ValueError, match="no benchmark items in languages"):
        select_items(ITEMS.filter(pl.col("language") == "en"), [], ["ar"], None)
    for languages in (["fr"], ["en", "bilingual"], ["en", "AR"]):  # never silently scored as English only
        with pytest.raises(ValueError, match="languages are en and ar"):
            select_items(ITEMS, [], languages, None)


def score(n, acc, acc_norm):
    return {"n": n, "acc": acc, "acc_norm": acc_norm}


def test_comparison_orders_benchmarks_and_languages_and_takes_differences():
    base = {"pubmedqa/en": score(1, 0.0, 0.0), "medqa/bilingual": score(2, 0.5, 0.5), "medqa/en": score(1, 1.0, 0.0),
            "all/en": score(2, 0.5, 0.0)}
    adapted = {"pubmedqa/en": score(1, 1.0, 1.0), "medqa/bilingual": score(2, 0.5, 1.0),
               "medqa/en": score(1, 1.0, 1.0), "all/en": score(2, 1.0, 1.0)}
    table = comparison({"base": base, "adapted": adapted})
    assert table.select("benchmark", "language").rows() == [
        ("medqa", "en"), ("medqa", "bilingual"), ("pubmedqa", "en"), ("all", "en")]  # benchmark order, all last
    assert table.columns == ["benchmark", "language", "n", "acc_base", "acc_adapted", "acc_delta", "acc_norm_base",
                             "acc_norm_adapted", "acc_norm_delta"]
    assert table.filter(pl.col("benchmark") == "all").row(0) == ("all", "en", 2, 0.5, 1.0, 0.5, 0.0, 1.0, 1.0)
    assert list(per_benchmark(table)) == ["medqa", "pubmedqa", "all"]
    assert per_benchmark(table)["medqa"]["language"].to_list() == ["en", "bilingual"]


def test_comparison_of_the_base_model_alone_has_no_difference_columns():
    table = comparison({"base": {"medqa/en": score(1, 1.0, 1.0)}})
    assert table.columns == ["benchmark", "language", "n", "acc_base", "acc_norm_base"]


def test_generation_table_has_a_row_per_model_and_batch_size_with_the_setup():
    runs = {"base": {"batch_1": {"batch_size": 1, "tokens_per_second": 10.0},
                     "batch_8": {"batch_size": 8, "tokens_per_second": 60.0}}, "adapted": {}}
    table = generation(runs, {"model_name": "mixtral", "precision": "bfloat16", "device": "cpu (CPU)"})
    assert table.select("model", "batch_size", "tokens_per_second").rows() == [("base", 1, 10.0), ("base", 8, 60.0)]
    assert table["precision"].to_list() == ["bfloat16", "bfloat16"]

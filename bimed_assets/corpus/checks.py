"""Quality checks of the corpus: plain functions returning ``CheckResult`` (pass/fail + metadata).

Per-record facts are computed with Polars; the expectations are Great Expectations 1.x expectations run on an
ephemeral context over a pandas frame of those facts, so the lead can wrap each result as a Dagster asset check
(``blocking`` maps to ``AssetCheckSeverity.ERROR``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from bimed_assets.corpus.assemble import CORPUS_SCHEMA, evaluation_questions
from bimed_assets.corpus.dedup import DEFAULT_DEDUP, DedupConfig, find_contamination
from bimed_assets.record_rules import MAX_RECORD_CHARS, MIN_ARABIC_SHARE, arabic_share_expr


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    passed: bool
    blocking: bool
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckConfig:
    ar_per_en: float | None = 0.5
    ratio_tolerance: float = 0.02  # absolute, on the Arabic share of ar+en records
    min_arabic_share: float = MIN_ARABIC_SHARE  # the rule translation acceptance applies too
    max_chars: int = MAX_RECORD_CHARS  # the bound the source loaders quarantine at


def facts(corpus: pl.DataFrame) -> pl.DataFrame:
    """One row per record: what the expectations look at. Lengths are summed per message and the Arabic share
    measured on Arabic records only: joining every record's messages into one text copies the whole corpus."""
    content = pl.col("messages").list.eval(pl.element().struct.field("content"))
    lengths = content.list.eval(pl.element().str.len_chars())
    roles = pl.col("messages").list.eval(pl.element().struct.field("role")).list.join(",")
    rows = corpus.with_row_index("_row")
    shares = rows.filter(pl.col("language") == "ar").select("_row", arabic_share=arabic_share_expr(
        pl.col("messages").list.slice(1).list.eval(pl.element().struct.field("content")).list.join("\n")))
    return rows.select(
        "_row", "id", "task", "source", "language",
        roles_ok=roles.str.contains(r"^system(,user,assistant)+$"),
        shortest=lengths.list.min(),
        chars=lengths.list.sum() + (lengths.list.len().cast(pl.Int64) - 1).clip(0),  # with the "\n" between
        is_ar=pl.when(pl.col("language") == "ar").then(1.0).when(pl.col("language") == "en").then(0.0),
    ).join(shares, on="_row", how="left", maintain_order="left").drop("_row")


def _validator(frame: pl.DataFrame):
    """Validates expectations on ``frame``: one ephemeral context and batch for all of them."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # bars are noise in a run's log
    batch = (
        context.data_sources.add_pandas("corpus").add_dataframe_asset("facts")
        .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame.to_pandas()})
    )
    return lambda expectations: [batch.validate(e) for e in expectations]


def _result(name: str, blocking: bool, results: list, **metadata: Any) -> CheckResult:
    details = {
        f'{r.expectation_config.type}:{r.expectation_config.kwargs.get("column", "")}': {
            k: v.item() if hasattr(v, "item") else v for k, v in r.result.items() if k in ("unexpected_count", "observed_value", "partial_unexpected_list")
        }
        for r in results
    }
    return CheckResult(name, all(r.success for r in results), blocking, {**metadata, "expectations": details})


def run_checks(corpus: pl.DataFrame, evaluation_sets: pl.DataFrame, config: CheckConfig = CheckConfig()) -> list[
        CheckResult]:
    """Every check; all are blocking except ``length_bounds``."""
    import great_expectations as gx

    expect = gx.expectations
    validate = _validator(facts(corpus))
    schema_ok = corpus.schema == CORPUS_SCHEMA
    results = [CheckResult("schema", schema_ok, True, {"schema": str(corpus.schema)} if not schema_ok else {})]
    results.append(_result("non_null", True, validate([
        expect.ExpectColumnValuesToNotBeNull(column=c) for c in ("id", "task", "source", "language", "roles_ok")
    ] + [expect.ExpectColumnValuesToBeUnique(column="id"),
         expect.ExpectColumnValuesToBeInSet(column="language", value_set=["en", "ar", "bilingual"])])))
    results.append(_result("arabic_script", True, validate([
        expect.ExpectColumnValuesToBeBetween(column="arabic_share", min_value=config.min_arabic_share)])))
    results.append(_result("role_alternation", True, validate([
        expect.ExpectColumnValuesToBeInSet(column="roles_ok", value_set=[True])])))
    results.append(_result("length_bounds", False, validate([
        expect.ExpectColumnValuesToBeBetween(column="shortest", min_value=1),
        expect.ExpectColumnValuesToBeBetween(column="chars", max_value=config.max_chars)])))
    if config.ar_per_en is not None:
        share = config.ar_per_en / (1 + config.ar_per_en)
        results.append(_result("mix_ratio", True, validate([expect.ExpectColumnMeanToBeBetween(
            column="is_ar", min_value=share - config.ratio_tolerance, max_value=share + config.ratio_tolerance)]),
            target_arabic_share=share))
    results.append(contamination(corpus, evaluation_sets))
    return results


def contamination(corpus: pl.DataFrame, evaluation_sets: pl.DataFrame, config: DedupConfig = DEFAULT_DEDUP
                  ) -> CheckResult:
    """Zero records whose first user turn holds an evaluation question, by the rule the assembly removes by
    (``dedup.find_contamination``); records of the same item in another language count too (an Arabic question
    cannot be matched against English text)."""
    evaluation = evaluation_questions(evaluation_sets)
    asked = corpus.select(item_id="id", text=pl.col("messages").list.get(1).struct.field("content"))
    found = find_contamination(asked, evaluation, config.contamination)
    items = corpus.filter(pl.col("id").is_in(found["item_id"].implode()))["provenance"].struct.field("item_id")
    hit = corpus.filter(pl.col("provenance").struct.field("item_id").is_in(items.implode()))
    return CheckResult("zero_contamination", hit.is_empty(), True, {
        "contaminated_records": hit.height, "examples": hit["id"].head(10).to_list(),
        "matches": found.head(10).to_dicts(),
    })

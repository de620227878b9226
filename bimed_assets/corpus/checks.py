"""Quality checks of the corpus: plain functions returning ``CheckResult`` (pass/fail + metadata).

Per-record facts are computed with Polars; the expectations are Great Expectations 1.x expectations, run as one
suite on an ephemeral context over a pandas frame of those facts (no message text in it), so the lead can wrap
each result as a Dagster asset check (``blocking`` maps to ``AssetCheckSeverity.ERROR``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from bimed_assets.corpus.assemble import CORPUS_SCHEMA, evaluation_questions
from bimed_assets.corpus.dedup import DEFAULT_DEDUP, DedupConfig, find_contamination, text_key
from bimed_assets.record_rules import MAX_RECORD_CHARS, MIN_ARABIC_SHARE, arabic_letters


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
    """One row per record: what the expectations look at. Computed on the messages one row each (no text is
    copied): lengths per message, summed per record; roles in their place (system first, then user and assistant
    in turn: the ``role_alternation`` rule); the Arabic share of Arabic records, counted over their turns after
    the system prompt (``record_rules.arabic_share_expr``, its letters summed over the turns)."""
    count = corpus["messages"].list.len().to_numpy().astype(np.int64)
    first = np.repeat(np.cumsum(count) - count, count)
    flat = corpus.select(_row=pl.int_range(pl.len(), dtype=pl.UInt32), message="messages", is_ar=pl.col(
        "language") == "ar").explode("message", empty_as_null=False).with_columns(
        index=pl.Series(np.arange(len(first)) - first, dtype=pl.Int64))
    content, role, index = pl.col("message").struct.field("content"), pl.col("message").struct.field("role"), pl.col(
        "index")
    in_place = pl.when(index == 0).then(role == "system").when(index % 2 == 1).then(role == "user").otherwise(
        role == "assistant").fill_null(False)
    letters, arabic = arabic_letters(content)
    per_record = flat.select("_row", length=content.str.len_chars().cast(pl.Int64), in_place=in_place).group_by(
        "_row").agg(shortest=pl.col("length").min(), chars=pl.col("length").sum(), in_place=pl.col("in_place").all())
    # Letters of Arabic records' turns only (a conditional expression would count every record's).
    per_record = per_record.join(flat.filter(pl.col("is_ar") & (index > 0)).select(
        "_row", letters=letters, arabic=arabic).group_by("_row").agg(pl.col("letters").sum(), pl.col("arabic").sum()),
        on="_row", how="left")
    n = pl.col("messages").list.len().cast(pl.Int64)
    return corpus.select(
        _row=pl.int_range(pl.len(), dtype=pl.UInt32), id="id", task="task", source="source", language="language",
        n=n, is_ar=pl.when(pl.col("language") == "ar").then(1.0).when(pl.col("language") == "en").then(0.0),
    ).join(per_record, on="_row", how="left", maintain_order="left").select(
        "id", "task", "source", "language",
        roles_ok=pl.col("in_place").fill_null(False) & (pl.col("n") >= 3) & (pl.col("n") % 2 == 1),
        shortest="shortest",
        chars=pl.col("chars").fill_null(0) + (pl.col("n") - 1).clip(0),  # with the "\n" between messages
        is_ar="is_ar",
        arabic_share=pl.when((pl.col("language") == "ar") & (pl.col("letters") > 0)).then(
            pl.col("arabic") / pl.col("letters")),
    )


def _validate(frame: pl.DataFrame, expectations: dict[str, list]) -> dict[str, list]:
    """Every expectation (by check) validated on ``frame`` in one Great Expectations suite run: one ephemeral
    context, one batch (a pandas frame of the facts, each converted once), results returned by check."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # bars are noise in a run's log
    batch = (
        context.data_sources.add_pandas("corpus").add_dataframe_asset("facts")
        .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame.with_columns(
            # a few distinct values each: categories, not a Python string per record
            pl.col("task", "source", "language").cast(pl.Categorical)).to_pandas()})
    )
    suite = gx.ExpectationSuite(name="bimed_corpus")
    for check, listed in expectations.items():
        for expectation in listed:
            expectation.meta = {**(expectation.meta or {}), "check": check}
            suite.add_expectation(expectation)
    results = {check: [] for check in expectations}
    for result in batch.validate(suite).results:
        results[result.expectation_config.meta["check"]].append(result)
    return results


def _result(name: str, blocking: bool, results: list, **metadata: Any) -> CheckResult:
    details = {
        f'{r.expectation_config.type}:{r.expectation_config.kwargs.get("column", "")}': {
            k: v.item() if hasattr(v, "item") else v for k, v in r.result.items() if k in ("unexpected_count", "observed_value", "partial_unexpected_list")
        }
        for r in results
    }
    return CheckResult(name, all(r.success for r in results), blocking, {**metadata, "expectations": details})


def run_checks(corpus: pl.DataFrame, evaluation_sets: pl.DataFrame, config: CheckConfig = CheckConfig(),
               screened: pl.DataFrame | None = None) -> list[CheckResult]:
    """Every check; all are blocking except ``length_bounds``. ``screened``: see ``contamination``."""
    import great_expectations as gx

    expect = gx.expectations
    schema_ok = corpus.schema == CORPUS_SCHEMA
    results = [CheckResult("schema", schema_ok, True, {"schema": str(corpus.schema)} if not schema_ok else {})]
    suites = {
        "non_null": [expect.ExpectColumnValuesToNotBeNull(column=c) for c in ("id", "task", "source", "language",
                                                                             "roles_ok")]
        + [expect.ExpectColumnValuesToBeUnique(column="id"),
           expect.ExpectColumnValuesToBeInSet(column="language", value_set=["en", "ar", "bilingual"])],
        "arabic_script": [expect.ExpectColumnValuesToBeBetween(column="arabic_share",
                                                               min_value=config.min_arabic_share)],
        "role_alternation": [expect.ExpectColumnValuesToBeInSet(column="roles_ok", value_set=[True])],
        "length_bounds": [expect.ExpectColumnValuesToBeBetween(column="shortest", min_value=1),
                          expect.ExpectColumnValuesToBeBetween(column="chars", max_value=config.max_chars)],
    }
    if config.ar_per_en is not None:
        share = config.ar_per_en / (1 + config.ar_per_en)
        suites["mix_ratio"] = [expect.ExpectColumnMeanToBeBetween(
            column="is_ar", min_value=share - config.ratio_tolerance, max_value=share + config.ratio_tolerance)]
    validated = _validate(facts(corpus), suites)
    for name in ("non_null", "arabic_script", "role_alternation", "length_bounds"):
        results.append(_result(name, name != "length_bounds", validated[name]))
    if config.ar_per_en is not None:
        results.append(_result("mix_ratio", True, validated["mix_ratio"], target_arabic_share=share))
    results.append(contamination(corpus, evaluation_sets, screened=screened))
    return results


def contamination(corpus: pl.DataFrame, evaluation_sets: pl.DataFrame, config: DedupConfig = DEFAULT_DEDUP,
                  screened: pl.DataFrame | None = None) -> CheckResult:
    """Zero records whose first user turn holds an evaluation question, by the rule the assembly removes by
    (``dedup.find_contamination``); records of the same item in another language count too (an Arabic question
    cannot be matched against English text).

    ``screened`` (``dedup.SCREENED_SCHEMA``, from ``Assembly.screened`` of the same evaluation sets): texts the
    assembly already judged by that rule. A record whose first user turn is one of them (same bytes) takes that
    verdict; every other record (Arabic, bilingual, or a text the assembly never saw) is read here."""
    evaluation = evaluation_questions(evaluation_sets)
    asked = corpus.select(item_id="id", text=pl.col("messages").list.get(1).struct.field("content"))
    found, known = [], 0
    if screened is not None:
        keyed = asked.with_columns(*text_key(pl.col("text"))).join(
            screened.with_columns(screened=pl.lit(True)), on=["h1", "h2"], how="left")
        known = int(keyed["screened"].sum())
        found.append(keyed.filter(pl.col("matched").is_not_null()).select(
            "item_id", "matched", contained=pl.lit(None, pl.Float64), rule=pl.lit("screened")))
        asked = keyed.filter(pl.col("screened").is_null()).select("item_id", "text")
    found = pl.concat([*found, find_contamination(asked, evaluation, config.contamination)])
    items = corpus.filter(pl.col("id").is_in(found["item_id"].implode()))["provenance"].struct.field("item_id")
    hit = corpus.filter(pl.col("provenance").struct.field("item_id").is_in(items.implode()))
    return CheckResult("zero_contamination", hit.is_empty(), True, {
        "contaminated_records": hit.height, "examples": hit["id"].head(10).to_list(),
        "matches": found.head(10).to_dicts(), "records_read": asked.height, "records_screened_by_assembly": known,
    })

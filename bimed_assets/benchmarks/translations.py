"""Benchmark items through the translation loop, and every one of them into the human review queue.

Only what the evaluation shows the model is translated: the question, the options, and the context where it is
part of the question (PubMedQA's abstract). Explanations are left out: they cost tokens and review time, and no
benchmark prompt contains them.

Unlike training data, where only items below the threshold go to review, a benchmark item is verified by a
person whatever its score: accepted and below-threshold items alike become review records. Items the LLM could
not answer have no translation to review; they are retried (from the LLM cache) on the next run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import polars as pl

from bimed_assets.benchmarks.selection import BENCHMARKS
from bimed_assets.translation.pipeline import ItemResult
from bimed_assets.translation.tables import REVIEW_SCHEMA, best_attempt, frame, json_text
from translation_review.queue_file import queue_records

# The review store's ``task`` of benchmark items: reviewers filter on it; ``source`` holds the benchmark name.
REVIEW_TASK = "benchmark"

TRANSLATION_SCHEMA = pl.Schema({
    "item_id": pl.String, "benchmark": pl.String, "source": pl.String, "status": pl.String,
    "answer_letter": pl.String, "document": pl.String, "attempts": pl.String, "rounds": pl.Int32,
    "best_round": pl.Int32, "best_score": pl.Float64, "best_translation": pl.String,
    "reasons": pl.List(pl.String), "error": pl.String,
})


def samples(selected: pl.DataFrame) -> list[dict[str, Any]]:
    """The selected records (``selection.select``) as the translation loop's samples: explanation dropped,
    context kept only where the benchmark's question includes it."""
    rows = []
    for row in selected.iter_rows(named=True):
        context = row["context"] if BENCHMARKS[row["benchmark"]].with_context else None
        rows.append({**row, "explanation": None, "context": context})
    return rows


def _reasons(result: ItemResult) -> list[str]:
    final = result.final
    if result.status != "accepted":
        return final.feedback()
    note = (f"benchmark item, reviewed whatever its score: accepted automatically in round {final.round} "
            f"(score {final.score:.1f})")
    return [note, *final.judge_errors]


def translation_frame(results: Sequence[ItemResult], selected: Mapping[str, Mapping[str, Any]]) -> pl.DataFrame:
    """One row per item (``TRANSLATION_SCHEMA``): status, every attempt, the best translation; ``selected``
    maps item id → its selected record (for benchmark, source and answer)."""
    rows = []
    for result in results:
        record = selected[result.item_id]
        usable = result.status != "failed"
        best = best_attempt(result) if usable else None
        rows.append({
            "item_id": result.item_id, "benchmark": record["benchmark"], "source": record["source"],
            "status": result.status, "answer_letter": record["answer_letter"], "document": json_text(result.document),
            "attempts": json_text([asdict(a) for a in result.attempts]), "rounds": len(result.attempts),
            "best_round": best.round if usable else None, "best_score": best.score if usable else None,
            "best_translation": json_text(best.translation) if usable else None,
            "reasons": _reasons(result) if usable else [],
            "error": None if usable else f"{result.error.reason}: {result.error}",
        })
    return frame(rows, TRANSLATION_SCHEMA)


def review_records(translations: pl.DataFrame) -> list[dict[str, Any]]:
    """Every translated benchmark item (accepted or not) as a record for ``ReviewService.import_items``."""
    queue = translations.filter(pl.col("status") != "failed").with_columns(
        source=pl.col("benchmark"), task=pl.lit(REVIEW_TASK))
    return queue_records(queue.select(REVIEW_SCHEMA.names()))

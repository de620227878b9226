"""The translation results as four tables: attempts, accepted translations, the review queue, failures.

Documents (English source and Arabic translation) are stored as JSON text so that every sample type, with
its own fields, fits one column; ``bimed_assets.translation.documents`` describes their shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import polars as pl

from bimed_assets.translation.pipeline import ItemResult

ATTEMPTS_SCHEMA = pl.Schema({
    "item_id": pl.String, "source": pl.String, "task": pl.String, "round": pl.Int32,
    "translation": pl.String, "fidelity_failures": pl.List(pl.String), "judge_score": pl.Float64,
    "judge_errors": pl.List(pl.String), "chrf": pl.Float64, "score": pl.Float64, "passed": pl.Boolean,
    "signals": pl.List(pl.String),
})
ACCEPTED_SCHEMA = pl.Schema({
    "item_id": pl.String, "source": pl.String, "task": pl.String, "round": pl.Int32, "score": pl.Float64,
    "judge_score": pl.Float64, "chrf": pl.Float64, "document": pl.String, "translation": pl.String,
})
REVIEW_SCHEMA = pl.Schema({
    "item_id": pl.String, "source": pl.String, "task": pl.String, "document": pl.String,
    "attempts": pl.String, "rounds": pl.Int32, "best_round": pl.Int32, "best_score": pl.Float64,
    "best_translation": pl.String, "reasons": pl.List(pl.String),
})
FAILURES_SCHEMA = pl.Schema({
    "item_id": pl.String, "source": pl.String, "task": pl.String, "reason": pl.String, "detail": pl.String,
    "rounds_done": pl.Int32,
})


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def frame(rows: list[dict[str, Any]], schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def best_attempt(result: ItemResult):
    """The highest-scoring attempt (unscored attempts, which failed a fidelity check, rank last)."""
    return max(result.attempts, key=lambda a: -1 if a.score is None else a.score)


def tables(results: Sequence[ItemResult], samples: Mapping[str, Mapping[str, Any]]) -> dict[str, pl.DataFrame]:
    """``samples`` maps item id → its canonical record (for source and task)."""
    attempts, accepted, review, failures = [], [], [], []
    for result in results:
        sample = samples[result.item_id]
        key = {"item_id": result.item_id, "source": sample["source"], "task": sample["task"]}
        for a in result.attempts:
            attempts.append({**key, "round": a.round, "translation": json_text(a.translation),
                             "fidelity_failures": a.fidelity, "judge_score": a.judge_score,
                             "judge_errors": a.judge_errors, "chrf": a.chrf, "score": a.score,
                             "passed": a.passed, "signals": a.signals})
        final = result.final
        if result.status == "accepted":
            accepted.append({**key, "round": final.round, "score": final.score, "judge_score": final.judge_score,
                             "chrf": final.chrf, "document": json_text(result.document),
                             "translation": json_text(final.translation)})
        elif result.status == "review":
            best = best_attempt(result)
            review.append({**key, "document": json_text(result.document),
                           "attempts": json_text([asdict(a) for a in result.attempts]),
                           "rounds": len(result.attempts), "best_round": best.round, "best_score": best.score,
                           "best_translation": json_text(best.translation), "reasons": final.feedback()})
        else:
            failures.append({**key, "reason": result.error.reason, "detail": str(result.error),
                             "rounds_done": len(result.attempts)})
    return {
        "translation_attempts": frame(attempts, ATTEMPTS_SCHEMA),
        "accepted_translations": frame(accepted, ACCEPTED_SCHEMA),
        "translation_review_queue": frame(review, REVIEW_SCHEMA),
        "translation_failures": frame(failures, FAILURES_SCHEMA),
    }

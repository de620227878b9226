"""The evaluation input: every benchmark item in English and, once translated, in Arabic, with its verification.

English originals are verified by definition. An Arabic item is verified only when a reviewer approved it or
edited it (the edited text is what the model sees); a rejected one is left out; one not decided yet is kept
with ``verified`` false, so the evaluation can refuse it (or use it, when told to allow unverified items).
Where a benchmark's question includes its context (PubMedQA's abstract), the context comes first, then the
question, separated by a blank line, in both languages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsonschema
import polars as pl

from bimed_assets.benchmarks.selection import BENCHMARKS
from bimed_assets.translation import documents

MCQA_SCHEMA = pl.Schema({
    "item_id": pl.String, "benchmark": pl.String, "language": pl.String, "question": pl.String,
    "options": pl.List(pl.String), "answer": pl.String, "verified": pl.Boolean,
})
LETTERS = "ABCDEFGHIJ"
VERIFYING = ("approved", "edited")  # reviewer decisions (``REVIEW_DECISIONS``) that verify an Arabic item


def _item(benchmark: str, letters: list[str], answer_letter: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    question = doc["question"]
    if BENCHMARKS[benchmark].with_context and doc.get("context"):
        question = f"{doc['context']}\n\n{question}"
    # Options in the source's letter order; the answer is the letter of its position, as the evaluation reads it.
    return {"question": question, "options": [doc["options"][letter] for letter in letters],
            "answer": LETTERS[letters.index(answer_letter)]}


def _fits(translation: Mapping[str, Any], doc: Mapping[str, Any]) -> bool:
    return jsonschema.Draft202012Validator(documents.schema(doc)).is_valid(translation)


def mcqa_benchmarks(translations: pl.DataFrame, reviewed: pl.DataFrame) -> pl.DataFrame:
    """``translations``: ``translations.TRANSLATION_SCHEMA``; ``reviewed``: ``REVIEWED_SCHEMA`` (the latest
    decision per item, training items included: only benchmark items are looked up)."""
    decisions = {row["item_id"]: row for row in reviewed.iter_rows(named=True)}
    rows = []
    for row in translations.iter_rows(named=True):
        doc = json.loads(row["document"])
        letters = list(doc["options"])
        key = {"item_id": row["item_id"], "benchmark": row["benchmark"]}
        rows.append({**key, "language": "en", **_item(row["benchmark"], letters, row["answer_letter"], doc),
                     "verified": True})
        if row["best_translation"] is None:  # the LLM could not translate it (yet)
            continue
        decision = decisions.get(row["item_id"])
        if decision is not None and decision["decision"] == "rejected":
            continue
        approved = decision is not None and decision["decision"] in VERIFYING
        decided = json.loads(decision["translation"]) if approved else None
        # A decision made before the English item changed shape (options added or removed) no longer fits it:
        # the current translation stands in, unverified, rather than a stale one.
        verified = decided is not None and _fits(decided, doc)
        arabic = decided if verified else json.loads(row["best_translation"])
        rows.append({**key, "language": "ar", **_item(row["benchmark"], letters, row["answer_letter"], arabic),
                     "verified": verified})
    return pl.DataFrame(rows, schema=MCQA_SCHEMA, orient="row") if rows else pl.DataFrame(schema=MCQA_SCHEMA)


def composition(frame: pl.DataFrame) -> pl.DataFrame:
    """Items and verified items per benchmark and language, in benchmark order."""
    order = pl.Enum(list(BENCHMARKS))
    return (frame.group_by("benchmark", "language")
            .agg(items=pl.len(), verified=pl.col("verified").sum())
            .sort(pl.col("benchmark").cast(order), "language"))


def unverified_share(frame: pl.DataFrame) -> float:
    """Share of Arabic items not yet verified by a reviewer (0 when there is none)."""
    arabic = frame.filter(pl.col("language") == "ar")
    return 0.0 if arabic.is_empty() else float((~arabic["verified"]).mean())

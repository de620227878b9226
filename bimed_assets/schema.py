"""The canonical schema every source QA set is normalised into.

One row is one English instruction sample, whatever its native format:

| column          | type                              | meaning                                                        |
|-----------------|-----------------------------------|----------------------------------------------------------------|
| id              | str                               | stable id: ``<source>-<native id>`` or ``<source>-<content hash>`` |
| source          | str                               | source set, e.g. ``medqa`` (see ``bimed_assets.sources``)       |
| subset          | str                               | part of the source: ``US_4options``, ``anatomy``, ``genmedgpt``… |
| split           | str                               | ``train`` / ``dev`` / ``validation`` / ``test``                  |
| is_eval         | bool                              | True for evaluation splits, never to be trained on              |
| task            | str                               | ``mcqa`` / ``open_qa`` / ``dialogue``                            |
| question        | str                               | question, vignette or patient message                           |
| options         | list[struct{letter, text}]        | answer options in their native order (empty unless ``mcqa``)    |
| answer_letter   | str or null                       | letter of the correct option (``mcqa`` only)                    |
| answer_text     | str                               | text of the correct option, or the free-text answer             |
| explanation     | str or null                       | the source's explanation / long answer                          |
| context         | str or null                       | supporting passage (PubMedQA abstract, MedMCQA topic…)          |
| language        | str                               | ISO 639-1, ``en`` for every source set                          |
| licence         | str                               | licence of the source set (SPDX id, or a note when unclear)     |
| origin          | str                               | ``<file>:<line>`` or ``<file>#<index>`` the record came from     |
| native          | str                               | the native record as JSON, for provenance                       |

Rejected records go to a quarantine table (``QUARANTINE_SCHEMA``) with a reason from ``REASONS``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

TASKS = ("mcqa", "open_qa", "dialogue")
SPLITS = ("train", "dev", "validation", "test")

# The evaluation splits of the BiMediX benchmarks: later steps must never train on them.
EVAL_SPLITS: dict[str, frozenset[str]] = {
    "medqa": frozenset({"test"}),
    "medmcqa": frozenset({"dev"}),
    "pubmedqa": frozenset({"test"}),
    "mmlu_medical": frozenset({"test"}),
}

OPTION = pl.Struct({"letter": pl.String, "text": pl.String})

RECORD_SCHEMA = pl.Schema(
    {
        "id": pl.String,
        "source": pl.String,
        "subset": pl.String,
        "split": pl.String,
        "is_eval": pl.Boolean,
        "task": pl.String,
        "question": pl.String,
        "options": pl.List(OPTION),
        "answer_letter": pl.String,
        "answer_text": pl.String,
        "explanation": pl.String,
        "context": pl.String,
        "language": pl.String,
        "licence": pl.String,
        "origin": pl.String,
        "native": pl.String,
    }
)

_ARROW_SCHEMA = pl.DataFrame(schema=RECORD_SCHEMA).to_arrow().schema

# Why a record was quarantined. Each reason is counted separately in asset metadata.
REASONS = {
    "invalid_json": "the line or element is not valid JSON",
    "malformed_row": "wrong number of columns or an unreadable row",
    "missing_field": "a required field is absent or null",
    "wrong_type": "a field has the wrong type",
    "empty_text": "a required text field is empty or whitespace",
    "broken_encoding": "invalid UTF-8 or mojibake in the text",
    "html_remnant": "HTML tags or entities left in the text",
    "invisible_characters": "bidirectional control characters that change how the text displays",
    "answer_not_in_options": "the gold answer is not one of the options",
    "bad_label": "the gold label is not a valid value",
    "duplicate_id": "another record of the source already has this id",
    "empty_file": "a data file of the source is empty (nothing in it could be read)",
    "oversized_record": "the record's text is over the length bound (bimed_assets.record_rules.MAX_RECORD_CHARS)",
}

QUARANTINE_SCHEMA = pl.Schema(
    {
        "source": pl.String,
        "subset": pl.String,
        "origin": pl.String,
        "reason": pl.String,
        "detail": pl.String,
        "native": pl.String,
    }
)


def stable_id(source: str, native_id: str | None = None, *content: object) -> str:
    """Deterministic id: the native id when the source has one, else a hash of the content."""
    if native_id is not None and str(native_id).strip():
        return f"{source}-{str(native_id).strip()}"
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()
    return f"{source}-{digest[:16]}"


def is_eval_split(source: str, split: str) -> bool:
    return split in EVAL_SPLITS.get(source, frozenset())


@dataclass(slots=True)
class Record:
    """One canonical row; field order matches ``RECORD_SCHEMA``."""

    id: str
    source: str
    subset: str
    split: str
    is_eval: bool
    task: str
    question: str
    options: list[dict[str, str]]
    answer_letter: str | None
    answer_text: str
    explanation: str | None
    context: str | None
    language: str
    licence: str
    origin: str
    native: str = field(repr=False)

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)


def records_frame(records: list[Record]) -> pl.DataFrame:
    # Arrow builds the nested ``options`` column from Python objects far faster than Polars does row by row.
    columns = zip(*(r.as_tuple() for r in records), strict=True) if records else [[]] * len(RECORD_SCHEMA)
    table = pa.Table.from_pydict(dict(zip(RECORD_SCHEMA.names(), columns, strict=True)), schema=_ARROW_SCHEMA)
    return pl.from_arrow(table)


def empty_records() -> pl.DataFrame:
    return pl.DataFrame(schema=RECORD_SCHEMA)

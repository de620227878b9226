"""Turn native records into canonical records and a quarantine, the same way for every source.

A source is a ``SourceSpec``: how to read its files into ``Native`` records and how to normalise one
native record into an ``Item``. ``load_source`` does the rest once for all sources: ids, evaluation
flags, provenance, duplicate ids, quarantine rows and counts.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import polars as pl

from bimed_assets.paths import SAMPLE_DATA
from bimed_assets.record_rules import MAX_RECORD_CHARS
from bimed_assets.schema import (
    QUARANTINE_SCHEMA,
    Record,
    is_eval_split,
    records_frame,
    stable_id,
)
from bimed_assets.sources.reading import Native, is_empty, resolve_files
from bimed_assets.sources.validation import Rejected

_BATCH = 20_000
# What a source's data can be in; documentation beside it (README, LICENSE, SOURCE.md) is not data.
DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".xml", ".xlsx")


@dataclass(slots=True)
class Item:
    """What a source's normaliser extracts from one native record."""

    task: str
    question: str
    answer_text: str
    options: list[dict[str, str]] = field(default_factory=list)
    answer_letter: str | None = None
    explanation: str | None = None
    context: str | None = None
    native_id: str | None = None  # the source's own id, when it has one


@dataclass(frozen=True)
class SourceSpec:
    name: str
    description: str
    licence: str
    sample: str  # bundled sample, relative to ``sample_data/``: a file, a directory or a glob
    read: Callable[[list[Path]], Iterator[Native]]  # files → native records with subset and split set
    normalize: Callable[[Native], Item]  # raises ``Rejected``
    # Maps one row of the source's Hugging Face dataset to its native record (field names, label base).
    from_hf: Callable[[dict[str, Any]], Any] = lambda row: row
    hf_splits: dict[str, str] = field(default_factory=dict)  # hub split name → native split name
    # What the licence allows, for the dataset card and the licence subset (bimed_assets.settings.LICENCE_KINDS),
    # and its Hugging Face hub identifier.
    licence_kind: str = "permissive"
    licence_id: str = "mit"


@dataclass
class LoadResult:
    records: pl.DataFrame
    quarantine: pl.DataFrame
    read: int
    reasons: Counter = field(default_factory=Counter)

    @property
    def quarantine_rate(self) -> float:
        return len(self.quarantine) / self.read if self.read else 0.0


def _native_json(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False, default=str)


def _text_size(item: Item) -> int:
    return (len(item.question) + len(item.answer_text) + len(item.explanation or "") + len(item.context or "")
            + sum(len(o["text"]) for o in item.options))


def load_source(spec: SourceSpec, natives: Iterable[Native]) -> LoadResult:
    records: list[Record] = []
    frames: list[pl.DataFrame] = []  # records so far, converted in batches to bound the Python objects alive
    quarantine: list[tuple] = []
    reasons: Counter = Counter()
    seen: set[str] = set()
    read = 0

    def reject(native: Native, reason: str, detail: str) -> None:
        reasons[reason] += 1
        quarantine.append(
            (spec.name, native.subset, native.origin, reason, detail, _native_json(native.record))
        )

    for native in natives:
        read += 1
        if native.problem:
            reject(native, *native.problem)
            continue
        try:
            item = spec.normalize(native)
        except Rejected as exc:
            reject(native, exc.reason, exc.detail)
            continue
        size = _text_size(item)
        if size > MAX_RECORD_CHARS:  # the same bound in every format: the record is judged, not its file
            reject(native, "oversized_record", f"{size:,} characters of text, over {MAX_RECORD_CHARS:,}")
            continue
        record_id = stable_id(
            spec.name,
            item.native_id,
            native.subset,
            native.split,
            item.question,
            [o["text"] for o in item.options],
            item.answer_text,
        )
        if record_id in seen:
            reject(native, "duplicate_id", f"{record_id} already loaded")
            continue
        seen.add(record_id)
        if len(records) == _BATCH:
            frames.append(records_frame(records))
            records = []
        records.append(
            Record(
                id=record_id,
                source=spec.name,
                subset=native.subset,
                split=native.split,
                is_eval=is_eval_split(spec.name, native.split),
                task=item.task,
                question=item.question,
                options=item.options,
                answer_letter=item.answer_letter,
                answer_text=item.answer_text,
                explanation=item.explanation,
                context=item.context,
                language="en",
                licence=spec.licence,
                origin=native.origin,
                native=native.raw if native.raw is not None else _native_json(native.record),
            )
        )
    return LoadResult(
        records=pl.concat([*frames, records_frame(records)], rechunk=False),
        quarantine=pl.DataFrame(quarantine, schema=QUARANTINE_SCHEMA, orient="row"),
        read=read,
        reasons=reasons,
    )


def left_out_result() -> LoadResult:
    """What a source that is left out of a build contributes: no record, nothing quarantined."""
    return LoadResult(records=records_frame([]), quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA), read=0)


def load_files(spec: SourceSpec, location: str | Path | None = None) -> LoadResult:
    """Load a source from a path, directory or glob; the bundled sample when no location is given."""
    location = location if location is not None else SAMPLE_DATA / spec.sample
    files = resolve_files(location)
    empty = [p for p in files if p.suffix.lower() in DATA_SUFFIXES and is_empty(p)]
    # An empty data file is quarantined and counted (one row naming it), in every format alike.
    notes = [Native(f"{p}:1", "", ("empty_file", f"{p.name} is empty")) for p in empty]
    names = portable_names(location, files)
    return load_source(spec, (_portable(native, names) for native in chain(notes, spec.read(
        [p for p in files if p not in empty]))))


def portable_names(location: str | Path, files: list[Path]) -> dict[str, str]:
    """Each file's name relative to the folder the location starts from (the folder itself, a file's folder,
    a glob's fixed part): what provenance records, instead of a path that only exists on this machine."""
    where = os.path.expanduser(str(location))
    head = re.split(r"[*?\[]", where, maxsplit=1)[0]
    if head != where:  # a glob: the folder its fixed part ends in
        base = Path(head) if head.endswith("/") else Path(head).parent
    else:
        base = Path(where) if Path(where).is_dir() else Path(where).parent
    return {str(p): p.relative_to(base).as_posix() if p.is_relative_to(base) else p.name for p in files}


def _portable(native: Native, names: dict[str, str]) -> Native:
    """``<file>:<line>`` / ``<file>#<index>`` with the file's portable name."""
    for separator in (":", "#"):
        path, found, where = native.origin.rpartition(separator)
        if found and path in names:
            native.origin = f"{names[path]}{separator}{where}"
            return native
    return native


def load_hf(spec: SourceSpec, dataset: str, split: str, config: str | None = None) -> LoadResult:
    """Load a source from the Hugging Face hub (needs network)."""
    from datasets import load_dataset  # optional dependency, only for online users

    rows = load_dataset(dataset, config, split=split)

    def natives() -> Iterator[Native]:
        for index, row in enumerate(rows):
            native = Native(f"hf://{dataset}/{split}#{index}", spec.from_hf(row))
            native.subset, native.split = config or dataset, spec.hf_splits.get(split, split)
            yield native

    return load_source(spec, natives())

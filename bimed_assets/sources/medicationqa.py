"""MedicationQA (Ben Abacha et al., MEDINFO 2019): one .xlsx sheet of consumer medication questions with
answers from trusted sources, header ``Question | Focus (Drug) | Question Type | Answer | Section Title | URL``.

The question is the consumer's text as typed (lower case, typos kept). Focus and question type go to
``context``; section title and URL stay in the native record. A cell that is not text where text is
expected (a number, or a date Excel made of something like "1-2") is rejected as ``wrong_type`` rather
than turned back into text: the original typing cannot be recovered honestly. The sheet has no ids:
``load_source`` hashes the content, which quarantines repeated rows as ``duplicate_id``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bimed_assets.sources import validation as v
from bimed_assets.sources.loading import Item, SourceSpec
from bimed_assets.sources.reading import Native, read_xlsx

COLUMNS = ("Question", "Focus (Drug)", "Question Type", "Answer", "Section Title", "URL")


def read(files: list[Path]) -> Iterator[Native]:
    # Only workbooks: the upstream folder also holds README.md.
    for path in (p for p in files if p.suffix.lower() == ".xlsx"):
        for native in read_xlsx(path, COLUMNS):
            native.subset, native.split = "medinfo2019", "train"  # released as one set, no splits
            yield native


def normalize(native: Native) -> Item:
    record = native.record
    question, answer = v.text(record, "Question"), v.text(record, "Answer")
    labels = [(name, v.text(record, name, required=False)) for name in ("Focus (Drug)", "Question Type")]
    context = "; ".join(f"{name}: {value}" for name, value in labels if value) or None
    return Item(task="open_qa", question=question, answer_text=answer, context=context)


SPEC = SourceSpec(
    name="medicationqa",
    description="MedicationQA consumer medication questions with answers from trusted sources (MEDINFO 2019)",
    licence="unclear: no licence upstream; cite Ben Abacha et al., MEDINFO 2019",
    licence_kind="unclear",
    licence_id="unknown",
    sample="medicationqa/*.xlsx",
    read=read,
    normalize=normalize,
)

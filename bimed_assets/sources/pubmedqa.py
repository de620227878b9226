"""PubMedQA PQA-L (Jin et al. 2019, MIT): ``ori_pqal.json``, one JSON object keyed by PMID (QUESTION,
CONTEXTS, LABELS, final_decision, LONG_ANSWER…), and ``test_ground_truth.json`` (PMID → label), whose
500 PMIDs are the official test split. Asked as a yes / no / maybe multiple-choice question."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bimed_assets.sources import validation as v
from bimed_assets.sources.loading import Item, SourceSpec
from bimed_assets.sources.reading import KeyedObject, Native, SourceFileError, read_json

DATA, GROUND_TRUTH = "ori_pqal.json", "test_ground_truth.json"
OPTIONS = [{"letter": "A", "text": "yes"}, {"letter": "B", "text": "no"}, {"letter": "C", "text": "maybe"}]
LETTER = {o["text"]: o["letter"] for o in OPTIONS}


def _object(path: Path) -> KeyedObject:
    data = read_json(path, keep_duplicate_keys=True)
    if not isinstance(data, dict):
        raise SourceFileError(f"{path}:1: expected a JSON object keyed by PMID, found {type(data).__name__}")
    return data


def read(files: list[Path]) -> Iterator[Native]:
    # By name only: the upstream data/ folder also holds pqal_fold*/ splits of the same items.
    data_files = [p for p in files if p.name == DATA]
    truth_files = [p for p in files if p.name == GROUND_TRUTH]
    # Without the ground truth the 500 test items would pass for training data: look beside the data.
    truth_files = truth_files or [p.parent / GROUND_TRUTH for p in data_files if (p.parent / GROUND_TRUTH).is_file()]
    if data_files and not truth_files:
        raise SourceFileError(f"{data_files[0]}: {GROUND_TRUTH} is needed to tell the test split apart")
    truth: dict = {}
    for path in dict.fromkeys(truth_files):
        truth.update(_object(path))
    for path in data_files:
        # Every pair, a PMID written twice included: the loader quarantines the second as duplicate_id.
        for pmid, entry in _object(path).pairs:
            # The native record is the file's own {PMID: entry} pair, so the PMID stays with it.
            native = Native(f"{path}#{pmid}", {pmid: entry}, subset="pqa_labeled")
            native.split = "test" if pmid in truth else "train"
            decision = entry.get("final_decision") if isinstance(entry, dict) else None
            if pmid in truth and truth[pmid] != decision:
                native.problem = ("bad_label", f"final_decision {decision!r}, {GROUND_TRUTH} {truth[pmid]!r}")
            yield native


def _context(entry: dict) -> str:
    contexts, labels = entry.get("CONTEXTS"), entry.get("LABELS") or []
    if not isinstance(contexts, list) or not contexts:
        raise v.Rejected("missing_field", "CONTEXTS is missing or empty")
    if not isinstance(labels, list) or len(labels) != len(contexts):
        labels = [None] * len(contexts)  # unlabelled sections: keep the text, drop the labels
    parts = []
    for i, (label, text) in enumerate(zip(labels, contexts, strict=True)):
        text = v.text({f"CONTEXTS[{i}]": text}, f"CONTEXTS[{i}]")
        parts.append(f"{label}: {text}" if isinstance(label, str) and label != "UNLABELLED" else text)
    return "\n\n".join(parts)


def normalize(native: Native) -> Item:
    ((pmid, entry),) = native.record.items()
    question = v.text(entry, "QUESTION")
    decision = v.text(entry, "final_decision")
    if decision not in LETTER:
        raise v.Rejected("bad_label", f"final_decision {decision!r} is not yes, no or maybe")
    gold = v.answer_option(OPTIONS, LETTER[decision])
    return Item(
        task="mcqa",
        question=question,
        options=[dict(o) for o in OPTIONS],
        answer_letter=gold["letter"],
        answer_text=gold["text"],
        explanation=v.text(entry, "LONG_ANSWER", required=False),
        context=_context(entry),
        native_id=pmid,
    )


def _from_hf(row: dict) -> dict:
    # qiaojin/PubMedQA "pqa_labeled" → the ori_pqal.json entry it was made from.
    context = row["context"]
    entry = {
        "QUESTION": row["question"],
        "CONTEXTS": context["contexts"],
        "LABELS": context["labels"],
        "MESHES": context["meshes"],
        "final_decision": row["final_decision"],
        "LONG_ANSWER": row["long_answer"],
    }
    return {str(row["pubid"]): entry}


SPEC = SourceSpec(
    name="pubmedqa",
    description="PubMedQA PQA-L: yes/no/maybe questions on PubMed abstracts, expert-labelled",
    licence="MIT",
    sample="pubmedqa/*.json",
    read=read,
    normalize=normalize,
    from_hf=_from_hf,
    # The hub copy puts all 1000 items in one "train" split and cannot tell the 500 test items apart,
    # so all of it counts as evaluation data: losing 500 training items beats training on the test set.
    hf_splits={"train": "test"},
)

"""TREC 2017 LiveQA medical task, test set (Ben Abacha et al. 2017): XML of ``<NLM-QUESTION qid>`` consumer
health questions, each with ``<Original-Question>`` (SUBJECT, MESSAGE), a ``<NIST-PARAPHRASE>``,
annotations and ``<ReferenceAnswers>`` holding ``<ReferenceAnswer aid>`` elements (``<RefAnswer aid>`` in
TQ1: the tag name is inconsistent upstream), each with ``<ANSWER>``, ``<AnswerURL>`` and ``<COMMENT>``.

One record per (question, reference answer), with the answer's ``aid`` (``TQ1A1``) as native id. The
question is the assessors' paraphrase, or SUBJECT + MESSAGE where there is none (TQ10, TQ34, TQ103). The
consumer's original text, the annotations, URL and comment stay in the native record only: ``context`` is
for passages that support the answer, and the raw message is neither that nor clean text.

Split ``test`` because it is the TREC test set, but it is not one of the BiMediX evaluation splits
(``schema.EVAL_SPLITS`` has no ``liveqa``), so ``is_eval`` is False and it may be trained on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

from lxml import etree

from bimed_assets.sources import validation as v
from bimed_assets.sources.loading import Item, SourceSpec
from bimed_assets.sources.reading import Native, parse_xml

# The upstream editor wrapped long lines at about column 300, inside sentences; shorter lines end where
# the author ended them (list items, paragraphs). A line this long followed by more text is a soft wrap.
_WRAPPED_LINE = 250


def as_dict(element: etree._Element) -> Any:
    """An element as JSON-able data: text alone, or a dict of ``@attribute``s, ``#text`` and child
    elements by tag (a list when the tag repeats). Comments and processing instructions are dropped."""
    text = (element.text or "").strip()
    children = [child for child in element if isinstance(child.tag, str)]
    if not element.attrib and not children:
        return text
    result: dict[str, Any] = {f"@{name}": value for name, value in element.attrib.items()}
    if text:
        result["#text"] = text
    for child in children:
        value = as_dict(child)
        if child.tag not in result:
            result[child.tag] = value
        elif isinstance(result[child.tag], list):
            result[child.tag].append(value)
        else:
            result[child.tag] = [result[child.tag], value]
    return result


def unwrap(value: str) -> str:
    """Drop the XML indentation and rejoin soft-wrapped lines; keep the author's own line breaks."""
    lines = [line.strip() for line in value.split("\n")]
    out = lines[:1]
    for previous, line in pairwise(lines):
        if line and out[-1] and len(previous) >= _WRAPPED_LINE:
            out[-1] += " " + line
        else:
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _native(origin: str, record: dict[str, Any]) -> Native:
    return Native(origin, record, subset="trec2017_medical", split="test")


def read(files: list[Path]) -> Iterator[Native]:
    # Only the question files (``*Test.xml``): the qrels .txt are judged participant answers, and the
    # ``-Questions-w-summaries.xml`` copy repeats the same questions, which would all be duplicates.
    for path in (p for p in files if p.name.lower().endswith("test.xml")):
        root = parse_xml(path)
        for question in root.iter("NLM-QUESTION"):
            data = as_dict(question)
            base = (
                {k: v for k, v in data.items() if k != "ReferenceAnswers"} if isinstance(data, dict) else {}
            )
            # Every element under <ReferenceAnswers> is an answer, whatever its tag (see above).
            answers = [a for a in question.iterfind("ReferenceAnswers/*") if isinstance(a.tag, str)]
            if not answers:  # quarantined by ``normalize`` as missing_field
                yield _native(f"{path}:{question.sourceline}", {**base, "ReferenceAnswers": None})
            for answer in answers:
                yield _native(
                    f"{path}:{answer.sourceline}", {**base, "ReferenceAnswers": {answer.tag: as_dict(answer)}}
                )


def normalize(native: Native) -> Item:
    record = native.record
    if not isinstance(record, dict):
        raise v.Rejected("wrong_type", f"record is {type(record).__name__}, expected an object")
    answers = record.get("ReferenceAnswers")
    if not answers:
        raise v.Rejected("missing_field", f"question {record.get('@qid')!r} has no reference answer")
    answer = next(iter(answers.values()))
    aid = v.text(answer, "@aid")
    paraphrase = v.text(record, "NIST-PARAPHRASE", required=False)
    if paraphrase:
        question = unwrap(paraphrase)
    else:
        original = record.get("Original-Question") or {}
        parts = [v.text(original, "SUBJECT", required=False), v.text(original, "MESSAGE", required=False)]
        if not any(parts):
            raise v.Rejected("empty_text", "no NIST-PARAPHRASE, SUBJECT or MESSAGE")
        question = unwrap("\n".join(p for p in parts if p))
    return Item(
        task="open_qa", question=question, answer_text=unwrap(v.text(answer, "ANSWER")), native_id=aid
    )


SPEC = SourceSpec(
    name="liveqa",
    description="TREC 2017 LiveQA medical consumer questions with their reference answers (test set)",
    licence="unclear: no licence upstream; cite Ben Abacha et al., TREC 2017 LiveQA medical task",
    licence_kind="unclear",
    licence_id="unknown",
    sample="liveqa*/**/*.xml",  # also matches the upstream layout, liveqa_medical_trec2017/TestDataset/
    read=read,
    normalize=normalize,
)

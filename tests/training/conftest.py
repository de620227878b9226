"""Fixtures for the training path: a small English/Arabic chat corpus and a tiny Mixtral built from it."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

# These tests need the `train` extra (torch, transformers, peft, trl); without it they are not collected on a
# developer's machine, and CI, which must run them, stops with the reason.
if importlib.util.find_spec("trl") is None:
    if os.environ.get("CI"):
        raise RuntimeError("the training tests need the `train` extra (trl is not installed): make test installs it")
    collect_ignore_glob = ["test_*.py"]

EN = [
    ("What is the first-line treatment for type 2 diabetes?",
     "Metformin, together with diet and exercise, is the usual first-line treatment."),
    ("What are the symptoms of iron deficiency anemia?",
     "Fatigue, pale skin, shortness of breath and brittle nails are common symptoms."),
    ("How is hypertension diagnosed?",
     "By repeated blood pressure readings of 130/80 mmHg or higher on separate visits."),
    ("Which vitamin deficiency causes scurvy?", "Scurvy is caused by a lack of vitamin C."),
    ("What does an ECG measure?", "An ECG records the electrical activity of the heart."),
]
AR = [
    ("ما هو العلاج الأول لمرض السكري من النوع الثاني؟",
     "الميتفورمين مع النظام الغذائي والرياضة هو العلاج الأول المعتاد."),
    ("ما هي أعراض فقر الدم الناتج عن نقص الحديد؟",
     "التعب وشحوب الجلد وضيق التنفس وهشاشة الأظافر من الأعراض الشائعة."),
    ("كيف يتم تشخيص ارتفاع ضغط الدم؟",
     "بقراءات متكررة لضغط الدم تبلغ 130/80 ملم زئبق أو أكثر في زيارات منفصلة."),
    ("أي نقص في الفيتامينات يسبب الإسقربوط؟", "يحدث الإسقربوط بسبب نقص فيتامين سي."),
    ("ماذا يقيس تخطيط القلب؟", "يسجل تخطيط القلب النشاط الكهربائي للقلب."),
]

# MCQA items in both languages, for the evaluator.
MCQA_ITEMS = [
    {"question": "Which vitamin deficiency causes scurvy?", "options": ["Vitamin A", "Vitamin C", "Vitamin D"],
     "answer": "B", "language": "en", "benchmark": "medqa"},
    {"question": "أي نقص في الفيتامينات يسبب الإسقربوط؟", "options": ["فيتامين أ", "فيتامين سي", "فيتامين د"],
     "answer": "B", "language": "ar", "benchmark": "medqa"},
    {"question": "Does an ECG record the heart's electrical activity?", "options": ["yes", "no", "maybe"],
     "answer": "A", "language": "en", "benchmark": "pubmedqa"},
    {"question": "ما هو العلاج الأول لمرض السكري من النوع الثاني؟", "options": ["الأنسولين", "الميتفورمين"],
     "answer": "B", "language": "ar", "benchmark": "mmlu_clinical_knowledge"},
]
for n, item in enumerate(MCQA_ITEMS):
    item.update(item_id=f"item-{n}", verified=True)  # as reviewed benchmark items are


def chats() -> list[list[dict]]:
    rows = []
    for q, a in EN + AR:
        rows.append([{"role": "user", "content": q}, {"role": "assistant", "content": a}])
    # A bilingual multi-turn chat with a system prompt, as in BiMed1.3M.
    rows.append([
        {"role": "system", "content": "You are a bilingual medical assistant."},
        {"role": "user", "content": EN[0][0]}, {"role": "assistant", "content": EN[0][1]},
        {"role": "user", "content": "أجب بالعربية من فضلك."}, {"role": "assistant", "content": AR[0][1]},
    ])
    return rows


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.parquet"
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    pq.write_table(pa.table({"messages": pa.array(chats(), type=pa.list_(message))}), path)
    return path


@pytest.fixture(scope="session")
def tiny_model(corpus, tmp_path_factory) -> Path:
    from training_jobs.tiny import build_tiny_model

    return build_tiny_model(corpus, tmp_path_factory.mktemp("tiny_mixtral"))


@pytest.fixture
def mcqa_items() -> list[dict]:
    return [dict(item) for item in MCQA_ITEMS]

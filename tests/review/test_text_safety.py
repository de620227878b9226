"""Invisible and bidi characters at every entrance: the module itself, source records, LLM answers."""

from __future__ import annotations

import pytest

from bimed_assets import text_safety
from bimed_assets.sources import validation
from bimed_assets.translation import documents

RLO, LRI, PDI, ZWSP, ZWJ, BOM = "\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff"


def test_removable_characters_are_found_named_and_stripped():
    cleaned = text_safety.clean(f"5.0{RLO} mg{ZWSP} {LRI}x{PDI}\U000e0041")
    assert cleaned.text == "5.0 mg x"
    assert set(cleaned.removed) == {RLO, ZWSP, LRI, PDI, "\U000e0041"}
    assert "U+202E RIGHT-TO-LEFT OVERRIDE ×1" in text_safety.summary(cleaned.removed)
    assert text_safety.clean("plain\ttext\n").removed == {}


def test_joiners_are_kept_but_shown():
    word = f"لا{ZWJ}م"
    assert text_safety.clean(word).text == word  # selects Arabic letter forms: meaningful
    assert [label for _, label in text_safety.segments(word)] == [None, "ZWJ", None]
    assert list(text_safety.segments(f"a{RLO}b")) == [("a", None), (RLO, "RLO"), ("b", None)]


def test_documents_are_stripped_field_by_field():
    doc, removed = text_safety.strip_document({"question": f"a{RLO}", "turns": [{"role": "doctor", "content": BOM}]})
    assert doc == {"question": "a", "turns": [{"role": "doctor", "content": ""}]}
    assert removed == {RLO: 1, BOM: 1}


def test_surrogates_are_detected():
    assert text_safety.has_surrogate("a\ud800") and not text_safety.has_surrogate("ok")


def test_source_records_refuse_bidi_controls_and_drop_other_invisible_characters():
    with pytest.raises(validation.Rejected) as refused:
        validation.check_text(f"Give 5.0{RLO} mg", "question")
    assert refused.value.reason == "invisible_characters" and "U+202E" in refused.value.detail
    assert validation.check_text(f"Give{ZWSP} 5 mg{BOM}", "question") == "Give 5 mg"
    with pytest.raises(validation.Rejected, match="empty_text"):
        validation.check_text(ZWSP, "question")


def test_llm_translations_with_invisible_characters_are_refused():
    validate = documents.answer_validator(0.3)
    validate("{\"answer\": \"الجرعة\"}", {"answer": "الجرعة 5.0 mg"})
    with pytest.raises(ValueError, match="U\\+202E"):
        validate("{\"answer\": \"الجرعة\"}", {"answer": f"الجرعة 5.0{RLO} mg"})

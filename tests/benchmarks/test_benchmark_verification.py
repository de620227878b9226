"""``mcqa_benchmarks`` from real review decisions: Arabic is verified only after an approval or an edit (the edited
text is used), rejected items are left out, undecided ones stay unverified; English originals are verified.

The translations are the bundled sample's (one item per benchmark), replayed from the shipped recordings; the
decisions go through the review service on a fresh SQLite store, and are read back as the Dagster asset
``reviewed_translations`` reads them.
"""

import asyncio
import copy
import json

import polars as pl
import pytest

from bimed_assets.benchmarks.frame import MCQA_SCHEMA, composition, mcqa_benchmarks, unverified_share
from bimed_assets.benchmarks.selection import BENCHMARKS, select
from bimed_assets.benchmarks.translations import review_records, samples, translation_frame
from bimed_assets.defs.resources import RECORDINGS
from bimed_assets.llm.client import LLMClient, LLMConfig
from bimed_assets.review import all_decisions, reviewed_translations
from bimed_assets.translation.pipeline import translate_all
from bimed_assets.translation.scoring import ScoringConfig

APPROVED, EDITED, REJECTED = "medqa", "mmlu_anatomy", "medmcqa"
EDIT = " (مراجَع)"


@pytest.fixture(scope="module")
def translations(evaluation):
    selected = select(evaluation, 1)

    async def replay():
        async with LLMClient(LLMConfig(replay_path=str(RECORDINGS))) as llm:
            return await translate_all(llm, samples(selected), ScoringConfig())

    return translation_frame(asyncio.run(replay()), {r["id"]: r for r in selected.iter_rows(named=True)})


def _id(frame: pl.DataFrame, benchmark: str) -> str:
    return frame.filter(pl.col("benchmark") == benchmark)["item_id"][0]


def _decide(service, reviewer, item_id, action, **kwargs):
    item = service.claim(item_id, reviewer.id)
    return service.decide(item_id, reviewer.id, item.version, action, **kwargs)


def _rows(frame: pl.DataFrame, language: str) -> dict[str, dict]:
    return {r["benchmark"]: r for r in frame.filter(pl.col("language") == language).iter_rows(named=True)}


def test_arabic_is_verified_only_by_an_approval_or_an_edit(translations, service):
    service.import_items(review_records(translations), actor="test")
    before = mcqa_benchmarks(translations, reviewed_translations(all_decisions(service)))
    assert before.schema == MCQA_SCHEMA
    assert len(_rows(before, "ar")) == len(BENCHMARKS) and not before.filter(pl.col("language") == "ar")[
        "verified"].any()
    assert unverified_share(before) == 1.0

    amal = service.create_reviewer("amal", "a long passphrase")
    _decide(service, amal, _id(translations, APPROVED), "approve")
    edited_id = _id(translations, EDITED)
    edited = copy.deepcopy(service.get_item(edited_id).best_translation)
    edited["question"] += EDIT
    _decide(service, amal, edited_id, "edit", translation=edited)
    _decide(service, amal, _id(translations, REJECTED), "reject", reason="option B is mistranslated")
    # A training item's decision in the same store is not a benchmark item's.
    service.import_items([{**review_records(translations)[0], "item_id": "medmcqa-training-1", "source": "medmcqa",
                           "task": "mcqa"}], actor="test")
    _decide(service, amal, "medmcqa-training-1", "approve")

    frame = mcqa_benchmarks(translations, reviewed_translations(all_decisions(service)))
    english, arabic = _rows(frame, "en"), _rows(frame, "ar")
    assert set(english) == set(BENCHMARKS) and all(r["verified"] for r in english.values())
    assert set(arabic) == set(BENCHMARKS) - {REJECTED}  # the rejected translation is left out
    assert {b for b, r in arabic.items() if r["verified"]} == {APPROVED, EDITED}
    assert "medmcqa-training-1" not in set(frame["item_id"])

    best = {r["benchmark"]: json.loads(r["best_translation"]) for r in translations.iter_rows(named=True)}
    assert arabic[APPROVED]["question"] == best[APPROVED]["question"]
    assert arabic[EDITED]["question"] == best[EDITED]["question"] + EDIT  # the reviewer's text
    for name, row in arabic.items():
        assert row["options"] == list(best[name]["options"].values())
        assert row["answer"] == english[name]["answer"] and row["item_id"] == english[name]["item_id"]
    assert unverified_share(frame) == pytest.approx(6 / 8)
    counts = {(r["benchmark"], r["language"]): (r["items"], r["verified"]) for r in composition(frame).iter_rows(
        named=True)}
    assert counts[(REJECTED, "en")] == (1, 1) and (REJECTED, "ar") not in counts
    assert counts[(EDITED, "ar")] == (1, 1) and counts[("pubmedqa", "ar")] == (1, 0)


def test_english_items_are_the_originals_with_their_answer(translations, evaluation):
    frame = mcqa_benchmarks(translations, reviewed_translations(iter(())))
    source = {r["id"]: r for r in evaluation.iter_rows(named=True)}
    for row in frame.filter(pl.col("language") == "en").iter_rows(named=True):
        record = source[row["item_id"]]
        assert row["options"] == [o["text"] for o in record["options"]]
        assert row["options"][ord(row["answer"]) - ord("A")] == record["answer_text"]
        if row["benchmark"] == "pubmedqa":  # the abstract, then the question
            assert row["question"] == f"{record['context']}\n\n{record['question']}"
            assert row["options"] == ["yes", "no", "maybe"]
        else:
            assert row["question"] == record["question"]
    arabic_pubmedqa = _rows(frame, "ar")["pubmedqa"]["question"]
    assert arabic_pubmedqa.startswith("الغرض:") and arabic_pubmedqa.endswith("هل له أهمية؟")


def test_an_untranslated_item_is_english_only(translations):
    failed = translations.with_columns(
        status=pl.when(pl.col("benchmark") == "medqa").then(pl.lit("failed")).otherwise("status"),
        best_translation=pl.when(pl.col("benchmark") == "medqa").then(None).otherwise("best_translation"))
    frame = mcqa_benchmarks(failed, reviewed_translations(iter(())))
    assert frame.filter(pl.col("benchmark") == "medqa")["language"].to_list() == ["en"]
    assert len(review_records(failed)) == len(BENCHMARKS) - 1


def test_a_decision_that_no_longer_fits_the_item_does_not_verify_it(translations):
    """An approval of a translation whose options no longer match the English item (the item changed after
    the decision) leaves the current translation in place, unverified."""
    item_id = _id(translations, "medqa")
    best = json.loads(translations.filter(pl.col("item_id") == item_id)["best_translation"][0])
    stale = {**best, "options": {k: v for k, v in best["options"].items() if k != "D"}}
    reviewed = pl.DataFrame([{"item_id": item_id, "translation": json.dumps(stale, ensure_ascii=False),
                              "reviewer": "amal", "reviewed_at": "2026-01-01T00:00:00", "decision": "approved"}])
    frame = mcqa_benchmarks(translations, reviewed)
    arabic = _rows(frame, "ar")["medqa"]
    assert not arabic["verified"] and arabic["options"] == list(best["options"].values())
    fitting = reviewed.with_columns(translation=pl.lit(json.dumps(best, ensure_ascii=False)))
    assert _rows(mcqa_benchmarks(translations, fitting), "ar")["medqa"]["verified"]

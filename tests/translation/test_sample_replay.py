"""The translation pipeline on the bundled sample, answered offline from the shipped LLM recordings.

The main job translates two samples per source of the training pool (14 items) and, with no endpoint
configured, replays ``bimed_assets/sample_data/llm_recordings/translation.jsonl`` (hand-written by the bimed team, see
``llm_recordings/README.md``). The recordings are designed to exercise every path of the loop: faithful first
translations accepted in round 1, flawed first passes fixed after feedback (caught by a fidelity check or by
the judge alone), and two items still below the threshold after round 3 for the human review queue. These
tests pin those outcomes, so a change to the checks, the scoring or the recordings that moves an item shows
up here.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest
from replay_helpers import CountingClient, recorded_keys

from bimed_assets.defs.resources import RECORDINGS
from bimed_assets.llm.client import LLMClient, LLMConfig
from bimed_assets.llm.errors import LLMError
from bimed_assets.sources import SOURCES, load_files
from bimed_assets.sources.pools import training_pool
from bimed_assets.translation import check_item, prompts
from bimed_assets.translation.documents import document
from bimed_assets.translation.pipeline import ItemResult, translate_all, translate_item
from bimed_assets.translation.scoring import ScoringConfig
from bimed_assets.translation.selection import select

# What the main job selects on the bundled sample (bimed_assets.definitions: per_source_limit=2).
SHARE, PER_SOURCE = 0.34, 2

# Per item, what decided each round: "pass" (accepted), "judge" (fidelity passed, combined score below the
# threshold), or the failed fidelity checks joined with "+" (the scorers are then skipped).
EXPECTED = {
    "chatdoctor-3ccbdb61eb9b86ed": ["pass"],
    "chatdoctor-5195e3ac38dad51a": ["pass"],
    # The adverse-reaction lists left in English, round after round.
    "liveqa-TQ39A1": ["script+untranslated", "untranslated", "untranslated"],  # round 1 is under half Arabic
    "liveqa-TQ40A2": ["pass"],
    "medical_meadow-24b1b5aa332ce7f4": ["judge", "judge", "judge"],  # "malignant hyperthermia" mistranslated
    "medical_meadow-0c1befbc945b1b43": ["pass"],
    "medicationqa-aa7ed71c9fcc74dc": ["sentences", "pass"],  # the last sentence dropped
    "medicationqa-c765212d339163aa": ["numbers", "pass"],  # "65 years or older" became 50
    "medmcqa-2aa4b695-0e63-5126-9df5-616dcf964203": ["judge", "judge", "pass"],  # B/C swapped, eponym literal
    "medmcqa-dd05c8fc-3246-5b87-9492-2f1521f30d09": ["pass"],
    "mmlu_medical-bc474cf4a8a3dbc0": ["script+untranslated", "pass"],  # option D left in English
    "mmlu_medical-3c9840bfd8dbbdf3": ["pass"],
    "pubmedqa-25432938": ["pass"],
    "pubmedqa-23791827": ["pass"],
}
ACCEPTED_IN_ROUND_1 = sorted(i for i, rounds in EXPECTED.items() if rounds == ["pass"])
RETRANSLATED = {i: len(r) for i, r in EXPECTED.items() if r[-1] == "pass" and len(r) > 1}
IN_REVIEW = sorted(i for i, rounds in EXPECTED.items() if rounds[-1] != "pass")


@dataclass
class Run:
    results: dict[str, ItemResult]
    asked: list[str]
    usage: dict


def _replay(samples, config: ScoringConfig) -> Run:
    async def go() -> Run:
        async with CountingClient(LLMConfig(replay_path=str(RECORDINGS))) as llm:
            results = await translate_all(llm, samples, config)
            return Run({r.item_id: r for r in results}, llm.asked, llm.meter.snapshot())

    return asyncio.run(go())


@pytest.fixture(scope="module")
def samples() -> list[dict]:
    pool = training_pool([load_files(source).records for source in SOURCES.values()])
    return list(select(pool, SHARE, PER_SOURCE).iter_rows(named=True))


@pytest.fixture(scope="module")
def run(samples) -> Run:
    return _replay(samples, ScoringConfig())


def _decided_by(attempt) -> str:
    if attempt.passed:
        return "pass"
    if attempt.fidelity:
        return "+".join(sorted({failure.split(":")[0] for failure in attempt.fidelity}))
    return "judge"


def test_the_sample_selection_is_the_recorded_one(samples):
    assert sorted(s["id"] for s in samples) == sorted(EXPECTED)
    assert {s["source"] for s in samples} == {i.split("-")[0] for i in EXPECTED}


def test_every_item_ends_as_intended(run):
    assert {i: r.status for i, r in run.results.items() if r.status == "failed"} == {}
    assert sorted(i for i, r in run.results.items() if r.status == "accepted" and len(r.attempts) == 1) == (
        ACCEPTED_IN_ROUND_1
    )
    assert {
        i: len(r.attempts) for i, r in run.results.items() if r.status == "accepted" and len(r.attempts) > 1
    } == RETRANSLATED
    assert sorted(i for i, r in run.results.items() if r.status == "review") == IN_REVIEW
    assert len(ACCEPTED_IN_ROUND_1) == 8 and len(RETRANSLATED) == 4 and len(IN_REVIEW) == 2


def test_each_round_fails_or_passes_for_the_intended_reason(run):
    assert {i: [_decided_by(a) for a in r.attempts] for i, r in run.results.items()} == EXPECTED
    # Flaws caught by the judge alone carry its errors and a score below the threshold; the review items
    # stayed below it in every round.
    for item, result in run.results.items():
        for attempt in result.attempts:
            if _decided_by(attempt) == "judge":
                assert attempt.judge_errors and attempt.score < 80, (item, attempt.round)
            if attempt.passed:
                assert attempt.score >= 80 and attempt.judge_score >= 88 and attempt.chrf >= 60, item


def test_re_translations_answer_the_feedback(run):
    # The round that follows a failed one differs from it: the translator acted on the feedback.
    for item, result in run.results.items():
        translations = [json.dumps(a.translation, ensure_ascii=False) for a in result.attempts]
        assert len(set(translations)) == len(translations), item


def test_every_accepted_translation_passes_the_fidelity_checks(run):
    for item, result in run.results.items():
        if result.status == "accepted":
            assert check_item(result.document, result.final.translation) == [], item


def test_round_1_acceptance_costs_three_requests(run):
    for item in ACCEPTED_IN_ROUND_1:
        asked = [key for key in run.asked if key.split("/")[1] == item]
        assert asked == [f"translate/{item}/round1", f"judge/{item}/round1", f"back_translate/{item}/round1"]


def test_the_recordings_answer_exactly_the_requests_made_offline(run):
    assert len(run.asked) == len(set(run.asked))
    assert set(run.asked) == set(recorded_keys(RECORDINGS / "translation.jsonl"))  # nothing missing, nothing stale
    total = run.usage["total"]
    assert (total["calls"], total["replayed"], total["requests_failed"]) == (0, len(run.asked), 0)


def test_a_request_without_a_recording_fails_naming_the_item(samples):
    # One more round than recorded: the review items ask for a fourth translation that nobody recorded.
    results = _replay(samples, ScoringConfig(max_rounds=4)).results
    failed = {i: r for i, r in results.items() if r.status == "failed"}
    assert sorted(failed) == IN_REVIEW
    for item, result in failed.items():
        assert result.error.reason == "replay_missing"
        assert item in str(result.error) and f"translate/{item}/round4" in str(result.error)
        assert len(result.attempts) == 3  # the recorded rounds are kept with the failure

    async def unrecorded() -> ItemResult:
        async with LLMClient(LLMConfig(replay_path=str(RECORDINGS))) as llm:
            doc = document(samples[0])
            with pytest.raises(LLMError) as raised:
                await llm.complete(prompts.translate("medqa-not-recorded", doc, 1))
            assert raised.value.reason == "replay_missing"
            assert "medqa-not-recorded" in str(raised.value)
            return await translate_item(llm, "medqa-not-recorded", doc, ScoringConfig())

    result = asyncio.run(unrecorded())
    assert (result.status, result.error.reason, result.attempts) == ("failed", "replay_missing", [])
    assert "'medqa-not-recorded'" in str(result.error)

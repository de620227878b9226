"""Chat synthesis on the bundled sample, answered offline from the shipped recordings, through translation and
into the corpus.

The main job makes chats from four MMLU vignettes (``per_source_limit=4``) and replays
``llm_recordings/chats.jsonl`` (hand-written, see ``llm_recordings/README.md``): one chat valid at once, two
rewritten after a failed validation, one quarantined after three attempts. The translation step then
translates the one chat its share selects (``chat_translations.jsonl``). These tests pin those outcomes.
"""

from __future__ import annotations

import asyncio
import json

import polars as pl
import pytest

from bimed_assets.chats.selection import select_items
from bimed_assets.chats.synthesis import SynthesisConfig, synthesize_all
from bimed_assets.chats.tables import tables
from bimed_assets.corpus.assemble import assemble
from bimed_assets.corpus.checks import run_checks
from bimed_assets.defs.resources import RECORDINGS
from bimed_assets.llm.client import LLMClient, LLMConfig
from bimed_assets.sources import SOURCES, load_files
from bimed_assets.sources.pools import evaluation_sets
from bimed_assets.translation.parallel import translate_parallel
from bimed_assets.translation.scoring import ScoringConfig
from bimed_assets.translation.selection import select
from bimed_assets.translation.tables import tables as translation_tables

PER_SOURCE, SHARE, TRANSLATE_PER_SOURCE, TRANSLATE_SHARE = 4, 0.5, 2, 0.34  # as bimed_assets.definitions
# Per item, the rules each attempt broke ([] = valid).
EXPECTED = {
    "mmlu_medical-3c9840bfd8dbbdf3": [["answer_leak"], []],  # "so the answer is A: incision and drainage"
    "mmlu_medical-231ef2032baf91b4": [["gold_missing", "other_option"], []],  # concluded glucose 6-phosphate
    "mmlu_medical-f4a4409670d1f68c": [[]],
    # Organ donation: concludes option D, then copies the case, then defers to when the family is ready.
    "mmlu_medical-abd539edb64ba5a3": [["gold_missing", "other_option"], ["copied_vignette"], ["gold_missing"]],
}
TRANSLATED_CHAT = "chat-mmlu_medical-231ef2032baf91b4"


def _keys(name: str) -> set[str]:
    lines = (RECORDINGS / name).read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["key"] for line in lines if line.strip()}


class Asking(LLMClient):
    def __init__(self, config):
        super().__init__(config)
        self.asked = []

    async def complete(self, request):
        self.asked.append(request.replay_key)
        return await super().complete(request)


@pytest.fixture(scope="module")
def run(pool):
    items = select_items(pool, SHARE, PER_SOURCE)

    async def go():
        async with Asking(LLMConfig(replay_path=str(RECORDINGS))) as llm:
            return await synthesize_all(llm, items.to_dicts(), SynthesisConfig()), llm

    results, llm = asyncio.run(go())
    return items, results, llm


def test_the_selection_is_the_recorded_one(run):
    items, _, _ = run
    assert sorted(items["id"]) == sorted(EXPECTED)
    assert items["question"].str.contains(r"\d+-(?:year|day)-old").all()


def test_each_attempt_fails_or_passes_for_the_intended_reason(run):
    _, results, _ = run
    assert {r.item_id: [sorted({p.rule for p in a.problems}) for a in r.attempts] for r in results} == EXPECTED
    assert {r.item_id: r.status for r in results} == {
        **dict.fromkeys(list(EXPECTED)[:3], "valid"), "mmlu_medical-abd539edb64ba5a3": "invalid"}


def test_the_recordings_answer_exactly_the_requests_made(run):
    _, _, llm = run
    assert sorted(llm.asked) == sorted(_keys("chats.jsonl"))
    total = llm.meter.snapshot()["total"]
    assert (total["calls"], total["replayed"], total["requests_failed"]) == (0, 8, 0)
    assert total["prompt_tokens"] > 0 and total["usd"] == 0


@pytest.fixture(scope="module")
def translated(run, pool):
    items, results, _ = run
    chats = tables(results, {r["id"]: r for r in items.iter_rows(named=True)})["synthesized_chats"]
    selected = select(chats, TRANSLATE_SHARE, TRANSLATE_PER_SOURCE)
    config = LLMConfig(replay_path=str(RECORDINGS))
    outcomes, usage = translate_parallel(config, selected.to_dicts(), ScoringConfig())
    frames = translation_tables(outcomes, {r["id"]: r for r in selected.iter_rows(named=True)})
    return chats, selected, frames, usage


def test_the_selected_chat_is_translated_in_round_one(translated):
    _, selected, frames, usage = translated
    assert selected["id"].to_list() == [TRANSLATED_CHAT]
    accepted = frames["accepted_translations"].row(0, named=True)
    assert (accepted["item_id"], accepted["task"], accepted["round"]) == (TRANSLATED_CHAT, "chat", 1)
    assert accepted["score"] >= 80
    turns = json.loads(accepted["translation"])["turns"]
    assert [t["role"] for t in turns] == ["patient", "doctor"] * 4
    assert "غالاكتوز-1-فوسفات" in turns[-1]["content"]
    assert usage["total"]["replayed"] == len(_keys("chat_translations.jsonl")) == 3


def test_chats_enter_the_corpus_in_english_and_arabic(translated, pool):
    chats, _, frames, _ = translated
    records = [load_files(source).records for source in SOURCES.values()]
    evals = evaluation_sets(records)
    built = assemble(pool, evals, frames["accepted_translations"], chats=chats)
    chat_records = built.corpus.filter(pl.col("task") == "chat")
    assert set(chat_records["language"]) == {"en", "ar"}
    arabic = chat_records.filter(pl.col("language") == "ar").row(0, named=True)
    assert arabic["id"] == f"{TRANSLATED_CHAT}#ar" and arabic["provenance"]["translation_round"] == 1
    assert arabic["provenance"]["origin"] == "mmlu_medical-231ef2032baf91b4"
    # The whole multi-turn chat, as user/assistant turns after the system prompt.
    assert [m["role"] for m in arabic["messages"]] == ["system"] + ["user", "assistant"] * 4
    # Within the chats the mix keeps two English records per Arabic one, and every blocking check passes.
    assert len(chat_records.filter(pl.col("language") == "en")) == 2
    assert all(result.passed for result in run_checks(built.corpus, evals) if result.blocking)


def test_a_chat_goes_with_its_item_when_the_item_is_an_evaluation_question(translated, pool):
    chats, _, frames, _ = translated
    origin = "mmlu_medical-231ef2032baf91b4"
    records = [load_files(source).records for source in SOURCES.values()]
    # The chat's MCQA item also sits in an evaluation split (MMLU repeats items across subjects and splits).
    leaked = pool.filter(pl.col("id") == origin).with_columns(id=pl.lit("mmlu_medical-eval-copy"),
                                                            split=pl.lit("test"), is_eval=pl.lit(True))
    built = assemble(pool, pl.concat([evaluation_sets(records), leaked]), frames["accepted_translations"],
                     chats=chats)
    removed = dict(zip(built.removed["item_id"] + "/" + built.removed["language"], built.removed["reason"]))
    assert removed[f"{origin}/en"] == removed[f"{TRANSLATED_CHAT}/en"] == "contamination_exact"
    assert removed[f"{TRANSLATED_CHAT}/ar"] == "contamination_exact"  # its translation goes too
    kept = built.corpus["provenance"].struct.field("item_id")
    assert origin not in kept and TRANSLATED_CHAT not in kept

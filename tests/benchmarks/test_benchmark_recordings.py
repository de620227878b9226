"""The shipped benchmark recordings answer exactly what the pipeline asks on the bundled sample.

``bimed_assets/sample_data/llm_recordings/benchmarks.jsonl`` holds the answers for the main job's benchmark
selection (one item per benchmark, ``per_benchmark_limit=1`` in ``bimed_assets.definitions``). The keys are
checked against the requests the real client makes in replay mode, so a change to the selection or the prompts
that would leave a request unanswered (or a recording unused) shows up here.
"""

import asyncio

import pytest
from replay_helpers import CountingClient, recorded_keys

from bimed_assets.benchmarks.selection import BENCHMARKS, select
from bimed_assets.benchmarks.translations import samples
from bimed_assets.defs.resources import RECORDINGS
from bimed_assets.llm.client import LLMConfig
from bimed_assets.settings import SAMPLE_CAPS
from bimed_assets.translation.pipeline import translate_all
from bimed_assets.translation.scoring import ScoringConfig

FILE = RECORDINGS / "benchmarks.jsonl"


@pytest.fixture(scope="module")
def replayed(evaluation):
    limit = SAMPLE_CAPS["benchmark_translation"]["per_benchmark_limit"]
    selected = select(evaluation, limit)

    async def go():
        async with CountingClient(LLMConfig(replay_path=str(RECORDINGS))) as llm:
            return await translate_all(llm, samples(selected), ScoringConfig()), llm.asked

    return selected, *asyncio.run(go())


def test_every_request_has_its_recording_and_every_recording_is_asked(replayed):
    selected, _, asked = replayed
    assert selected["benchmark"].to_list() == list(BENCHMARKS)  # one item of each benchmark
    recorded = recorded_keys(FILE)
    assert len(recorded) == len(set(recorded)) == 3 * len(BENCHMARKS)
    assert sorted(asked) == sorted(recorded)
    assert not set(recorded) & set(recorded_keys(RECORDINGS / "translation.jsonl"))  # distinct from training items


def test_the_recorded_translations_are_accepted_in_round_one(replayed):
    _, results, _ = replayed
    for result in results:
        assert result.status == "accepted" and len(result.attempts) == 1, result.item_id
        attempt = result.final
        assert not attempt.fidelity and attempt.score >= 85 and attempt.chrf >= 70, result.item_id

"""The bundled sample as the corpus tests build on it."""

from __future__ import annotations

import pytest

from bimed_assets.defs.resources import RECORDINGS
from bimed_assets.llm.client import LLMConfig
from bimed_assets.sources import SOURCES, load_files, pools
from bimed_assets.translation.parallel import translate_parallel
from bimed_assets.translation.scoring import ScoringConfig
from bimed_assets.translation.selection import select
from bimed_assets.translation.tables import tables


@pytest.fixture(scope="session")
def sample():
    """The bundled sample as the main job builds it: pools from the loaders, translations replayed offline."""
    records = [load_files(spec).records for spec in SOURCES.values()]
    pool = pools.training_pool(records)
    selected = select(pool, 0.34, 2)
    results, _ = translate_parallel(LLMConfig(replay_path=str(RECORDINGS)), selected.to_dicts(), ScoringConfig())
    accepted = tables(results, {r["id"]: r for r in selected.iter_rows(named=True)})["accepted_translations"]
    return {"training_pool": pool, "evaluation_sets": pools.evaluation_sets(records), "accepted_translations": accepted}

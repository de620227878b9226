"""The three LLM stages on a subset of the real source files, twice, against the test server over real HTTP (the
pipeline's responder, as bench/real_data_build.py uses): the unchanged rebuild makes no call and walks no item that
finished (an item the LLM could not answer is walked again, from its cached failed answers: still no call)."""

from __future__ import annotations

import dagster as dg
import polars as pl

from bimed_assets.chats.responder import ChatResponder
from bimed_assets.defs.benchmarks.assets import benchmark_translation
from bimed_assets.defs.chats.assets import chat_synthesis
from bimed_assets.defs.resources import LLMResource
from bimed_assets.defs.translation.assets import translation
from bimed_assets.llm.test_server import OpenAITestServer, ServerConfig
from bimed_assets.settings import SourceFiles
from bimed_assets.sources import SOURCES, load_files, pools

# A few items per source and benchmark: every source's shapes, in a test's time.
CAPS = {"ops": {"chat_synthesis": {"config": {"per_source_limit": 4, "share": 1.0}},
                "translation": {"config": {"per_source_limit": 6}},
                "benchmark_translation": {"config": {"per_benchmark_limit": 2}}}}
LLM_OUTPUTS = {"synthesized_chats": "selected_items", "translation_attempts": "selected_items",
               "benchmark_translation": "selected_items"}


def test_an_unchanged_rebuild_of_real_files_makes_no_call(real_data, tmp_path):
    files = SourceFiles(root=str(real_data))
    frames = [load_files(spec, where).records for spec in SOURCES.values()
              if (where := files.location(spec)[0]) is not None]

    @dg.asset(name="training_pool")
    def given_training_pool() -> pl.DataFrame:
        return pools.training_pool(frames)

    @dg.asset(name="evaluation_sets")
    def given_evaluation_sets() -> pl.DataFrame:
        return pools.evaluation_sets(frames)

    def build() -> dict[str, dict]:
        result = dg.materialize(
            [given_training_pool, given_evaluation_sets, chat_synthesis, translation, benchmark_translation],
            resources={"llm": llm}, run_config=CAPS, instance=instance)
        assert result.success
        return {e.asset_key.to_user_string(): {k: v.value for k, v in
                                               e.event_specific_data.materialization.metadata.items()}
                for e in result.get_asset_materialization_events()}

    with OpenAITestServer(ServerConfig(responder=ChatResponder())) as server:
        llm = LLMResource(base_url=server.url, api_key="sk-test", cache_path=str(tmp_path / "llm.sqlite"))
        instance = dg.DagsterInstance.ephemeral()
        first = build()
        paid = server.stats().received.total()
        assert paid > 0 and all(first[name][selected] > 0 for name, selected in LLM_OUTPUTS.items())

        second = build()
        assert server.stats().received.total() == paid
        for name in LLM_OUTPUTS:
            assert second[name]["llm_http_calls"] == 0, name
            assert second[name]["items_reused"] + second[name]["items_walked"] == second[name]["selected_items"]
            assert second[name]["dagster/row_count"] == first[name]["dagster/row_count"], name
        finished = first["accepted_translations"]["dagster/row_count"] + first["translation_review_queue"][
            "dagster/row_count"]
        assert second["translation_attempts"]["items_reused"] == finished

"""The chat synthesis asset in Dagster over real HTTP: an unchanged rebuild walks no item and keeps its data
version; a changed vignette is walked again and the data version follows the output. The code version is the
stage's."""

from __future__ import annotations

import dagster as dg
import polars as pl

from bimed_assets.chats.responder import ChatResponder
from bimed_assets.chats.selection import select_items
from bimed_assets.defs.chats.assets import CODE_VERSION, chat_synthesis
from bimed_assets.defs.resources import LLMResource

EVERY_VIGNETTE = {"ops": {"chat_synthesis": {"config": {"share": 1.0}}}}


def build(instance, llm, pool: pl.DataFrame) -> dict:
    """Materializes chat_synthesis on ``pool``; the synthesized_chats materialization's metadata and tags."""
    @dg.asset(name="training_pool")
    def training_pool() -> pl.DataFrame:
        return pool

    result = dg.materialize([training_pool, chat_synthesis], instance=instance, resources={"llm": llm},
                            run_config=EVERY_VIGNETTE)
    assert result.success
    materialization = next(e.event_specific_data.materialization for e in result.get_asset_materialization_events()
                           if e.asset_key == dg.AssetKey("synthesized_chats"))
    return {**{k: v.value for k, v in materialization.metadata.items()}, **materialization.tags}


def test_an_unchanged_rebuild_keeps_its_data_version_and_a_change_moves_it(pool, start_server, tmp_path):
    server = start_server(responder=ChatResponder(leaky=0.5))
    llm = LLMResource(base_url=server.url, api_key="sk-test", cache_path=str(tmp_path / "llm.sqlite"))
    instance = dg.DagsterInstance.ephemeral()
    vignettes = select_items(pool, 1.0, None)["id"].to_list()
    first = build(instance, llm, pool)
    paid = server.stats().received.total()
    assert first["items_walked"] == first["selected_items"] == len(vignettes) > 1 and paid > 0
    assert first["dagster/code_version"] == CODE_VERSION

    unchanged = build(instance, llm, pool)
    assert server.stats().received.total() == paid  # not one request
    assert (unchanged["items_walked"], unchanged["items_reused"]) == (0, len(vignettes))
    assert unchanged["dagster/data_version"] == first["dagster/data_version"]

    # At the start of the case, which the test server's chat opens with: the chat changes too.
    edited = pool.with_columns(pl.when(pl.col("id") == vignettes[0])
                               .then("At the clinic today: " + pl.col("question"))
                               .otherwise(pl.col("question")).alias("question"))
    changed = build(instance, llm, edited)
    assert (changed["items_walked"], changed["items_reused"]) == (1, len(vignettes) - 1)
    assert server.stats().received.total() > paid
    assert changed["dagster/data_version"] != first["dagster/data_version"]

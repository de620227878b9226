"""Doctor–patient chats synthesized from the MCQA vignettes of the training pool, validated, with a quarantine."""

import dagster as dg
import polars as pl
from pydantic import Field

from bimed_assets.chats.selection import CHAT_SOURCES, VIGNETTE, select_items
from bimed_assets.chats.synthesis import SynthesisConfig, synthesize_changed
from bimed_assets.chats.tables import tables
from bimed_assets.chats.validation import ChatRules
from bimed_assets.defs import metadata
from bimed_assets.defs.partitions import this_shard
from bimed_assets.defs.resources import LLM_POOL, LLMResource
from bimed_assets.llm.incremental import code_version

GROUP = "chats"
OUTPUTS = {
    "synthesized_chats": "Multi-turn patient/doctor chats (task `chat`, canonical records with `turns`), each "
    "made from one MCQA vignette and validated; `origin` is the item's id.",
    "synthesized_chats_quarantine": "Items whose chat still failed validation after the last attempt (or the LLM "
    "could not answer), with the reason and every attempt.",
}
# The code that decides both tables: the loop (prompts, validation), the selection and the tables. Items are walked
# only when new or changed (``bimed_assets.llm.incremental``), so an unchanged rebuild makes no call.
CODE_VERSION = code_version("bimed_assets.chats.synthesis", "bimed_assets.chats.selection", "bimed_assets.chats.tables")


class ChatSynthesisConfig(dg.Config):
    share: float = Field(default=0.5, description="Share of the eligible MCQA vignettes to make a chat from "
                         "(a stable hash of the item id decides).")
    per_source_limit: int | None = Field(default=None, description="At most this many items per source.")
    sources: list[str] = Field(default_factory=lambda: list(CHAT_SOURCES), description="MCQA sources to use.")
    vignette_pattern: str = Field(default=VIGNETTE, description="Regex an item's question must match: a case "
                                  "with a patient, not a fact question.")
    min_turns: int = Field(default=ChatRules.min_turns, description="Fewest turns (patient and doctor together) a chat may have.")
    copy_ngram: int = Field(default=ChatRules.copy_ngram, description="A run of this many words shared with the vignette "
                            "counts as copied.")
    max_attempts: int = Field(default=SynthesisConfig.max_attempts, description="Chats written per item (the first, then rewrites with "
                              "the validation problems as feedback) before the item is quarantined.")


@dg.multi_asset(
    name="chat_synthesis",
    group_name=GROUP,
    pool=LLM_POOL,
    ins={"training_pool": dg.AssetIn()},
    outs={name: dg.AssetOut(description=text, kinds={"polars", "parquet"}, code_version=CODE_VERSION)
          for name, text in OUTPUTS.items()},
)
def chat_synthesis(context: dg.AssetExecutionContext, config: ChatSynthesisConfig, llm: LLMResource,
                   training_pool: pl.DataFrame):
    # Drawn from the whole pool, then cut to this run's shard: each shard holds what an unpartitioned run would.
    items = this_shard(context, select_items(training_pool, config.share, config.per_source_limit, config.sources,
                                             config.vignette_pattern))
    synthesis = SynthesisConfig(ChatRules(config.min_turns, config.copy_ngram), config.max_attempts)
    rows = items.to_dicts()
    results, usage = synthesize_changed(llm.llm_config(context.run.run_id), rows, synthesis)
    frames = tables(results, {row["id"]: row for row in rows})
    chats, quarantine = frames["synthesized_chats"], frames["synthesized_chats_quarantine"]
    context.log.info(f"{len(chats)} chats from {len(items)} items, {len(quarantine)} quarantined")
    yield dg.Output(chats, "synthesized_chats", data_version=metadata.data_version(chats), metadata={
        "dagster/row_count": len(chats),
        "selected_items": len(items),
        **metadata.incremental_walk(results),
        "chats_produced": len(chats),
        "regenerated": int((chats["attempts"] > 1).sum()),
        "quarantined": len(quarantine),
        "chats_by_attempts": metadata.table(chats.group_by("attempts").len("chats").sort("attempts")),
        **metadata.llm_usage(usage),
    })
    yield dg.Output(quarantine, "synthesized_chats_quarantine", data_version=metadata.data_version(quarantine),
                    metadata={
        "dagster/row_count": len(quarantine),
        "quarantined_by_reason": metadata.table(quarantine.group_by("reason").len("items").sort("reason")),
    })

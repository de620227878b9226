"""English → Arabic translation of the training pool, scored against a threshold, with a review queue."""

import dagster as dg
import polars as pl
from pydantic import Field

from bimed_assets.defs import metadata
from bimed_assets.defs.partitions import this_shard
from bimed_assets.defs.resources import LLM_POOL, LLMResource
from bimed_assets.llm.incremental import code_version
from bimed_assets.translation.parallel import merge_usage, translate_parallel
from bimed_assets.translation.scoring import ScoringConfig
from bimed_assets.translation.selection import select
from bimed_assets.translation.tables import tables

GROUP = "translation"
OUTPUTS = {
    "translation_attempts": "Every translation attempt of every item: round, Arabic text, scores, failed checks.",
    "accepted_translations": "Items whose translation reached the threshold, with the round that did.",
    "translation_review_queue": "Items still below the threshold after the last round, with every attempt, "
    "score and reason: the input of the human review queue.",
    "translation_failures": "Items the LLM could not answer (after retries), with the reason; retried next run.",
}
# The code that decides the four tables: the loop (prompts, checks, scoring), the selection and the tables. Items
# are walked only when new or changed (``bimed_assets.llm.incremental``), so an unchanged rebuild makes no call.
CODE_VERSION = code_version("bimed_assets.translation.pipeline", "bimed_assets.translation.selection",
                            "bimed_assets.translation.tables")


class TranslationConfig(dg.Config):
    share: float = Field(default=0.34, description="Share of each source's training samples to translate "
                         "(a stable hash of the id decides; BiMed1.3M's Arabic:English mix is about 1:2).")
    per_source_limit: int | None = Field(default=None, description="At most this many samples per source.")
    threshold: float = Field(default=80.0, description="Combined 0-100 score an attempt needs to be accepted.")
    max_rounds: int = Field(default=3, description="Translations per item before it goes to human review.")
    back_translation: bool = Field(default=True, description="Score an AR→EN back-translation with chrF.")
    judge_weight: float = Field(default=0.7, description="Weight of the LLM judge in the combined score.")
    chrf_weight: float = Field(default=0.3, description="Weight of the back-translation chrF.")
    review_retry_seed: int | None = Field(default=None, description="Translate the items that end in review "
                                          "once more with this seed: new requests (the cached ones stay), a "
                                          "fresh chance for each; the retry's result replaces the item's.")
    chunk_size: int = Field(default=50_000, description="Items per chunk: progress is logged chunk by chunk.")
    processes: int | None = Field(default=None, ge=1, description="Processes in all: this one makes the LLM calls, the "
                                  "others run the fidelity checks and chrF (from 250 items). Unset: the machine's "
                                  "cores shared by the LLM steps that run at once (the llm resource's pool_steps).")


def _retry_review(llm_config, rows, results, scoring, processes, seed):
    """``results`` with the items in review translated again under ``seed``."""
    in_review = [index for index, result in enumerate(results) if result.status == "review"]
    retried, usage = translate_parallel(llm_config, [rows[index] for index in in_review], scoring, processes, seed)
    results = list(results)
    for index, result in zip(in_review, retried, strict=True):
        results[index] = result
    return results, usage


@dg.multi_asset(
    name="translation",
    group_name=GROUP,
    pool=LLM_POOL,
    ins={"training_pool": dg.AssetIn(), "synthesized_chats": dg.AssetIn()},
    outs={name: dg.AssetOut(description=text, kinds={"polars", "parquet"}, code_version=CODE_VERSION)
          for name, text in OUTPUTS.items()},
    check_specs=[dg.AssetCheckSpec(
        "every_item_accounted_for", asset="translation_attempts", blocking=True,
        description="Every selected item is accepted, in review, or failed with a reason: none is lost.")],
)
def translation(context: dg.AssetExecutionContext, config: TranslationConfig, llm: LLMResource,
                training_pool: pl.DataFrame, synthesized_chats: pl.DataFrame):
    # Chats are drawn on their own, so that adding them leaves the pool's selection (and its paid work) as it is.
    # Partitioned, the pool is drawn whole and cut to this run's shard (as an unpartitioned run would draw it);
    # the chats are those of the chat shard with the same key, so there a per-source limit caps each shard.
    selected = pl.concat([this_shard(context, select(training_pool, config.share, config.per_source_limit)),
                          select(synthesized_chats, config.share, config.per_source_limit)], how="diagonal")
    scoring = ScoringConfig(config.threshold, config.max_rounds, config.back_translation,
                            config.judge_weight, config.chrf_weight)

    processes = llm.step_processes(config.processes)
    results, usages, by_id = [], [], {}
    for chunk in list(selected.iter_slices(config.chunk_size)) or [selected]:
        rows = chunk.to_dicts()  # once: the walk, a retry and the tables read the same rows
        chunk_results, chunk_usage = translate_parallel(llm.llm_config(context.run.run_id), rows, scoring, processes)
        if config.review_retry_seed is not None:
            chunk_results, retry_usage = _retry_review(llm.llm_config(context.run.run_id), rows, chunk_results,
                                                       scoring, processes, config.review_retry_seed)
            usages.append(retry_usage)
        results += chunk_results
        usages.append(chunk_usage)
        by_id.update((row["id"], row) for row in rows)
        context.log.info(f"translated {len(results)}/{len(selected)} items")
    usage = merge_usage(usages)
    frames = tables(results, by_id)
    attempts, accepted = frames["translation_attempts"], frames["accepted_translations"]
    review, failures = frames["translation_review_queue"], frames["translation_failures"]
    yield dg.Output(attempts, "translation_attempts", data_version=metadata.data_version(attempts), metadata={
        "dagster/row_count": len(attempts),
        "selected_items": len(selected),
        **metadata.incremental_walk(results),
        **metadata.llm_usage(usage),
        "score_histogram": metadata.histogram(
            attempts["score"].drop_nulls().to_list(), title="Combined score per attempt", xlabel="score",
            marker=config.threshold),
    })
    yield dg.Output(accepted, "accepted_translations", data_version=metadata.data_version(accepted), metadata={
        "dagster/row_count": len(accepted),
        "accepted_by_round": metadata.table(accepted.group_by("round").len("items").sort("round")),
        "accepted_by_source": metadata.table(accepted.group_by("source").len("items").sort("source")),
    })
    yield dg.Output(review, "translation_review_queue", data_version=metadata.data_version(review), metadata={
        "dagster/row_count": len(review),
        # Of the items selected (in this partition, when sharded): the share people will have to review.
        "review_share": dg.FloatMetadataValue(len(review) / len(selected) if len(selected) else 0.0),
    })
    yield dg.Output(failures, "translation_failures", data_version=metadata.data_version(failures), metadata={
        "dagster/row_count": len(failures),
        "failures_by_reason": metadata.table(failures.group_by("reason").len("items").sort("reason")),
    })
    accounted = len(accepted) + len(review) + len(failures)
    yield dg.AssetCheckResult(
        asset_key="translation_attempts", check_name="every_item_accounted_for",
        passed=accounted == len(selected) and accepted["item_id"].n_unique() == len(accepted),
        metadata={"selected": len(selected), "accepted": len(accepted), "in_review": len(review),
                  "failed": len(failures)},
    )

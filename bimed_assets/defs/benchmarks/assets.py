"""Arabic and bilingual MCQA benchmarks: the evaluation splits through the translation loop, every Arabic item
into the human review queue (100% review, unlike training data), and the evaluation input with its verification."""

import dagster as dg
import polars as pl
from pydantic import Field

from bimed_assets.benchmarks import frame as benchmark_frame
from bimed_assets.benchmarks.selection import select
from bimed_assets.benchmarks.translations import REVIEW_TASK, review_records, samples, translation_frame
from bimed_assets.defs import metadata
from bimed_assets.defs.partitions import ALL_SHARDS, this_shard
from bimed_assets.defs.resources import LLM_POOL, LLMResource
from bimed_assets.defs.review.assets import ReviewStore
from bimed_assets.llm.incremental import code_version
from bimed_assets.llm.shards import one_table
from bimed_assets.translation.parallel import translate_parallel
from bimed_assets.translation.scoring import ScoringConfig
from translation_review.service import QueueFilter

GROUP = "benchmarks"
DEFAULT = ScoringConfig()
# The code that decides the table: the translation loop (prompts, checks, scoring), the selection and the frame.
# Items are walked only when new or changed (``bimed_assets.llm.incremental``): an unchanged rebuild makes no call.
TRANSLATION_CODE_VERSION = code_version("bimed_assets.translation.pipeline", "bimed_assets.benchmarks.selection",
                                        "bimed_assets.benchmarks.translations")


class BenchmarkTranslationConfig(dg.Config):
    per_benchmark_limit: int | None = Field(default=None, description="At most this many items per benchmark "
                                            "(the lowest hash draws of their ids); unset: every item.")
    threshold: float = Field(default=DEFAULT.threshold, description="Combined 0-100 score of an automatic "
                             "acceptance (every benchmark item is reviewed by a person anyway).")
    max_rounds: int = Field(default=DEFAULT.max_rounds, description="Translations per item before review.")
    back_translation: bool = Field(default=DEFAULT.back_translation, description="Score an AR→EN "
                                   "back-translation with chrF.")
    processes: int | None = Field(default=None, ge=1, description="Processes in all: this one makes the LLM calls, the "
                                  "others run the fidelity checks and chrF (from 250 items). Unset: the machine's "
                                  "cores shared by the LLM steps that run at once (the llm resource's pool_steps).")


@dg.asset(group_name=GROUP, kinds={"polars", "parquet"}, pool=LLM_POOL, code_version=TRANSLATION_CODE_VERSION)
def benchmark_translation(context: dg.AssetExecutionContext, config: BenchmarkTranslationConfig, llm: LLMResource,
                          evaluation_sets: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    """The benchmark items (MedQA test, MedMCQA dev, PubMedQA test, six MMLU medical test subjects) translated
    into Arabic by the translation loop: one row per item with its status, every attempt and the best translation."""
    selected = this_shard(context, select(evaluation_sets, config.per_benchmark_limit))  # drawn whole, then cut
    scoring = ScoringConfig(config.threshold, config.max_rounds, config.back_translation)
    results, usage = translate_parallel(llm.llm_config(context.run.run_id), samples(selected), scoring,
                                        llm.step_processes(config.processes))
    frame = translation_frame(results, {row["id"]: row for row in selected.iter_rows(named=True)})
    context.log.info(f"translated {len(frame)} benchmark items")
    scores = [a.score for result in results for a in result.attempts if a.score is not None]
    return dg.Output(frame, data_version=metadata.data_version(frame), metadata={
        "dagster/row_count": len(frame),
        "selected_items": len(selected),
        **metadata.incremental_walk(results),
        "by_benchmark_and_status": metadata.table(
            frame.group_by("benchmark", "status").len("items").sort("benchmark", "status")),
        "accepted_by_round": metadata.table(
            frame.filter(pl.col("status") == "accepted").group_by("rounds").len("items").sort("rounds")),
        **metadata.llm_usage(usage),
        "score_histogram": metadata.histogram(scores, title="Combined score per attempt", xlabel="score",
                                              marker=config.threshold),
    })


@dg.asset(group_name=GROUP, kinds={"sqlite", "postgres"})
def benchmark_review_queue_store(benchmark_translation: ALL_SHARDS, review_store: ReviewStore) -> dg.MaterializeResult:
    """Every translated benchmark item, accepted or not, pushed to the reviewers' queue (task ``benchmark``,
    source = the benchmark). Idempotent, like the training queue's push."""
    benchmark_translation = one_table(benchmark_translation)
    records = review_records(benchmark_translation)
    service = review_store.service()
    result = service.import_items(records, actor="dagster")
    return dg.MaterializeResult(metadata={
        "pushed": len(records),
        "not_translated": len(benchmark_translation) - len(records),
        "import": dg.MetadataValue.json({k: v for k, v in vars(result).items() if k != "item_ids"}),
        "queue_progress": dg.MetadataValue.json(service.progress(QueueFilter(task=REVIEW_TASK))),
    })


@dg.asset(
    group_name=GROUP,
    deps=[benchmark_review_queue_store],
    kinds={"polars", "parquet"},
    check_specs=[dg.AssetCheckSpec(
        "arabic_items_verified", asset="mcqa_benchmarks", blocking=False,
        description="Warns while Arabic benchmark items await a reviewer's approval or edit.")],
)
def mcqa_benchmarks(benchmark_translation: ALL_SHARDS, reviewed_translations: pl.DataFrame):
    """The evaluation input: every benchmark item in English (verified) and in Arabic, verified only once a
    reviewer approved or edited it (edited text used; rejected items left out). Re-materialized by the review
    decisions sensor, as it depends on ``reviewed_translations``."""
    frame = benchmark_frame.mcqa_benchmarks(one_table(benchmark_translation), reviewed_translations)
    counts = benchmark_frame.composition(frame)
    share = benchmark_frame.unverified_share(frame)
    yield dg.Output(frame, metadata={
        "dagster/row_count": len(frame),
        "by_benchmark_and_language": metadata.table(counts),
        "verified_share": float(frame["verified"].mean()) if len(frame) else 0.0,
        "arabic_unverified_share": share,
    })
    arabic = counts.filter(pl.col("language") == "ar")
    yield dg.AssetCheckResult(
        check_name="arabic_items_verified", passed=share == 0.0, severity=dg.AssetCheckSeverity.WARN,
        metadata={"arabic_items": int(arabic["items"].sum()), "arabic_verified": int(arabic["verified"].sum()),
                  "unverified_share": share, "by_benchmark": metadata.table(arabic)},
    )

"""The human review queue in Dagster: push items to the review store, read decisions back, and a sensor that
re-materializes only what depends on new decisions."""

import dagster as dg
import polars as pl
from pydantic import Field

from bimed_assets.defs.partitions import ALL_SHARDS
from bimed_assets.llm.shards import one_table
from bimed_assets.review import all_decisions
from bimed_assets.review import reviewed_translations as reviewed_frame
from translation_review.queue_file import queue_records
from translation_review.service import ReviewService

GROUP = "review"


class ReviewStore(dg.ConfigurableResource):
    """The review app's store: a SQLAlchemy URL (PostgreSQL in production); unset: $BIMED_REVIEW_DB, else
    ``var/review.sqlite``."""

    url: str | None = Field(default=None, description="SQLAlchemy URL of the review store.")

    def service(self) -> ReviewService:
        return ReviewService(self.url)


@dg.asset(group_name=GROUP, kinds={"sqlite", "postgres"})
def review_queue_store(translation_review_queue: ALL_SHARDS, review_store: ReviewStore) -> dg.MaterializeResult:
    """Items still below the threshold, pushed to the reviewers' queue. Idempotent: a re-push neither
    duplicates an item nor loses its decision; a re-translated item replaces the pending one."""
    translation_review_queue = one_table(translation_review_queue)
    service = review_store.service()
    result = service.import_items(queue_records(translation_review_queue), actor="dagster")
    progress = service.progress()
    return dg.MaterializeResult(metadata={
        "pushed": len(translation_review_queue),
        "import": dg.MetadataValue.json({k: v for k, v in vars(result).items() if k != "item_ids"}),
        "queue_progress": dg.MetadataValue.json(progress),
    })


@dg.asset(group_name=GROUP, deps=[review_queue_store], kinds={"polars", "parquet"})
def reviewed_translations(review_store: ReviewStore) -> dg.Output[pl.DataFrame]:
    """The latest reviewer decision per item: approved or edited Arabic with reviewer and time, or a rejection."""
    frame = reviewed_frame(all_decisions(review_store.service()))
    return dg.Output(frame, metadata={
        "dagster/row_count": len(frame),
        "by_decision": dg.MetadataValue.json(dict(frame.group_by("decision").len().iter_rows())),
    })


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    # Depth 1: what reads the decisions (the corpus, the benchmarks they verify). Training further down is not
    # re-run for every batch of decisions.
    asset_selection=dg.AssetSelection.assets(reviewed_translations).downstream(depth=1),
    description="New review decisions → re-materialize reviewed_translations and what reads it (the corpus).",
)
def review_decisions_sensor(context: dg.SensorEvaluationContext, review_store: ReviewStore):
    cursor = int(context.cursor or 0)
    new = review_store.service().decisions_since(cursor, limit=10_000)
    if not new:
        return dg.SkipReason(f"no decision after #{cursor}")
    last = new[-1].id
    context.update_cursor(str(last))
    return dg.RunRequest(run_key=f"review-decisions-{last}", tags={"review/decisions": f"{cursor + 1}-{last}"})

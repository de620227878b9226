"""Quality checks on a loaded source, independent of Dagster (the asset layer reports them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bimed_assets.schema import RECORD_SCHEMA, SPLITS, TASKS
from bimed_assets.sources.loading import LoadResult


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


CHECKS = {
    "schema": "columns and types match the canonical schema; task and split values are known",
    "non_empty": "at least one record was kept",
    "unique_ids": "no two records share an id",
    "quarantine_rate": "the share of quarantined records is under the configured bound",
}


def check_source(result: LoadResult, max_quarantine_rate: float, left_out: str | None = None) -> list[CheckOutcome]:
    """``left_out``: why the build leaves this source out; its empty result then passes ``non_empty``, which
    is there to catch a source that was read and kept nothing, not one that was not read at all."""
    records = result.records
    schema_diff = {
        name: f"{records.schema.get(name)} != {dtype}"
        for name, dtype in RECORD_SCHEMA.items()
        if records.schema.get(name) != dtype
    }
    bad_tasks = sorted(set(records["task"].unique()) - set(TASKS))
    bad_splits = sorted(set(records["split"].unique()) - set(SPLITS))
    duplicates = len(records) - records["id"].n_unique()
    rate = result.quarantine_rate
    return [
        CheckOutcome(
            "schema",
            not (schema_diff or bad_tasks or bad_splits),
            CHECKS["schema"],
            {"mismatched_columns": schema_diff, "unknown_tasks": bad_tasks, "unknown_splits": bad_splits},
        ),
        CheckOutcome("non_empty", len(records) > 0 or left_out is not None, CHECKS["non_empty"],
                     {"records": len(records), **({"left_out": left_out} if left_out else {})}),
        CheckOutcome("unique_ids", duplicates == 0, CHECKS["unique_ids"], {"duplicate_ids": duplicates}),
        CheckOutcome(
            "quarantine_rate",
            rate <= max_quarantine_rate,
            CHECKS["quarantine_rate"],
            {"quarantine_rate": round(rate, 4), "bound": max_quarantine_rate},
        ),
    ]

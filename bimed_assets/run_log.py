"""What a person watching a run in a terminal reads: one line per finished step, failed checks, the run's end.

Dagster keeps every event of a run in the instance's event log (the UI shows all of it); its console logger
prints them too, at DEBUG: hundreds of lines for the sample build, in which what the steps produced is hard to
find. ``dagster.yaml`` therefore sets the console to INFO, where it prints what the steps say themselves and
every error, and installs :class:`StepSummaryHandler`, which turns the DEBUG events into one line per step with
what it produced and took, plus a line for each check that did not pass and one when the run ends.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict

from dagster import DagsterEventType

ROW_COUNT = "dagster/row_count"


def step_line(step: str, seconds: float, produced: list[str]) -> str:
    what = "; ".join(produced) if produced else "no asset output"
    return f"✓ {step} ({seconds:.1f} s): {what}"


def materialized_text(asset: str, metadata: dict) -> str:
    """``asset: 1,234 rows`` (or just the asset name when it has no row count)."""
    rows = metadata.get(ROW_COUNT)
    return f"{asset} {rows.value:,} rows" if rows is not None else asset


class StepSummaryHandler(logging.Handler):
    """Prints a step's outputs when it succeeds, failed checks as they come, and the run's outcome.

    Installed through ``python_logs.dagster_handler_config`` so that it sees every event of every run (its level is
    DEBUG) without any run config; it writes to stderr like Dagster's console logger.
    """

    def __init__(self, level: int = logging.DEBUG, stream=None):
        super().__init__(level)
        self.stream = stream or sys.stderr
        self._produced: dict[tuple[str, str], list[str]] = defaultdict(list)
        self._run_started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None:
            return
        try:
            line = self._line(event, meta.get("run_id") or "", meta.get("job_name") or "")
        except Exception:  # noqa: BLE001 - a summary must never break a run
            self.handleError(record)
            return
        if line:
            self.stream.write(line + "\n")
            self.stream.flush()

    def _line(self, event, run_id: str, job: str) -> str | None:
        kind = event.event_type
        step = event.step_key or ""
        if kind == DagsterEventType.RUN_START:
            self._run_started[run_id] = time.monotonic()
            return f"run {run_id[:8]} of {job} started (full event log: make ui, or the Dagster home)"
        if kind == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            self._produced[(run_id, step)].append(
                materialized_text(materialization.asset_key.to_user_string(), materialization.metadata))
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                return (f"  ✗ check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} did not pass "
                        f"({evaluation.severity.value})")
        elif kind == DagsterEventType.STEP_SUCCESS:
            produced = self._produced.pop((run_id, step), [])
            return step_line(step, event.event_specific_data.duration_ms / 1000, produced)
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            started = self._run_started.pop(run_id, None)
            took = f" in {time.monotonic() - started:.0f} s" if started is not None else ""
            outcome = "succeeded" if kind == DagsterEventType.RUN_SUCCESS else "FAILED"
            return f"run {run_id[:8]} of {job} {outcome}{took}"
        return None

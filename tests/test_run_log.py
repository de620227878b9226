"""The console of a run: one line per finished step with what it produced, failed checks, and the run's end."""

from __future__ import annotations

import dagster as dg
from dagster._core.test_utils import instance_for_test

HANDLER = {"python_logs": {"python_log_level": "INFO", "dagster_handler_config": {"handlers": {
    "step_summary": {"class": "bimed_assets.run_log.StepSummaryHandler", "level": "DEBUG"}}}}}


@dg.asset(check_specs=[dg.AssetCheckSpec("never_empty", asset="rows")])
def rows():
    yield dg.MaterializeResult(metadata={"dagster/row_count": 1234})
    yield dg.AssetCheckResult(check_name="never_empty", passed=False, severity=dg.AssetCheckSeverity.WARN)


@dg.asset(deps=[rows])
def summary() -> None:
    dg.get_dagster_logger().info("summary: said by the step itself")


def test_one_line_per_step_with_rows_and_failed_checks(capsys):
    with instance_for_test(overrides=HANDLER) as instance:
        assert dg.materialize([rows, summary], instance=instance).success
    lines = capsys.readouterr().err.splitlines()
    steps = [line for line in lines if line.startswith("✓ ")]
    assert [s.split(" (")[0] for s in steps] == ["✓ rows", "✓ summary"]
    assert steps[0].endswith("rows 1,234 rows") and steps[1].endswith(": summary")
    assert "  ✗ check rows:never_empty did not pass (WARN)" in lines
    assert any("summary: said by the step itself" in line for line in lines)  # the step's own INFO line
    assert lines[-1].startswith("run ") and " succeeded in " in lines[-1]
    assert not any(" - DEBUG - " in line for line in lines)  # Dagster's events stay in the event log

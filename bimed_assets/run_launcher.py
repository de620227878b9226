"""A run launcher whose run workers can be health-checked, so that run monitoring fails a run whose process died.

Dagster's ``DefaultRunLauncher`` starts each run in a process on this machine but cannot tell whether that process
is still alive: a run whose worker was killed (OOM, ``kill -9``, a reboot) stays ``STARTED`` for ever, and with
``concurrency.runs.max_concurrent_runs`` such ghosts keep the queued-run coordinator from launching anything, the nightly
rebuild included. Run monitoring (``dagster.yaml``) asks the launcher about every started run; this launcher
answers from the process that emitted the run's start event (every Dagster event records its pid): alive, or
gone. It serves one-machine deployments (``make ui``, the PostgreSQL instance in ``deploy/``), where the daemon
and the run workers share a host; on Kubernetes, dagster-k8s' ``K8sRunLauncher`` checks its pods itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterEventType, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live Python process (a recycled pid now running something else counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():  # no procfs: trust the signal check
        return True
    try:
        command = cmdline.read_bytes()  # empty for a zombie: killed but not yet reaped
    except OSError:  # exited between the two checks
        return False
    return b"python" in command or b"dagster" in command


class LocalRunLauncher(DefaultRunLauncher):
    """``DefaultRunLauncher`` plus a worker health check: the run's start event's process, alive or not."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        records = self._instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_START, limit=1)
        event = records.records[0].event_log_entry.dagster_event if records.records else None
        if event is None or not event.pid:
            # Not started yet, or started by something that did not say where: never fail a run on a guess.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no run worker process recorded yet")
        if process_alive(event.pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(event.pid))
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the run worker process (pid {event.pid}) is gone: it was killed or crashed before it could record "
            "the run's end",
            run_worker_id=str(event.pid),
        )

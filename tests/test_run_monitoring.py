"""A killed run is marked failed by the instance, and the queue it was blocking launches the next scheduled run.

The instance is the project's own dagster.yaml (its run launcher, run monitoring and max_concurrent_runs: 2), with
the monitoring poll shortened from 30 s to 1 s so the test does not wait on it; a real ``dagster-daemon`` runs the
queue, the schedule and the monitoring. Two runs that never end fill both run slots; their worker processes are
killed with SIGKILL (no chance to record their end), and the schedule's next tick must still launch and finish.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml
from daemon_helpers import wait_for
from dagster._core.launcher import WorkerStatus

from bimed_assets.run_launcher import process_alive

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCATION = Path(__file__).with_name("run_monitoring") / "location.py"
# Every wait below ends as soon as its condition holds; the bound only reports a stuck daemon. It allows for the
# schedule's next minute boundary and a slow start of the daemon's code server on a loaded machine.
WAIT_S = 300


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    return records[0].event_log_entry.dagster_event.pid if records else None


def test_a_killed_run_is_failed_and_the_next_scheduled_run_launches(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the instance's storage is configured from it
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert config["run_monitoring"]["enabled"] and config["concurrency"]["runs"]["max_concurrent_runs"] == 2
    config["run_monitoring"]["poll_interval_seconds"] = 1
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_file": {
        "relative_path": str(LOCATION), "location_name": "monitoring_test"}}]}))
    env = dict(os.environ)
    with dg.DagsterInstance.from_config(str(home)):
        pass  # create the storage once, before the daemon and the CLI would race to
    log = tmp_path / "daemon.log"
    with log.open("w") as out:
        daemon = subprocess.Popen([BIN / "dagster-daemon", "run", "-w", str(workspace)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(2):
            launched = subprocess.run([BIN / "dagster", "job", "launch", "-w", str(workspace), "-j", "stuck"],
                                      env=env, capture_output=True, text=True, check=False)
            assert launched.returncode == 0, launched.stdout + launched.stderr
        with dg.DagsterInstance.from_config(str(home)) as instance:
            stuck = [r.run_id for r in instance.get_runs(dg.RunsFilter(job_name="stuck"))]
            assert len(stuck) == 2
            pids = wait_for("both stuck runs started by the queue", lambda: (
                all(instance.get_run_by_id(r).status == dg.DagsterRunStatus.STARTED for r in stuck)
                and all(pids := [worker_pid(instance, r) for r in stuck]) and pids), daemon, log, WAIT_S)
            for pid in pids:
                os.kill(pid, signal.SIGKILL)

            wait_for("the killed workers gone", lambda: not any(process_alive(pid) for pid in pids), daemon, log,
                     WAIT_S)
            # What run monitoring asks the launcher about each killed run: its worker is gone.
            for run_id in stuck:
                health = instance.run_launcher.check_run_worker_health(instance.get_run_by_id(run_id))
                assert health.status == WorkerStatus.FAILED and "is gone" in health.msg, health

            wait_for("the killed runs marked failed", lambda: all(
                instance.get_run_by_id(r).status == dg.DagsterRunStatus.FAILURE for r in stuck), daemon, log, WAIT_S)
            # Two watchers race to say why: the monitor (the worker "is gone") and, while it still runs, the code
            # server that spawned the worker ("Run execution process ... signal"); either must be in the run's log.
            assert any(reason in (entry.message or "") + (entry.user_message or "")
                       for entry in instance.all_logs(stuck[0]) for reason in ("is gone", "Run execution process"))

            scheduled = wait_for("a scheduled run of nightly finished", lambda: [
                r for r in instance.get_runs(dg.RunsFilter(job_name="nightly"))
                if r.status == dg.DagsterRunStatus.SUCCESS], daemon, log, WAIT_S)
            assert scheduled[0].tags.get("dagster/schedule_name") == "every_minute"
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()

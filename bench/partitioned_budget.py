"""Items against the test server under one endpoint budget of 64 requests in flight: one unpartitioned run of the
LLM stages vs a Dagster backfill of 8 partitions running at once.

    flock -x /tmp/bimed-quiet.lock .venv/bin/python bench/partitioned_budget.py --write \\
        [--items 20000] [--shards 8] [--concurrency 64] [--latency 0.2] [--repeats 2]

What runs is what the user runs: the project's ``chat_synthesis`` and ``translation`` assets
(bench/partitioned_location.py), launched as an asset backfill (``bimed_assets.backfill.launch``, what the nightly
sensor and ``python -m bimed_assets.backfill`` request) and run by a real ``dagster-daemon`` on a fresh instance
(the project's dagster.yaml with room for every shard's run and LLM step at once), connected as ``make ui``
(``dagster dev``) connects it to one code server started before the backfill (``code_server``). With ``--shards 8``
the steps are partitioned as ``llm.shards: 8`` does it, so the backfill is 8 runs, one per shard, sharing the 64
HTTP slots as the project's default ``slots: machine`` does (``bimed_assets.llm.slots``: each run takes slots as its
work needs them); the unpartitioned layout is the same backfill with ``llm.shards: 1``: one run with all 64 slots.
Translation takes every item of the pool (``share`` 1.0, one round, no back-translation: one translate and one judge
request per item); chat synthesis takes none (``share`` 0), so its step only reads the pool. Runs execute as the
project's do: in one process each when sharded, a process per step for the one run
(``bimed_assets.executors.step_executor``), with the check processes of ``LLMResource.step_processes`` (the cores
shared by ``pool_steps``), and the instance starts queued runs as the project's dagster.yaml says (``run_queue``:
every second, one at a time). The server runs in its own process and reports the most requests it held at once.
Wall = first run created → last run ended (the instance's run records); a run's time = its start (after its process
has loaded the code) → its end; sending = at the server, first arrival to last answer, and the wall is the time to
the first request, the sending and the time after the last answer. Ideal = concurrency / latency.
CPU = the whole machine's busy time from the backfill's launch until it is done (/proc/stat: every process, the
server, the daemon and the runs alike): "machine CPU busy" as a share of all cores over that time and, sampled every
second, over the sending; and per request.
Writes bench/results/partitioned_budget.md with ``--write``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import dagster as dg
import yaml
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.execution.backfill import BulkActionStatus
from dagster._grpc.client import DagsterGrpcClient
from incremental_rebuild import pool_of
from llm_bench import machine_busy_seconds, server_stats, test_server, write_results

from bimed_assets.backfill import backfill_subset, launch

REPO = Path(__file__).resolve().parent.parent
LOCATION = Path(__file__).with_name("partitioned_location.py")
RESULTS = Path(__file__).resolve().parent / "results" / "partitioned_budget.md"
BIN = Path(sys.executable).parent
RUN_CONFIG = {"ops": {"chat_synthesis": {"config": {"share": 0.0}},
                      "translation": {"config": {"share": 1.0, "max_rounds": 1, "back_translation": False}}}}
DONE = (BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED, BulkActionStatus.FAILED,
        BulkActionStatus.CANCELED)


def location_defs() -> dg.Definitions:
    """The bench's code location, loaded afresh (it reads the layout from the environment)."""
    spec = importlib.util.spec_from_file_location("partitioned_location", LOCATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.defs


def instance_home(home: Path, shards: int) -> None:
    home.mkdir(parents=True)
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    config["concurrency"]["runs"]["max_concurrent_runs"] = max(shards, 2)
    config["concurrency"]["pools"]["default_limit"] = shards  # the llm_endpoint pool: every shard's step at once
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


@contextlib.contextmanager
def code_server(work: Path, env: dict[str, str], log: IO[str]) -> Iterator[Path]:
    """The bench's code location served as ``make ui`` (``dagster dev``) serves the project's: one code server,
    started before anything is launched, that the daemon connects to; yields the daemon's workspace file. (A daemon
    given the Python file instead starts a code server of its own and a fresh one every 60 s, each loading the
    project again: ~2.4 s of CPU amid the runs, measured throwaway from /proc.)"""
    socket = work / "code_server.sock"
    server = subprocess.Popen([BIN / "dagster", "code-server", "start", "--socket", str(socket), "--python-file",
                               str(LOCATION), "--working-directory", str(REPO), "--location-name", "bench"],
                              cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while True:  # serving once it lists the location's repository (its code is loaded)
            if server.poll() is not None:
                raise RuntimeError(f"the code server exited: {(work / 'daemon.log').read_text()[-3000:]}")
            try:
                DagsterGrpcClient(socket=str(socket)).list_repositories()
                break
            except DagsterUserCodeUnreachableError:
                time.sleep(0.2)
        workspace = work / "workspace.yaml"
        workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
            "socket": str(socket), "location_name": "bench"}}]}))
        yield workspace
    finally:
        server.terminate()
        server.wait()


def measure(pool, shards: int, concurrency: int, latency: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bimed-partitioned-") as scratch, \
            test_server("--latency", str(latency)) as url:
        work = Path(scratch)
        (work / "var" / "assets").mkdir(parents=True)
        pool_file = work / "var" / "assets" / "training_pool.parquet"  # where the IO manager reads it
        pool.write_parquet(pool_file)
        env = {**os.environ, "DAGSTER_HOME": str(work / "home"), "BIMED_VAR_DIR": str(work / "var"),
               "BIMED_LLM_BASE_URL": url, "BIMED_LLM_SHARDS": str(shards), "BENCH_POOL": str(pool_file),
               "BENCH_CONCURRENCY": str(concurrency), "BENCH_POOL_STEPS": str(shards)}
        os.environ.update(env)
        instance_home(work / "home", shards)
        defs = location_defs()
        graph = defs.resolve_asset_graph()
        keys = {key for key in graph.get_all_asset_keys() if key.to_user_string() != "training_pool"}
        with dg.DagsterInstance.from_config(str(work / "home")) as instance, \
                (work / "daemon.log").open("w") as log, code_server(work, env, log) as workspace:
            daemon = subprocess.Popen([BIN / "dagster-daemon", "run", "-w", str(workspace)], cwd=REPO, env=env,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                cpu = [(time.monotonic(), machine_busy_seconds())]  # the machine's busy CPU seconds, every second
                monotonic_to_epoch = time.time() - cpu[0][0]  # the server times arrivals on the monotonic clock
                backfill_id = launch(instance, backfill_subset(graph, keys), run_config=RUN_CONFIG)
                while (status := instance.get_backfill(backfill_id).status) not in DONE:
                    if daemon.poll() is not None:
                        raise RuntimeError((work / "daemon.log").read_text()[-3000:])
                    time.sleep(1)
                    cpu.append((time.monotonic(), machine_busy_seconds()))
            finally:
                daemon.terminate()
                daemon.wait()
            records = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            if status != BulkActionStatus.COMPLETED_SUCCESS:
                raise RuntimeError(f"backfill {status}: {[r.dagster_run.status for r in records]}")
            created = min(r.create_timestamp.timestamp() for r in records)
            started = max(r.start_time for r in records) - created
            wall = max(r.end_time for r in records) - created
            run_time = statistics.median(r.end_time - r.start_time for r in records)
        stats = server_stats(url)
    sending = stats["arrival_span"] + latency
    first_request = stats["first_arrival"] + monotonic_to_epoch - created
    return {"runs": len(records), "first_request": first_request, "started": started, "run_time": run_time,
            "after_sending": wall - first_request - sending, "received": stats["received"],
            "wall": wall, "rate": stats["received"] / wall, "sending": sending,
            "sending_rate": stats["received"] / sending, "max_in_flight": stats["max_in_flight"],
            "busy": _busy_share(cpu[0], cpu[-1]),
            # While sending: from the last sample before the server's first arrival to the first after its last
            # answer (the samples span the whole backfill, so both exist; at most a second wider on each side).
            "busy_sending": _busy_share(max((s for s in cpu if s[0] <= stats["first_arrival"]), default=cpu[0]),
                                        min((s for s in cpu if s[0] >= stats["first_arrival"] + sending),
                                            default=cpu[-1])),
            "cpu_ms": 1000 * (cpu[-1][1] - cpu[0][1]) / stats["received"]}


def _busy_share(first: tuple[float, float], last: tuple[float, float]) -> float:
    """The share of the machine's cores busy between two (time.monotonic(), busy CPU seconds) samples."""
    return (last[1] - first[1]) / ((last[0] - first[0]) * os.cpu_count())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = parser.parse_args()
    ideal = args.concurrency / args.latency
    pool = pool_of(args.items)
    load_before = os.getloadavg()[0]
    layouts = {"one unpartitioned run": 1, f"backfill of {args.shards} partitions": args.shards}
    rows = []
    for _ in range(args.repeats):  # alternate, so that both layouts see the same machine
        for name, shards in layouts.items():
            rows.append((name, measure(pool, shards, args.concurrency, args.latency)))
            print(name, rows[-1], flush=True)
    medians = {name: {key: statistics.median(r[key] for n, r in rows if n == name) for key in rows[0][1]}
               for name in layouts}
    lines = [
        "# One endpoint budget: one unpartitioned run vs a backfill of partitions",
        "",
        f"Command: `{' '.join(['python bench/partitioned_budget.py', *sys.argv[1:]])}`",
        (f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, load average "
         f"{load_before:.1f} before the run; test server in its own process on 127.0.0.1 (pipeline responder, "
         f"{args.latency * 1000:.0f} ms a request); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
         f"Ideal = {ideal:.0f} req/s."),
        (f"Setup: {args.items:,} items; the project's chat and translation assets as a Dagster asset backfill run "
         f"by dagster-daemon and one code server, as `make ui` runs them; {args.shards} partitions sharing "
         f"{args.concurrency} slots (`slots: machine`), the `llm_endpoint` pool and max_concurrent_runs at "
         f"{args.shards}; see the script's docstring."),
        "",
        ("| layout | runs | first request s | last run started s | median run s | after last answer s | requests | "
         "wall s | req/s over the wall | "
         "ratio to ideal | sending s (server) | req/s while sending | ratio to ideal | server max in flight | "
         "machine CPU busy | ... while sending | CPU ms per request |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(f"| {name} | {row['runs']:.0f} | {row['first_request']:.1f} | {row['started']:.1f} | {row['run_time']:.1f} | "
          f"{row['after_sending']:.1f} | {row['received']:.0f} | "
          f"{row['wall']:.1f} | {row['rate']:.1f} | {row['rate'] / ideal:.3f} | {row['sending']:.1f} | "
          f"{row['sending_rate']:.1f} | {row['sending_rate'] / ideal:.3f} | {row['max_in_flight']:.0f} | {row['busy']:.0%} | "
          f"{row['busy_sending']:.0%} | {row['cpu_ms']:.1f} |"
          for name, row in [*rows, *((f"**{n}, median of {args.repeats}**", m) for n, m in medians.items())]),
    ]
    if args.write:
        write_results(RESULTS, lines)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()

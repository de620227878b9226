"""The LLM steps cut into shards (``llm.shards``): Dagster partitions, a full build as an asset backfill.

With 4 shards on a copy of the sample sources (no caps) against the local test server over real HTTP: the nightly
rebuild requests every shard of every LLM step once and every other asset once; a real ``dagster-daemon`` runs
that backfill (one run per shard), and the corpus it builds holds the same rows as one unpartitioned run's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml
from daemon_helpers import wait_for
from dagster._core.execution.backfill import BulkActionStatus

from bimed_assets import settings
from bimed_assets.backfill import CORPUS_SELECTION, backfill_subset, launch
from bimed_assets.chats.responder import ChatResponder
from bimed_assets.defs.partitions import LLM_STEPS
from bimed_assets.defs.resources import LLMResource
from bimed_assets.llm.shards import in_shard, one_table, shard_keys, shard_of
from bimed_assets.llm.slots import held_by
from bimed_assets.llm.test_server import OpenAITestServer, ServerConfig
from bimed_assets.paths import SAMPLE_DATA
from bimed_assets.translation.cipher_responder import CipherResponder

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SHARDS = 4
# Every wait ends as soon as its condition holds; the bound only reports a stuck daemon (its backfill loop ticks
# every 30 s, and each of the backfill's runs starts a Python process on a loaded 2-core machine).
WAIT_S = 900


def test_an_item_keeps_its_shard_and_the_shards_read_back_as_one_table():
    assert shard_keys(4) == ["00", "01", "02", "03"] and shard_keys(101)[-1] == "100"
    ids = [f"medqa-{n}" for n in range(2000)]
    counts = Counter(shard_of(item_id, 4) for item_id in ids)
    assert set(counts) == {0, 1, 2, 3} and min(counts.values()) > 400  # about a quarter each
    frame = pl.DataFrame({"id": ids})
    parts = {key: in_shard(frame, key, 4) for key in shard_keys(4)}
    assert sum(len(part) for part in parts.values()) == len(frame)
    assert sorted(one_table(parts)["id"]) == sorted(ids) and one_table(frame) is frame
    # A shard with no row may type a column Null where the others type it String.
    typed = {"00": pl.DataFrame({"id": ["a"], "note": ["x"]}), "01": pl.DataFrame({"id": ["b"], "note": [None]})}
    assert one_table(typed)["note"].dtype == pl.String
    with pytest.raises(ValueError, match="no partition"):
        one_table({})


def test_shards_are_read_from_the_project_file_or_the_environment(tmp_path, monkeypatch):
    assert settings.parse(None).llm.shards == 1
    assert settings.parse({"llm": {"shards": 8}, "sources": {"root": "data"}}, tmp_path).llm.shards == 8
    with pytest.raises(ValueError, match="unknown key.*shard"):
        settings.parse({"llm": {"shard": 8}})
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        settings.parse({"llm": {"shards": 0}})
    # Caps are run config, which a backfill's runs do not carry: refused rather than silently dropped.
    with pytest.raises(ValueError, match="caps would not apply"):
        settings.parse({"llm": {"shards": 8}})
    monkeypatch.delenv("BIMED_CONFIG", raising=False)
    monkeypatch.setenv("BIMED_SOURCE_ROOT", str(tmp_path))
    monkeypatch.setenv("BIMED_LLM_SHARDS", "3")
    assert settings.load().llm.shards == 3


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """A copy of the sample's sources: configured sources, so no caps (every item of the copy is built)."""
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA, data, ignore=shutil.ignore_patterns("llm_recordings"))
    monkeypatch.setenv("BIMED_SOURCE_ROOT", str(data))
    monkeypatch.delenv("BIMED_CONFIG", raising=False)
    return data


def _defs(monkeypatch, shards: int):
    monkeypatch.setenv("BIMED_LLM_SHARDS", str(shards))
    from bimed_assets.definitions import defs

    return defs()


def test_with_shards_the_llm_steps_are_partitioned_and_the_nightly_rebuild_is_a_backfill(sources, monkeypatch):
    plain = _defs(monkeypatch, 1)
    assert not any(plain.resolve_assets_def(key).partitions_def for key in plain.resolve_asset_graph().get_all_asset_keys())
    assert plain.resolve_schedule_def("nightly_corpus_rebuild").job_name == "build_corpus"

    defs = _defs(monkeypatch, SHARDS)
    graph = defs.resolve_asset_graph()
    partitioned = {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).partitions_def}
    assert {defs.resolve_assets_def(key).node_def.name for key in partitioned} == set(LLM_STEPS)
    assert all(graph.get(dg.AssetKey(key)).partitions_def.get_partition_keys() == shard_keys(SHARDS)
               for key in partitioned)
    assert not defs.schedules or all(s.name != "nightly_corpus_rebuild" for s in defs.schedules)

    nightly = defs.resolve_sensor_def("nightly_corpus_rebuild")
    with dg.build_sensor_context(repository_def=defs.get_repository_def()) as context:
        first = nightly.evaluate_tick(context)  # like a schedule: no catching up on nights before it ran
    assert not first.run_requests and first.cursor
    with dg.build_sensor_context(cursor="0", repository_def=defs.get_repository_def()) as context:
        [request] = nightly.evaluate_tick(context).run_requests
    subset = request.asset_graph_subset
    assert {key.to_user_string() for key in subset.partitions_subsets_by_asset_key} == partitioned
    assert all(sorted(part.get_partition_keys()) == shard_keys(SHARDS)
               for part in subset.partitions_subsets_by_asset_key.values())
    assert subset.non_partitioned_asset_keys == CORPUS_SELECTION.resolve(graph) - {dg.AssetKey(k) for k in partitioned}


def _corpus(var: Path) -> pl.DataFrame:
    return pl.read_parquet(var / "corpus/bimed_corpus.parquet").sort("id")


def test_a_backfill_of_the_shards_builds_the_corpus_an_unpartitioned_run_builds(sources, tmp_path, monkeypatch):
    responder = ChatResponder(leaky=0.5, fallback=CipherResponder(flawed=0.3))
    server = OpenAITestServer(ServerConfig(responder=responder)).start()
    monkeypatch.setenv("BIMED_LLM_BASE_URL", server.url)
    try:
        monkeypatch.setenv("BIMED_VAR_DIR", str(tmp_path / "plain"))
        monkeypatch.setenv("BIMED_REVIEW_DB", f"sqlite:///{tmp_path / 'plain_review.sqlite'}")
        plain = _defs(monkeypatch, 1)
        built = plain.resolve_job_def("build_corpus").execute_in_process(instance=dg.DagsterInstance.ephemeral())
        assert built.success
        selected = next(e.event_specific_data.materialization.metadata["selected_items"].value
                        for e in built.get_asset_materialization_events()
                        if e.asset_key == dg.AssetKey("translation_attempts"))

        var = tmp_path / "sharded"
        monkeypatch.setenv("BIMED_VAR_DIR", str(var))
        monkeypatch.setenv("BIMED_REVIEW_DB", f"sqlite:///{tmp_path / 'sharded_review.sqlite'}")
        defs = _defs(monkeypatch, SHARDS)
        backfill_id, instance = _run_backfill(tmp_path, monkeypatch, defs)
        with instance:
            runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
            per_shard = Counter(run.tags.get("dagster/partition") for run in runs)
            # One run per shard (chats, translation and benchmark translation of a shard together), and the
            # unpartitioned assets in runs of their own: the corpus built once, after every shard.
            assert {key: per_shard[key] for key in shard_keys(SHARDS)} == dict.fromkeys(shard_keys(SHARDS), 1)
            corpus_events = instance.fetch_materializations(dg.AssetKey("bimed_corpus"), limit=10).records
            assert len(corpus_events) == 1
            last_shard_end = max(run_record.end_time for run_record in instance.get_run_records(
                dg.RunsFilter(tags={"dagster/backfill": backfill_id})) if run_record.dagster_run.tags.get(
                "dagster/partition"))
            assert corpus_events[0].timestamp > last_shard_end
            # Each partition reports its own items, accepted per round, review share, tokens and dollars.
            reported: dict[str, dict] = {}
            for key in ("translation_attempts", "accepted_translations", "translation_review_queue"):
                for record in instance.fetch_materializations(dg.AssetKey(key), limit=100).records:
                    materialization = record.asset_materialization
                    reported.setdefault(materialization.partition, {}).update(materialization.metadata)
            assert set(reported) == set(shard_keys(SHARDS))
            for meta in reported.values():
                assert {"selected_items", "accepted_by_round", "review_share", "prompt_tokens", "cost_usd"} <= set(meta)
                assert 0 <= meta["review_share"].value <= 1
            assert sum(meta["selected_items"].value for meta in reported.values()) == selected
        sharded, unpartitioned = _corpus(var), _corpus(tmp_path / "plain")
        assert len(sharded) > 0 and (sharded["language"] == "ar").sum() > 0
        assert sharded.select("id", "language", "messages").equals(unpartitioned.select("id", "language", "messages"))
    finally:
        server.stop()


@contextlib.contextmanager
def _daemon(tmp_path: Path, monkeypatch):
    """A real ``dagster-daemon`` on a fresh instance: the project's dagster.yaml, with room for every shard's run
    and LLM step at once. Yields the instance and a function that waits for a backfill to end."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    config["concurrency"]["runs"]["max_concurrent_runs"] = SHARDS
    config["concurrency"]["pools"]["default_limit"] = SHARDS
    config["run_monitoring"]["poll_interval_seconds"] = 1  # a killed run is failed in a second, not 30
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    log = tmp_path / "daemon.log"
    with dg.DagsterInstance.from_config(str(home)) as instance, log.open("w") as out:
        daemon = subprocess.Popen([BIN / "dagster-daemon", "run", "-w", str(REPO / "workspace.yaml")], cwd=REPO,
                                  env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

        def wait(what: str, condition):
            return wait_for(what, condition, daemon, log, WAIT_S, poll_s=1)

        def backfill_ends(backfill_id: str) -> BulkActionStatus:
            done = (BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED, BulkActionStatus.FAILED)
            return wait(f"backfill {backfill_id} to end",
                        lambda: (status := instance.get_backfill(backfill_id).status) in done and status)

        try:
            yield instance, wait, backfill_ends
        finally:
            daemon.terminate()
            daemon.wait()


def _run_backfill(tmp_path: Path, monkeypatch, defs: dg.Definitions) -> tuple[str, dg.DagsterInstance]:
    """A backfill of the corpus graph, run by a real daemon to its end."""
    with _daemon(tmp_path, monkeypatch) as (instance, _, backfill_ends):
        graph = defs.resolve_asset_graph()
        backfill_id = launch(instance, backfill_subset(graph, CORPUS_SELECTION.resolve(graph)))
        assert backfill_ends(backfill_id) == BulkActionStatus.COMPLETED_SUCCESS, (tmp_path / "daemon.log").read_text()[-3000:]
    return backfill_id, dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"])


def _worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    return records[0].event_log_entry.dagster_event.pid if records else None


def _translating(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid of the process running the run's translation step, once it started: the run's worker itself (a
    sharded build's runs are in_process), or its child under the multiprocess executor."""
    starts = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
    return next((record.event_log_entry.dagster_event.pid for record in starts
                 if record.event_log_entry.step_key == "translation"), None)


def test_a_killed_shard_reruns_alone_and_repays_at_most_its_calls_in_flight(sources, tmp_path, monkeypatch):
    """SIGKILL one shard's run process while it translates; a backfill of that shard alone finishes it. The LLM
    cache kept every answer as it arrived, so the server sees again at most the requests that shard had in flight:
    one per slot it held when it was killed (of the endpoint's budget, which the shards share)."""
    responder = ChatResponder(leaky=0.5, fallback=CipherResponder(flawed=0.3))
    server = OpenAITestServer(ServerConfig(responder=responder, latency=0.5)).start()  # a shard sends for a while
    slots = 2
    for name, value in {"BIMED_LLM_BASE_URL": server.url, "BIMED_VAR_DIR": str(tmp_path / "var"),
                        "BIMED_REVIEW_DB": f"sqlite:///{tmp_path / 'review.sqlite'}",
                        "BIMED_LLM_CONCURRENCY": str(slots * SHARDS), "BIMED_LLM_POOL_STEPS": str(SHARDS)}.items():
        monkeypatch.setenv(name, value)
    try:
        defs = _defs(monkeypatch, SHARDS)
        graph = defs.resolve_asset_graph()
        shard_steps = {key for key in graph.get_all_asset_keys() if graph.get(key).partitions_def}
        with _daemon(tmp_path, monkeypatch) as (instance, wait, backfill_ends):
            # The graph up to the shards (whole source multi-assets: they cannot be split), nothing downstream.
            downstream = dg.AssetSelection.assets(*shard_steps).downstream().resolve(graph) - shard_steps
            first = launch(instance, backfill_subset(graph, CORPUS_SELECTION.resolve(graph) - downstream))
            victim = "02"
            run_id, step_pid = wait("shard 02's run translating", lambda: next((
                (run.run_id, pid) for run in instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": first,
                                                                                    "dagster/partition": victim}))
                if (pid := _translating(instance, run.run_id))), None))
            received = server.stats().received.total()
            wait("more requests at the server", lambda: server.stats().received.total() > received + slots)
            pids = {_worker_pid(instance, run_id), step_pid}  # the run's worker and its sending step
            for pid in pids:  # stopped first, so that the slots it holds can be counted before it dies
                os.kill(pid, signal.SIGSTOP)
            in_flight = len(held_by(LLMResource(base_url=server.url).slots_path(), step_pid, slots * SHARDS))
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            assert backfill_ends(first) != BulkActionStatus.COMPLETED_SUCCESS
            others = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": first}))
            assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in others
                       if run.tags.get("dagster/partition") != victim)
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE  # run monitoring's verdict

            before = server.stats().received
            again = launch(instance, backfill_subset(graph, shard_steps, partitions=[victim]))
            assert backfill_ends(again) == BulkActionStatus.COMPLETED_SUCCESS
            reruns = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": again}))
            assert [run.tags.get("dagster/partition") for run in reruns] == [victim]  # that shard only
            after = server.stats().received
        repaid = [key for key in after if before[key] and after[key] > before[key]]
        assert len(repaid) <= in_flight, repaid  # at most a request per slot it held
        assert after.total() > before.total()  # the shard's items not asked before the kill were asked now
    finally:
        server.stop()


def test_the_instance_starts_a_backfills_runs_one_at_a_time_without_waiting(tmp_path, monkeypatch):
    """A backfill queues one run per shard at once; the project's instance looks at the queue every second (not
    every 5 s, Dagster's default) and starts the runs one at a time, so that the first has the cores to itself
    while it loads the project and begins sending (the shards share the endpoint's slots as they start)."""
    shutil.copyfile(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        coordinator = instance.run_coordinator
        assert coordinator.dequeue_use_threads
        assert coordinator.dequeue_num_workers == 1
        assert coordinator.dequeue_interval_seconds == 1

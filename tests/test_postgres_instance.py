"""The documented production instance (deploy/postgres/dagster.yaml) on a real PostgreSQL server.

Each test gets its own throwaway database on the server at 127.0.0.1:5432 (override with
``BIMED_TEST_ADMIN_URL``, a libpq URL of a database the user may ``CREATE DATABASE`` from); it is
dropped afterwards. Unreachable server: the test fails when ``CI`` is set, and is skipped otherwise.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import polars as pl
import psycopg
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from postgres_helpers import ADMIN_URL
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url

from bimed_assets.definitions import defs
from bimed_assets.sources import SOURCES
from bimed_assets.sources.checks import CHECKS

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parent.parent
DEPLOY_CONFIG = REPO / "deploy" / "postgres" / "dagster.yaml"
SOURCE = "medqa"
QUARANTINE = f"{SOURCE}_quarantine"


def _documented_scheme() -> str:
    """The URL scheme the deploy file tells operators to put in DAGSTER_POSTGRES_URL."""
    found = re.search(r"export DAGSTER_POSTGRES_URL=([a-z0-9+]+)://", DEPLOY_CONFIG.read_text())
    assert found, f"{DEPLOY_CONFIG} no longer documents an example DAGSTER_POSTGRES_URL"
    return found.group(1)


def _dagster_url(dbname: str) -> str:
    info = conninfo_to_dict(ADMIN_URL)
    userinfo = quote(info.get("user", "postgres"))
    if info.get("password"):
        userinfo += ":" + quote(str(info["password"]))
    host, port = info.get("host", "127.0.0.1"), info.get("port", 5432)
    return f"{_documented_scheme()}://{userinfo}@{host}:{port}/{dbname}"


@pytest.fixture
def postgres_db(postgres_database) -> str:
    """A fresh database (tests/conftest.py); its name."""
    return make_url(postgres_database).database


@pytest.fixture
def dagster_home(postgres_db, tmp_path, monkeypatch) -> Path:
    """A DAGSTER_HOME holding the production file as dagster.yaml, pointed at the throwaway database."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEPLOY_CONFIG, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", _dagster_url(postgres_db))
    monkeypatch.setenv("BIMED_VAR_DIR", str(tmp_path / "var"))  # asset Parquet under tmp, not var/
    monkeypatch.delenv("BIMED_SOURCE_ROOT", raising=False)  # the bundled sample
    return home


def _instance(home: Path) -> DagsterInstance:
    instance = DagsterInstance.from_config(str(home))
    # The file must really give PostgreSQL storage, not a silent SQLite fallback.
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    return instance


def _materializations(instance: DagsterInstance, name: str) -> list[tuple[int, str]]:
    """(storage id, run id) of every stored materialization of the asset."""
    records = instance.fetch_materializations(dg.AssetKey(name), limit=100).records
    return [(r.storage_id, r.run_id) for r in records]


def _check_outcomes(instance: DagsterInstance, run_id: str) -> dict[str, bool]:
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    assert all(e.asset_key == dg.AssetKey(SOURCE) for e in evaluations)
    return {e.check_name: e.passed for e in evaluations}


def test_materialization_persists_in_postgres(dagster_home, postgres_db, tmp_path):
    assert SOURCE in SOURCES
    definitions = defs()  # after BIMED_VAR_DIR is set: the io_manager writes under tmp_path
    instance = _instance(dagster_home)
    try:
        result = dg.materialize(
            definitions.assets,
            instance=instance,
            resources=definitions.resources,
            selection=dg.AssetSelection.assets(SOURCE, QUARANTINE),
        )
        assert result.success
        run_id = result.run_id
        assert instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS

        records = pl.read_parquet(tmp_path / "var" / "assets" / f"{SOURCE}.parquet")
        quarantine = pl.read_parquet(tmp_path / "var" / "assets" / f"{QUARANTINE}.parquet")
        assert len(records) > 0

        # Through the instance: both materializations and every check, all passing on the sample.
        event = instance.get_latest_materialization_event(dg.AssetKey(SOURCE))
        assert event is not None and event.run_id == run_id
        metadata = event.asset_materialization.metadata
        assert metadata["kept"].value == metadata["dagster/row_count"].value == len(records)
        q_event = instance.get_latest_materialization_event(dg.AssetKey(QUARANTINE))
        assert q_event is not None and q_event.run_id == run_id
        assert q_event.asset_materialization.metadata["dagster/row_count"].value == len(quarantine)
        assert _check_outcomes(instance, run_id) == {name: True for name in CHECKS}
        stored = {name: _materializations(instance, name) for name in (SOURCE, QUARANTINE)}
        assert [run for _, run in stored[SOURCE]] == [run for _, run in stored[QUARANTINE]] == [run_id]

        # Straight from the database: the rows are really in PostgreSQL.
        with psycopg.connect(ADMIN_URL, dbname=postgres_db, connect_timeout=5) as conn:
            counts = dict(
                conn.execute(
                    "SELECT dagster_event_type, count(*) FROM event_logs WHERE run_id = %s GROUP BY 1",
                    (run_id,),
                ).fetchall()
            )
            materialized = set(
                conn.execute(
                    "SELECT id, asset_key FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
                    (run_id, "ASSET_MATERIALIZATION"),
                ).fetchall()
            )
            checks = dict(
                conn.execute(
                    "SELECT check_name, execution_status FROM asset_check_executions WHERE run_id = %s",
                    (run_id,),
                ).fetchall()
            )
            runs = conn.execute("SELECT run_id, status FROM runs").fetchall()
        assert counts["ASSET_MATERIALIZATION"] == 2
        assert counts["ASSET_CHECK_EVALUATION"] == len(CHECKS)
        assert counts["PIPELINE_SUCCESS"] == 1
        assert "PIPELINE_FAILURE" not in counts
        assert materialized == {(stored[name][0][0], f'["{name}"]') for name in (SOURCE, QUARANTINE)}
        assert checks == {name: "SUCCEEDED" for name in CHECKS}
        assert runs == [(run_id, "SUCCESS")]
    finally:
        instance.dispose()

    # Nothing went to local SQLite files instead.
    assert not [p for p in dagster_home.rglob("*.db")]

    # A second, independent instance built from the same file sees the same history.
    again = _instance(dagster_home)
    try:
        assert again.get_run_ids() == [run_id]
        assert again.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS
        assert {name: _materializations(again, name) for name in (SOURCE, QUARANTINE)} == stored
        assert _check_outcomes(again, run_id) == {name: True for name in CHECKS}
    finally:
        again.dispose()

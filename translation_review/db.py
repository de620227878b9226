"""Engines and migrations. SQLite (the embedded default, in WAL mode) or PostgreSQL, from one URL."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def default_url() -> str:
    """``BIMED_REVIEW_DB`` (a SQLAlchemy URL; production: PostgreSQL), else ``var/review.sqlite``."""
    if os.environ.get("BIMED_REVIEW_DB"):
        return os.environ["BIMED_REVIEW_DB"]
    from bimed_assets.paths import var_dir

    return f"sqlite:///{var_dir() / 'review.sqlite'}"


def normalize(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy 2.0 would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str | None = None, **kwargs) -> Engine:
    url = normalize(url or default_url())
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, **{"pool_size": 20, "max_overflow": 40, **kwargs})
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

    # pysqlite's own BEGIN handling is off so that writers can take the lock up front with BEGIN IMMEDIATE:
    # a deferred transaction that reads then writes fails at once in WAL mode if another writer got in between.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine


class SqliteWriterLock:
    """One writer at a time across the threads and processes that open this SQLite file through the service.

    SQLite's own busy handler makes a blocked writer sleep and poll (1, 2, 5 … 100 ms), which under 50
    concurrent reviewers turned lock waits into seconds of latency and let unlucky writers starve. Waiting here
    instead is a queue: a thread lock within the process, then ``flock`` on a side file between processes (the
    kernel wakes the next waiter at once). ``busy_timeout`` stays as the fallback for anything else that
    writes to the file without this lock (e.g. ``sqlite3`` by hand).
    """

    def __init__(self, database: str):
        self._path = f"{database}.writer-lock"
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._thread_lock:  # flock is per open file: threads sharing the descriptor would not wait on it
            if self._pid != os.getpid():  # a forked child must not share the parent's open file (and its lock)
                self._fd, self._pid = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


def writer_lock(engine: Engine):
    """What a write transaction holds around BEGIN … COMMIT: the lock above for a SQLite file; nothing for
    PostgreSQL (row locks) or in-memory SQLite (one connection)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        return nullcontext
    return SqliteWriterLock(database)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)

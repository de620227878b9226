"""Persistent, content-addressed cache of completed LLM calls: a SQLite file in WAL mode (one machine), or a
PostgreSQL database (``postgresql://...``: steps on several machines share it).

One autocommitted row per completed call, written the moment the call completes: a run killed with
``kill -9`` leaves every answer it had received for the next run, which then pays again at most for the
calls that were in flight. WAL lets a second process on the same machine read and write the same file concurrently;
SQLite's locks do not hold across machines (network file systems), which is what the PostgreSQL form is for.
Writes are synchronous on purpose: an insert takes well under a millisecond, and committing before the
caller sees the answer is what makes the crash guarantee hold.

Answers that were paid for but could not be used (not JSON, wrong schema, rejected, cut off: ``error`` set) are
kept too, so that an unchanged rebuild does not pay for them again; each row says where it came from
(endpoint, run, item, purpose) so that ``select``/``purge`` (and ``python -m bimed_assets.llm.cache_cli``) can
find and drop the entries of a bad period of an endpoint, a run, a model or an item.

The same file keeps the finished results of whole items (``bimed_assets.llm.incremental``) with the keys of the
calls each used: purging calls drops the item results that used them, so the next build walks those items again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_random

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created_at {real} NOT NULL
)
"""
# Finished items of the incremental stages (``incremental.walk_changed``), and the calls each one's result used.
_ITEM_SCHEMA = (
    ("CREATE TABLE IF NOT EXISTS item_results (key TEXT PRIMARY KEY, stage TEXT NOT NULL, result {blob} NOT NULL, "
     "run_id TEXT, created_at {real} NOT NULL)"),
    "CREATE TABLE IF NOT EXISTS item_calls (item_key TEXT NOT NULL, call_key TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS item_calls_by_call ON item_calls (call_key)",
    "CREATE INDEX IF NOT EXISTS item_calls_by_item ON item_calls (item_key)",
)
_KEYS_PER_QUERY = 10_000  # under either database's limit of bound parameters per statement
# Added after the first release: existing cache files get them by ALTER TABLE, NULL for their old rows.
_PROVENANCE = {"error": "TEXT", "endpoint": "TEXT", "run_id": "TEXT", "item_id": "TEXT", "purpose": "TEXT"}
_COLUMNS = ("key, model, request, response, prompt_tokens, completion_tokens, created_at, error, endpoint, run_id, "
            "item_id, purpose")
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: str) -> bool:
    """A PostgreSQL URL rather than a SQLite file's path."""
    return location.startswith(_POSTGRES_SCHEMES)


def shown(location: str) -> str:
    """The location as it may be printed: a URL's password masked."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", location)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def cache_key(payload: dict[str, Any]) -> str:
    """sha256 of the generation payload (model, messages, response_format, temperature, max_tokens and any
    other generation parameter) — never the item id, replay key or credentials, so identical prompts from
    different items share one paid answer."""
    return key_of(canonical_json(payload))


def key_of(body: str) -> str:
    """``cache_key`` of a payload already in ``canonical_json``."""
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class CachedCall:
    key: str
    model: str
    request: dict[str, Any]
    response: str
    prompt_tokens: int
    completion_tokens: int
    created_at: float
    error: str | None = None  # "<reason>: <detail>" of an answer that could not be used; None: a good answer
    endpoint: str | None = None
    run_id: str | None = None
    item_id: str | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class Provenance:
    endpoint: str | None = None
    run_id: str | None = None
    item_id: str | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class Selection:
    """Which entries ``select``/``purge`` take; every field set must match (times are Unix seconds)."""

    model: str | None = None
    endpoint: str | None = None
    run_id: str | None = None
    item_id: str | None = None
    purpose: str | None = None
    since: float | None = None
    until: float | None = None
    failed_only: bool = False

    def where(self) -> tuple[str, list[Any]]:
        clauses, values = [], []
        for column in ("model", "endpoint", "run_id", "item_id", "purpose"):
            if getattr(self, column) is not None:
                clauses.append(f"{column} = ?")
                values.append(getattr(self, column))
        if self.since is not None:
            clauses.append("created_at >= ?")
            values.append(self.since)
        if self.until is not None:
            clauses.append("created_at < ?")
            values.append(self.until)
        if self.failed_only:
            clauses.append("error IS NOT NULL")
        return " AND ".join(clauses) or "1 = 1", values


def _call(row: tuple[Any, ...]) -> CachedCall:
    return CachedCall(row[0], row[1], json.loads(row[2]), *row[3:])


class CompletionCache:
    """``location``: a SQLite file's path, or a PostgreSQL URL (``is_database_url``) for steps on several machines."""

    def __init__(self, location: str | Path) -> None:
        location = str(location)
        if "://" in location and not is_database_url(location):  # not to become a file named after a URL
            raise ValueError(f"LLM cache {shown(location)!r}: expected a SQLite file's path or a postgresql:// URL")
        self._lock = threading.Lock()  # the Dagster resource may share one cache across threads
        self._url = location if is_database_url(location) else None
        self._in_transaction = False
        self._put = self._upsert("completions", _COLUMNS)  # the statement of every answer: built once
        if self._url is not None:
            self._db = self._connect()
            with self._transaction():
                # Steps starting at once would race to create the tables (CREATE ... IF NOT EXISTS is not atomic
                # in PostgreSQL): one at a time.
                self._run("SELECT pg_advisory_xact_lock(hashtext('bimed-llm-cache-schema'))")
                self._create_schema(real="DOUBLE PRECISION", blob="BYTEA")
            return
        Path(location).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit, so each insert is its own durable transaction.
        self._db = sqlite3.connect(location, timeout=30, isolation_level=None, check_same_thread=False)
        # Two processes switching a new file to WAL at once get "database is locked" at once, without the
        # busy timeout applying; the loser just tries again.
        for attempt in Retrying(retry=retry_if_exception_type(sqlite3.OperationalError), stop=stop_after_delay(30),
                                wait=wait_random(0.01, 0.1), reraise=True):
            with attempt, self._lock:
                self._db.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL survives a process crash; only an OS crash can lose the last commits.
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._create_schema(real="REAL", blob="BLOB")

    def _connect(self) -> Any:
        import psycopg  # only where a PostgreSQL cache is configured

        connection = psycopg.connect(self._url, autocommit=True)  # autocommit: each insert is its own transaction
        # As SQLite's synchronous=NORMAL: a commit is on the server when it returns, which survives any crash of
        # ours, without each insert (on the event loop) also waiting for the server's disk; only a crash of the
        # database server itself can lose its last commits.
        connection.execute("SET synchronous_commit = off")
        return connection

    def _create_schema(self, *, real: str, blob: str) -> None:
        self._run(_SCHEMA.format(real=real))
        for statement in _ITEM_SCHEMA:
            self._run(statement.format(real=real, blob=blob))
        if self._url is None:
            present = {row[1] for row in self._run("PRAGMA table_info(completions)")}
        else:
            present = {row[0] for row in self._run(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = 'completions'")}
        for column, kind in _PROVENANCE.items():
            if column not in present:
                self._run(f"ALTER TABLE completions ADD COLUMN {column} {kind}")

    def _run(self, sql: str, values: Sequence[Any] = ()) -> Any:
        """Executes one statement written with ``?`` placeholders, on either database; returns the cursor."""
        if self._url is None:
            return self._db.execute(sql, values)
        sql = sql.replace("?", "%s")
        try:
            return self._db.execute(sql, values)
        except Exception:
            # The server closed the connection (a restart, a failover, an idle timeout): connect again and retry
            # once, so that an answer just paid for is not lost with it. Not inside a transaction, whose earlier
            # statements went with the old connection: that one fails, and is rolled back.
            if self._in_transaction or not (self._db.closed or self._db.broken):
                raise
        self._db = self._connect()
        return self._db.execute(sql, values)

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if self._url is None:
            self._db.executemany(sql, rows)
        else:
            self._db.cursor().executemany(sql.replace("?", "%s"), rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction: committed at the end of the block, rolled back on an error."""
        if self._url is not None:
            self._run("SELECT 1")  # a connection dropped while idle (a long walk) is replaced before, not during
            self._in_transaction = True
            try:
                with self._db.transaction():
                    yield
            finally:
                self._in_transaction = False
            return
        with self._db:  # the sqlite3 connection as a context manager commits, or rolls back
            self._db.execute("BEGIN IMMEDIATE")
            yield

    def _upsert(self, table: str, columns: str) -> str:
        """INSERT, replacing the row with the same key."""
        marks = ", ".join("?" * len(columns.split(",")))
        if self._url is None:
            return f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({marks})"
        updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in (c.strip() for c in columns.split(","))
                            if name != "key")
        return f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT (key) DO UPDATE SET {updates}"

    def get(self, key: str) -> CachedCall | None:
        with self._lock:
            row = self._run(f"SELECT {_COLUMNS} FROM completions WHERE key = ?", (key,)).fetchone()
        return None if row is None else _call(row)

    def put(self, key: str, model: str, request_json: str, response: str,
            prompt_tokens: int, completion_tokens: int, provenance: Provenance = Provenance(), *,
            error: str | None = None) -> None:
        with self._lock:
            self._run(
                self._put,
                (key, model, request_json, response, prompt_tokens, completion_tokens, time.time(),
                 error, provenance.endpoint, provenance.run_id, provenance.item_id, provenance.purpose))

    def select(self, selection: Selection, limit: int | None = None) -> list[CachedCall]:
        where, values = selection.where()
        sql = f"SELECT {_COLUMNS} FROM completions WHERE {where} ORDER BY created_at"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            return [_call(row) for row in self._run(sql, values)]

    def summary(self, selection: Selection) -> list[dict[str, Any]]:
        """Entries, failed entries and tokens per model and endpoint."""
        where, values = selection.where()
        with self._lock:
            rows = self._run(
                "SELECT model, endpoint, count(*), count(error), sum(prompt_tokens + completion_tokens),"
                f" min(created_at), max(created_at) FROM completions WHERE {where} GROUP BY model, endpoint"
                " ORDER BY model, endpoint", values).fetchall()
        names = ("model", "endpoint", "entries", "failed", "tokens", "first", "last")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def purge(self, selection: Selection) -> int:
        """Deletes the selected entries, and the item results that used any of them; how many entries."""
        where, values = selection.where()
        with self._lock, self._transaction():
            self._run("CREATE TEMP TABLE purged_items AS SELECT DISTINCT item_key FROM item_calls "
                      f"WHERE call_key IN (SELECT key FROM completions WHERE {where})", values)
            self._run("DELETE FROM item_results WHERE key IN (SELECT item_key FROM purged_items)")
            self._run("DELETE FROM item_calls WHERE item_key IN (SELECT item_key FROM purged_items)")
            self._run("DROP TABLE purged_items")
            return self._run(f"DELETE FROM completions WHERE {where}", values).rowcount

    def item_results(self, keys: list[str]) -> dict[str, bytes]:
        """The kept results among ``keys`` (``keep_item_results``), by key."""
        found: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                chunk = keys[start:start + _KEYS_PER_QUERY]
                found.update(self._run(
                    f"SELECT key, result FROM item_results WHERE key IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def keep_item_results(self, stage: str, results: list[tuple[str, bytes, list[str]]],
                          run_id: str | None = None) -> None:
        """Stores (item key, result, the cache keys of the calls it used) rows in one transaction."""
        now = time.time()
        with self._lock, self._transaction():
            self._many("DELETE FROM item_calls WHERE item_key = ?", [(key,) for key, _, _ in results])
            self._many(self._upsert("item_results", "key, stage, result, run_id, created_at"),
                       [(key, stage, result, run_id, now) for key, result, _ in results])
            self._many("INSERT INTO item_calls (item_key, call_key) VALUES (?, ?)",
                       [(key, call) for key, _, calls in results for call in set(calls)])

    def __len__(self) -> int:
        """Good answers (failed ones are counted by ``summary``)."""
        with self._lock:
            return self._run("SELECT count(*) FROM completions WHERE error IS NULL").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

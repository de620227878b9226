"""Persistent, content-addressed cache of completed LLM calls (SQLite in WAL mode).

One autocommitted row per completed call, written the moment the call completes: a run killed with
``kill -9`` leaves every answer it had received for the next run, which then pays again at most for the
calls that were in flight. WAL lets a second process read and write the same file concurrently.
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

import hashlib
import json
import sqlite3
import threading
import time
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
    created_at REAL NOT NULL
)
"""
# Finished items of the incremental stages (``incremental.walk_changed``), and the calls each one's result used.
_ITEM_SCHEMA = (
    ("CREATE TABLE IF NOT EXISTS item_results (key TEXT PRIMARY KEY, stage TEXT NOT NULL, result BLOB NOT NULL, "
     "run_id TEXT, created_at REAL NOT NULL)"),
    "CREATE TABLE IF NOT EXISTS item_calls (item_key TEXT NOT NULL, call_key TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS item_calls_by_call ON item_calls (call_key)",
    "CREATE INDEX IF NOT EXISTS item_calls_by_item ON item_calls (item_key)",
)
_KEYS_PER_QUERY = 10_000  # under SQLite's limit of bound parameters per statement
# Added after the first release: existing cache files get them by ALTER TABLE, NULL for their old rows.
_PROVENANCE = {"error": "TEXT", "endpoint": "TEXT", "run_id": "TEXT", "item_id": "TEXT", "purpose": "TEXT"}
_COLUMNS = ("key, model, request, response, prompt_tokens, completion_tokens, created_at, error, endpoint, run_id, "
            "item_id, purpose")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def cache_key(payload: dict[str, Any]) -> str:
    """sha256 of the generation payload (model, messages, response_format, temperature, max_tokens and any
    other generation parameter) — never the item id, replay key or credentials, so identical prompts from
    different items share one paid answer."""
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


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
        return " AND ".join(clauses) or "1", values


def _call(row: tuple[Any, ...]) -> CachedCall:
    return CachedCall(row[0], row[1], json.loads(row[2]), *row[3:])


class CompletionCache:
    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit, so each insert is its own durable transaction.
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()  # the Dagster resource may share one cache across threads
        # Two processes switching a new file to WAL at once get "database is locked" at once, without the
        # busy timeout applying; the loser just tries again.
        for attempt in Retrying(retry=retry_if_exception_type(sqlite3.OperationalError), stop=stop_after_delay(30),
                                wait=wait_random(0.01, 0.1), reraise=True):
            with attempt, self._lock:
                self._db.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL survives a process crash; only an OS crash can lose the last commits.
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute(_SCHEMA)
                for statement in _ITEM_SCHEMA:
                    self._db.execute(statement)
                present = {row[1] for row in self._db.execute("PRAGMA table_info(completions)")}
                for column, kind in _PROVENANCE.items():
                    if column not in present:
                        self._db.execute(f"ALTER TABLE completions ADD COLUMN {column} {kind}")

    def get(self, key: str) -> CachedCall | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM completions WHERE key = ?", (key,)).fetchone()
        return None if row is None else _call(row)

    def put(self, key: str, model: str, request: dict[str, Any], response: str,
            prompt_tokens: int, completion_tokens: int, provenance: Provenance = Provenance(), *,
            error: str | None = None) -> None:
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO completions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, model, canonical_json(request), response, prompt_tokens, completion_tokens, time.time(),
                 error, provenance.endpoint, provenance.run_id, provenance.item_id, provenance.purpose))

    def select(self, selection: Selection, limit: int | None = None) -> list[CachedCall]:
        where, values = selection.where()
        sql = f"SELECT {_COLUMNS} FROM completions WHERE {where} ORDER BY created_at"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            return [_call(row) for row in self._db.execute(sql, values)]

    def summary(self, selection: Selection) -> list[dict[str, Any]]:
        """Entries, failed entries and tokens per model and endpoint."""
        where, values = selection.where()
        with self._lock:
            rows = self._db.execute(
                "SELECT model, endpoint, count(*), count(error), sum(prompt_tokens + completion_tokens),"
                f" min(created_at), max(created_at) FROM completions WHERE {where} GROUP BY model, endpoint"
                " ORDER BY model, endpoint", values).fetchall()
        names = ("model", "endpoint", "entries", "failed", "tokens", "first", "last")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def purge(self, selection: Selection) -> int:
        """Deletes the selected entries, and the item results that used any of them; how many entries."""
        where, values = selection.where()
        # One transaction (the connection as a context manager commits it, or rolls it back on an error).
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("CREATE TEMP TABLE purged_items AS SELECT DISTINCT item_key FROM item_calls "
                             f"WHERE call_key IN (SELECT key FROM completions WHERE {where})", values)
            self._db.execute("DELETE FROM item_results WHERE key IN (SELECT item_key FROM purged_items)")
            self._db.execute("DELETE FROM item_calls WHERE item_key IN (SELECT item_key FROM purged_items)")
            self._db.execute("DROP TABLE purged_items")
            return self._db.execute(f"DELETE FROM completions WHERE {where}", values).rowcount

    def item_results(self, keys: list[str]) -> dict[str, bytes]:
        """The kept results among ``keys`` (``keep_item_results``), by key."""
        found: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                chunk = keys[start:start + _KEYS_PER_QUERY]
                found.update(self._db.execute(
                    f"SELECT key, result FROM item_results WHERE key IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def keep_item_results(self, stage: str, results: list[tuple[str, bytes, list[str]]],
                          run_id: str | None = None) -> None:
        """Stores (item key, result, the cache keys of the calls it used) rows in one transaction."""
        now = time.time()
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM item_calls WHERE item_key = ?", [(key,) for key, _, _ in results])
            self._db.executemany(
                "INSERT OR REPLACE INTO item_results (key, stage, result, run_id, created_at) VALUES (?, ?, ?, ?, ?)",
                [(key, stage, result, run_id, now) for key, result, _ in results])
            self._db.executemany("INSERT INTO item_calls (item_key, call_key) VALUES (?, ?)",
                                 [(key, call) for key, _, calls in results for call in set(calls)])

    def __len__(self) -> int:
        """Good answers (failed ones are counted by ``summary``)."""
        with self._lock:
            return self._db.execute("SELECT count(*) FROM completions WHERE error IS NULL").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

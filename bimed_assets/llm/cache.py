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
        """Deletes the selected entries; how many."""
        where, values = selection.where()
        with self._lock:
            return self._db.execute(f"DELETE FROM completions WHERE {where}", values).rowcount

    def __len__(self) -> int:
        """Good answers (failed ones are counted by ``summary``)."""
        with self._lock:
            return self._db.execute("SELECT count(*) FROM completions WHERE error IS NULL").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

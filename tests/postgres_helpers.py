"""A throwaway PostgreSQL database for a test (a plain module: the fixture, ``postgres_database``, is in
conftest.py). The server is the one of ``ADMIN_URL``; an unreachable one skips the test (a failure under CI)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

# A libpq URL of a database the user may CREATE DATABASE from (trust auth on the test machine).
ADMIN_URL = os.environ.get("BIMED_TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    """A fresh, uniquely named database; yields its URL (postgresql://...). Dropped afterwards, its connections
    terminated."""
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL server unreachable at {ADMIN_URL}: {exc}".strip())
    name = f"bimed_test_{uuid.uuid4().hex[:16]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

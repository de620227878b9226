"""Review-store fixtures: a service on a fresh SQLite file or a fresh PostgreSQL database, and sample items.

PostgreSQL: each test gets its own throwaway database (``postgres_database`` in tests/conftest.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import make_url

from translation_review.service import ReviewService


class Clock:
    """A settable clock, so that leases expire without waiting."""

    def __init__(self):
        self.now = datetime(2025, 1, 1, 9, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def postgres_url(postgres_database):
    """A fresh PostgreSQL database (tests/conftest.py), as the SQLAlchemy URL of the psycopg 3 driver."""
    return make_url(postgres_database).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'review.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def service(db_url, clock):
    svc = ReviewService(db_url, clock=clock, lease=timedelta(minutes=15))
    yield svc
    svc.engine.dispose()

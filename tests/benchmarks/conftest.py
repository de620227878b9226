"""Benchmark fixtures: the bundled sample's evaluation sets, and a review store on a fresh SQLite file."""

from __future__ import annotations

import polars as pl
import pytest

from bimed_assets.sources import SOURCES, load_files
from bimed_assets.sources.pools import evaluation_sets
from translation_review.service import ReviewService


@pytest.fixture(scope="session")
def evaluation() -> pl.DataFrame:
    return evaluation_sets([load_files(spec).records for spec in SOURCES.values()])


@pytest.fixture
def service(tmp_path):
    svc = ReviewService(f"sqlite:///{tmp_path / 'review.sqlite'}")
    yield svc
    svc.engine.dispose()

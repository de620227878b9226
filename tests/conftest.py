"""Shared fixtures: where the real source files live; and under ``CI``, no test may skip.

A test skips on a developer's machine when a dependency is missing (Chromium, PostgreSQL, Redis, the training
stack, the real data). CI must have all of them, so there a skip is turned into a failure that names what is
missing: a green CI always means every test ran. Only tests marked ``needs_gpu`` may skip there (CI has no GPU).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_helpers import throwaway_database

REPO = Path(__file__).resolve().parent.parent
ON_CI = bool(os.environ.get("CI"))


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_gpu: needs a CUDA device; the only tests that may skip under CI")


def _fail_skip_under_ci(report, node) -> None:
    if ON_CI and report.skipped and not hasattr(report, "wasxfail") and not node.get_closest_marker("needs_gpu"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (f"{reason}\n(CI is set: a missing dependency fails the run instead of skipping; "
                           "make test installs them all)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip_under_ci(outcome.get_result(), item)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip_under_ci(outcome.get_result(), collector)


def _real_data_dir() -> Path:
    """The real, full-size source files: ``$BIMED_REAL_DATA``, else ``shared/data/real`` beside the clone."""
    if os.environ.get("BIMED_REAL_DATA"):
        return Path(os.environ["BIMED_REAL_DATA"])
    return (REPO.parent / "shared" / "data" / "real").resolve()


@pytest.fixture(scope="session")
def real_data() -> Path:
    path = _real_data_dir()
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real source files not found at {path}; CI must have shared/ beside the clone")
        pytest.skip(f"real source files not found at {path} (set BIMED_REAL_DATA)")
    return path



@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; its URL (``postgres_helpers.throwaway_database``)."""
    with throwaway_database() as url:
        yield url

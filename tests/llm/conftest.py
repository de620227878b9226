"""Fixtures for the LLM layer: a real HTTP test server per test, and clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from llm_helpers import CLIENT_TIMEOUT

from bimed_assets.llm.test_server import OpenAITestServer, ServerConfig


@pytest.fixture
def start_server() -> Iterator[Callable[..., OpenAITestServer]]:
    """start_server(**ServerConfig fields) -> a running server, stopped after the test."""
    servers: list[OpenAITestServer] = []

    def start(**config: object) -> OpenAITestServer:
        config.setdefault("hang", CLIENT_TIMEOUT * 3)
        servers.append(OpenAITestServer(ServerConfig(**config)).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cache_location(request, tmp_path) -> str:
    """Where the LLM cache lives: a SQLite file, or a fresh PostgreSQL database (what steps on several machines
    share)."""
    if request.param == "sqlite":
        return str(tmp_path / "llm.sqlite")
    return request.getfixturevalue("postgres_database")

"""Fixtures for the chat tests: the bundled sample's MCQA vignettes and a real HTTP test server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bimed_assets.llm.test_server import OpenAITestServer, ServerConfig
from bimed_assets.sources import SOURCES, load_files
from bimed_assets.sources.pools import training_pool


@pytest.fixture(scope="session")
def pool():
    return training_pool([load_files(source).records for source in SOURCES.values()])


@pytest.fixture
def start_server() -> Iterator[Callable[..., OpenAITestServer]]:
    """start_server(**ServerConfig fields) -> a running server, stopped after the test."""
    servers: list[OpenAITestServer] = []

    def start(**config: object) -> OpenAITestServer:
        servers.append(OpenAITestServer(ServerConfig(**config)).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()

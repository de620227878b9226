"""Helpers shared by the LLM tests (a plain module: conftest.py is for fixtures)."""

from __future__ import annotations

import asyncio

from bimed_assets.llm.client import Completion, LLMClient, LLMConfig, LLMRequest, Outcome
from bimed_assets.llm.pricing import UsageMeter
from bimed_assets.llm.test_server import OpenAITestServer

# Far above any answer's time on a loaded 2-core machine, so a slow answer is never taken for a hung one (and
# asked, and paid, twice). Only the tests of the "timeout" fault wait a client timeout out, with one of their own.
CLIENT_TIMEOUT = 60.0
HUNG_REQUEST_TIMEOUT = 2.0  # those tests: one request each, answered in milliseconds when not hung


def config_for(server: OpenAITestServer, **overrides: object) -> LLMConfig:
    """Fast retries, so that tests measure the policy rather than wait on it."""
    fields = {"base_url": server.url, "model": "test-model", "api_key": "sk-test", "concurrency": 8,
              "timeout": CLIENT_TIMEOUT, "backoff_initial": 0.01, "backoff_max": 0.05} | overrides
    return LLMConfig(**fields)


def ask(text: str, **fields: object) -> LLMRequest:
    return LLMRequest([{"role": "user", "content": text}], **fields)


def complete(config: LLMConfig, request: LLMRequest) -> tuple[Completion, UsageMeter]:
    async def go() -> tuple[Completion, UsageMeter]:
        async with LLMClient(config) as llm:
            return await llm.complete(request), llm.meter

    return asyncio.run(go())


def run_many(config: LLMConfig, requests: list[LLMRequest]) -> tuple[list[Outcome], LLMClient]:
    async def go() -> tuple[list[Outcome], LLMClient]:
        async with LLMClient(config) as llm:
            return await llm.run_many(requests), llm

    return asyncio.run(go())

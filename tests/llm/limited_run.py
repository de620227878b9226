"""A batch run in its own process, limited through the shared Redis budget:
limited_run.py BASE_URL LIMITER_URL PREFIX TAG N RPM."""

from __future__ import annotations

import asyncio
import sys

from llm_helpers import ask

from bimed_assets.llm.client import LLMClient, LLMConfig


async def main(base_url: str, limiter_url: str, prefix: str, tag: str, n: int, rpm: float) -> None:
    config = LLMConfig(base_url=base_url, model="test-model", api_key="sk-test", concurrency=16, rpm=rpm,
                       limiter_url=limiter_url, limiter_prefix=prefix)
    async with LLMClient(config) as llm:
        outcomes = await llm.run_many([ask(f"{tag} {i}") for i in range(n)])
    print(sum(outcome.ok for outcome in outcomes), "ok")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5], int(sys.argv[5]), float(sys.argv[6])))

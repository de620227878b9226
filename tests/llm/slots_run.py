"""A batch run in its own process that takes its in-flight slots from the machine's lock file:
slots_run.py BASE_URL SLOTS_PATH CONCURRENCY TAG N."""

from __future__ import annotations

import asyncio
import sys

from llm_helpers import ask

from bimed_assets.llm.client import LLMClient, LLMConfig


async def main(base_url: str, slots_path: str, concurrency: int, tag: str, n: int) -> None:
    config = LLMConfig(base_url=base_url, model="test-model", api_key="sk-test", concurrency=concurrency,
                       slots_path=slots_path)
    async with LLMClient(config) as llm:
        outcomes = await llm.run_many([ask(f"{tag} {i}") for i in range(n)])
    print(sum(outcome.ok for outcome in outcomes), "ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])))

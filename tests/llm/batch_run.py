"""A batch run in its own process, for the kill -9 test: batch_run.py BASE_URL CACHE_PATH N CONCURRENCY."""

from __future__ import annotations

import asyncio
import sys

from bimed_assets.llm.client import LLMClient, LLMConfig, LLMRequest


def requests(n: int) -> list[LLMRequest]:
    return [LLMRequest([{"role": "user", "content": f"Translate item {i}"}], item_id=f"item-{i}")
            for i in range(n)]


async def main(base_url: str, cache_path: str, n: int, concurrency: int) -> None:
    config = LLMConfig(base_url=base_url, model="test-model", api_key="sk-test", cache_path=cache_path,
                       concurrency=concurrency, timeout=60)
    async with LLMClient(config) as llm:
        outcomes = await llm.run_many(requests(n))
    print(sum(outcome.ok for outcome in outcomes), "ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))

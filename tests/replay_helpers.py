"""Helpers for tests that replay the bundled LLM recordings (``tests/`` is on the path through its conftest)."""

import json
from pathlib import Path

from bimed_assets.llm.client import LLMClient, LLMConfig, LLMRequest


def recorded_keys(path: Path) -> list[str]:
    """The replay keys of a recordings file, in file order."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line)["key"] for line in lines if line.strip()]


class CountingClient(LLMClient):
    """The real client in replay mode, noting the replay key of every request it is asked."""

    def __init__(self, config: LLMConfig) -> None:
        super().__init__(config)
        self.asked: list[str] = []

    async def complete(self, request: LLMRequest):
        self.asked.append(request.replay_key)
        return await super().complete(request)

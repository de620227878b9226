"""The per-item loop: write a chat, validate it, rewrite it with the problems as feedback, then quarantine.

Attempt n: the writer gets the item (and, from attempt 2, its previous chat and that chat's problems) →
``validation.validate`` → a chat without problems is kept. After ``max_attempts`` the item is quarantined
with the problems of its last attempt. An LLM failure (after the client's own retries) quarantines the item
with the LLM's reason; its completed calls are in the cache, so the next run resumes it at no cost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bimed_assets.chats import prompts
from bimed_assets.chats.validation import ChatRules, Problem, validate
from bimed_assets.llm.client import LLMClient
from bimed_assets.llm.errors import LLMError
from bimed_assets.llm.progress import Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SynthesisConfig:
    rules: ChatRules = field(default_factory=ChatRules)
    max_attempts: int = 3  # chats written per item before it is quarantined


@dataclass
class ChatAttempt:
    attempt: int
    turns: list[dict[str, str]]
    problems: list[Problem]


@dataclass
class ChatResult:
    item_id: str
    status: Literal["valid", "invalid", "failed"]  # invalid: every attempt failed validation
    attempts: list[ChatAttempt]
    error: LLMError | None = None

    @property
    def final(self) -> ChatAttempt | None:
        return self.attempts[-1] if self.attempts else None


async def synthesize_item(llm: LLMClient, item: Mapping[str, Any], config: SynthesisConfig) -> ChatResult:
    attempts: list[ChatAttempt] = []
    try:
        for number in range(1, config.max_attempts + 1):
            previous = attempts[-1] if attempts else None
            answer = await llm.complete(prompts.synthesize(
                item, number, config.rules, previous and previous.turns, previous.problems if previous else ()))
            turns = answer.parsed["turns"]
            attempt = ChatAttempt(number, turns, validate(turns, item, config.rules))
            attempts.append(attempt)
            if not attempt.problems:
                return ChatResult(item["id"], "valid", attempts)
    except LLMError as exc:
        return ChatResult(item["id"], "failed", attempts, exc)
    except Exception as exc:  # a bug on one item must not take the batch, and its paid calls, down with it
        log.exception("synthesizing a chat for %s failed", item["id"])
        return ChatResult(item["id"], "failed", attempts,
                          LLMError("internal_error", f"{type(exc).__name__}: {exc}", item_id=item["id"]))
    return ChatResult(item["id"], "invalid", attempts)


async def synthesize_all(llm: LLMClient, items: Iterable[Mapping[str, Any]], config: SynthesisConfig
                         ) -> list[ChatResult]:
    """One result per item, in input order, whatever fails."""
    work = list(items)
    results: list[ChatResult] = [None] * len(work)  # type: ignore[list-item]
    pending = iter(enumerate(work))
    progress = Progress(log, "chat synthesis", len(work), llm.meter)

    async def worker() -> None:
        for index, item in pending:  # one shared iterator: each item is taken exactly once
            results[index] = await synthesize_item(llm, item, config)
            progress.item(results[index].status)

    # An item's attempts are sequential: keep about as many items in flight as the client has HTTP slots.
    await asyncio.gather(*(worker() for _ in range(min(len(work), 2 * llm.config.concurrency))))
    progress.finish()
    return results

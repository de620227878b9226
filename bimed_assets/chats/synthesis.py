"""The per-item loop: write a chat, validate it, rewrite it with the problems as feedback, then quarantine.

Attempt n: the writer gets the item (and, from attempt 2, its previous chat and that chat's problems) →
``validation.validate`` → a chat without problems is kept. After ``max_attempts`` the item is quarantined
with the problems of its last attempt. An LLM failure (after the client's own retries) quarantines the item
with the LLM's reason; its completed calls are in the cache, so the next run resumes it at no cost.

``synthesize_changed`` walks only new or changed items (``bimed_assets.llm.incremental``): an item with a chat (or
a quarantine for invalid chats) from an earlier build with the same code, settings and model keeps its result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bimed_assets.chats import prompts
from bimed_assets.chats.validation import ChatRules, Problem, validate
from bimed_assets.llm import incremental
from bimed_assets.llm.client import LLMClient, LLMConfig
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
    calls: list[str] = field(default_factory=list)  # cache keys of the answers used (``llm.incremental``)
    reused: bool = field(default=False, compare=False)  # kept from an earlier build, not walked in this one

    @property
    def final(self) -> ChatAttempt | None:
        return self.attempts[-1] if self.attempts else None


async def synthesize_item(llm: LLMClient, item: Mapping[str, Any], config: SynthesisConfig) -> ChatResult:
    attempts: list[ChatAttempt] = []
    calls: list[str] = []
    try:
        for number in range(1, config.max_attempts + 1):
            previous = attempts[-1] if attempts else None
            answer = await llm.complete(prompts.synthesize(
                item, number, config.rules, previous and previous.turns, previous.problems if previous else ()))
            calls.append(answer.key)
            turns = answer.parsed["turns"]
            attempt = ChatAttempt(number, turns, validate(turns, item, config.rules))
            attempts.append(attempt)
            if not attempt.problems:
                return ChatResult(item["id"], "valid", attempts, calls=calls)
    except LLMError as exc:
        return ChatResult(item["id"], "failed", attempts, exc, calls)
    except Exception as exc:  # a bug on one item must not take the batch, and its paid calls, down with it
        log.exception("synthesizing a chat for %s failed", item["id"])
        return ChatResult(item["id"], "failed", attempts,
                          LLMError("internal_error", f"{type(exc).__name__}: {exc}", item_id=item["id"]), calls)
    return ChatResult(item["id"], "invalid", attempts, calls=calls)


async def synthesize_all(llm: LLMClient, items: Iterable[Mapping[str, Any]], config: SynthesisConfig,
                         keep: incremental.Keep | None = None) -> list[ChatResult]:
    """One result per item, in input order, whatever fails; ``keep`` is given each (with its index) as it ends."""
    work = list(items)
    results: list[ChatResult] = [None] * len(work)  # type: ignore[list-item]
    pending = iter(enumerate(work))
    progress = Progress(log, "chat synthesis", len(work), llm.meter)

    async def worker() -> None:
        for index, item in pending:  # one shared iterator: each item is taken exactly once
            results[index] = await synthesize_item(llm, item, config)
            progress.item(results[index].status)
            if keep is not None:
                keep(index, results[index])

    # An item's attempts are sequential: keep about as many items in flight as the client has HTTP slots.
    await asyncio.gather(*(worker() for _ in range(min(len(work), 2 * llm.config.concurrency))))
    progress.finish()
    return results


# What decides an item's chat: the loop, its prompts and validation (and what they import).
CODE_VERSION = incremental.code_version(__name__)


def synthesize_changed(llm: LLMConfig, items: Sequence[Mapping[str, Any]], config: SynthesisConfig
                       ) -> tuple[list[ChatResult], incremental.Usage]:
    """``synthesize_all`` in a client of its own over the new or changed items; the others keep their earlier
    result (``ChatResult.reused``). Results in input order, and the LLM usage of the items walked."""
    async def walk(todo: list[Mapping[str, Any]], keep: incremental.Keep | None
                   ) -> tuple[list[ChatResult], incremental.Usage]:
        async with LLMClient(llm) as client:
            return await synthesize_all(client, todo, config, keep), client.meter.snapshot()

    stage = incremental.Stage("chat_synthesis", CODE_VERSION, asdict(config))
    return incremental.walk_changed(llm, stage, items, lambda todo, keep: asyncio.run(walk(todo, keep)))

"""Iterative translation of one sample: translate, check, score, re-translate with feedback.

Round n: translate (with the feedback of round n-1) → clinical-fidelity checks → when they pass, the LLM
judge (told what the checks flag without failing, such as a negation in one language only) and, if enabled, the back-translation chrF → accept at or above the threshold. A failed fidelity check
skips both scorers (the attempt has failed whatever they would say, and skipping them saves two calls) and
its reasons are the feedback. After ``max_rounds`` the item goes to human review with every attempt. An LLM
failure (after the client's own retries) ends the item as ``failed`` with the reason; its completed calls are
in the LLM cache, so the next run resumes it at no cost.

The fidelity checks and chrF go through ``offload``: by default on the event loop, one at a time between its
passes over the answers that have arrived (``Interleaved``); ``parallel.translate_parallel`` can run them in
worker processes instead.

An item accepted in round 1 costs 2 calls (translate + judge), 3 with back-translation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bimed_assets.llm.client import LLMClient, LLMRequest
from bimed_assets.llm.errors import LLMError
from bimed_assets.llm.progress import Progress
from bimed_assets.translation import documents, prompts
from bimed_assets.translation.scoring import (
    ScoringConfig,
    back_translation_chrf,
    combined,
    fidelity_failures,
    fidelity_signals,
)

log = logging.getLogger(__name__)

Offload = Callable[..., Awaitable[Any]]  # offload(fn, *args) -> fn(*args), wherever it runs


class Interleaved:
    """An ``Offload`` that runs the checks in this event loop, one at a time, each in its own pass of the loop, so
    that between two checks the loop reads the answers that have arrived and sends the requests waiting for their
    slots.

    Run at once by the task whose answer needs them, the checks of every answer read in one pass (~1 ms each) ran
    in that pass, and every other call's answer waited for all of them. A lone translation step of 4,000 items
    (64 calls in flight, a 200 ms test server; a throwaway script, one sitting) then held a call 224 ms on average
    and reached 0.84–0.85 of the ideal; with the checks one per pass, 208–209 ms and 0.90–0.91. In the backfill of
    bench/partitioned_budget.py, where 8 processes share 2 cores, the gain was ~0.01 (paired; its results file at
    commit bf1c803)."""

    def __init__(self) -> None:
        self._turn = asyncio.Lock()  # first come, first served

    async def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        async with self._turn:
            result = fn(*args)
            # Keep the turn to the end of this pass: another task of the same pass would otherwise find it free.
            await asyncio.sleep(0)
        return result


@dataclass
class Attempt:
    round: int
    translation: dict[str, Any]
    fidelity: list[str]  # failed clinical-fidelity checks, "<check>: <field>: <detail>"
    judge_score: float | None = None
    judge_errors: list[str] = field(default_factory=list)
    chrf: float | None = None
    score: float | None = None  # combined; None when fidelity failed and the scorers were skipped
    passed: bool = False
    # What the checks flag without failing (a negation in one language only, a question not asked, an addition),
    # given to the judge to verify:
    # "<signal>: <field>: <detail>"
    signals: list[str] = field(default_factory=list)

    def feedback(self) -> list[str]:
        if self.fidelity or self.judge_errors:
            return [*self.fidelity, *self.judge_errors]
        return [(f"the translation scored {self.score:.0f}/100, below the acceptance threshold: improve accuracy, "
                 "terminology and fluency")]


@dataclass
class ItemResult:
    item_id: str
    document: dict[str, Any]
    status: Literal["accepted", "review", "failed"]
    attempts: list[Attempt]
    error: LLMError | None = None
    calls: list[str] = field(default_factory=list)  # cache keys of the answers used (``llm.incremental``)
    reused: bool = field(default=False, compare=False)  # kept from an earlier build, not walked in this one

    @property
    def final(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


def _seeded(request: LLMRequest, seed: int | None) -> LLMRequest:
    """A fresh seed makes every call of an item a new request (a new cache key), so that an item can be
    translated afresh, e.g. from the review queue, without purging its cached answers."""
    if seed is not None:
        request.params = {**request.params, "seed": seed}
    return request


async def translate_item(llm: LLMClient, item_id: str, doc: dict[str, Any], config: ScoringConfig,
                         offload: Offload | None = None, seed: int | None = None) -> ItemResult:
    offload = offload or Interleaved()
    attempts: list[Attempt] = []
    calls: list[str] = []

    async def ask(request: LLMRequest) -> Any:
        answer = await llm.complete(_seeded(request, seed))
        calls.append(answer.key)
        return answer.parsed

    try:
        for round_ in range(1, config.max_rounds + 1):
            previous = attempts[-1] if attempts else None
            translation = await ask(prompts.translate(
                item_id, doc, round_, previous and previous.translation, previous.feedback() if previous else ()))
            attempt = Attempt(round_, translation, await offload(fidelity_failures, doc, translation))
            attempts.append(attempt)
            if attempt.fidelity:
                continue
            attempt.signals = await offload(fidelity_signals, doc, translation)
            assessment = await ask(prompts.judge(item_id, doc, attempt.translation, round_, attempt.signals))
            attempt.judge_score, attempt.judge_errors = float(assessment["score"]), list(assessment["errors"])
            if config.back_translation:
                back = await ask(prompts.back_translate(item_id, attempt.translation, round_))
                attempt.chrf = await offload(back_translation_chrf, back, doc)
            attempt.score = combined(config, attempt.judge_score, attempt.chrf)
            attempt.passed = attempt.score >= config.threshold
            if attempt.passed:
                return ItemResult(item_id, doc, "accepted", attempts, calls=calls)
    except LLMError as exc:
        return ItemResult(item_id, doc, "failed", attempts, exc, calls)
    except Exception as exc:  # a bug on one item must not take the batch, and its paid calls, down with it
        log.exception("translating %s failed", item_id)
        return ItemResult(item_id, doc, "failed", attempts,
                          LLMError("internal_error", f"{type(exc).__name__}: {exc}", item_id=item_id), calls)
    return ItemResult(item_id, doc, "review", attempts, calls=calls)


async def translate_all(
    llm: LLMClient, samples: Iterable[Mapping[str, Any]], config: ScoringConfig, offload: Offload | None = None,
    seed: int | None = None, keep: Callable[[int, ItemResult], None] | None = None,
) -> list[ItemResult]:
    """Every sample ends accepted, in review, or failed with a reason; results keep the input order, and ``keep``
    is given each (with its index) as it ends."""
    offload = offload or Interleaved()
    work = [(sample["id"], documents.document(sample)) for sample in samples]
    results: list[ItemResult] = [None] * len(work)  # type: ignore[list-item]
    pending = iter(enumerate(work))
    progress = Progress(log, "translation", len(work), llm.meter)

    async def worker() -> None:
        for index, (item_id, doc) in pending:  # one shared iterator: each item is taken exactly once
            results[index] = await translate_item(llm, item_id, doc, config, offload, seed)
            progress.item(results[index].status)
            if keep is not None:
                keep(index, results[index])

    # Each item's calls are sequential, so keep about as many items in flight as HTTP slots, and a few more
    # to cover cache hits and the checks between calls.
    await asyncio.gather(*(worker() for _ in range(min(len(work), 2 * llm.config.concurrency))))
    progress.finish()
    return results

"""Async chat-completion client for any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, Ollama).

Every request goes: cache -> (replay recordings | network with limits and retries) -> validation -> cache.
The whole retry policy lives in ``_fetch``; the HTTP call itself is ``endpoint.ChatEndpoint``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import random
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Self

import jsonschema
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from .cache import CompletionCache, Provenance, canonical_json, key_of
from .endpoint import ChatEndpoint
from .errors import BAD_ANSWER, LLMError, redact
from .pricing import DEFAULT_PRICES, UsageMeter
from .rate_limits import Budget, SharedBudgets, local_budget
from .replay import Recordings, append_recording
from .slots import machine_slots, release_pool
from .validators import Validator

log = logging.getLogger(__name__)

# Completion budget assumed for the tokens/min limiter when a request sets no max_tokens.
_UNBOUNDED_COMPLETION_TOKENS = 1024
_JSON_FORMATS = ("json_object", "json_schema")
_REPLAYED = "replayed"  # the model name replayed tokens are billed under: in no price table, so $0


@dataclass
class LLMConfig:
    """Plain fields, so that a Dagster ``ConfigurableResource`` can mirror them one to one."""

    base_url: str | None = None  # None: $OPENAI_BASE_URL, else api.openai.com
    model: str = "gpt-4o-mini"
    api_key: str | None = field(default=None, repr=False)  # None: $OPENAI_API_KEY
    concurrency: int = 16  # requests in flight at once
    # A lock file: ``concurrency`` is then one budget for every process on this machine (``slots.MachineSlots``);
    # None: this client's own.
    slots_path: str | None = None
    rpm: float | None = None  # requests per minute, None: unlimited
    tpm: float | None = None  # tokens per minute (estimated up front, reconciled with usage)
    # redis://host:port/db: rpm and tpm are one budget shared by every process using this endpoint and model;
    # None: this process's own budget.
    limiter_url: str | None = None
    limiter_prefix: str = "bimed-llm"  # Redis key prefix of the shared budgets
    timeout: float = 120.0  # seconds per HTTP attempt
    max_retries: int = 6  # extra attempts after the first, for any retryable failure
    max_bad_answers: int = 2  # of those, how many may be re-asks after an unusable 200 (these cost tokens)
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0  # a longer Retry-After is capped to this
    cache_path: str | None = None  # SQLite file; None: no cache
    # Answers paid for but unusable are cached as failures and not asked again (an unchanged rebuild pays
    # nothing); True asks again. Purging them (``python -m bimed_assets.llm.cache_cli purge``) does the same.
    retry_failed: bool = False
    run_id: str | None = None  # written beside every cached answer, so that a run's answers can be purged
    replay_path: str | None = None  # JSON Lines recordings; set: answer from them, never the network
    record_path: str | None = None  # JSON Lines; set: append each answer that has a replay_key
    prices: dict[str, list[float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))


@dataclass
class LLMRequest:
    messages: list[dict[str, Any]]
    model: str | None = None  # None: LLMConfig.model
    temperature: float | None = 0.0
    max_tokens: int | None = None
    response_format: dict[str, Any] | None = None  # {"type": "json_schema", "json_schema": {"schema": ...}}
    params: dict[str, Any] = field(default_factory=dict)  # other generation parameters: top_p, seed, stop...
    # Bookkeeping, deliberately not part of the cache key:
    purpose: str = "default"
    item_id: str | None = None
    replay_key: str | None = None
    validator: Validator | None = None

    def payload(self, default_model: str) -> dict[str, Any]:
        """The request body; also exactly what the cache key is computed over."""
        optional = {"temperature": self.temperature, "max_tokens": self.max_tokens,
                    "response_format": self.response_format}
        return {"model": self.model or default_model, "messages": self.messages,
                **{name: value for name, value in optional.items() if value is not None}, **self.params}


@dataclass(frozen=True)
class Completion:
    text: str
    parsed: Any  # the decoded JSON when response_format asks for JSON, else None
    model: str
    prompt_tokens: int
    completion_tokens: int
    key: str  # cache key
    source: Literal["network", "cache", "replay"]
    attempts: int  # HTTP attempts this call made (0 when cached or replayed)
    purpose: str
    item_id: str | None

    @property
    def cached(self) -> bool:
        return self.source == "cache"


@dataclass(frozen=True)
class Outcome:
    """One item of ``run_many``: exactly one of ``completion`` and ``error`` is set."""

    request: LLMRequest
    completion: Completion | None = None
    error: LLMError | None = None

    @property
    def ok(self) -> bool:
        return self.completion is not None


@dataclass(frozen=True)
class _Encoded:
    """A request's payload, encoded once: the cache key is computed over ``body``, which is also what is sent and
    what the cache keeps. It used to be encoded three times (key, HTTP body, cache row); JSON was 7.8% of a
    translation shard's CPU (py-spy, a throwaway script)."""

    payload: dict[str, Any]
    body: str  # canonical_json(payload)
    key: str

    @classmethod
    def of(cls, payload: dict[str, Any]) -> Self:
        body = canonical_json(payload)
        return cls(payload, body, key_of(body))


class _BadAnswerBudget(stop_base):
    """Stops once more than ``limit`` attempts ended in an unusable 200 (stateful: one per call)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen = 0

    def __call__(self, retry_state: RetryCallState) -> bool:
        self.seen += retry_state.outcome.exception().reason in BAD_ANSWER  # only LLMErrors are retried
        return self.seen > self.limit


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, LLMError) and exc.retryable


async def _take(budget: Budget | None, amount: float) -> None:
    if budget is not None and amount > 0:
        await budget.take(amount)


@functools.lru_cache(maxsize=1024)
def _validator(schema: str) -> Any:
    """A compiled validator per schema: ``jsonschema.validate`` re-checks the schema itself on every call,
    which cost more CPU than the HTTP round trip."""
    parsed = json.loads(schema)
    cls = jsonschema.validators.validator_for(parsed)
    cls.check_schema(parsed)
    return cls(parsed)


def _check(text: str | None, request: LLMRequest) -> Any:
    """Parses and validates an answer; raises a BAD_ANSWER LLMError if it cannot be used."""
    if not text or not text.strip():
        raise LLMError("empty_content", "the answer is empty")
    parsed = None
    response_format = request.response_format or {}
    if response_format.get("type") in _JSON_FORMATS:
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise LLMError("invalid_json", f"answer is not JSON: {exc}") from None
        schema = response_format.get("json_schema", {}).get("schema")
        if schema:
            try:
                _validator(json.dumps(schema, sort_keys=True)).validate(parsed)
            except jsonschema.ValidationError as exc:
                raise LLMError("schema_mismatch", f"answer does not match the schema: {exc.message}") from None
    if request.validator:
        try:
            request.validator(text, parsed)
        except ValueError as exc:
            raise LLMError("validator_rejected", str(exc)) from None
    return parsed


class LLMClient:
    """One client per event loop. ``async with LLMClient(config) as llm: await llm.complete(request)``."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self.meter = UsageMeter(config.prices)
        self._cache = CompletionCache(config.cache_path) if config.cache_path else None
        self._recordings = Recordings(config.replay_path) if config.replay_path else None
        # replay keys already in the record file, so that re-runs do not append them again
        self._recorded: set[str] = set()
        if config.record_path and os.path.exists(config.record_path):
            self._recorded = Recordings(config.record_path).keys()
        self._machine_slots = machine_slots(config.slots_path, config.concurrency) if config.slots_path else None
        semaphore = asyncio.Semaphore(config.concurrency)  # ``async with self._slot():`` either way
        self._slot = self._machine_slots.slot if self._machine_slots is not None else lambda: semaphore
        self._per_key: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._shared = None
        if config.limiter_url and (config.rpm or config.tpm):
            # The budget belongs to the endpoint and model, whichever step, run or machine spends it.
            self._shared = SharedBudgets(config.limiter_url, config.limiter_prefix,
                                         f"{config.base_url or 'default'}|{config.model}")
            self._rpm, self._tpm = self._shared.requests(config.rpm), self._shared.tokens(config.tpm)
        else:
            self._rpm, self._tpm = local_budget(config.rpm), local_budget(config.tpm)
        self._backoff = wait_exponential_jitter(multiplier=config.backoff_initial, max=config.backoff_max,
                                                jitter=config.backoff_initial)
        self._secret = config.api_key or os.environ.get("OPENAI_API_KEY")
        self._endpoint = None if self._recordings is not None else ChatEndpoint(
            config.base_url, config.api_key, timeout=config.timeout, connections=config.concurrency)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._endpoint is not None:
            await self._endpoint.close()
        if self._shared is not None:
            await self._shared.close()
        if self._cache is not None:
            self._cache.close()
        if self._machine_slots is not None:
            release_pool(self._machine_slots)

    async def complete(self, request: LLMRequest) -> Completion:
        """Raises LLMError (with ``reason``) when the request cannot be answered."""
        try:
            completion = await self._complete(request)
        except Exception as exc:
            self.meter.finished(request.purpose, ok=False)
            if isinstance(exc, LLMError):
                exc.item_id = request.item_id
            raise
        self.meter.finished(request.purpose, ok=True, cached=completion.cached,
                            replayed=completion.source == "replay")
        return completion

    async def run_many(self, requests: Sequence[LLMRequest]) -> list[Outcome]:
        """Answers all requests; the result has one Outcome per request, in order, whatever fails."""
        outcomes: list[Outcome] = [None] * len(requests)  # type: ignore[list-item]
        pending = iter(enumerate(requests))

        async def worker() -> None:
            for index, request in pending:  # one shared iterator: each item is taken exactly once
                outcomes[index] = await self._outcome(request)

        # Twice the HTTP slots, so that cache hits and backoff sleeps do not leave slots idle.
        await asyncio.gather(*(worker() for _ in range(min(len(requests), 2 * self.config.concurrency))))
        return outcomes

    async def _outcome(self, request: LLMRequest) -> Outcome:
        try:
            return Outcome(request, completion=await self.complete(request))
        except LLMError as exc:
            return Outcome(request, error=exc)
        except Exception as exc:  # noqa: BLE001 - a bug must not take the batch down: account for the item
            error = LLMError("internal_error", redact(f"{type(exc).__name__}: {exc}", self._secret),
                             item_id=request.item_id)
            log.error("item %s failed unexpectedly: %s", request.item_id, error.detail)
            return Outcome(request, error=error)

    async def _complete(self, request: LLMRequest) -> Completion:
        call = _Encoded.of(request.payload(self.config.model))
        # The same request already on its way (duplicate samples, or a retried item) waits for that one and
        # then finds its answer in the cache, instead of paying for it a second time.
        lock = self._per_key.setdefault(call.key, asyncio.Lock())
        async with lock:
            return await self._answer(request, call)

    async def _answer(self, request: LLMRequest, call: _Encoded) -> Completion:
        hit = self._cache.get(call.key) if self._cache is not None else None
        if hit is not None and hit.error is not None:
            if not self.config.retry_failed:
                reason, _, detail = hit.error.partition(": ")
                raise LLMError(reason, f"{detail} (a cached failed answer of {_when(hit.created_at)}: not paid "
                               "again; purge it or set retry_failed to ask again)")
        elif hit is not None:
            try:
                parsed = _check(hit.response, request)
            except LLMError as exc:
                log.debug("cached answer %s is no longer accepted (%s); asking again", call.key[:12], exc.reason)
            else:
                return self._done(request, call, hit.model, hit.response, parsed, hit.prompt_tokens,
                                  hit.completion_tokens, source="cache", attempts=0)
        if self._recordings is not None:
            recording = self._recordings.answer(request.replay_key, request.item_id)
            parsed = _check(recording.response, request)  # no retry: the recording would not change
            # The recorded tokens are counted, so a replayed run shows what a live one would use; at $0.
            self.meter.billed(request.purpose, _REPLAYED, recording.prompt_tokens, recording.completion_tokens)
            return self._done(request, call, call.payload["model"], recording.response, parsed,
                              recording.prompt_tokens, recording.completion_tokens, source="replay", attempts=0)
        return await self._fetch(request, call)

    async def _fetch(self, request: LLMRequest, call: _Encoded) -> Completion:
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable),
            stop=_BadAnswerBudget(self.config.max_bad_answers) | stop_after_attempt(self.config.max_retries + 1),
            wait=self._wait, before_sleep=lambda state: self._log_retry(request, state), reraise=True)
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    return await self._attempt(request, call, attempts)
        except LLMError as exc:
            exc.attempts = attempts
            if exc.answer is not None and self._cache is not None:  # paid for: keep it, not to pay again
                model, text, prompt_tokens, completion_tokens = exc.answer
                self._cache.put(call.key, model, call.body, text, prompt_tokens, completion_tokens,
                                self._provenance(request), error=f"{exc.reason}: {exc.detail}")
            raise
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _attempt(self, request: LLMRequest, call: _Encoded, attempt: int) -> Completion:
        payload = call.payload
        estimate = self._estimate_tokens(payload)
        await _take(self._rpm, 1)
        await _take(self._tpm, estimate)
        async with self._slot():
            self.meter.call(request.purpose)
            body = await self._endpoint.post(call.body)
        try:
            text = body["choices"][0]["message"]["content"]
            finish_reason = body["choices"][0].get("finish_reason")
            usage = body.get("usage") or {}
            model = body.get("model") or payload["model"]
            prompt_tokens, completion_tokens = int(usage.get("prompt_tokens", 0)), int(
                usage.get("completion_tokens", 0))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise LLMError("malformed_response", "response is not a chat completion") from None
        self.meter.billed(request.purpose, model, prompt_tokens, completion_tokens)
        await _take(self._tpm, prompt_tokens + completion_tokens - estimate)  # charge an underestimate
        try:
            if finish_reason == "length":  # stopped at max_tokens or the context length: part of an answer
                raise LLMError("truncated", f"the answer was cut off after {completion_tokens} tokens "
                               f"(finish_reason=length, max_tokens={payload.get('max_tokens')})")
            parsed = _check(text, request)
        except LLMError as exc:
            exc.answer = (model, text or "", prompt_tokens, completion_tokens)
            raise
        return self._done(request, call, model, text, parsed, prompt_tokens, completion_tokens,
                          source="network", attempts=attempt)

    def _done(self, request: LLMRequest, call: _Encoded, model: str, text: str,
              parsed: Any, prompt_tokens: int, completion_tokens: int, *,
              source: Literal["network", "cache", "replay"], attempts: int) -> Completion:
        """Commits a fresh answer to the cache (and the record file) before anyone sees it."""
        if self._cache is not None and source != "cache":
            self._cache.put(call.key, model, call.body, text, prompt_tokens, completion_tokens,
                            self._provenance(request))
        if self.config.record_path and request.replay_key and request.replay_key not in self._recorded:
            append_recording(self.config.record_path, request.replay_key, text, prompt_tokens,
                             completion_tokens)
            self._recorded.add(request.replay_key)
        return Completion(text, parsed, model, prompt_tokens, completion_tokens, call.key, source, attempts,
                          request.purpose, request.item_id)

    def _provenance(self, request: LLMRequest) -> Provenance:
        return Provenance(self.config.base_url, self.config.run_id, request.item_id, request.purpose)

    def _estimate_tokens(self, payload: dict[str, Any]) -> int:
        """Generous on purpose (~3 characters a token, the whole max_tokens), and only needed for a tpm limit."""
        if self._tpm is None:
            return 0
        return len(canonical_json(payload["messages"])) // 3 + (
            payload.get("max_tokens") or _UNBOUNDED_COMPLETION_TOKENS)

    def _wait(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception()
        if exc.reason in BAD_ANSWER:
            return 0.0  # the endpoint is healthy; ask again at once
        if exc.retry_after is not None:
            # At least what the server asked for, plus up to 10% so that throttled requests do not return
            # in one burst.
            wait = min(exc.retry_after, self.config.retry_after_max)
            return wait + random.uniform(0, wait / 10)
        return self._backoff(retry_state)

    def _log_retry(self, request: LLMRequest, retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception()
        log.debug("item %s: attempt %d failed (%s: %s); retrying in %.2fs", request.item_id,
                 retry_state.attempt_number, exc.reason, exc.detail, retry_state.upcoming_sleep)

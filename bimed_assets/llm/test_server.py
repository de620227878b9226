"""A local OpenAI-compatible server (Starlette on uvicorn, real HTTP on 127.0.0.1) with fault injection.

    server = OpenAITestServer(ServerConfig(latency=0.2, fault_rate=0.2, seed=1)).start()
    ... LLMConfig(base_url=server.url) ...
    server.stats().duplicate_deliveries()   # completions paid twice
    server.stop()

or ``python -m bimed_assets.llm.test_server --latency 0.2`` (prints its URL, serves until SIGTERM; ``GET /stats``
returns the counters). From the command line it answers every request the pipeline makes by default (chats,
translations, judges, back-translations: ``PIPELINE_RESPONDER``), so a whole build runs against it. Fault decisions are a pure function of (seed, request key, how many times that key
was seen), so a run is reproducible whatever order concurrent requests arrive in.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import pkgutil
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FAULT_KINDS = ("rate_limit", "unavailable", "server_error", "timeout", "drop", "malformed", "empty",
               "wrong_language", "truncated")
RETRYABLE_FAULTS = FAULT_KINDS[:-1]
# The faults a retry mends without waiting out a client timeout. Bulk tests inject these with a client timeout far
# above any answer's time, so that a slow answer on a loaded machine is never taken for a hung one.
PROMPT_FAULTS = {kind: 1.0 for kind in RETRYABLE_FAULTS if kind != "timeout"}

Responder = Callable[[dict[str, Any]], str]
# The command line's default: model-free chats, and translations that pass the fidelity checks. A name, not an
# import: the responders import this module.
PIPELINE_RESPONDER = "bimed_assets.chats.responder:ChatResponder"


def request_key(body: dict[str, Any]) -> str:
    """sha256 of the whole body: model, messages and every generation parameter."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _instance(schema: dict[str, Any], text: str) -> Any:
    """A minimal value that satisfies a (simple) JSON schema, with ``text`` in every string."""
    kind = schema.get("type", "object")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        return {name: _instance(sub, text) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [_instance(schema.get("items", {"type": "string"}), text)]
    return {"string": text, "integer": 0, "number": 0, "boolean": True, "null": None}[kind]


def _answer(body: dict[str, Any], text: str) -> str:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return json.dumps(_instance(fmt["json_schema"]["schema"], text), ensure_ascii=False)
    if fmt.get("type") == "json_object":
        return json.dumps({"answer": text}, ensure_ascii=False)
    return text


def default_responder(body: dict[str, Any]) -> str:
    """A short Arabic answer tied to the prompt (JSON when the request asks for it)."""
    digest = hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode()).hexdigest()[:8]
    return _answer(body, f"إجابة طبية رقم {digest}")


@dataclass
class ServerConfig:
    latency: float = 0.0  # seconds before every answer
    fault_rate: float = 0.0  # share of requests that get a fault
    # Weights. By default the faults a retry can mend; "truncated" (final for the client) only when asked for.
    fault_mix: dict[str, float] = field(default_factory=lambda: dict.fromkeys(RETRYABLE_FAULTS, 1.0))
    fail_first: int = 0  # the first N requests of every key fault regardless of fault_rate
    retry_after: float = 1.0  # seconds, sent with every 429 and 503
    retry_after_as_date: bool = False  # send Retry-After as an HTTP date instead of seconds
    hang: float = 30.0  # how long a "timeout" fault holds the request (set it past the client's timeout)
    seed: int = 0
    api_key: str | None = None  # when set, other keys get a 401 that echoes them (as careless proxies do)
    responder: Responder = default_responder


@dataclass
class ServerStats:
    received: Counter[str] = field(default_factory=Counter)  # requests per request key
    delivered: Counter[str] = field(default_factory=Counter)  # valid completions per request key
    faults: Counter[str] = field(default_factory=Counter)  # per fault kind
    in_flight: int = 0
    max_in_flight: int = 0  # the most requests the server held at once
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of every request, in arrival order

    def max_in_window(self, seconds: float) -> int:
        """The most requests that arrived within any ``seconds``-long window."""
        most, start = 0, 0
        for end, arrived in enumerate(self.arrivals):
            while arrived - self.arrivals[start] >= seconds:
                start += 1
            most = max(most, end - start + 1)
        return most

    def duplicate_deliveries(self) -> int:
        """Valid completions delivered beyond the first for their key: answers paid for twice."""
        return sum(count - 1 for count in self.delivered.values() if count > 1)

    def summary(self) -> dict[str, Any]:
        return {"received": self.received.total(), "delivered": self.delivered.total(),
                "duplicate_deliveries": self.duplicate_deliveries(), "faults": dict(self.faults),
                "max_in_flight": self.max_in_flight, "max_per_minute": self.max_in_window(60),
                # seconds from the first request's arrival to the last one's: the sending, without client start-up
                "arrival_span": self.arrivals[-1] - self.arrivals[0] if self.arrivals else 0.0,
                # when the first arrived (time.monotonic(), one clock for every process of the machine)
                "first_arrival": self.arrivals[0] if self.arrivals else None}


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"message": message, "type": kind, "code": None}}, status, headers)


class _Dropped(Response):
    """Starts a response, sends half of it and returns: uvicorn then closes the connection mid-body."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"200")]})
        await send({"type": "http.response.body", "body": b'{"id": "chatcmpl-dropped", "cho',
                    "more_body": True})


class OpenAITestServer:
    def __init__(self, config: ServerConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or ServerConfig()
        self._stats = ServerStats()
        self._lock = threading.Lock()  # counters are written on the server thread, read on the test's
        app = Starlette(routes=[
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/stats", self._summary, methods=["GET"]),
        ])
        # uvicorn's own logging is off: dropped connections are deliberate and would log as errors.
        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="critical",
                                                     access_log=False, lifespan="off", backlog=4096,
                                                     timeout_graceful_shutdown=1))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}/v1"

    def start(self, timeout: float = 10.0) -> Self:
        self._thread = threading.Thread(target=self._server.run, name="openai-test-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread:
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stats(self) -> ServerStats:
        """A copy of the counters."""
        with self._lock:
            stats = self._stats
            return ServerStats(Counter(stats.received), Counter(stats.delivered), Counter(stats.faults),
                               stats.in_flight, stats.max_in_flight, list(stats.arrivals))

    def _fault(self, key: str, seen: int) -> str | None:
        rng = random.Random(f"{self.config.seed}:{key}:{seen}")
        if seen >= self.config.fail_first and rng.random() >= self.config.fault_rate:
            return None
        kinds, weights = zip(*self.config.fault_mix.items(), strict=True)
        return rng.choices(kinds, weights)[0]

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "test-model", "object": "model"}]})

    async def _summary(self, request: Request) -> Response:
        return JSONResponse(self.stats().summary())

    async def _chat(self, request: Request) -> Response:
        cfg = self.config
        body = await request.json()
        key = request_key(body)
        with self._lock:
            stats = self._stats
            seen = stats.received[key]
            stats.received[key] += 1
            stats.arrivals.append(time.monotonic())
        auth = request.headers.get("authorization", "")
        if cfg.api_key and auth != f"Bearer {cfg.api_key}":
            return _error(401, f"Incorrect API key provided: {auth.removeprefix('Bearer ')}",
                          "invalid_request_error")
        fault = self._fault(key, seen)
        with self._lock:
            if fault:
                stats.faults[fault] += 1
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            await asyncio.sleep(cfg.hang if fault == "timeout" else cfg.latency)
        finally:
            with self._lock:
                stats.in_flight -= 1
        if fault in ("rate_limit", "unavailable"):
            retry_after = (formatdate(time.time() + cfg.retry_after, usegmt=True) if cfg.retry_after_as_date
                           else f"{cfg.retry_after:g}")
            status, message = (429, "Rate limit reached") if fault == "rate_limit" else (503, "Overloaded")
            return _error(status, message, "requests", {"retry-after": retry_after})
        if fault in ("server_error", "timeout"):  # a timed-out client has long gone
            return _error(500, "The server had an error", "server_error")
        if fault == "drop":
            return _Dropped()
        if fault == "malformed":
            return Response('{"id": "chatcmpl-x", "choices": [{"message": {"content": "نص',
                            media_type="application/json")
        finish_reason = "stop"
        if fault == "empty":
            content = ""
        elif fault == "truncated":  # the first half of a good answer, as when max_tokens runs out
            content = cfg.responder(body)
            content, finish_reason = content[:len(content) // 2], "length"
        elif fault == "wrong_language":
            content = _answer(body, "The patient should rest and drink water.")
        else:
            content = cfg.responder(body)
            with self._lock:
                self._stats.delivered[key] += 1
        prompt_tokens = len(json.dumps(body["messages"], ensure_ascii=False)) // 4 + 1
        completion_tokens = len(content) // 4 + 1
        return JSONResponse({
            "id": f"chatcmpl-{key[:16]}-{seen}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--hang", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--responder", default=PIPELINE_RESPONDER, help="module:callable answering each request "
                        "body (a class is instantiated with no arguments); default: every request of the pipeline")
    args = parser.parse_args()
    responder = pkgutil.resolve_name(args.responder)
    if isinstance(responder, type):
        responder = responder()
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # before the server thread starts: it inherits it
    server = OpenAITestServer(ServerConfig(latency=args.latency, fault_rate=args.fault_rate,
                                           retry_after=args.retry_after, hang=args.hang, seed=args.seed,
                                           responder=responder),
                              port=args.port).start()
    print(server.url, flush=True)
    signal.sigwait(stop_signals)
    server.stop()


if __name__ == "__main__":
    main()

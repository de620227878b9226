"""POST /chat/completions to an OpenAI-compatible endpoint over aiohttp; every failure becomes an LLMError.

aiohttp, not the openai SDK: the SDK wraps each call in its own request and response machinery (options,
headers, httpx-style models) on top of the same aiohttp transport. The client needs none of it: it sends a plain
JSON body, reads a plain JSON answer and keeps its whole retry policy itself. Measured with
``bench/llm_throughput.py --requests 6000`` (the whole client's CPU per request without a cache, median of 3) on the
same machine in one sitting: 1.01 ms through the SDK's generic POST (commit 34c93b9's client), 0.49 ms here (commit
b63be3b); and run processes no longer import the SDK.
"""

from __future__ import annotations

import email.utils
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from .errors import LLMError, redact

OPENAI_URL = "https://api.openai.com/v1"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After as delta-seconds or an HTTP date."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _message(body: bytes) -> str:
    """The endpoint's own words: ``error.message`` of an OpenAI-style error body, else the body as text."""
    text = body.decode("utf-8", "replace")
    try:
        error = json.loads(text).get("error")
    except (ValueError, AttributeError):
        return text
    return str(error.get("message", error)) if isinstance(error, dict) else text


def _status_error(status: int, body: bytes, headers: Mapping[str, str], secret: str | None) -> LLMError:
    """An HTTP error status as an LLMError: which ones are worth another attempt, and how long to wait."""
    detail = redact(f"HTTP {status}: {_message(body)}", secret)[:500]
    retry_after = _retry_after(headers) if status in (429, 503) else None
    if status == 429:
        return LLMError("rate_limited", detail, retry_after=retry_after)
    if status == 408:
        return LLMError("timeout", detail)
    if status == 409 or status >= 500:
        return LLMError("server_error", detail, retry_after=retry_after)
    return LLMError(f"http_{status}", detail)


class ChatEndpoint:
    """One endpoint's ``/chat/completions``. ``base_url`` None: $OPENAI_BASE_URL, else api.openai.com; ``api_key``
    None: $OPENAI_API_KEY (local servers take any key, so none is needed when a base URL is given)."""

    def __init__(self, base_url: str | None, api_key: str | None, *, timeout: float, connections: int) -> None:
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL
        self._secret = api_key or os.environ.get("OPENAI_API_KEY")
        if not self._secret and base_url == OPENAI_URL:
            raise LLMError("no_api_key", "no API key: set api_key (BIMED_LLM_API_KEY) or OPENAI_API_KEY, or a base_url "
                           "of a local server")
        self._url = base_url.rstrip("/") + "/chat/completions"
        # The body goes as UTF-8: escaped, each Arabic letter would take 6 bytes instead of 2.
        self._headers = {"Authorization": f"Bearer {self._secret or 'unused'}", "Content-Type": "application/json"}
        # As the SDK's timeout: each wait (connecting, then the answer) may take ``timeout``; not a total, which
        # would also count a long generation's time against the connection.
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self._description = f"no answer within {timeout}s"
        self._connections = connections
        # HTTP(S)_PROXY and NO_PROXY, as with any HTTP client; looked up once, not on every request as aiohttp's
        # trust_env does (the bench above, on a draft of this module that set trust_env: 0.89 ms of CPU per
        # request, against 0.49 ms looking them up once).
        try:
            self._proxy: tuple[Any, Any] = get_env_proxy_for_url(URL(self._url))
        except LookupError:  # no proxy for this URL
            self._proxy = (None, None)
        self._session: aiohttp.ClientSession | None = None  # made in the event loop that uses it

    async def post(self, request_json: str) -> Any:
        """The decoded JSON answer to a request already encoded as JSON; raises LLMError for an error status, a
        timeout, a broken connection or a body that is not JSON."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=self._timeout, connector=aiohttp.TCPConnector(limit=self._connections),
                proxy=self._proxy[0], proxy_auth=self._proxy[1])
        error = None
        try:
            async with self._session.post(self._url, data=request_json.encode()) as response:
                status, headers, body = response.status, response.headers, await response.read()
        except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
            error = LLMError("timeout", self._description)
        except aiohttp.ClientError as exc:
            error = LLMError("connection_error", redact(f"{type(exc).__name__}: {exc}", self._secret))
        if error is not None:
            raise error  # outside the except blocks, so that aiohttp's exception is not kept as __context__
        if status >= 400:
            raise _status_error(status, body, headers, self._secret)
        try:
            return json.loads(body)
        except ValueError as exc:  # a 200 whose body is not JSON
            raise LLMError("malformed_response", f"response body is not JSON: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

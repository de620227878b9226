"""The one exception type the LLM layer raises, with a machine-readable reason."""

from __future__ import annotations

# Worth another attempt: the endpoint was busy, broken for a moment, or unreachable.
TRANSIENT = frozenset({"rate_limited", "server_error", "timeout", "connection_error"})
# A 200 we cannot use; re-asking costs tokens, so these have their own, smaller budget. Not "truncated" (an
# answer cut off at max_tokens): the same request, at temperature 0, would be cut off again and paid again.
BAD_ANSWER = frozenset({"malformed_response", "empty_content", "invalid_json", "schema_mismatch",
                        "validator_rejected"})


class LLMError(Exception):
    """``reason`` is one of TRANSIENT, BAD_ANSWER, or a final one ("http_401", "replay_missing", ...).
    Messages are redacted before they get here and the HTTP library's exception is never chained (its request
    carries the Authorization header)."""

    def __init__(self, reason: str, detail: str, *, retry_after: float | None = None,
                 item_id: str | None = None, attempts: int = 0) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after
        self.item_id = item_id
        self.attempts = attempts
        # (model, text, prompt tokens, completion tokens) of a paid answer that could not be used; not pickled
        self.answer: tuple[str, str, int, int] | None = None

    def __reduce__(self):  # keep every field across processes (Exception pickles only ``args``)
        return _rebuild, (self.reason, self.detail, self.retry_after, self.item_id, self.attempts)

    @property
    def retryable(self) -> bool:
        return self.reason in TRANSIENT or self.reason in BAD_ANSWER

    def __str__(self) -> str:
        where = f" [item {self.item_id}]" if self.item_id else ""
        tries = f" after {self.attempts} attempt(s)" if self.attempts else ""
        return f"{self.reason}{where}{tries}: {self.detail}"


def redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _rebuild(reason: str, detail: str, retry_after: float | None, item_id: str | None, attempts: int) -> LLMError:
    return LLMError(reason, detail, retry_after=retry_after, item_id=item_id, attempts=attempts)

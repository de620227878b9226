"""The retry policy, one fault kind at a time, against the real HTTP test server."""

from __future__ import annotations

import time

import pytest
from llm_helpers import HUNG_REQUEST_TIMEOUT, ask, complete, config_for

from bimed_assets.llm.cache import CompletionCache
from bimed_assets.llm.errors import LLMError
from bimed_assets.llm.test_server import RETRYABLE_FAULTS
from bimed_assets.llm.validators import require_arabic

EXPECTED_REASON = {"rate_limit": "rate_limited", "unavailable": "server_error", "server_error": "server_error",
                   "timeout": "timeout",
                   "drop": "connection_error", "malformed": "malformed_response", "empty": "empty_content",
                   "wrong_language": "validator_rejected"}


@pytest.mark.parametrize("kind", RETRYABLE_FAULTS)  # truncated is final: below
def test_each_fault_kind_is_retried_once_then_answered(start_server, kind, caplog):
    server = start_server(fail_first=1, fault_mix={kind: 1.0}, retry_after=0.05)
    caplog.set_level("DEBUG", logger="bimed_assets.llm")
    # Only a hung request needs a short client timeout; the answer after it takes milliseconds.
    config = config_for(server, timeout=HUNG_REQUEST_TIMEOUT) if kind == "timeout" else config_for(server)
    completion, meter = complete(config, ask("صداع", validator=require_arabic()))
    assert completion.source == "network" and completion.attempts >= 2  # more only if the machine stalls
    assert "إجابة" in completion.text
    stats = server.stats()
    assert stats.received.total() == completion.attempts and stats.faults == {kind: 1}
    assert stats.delivered.total() == (1 if kind != "timeout" else completion.attempts - 1)
    assert meter["default"].calls == completion.attempts and meter["default"].requests_ok == 1
    assert EXPECTED_REASON[kind] in caplog.text  # the retry is logged with its reason


@pytest.mark.parametrize(("kind", "as_date"), [("rate_limit", False), ("rate_limit", True), ("unavailable", False)])
def test_retry_after_is_honoured(start_server, kind, as_date):
    # Backoff alone would wait ~10 ms; only the header can make the client wait ~2 s.
    server = start_server(fail_first=1, fault_mix={kind: 1.0}, retry_after=2.0, retry_after_as_date=as_date)
    started = time.monotonic()
    completion, _ = complete(config_for(server), ask("retry-after"))
    waited = time.monotonic() - started
    # An HTTP date has whole-second resolution, so "2 s from now" may mean anything above 1 s. No upper bound:
    # a loaded machine can only add to the wait.
    assert waited >= (1.0 if as_date else 2.0)
    assert completion.attempts == 2


def test_retry_after_is_capped(start_server):
    server = start_server(fail_first=1, fault_mix={"rate_limit": 1.0}, retry_after=30)
    started = time.monotonic()
    complete(config_for(server, retry_after_max=0.2), ask("cap"))
    assert time.monotonic() - started < 15  # honoured in full, the header alone would wait 30 s


def test_transient_failures_stop_after_max_retries(start_server):
    server = start_server(fail_first=100, fault_mix={"server_error": 1.0})
    with pytest.raises(LLMError) as raised:
        complete(config_for(server, max_retries=2), ask("down", item_id="medqa-1"))
    error = raised.value
    assert (error.reason, error.attempts, error.item_id) == ("server_error", 3, "medqa-1")
    assert "medqa-1" in str(error) and "HTTP 500" in str(error)
    assert server.stats().received.total() == 3


def test_bad_answers_have_their_own_smaller_budget(start_server):
    server = start_server(fail_first=100, fault_mix={"empty": 1.0})
    with pytest.raises(LLMError) as raised:
        complete(config_for(server, max_retries=6, max_bad_answers=1), ask("empty"))
    assert (raised.value.reason, raised.value.attempts) == ("empty_content", 2)
    assert server.stats().received.total() == 2


def test_a_truncated_answer_is_never_accepted(start_server, tmp_path):
    # Half of a plain-text answer reads as an answer: only finish_reason=length tells it apart.
    server = start_server(fail_first=100, fault_mix={"truncated": 1.0})
    cache = tmp_path / "llm.sqlite"
    with pytest.raises(LLMError) as raised:
        complete(config_for(server, max_bad_answers=1, cache_path=str(cache)),
                 ask("صداع", max_tokens=64, item_id="medqa-7", validator=require_arabic()))
    error = raised.value
    # Not re-asked: the same request would be cut off again, and paid again.
    assert (error.reason, error.attempts, error.item_id) == ("truncated", 1, "medqa-7")
    assert "finish_reason=length" in str(error) and "max_tokens=64" in str(error)
    assert server.stats().received.total() == 1 and server.stats().faults == {"truncated": 1}
    assert len(CompletionCache(cache)) == 0  # nothing cut off is kept


def test_client_errors_are_not_retried(start_server):
    server = start_server(api_key="sk-the-right-one")
    with pytest.raises(LLMError) as raised:
        complete(config_for(server, api_key="sk-a-wrong-one"), ask("auth"))
    assert (raised.value.reason, raised.value.attempts) == ("http_401", 1)
    assert server.stats().received.total() == 1

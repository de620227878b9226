"""The API key never shows in logs, exceptions, results or metadata, whatever goes wrong."""

from __future__ import annotations

import logging
import traceback

from llm_helpers import ask, config_for, run_many

KEY = "sk-bimed-CANARY-7f3a9c1e5d"


def test_api_key_never_leaks(start_server, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)  # every logger, the HTTP stack's included
    server = start_server(api_key=KEY, fail_first=1, fault_mix={"rate_limit": 1, "drop": 1, "server_error": 1},
                          retry_after=0.01)
    requests = [ask(f"q{i}", item_id=f"item-{i}") for i in range(6)]
    config = config_for(server, api_key=KEY, cache_path=str(tmp_path / "llm.sqlite"))
    ok, llm = run_many(config, requests)
    assert all(outcome.ok for outcome in ok)

    # A gateway that echoes the rejected key in its 401 body, as OpenAI itself half does.
    wrong = config_for(server, api_key=KEY + "-revoked")
    failed, failed_llm = run_many(wrong, [ask("denied", item_id="item-x")])
    error = failed[0].error
    assert error.reason == "http_401" and "Incorrect API key" in str(error)
    assert error.__cause__ is None and error.__context__ is None  # the HTTP library's exception may hold the request headers

    texts = [caplog.text, str(error), repr(error), error.detail, "".join(traceback.format_exception(error)),
             repr(config), repr(wrong), repr(llm.meter.snapshot()), repr(failed_llm.meter.snapshot()),
             *(repr(outcome.completion) for outcome in ok)]
    assert "retrying" in caplog.text  # the retries did log
    for text in texts:
        assert KEY not in text
    assert (tmp_path / "llm.sqlite").read_bytes().find(KEY.encode()) == -1

"""The HTTP side of the client: the environment's proxy, and a clear refusal without a key."""

from __future__ import annotations

import pytest
from llm_helpers import ask, complete, config_for

from bimed_assets.llm.client import LLMClient, LLMConfig
from bimed_assets.llm.errors import LLMError


def test_requests_go_through_the_environments_proxy(start_server, monkeypatch):
    server = start_server()
    proxy = server.url.removesuffix("/v1")
    # The endpoint's host does not resolve: an answer can only come through the proxy (the test server answers
    # a proxied request like a direct one).
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    completion, _ = complete(config_for(server, base_url="http://llm.invalid/v1"), ask("via the proxy"))
    assert completion.source == "network" and completion.text
    assert sum(server.stats().received.values()) == 1

    monkeypatch.setenv("NO_PROXY", "llm.invalid")  # bypassed: straight to a host that does not exist
    with pytest.raises(LLMError) as raised:
        complete(config_for(server, base_url="http://llm.invalid/v1", max_retries=0), ask("not via the proxy"))
    assert raised.value.reason == "connection_error"


def test_no_key_for_the_default_endpoint_is_refused_by_name(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(LLMError, match="OPENAI_API_KEY") as raised:
        LLMClient(LLMConfig())
    assert raised.value.reason == "no_api_key"

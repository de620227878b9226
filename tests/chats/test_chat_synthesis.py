"""The synthesis loop over real HTTP against the local test server: rewrites with feedback, quarantine, LLM
failures, faults and the cache."""

from __future__ import annotations

import asyncio
import json

import polars as pl

from bimed_assets.chats.responder import ChatResponder
from bimed_assets.chats.selection import select_items
from bimed_assets.chats.synthesis import SynthesisConfig, synthesize_all
from bimed_assets.chats.tables import CHATS_SCHEMA, chat_id, tables
from bimed_assets.llm.client import LLMClient, LLMConfig
from bimed_assets.llm.test_server import PROMPT_FAULTS


def config_for(server, **overrides) -> LLMConfig:
    fields = {"base_url": server.url, "model": "test-model", "api_key": "sk-test", "concurrency": 8,
              "timeout": 60.0, "backoff_initial": 0.01, "backoff_max": 0.05} | overrides
    return LLMConfig(**fields)


def synthesize(server, items, config: SynthesisConfig | None = None, **llm):
    async def go():
        async with LLMClient(config_for(server, **llm)) as client:
            return await synthesize_all(client, items, config or SynthesisConfig()), client.meter.snapshot()

    return asyncio.run(go())


class Recorder:
    """A responder that notes every request body before answering it."""

    def __init__(self, inner):
        self.inner, self.bodies = inner, []

    def __call__(self, body):
        self.bodies.append(body)
        return self.inner(body)


def vignettes(pool, n):
    return select_items(pool, 1.0, n).to_dicts()


def test_a_leaky_chat_is_rewritten_with_the_feedback(pool, start_server):
    recorder = Recorder(ChatResponder(leaky=1.0))
    server = start_server(responder=recorder)
    item = vignettes(pool, 1)[0]
    [result], usage = synthesize(server, [item])

    assert result.status == "valid" and [a.attempt for a in result.attempts] == [1, 2]
    assert [p.rule for p in result.attempts[0].problems] == ["answer_leak"] and not result.attempts[1].problems
    first, second = (body["messages"][-1]["content"] for body in recorder.bodies)
    assert "previous conversation" not in first
    # The rewrite carries the rejected chat and its problems.
    assert "So the answer is C." in second and "answer_leak:" in second
    assert usage["chat"]["calls"] == 2 and usage["chat"]["requests_ok"] == 2

    chats = tables([result], {item["id"]: item})["synthesized_chats"]
    assert chats.schema == CHATS_SCHEMA and chats["id"].to_list() == [chat_id(item["id"])]
    row = chats.row(0, named=True)
    assert (row["task"], row["origin"], row["attempts"], row["is_eval"]) == ("chat", item["id"], 2, False)
    assert row["turns"] == result.final.turns and row["question"] == row["turns"][0]["content"]


def test_an_item_that_stays_invalid_is_quarantined_with_its_reason(pool, start_server):
    server = start_server(responder=ChatResponder(hopeless=1.0))
    item = vignettes(pool, 1)[0]
    [result], _ = synthesize(server, [item], SynthesisConfig(max_attempts=3))

    assert result.status == "invalid" and len(result.attempts) == 3
    # Three distinct requests: a rewrite of the same rejected chat is not answered from the first one.
    assert server.stats().received.total() == len(server.stats().received) == 3
    frames = tables([result], {item["id"]: item})
    assert frames["synthesized_chats"].is_empty()
    quarantine = frames["synthesized_chats_quarantine"].row(0, named=True)
    assert (quarantine["item_id"], quarantine["reason"], quarantine["attempts"]) == (item["id"], "gold_missing", 3)
    assert item["answer_text"] in quarantine["detail"]
    assert [a["attempt"] for a in json.loads(quarantine["history"])] == [1, 2, 3]  # every paid attempt kept


def test_an_llm_failure_quarantines_the_item_and_keeps_its_attempts(pool, start_server):
    chats = ChatResponder(leaky=1.0)
    # The rewrite request never gets a usable answer: the client re-asks within its budget, then gives up.
    server = start_server(responder=lambda body: "not json {" if "previous conversation" in
                          body["messages"][-1]["content"] else chats(body))
    item = vignettes(pool, 1)[0]
    [result], usage = synthesize(server, [item], max_bad_answers=1)

    assert result.status == "failed" and result.error.reason == "invalid_json" and len(result.attempts) == 1
    quarantine = tables([result], {item["id"]: item})["synthesized_chats_quarantine"].row(0, named=True)
    assert quarantine["reason"] == "llm_invalid_json" and quarantine["attempts"] == 1
    assert usage["chat"]["requests_failed"] == 1 and usage["chat"]["calls"] == 1 + 2


def test_under_faults_every_item_ends_valid_or_quarantined(pool, start_server):
    server = start_server(responder=ChatResponder(leaky=0.5, hopeless=0.2), fault_rate=0.3, seed=3,
                          fault_mix=PROMPT_FAULTS, retry_after=0.01)
    items = vignettes(pool, 30)
    results, _ = synthesize(server, items)

    assert [r.item_id for r in results] == [i["id"] for i in items]
    frames = tables(results, {i["id"]: i for i in items})
    chats, quarantine = frames["synthesized_chats"], frames["synthesized_chats_quarantine"]
    assert len(chats) + len(quarantine) == len(items) == 30
    assert (chats["attempts"] > 1).any() and (quarantine["reason"] == "gold_missing").any()
    assert server.stats().duplicate_deliveries() == 0


def test_a_rerun_is_answered_from_the_cache(pool, start_server, tmp_path):
    server = start_server(responder=ChatResponder(leaky=0.5, hopeless=0.2))
    items = vignettes(pool, 12)
    cache = str(tmp_path / "cache.sqlite")
    first, _ = synthesize(server, items, cache_path=cache)
    paid = server.stats().received.total()
    again, usage = synthesize(server, items, cache_path=cache)

    assert server.stats().received.total() == paid > len(items)  # some items were rewritten
    assert usage["total"]["calls"] == 0 and usage["total"]["cache_hits"] == paid
    assert [(r.status, len(r.attempts)) for r in again] == [(r.status, len(r.attempts)) for r in first]
    as_frames = [tables(run, {i["id"]: i for i in items})["synthesized_chats"] for run in (first, again)]
    assert as_frames[0].equals(as_frames[1]) and isinstance(as_frames[0], pl.DataFrame)

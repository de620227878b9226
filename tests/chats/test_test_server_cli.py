"""The test server's command line answers every request of the pipeline by default: chats and translations.

Run as users run it (``python -m bimed_assets.llm.test_server``, its own process, no ``--responder``), the
chat synthesis and translation loops get answers they accept, over real HTTP.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from bimed_assets.chats.selection import select_items
from bimed_assets.chats.synthesis import SynthesisConfig, synthesize_all
from bimed_assets.llm.client import LLMClient, LLMConfig
from bimed_assets.translation.pipeline import translate_all
from bimed_assets.translation.scoring import ScoringConfig


@pytest.fixture
def cli_server_url():
    server = subprocess.Popen([sys.executable, "-m", "bimed_assets.llm.test_server"], stdout=subprocess.PIPE,
                              text=True)
    try:
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_default_responder_writes_valid_chats_and_answers_translations(cli_server_url, pool):
    items = select_items(pool, share=1.0).to_dicts()
    assert items

    async def run():
        config = LLMConfig(base_url=cli_server_url, model="test-model", api_key="sk-test", concurrency=8)
        async with LLMClient(config) as llm:
            chats = await synthesize_all(llm, items, SynthesisConfig())
            translations = await translate_all(llm, items[:5], ScoringConfig())
            return chats, translations

    chats, translations = asyncio.run(run())
    assert {result.status for result in chats} == {"valid"}
    # The cipher "translation" of a few items scores below the threshold: review, never a failed call.
    assert {result.status for result in translations} <= {"accepted", "review"}
    assert any(result.status == "accepted" for result in translations)

"""Every benchmark translation goes to the human review queue, accepted or not; untranslated ones cannot.

The translation loop runs for real over HTTP against the local OpenAI-compatible test server: a model-free
translator (``CipherResponder``) whose judge never accepts some items (they end below the threshold after the
last round), and which answers garbage for one item until the client gives up (the item ends ``failed``).
"""

import json

import polars as pl
import pytest

from bimed_assets.benchmarks.selection import select
from bimed_assets.benchmarks.translations import REVIEW_TASK, review_records, samples, translation_frame
from bimed_assets.llm.client import LLMConfig
from bimed_assets.llm.test_server import OpenAITestServer, ServerConfig
from bimed_assets.translation.cipher_responder import CipherResponder
from bimed_assets.translation.parallel import translate_parallel
from bimed_assets.translation.scoring import ScoringConfig
from translation_review.service import QueueFilter

UNANSWERABLE = "phenylketonuria"  # the MedMCQA item whose translations are never valid JSON


class Responder(CipherResponder):
    def __call__(self, body):
        if UNANSWERABLE in body["messages"][-1]["content"]:
            return "{not json"
        return super().__call__(body)


@pytest.fixture(scope="module")
def translated(evaluation):
    selected = select(evaluation, 3)
    with OpenAITestServer(ServerConfig(responder=Responder(hopeless=0.3))) as server:
        config = LLMConfig(base_url=server.url, api_key="test", backoff_initial=0.01, backoff_max=0.05)
        results, _ = translate_parallel(config, samples(selected), ScoringConfig())
    return translation_frame(results, {row["id"]: row for row in selected.iter_rows(named=True)}), selected


def test_the_loop_covers_every_outcome(translated):
    frame, selected = translated
    assert frame["item_id"].to_list() == selected["id"].to_list()
    statuses = dict(frame.group_by("status").len().iter_rows())
    assert statuses.get("accepted", 0) > 0 and statuses.get("review", 0) > 0 and statuses["failed"] == 1
    failed = frame.filter(pl.col("status") == "failed").row(0, named=True)
    assert UNANSWERABLE in failed["document"] and failed["best_translation"] is None and failed["error"]
    # Only what the evaluation shows is translated: no explanation; the abstract for PubMedQA only.
    for row in frame.iter_rows(named=True):
        doc = json.loads(row["document"])
        assert "explanation" not in doc
        assert ("context" in doc) == (row["benchmark"] == "pubmedqa"), row["item_id"]


def test_accepted_and_failing_translations_alike_go_to_review(translated, service):
    frame, _ = translated
    translated_ids = set(frame.filter(pl.col("status") != "failed")["item_id"])
    records = review_records(frame)
    result = service.import_items(records, actor="test")
    assert result.added == len(translated_ids) == len(records)

    queued = {row["item_id"]: row for row in service.list_items(QueueFilter(task=REVIEW_TASK), limit=1000)}
    assert set(queued) == translated_ids  # accepted ones included; the untranslated one is not
    assert REVIEW_TASK in service.facets()["task"]
    for row in frame.filter(pl.col("status") != "failed").iter_rows(named=True):
        item = service.get_item(row["item_id"])
        assert (item.source, item.task, item.status) == (row["benchmark"], REVIEW_TASK, "pending")
        assert item.best_translation == json.loads(row["best_translation"])
        if row["status"] == "accepted":
            assert item.reasons[0].startswith("benchmark item, reviewed whatever its score")
            assert item.best_score >= 80 and item.failed_checks == []
        else:
            # Below the threshold, or failing a fidelity check (then unscored), in every round.
            assert item.rounds == 3 and (item.best_score or 0) < 80 and item.failed_checks
    # A reviewer can work through the benchmark items of one benchmark only.
    assert {r["item_id"] for r in service.list_items(QueueFilter(source="pubmedqa", task=REVIEW_TASK))} == set(
        frame.filter((pl.col("benchmark") == "pubmedqa") & (pl.col("status") != "failed"))["item_id"])

    again = service.import_items(review_records(frame), actor="test")  # idempotent
    assert (again.added, again.replaced, again.unchanged) == (0, 0, len(translated_ids))

"""The synthesis results as two tables: the chats, and the quarantine of items without a valid chat.

A chat is a canonical record (``RECORD_SCHEMA``) of task ``chat`` with its ``turns``, so that translation
(``translation.documents`` translates turns) and the corpus take it like any other sample. Its id is
``chat-<item id>``; ``origin`` is the id of the MCQA item it was made from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import polars as pl

from bimed_assets.chats.synthesis import ChatResult
from bimed_assets.corpus.formatting import CHAT, TURN
from bimed_assets.schema import RECORD_SCHEMA
from bimed_assets.translation.tables import frame

CHATS_SCHEMA = pl.Schema({**RECORD_SCHEMA, "turns": pl.List(TURN), "attempts": pl.Int32})
QUARANTINE_SCHEMA = pl.Schema({
    "item_id": pl.String, "source": pl.String, "reason": pl.String, "reasons": pl.List(pl.String),
    "detail": pl.String, "attempts": pl.Int32, "history": pl.String,
})


def chat_id(item_id: str) -> str:
    return f"chat-{item_id}"


def _chat(item: Mapping[str, Any], result: ChatResult) -> dict[str, Any]:
    turns = result.final.turns
    return {
        "id": chat_id(item["id"]), "source": item["source"], "subset": item["subset"], "split": item["split"],
        "is_eval": False, "task": CHAT, "question": turns[0]["content"], "options": [], "answer_letter": None,
        "answer_text": turns[-1]["content"], "explanation": None, "context": None, "language": "en",
        "licence": item["licence"], "origin": item["id"],
        "native": json.dumps({"synthesized_from": item["id"], "attempt": result.final.attempt}),
        "turns": turns, "attempts": len(result.attempts),
    }


def _quarantined(item: Mapping[str, Any], result: ChatResult) -> dict[str, Any]:
    history = json.dumps([asdict(a) for a in result.attempts], ensure_ascii=False)
    if result.error is not None:
        return {"item_id": item["id"], "source": item["source"], "reason": f"llm_{result.error.reason}",
                "reasons": [result.error.reason], "detail": str(result.error), "attempts": len(result.attempts),
                "history": history}
    problems = result.final.problems
    return {"item_id": item["id"], "source": item["source"], "reason": problems[0].rule,
            "reasons": sorted({p.rule for p in problems}), "detail": "\n".join(str(p) for p in problems),
            "attempts": len(result.attempts), "history": history}


def tables(results: Sequence[ChatResult], items: Mapping[str, Mapping[str, Any]]) -> dict[str, pl.DataFrame]:
    """``items`` maps item id → its canonical MCQA record."""
    chats = [_chat(items[r.item_id], r) for r in results if r.status == "valid"]
    quarantine = [_quarantined(items[r.item_id], r) for r in results if r.status != "valid"]
    return {"synthesized_chats": frame(chats, CHATS_SCHEMA),
            "synthesized_chats_quarantine": frame(quarantine, QUARANTINE_SCHEMA)}

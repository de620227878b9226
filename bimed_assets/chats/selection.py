"""Which MCQA items become chats: clinical vignettes of the chosen sources, a stable share of each.

A chat needs a patient: items whose question opens a case ("A 47-year-old man comes to…") rather than asking
a fact. The share is drawn as translation's (``translation.selection``), by a hash of the item id, so a
rebuild after a small change asks for chats of the new items only.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from bimed_assets.translation.selection import select

# MCQA sources whose items are clinical cases; PubMedQA asks about a study abstract, not a patient.
CHAT_SOURCES = ("medqa", "medmcqa", "mmlu_medical")
VIGNETTE = r"(?i)\b\d+[- ](?:year|month|week|day)s?[- ]old\b"


def select_items(pool: pl.DataFrame, share: float, per_source_limit: int | None = None,
                 sources: Sequence[str] = CHAT_SOURCES, vignette: str = VIGNETTE) -> pl.DataFrame:
    cases = pool.filter(pl.col("task") == "mcqa", pl.col("source").is_in(list(sources)),
                        pl.col("question").str.contains(vignette))
    return select(cases, share, per_source_limit)

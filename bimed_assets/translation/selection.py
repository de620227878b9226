"""Which samples get translated: a stable pseudo-random share of each source.

Each sample draws a number in [0, 1) from a hash of its id, so the selection of a sample never changes when
other samples are added, removed or edited: a rebuild after a small change re-translates only what changed.
"""

from __future__ import annotations

import hashlib

import polars as pl


def stable_hash(item_id: str) -> int:
    """A 64-bit number from the id alone: the same in every process and on every machine (unlike ``hash()``)."""
    return int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:8], "big")


def draw(item_id: str) -> float:
    return stable_hash(item_id) / 2**64


def select(pool: pl.DataFrame, share: float, per_source_limit: int | None = None) -> pl.DataFrame:
    """Samples whose draw is below ``share``; at most ``per_source_limit`` per source (lowest draws first)."""
    drawn = pool.with_columns(pl.col("id").map_elements(draw, return_dtype=pl.Float64).alias("_draw"))
    chosen = drawn.filter(pl.col("_draw") < share).sort("source", "_draw")
    if per_source_limit is not None:
        chosen = chosen.group_by("source", maintain_order=True).head(per_source_limit)
    return chosen.drop("_draw")

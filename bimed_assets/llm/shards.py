"""Shards of the LLM steps' items, and the shards read back as one table.

An item belongs to shard ``stable_hash(id) % count``: the hash the selection already draws from
(``translation.selection``), so an item stays in its shard whatever else is added, removed or edited, and an
unchanged shard's next run walks nothing. The selection keeps its own draw (the hash's high bits against the
share); the shard is the hash's remainder, so every shard gets about the same share of the selected items.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from bimed_assets.translation.selection import stable_hash


def shard_keys(count: int) -> list[str]:
    """``"00"`` .. ``count - 1``, zero-padded so that the keys sort as the shards do."""
    width = max(2, len(str(count - 1)))
    return [f"{index:0{width}d}" for index in range(count)]


def shard_of(item_id: str, count: int) -> int:
    return stable_hash(item_id) % count


def in_shard(frame: pl.DataFrame, key: str, count: int, column: str = "id") -> pl.DataFrame:
    """The rows of ``frame`` whose ``column`` (an item id) falls in shard ``key`` of ``count``."""
    index = int(key)
    return frame.filter(pl.col(column).map_elements(lambda item_id: shard_of(item_id, count) == index,
                                                    return_dtype=pl.Boolean))


def one_table(loaded: pl.DataFrame | Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """One table from what the Parquet IO manager hands a consumer: the table itself when the upstream asset is
    unpartitioned (or one partition is read), ``{partition key: table}`` when it reads several partitions."""
    if isinstance(loaded, pl.DataFrame):
        return loaded
    if not loaded:
        raise ValueError("no partition of the upstream asset to read: materialize its partitions first")
    # An empty shard's table may type a column Null that another shard types String: relaxed takes the supertype.
    return pl.concat([loaded[key] for key in sorted(loaded)], how="diagonal_relaxed")

"""Deterministic language mix: which items give an English, an Arabic and a bilingual record.

Each item's choices come from a keyed hash of its id (BLAKE2b, stable across machines and library versions),
so a rebuild picks the same records, and adding items moves few of the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl


@dataclass(frozen=True, slots=True)
class MixConfig:
    # Arabic records per English record (1:2 as BiMed1.3M); None keeps every record of both languages.
    ar_per_en: float | None = 0.5
    # Bilingual records, as a share of the Arabic records (made from items that have a translation).
    bilingual_share: float = 0.1
    # Share of each source's items to keep, in [0, 1] (default 1); upsampling would only add duplicates.
    source_weights: Mapping[str, float] = field(default_factory=dict)


DEFAULT_MIX = MixConfig()


def uniform(ids: pl.Series, salt: str) -> pl.Series:
    """A stable pseudo-random number in [0, 1) per id, independent for each ``salt``."""
    key = salt.encode()
    digests = b"".join(hashlib.blake2b(i.encode(), digest_size=8, key=key).digest() for i in ids)
    return pl.Series(ids.name, np.frombuffer(digests, dtype="<u8") / 2.0**64)


def _first(ids: pl.Series, count: int, salt: str) -> pl.Series:
    """The ``count`` ids with the smallest hash: an exact count, stable under rebuilds."""
    return pl.DataFrame({"id": ids, "u": uniform(ids, salt)}).sort("u", "id").head(count)["id"]


def choose(items: pl.DataFrame, config: MixConfig = DEFAULT_MIX) -> dict[str, pl.Series]:
    """``items``: ``item_id``, ``source``, ``has_ar``. Returns the item ids chosen for ``en``, ``ar``, ``bilingual``."""
    weight = pl.col("source").replace_strict(dict(config.source_weights), default=1.0, return_dtype=pl.Float64)
    # uniform() < 1 always: with no weight under 1, every item is kept and no hash is needed.
    kept = items.filter(uniform(items["item_id"], "source") < items.select(weight.clip(0, 1)).to_series()) if any(
        not w >= 1 for w in config.source_weights.values()) else items
    en, ar = kept["item_id"], kept.filter("has_ar")["item_id"]
    if config.ar_per_en is not None:
        if len(ar) > config.ar_per_en * len(en):
            ar = _first(ar, round(config.ar_per_en * len(en)), "ar")
        else:
            en = _first(en, round(len(ar) / config.ar_per_en) if config.ar_per_en else len(en), "en")
    translated = kept.filter("has_ar")["item_id"]
    bilingual = _first(translated, min(len(translated), round(config.bilingual_share * len(ar))), "bilingual")
    return {"en": en.sort(), "ar": ar.sort(), "bilingual": bilingual.sort()}


def first_language(ids: pl.Series) -> pl.Series:
    """Language of the first turn of a bilingual record: half start in English, half in Arabic."""
    return pl.Series("first", np.where(uniform(ids, "first").to_numpy() < 0.5, "en", "ar"))

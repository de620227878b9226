"""Text normalisation for duplicate detection (script measurements are in ``bimed_assets.record_rules``)."""

from __future__ import annotations

import polars as pl

# Harakat, Quranic annotation marks, superscript alef and tatweel: they change the bytes, not the word.
_ARABIC_MARKS = "[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]"


def normalise(text: pl.Expr) -> pl.Expr:
    """Case, punctuation and whitespace folded; Arabic marks dropped, alef/yeh/teh-marbuta variants unified."""
    return (
        text.str.to_lowercase()
        .str.replace_all(_ARABIC_MARKS, "")
        .str.replace_all("[أإآٱ]", "ا")
        .str.replace_all("ى", "ي")
        .str.replace_all("ة", "ه")
        .str.replace_all(r"[\p{P}\p{S}\s]+", " ")
        .str.strip_chars()
    )


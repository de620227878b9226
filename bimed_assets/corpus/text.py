"""Text normalisation for duplicate detection (script measurements are in ``bimed_assets.record_rules``)."""

from __future__ import annotations

import polars as pl

# Harakat, Quranic annotation marks, superscript alef and tatweel: they change the bytes, not the word.
ARABIC_MARKS = "[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]"
# The block every character the Arabic steps of ``normalise`` read lies in.
_ARABIC_BLOCK = "[\u0600-\u06ff]"


def normalise(text: pl.Expr, arabic: bool = True) -> pl.Expr:
    """Case, punctuation and whitespace folded; Arabic marks dropped, alef/yeh/teh-marbuta variants unified.

    ``arabic=False`` leaves the Arabic steps out: the same result for a text without Arabic script
    (``normalised`` chooses per row)."""
    if arabic:
        text = (
            text.str.to_lowercase()
            .str.replace_all(ARABIC_MARKS, "")
            .str.replace_all("[أإآٱ]", "ا")
            .str.replace_all("ى", "ي")
            .str.replace_all("ة", "ه")
        )
    else:
        text = text.str.to_lowercase()
    return text.str.replace_all(r"[\p{P}\p{S}\s]+", " ").str.strip_chars()


def normalised(frame: pl.DataFrame, column: str, name: str = "norm") -> pl.DataFrame:
    """``frame`` with ``column`` replaced by ``name``, its ``normalise``\\ d text, rows in any order: the Arabic steps
    run only on the rows with Arabic script (they cost most of the time on English text, and change nothing)."""
    arabic = frame.select(pl.col(column).str.contains(_ARABIC_BLOCK).fill_null(False)).to_series()
    return pl.concat([
        part.with_columns(normalise(pl.col(column), arabic=has).alias(column)).rename({column: name})
        for has, part in ((True, frame.filter(arabic)), (False, frame.filter(~arabic))) if part.height
    ] or [frame.rename({column: name})])

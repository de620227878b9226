"""Record-level rules with one definition, shared by the stage that accepts a record and the check that audits it.

- Arabic script: an Arabic record is "Arabic enough" when at least ``MIN_ARABIC_SHARE`` of its letters are
  Arabic-script letters. Translation acceptance (``bimed_assets.translation.fidelity.check_item``, on every text
  of the translated item) and the corpus's blocking ``arabic_script`` check (on every turn of the record) apply
  this rule, with the same letter counting in Python and in Polars.
- Length: no record's text over ``MAX_RECORD_CHARS`` characters. The source loaders quarantine a longer record
  (``oversized_record``, in every file format), and the corpus's ``length_bounds`` check audits the same bound.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import polars as pl

# Arabic, Arabic Supplement, Arabic Extended-A and the presentation forms; a letter is Unicode category L*.
ARABIC_BLOCKS = "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff"
# Mostly Arabic: translations keep drug names, abbreviations and units in Latin letters ("HbA1c 8.2%، LDL
# 160 mg/dL"), but a record with most of its letters Latin was not translated.
MIN_ARABIC_SHARE = 0.5
# ~25k words: far above any real QA item or chat (BiMed1.3M's longest are a few thousand characters); a longer
# one is a scraping accident (a whole page or file in one field) that would dominate a training batch.
MAX_RECORD_CHARS = 100_000

_ARABIC_RUNS = re.compile(f"[{ARABIC_BLOCKS}]+")


def arabic_share(text: str) -> float | None:
    """Share of the letters that are Arabic script; None for a text without letters."""
    # Counted in C: the Arabic letters are those gone once the Arabic blocks are cut out. A loop over the
    # characters took 0.2 ms a translation (this, 0.07 ms): with its two callers, ~5% of a translation shard's CPU
    # (py-spy on a throwaway script).
    letters = sum(map(str.isalpha, text))
    return (letters - sum(map(str.isalpha, _ARABIC_RUNS.sub("", text)))) / letters if letters else None


def arabic_letters(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """The letters of ``text`` and those in Arabic script, as ``arabic_share`` counts them. Counted as characters
    less non-letters, and letters less non-Arabic ones: the same counts, with a regex match for the few
    characters that are not (a match per letter of an Arabic text costs twice the time)."""
    letters = text.str.len_chars().cast(pl.Int64) - text.str.count_matches(r"\P{L}").cast(pl.Int64)
    return letters, letters - text.str.count_matches(f"[\\p{{L}}--[{ARABIC_BLOCKS}]]").cast(pl.Int64)


def arabic_share_expr(text: pl.Expr) -> pl.Expr:
    """``arabic_share`` in Polars (null for a text without letters)."""
    letters, arabic = arabic_letters(text)
    return pl.when(letters > 0).then(arabic / letters)


def arabic_enough(share: float | None) -> bool:
    return share is None or share >= MIN_ARABIC_SHARE


def texts(value: Any) -> Iterator[str]:
    """Every string in a nested document (mappings, lists), in order."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from texts(item)

"""Token counts with Mixtral's tokenizer (the BiMediX base model), as shipped offline by ``mistral-common``.

``mistral_common/data/tokenizer.model.v1`` is the SentencePiece model of Mistral 7B and Mixtral 8x7B (32,000
pieces). Each message content is counted as the chat template tokenizes it: on its own, after a space
(SentencePiece's dummy prefix), template markup excluded.

Exact counting at corpus scale (~624M tokens in the benchmark) is too slow text by text (about 2.5M tokens/s on two cores), so
``count_by`` counts by word: this model is BPE with ``split_by_whitespace``, so no piece spans the start of a
word (a space and the non-spaces after it), and a text's count is the sum of the counts of its words, each
encoded alone with the dummy prefix standing for its space. Every distinct word is encoded once. Texts with
leading, trailing or repeated spaces (where SentencePiece groups the spaces) are encoded whole.
``tests/corpus`` checks the identity against whole-text encoding.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

# Texts whose spaces SentencePiece groups: they are encoded whole.
IRREGULAR = r"^ |  | $"


@cache
def tokenizer():
    import mistral_common
    import sentencepiece

    model = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    return sentencepiece.SentencePieceProcessor(model_file=str(model))


def count(texts: pl.Series, batch: int = 20_000) -> np.ndarray:
    """Tokens of each text (no BOS/EOS), encoding each whole text."""
    sp, out = tokenizer(), np.zeros(len(texts), dtype=np.int64)
    for start in range(0, len(texts), batch):
        ids = sp.encode(texts.slice(start, batch).fill_null("").to_list(), num_threads=os.cpu_count() or 1)
        out[start : start + len(ids)] = [len(i) for i in ids]
    return out


MERGE_EVERY = 4  # batches whose word counts are summed together
# A (group, word) pair's key (a 64-bit hash of the word mixed with the group) and a second hash of the word.
_KEY, _CHECK = (0x70C3_0001, 0x9E37_79B9_7F4A_7C15), 0x70C3_0002


def _whole_and_words(texts: pl.DataFrame, key: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``texts`` (``key``, ``text``: a string or a list of strings per row) split into the irregular texts, to be
    encoded whole (``key``, ``text``), and the words of the others, one row each (``key``, ``word``)."""
    if isinstance(texts.schema["text"], pl.List):
        texts = texts.explode("text", empty_as_null=False)
    texts = texts.filter(pl.col("text").fill_null("") != "")
    irregular = texts["text"].str.contains(IRREGULAR)
    words = texts.filter(~irregular).select(key, word=pl.col("text").str.split(" ")).explode(
        "word", empty_as_null=True)
    return texts.filter(irregular), words


class Collision(Exception):
    """Two (group, word) pairs share a key: never seen (~1e-6 odds at 1.3M records); count by word instead."""


class WordCounts:
    """Token counts of texts per group, added a batch at a time.

    Words are counted per (group, word) pair: ``hashed`` by a 64-bit key of the pair, checked by a second hash of
    the word (grouping by the word itself costs ~1.5x as much; ``Collision`` when two pairs share a key), or by
    the word itself. Each distinct word is encoded once, at the end; irregular texts are encoded whole."""

    def __init__(self, hashed: bool = True) -> None:
        self.hashed = hashed
        self.counted: list[pl.DataFrame] = []
        self.whole: list[pl.DataFrame] = []

    def add(self, texts: pl.DataFrame) -> None:
        """``texts``: ``group`` (UInt32), ``text`` (a string, or a list of strings, per row)."""
        whole, words = _whole_and_words(texts, "group")
        self.whole.append(whole.select("group", tokens=pl.Series(count(whole["text"]), dtype=pl.Int64)))
        group, word = pl.col("group"), pl.col("word")
        if self.hashed:
            # The group is in the key (one word, distinct keys per group): the check need only tell words apart.
            counted = words.select("group", "word", key=word.hash(_KEY[0]) ^ (group.cast(pl.UInt64) * _KEY[1]),
                                   check=word.hash(_CHECK)).group_by("key").agg(
                pl.first("group"), pl.first("word"), n=pl.len().cast(pl.Int64), lo=pl.col("check").min(),
                hi=pl.col("check").max())
        else:
            counted = words.group_by("group", "word").agg(n=pl.len().cast(pl.Int64))
        del words
        self.counted.append(counted)
        if len(self.counted) == MERGE_EVERY:  # each batch repeats the common words: keep their sums
            self.counted = [self._merged()]

    def _merged(self) -> pl.DataFrame:
        if not self.hashed:
            return pl.concat(self.counted).group_by("group", "word").agg(pl.col("n").sum())
        merged = pl.concat(self.counted).group_by("key").agg(
            pl.first("group"), pl.first("word"), pl.col("n").sum(), pl.col("lo").min(), pl.col("hi").max())
        if merged.filter(pl.col("lo") != pl.col("hi")).height:
            raise Collision
        return merged

    def totals(self) -> pl.DataFrame:
        """``group``, ``tokens``."""
        parts = list(self.whole)
        if self.counted:
            words = self._merged().select("group", "word", "n")
            distinct = words.select(pl.col("word").unique())
            per_word = distinct.with_columns(tokens=pl.Series(count(distinct["word"], batch=200_000)))
            parts.append(words.join(per_word, on="word").select("group", tokens=pl.col("n") * pl.col("tokens")))
        if not parts:
            return pl.DataFrame(schema={"group": pl.UInt32, "tokens": pl.Int64})
        return pl.concat(parts).group_by("group").agg(pl.col("tokens").sum())


def count_by(frame: pl.DataFrame, by: list[str], text: str | pl.Expr = "text", chunk: int = 250_000) -> pl.DataFrame:
    """Exact token count of the texts of ``text`` (a column name, or an expression giving a string or a list of
    strings per row, such as the contents of ``messages``) summed per ``by`` group: ``by`` columns and ``tokens``.

    Rows are taken ``chunk`` at a time, so that memory holds one chunk's texts and the distinct words, never a
    second copy of every text (``WordCounts``; by word itself after a ``Collision``)."""
    groups = frame.select(by).unique(maintain_order=True).with_row_index("group")
    for hashed in (True, False):
        counts = WordCounts(hashed)
        try:
            for rows in frame.iter_slices(chunk):
                counts.add(rows.join(groups, on=by, how="left", nulls_equal=True, maintain_order="left").select(
                    "group", text=pl.col(text) if isinstance(text, str) else text))
            totals = counts.totals()
            break
        except Collision:
            continue
    return groups.join(totals, on="group", how="left").select(*by, pl.col("tokens").fill_null(0))


def count_rows(frame: pl.DataFrame, text: str | pl.Expr, chunk: int = 50_000) -> np.ndarray:
    """Exact tokens of each row of ``frame``: the sum over the texts of ``text`` (as in ``count_by``), by word:
    each chunk's distinct words encoded once, irregular texts whole."""
    out = np.zeros(frame.height, dtype=np.int64)
    for start in range(0, frame.height, chunk):
        texts = frame.slice(start, chunk).select(row=pl.int_range(start, min(start + chunk, frame.height),
                                                                  dtype=pl.UInt32), text=pl.col(text) if isinstance(text, str) else text)
        whole, words = _whole_and_words(texts, "row")
        np.add.at(out, whole["row"].to_numpy(), count(whole["text"]))
        distinct = words.select(pl.col("word").unique())
        per_word = distinct.with_columns(tokens=pl.Series(count(distinct["word"], batch=200_000)))
        summed = words.join(per_word, on="word").group_by("row").agg(pl.col("tokens").sum())
        np.add.at(out, summed["row"].to_numpy(), summed["tokens"].to_numpy())
    return out

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


MERGE_EVERY = 4  # chunks whose word counts are summed together


def _sum_words(counted: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(counted).group_by("group", "word").agg(pl.col("n").sum())


def count_by(frame: pl.DataFrame, by: list[str], text: str | pl.Expr = "text", chunk: int = 250_000) -> pl.DataFrame:
    """Exact token count of the texts of ``text`` (a column name, or an expression giving a string or a list of
    strings per row, such as the contents of ``messages``) summed per ``by`` group: ``by`` columns and ``tokens``.

    Rows are taken ``chunk`` at a time, so that memory holds one chunk's texts and the distinct words, never a
    second copy of every text."""
    groups = frame.select(by).unique(maintain_order=True).with_row_index("group")
    counted, parts = [], []
    for rows in frame.iter_slices(chunk) if frame.height else [frame]:  # an empty frame yields no slice
        texts = rows.join(groups, on=by, how="left", nulls_equal=True, maintain_order="left").select(
            "group", text=pl.col(text) if isinstance(text, str) else text)
        if isinstance(texts.schema["text"], pl.List):
            texts = texts.explode("text", empty_as_null=False)
        texts = texts.filter(pl.col("text").fill_null("") != "")
        irregular = texts.filter(pl.col("text").str.contains(IRREGULAR))
        parts.append(irregular.select("group", tokens=pl.Series(count(irregular["text"]), dtype=pl.Int64)))
        counted.append(texts.lazy().filter(~pl.col("text").str.contains(IRREGULAR))
                       .select("group", word=pl.col("text").str.split(" ")).explode("word", empty_as_null=True)
                       .group_by("group", "word").len("n").collect())
        if len(counted) == MERGE_EVERY:  # each chunk repeats the common words: keep their sums, not every chunk's
            counted = [_sum_words(counted)]
    words = _sum_words(counted)
    distinct = words.select(pl.col("word").unique())
    per_word = distinct.with_columns(tokens=pl.Series(count(distinct["word"], batch=200_000)))
    parts.append(words.join(per_word, on="word").select("group", tokens=pl.col("n") * pl.col("tokens")))
    totals = pl.concat(parts).group_by("group").agg(pl.col("tokens").sum())
    return groups.join(totals, on="group", how="left").select(*by, pl.col("tokens").fill_null(0))

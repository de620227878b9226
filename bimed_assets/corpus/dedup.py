"""Exact and near-duplicate detection (vectorised MinHash LSH), used for dedup and for decontamination.

Why not datasketch: it builds one document's MinHash at a time and inserts and queries its LSH one document at
a time in Python. Measured on the 868k documents of the BiMed1.3M-shaped benchmark it takes 70 s where this takes
6 s, which would put the assembly at ~137 s against its 120 s target (bench/results/corpus_scale.md). Here the
shingles of all documents are hashed at once with NumPy (multiply-shift hashing of 64-bit shingle hashes,
``np.minimum.reduceat``);
``tests/corpus`` checks that both find the same planted near duplicates and estimate the same Jaccard.
Shingle hashes come from ``Expr.hash``, stable within a Polars version: a rebuild on the same lockfile is
identical, a Polars upgrade may move a borderline near-duplicate.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from bimed_assets.corpus.text import normalise


@dataclass(frozen=True, slots=True)
class MinHashConfig:
    num_perm: int = 64
    bands: int = 16  # 16 bands of 4 rows: pairs from Jaccard ~0.5 up become candidates, then verified
    ngram: int = 3  # word shingles
    max_words: int = 256  # bounds the cost of very long texts; a near-duplicate differs early too
    seed: int = 1303


def _signatures(texts: pl.Series, a: np.ndarray, b: np.ndarray, config: MinHashConfig) -> np.ndarray:
    n = config.ngram
    words = (
        pl.DataFrame({"t": texts}).with_row_index("doc")
        .select("doc", w=pl.col("t").str.split(" ").list.head(config.max_words))
        .explode("w", empty_as_null=True).filter(pl.col("w").is_not_null() & (pl.col("w") != ""))
        .select("doc", h=pl.col("w").hash(config.seed))
    )
    doc = words["doc"].to_numpy()
    h = words["h"].to_numpy()
    # Shingle k of a document: its words k..k+n-1 combined; documents shorter than n keep one shingle.
    valid = np.zeros(len(h), dtype=bool)
    shingle = h.copy()
    if len(h) >= n:
        same = doc[: len(h) - n + 1] == doc[n - 1 :]
        for i in range(1, n):
            shingle[: len(h) - n + 1] = shingle[: len(h) - n + 1] * np.uint64(0x9E3779B97F4A7C15) + h[i : len(h) - n + 1 + i]
        valid[: len(h) - n + 1] = same
    starts = np.r_[True, doc[1:] != doc[:-1]] if len(doc) else np.zeros(0, dtype=bool)
    short = ~np.isin(doc, np.unique(doc[valid]))
    keep = valid | (short & starts)
    doc, shingle = doc[keep], shingle[keep]
    sig = np.full((len(texts), config.num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
    if not len(doc):
        return sig
    first = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
    with np.errstate(over="ignore"):
        for j in range(config.num_perm):
            sig[doc[first], j] = np.minimum.reduceat(shingle * a[j] + b[j], first)
    return sig


def signatures(texts: pl.Series, config: MinHashConfig = MinHashConfig(), chunk: int = 50_000) -> np.ndarray:
    """MinHash signatures (``len(texts)`` × ``num_perm``, uint64) of normalised texts; empty text → all-max.

    Chunks of ``chunk`` texts bound the memory of the shingles; two threads hash them (NumPy releases the GIL).
    """
    rng = np.random.default_rng(config.seed)
    a = rng.integers(1, 2**63, config.num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, config.num_perm, dtype=np.uint64)
    sig = np.empty((len(texts), config.num_perm), dtype=np.uint64)

    def fill(start: int) -> None:
        sig[start : start + chunk] = _signatures(texts.slice(start, chunk), a, b, config)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(fill, range(0, len(texts), chunk)))
    return sig


def candidate_pairs(sig: np.ndarray, is_query: np.ndarray, config: MinHashConfig = MinHashConfig()) -> pl.DataFrame:
    """LSH candidates ``(doc, other)`` with ``other < doc`` (row order is rank: lower rows are kept).

    Every document that is not a query is paired with the lowest-ranked document of each of its buckets, and
    with every ``is_query`` document (the evaluation questions) sharing a bucket with it. One band at a time.
    """
    rows = config.num_perm // config.bands
    docs = pl.Series("doc", np.arange(len(sig), dtype=np.int64))
    empty = sig[:, 0] == np.iinfo(np.uint64).max
    pairs = []
    for band in range(config.bands):
        with np.errstate(over="ignore"):
            key = (sig[:, band * rows : (band + 1) * rows] * np.uint64(0x9E3779B97F4A7C15)).sum(axis=1, dtype=np.uint64)
        buckets = pl.DataFrame({"doc": docs, "key": key, "query": is_query}).filter(pl.Series(~empty))
        lowest = buckets.group_by("key").agg(other=pl.col("doc").min())
        queries = buckets.filter("query").select("key", other="doc")
        members = buckets.filter(~pl.col("query"))
        pairs += [members.join(lowest, on="key").select("doc", "other"),
                  members.join(queries, on="key").select("doc", "other")]
    return pl.concat(pairs).filter(pl.col("other") < pl.col("doc")).unique() if pairs else pl.DataFrame(
        schema={"doc": pl.Int64, "other": pl.Int64})


def jaccard(sig: np.ndarray, pairs: pl.DataFrame) -> np.ndarray:
    """Estimated Jaccard similarity of each pair's texts."""
    a, b = pairs["doc"].to_numpy(), pairs["other"].to_numpy()
    return (sig[a] == sig[b]).mean(axis=1) if len(a) else np.zeros(0)


@dataclass(frozen=True, slots=True)
class DedupConfig:
    duplicate_threshold: float = 0.8  # near-duplicates within the training data
    contamination_threshold: float = 0.6  # looser: a lightly edited evaluation question must not slip through
    minhash: MinHashConfig = MinHashConfig()


DEFAULT_DEDUP = DedupConfig()



def find_removals(train: pl.DataFrame, evaluation: pl.DataFrame, config: DedupConfig = DedupConfig()) -> pl.DataFrame:
    """Training items to remove: ``item_id``, ``reason`` (``contamination_exact|near``, ``duplicate_exact|near``), ``matched`` (kept id).

    ``train`` and ``evaluation``: ``item_id``, ``text`` (the question as it is compared: stem and options).
    Evaluation items are compared by content, never by id (MMLU repeats items across subjects and splits).
    A training item's duplicates keep the lowest id.
    """
    docs = pl.concat([
        evaluation.select("item_id", "text", query=pl.lit(True)),
        train.sort("item_id").select("item_id", "text", query=pl.lit(False)),
    ]).with_columns(norm=normalise(pl.col("text"))).with_row_index("doc")
    first = docs.group_by("norm").agg(other=pl.col("doc").min(), other_query=pl.col("query").sort_by("doc").first())
    exact = docs.filter(~pl.col("query")).join(first, on="norm").filter(pl.col("other") != pl.col("doc")).select(
        "doc", "other", reason=pl.when("other_query").then(pl.lit("contamination_exact")).otherwise(
            pl.lit("duplicate_exact")),
    )
    rest = docs.filter(~pl.col("doc").is_in(exact["doc"].implode()))
    sig = signatures(rest["norm"], config.minhash)
    query = rest["query"].to_numpy()
    pairs = candidate_pairs(sig, query, config.minhash)
    similarity = jaccard(sig, pairs)
    other_query = query[pairs["other"].to_numpy()] if len(pairs) else np.zeros(0, dtype=bool)
    threshold = np.where(other_query, config.contamination_threshold, config.duplicate_threshold)
    keep = similarity >= threshold
    position = rest.select(pos=pl.col("doc").cum_count() - 1, doc=pl.col("doc")).cast(pl.Int64)
    near = (
        pairs.filter(pl.Series(keep)).with_columns(contaminated=pl.Series(other_query[keep], dtype=pl.Boolean))
        .sort("contaminated", "other", descending=[True, False]).group_by("doc", maintain_order=True).first()
        .select(pos="doc", other_pos="other", reason=pl.when("contaminated").then(pl.lit("contamination_near"))
                .otherwise(pl.lit("duplicate_near")))
        .join(position, on="pos").join(position.rename({"pos": "other_pos", "doc": "other"}), on="other_pos")
        .select("doc", "other", "reason")
    )
    removed = pl.concat([exact.cast({"doc": pl.Int64, "other": pl.Int64}), near])
    ids = docs.select(pl.col("doc").cast(pl.Int64), "item_id")
    return removed.join(ids, on="doc").join(ids.rename({"doc": "other", "item_id": "matched"}), on="other").select(
        "item_id", "reason", "matched"
    ).sort("item_id")

"""Exact and near-duplicate detection (vectorised MinHash LSH), and decontamination (``find_contamination``).

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


def candidate_pairs(sig: np.ndarray, config: MinHashConfig = MinHashConfig()) -> pl.DataFrame:
    """LSH candidates ``(doc, other)`` with ``other < doc`` (row order is rank: lower rows are kept): every
    document paired with the lowest-ranked document of each of its buckets. One band at a time."""
    rows = config.num_perm // config.bands
    docs = pl.Series("doc", np.arange(len(sig), dtype=np.int64))
    empty = sig[:, 0] == np.iinfo(np.uint64).max
    pairs = []
    for band in range(config.bands):
        with np.errstate(over="ignore"):
            key = (sig[:, band * rows : (band + 1) * rows] * np.uint64(0x9E3779B97F4A7C15)).sum(axis=1, dtype=np.uint64)
        buckets = pl.DataFrame({"doc": docs, "key": key}).filter(pl.Series(~empty))
        lowest = buckets.group_by("key").agg(other=pl.col("doc").min())
        pairs.append(buckets.join(lowest, on="key").select("doc", "other"))
    return pl.concat(pairs).filter(pl.col("other") < pl.col("doc")).unique() if pairs else pl.DataFrame(
        schema={"doc": pl.Int64, "other": pl.Int64})


def jaccard(sig: np.ndarray, pairs: pl.DataFrame) -> np.ndarray:
    """Estimated Jaccard similarity of each pair's texts."""
    a, b = pairs["doc"].to_numpy(), pairs["other"].to_numpy()
    return (sig[a] == sig[b]).mean(axis=1) if len(a) else np.zeros(0)


@dataclass(frozen=True, slots=True)
class ContaminationConfig:
    """When a training text counts as a copy of an evaluation question (``find_contamination``)."""

    min_contained: float = 0.75  # share of the question's words the training text holds: two of eight may go
    min_shared: int = 3  # fewer shared words are chance; a question of fewer words must be there whole
    # Both sides are read from their last words: a record's question and options follow its context (PubMedQA
    # abstracts), and a text's head is what a copy least needs (a window this long holds a whole vignette).
    last_words: int = 96
    min_in_order: float = 0.5  # share of the question's consecutive word pairs the text holds too
    common: float = 0.02  # words in more than this share of the questions ("which", "following") carry no identity
    common_floor: int = 10  # ... and in more than this many: a few questions have no common words


@dataclass(frozen=True, slots=True)
class DedupConfig:
    duplicate_threshold: float = 0.8  # near-duplicates within the training data
    minhash: MinHashConfig = MinHashConfig()
    contamination: ContaminationConfig = ContaminationConfig()


DEFAULT_DEDUP = DedupConfig()


def _word_sequence(frame: pl.DataFrame, column: str, last: int) -> pl.DataFrame:
    """``doc`` (row), ``word`` in text order: the ``last`` words of the normalised text; words with a digit are
    left out, so that a changed number (dose, age, value) does not hide a copy."""
    return (
        frame.select(doc=pl.int_range(pl.len(), dtype=pl.UInt32),
                     word=normalise(pl.col(column).str.tail(16 * last)).str.split(" ").list.tail(last))
        .explode("word", empty_as_null=True)
        .filter((pl.col("word").str.len_chars() > 1) & ~pl.col("word").str.contains(r"\d"))
    )


def _pairs(sequence: pl.DataFrame) -> pl.DataFrame:
    """``doc``, ``pair``: each distinct pair of consecutive words."""
    return sequence.select("doc", pair=pl.col("word") + " " + pl.col("word").shift(-1).over("doc")).drop_nulls(
        ).unique(maintain_order=False)


def find_contamination(train: pl.DataFrame, evaluation: pl.DataFrame,
                       config: ContaminationConfig = ContaminationConfig()) -> pl.DataFrame:
    """Training texts that contain an evaluation question: ``item_id``, ``matched`` (evaluation id), ``contained``
    (share of the question's words found), one row per training item (its best match).

    ``train``: ``item_id``, ``text`` -- what a record asks (the first user turn: stem, options, context, in any
    order or casing). ``evaluation``: ``item_id``, ``text`` -- the question's stem. The one definition the
    assembly removes by and the ``zero_contamination`` check audits by.

    A training text is a copy when it holds at least ``min_contained`` of the distinct words of the stem (and at
    least ``min_shared``), after normalisation (case, punctuation, Arabic marks), leaving out numbers and the
    words common to many questions. Containment, not similarity: reordered or missing options, added
    instructions or context and changed numbers leave it unchanged; each dropped word costs one word.

    Candidates come from an index on each question's rarest words (prefix filtering): a text holding ``k`` of a
    question's ``m`` words holds one of any ``m - k + 1`` of them, so every pair over the threshold is a
    candidate (no LSH miss), and each candidate is confirmed by counting its shared words exactly.
    """
    out = pl.DataFrame(schema={"item_id": pl.String, "matched": pl.String, "contained": pl.Float64})
    sequence = _word_sequence(evaluation, "text", config.last_words).rename({"doc": "question"})
    if sequence.is_empty() or train.is_empty():
        return out
    df = sequence.unique().group_by("word").len("df")
    common = df.filter(pl.col("df") > max(config.common * evaluation.height, config.common_floor))["word"].implode()
    sequence = sequence.filter(~pl.col("word").is_in(common))
    questions = sequence.unique(maintain_order=False)
    texts = _word_sequence(train, "text", config.last_words).filter(
        pl.col("word").is_in(questions["word"].unique().implode())).unique(maintain_order=False)
    # Rarest first by the training texts' own counts: any order is correct, the rarest gives fewest candidates.
    rarity = texts.group_by("word").len("n")
    needed = questions.group_by("question").agg(m=pl.len()).with_columns(
        k=pl.max_horizontal((pl.col("m") * config.min_contained).ceil().cast(pl.UInt32),
                           pl.min_horizontal(pl.col("m"), pl.lit(config.min_shared, pl.UInt32))))
    prefix = (
        questions.join(rarity, on="word", how="left").with_columns(pl.col("n").fill_null(0))
        .join(needed, on="question")
        .sort("question", "n", "word").filter(pl.int_range(pl.len()).over("question") < pl.col("m") - pl.col("k") + 1)
    )
    candidates = texts.join(prefix.select("word", "question"), on="word").select("doc", "question").unique()
    shared = (
        candidates.join(questions, on="question").join(texts, on=["doc", "word"], how="semi")
        .group_by("doc", "question").len("shared")
        .join(needed, on="question").filter(pl.col("shared") >= pl.col("k"))
        .select("doc", "question", contained=pl.col("shared") / pl.col("m"))
    )
    # In order too: most of the question's consecutive word pairs are in the text (a dropped word breaks two).
    # A long passage holds many of a short question's words by chance, seldom their order.
    question_pairs = _pairs(sequence.rename({"question": "doc"})).rename({"doc": "question"})
    text_pairs = _pairs(_word_sequence(train.filter(pl.int_range(pl.len()).is_in(shared["doc"].implode())).select(
        pl.col("text")), "text", config.last_words).join(  # rows of the filtered frame back to rows of ``train``
        shared.select("doc").unique().sort("doc").with_row_index("sub", 0).cast({"sub": pl.UInt32}),
        left_on="doc", right_on="sub").select(pl.col("doc_right").alias("doc"), "word").filter(
        ~pl.col("word").is_in(common)))
    ordered = (
        shared.join(question_pairs, on="question").join(text_pairs, on=["doc", "pair"], how="semi")
        .group_by("doc", "question").len("in_order")
        .join(question_pairs.group_by("question").len("pairs"), on="question")
        .filter(pl.col("in_order") >= (config.min_in_order * pl.col("pairs")).floor())
    )
    shared = (
        shared.join(ordered.select("doc", "question"), on=["doc", "question"], how="semi")
        .sort("doc", "contained", "question", descending=[False, True, False]).unique("doc", keep="first")
    )
    ids = train.select(doc=pl.int_range(pl.len(), dtype=pl.UInt32), item_id="item_id")
    qids = evaluation.select(question=pl.int_range(pl.len(), dtype=pl.UInt32), matched="item_id")
    return shared.join(ids, on="doc").join(qids, on="question").select(*out.columns).sort("item_id")


def find_removals(train: pl.DataFrame, evaluation: pl.DataFrame, config: DedupConfig = DEFAULT_DEDUP) -> pl.DataFrame:
    """Training items to remove: ``item_id``, ``reason`` (``contamination_exact|near``, ``duplicate_exact|near``),
    ``matched`` (the evaluation question, or the kept item).

    ``train``: ``item_id``, ``text`` (what two items are compared by for duplicates: stem and options),
    ``asked`` (what the record asks, see ``find_contamination``; ``text`` when absent); ``evaluation``: ``item_id``, ``text`` (the
    stem). Contamination first (``exact`` when every word of the stem is there), by content, never by id (MMLU
    repeats items across subjects and splits); then, among the rest, a training item's duplicates keep the
    lowest id.
    """
    asked = "asked" if "asked" in train.columns else "text"
    leaked = find_contamination(train.select("item_id", text=asked), evaluation, config.contamination).select(
        "item_id", reason=pl.when(pl.col("contained") >= 1.0).then(pl.lit("contamination_exact"))
        .otherwise(pl.lit("contamination_near")), matched="matched")
    docs = train.filter(~pl.col("item_id").is_in(leaked["item_id"].implode())).sort("item_id").select(
        "item_id", norm=normalise(pl.col("text"))).with_row_index("doc")
    first = docs.group_by("norm").agg(other=pl.col("doc").min())
    exact = docs.join(first, on="norm").filter(pl.col("other") != pl.col("doc")).select(
        pl.col("doc").cast(pl.Int64), pl.col("other").cast(pl.Int64), reason=pl.lit("duplicate_exact"))
    rest = docs.filter(~pl.col("doc").is_in(exact["doc"].implode()))
    sig = signatures(rest["norm"], config.minhash)
    pairs = candidate_pairs(sig, config.minhash)
    keep = jaccard(sig, pairs) >= config.duplicate_threshold
    position = rest.select(pos=pl.col("doc").cum_count() - 1, doc=pl.col("doc")).cast(pl.Int64)
    near = (
        pairs.filter(pl.Series(keep)).sort("other").group_by("doc", maintain_order=True).first()
        .select(pos="doc", other_pos="other", reason=pl.lit("duplicate_near"))
        .join(position, on="pos").join(position.rename({"pos": "other_pos", "doc": "other"}), on="other_pos")
        .select("doc", "other", "reason")
    )
    ids = docs.select(pl.col("doc").cast(pl.Int64), "item_id")
    duplicates = pl.concat([exact, near]).join(ids, on="doc").join(
        ids.rename({"doc": "other", "item_id": "matched"}), on="other").select("item_id", "reason", "matched")
    return pl.concat([leaked, duplicates]).sort("item_id")

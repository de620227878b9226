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

from bimed_assets.corpus.text import ARABIC_MARKS, normalise, normalised


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
    # A question of at most this many words (common ones included) is also found as a run of its words with at
    # most one missing: short stems have too few uncommon words for the share above ("in which of the following
    # is X"), and their order is what identifies them.
    short_words: int = 16
    chunk: int = 100_000  # training texts split into words at a time (bounds the memory of the words)


@dataclass(frozen=True, slots=True)
class DedupConfig:
    duplicate_threshold: float = 0.8  # near-duplicates within the training data
    minhash: MinHashConfig = MinHashConfig()
    contamination: ContaminationConfig = ContaminationConfig()


DEFAULT_DEDUP = DedupConfig()


# Characters that normalisation turns into part of an ASCII word although the raw text does not hold that word:
# the Kelvin sign (lower-cased to "k") and the Arabic marks ``normalise`` deletes (inside a word, they split it).
_HIDES_WORDS = ARABIC_MARKS[:-1] + "\u212a]"
_ARABIC_SCRIPT = "[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]"


def _kept(word: pl.Expr) -> pl.Expr:
    """Words that count: more than one letter, no digit (a changed number -- dose, age, value -- hides no copy)."""
    return (word.str.len_chars() > 1) & ~word.str.contains(r"\d")


def _question_words(evaluation: pl.DataFrame, last: int) -> pl.DataFrame:
    """``q`` (row of ``evaluation``), ``pos`` (place among the question's kept words), ``seg`` (its line: the stem,
    an option), ``word``: the last ``last`` ``_kept`` normalised words of each question."""
    lines = evaluation.select(q=pl.int_range(pl.len(), dtype=pl.UInt32),
                              line=pl.col("text").fill_null("").str.split("\n")).explode("line", empty_as_null=False)
    words = lines.with_columns(seg=pl.int_range(pl.len(), dtype=pl.UInt32).over("q"), word=normalise(
        pl.col("line")).str.split(" ")).explode("word", empty_as_null=False).filter(_kept(pl.col("word")))
    words = words.with_columns(pos=pl.int_range(pl.len(), dtype=pl.Int64).over("q"))
    return words.filter(pl.col("pos") >= pl.len().over("q").cast(pl.Int64) - last).select(
        "q", pos=(pl.col("pos") - (pl.len().over("q").cast(pl.Int64) - last).clip(0)).cast(pl.UInt32), seg="seg",
        word="word")


def _text_words(train: pl.DataFrame, vocab: pl.DataFrame, stems: pl.DataFrame, config: ContaminationConfig
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The training texts as the evaluation questions are read, ``config.chunk`` texts at a time.

    Returns ``words`` -- ``doc`` (row of ``train``), ``pos`` (place among the text's last ``last_words`` kept
    words),
    ``rank`` (place among its kept uncommon words, for word pairs), ``wid``, ``common``: every occurrence of a
    question word -- and ``exact``: ``doc``, ``q`` where the normalised text is a question's (``stems``)."""
    last = config.last_words
    # A text without any question word (as a substring, in any case) cannot match: Arabic records, mostly. Exact
    # when every question word is ASCII (lower-casing and folding never make an ASCII word of others, but for
    # ``_HIDES_WORDS``); with two ASCII letters in each, a text needs two to hold one (a cheap first look).
    ascii_only = vocab["word"].str.contains(r"^[\x00-\x7f]*$").all()
    two_letters = ascii_only and vocab["word"].str.contains("[a-z]{2}").all()
    tail = pl.col("tail")

    def chunk(start: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        frame = pl.DataFrame({
            "doc": pl.int_range(start, min(start + config.chunk, train.height), dtype=pl.UInt32, eager=True),
            "tail": train["text"].slice(start, config.chunk).fill_null("").str.tail(16 * last)})
        if ascii_only:
            flags = frame.select("doc", "tail", hides=tail.str.contains(_HIDES_WORDS),
                                 latin=tail.str.contains("[A-Za-z]{2}") if two_letters else pl.lit(True),
                                 arabic=tail.str.contains(_ARABIC_SCRIPT))
            # Text in another script with some Latin letters: looked for the question words themselves.
            mixed = flags.filter(pl.col("arabic") & pl.col("latin") & ~pl.col("hides"))
            if mixed.height:
                mixed = mixed.filter(tail.str.contains_any(vocab["word"].implode(), ascii_case_insensitive=True))
            frame = flags.filter(pl.col("hides") | (pl.col("latin") & ~pl.col("arabic"))
                                 | pl.col("doc").is_in(mixed["doc"].implode())).select("doc", "tail")
        frame = normalised(frame, "tail")
        exact = frame.filter(pl.col("norm").str.len_bytes().is_in(stems["norm"].str.len_bytes().implode())).join(
            stems, on="norm").select("doc", "q")
        words = frame.select("doc", word=pl.col("norm").str.split(" ")).explode("word", empty_as_null=False)
        del frame
        words = words.filter(_kept(pl.col("word")))
        # Each text's last ``last`` kept words, numbered (``pos``); the uncommon ones numbered apart (``rank``):
        # two are a pair when their ranks follow. Rows are in text order, each text's together.
        doc = words["doc"].to_numpy()
        first = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]]) if len(doc) else np.zeros(0, dtype=np.int64)
        lengths = np.diff(np.r_[first, len(doc)])
        start = np.repeat(first, lengths)
        pos = np.arange(len(doc)) - start - np.repeat(np.maximum(lengths - last, 0), lengths)
        uncommon = (~words["word"].is_in(vocab.filter("common")["word"].implode())).to_numpy()
        counted = np.cumsum(uncommon, dtype=np.int64)
        rank = counted - (counted[start] - uncommon[start]) - 1 if len(doc) else counted
        words = words.with_columns(pos=pl.Series(pos, dtype=pl.Int64), rank=pl.Series(rank, dtype=pl.Int64)).filter(
            pl.col("pos") >= 0).with_columns(pl.col("pos").cast(pl.UInt32))
        return words.join(vocab, on="word").select("doc", "pos", "rank", "wid", "common"), exact

    # Two chunks at a time: their string work is single-threaded in Polars, and the GIL is released.
    with ThreadPoolExecutor(2, thread_name_prefix="contamination") as pool:
        parts, exact = zip(*pool.map(chunk, range(0, train.height, config.chunk))) if train.height else ([], [])
    return pl.concat(parts), pl.concat(exact).unique()


def _texts(start: int, count: int) -> pl.Expr:
    """The rows of training texts ``start`` to ``start + count - 1`` (by ``doc``): one chunk of them."""
    return pl.col("doc").is_between(start, start + count, closed="left")


def _run_matches(runs: pl.DataFrame, words: pl.DataFrame, text_words: pl.DataFrame, facts: pl.DataFrame
                 ) -> pl.DataFrame:
    """``doc``, ``q``, ``contained``, ``rule`` = ``run``: the candidates ``runs`` (``doc``, ``q``) that hold their
    short question as a run, its words in order with at most one missing (``find_contamination``'s run test)."""
    # Each question word's place in the text less its place in the question (its offset): a run with a word
    # missing has one offset before the gap and the next lower one after it. Each offset ``d`` collects the
    # words at ``d`` (before the gap) and at ``d - 1`` (after it).
    offsets = runs.select("doc", "q").join(words.select("q", "pos", "wid", "common"), on="q").join(
        text_words.select("doc", "wid", tpos="pos"), on=["doc", "wid"]).select(
        "doc", "q", "pos", "tpos", "common", d=pl.col("tpos").cast(pl.Int64) - pl.col("pos").cast(pl.Int64))
    # Words counted before they are told apart: most candidates hold a few of the words, scattered.
    counts = offsets.group_by("doc", "q", "d").len()
    buckets = pl.concat([counts, counts.with_columns(pl.col("d") + 1)]).group_by("doc", "q", "d").agg(
        pl.col("len").sum()).join(facts.select("q", "run"), on="q").filter(pl.col("len") >= pl.col("run"))
    offsets = offsets.join(pl.concat([buckets.select("doc", "q", "d"), buckets.select(
        "doc", "q", pl.col("d") - 1)]).unique(), on=["doc", "q", "d"], how="semi")
    after = pl.col("after")
    aligned = (
        pl.concat([offsets.with_columns(after=pl.lit(False)),
                   offsets.with_columns(pl.col("d") + 1, after=pl.lit(True))])
        .join(buckets.select("doc", "q", "d"), on=["doc", "q", "d"], how="semi")
        .group_by("doc", "q", "d").agg(
            # each word of the question and each word of the text used once, every uncommon one counted
            aligned=pl.min_horizontal(pl.col("pos").n_unique(), pl.col("tpos").n_unique()),
            uncommon=pl.col("pos").filter(~pl.col("common")).n_unique(),
            last_before=pl.col("pos").filter(~after).max(), first_after=pl.col("pos").filter(after).min())
        .filter(pl.col("last_before").is_null() | pl.col("first_after").is_null()
                | (pl.col("last_before") < pl.col("first_after")))
        .join(facts.select("q", "size", "run", "k2"), on="q")
        .filter((pl.col("aligned") >= pl.col("run")) & (pl.col("uncommon") >= pl.col("k2")))
        .group_by("doc", "q").agg(contained=(pl.col("aligned") / pl.col("size")).max())
    )
    return aligned.with_columns(rule=pl.lit("run"))


def find_contamination(train: pl.DataFrame, evaluation: pl.DataFrame,
                       config: ContaminationConfig = ContaminationConfig()) -> pl.DataFrame:
    """Training texts that contain an evaluation question: ``item_id``, ``matched`` (evaluation id), ``contained``
    (share of the question's words found), ``rule`` (``share``, ``run`` or ``exact``, below), one row per training
    item (its best match).

    ``train``: ``item_id``, ``text`` -- what a record asks (the first user turn: stem, options, context, in any
    order or casing). ``evaluation``: ``item_id``, ``text`` -- the question: its stem, or its stem and options one
    a line. The one definition the assembly removes by and the ``zero_contamination`` check audits by.

    After normalisation (case, punctuation, Arabic marks), leaving out numbers and one-letter words, a training
    text is a copy of a question when

    - it holds at least ``min_contained`` of the question's distinct *uncommon* words (at least ``min_shared``),
      and at least ``min_in_order`` of the consecutive pairs of those words within a line of the question (so
      reordered options keep theirs). Containment, not similarity: reordered or missing options, added
      instructions or context and changed numbers leave it unchanged; each dropped word costs one word;
    - or, for a question of at most ``short_words`` words (common ones included), it holds all of them but at
      most one (all of four) as a run in the question's order, its uncommon words but one at least among them: a
      short stem has too few uncommon words for the share above, and its order is what identifies it;
    - or its normalised text is the question's.

    Candidates come from an index on each question's rarest words (prefix filtering): a text holding ``k`` of a
    question's ``m`` words holds ``j`` of any ``m - k + j`` of them, so every pair over the threshold is a
    candidate (no LSH miss), and each candidate is confirmed by counting its shared words exactly.
    """
    out = pl.DataFrame(schema={"item_id": pl.String, "matched": pl.String, "contained": pl.Float64, "rule": pl.String})
    words = _question_words(evaluation, config.last_words)
    if words.is_empty() or train.is_empty():
        return out
    df = words.select("q", "word").unique().group_by("word").len("df")
    limit = max(config.common * evaluation.height, config.common_floor)
    vocab = df.sort("word").select("word", common=pl.col("df") > limit).with_row_index("wid")
    words = words.join(vocab, on="word").drop("word")
    uncommon = words.filter(~pl.col("common"))
    # Consecutive uncommon words of a line: the pairs the order test looks for.
    pairs = uncommon.sort("q", "pos").select("q", a="wid", b=pl.col("wid").shift(-1).over("q", "seg")).drop_nulls(
        ).unique()
    facts = (
        words.group_by("q").len("size")
        .join(uncommon.group_by("q").agg(m=pl.col("wid").n_unique()), on="q", how="left")
        .join(pairs.group_by("q").len("pairs"), on="q", how="left")
        .join(words.group_by("q").agg(lines=pl.col("seg").n_unique()), on="q").fill_null(0)
        .with_columns(
            # the share test: k of the m uncommon words, and some of their pairs in order
            k1=pl.when((pl.col("m") > 0) & (pl.col("pairs") > 0)).then(pl.max_horizontal(
                (pl.col("m") * config.min_contained).ceil().cast(pl.Int64),
                pl.min_horizontal(pl.col("m"), pl.lit(config.min_shared)))),
            in_order=pl.max_horizontal(pl.lit(1), (config.min_in_order * pl.col("pairs")).floor().cast(pl.Int64)),
            # the run test: all words of a short question but one (all of four), its uncommon words but one (one
            # at least) among them. Where the share test needs every uncommon word (three or fewer) only; and a
            # question with its options, in any order, is the share test's: its stem alone is a line.
            k2=pl.when(pl.col("m").is_between(1, 3) & pl.col("size").is_between(4, config.short_words)
                       & (pl.col("lines") == 1)).then(pl.max_horizontal(pl.lit(1), pl.col("m") - 1)),
            run=pl.when(pl.col("size") > 4).then(pl.col("size") - 1).otherwise(pl.col("size")),
        )
    )
    stems = evaluation.select(q=pl.int_range(pl.len(), dtype=pl.UInt32), norm=normalise(pl.col("text"))).join(
        words.select("q").unique(), on="q")
    text_words, exact = _text_words(train, vocab, stems, config)
    found = [exact.select("doc", "q", contained=pl.lit(1.0), rule=pl.lit("exact"))]

    # Which uncommon question words each text holds, one chunk of texts at a time (a text is in one chunk): the
    # joins below then work on a chunk's rows, not on every text's at once (~1 GB less at 1.31M records).
    chunks = [_texts(start, config.chunk) for start in range(0, train.height, config.chunk)]
    present_parts = [text_words.filter(~pl.col("common") & chunk).select("doc", "wid").unique() for chunk in chunks]
    doc_freq = pl.concat([part.group_by("wid").len("n") for part in present_parts]).group_by("wid").agg(
        pl.col("n").sum())
    # Rarest first by the training texts' own counts: any order is correct, the rarest gives fewest candidates.
    ranked = uncommon.select("q", "wid").unique().join(doc_freq, on="wid", how="left").with_columns(
        pl.col("n").fill_null(0)).sort("q", "n", "wid").with_columns(r=pl.int_range(pl.len()).over("q"))
    prefixes = {}
    for k in ("k1", "k2"):
        need = facts.filter(pl.col(k).is_not_null()).select("q", "m", k=k, j=pl.min_horizontal(k, pl.lit(2)))
        prefixes[k] = ranked.join(need, on="q").filter(pl.col("r") < pl.col("m") - pl.col("k") + pl.col("j")
                                                       ).select("q", "wid", "j")
    candidates, shared = {"k1": [], "k2": []}, []
    for present in present_parts:
        for k, prefix in prefixes.items():
            candidates[k].append(present.join(prefix, on="wid").group_by("doc", "q").agg(
                hits=pl.len(), j=pl.col("j").first()).filter(pl.col("hits") >= pl.col("j")).select("doc", "q"))
        shared.append(candidates["k1"][-1].join(ranked.select("q", "wid"), on="q").join(
            present, on=["doc", "wid"], how="semi").group_by("doc", "q").len("shared"))
    del present_parts
    share = pl.concat(shared).join(facts, on="q").filter(pl.col("shared") >= pl.col("k1"))
    if not share.is_empty():
        docs = share["doc"].unique().implode()
        sequence = text_words.filter(pl.col("doc").is_in(docs) & ~pl.col("common")).sort("doc", "rank")
        follows = (pl.col("rank").shift(-1) == pl.col("rank") + 1) & (pl.col("doc").shift(-1) == pl.col("doc"))
        text_pairs = sequence.select("doc", a="wid", b=pl.when(follows).then(pl.col("wid").shift(-1))).drop_nulls(
            ).unique()
        ordered = (
            share.select("doc", "q").join(pairs, on="q").join(text_pairs, on=["doc", "a", "b"], how="semi")
            .group_by("doc", "q").len("ordered")
        )
        found.append(share.join(ordered, on=["doc", "q"]).filter(pl.col("ordered") >= pl.col("in_order")).select(
            "doc", "q", contained=pl.col("shared") / pl.col("m"), rule=pl.lit("share")))

    runs = pl.concat(candidates["k2"])  # k2 is at most 2: the candidates hold that many
    # The run test pairs every word of a candidate's question with its places in the text: done for the texts of
    # one chunk at a time, its working memory is a chunk's (at 1.31M records, all at once added ~2.4 GB to the
    # peak of the whole corpus build).
    for chunk in chunks:
        if not (part := runs.filter(chunk)).is_empty():
            found.append(_run_matches(part, words, text_words.filter(chunk), facts))

    best = pl.concat(found, how="vertical_relaxed").sort("doc", "contained", "q", descending=[False, True, False]
                                                        ).unique("doc", keep="first")
    ids = train.select(doc=pl.int_range(pl.len(), dtype=pl.UInt32), item_id="item_id")
    qids = evaluation.select(q=pl.int_range(pl.len(), dtype=pl.UInt32), matched="item_id")
    return best.join(ids, on="doc").join(qids, on="q").select(*out.columns).sort("item_id")


# A text's key: two independent 64-bit hashes (a chance collision of both: ~1e-26 at a few million texts).
SCREENED_SCHEMA = pl.Schema({"h1": pl.UInt64, "h2": pl.UInt64, "matched": pl.String})


def text_key(text: pl.Expr) -> list[pl.Expr]:
    return [text.hash(0x5EED_0001).alias("h1"), text.hash(0x5EED_0002).alias("h2")]


def screened_texts(keys: pl.DataFrame, leaked: pl.DataFrame) -> pl.DataFrame:
    """``SCREENED_SCHEMA``: the key of each text read for contamination (``keys``: ``item_id``, ``h1``, ``h2``, by
    ``text_key``) and the evaluation question it matched (``leaked``: ``contamination_removals``; null: none), one
    row per distinct text."""
    return keys.join(leaked.select("item_id", "matched"), on="item_id", how="left").select(
        "h1", "h2", "matched").unique(["h1", "h2"])


def contamination_removals(asked: pl.DataFrame, evaluation: pl.DataFrame, config: DedupConfig = DEFAULT_DEDUP
                           ) -> pl.DataFrame:
    """``item_id``, ``reason`` (``contamination_exact`` when every word of the stem is there, else ``_near``),
    ``matched``: the training items ``find_contamination`` finds (``asked``: ``item_id``, ``text``)."""
    return find_contamination(asked, evaluation, config.contamination).select(
        "item_id", reason=pl.when(pl.col("contained") >= 1.0).then(pl.lit("contamination_exact"))
        .otherwise(pl.lit("contamination_near")), matched="matched")


def find_removals(train: pl.DataFrame, evaluation: pl.DataFrame, config: DedupConfig = DEFAULT_DEDUP,
                  leaked: pl.DataFrame | None = None) -> pl.DataFrame:
    """Training items to remove: ``item_id``, ``reason`` (``contamination_exact|near``, ``duplicate_exact|near``),
    ``matched`` (the evaluation question, or the kept item).

    ``train``: ``item_id``, ``text`` (what two items are compared by for duplicates: stem and options),
    ``asked`` (what the record asks, see ``find_contamination``; ``text`` when absent); ``evaluation``: ``item_id``, ``text`` (the
    stem). Contamination first (``contamination_removals``; or ``leaked``, its result, when given), by content,
    never by id (MMLU repeats items across subjects and splits); then, among the rest, a training item's
    duplicates keep the lowest id.
    """
    if leaked is None:
        asked = "asked" if "asked" in train.columns else "text"
        leaked = contamination_removals(train.select("item_id", text=asked), evaluation, config)
    docs = normalised(train.filter(~pl.col("item_id").is_in(leaked["item_id"].implode())).sort("item_id").select(
        "item_id", "text").with_row_index("doc"), "text").sort("doc")
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

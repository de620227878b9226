"""Our MinHash-LSH against datasketch on planted near duplicates, and word-wise token counting against
whole-text encoding."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from bimed_assets.corpus import tokens
from bimed_assets.corpus.dedup import DedupConfig, MinHashConfig, find_removals, signatures

NGRAM = MinHashConfig().ngram


def _shingles(text: str) -> set[str]:
    words = text.split(" ")
    return {" ".join(words[k : k + NGRAM]) for k in range(len(words) - NGRAM + 1)}


@pytest.fixture(scope="module")
def planted():
    """300 random 30-50 word texts; 150 near copies (one word appended or replaced), 100 unrelated texts."""
    rng = np.random.default_rng(7)
    vocabulary = np.array([f"w{n}" for n in range(20_000)])

    def text(n: int) -> str:
        return " ".join(vocabulary[rng.integers(0, len(vocabulary), n)])

    bases = [text(int(rng.integers(30, 50))) for _ in range(300)]
    copies = []
    for k in range(150):
        words = bases[k].split(" ")
        if k % 2:
            words[-1] = "edited"
        else:
            words.append("extra")
        copies.append(" ".join(words))
    rows = ([(f"a{k:04d}", t) for k, t in enumerate(bases)] + [(f"b{k:04d}", t) for k, t in enumerate(copies)]
            + [(f"c{k:04d}", text(40)) for k in range(100)])
    frame = pl.DataFrame(rows, schema={"item_id": pl.String, "text": pl.String}, orient="row")
    truth = {f"b{k:04d}": len(_shingles(bases[k]) & _shingles(c)) / len(_shingles(bases[k]) | _shingles(c))
             for k, c in enumerate(copies)}
    return frame, bases, copies, truth


def _datasketch_near(texts: list[str], threshold: float) -> set[int]:
    datasketch = pytest.importorskip("datasketch")
    hashes = datasketch.MinHash.bulk([[s.encode() for s in _shingles(t)] for t in texts], num_perm=128, seed=3)
    lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=128)
    found = set()
    for doc, m in enumerate(hashes):  # row order is rank: a document duplicates an earlier one
        if any(hashes[o].jaccard(m) >= threshold for o in lsh.query(m)):
            found.add(doc)
        lsh.insert(doc, m)
    return found


def test_near_duplicates_agree_with_datasketch(planted):
    frame, _, _, truth = planted
    config = DedupConfig()
    removed = find_removals(frame, pl.DataFrame(schema={"item_id": pl.String, "text": pl.String}), config)
    ours = set(removed.filter(pl.col("reason") == "duplicate_near")["item_id"])
    ids = frame["item_id"].to_list()
    theirs = {ids[d] for d in _datasketch_near(frame["text"].to_list(), config.duplicate_threshold)}
    clear = {i for i, j in truth.items() if j >= config.duplicate_threshold + 0.05}
    assert len(clear) > 100
    assert len(clear & ours) >= 0.95 * len(clear) and len(clear & theirs) >= 0.95 * len(clear)
    assert not {i for i in ours | theirs if not i.startswith("b")}  # nothing unrelated is flagged
    assert len(ours ^ theirs) <= 0.05 * len(ours | theirs)


def test_jaccard_estimates_agree_with_datasketch(planted):
    datasketch = pytest.importorskip("datasketch")
    _, bases, copies, truth = planted
    sig = signatures(pl.Series(bases[:150] + copies), MinHashConfig())
    ours = (sig[:150] == sig[150:]).mean(axis=1)
    theirs = np.array([
        a.jaccard(b) for a, b in zip(*[datasketch.MinHash.bulk([[s.encode() for s in _shingles(t)] for t in part],
                                                               num_perm=64, seed=3) for part in (bases[:150], copies)])
    ])
    true = np.array([truth[f"b{k:04d}"] for k in range(150)])
    assert np.abs(ours - true).mean() < 0.05 and np.abs(theirs - true).mean() < 0.05
    assert np.abs(ours - theirs).mean() < 0.06


def test_token_counts_by_word_equal_whole_text_encoding():
    pytest.importorskip("mistral_common")
    texts = [
        "A 45-year-old man presents with chest pain radiating to the left arm.\n\nA. Aspirin\nB. Heparin",
        "The answer is B: Heparin\n\nAnticoagulation first; 5,000 IU bolus (80 U/kg).",
        "أنت مساعد طبي دقيق. أجب عن الأسئلة الطبية بدقة ووضوح",
        "يرجى الإجابة باللغة الإنجليزية. Metformin 500mg",
        "double  space", " leading space", "trailing space ", "   ", "tab\tand\nnewline  \n end",
        "", None, "x", "émigré naïve café — “quotes” …",
    ]
    frame = pl.DataFrame({"g": ["a", "b"] * 7, "text": texts + ["closing text with words"]})
    counted = tokens.count_by(frame, ["g"]).sort("g")
    whole = frame.with_columns(n=pl.Series(tokens.count(frame["text"]))).group_by("g").agg(pl.col("n").sum()).sort("g")
    assert counted["tokens"].to_list() == whole["n"].to_list()
    assert counted["tokens"].min() > 0

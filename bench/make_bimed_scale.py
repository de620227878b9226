"""Synthetic inputs shaped like BiMed1.3M for the corpus scale benchmark (``bench/corpus_scale.py``).

    .venv/bin/python bench/make_bimed_scale.py --records 1310000 --out /tmp/bimed_scale [--seed 0]

Writes the frames ``bimed_assets.corpus.assemble.assemble`` takes, as Parquet, plus the planted labels:

- ``training_pool.parquet`` / ``evaluation_sets.parquet`` (``RECORD_SCHEMA``);
- ``chats.parquet``: synthesized multi-turn chats (``RECORD_SCHEMA`` + ``turns`` + ``attempts``, task ``chat``);
- ``accepted_translations.parquet`` (``ACCEPTED_SCHEMA``; Arabic JSON in the shape of the translation step);
- ``reviewed_translations.parquet`` (``REVIEWED_SCHEMA``: approved, edited and rejected decisions);
- ``planted.parquet``: ``item_id``, ``kind`` (``duplicate_exact|near``, ``contamination_<edit>``),
  ``of`` (the item or evaluation question it copies) -- the answer key for recall.

Shape (BiMed1.3M: 1.31M records, ~632M Mixtral tokens, Arabic:English 1:2, ~20% chats): the pool is sized so
that the 1:2 mix with 10% bilingual records gives ``--records`` corpus records; per-source shares, task mix
and field lengths follow the sources (MedMCQA short stems with explanations, PubMedQA long abstracts, MedQA
vignettes, Medical Meadow QA, ChatDoctor and synthesized doctor-patient chats). ~3% of the pool are exact
duplicates after normalisation (case, punctuation), ~2% near duplicates (a word appended or replaced at the
end), ~0.3% copies of evaluation questions (verbatim or edited as real leaks are: ``LEAK_EDITS``). Text is drawn word by word from a
Zipf (log-uniform rank) law over a vocabulary seeded with the real English and Arabic words of the bundled
sample (Arabic in Arabic script) and extended with spliced words to a realistic size, so token and shingle
statistics look like text, not like a few repeated strings. ``native`` holds only the id and ``document``
is null: the assembly never reads them, and they would only inflate the input.

Vectorised: word ranks with NumPy, the bytes of every text gathered at once into Arrow string buffers.
The same seed gives the same frames.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bimed_assets.corpus.assemble import REVIEWED_SCHEMA
from bimed_assets.schema import RECORD_SCHEMA
from bimed_assets.translation.tables import ACCEPTED_SCHEMA

# source: (share of the pool, task, licence, {field: median words}); "options" = (count, words each).
SOURCES = {
    "medmcqa": (0.20, "mcqa", "Apache-2.0", {"question": 14, "options": (4, 3), "explanation": 60}),
    "medqa": (0.01, "mcqa", "MIT", {"question": 120, "options": (5, 3)}),
    "pubmedqa": (0.20, "mcqa", "MIT", {"context": 190, "question": 14, "explanation": 45}),
    "mmlu_medical": (0.003, "mcqa", "MIT", {"question": 30, "options": (4, 5)}),
    "medical_meadow": (0.385, "open_qa", "CC-BY-4.0", {"question": 25, "answer": 90}),
    "medicationqa": (0.001, "open_qa", "CC-BY-4.0", {"question": 12, "answer": 110}),
    "liveqa": (0.001, "open_qa", "public", {"question": 40, "answer": 120}),
    "chatdoctor": (0.08, "dialogue", "Apache-2.0", {"question": 90, "answer": 130}),
}
# Synthesized doctor-patient chats (``chats`` frame, task ``chat``), made from MCQA items: their share of the
# pool with the ChatDoctor dialogues makes ~20% chats; 4-8 turns, the doctor's last turn the longest.
CHATS = 0.12
CHAT_TURNS = (4, 9)  # even counts in [4, 9)
CHAT_WORDS = {"patient": 22, "doctor": 45, "last": 110}
# Evaluation splits (MedQA test, MedMCQA dev, PubMedQA test labels, MMLU test) and their sizes.
EVALUATION = {"medqa": ("test", 1273), "medmcqa": ("dev", 4183), "pubmedqa": ("test", 500),
              "mmlu_medical": ("test", 1089)}
DUPLICATE_EXACT, DUPLICATE_NEAR, CONTAMINATED = 0.03, 0.02, 0.003
TRANSLATED = 0.54  # of the pool: a little more than the 1:2 mix needs, as the selection over-translates
REVIEWED = 0.02  # of the translations
RECORDS_PER_ITEM = 1.55  # en + ar (1/2) + bilingual (1/10 of ar) records per kept item
LETTERS = "ABCDE"
NO_OPTIONS = pl.List(pl.Struct({"letter": pl.String, "text": pl.String}))
WIDTH = 32  # longest vocabulary entry in bytes, separator included


class Vocabulary:
    """Words (with their trailing separator) as a padded byte matrix, most frequent first."""

    def __init__(self, words: list[str], rng: np.random.Generator, size: int) -> None:
        words = [w for w in dict.fromkeys(words) if len(w.encode()) < WIDTH - 2]
        # Spliced words (head of one, tail of another) stand in for the long tail of rare terms.
        heads, tails = rng.integers(0, len(words), (2, size))
        spliced = [words[i][: max(2, len(words[i]) // 2)] + words[j][len(words[j]) // 2:] for i, j in
                   zip(heads.tolist(), tails.tolist())]
        numbers = [str(n) for n in rng.integers(1, 1000, 400)]
        entries = list(dict.fromkeys(words[:300] + numbers + words[300:] + spliced))
        entries = [e for e in entries if len(e.encode()) < WIDTH - 2]
        punct = rng.random(len(entries))
        # Some words carry punctuation: the separator after them becomes ", " or ". ".
        sep = np.where(punct < 0.06, ", ", np.where(punct < 0.10, ". ", " "))
        encoded = [(e + s).encode() for e, s in zip(entries, sep.tolist())]
        self.size = len(encoded)
        self.lengths = np.array([len(b) for b in encoded], dtype=np.int64)
        self.bytes = np.zeros((self.size, WIDTH), dtype=np.uint8)
        flat = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        self.bytes[np.repeat(np.arange(self.size), self.lengths),
                   np.arange(len(flat)) - np.repeat(np.cumsum(self.lengths) - self.lengths, self.lengths)] = flat

    def ranks(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Zipf-like ranks: log-uniform over the vocabulary, so frequency falls as 1/rank."""
        return (np.exp(rng.random(n) * np.log(self.size + 1)) - 1).astype(np.int64).clip(0, self.size - 1)

    def texts(self, rng: np.random.Generator, words_per_text: np.ndarray) -> pa.Array:
        """One string per entry of ``words_per_text`` (zero words: empty string)."""
        counts = np.asarray(words_per_text, dtype=np.int64)
        ends, out, start = np.cumsum(counts), [], 0
        while start < len(counts):
            # About 2M words a gather: bounds the temporary byte matrix to ~64 MB.
            before = int(ends[start - 1]) if start else 0
            stop = max(start + 1, int(np.searchsorted(ends, before + 2_000_000, "right")))
            c = counts[start:stop]
            ids = self.ranks(rng, int(c.sum()))
            lengths = self.lengths[ids]
            data = self.bytes[ids][np.arange(WIDTH) < lengths[:, None]]
            word_end = np.cumsum(lengths)
            text_end = word_end[np.cumsum(c)[c > 0] - 1]  # every separator ends with one space: drop it
            keep = np.ones(len(data), dtype=bool)
            keep[text_end - 1] = False
            text_bytes = np.zeros(len(c), dtype=np.int64)
            text_bytes[c > 0] = np.diff(np.r_[0, text_end]) - 1
            offsets = np.r_[0, np.cumsum(text_bytes)].astype(np.int64)
            out.append(pa.LargeStringArray.from_buffers(len(c), pa.py_buffer(offsets), pa.py_buffer(data[keep])))
            start = stop
        return pa.concat_arrays(out) if out else pa.array([], pa.large_string())


def seed_words() -> tuple[list[str], list[str]]:
    """Real English and Arabic words of the bundled sample (and its recorded translations), by frequency."""
    text = " ".join(p.read_text(errors="ignore") for p in (ROOT / "bimed_assets/sample_data").rglob("*")
                    if p.is_file() and p.suffix in {".json", ".jsonl", ".xml"})
    def by_frequency(pattern: str) -> list[str]:
        found = pl.Series(re.findall(pattern, text)).value_counts(sort=True)
        return found[found.columns[0]].to_list()
    return by_frequency(r"[a-z]{2,}"), by_frequency(r"[\u0621-\u064a]{2,}")


# Scales the medians above so that the default size has BiMed1.3M's ~632M tokens (Mixtral tokenizer).
LENGTH_SCALE = 0.77


def lengths(rng: np.random.Generator, n: int, median: float | np.ndarray) -> np.ndarray:
    """Words per field: log-normal around the (scaled) median, at least one."""
    return np.maximum(1, np.round(LENGTH_SCALE * median * rng.lognormal(0.0, 0.5, n))).astype(np.int64)


def column(vocab: Vocabulary, rng: np.random.Generator, n: int, median: float) -> pl.Series:
    return pl.Series(vocab.texts(rng, lengths(rng, n, median))).cast(pl.String)


def records(name: str, n: int, split: str, vocab: Vocabulary, rng: np.random.Generator) -> pl.DataFrame:
    """``n`` canonical (``RECORD_SCHEMA``) records of one source."""
    _, task, licence, spec = SOURCES[name]
    row = pl.int_range(n, dtype=pl.Int64).cast(pl.String).str.zfill(8)
    frame = pl.DataFrame({"question": column(vocab, rng, n, spec["question"])})
    if task == "mcqa":
        count, words = spec.get("options", (3, 1))
        texts = (column(vocab, rng, n * count, words) if "options" in spec
                 else pl.Series(np.tile(["yes", "no", "maybe"], n)))
        letters = pl.Series(np.tile(list(LETTERS[:count]), n))
        options = pl.DataFrame({"g": np.repeat(np.arange(n), count), "letter": letters, "text": texts}).group_by(
            "g", maintain_order=True).agg(o=pl.struct("letter", "text"))["o"]
        gold = rng.integers(0, count, n)
        frame = frame.with_columns(options=options, answer_letter=pl.Series(np.array(list(LETTERS))[gold]))
        frame = frame.with_columns(answer_text=pl.col("options").list.get(pl.Series(gold)).struct.field("text"))
    else:
        frame = frame.with_columns(options=pl.lit([], NO_OPTIONS),
                                   answer_letter=pl.lit(None, pl.String),
                                   answer_text=column(vocab, rng, n, spec["answer"]))
    explained = rng.random(n) < 0.8
    frame = frame.with_columns(
        explanation=pl.when(pl.Series(explained)).then(column(vocab, rng, n, spec["explanation"]))
        if "explanation" in spec else pl.lit(None, pl.String),
        context=column(vocab, rng, n, spec["context"]) if "context" in spec else pl.lit(None, pl.String),
    )
    ids = pl.lit(f"{name}-{split}-") + row
    return frame.select(
        id=ids, source=pl.lit(name), subset=pl.lit("synthetic"), split=pl.lit(split), is_eval=pl.lit(split != "train"),
        task=pl.lit(task), question="question", options="options", answer_letter="answer_letter",
        answer_text="answer_text", explanation="explanation", context="context", language=pl.lit("en"),
        licence=pl.lit(licence), origin=pl.lit(f"{name}/{split}.json#") + row,
        native=pl.lit('{"id": "') + ids + '"}',
    ).cast(dict(RECORD_SCHEMA))


def arabic(items: pl.DataFrame, vocab: Vocabulary, rng: np.random.Generator) -> pl.DataFrame:
    """Accepted translations (``ACCEPTED_SCHEMA``) of ``items``: JSON in the translation documents' shape."""
    plain = items.filter(pl.col("task") != "chat")
    words = plain.select(
        q=pl.col("question").str.count_matches(" ") + 1, a=pl.col("answer_text").str.count_matches(" ") + 1,
        e=pl.col("explanation").str.count_matches(" ") + 1, c=pl.col("context").str.count_matches(" ") + 1,
    )
    # Arabic takes slightly fewer words than English (clitics attach to the word).
    def text(counts: pl.Series) -> pl.Series:
        return pl.Series(vocab.texts(rng, np.ceil(counts.fill_null(0).to_numpy() * 0.9))).cast(pl.String)
    turns = items.filter(pl.col("task") == "chat").select("id", "turns").explode("turns", empty_as_null=True).unnest("turns")
    turns = turns.with_columns(content=text(turns["content"].str.count_matches(" ") + 1)).group_by(
        "id", maintain_order=True).agg(turns=pl.struct("role", "content"))
    chat = turns.select("id", json=pl.struct("turns").struct.json_encode())
    frame = plain.select("id", "task", "options", "explanation", "context").with_columns(
        q=text(words["q"]), a=text(words["a"]), e=text(words["e"]), c=text(words["c"]))
    mcqa = frame.filter(pl.col("task") == "mcqa")
    exploded = mcqa.select("id", "options").explode("options", empty_as_null=True).unnest("options")
    option_text = text(exploded["text"].str.count_matches(" ") + 1)
    letters = exploded.with_columns(text=option_text).pivot("letter", index="id", values="text")
    letters = letters.select("id", *(pl.col(k) if k in letters.columns else pl.lit(None, pl.String).alias(k)
                                     for k in LETTERS))
    mcqa = mcqa.join(letters, on="id", maintain_order="left").select(
        "id", json=pl.struct(question="q", options=pl.struct(*LETTERS),
                             explanation=pl.when(pl.col("explanation").is_not_null()).then("e"),
                             context=pl.when(pl.col("context").is_not_null()).then("c")).struct.json_encode())
    open_qa = frame.filter(pl.col("task") == "open_qa").select(
        "id", json=pl.struct(question="q", answer="a").struct.json_encode())
    dialogue = frame.filter(pl.col("task") == "dialogue").select("id", json=pl.struct(turns=pl.concat_list(
        pl.struct(role=pl.lit("patient"), content="q"), pl.struct(role=pl.lit("doctor"), content="a"))
    ).struct.json_encode())
    translated = pl.concat([mcqa, open_qa, dialogue, chat])
    n = len(items)
    return items.select("id", "source", "task").join(translated, on="id", maintain_order="left").select(
        item_id="id", source="source", task="task", round=pl.Series(rng.choice([1, 1, 1, 2, 3], n)).cast(pl.Int32),
        score=pl.Series(rng.uniform(0.7, 1.0, n)), judge_score=pl.Series(rng.uniform(3.5, 5.0, n)),
        chrf=pl.Series(rng.uniform(40, 80, n)), document=pl.lit(None, pl.String), translation="json",
    ).cast(dict(ACCEPTED_SCHEMA))


def chats(items: pl.DataFrame, vocab: Vocabulary, rng: np.random.Generator) -> pl.DataFrame:
    """Synthesized chats, one per MCQA item of ``items``, shaped as ``bimed_assets.chats.tables`` writes them."""
    n = len(items)
    turns = rng.integers(*CHAT_TURNS, n) // 2 * 2
    chat = np.repeat(np.arange(n), turns)
    position = np.arange(len(chat)) - np.repeat(np.cumsum(turns) - turns, turns)
    doctor = position % 2 == 1
    last = position == np.repeat(turns, turns) - 1
    median = np.where(last, CHAT_WORDS["last"], np.where(doctor, CHAT_WORDS["doctor"], CHAT_WORDS["patient"]))
    text = pl.Series(vocab.texts(rng, lengths(rng, len(chat), median))).cast(pl.String)
    grouped = pl.DataFrame({"chat": chat, "role": np.where(doctor, "doctor", "patient"), "content": text}).group_by(
        "chat", maintain_order=True).agg(turns=pl.struct("role", "content"))
    return items.with_columns(turns=grouped["turns"]).select(
        id=pl.lit("chat-") + pl.col("id"), source="source", subset="subset", split="split", is_eval=pl.lit(False),
        task=pl.lit("chat"), question=pl.col("turns").list.first().struct.field("content"),
        options=pl.lit([], NO_OPTIONS),
        answer_letter=pl.lit(None, pl.String), answer_text=pl.col("turns").list.last().struct.field("content"),
        explanation=pl.lit(None, pl.String), context=pl.lit(None, pl.String), language=pl.lit("en"),
        licence="licence", origin="id", native=pl.lit('{"synthesized_from": "') + pl.col("id") + '"}',
        turns="turns", attempts=pl.Series(rng.choice([1, 1, 1, 2], n)).cast(pl.Int32),
    )


# The edits real leaks of evaluation questions have (planted in turn, the last all at once), and how each is made.
LEAK_EDITS = ("verbatim", "case_punctuation", "reordered_options", "changed_numbers", "dropped_words",
              "added_words", "stem_alone", "combined")


def edited_leaks(leaks: pl.DataFrame) -> pl.DataFrame:
    """Evaluation questions copied into the training pool, each with one of ``LEAK_EDITS`` (``edit``, ``of``)."""
    edit = pl.lit(np.array(LEAK_EDITS)[np.arange(len(leaks)) % len(LEAK_EDITS)])
    is_ = lambda *names: pl.col("edit").is_in(names)
    digits = list("0123456789")
    options = pl.col("options")
    # Texts in reverse order under the same letters; the gold letter follows its text.
    reversed_texts = options.list.eval(pl.struct(letter=pl.element().struct.field("letter"),
                                                 text=pl.element().struct.field("text").reverse()))
    count = options.list.len()
    gold = pl.col("answer_letter").str.replace_many(list(LETTERS), [str(i) for i in range(len(LETTERS))]).cast(
        pl.Int64, strict=False)
    return leaks.with_row_index("k").with_columns(edit=edit, of=pl.col("id"),
        id=pl.col("source") + "-train-leak-" + pl.col("k").cast(pl.String).str.zfill(7),
        split=pl.lit("train"), is_eval=pl.lit(False)).drop("k").with_columns(
        question=pl.when(is_("case_punctuation", "combined")).then(
            pl.col("question").str.to_uppercase().str.replace(" ", ", ", n=2) + "?!").otherwise("question"),
    ).with_columns(
        question=pl.when(is_("changed_numbers", "combined")).then(
            pl.col("question").str.replace_many(digits, digits[3:] + digits[:3]) + " (dose 250 mg, age 47)")
        .otherwise("question"),
    ).with_columns(
        # The second word goes, from a question long enough to stay itself without it.
        question=pl.when(is_("dropped_words", "combined") & (pl.col("question").str.count_matches(" ") >= 7)).then(
            pl.col("question").str.replace(r"^(\S+) \S+ ", "$1 ")).otherwise("question"),
    ).with_columns(
        question=pl.when(is_("added_words", "combined")).then(
            pl.lit("Question: ") + pl.col("question") + " Explain your reasoning step by step.").otherwise("question"),
        options=pl.when(is_("reordered_options", "combined")).then(reversed_texts).otherwise(options),
        answer_letter=pl.when(is_("reordered_options", "combined") & (count > 1) & gold.is_not_null()).then(
            pl.lit(LETTERS).str.slice(count - 1 - gold, 1)).otherwise("answer_letter"),
    ).with_columns(  # the stem alone: an open question with the gold option's text as its answer
        task=pl.when(is_("stem_alone")).then(pl.lit("open_qa")).otherwise("task"),
        options=pl.when(is_("stem_alone")).then(pl.lit([], NO_OPTIONS)).otherwise("options"),
        answer_letter=pl.when(is_("stem_alone")).then(pl.lit(None, pl.String)).otherwise("answer_letter"),
        context=pl.when(is_("stem_alone")).then(pl.lit(None, pl.String)).otherwise("context"),
    )


def planted(pool: pl.DataFrame, evaluation: pl.DataFrame, vocab: Vocabulary, rng: np.random.Generator
            ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Copies of pool items (exact and near duplicates) and of evaluation questions, and their labels."""
    n = len(pool)
    picks = rng.choice(n, round(n * (DUPLICATE_EXACT + DUPLICATE_NEAR)), replace=False)
    exact_count = round(n * DUPLICATE_EXACT)
    word = pl.Series(vocab.texts(rng, np.ones(len(picks) + len(evaluation), np.int64))).cast(pl.String)
    # Exact after normalisation: case and punctuation differ. Near: the end of the compared text (the last
    # option, or the question) gains or changes one word.
    exact = pool[picks[:exact_count]].with_columns(
        question=pl.col("question").str.to_uppercase() + " ?", id=pl.col("id") + "~d")
    near_count = len(picks) - exact_count
    near = pool[picks[exact_count:]].with_columns(w=word.slice(0, near_count),
                                                  change=pl.Series(rng.random(near_count) < 0.5))
    edit = pl.when("change").then(pl.col("_t").str.replace(r"[^ ]+$", pl.col("w"))).otherwise(
        pl.col("_t") + " " + pl.col("w"))
    has_options = pl.col("options").list.len() > 0
    last = pl.col("options").list.last().struct.field("text")
    near = near.with_columns(_t=pl.when(has_options).then(last).otherwise("question")).with_columns(
        question=pl.when(has_options).then("question").otherwise(edit),
        options=pl.when(has_options).then(pl.concat_list(
            pl.col("options").list.head(pl.col("options").list.len() - 1),
            pl.struct(letter=pl.col("options").list.last().struct.field("letter"), text=edit),
        )).otherwise("options"),
        id=pl.col("id") + "~n",
    ).drop("w", "change", "_t")
    leaks = edited_leaks(evaluation.sample(round(n * CONTAMINATED), with_replacement=True,
                                           seed=int(rng.integers(2**31))))
    labels = pl.concat([
        exact.select(item_id="id", kind=pl.lit("duplicate_exact"), of=pl.col("id").str.strip_suffix("~d")),
        near.select(item_id="id", kind=pl.lit("duplicate_near"), of=pl.col("id").str.strip_suffix("~n")),
        leaks.select(item_id="id", kind=pl.lit("contamination_") + pl.col("edit"), of="of"),
    ])
    return pl.concat([exact, near, leaks.drop("edit", "of")]), labels


def build(records_wanted: int, seed: int = 0) -> dict[str, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    en_words, ar_words = seed_words()
    en, ar = Vocabulary(en_words, rng, 600_000), Vocabulary(ar_words, rng, 250_000)
    base = round(records_wanted / RECORDS_PER_ITEM)  # the planted copies are removed again
    pool = pl.concat([records(name, max(1, round(base * share)), "train", en, rng)
                      for name, (share, *_) in SOURCES.items()])
    evaluation = pl.concat([records(name, size, split, en, rng) for name, (split, size) in EVALUATION.items()])
    copies, labels = planted(pool, evaluation, en, rng)
    pool = pl.concat([pool, copies])
    mcqa = pool.filter((pl.col("task") == "mcqa") & ~pl.col("id").str.contains("~"))
    synthesized = chats(mcqa[np.sort(rng.choice(len(mcqa), round(base * CHATS), replace=False))], en, rng)
    everything = pl.concat([pool, synthesized.drop("turns", "attempts")])
    picked = np.sort(rng.choice(len(everything), round(len(everything) * TRANSLATED), replace=False))
    translated = everything[picked].join(synthesized.select("id", "turns"), on="id", how="left",
                                         maintain_order="left")
    accepted = arabic(translated, ar, rng)
    chosen = accepted.sample(fraction=REVIEWED, seed=int(rng.integers(2**31)))
    decision = pl.Series(rng.choice(["approved", "approved", "approved", "edited", "edited", "rejected"],
                                    len(chosen)))
    reviewed = chosen.select(
        "item_id", translation=pl.when(decision != "rejected").then("translation"),
        reviewer=pl.lit("reviewer-") + pl.Series(rng.integers(1, 51, len(chosen))).cast(pl.String),
        reviewed_at=pl.lit("2026-11-30T12:00:00Z"), decision=decision,
    ).cast(dict(REVIEWED_SCHEMA))
    return {"training_pool": pool, "chats": synthesized, "evaluation_sets": evaluation, "accepted_translations": accepted,
            "reviewed_translations": reviewed, "planted": labels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_310_000, help="corpus records the inputs should give")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    frames = build(args.records, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.write_parquet(args.out / f"{name}.parquet", compression="zstd")
    sizes = ", ".join(f"{name} {len(frame):,}" for name, frame in frames.items())
    print(f"wrote {sizes} to {args.out} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

"""The corpus from the training pool, the evaluation sets and the Arabic translations (accepted or reviewed).

Order: format English documents → remove items that duplicate or contaminate (by question content) → pair the
remaining items with their Arabic translation (a reviewer's decision overrides the automatic acceptance) →
choose the language mix → build ``messages`` and provenance. Arabic and bilingual records inherit their
item's removal, and a synthesized chat its MCQA item's, so an evaluation question cannot come back in Arabic or
retold as a chat.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from bimed_assets.corpus import formatting
from bimed_assets.corpus.dedup import (
    DEFAULT_DEDUP,
    DedupConfig,
    contamination_removals,
    find_removals,
    screened_texts,
    text_key,
)
from bimed_assets.corpus.mix import DEFAULT_MIX, MixConfig, choose, first_language
from bimed_assets.corpus.text import normalise
from bimed_assets.schema import RECORD_SCHEMA

PROVENANCE = pl.Struct({
    "item_id": pl.String, "origin": pl.String, "licence": pl.String, "translation_round": pl.Int32,
    "score": pl.Float64, "judge_score": pl.Float64, "chrf": pl.Float64, "review_decision": pl.String,
    "reviewer": pl.String, "reviewed_at": pl.String,
})
CORPUS_SCHEMA = pl.Schema({
    "id": pl.String, "messages": formatting.MESSAGES, "task": pl.String, "source": pl.String,
    "language": pl.String, "provenance": PROVENANCE,
})
REVIEWED_SCHEMA = pl.Schema({
    "item_id": pl.String, "translation": pl.String, "reviewer": pl.String, "reviewed_at": pl.String,
    "decision": pl.String,
})
REVIEW_DECISIONS = ("approved", "edited", "rejected")
REMOVED_SCHEMA = pl.Schema({"item_id": pl.String, "language": pl.String, "reason": pl.String, "matched": pl.String})
REASONS = {
    "contamination_exact": "holds every word of an evaluation question's stem (numbers and case aside)",
    "contamination_near": "holds most words of an evaluation question's stem (see dedup.find_contamination)",
    "duplicate_exact": "same normalised question as a kept item with a lower id",
    "duplicate_near": "near-duplicate (MinHash) of a kept item with a lower id",
    "review_rejected": "a reviewer rejected the Arabic translation",
    "translation_unknown_item": "the translation's item is not in the training pool",
}


@dataclass(frozen=True, slots=True)
class Assembly:
    corpus: pl.DataFrame  # CORPUS_SCHEMA
    removed: pl.DataFrame  # REMOVED_SCHEMA: one row per removed item (language "en") or translation ("ar")
    # ``dedup.SCREENED_SCHEMA``: the first user turn of every English document, as decontamination judged it
    screened: pl.DataFrame | None = None
    def counts(self) -> dict[str, int]:
        return dict(self.removed.group_by("reason").len().sort("reason").iter_rows())


def _with_options(question: pl.Expr, separator: str = " ") -> pl.Expr:
    options = pl.col("options").list.eval(pl.element().struct.field("text")).list.join(separator)
    return pl.concat_str(question, options, separator=separator, ignore_nulls=True)


def compare_text(docs: pl.DataFrame) -> pl.Expr:
    """What two items are compared by: the question with its options, or the patient's first message."""
    return _with_options(pl.coalesce("question", pl.col("turns").list.first().struct.field("content")))


def asked_text(docs: pl.DataFrame) -> pl.Expr:
    """A record's first user turn (``formatting.first_user_turn``), byte for byte: what ``find_contamination``
    reads, here and in the ``zero_contamination`` check alike (which takes the verdicts on these texts from
    ``Assembly.screened`` rather than reading them again)."""
    return formatting.first_user_turn("en")


def evaluation_questions(evaluation_sets: pl.DataFrame) -> pl.DataFrame:
    """``item_id``, ``text``: each evaluation question (``RECORD_SCHEMA``) twice, as contamination is looked
    for: its stem alone (a copy may lack the options, or reorder them) and its stem with the options, one a line
    (a short stem is told apart by them; word order counts within a line)."""
    questions = evaluation_sets.filter(pl.col("question").is_not_null())
    return pl.concat([questions.select(item_id="id", text="question"),
                      questions.filter(pl.col("options").list.len() > 0).select(
                          item_id="id", text=_with_options(pl.col("question"), "\n"))])


def _translations(accepted: pl.DataFrame, reviewed: pl.DataFrame | None) -> pl.DataFrame:
    """One Arabic translation per item with its provenance; a reviewer's decision wins over acceptance."""
    auto = accepted.select(
        "item_id", "translation", translation_round="round", score="score", judge_score="judge_score", chrf="chrf"
    )
    if reviewed is None:
        reviewed = pl.DataFrame(schema=REVIEWED_SCHEMA)
    reviewed = reviewed.select(
        "item_id", reviewed="translation", review_decision="decision", reviewer="reviewer",
        reviewed_at=pl.col("reviewed_at").cast(pl.String),
    )
    both = auto.join(reviewed, on="item_id", how="full", coalesce=True)
    return both.with_columns(translation=pl.coalesce("reviewed", "translation")).drop("reviewed")


def assemble(
    training_pool: pl.DataFrame,
    evaluation_sets: pl.DataFrame,
    accepted_translations: pl.DataFrame,
    reviewed_translations: pl.DataFrame | None = None,
    mix: MixConfig = DEFAULT_MIX,
    dedup: DedupConfig = DEFAULT_DEDUP,
    chats: pl.DataFrame | None = None,
) -> Assembly:
    """``training_pool`` / ``evaluation_sets``: ``RECORD_SCHEMA``; ``accepted_translations``: ``ACCEPTED_SCHEMA``;
    ``reviewed_translations``: ``REVIEWED_SCHEMA`` (``decision`` one of ``REVIEW_DECISIONS``); ``chats``: synthesized
    chats (``bimed_assets.chats.tables.CHATS_SCHEMA``), samples like the pool's with their own ``turns``.

    A worker thread decodes the Arabic translations while this one deduplicates and decontaminates. The inputs
    are let go of as soon as they have been read: a caller that keeps no reference of its own (the corpus asset
    collects its lazy inputs into the call) frees their texts before the messages are built."""
    inputs = _Inputs(training_pool, chats, accepted_translations, reviewed_translations)
    del training_pool, chats, accepted_translations, reviewed_translations  # held by ``inputs`` alone
    worker = ThreadPoolExecutor(1, thread_name_prefix="assemble")
    try:
        return _assemble(inputs, evaluation_sets, mix, dedup, worker)
    finally:
        worker.shutdown()


@dataclass(slots=True)
class _Inputs:
    """The frames ``_assemble`` reads once and then drops (a frame argument would stay alive for the whole call)."""

    training_pool: pl.DataFrame | None
    chats: pl.DataFrame | None
    accepted_translations: pl.DataFrame | None
    reviewed_translations: pl.DataFrame | None


def _assemble(inputs: _Inputs, evaluation_sets: pl.DataFrame, mix: MixConfig, dedup: DedupConfig,
              worker: ThreadPoolExecutor) -> Assembly:
    chats, reviewed_translations = inputs.chats, inputs.reviewed_translations
    training_pool = inputs.training_pool
    if chats is not None:
        training_pool = pl.concat([training_pool, chats.select(*RECORD_SCHEMA.names(), "turns")], how="diagonal")
        chats = chats.select("id", "origin")  # all that is read of them from here on
    inputs.training_pool = inputs.chats = None
    if reviewed_translations is not None:  # decisions on benchmark items verify benchmarks, not training data
        reviewed_translations = reviewed_translations.filter(
            ~pl.col("item_id").is_in(evaluation_sets["id"].implode()))
    translations = _translations(inputs.accepted_translations, reviewed_translations)
    inputs.accepted_translations = inputs.reviewed_translations = reviewed_translations = None
    known = translations["item_id"].is_in(training_pool["id"].implode())
    rejected = translations["review_decision"] == "rejected"
    refused = pl.concat([  # whatever deduplication finds
        translations.filter(~known).select("item_id", reason=pl.lit("translation_unknown_item"), matched=pl.lit(None,
                                                                                                           pl.String)),
        translations.filter(known & rejected.fill_null(False)).select(
            "item_id", reason=pl.lit("review_rejected"), matched=pl.lit(None, pl.String)),
    ])
    # Decoded on the worker meanwhile, for every item: those deduplication removes are dropped after.
    all_ar_docs = worker.submit(formatting.translated_documents, translations.join(refused, on="item_id", how="anti"),
                                training_pool.select("id", "task", "answer_letter"))
    en_docs = formatting.english_documents(training_pool)
    evaluation = evaluation_questions(evaluation_sets)
    asked = en_docs.select("item_id", text=asked_text(en_docs))
    keys = asked.select("item_id", *text_key(pl.col("text")))
    leaked = contamination_removals(asked, evaluation, dedup)
    del asked  # each text read once: the duplicates are found by ``compare_text``
    screened = screened_texts(keys, leaked)
    removed_items = find_removals(en_docs.select("item_id", text=compare_text(en_docs)), evaluation, dedup, leaked)
    if chats is not None:  # a chat retells its MCQA item: it goes when the item goes (an evaluation question…)
        inherited = chats.select(item_id="id", origin="origin").join(
            removed_items.rename({"item_id": "origin"}), on="origin").select(*removed_items.columns)
        removed_items = pl.concat([removed_items, inherited]).unique("item_id", keep="first", maintain_order=True)
    # Only the columns used from here on: a filter of the whole pool would copy every text.
    items = training_pool.select("id", "task", "answer_letter", "source", "origin", "licence").filter(
        ~pl.col("id").is_in(removed_items["item_id"].implode()))
    del training_pool  # its texts live on in the documents only until their turns are built

    dropped = pl.concat([
        refused, translations.join(removed_items, on="item_id").select("item_id", "reason", "matched"),
    ]).unique("item_id", keep="first", maintain_order=True)
    translations = translations.join(dropped, on="item_id", how="anti").drop("translation")  # the rest: provenance
    ar_docs = all_ar_docs.result().filter(~pl.col("item_id").is_in(removed_items["item_id"].implode()))
    del all_ar_docs  # the future holds every decoded translation
    # Two translations that normalise to the same question are duplicates in Arabic even if the English differ.
    ar_first = ar_docs.sort("item_id").with_columns(norm=normalise(compare_text(ar_docs)))
    ar_dups = ar_first.filter(pl.col("norm").is_duplicated() & (pl.col("item_id") != pl.col("item_id").first().over(
        "norm"))).select("item_id", reason=pl.lit("duplicate_exact"), matched=pl.col("item_id").first().over("norm"))
    has_ar = ar_docs.filter(~pl.col("item_id").is_in(ar_dups["item_id"].implode()))["item_id"]
    del ar_first  # a normalised copy of every Arabic question: freed before the messages are built

    candidates = items.select(item_id="id", source="source", chat=pl.col("task") == formatting.CHAT,
                              has_ar=pl.col("id").is_in(has_ar.implode()))
    # Synthesized chats are mixed on their own, so that the ratio holds within them too and their few
    # translations neither crowd out nor make room for other items.
    strata = [choose(part.drop("chat"), mix) for _, part in candidates.group_by("chat")]
    chosen = {kind: pl.concat([s[kind] for s in strata]).sort() for kind in ("en", "ar", "bilingual")}
    # The documents are cut to the chosen items only now (removed items and Arabic duplicates are never chosen):
    # cutting them earlier would copy every text of both languages.
    en_docs = en_docs.filter(pl.col("item_id").is_in(pl.concat([chosen["en"], chosen["bilingual"]]).implode()))
    ar_docs = ar_docs.filter(pl.col("item_id").is_in(pl.concat([chosen["ar"], chosen["bilingual"]]).implode()))
    # Each document frame is dropped once its turns are built: what is alive when the messages are built is
    # what bounds the peak.
    en_turns = pl.DataFrame({"item_id": en_docs["item_id"], "turns": formatting.conversation(en_docs, "en")})
    del en_docs
    ar_turns = pl.DataFrame({"item_id": ar_docs["item_id"], "turns": formatting.conversation(ar_docs, "ar")})
    del ar_docs
    bi_ids = chosen["bilingual"]
    bi = formatting.bilingual(
        en_turns.filter(pl.col("item_id").is_in(bi_ids.implode())).sort("item_id").with_columns(
            first=first_language(bi_ids.sort())
        ),
        ar_turns,
    )
    # Messages part by part, each part's turns dropped once copied into them: holding every turn and every
    # message at once cost ~1 GB more at the peak at BiMed1.3M scale.
    parts = [
        en_turns.filter(pl.col("item_id").is_in(chosen["en"].implode())).select(
            "item_id", messages=formatting.with_system(pl.col("turns"), pl.lit("en")), language=pl.lit("en")),
        bi.select("item_id", messages=formatting.with_system(pl.col("turns"), pl.col("first")),
                  language=pl.lit("bilingual")),
    ]
    del en_turns, bi
    parts.append(ar_turns.filter(pl.col("item_id").is_in(chosen["ar"].implode())).select(
        "item_id", messages=formatting.with_system(pl.col("turns"), pl.lit("ar")), language=pl.lit("ar")))
    del ar_turns
    records = pl.concat(parts)
    del parts
    provenance = items.select(item_id="id", origin="origin", licence="licence", task="task", source="source").join(
        translations, on="item_id", how="left"
    )
    # Joined and sorted on the small columns, then the messages put into that order message by message: a join,
    # a sort or a gather of the list column copies every text (~1.4 GB at BiMed1.3M scale), while moving the
    # exploded messages moves only string views into the same buffers.
    keys = records.select("item_id", "language").with_row_index("_row").join(
        provenance, on="item_id", how="left"
    ).select(
        "_row", id=pl.col("item_id") + "#" + pl.col("language"), task="task", source="source", language="language",
        provenance=pl.struct(*(f.name for f in PROVENANCE.fields)).cast(PROVENANCE),
    ).sort("id")
    flat = records.select(_row=pl.int_range(pl.len(), dtype=pl.UInt32), messages="messages").explode(
        "messages", empty_as_null=False)
    del records
    messages = keys.select("_row").with_row_index("_pos").join(flat, on="_row", how="left", maintain_order="left") \
        .group_by("_pos", maintain_order=True).agg("messages")["messages"]
    del flat
    corpus = keys.select("id", messages=messages, task="task", source="source", language="language",
                         provenance="provenance")
    removed = pl.concat([
        removed_items.select("item_id", language=pl.lit("en"), reason="reason", matched="matched"),
        pl.concat([dropped, ar_dups]).select("item_id", language=pl.lit("ar"), reason="reason", matched="matched"),
    ]).sort("item_id", "language")
    return Assembly(corpus=corpus, removed=removed, screened=screened)

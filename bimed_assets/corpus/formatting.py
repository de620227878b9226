"""Samples as chat ``messages`` (roles system/user/assistant), the format TRL, axolotl and LLaMA-Factory read.

Both languages go through one intermediate *document* frame, the same shape as the translation documents of
``bimed_assets.translation.documents``:

| column        | type                               | meaning                                        |
|---------------|------------------------------------|------------------------------------------------|
| item_id       | str                                | id of the canonical (English) record          |
| task          | str                                | ``mcqa`` / ``open_qa`` / ``dialogue`` / ``chat`` |
| question      | str                                | question or vignette (null for conversations)  |
| options       | list[struct{letter, text}]         | MCQA options in their order                    |
| answer_letter | str                                | MCQA gold letter                               |
| answer        | str                                | gold option text, or the free-text answer     |
| explanation   | str                                | MCQA explanation                               |
| context       | str                                | MCQA passage (PubMedQA abstract…)              |
| turns         | list[struct{role, content}]        | chat turns, roles ``patient`` / ``doctor``     |

``conversation`` turns a document frame into user/assistant turns; ``messages`` prepends the system prompt.
"""

from __future__ import annotations

import polars as pl

from bimed_assets.schema import OPTION

TURN = pl.Struct({"role": pl.String, "content": pl.String})
MESSAGES = pl.List(TURN)

# One system prompt for the whole corpus, so that the model learns the task from the turns, not the prompt.
SYSTEM_PROMPT = {
    "en": (
        "You are a careful medical assistant. Answer medical questions accurately and clearly, in the language "
        "the user asks for, and advise seeing a clinician when a situation needs one."
    ),
    "ar": (
        "أنت مساعد طبي دقيق. أجب عن الأسئلة الطبية بدقة ووضوح، باللغة التي يطلبها المستخدم، "
        "وانصح بمراجعة الطبيب عندما تستدعي الحالة ذلك."
    ),
}
ANSWER_IS = {"en": "The answer is", "ar": "الإجابة هي"}
CONTEXT = {"en": "Context:", "ar": "السياق:"}
# Appended to the question of a bilingual sample whose answer is in the other language.
ANSWER_IN = {"en": "Please answer in Arabic.", "ar": "يرجى الإجابة باللغة الإنجليزية."}

CHAT = "chat"  # the task of synthesized chats (``bimed_assets.chats``)
# Tasks whose sample is a conversation: a source's dialogue (one exchange) or a synthesized chat (many turns).
CONVERSATIONS = ("dialogue", CHAT)
LETTERS = "ABCDEFGHIJ"
DOCUMENT_SCHEMA = pl.Schema({
    "item_id": pl.String, "task": pl.String, "question": pl.String, "options": pl.List(OPTION),
    "answer_letter": pl.String, "answer": pl.String, "explanation": pl.String, "context": pl.String,
    "turns": pl.List(TURN),
})
# The translation JSON of every task in one dtype: fields a task lacks decode as null.
_TRANSLATION_DTYPE = pl.Struct({
    "question": pl.String, "answer": pl.String, "explanation": pl.String, "context": pl.String,
    "options": pl.Struct({letter: pl.String for letter in LETTERS}), "turns": pl.List(TURN),
})


def english_documents(records: pl.DataFrame) -> pl.DataFrame:
    """Documents of canonical records (``RECORD_SCHEMA``, plus ``turns`` for synthesized chats)."""
    dialogue = pl.col("task") == "dialogue"
    conversation = pl.col("task").is_in(CONVERSATIONS)
    own = pl.col("turns") if "turns" in records.columns else pl.lit(None, pl.List(TURN))
    # A dialogue's two turns are built on its rows only: a list of structs built for every row copies every text
    # (~2 GB and 3 s at BiMed1.3M scale).
    indexed = records.with_row_index("_row")
    pairs = indexed.filter(dialogue).select("_row", _pair=pl.concat_list(
        pl.struct(role=pl.lit("patient"), content=pl.col("question")),
        pl.struct(role=pl.lit("doctor"), content=pl.col("answer_text")),
    ))
    turns = indexed.select("_row", _own=own).join(pairs, on="_row", how="left", maintain_order="left").select(
        pl.coalesce("_pair", "_own"))
    return records.select(
        item_id=pl.col("id"), task="task", question=pl.when(~conversation).then("question"), options="options",
        answer_letter="answer_letter", answer=pl.when(~conversation).then("answer_text"),
        explanation="explanation", context="context", turns=turns.to_series(),
    )


def translated_documents(translations: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """Documents of Arabic translations (``item_id``, ``translation`` JSON) of ``records``; unknown items drop.

    The gold letter is not translated: it comes from the English record, and the answer is its Arabic option.
    """
    doc = pl.col("doc")
    options = pl.concat_list(
        [pl.struct(letter=pl.lit(letter), text=doc.struct.field("options").struct.field(letter)) for letter in LETTERS]
    ).list.eval(pl.element().filter(pl.element().struct.field("text").is_not_null()))
    decoded = translations.select("item_id", doc=pl.col("translation").str.json_decode(_TRANSLATION_DTYPE)).join(
        records.select(item_id="id", task="task", answer_letter="answer_letter"), on="item_id", how="inner"
    )
    docs = decoded.select(
        "item_id", "task", question=doc.struct.field("question"),
        options=pl.when(pl.col("task") == "mcqa").then(options).otherwise(pl.lit([], dtype=pl.List(OPTION))),
        answer_letter="answer_letter", answer=doc.struct.field("answer"),
        explanation=doc.struct.field("explanation"), context=doc.struct.field("context"),
        turns=doc.struct.field("turns"),
    ).with_row_index("row")
    gold = docs.select("row", "answer_letter", "options").explode("options", empty_as_null=True).filter(
        pl.col("options").struct.field("letter") == pl.col("answer_letter")
    ).select("row", gold=pl.col("options").struct.field("text"))
    return docs.join(gold, on="row", how="left", maintain_order="left").select(
        *(pl.coalesce("gold", "answer").alias(c) if c == "answer" else pl.col(c) for c in DOCUMENT_SCHEMA.names())
    )


def _option_lines(options: pl.Expr) -> pl.Expr:
    line = pl.element().struct.field("letter") + ". " + pl.element().struct.field("text")
    return options.list.eval(line).list.join("\n")


def _mcqa_user(language: str) -> pl.Expr:
    context = pl.when(pl.col("context").is_not_null()).then(
        pl.lit(CONTEXT[language] + " ") + pl.col("context") + "\n\n"
    ).otherwise(pl.lit(""))
    return context + pl.col("question") + "\n\n" + _option_lines(pl.col("options"))


def first_user_turn(language: str) -> pl.Expr:
    """The content of a document's first user turn, as ``conversation`` builds it (without building the turns)."""
    return (pl.when(pl.col("task").is_in(CONVERSATIONS)).then(pl.col("turns").list.first().struct.field("content"))
            .when(pl.col("task") == "mcqa").then(_mcqa_user(language)).otherwise(pl.col("question")))


def conversation(docs: pl.DataFrame, language: str) -> pl.Series:
    """User/assistant turns of each document, labels in ``language`` (``en`` / ``ar``)."""
    mcqa_user = _mcqa_user(language)
    mcqa_answer = pl.lit(ANSWER_IS[language] + " ") + pl.col("answer_letter") + ": " + pl.col("answer")
    explained = pl.when(pl.col("explanation").is_not_null()).then(
        mcqa_answer + "\n\n" + pl.col("explanation")
    ).otherwise(mcqa_answer)
    mcqa = pl.col("task") == "mcqa"
    pair = pl.concat_list(
        pl.struct(role=pl.lit("user"), content=pl.when(mcqa).then(mcqa_user).otherwise(pl.col("question"))),
        pl.struct(role=pl.lit("assistant"), content=pl.when(mcqa).then(explained).otherwise(pl.col("answer"))),
    )
    chat = pl.col("turns").list.eval(pl.struct(
        role=pl.element().struct.field("role").replace_strict({"patient": "user", "doctor": "assistant"}),
        content=pl.element().struct.field("content"),
    ))
    # Each kind is built on its own rows (a list of structs built for every row copies every text), then the
    # rows go back in order.
    conversations = pl.col("task").is_in(CONVERSATIONS).fill_null(False)
    indexed = docs.with_row_index("_row")
    return pl.concat([indexed.filter(conversations).select("_row", turns=chat),
                      indexed.filter(~conversations).select("_row", turns=pair)]).sort("_row")["turns"]


def with_system(turns: pl.Expr, language: pl.Expr) -> pl.Expr:
    """``messages``: the system prompt in ``language`` (``en`` / ``ar``), then the turns."""
    system = pl.struct(role=pl.lit("system"), content=language.replace_strict(SYSTEM_PROMPT, return_dtype=pl.String))
    return pl.concat_list(system, turns)


def bilingual(en_turns: pl.DataFrame, ar_turns: pl.DataFrame) -> pl.DataFrame:
    """Turns that switch language half-way (question in one language, answer in the other for one exchange).

    ``en_turns``: ``item_id``, ``turns``, ``first`` (language of the first turn); ``ar_turns``: ``item_id``,
    ``turns``. Items whose two versions differ in turn count are left out.
    Returns ``item_id``, ``first``, ``turns``.
    """
    both = en_turns.join(
        ar_turns.rename({"turns": "ar"}), on="item_id", how="inner"
    ).filter(pl.col("turns").list.len() == pl.col("ar").list.len())
    half = pl.col("turns").list.len() // 2
    exploded = both.with_columns(
        switch=pl.max_horizontal(half - half % 2, 1), index=pl.int_ranges(0, pl.col("turns").list.len()),
    ).explode("turns", "ar", "index", empty_as_null=True)
    in_first = pl.col("index") < pl.col("switch")
    first_en = pl.col("first") == "en"
    content = pl.when(in_first == first_en).then(pl.col("turns").struct.field("content")).otherwise(
        pl.col("ar").struct.field("content"))
    # When the switch falls on the assistant, the user's last turn says which language to answer in.
    asks = (pl.col("index") == pl.col("switch") - 1) & (pl.col("switch") % 2 == 1)
    ask = pl.when(first_en).then(pl.lit(ANSWER_IN["en"])).otherwise(pl.lit(ANSWER_IN["ar"]))
    content = pl.when(asks).then(content + "\n\n" + ask).otherwise(content)
    return exploded.group_by("item_id", "first", maintain_order=True).agg(
        turns=pl.struct(role=pl.col("turns").struct.field("role"), content=content)
    )

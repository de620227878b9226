"""The three LLM requests of a translation round: translate, judge, back-translate.

Each is a structured-output request, so one call answers for a whole item with its fields kept apart, and
each carries a replay key (``<purpose>/<item id>/round<n>``) so that recorded answers can stand in for a
live endpoint. Prompts are deterministic functions of the item and the feedback: an unchanged item makes
the same request, which the LLM cache answers for free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bimed_assets.llm.client import LLMRequest
from bimed_assets.translation import documents

TRANSLATOR = """\
You are a professional medical translator from English into Modern Standard Arabic (الفصحى), preparing \
training data for a bilingual medical assistant. You receive a JSON document; return the same JSON \
document with every English string value translated into Modern Standard Arabic.

Rules:
1. Keep the JSON keys, the option letters (A, B, C, D, E) with their order, and the number, order and \
roles of conversation turns exactly as they are. Translate only the string values.
2. Keep every number, dose, unit, lab value, vital sign, age, date and percentage exact. Write numbers with \
Western digits (0-9) as in the source. Keep units such as mg, mL, mmHg, mEq/L and mg/dL as written, or use \
their standard Arabic abbreviation (ملغ، مل، ملم زئبق).
3. Keep drug names, gene names, organisms and established abbreviations (ECG, MRI, HbA1c) in Latin script, \
or write them in Arabic followed by the Latin name in parentheses.
4. Translate every sentence; leave no English sentence untranslated; add nothing and leave nothing out.
5. Use standard Arabic medical terminology (as in the Unified Medical Dictionary). In conversations, keep \
each speaker's register: a patient in plain words, a doctor clearly and respectfully."""

JUDGE = """\
You are an expert bilingual (English/Arabic) medical reviewer. Score the following translation from English \
into Modern Standard Arabic on a continuous scale from 0 to 100, where a score of zero means "no meaning \
preserved" and a score of one hundred means "perfect meaning and grammar". Then list every error you find \
(mistranslation, omission, addition, a changed number, dose or unit, wrong medical term, untranslated text, \
wrong option order, grammar), each as one short English sentence that names the field; an empty list when \
there is none. Return JSON: {"score": <0-100>, "errors": [<string>, ...]}."""

# Added to the judge's request when the checks flag something they cannot decide (a negation in one language
# only, a question not asked, a translation that seems to add): often a false alarm, since Arabic may negate with
# a word ("غير طبيعي" for "abnormal") and translators render rhetorical questions as statements.
SIGNALS_NOTE = """\
Automatic checks flagged the following for you to verify. They are often false alarms (Arabic may express a \
negation with a word such as غير or عدم, or English with a prefix; a translator may render a rhetorical \
question as a statement, or explain a name at more length); list one as an error only if the translation \
really changes the meaning, leaves something out or adds something the source does not say:"""

BACK_TRANSLATOR = """\
You are a professional translator from Arabic into English. You receive a JSON document; return the same \
JSON document with every Arabic string value translated into English, literally and completely, keeping the \
keys, option letters and turns as they are."""

JUDGE_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "number", "minimum": 0, "maximum": 100},
        "errors": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["score", "errors"],
    "additionalProperties": False,
}


def _json_format(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": dict(schema), "strict": False}}


def _request(
    purpose: str, item_id: str, round_: int, system: str, user: str, response_format: dict, **kwargs: Any
) -> LLMRequest:
    return LLMRequest(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        response_format=response_format,
        purpose=purpose,
        item_id=item_id,
        replay_key=f"{purpose}/{item_id}/round{round_}",
        **kwargs,
    )


def translate(
    item_id: str,
    doc: Mapping[str, Any],
    round_: int,
    previous: Mapping[str, Any] | None = None,
    feedback: Sequence[str] = (),
) -> LLMRequest:
    user = f"Translate this document:\n```json\n{documents.dumps(doc)}\n```"
    if previous is not None:
        problems = "\n".join(f"- {line}" for line in feedback)
        user += (
            f"\n\nYour previous translation was:\n```json\n{documents.dumps(previous)}\n```\n"
            f"A reviewer found these problems. Fix every one of them and keep what was right:\n{problems}"
        )
    return _request(
        "translate",
        item_id,
        round_,
        TRANSLATOR,
        user,
        _json_format("translation", documents.schema(doc)),
        validator=documents.answer_validator(0.3),
    )


def judge(item_id: str, doc: Mapping[str, Any], translation: Mapping[str, Any], round_: int,
          signals: Sequence[str] = ()) -> LLMRequest:
    """``signals``: what the deterministic checks flag without failing (``scoring.fidelity_signals``), for the
    judge to verify; a request without signals is the same as before they existed."""
    user = (
        f"English source:\n```json\n{documents.dumps(doc)}\n```\n\n"
        f"Arabic translation:\n```json\n{documents.dumps(translation)}\n```"
    )
    if signals:
        flagged = "\n".join(f"- {line}" for line in signals)
        user += f"\n\n{SIGNALS_NOTE}\n{flagged}"
    return _request("judge", item_id, round_, JUDGE, user, _json_format("assessment", JUDGE_SCHEMA))


def back_translate(item_id: str, translation: Mapping[str, Any], round_: int) -> LLMRequest:
    user = f"Translate this document:\n```json\n{documents.dumps(translation)}\n```"
    return _request(
        "back_translate",
        item_id,
        round_,
        BACK_TRANSLATOR,
        user,
        _json_format("back_translation", documents.schema(translation)),
    )

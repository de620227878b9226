"""The LLM request that writes one chat from one MCQA item (and rewrites it after failed validation).

A structured-output request, so the answer is the chat's turns and nothing else; its replay key is
``chat/<item id>/attempt<n>`` (as translation's ``<purpose>/<item id>/round<n>``). The prompt is a
deterministic function of the item, the rules and the feedback, so an unchanged item makes the same request
and the LLM cache answers it for free.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bimed_assets.chats.validation import ChatRules, Problem
from bimed_assets.llm.client import LLMRequest

PURPOSE = "chat"

WRITER = """\
You write realistic consultations between a patient and a doctor, to train a medical assistant. You receive \
a clinical case from a medical exam with its correct answer; turn it into a conversation.

Rules:
1. The patient speaks first, in plain everyday words, about the complaint that brought them, using only \
facts from the case (a parent or relative speaks for a child or for a patient who cannot speak).
2. The doctor asks follow-up questions about the history and the symptoms (onset, course, other symptoms, \
past illnesses, medicines, family and social history, as the case allows); the patient answers from the case. \
Findings of the examination and test results the case gives are reported by the doctor in plain words.
3. Turns alternate, patient then doctor, and the doctor has the last turn. Write at least {min_turns} turns.
4. In the last turn the doctor states the correct answer in words (the diagnosis, the cause or the next \
step), explains it consistently with the explanation when one is given, and says what happens next. The \
doctor never concludes one of the wrong answers.
5. It is a consultation, not an exam: never mention options, option letters, "the answer is" or "which of \
the following". Do not copy sentences of the case; retell them as people speak.
Return JSON: {{"turns": [{{"role": "patient" or "doctor", "content": "..."}}, ...]}}."""

CHAT_SCHEMA = {
    "type": "object",
    "properties": {
        "turns": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"role": {"enum": ["patient", "doctor"]}, "content": {"type": "string"}},
                "required": ["role", "content"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["turns"],
    "additionalProperties": False,
}


def case(item: Mapping[str, Any]) -> dict[str, Any]:
    """What the writer is told of an item: the vignette, the correct answer, the wrong ones, the explanation."""
    shown: dict[str, Any] = {"case": item["question"], "correct_answer": item["answer_text"]}
    if item.get("explanation"):
        shown["explanation"] = item["explanation"]
    shown["wrong_answers"] = [o["text"] for o in item["options"] if o["letter"] != item["answer_letter"]]
    return shown


def synthesize(item: Mapping[str, Any], attempt: int, rules: ChatRules,
               previous: Sequence[Mapping[str, Any]] | None = None,
               problems: Sequence[Problem] = ()) -> LLMRequest:
    user = f"Case:\n```json\n{json.dumps(case(item), ensure_ascii=False, indent=1)}\n```"
    if previous is not None:
        listed = "\n".join(f"- {problem}" for problem in problems)
        user += (f"\n\nYour previous conversation was:\n```json\n"
                 f"{json.dumps({'turns': list(previous)}, ensure_ascii=False, indent=1)}\n```\n"
                 f"It was rejected for these problems. Write it again, fixing every one:\n{listed}")
    return LLMRequest(
        messages=[{"role": "system", "content": WRITER.format(min_turns=rules.min_turns)},
                  {"role": "user", "content": user}],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "chat", "schema": CHAT_SCHEMA, "strict": False}},
        temperature=0.7,  # some variety between chats; the cache keeps each answer stable
        # A rewrite whose prompt repeats the previous one (the same chat rejected twice) must still be a new
        # request: without the seed the cache would hand back the rejected chat.
        params={"seed": attempt},
        purpose=PURPOSE,
        item_id=item["id"],
        replay_key=f"{PURPOSE}/{item['id']}/attempt{attempt}",
    )

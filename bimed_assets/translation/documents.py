"""What of a sample gets translated: one JSON document per sample, the same shape in both languages.

- ``mcqa``: question, options (letter → text), and the explanation and context when the sample has them;
- ``open_qa``: question and answer;
- ``dialogue``: turns, each a role (``patient`` / ``doctor``) and its content.

The answer of an MCQA item is not translated separately: it is its option. Keeping every field apart in one
document lets one call translate a whole item while the fidelity checks compare field by field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bimed_assets import text_safety
from bimed_assets.llm.validators import Validator, require_arabic


def document(sample: Mapping[str, Any]) -> dict[str, Any]:
    task = sample["task"]
    if sample.get("turns"):
        return {"turns": [{"role": t["role"], "content": t["content"]} for t in sample["turns"]]}
    if task == "dialogue":
        return {
            "turns": [
                {"role": "patient", "content": sample["question"]},
                {"role": "doctor", "content": sample["answer_text"]},
            ]
        }
    if task == "open_qa":
        return {"question": sample["question"], "answer": sample["answer_text"]}
    doc: dict[str, Any] = {
        "question": sample["question"],
        "options": {o["letter"]: o["text"] for o in sample["options"]},
    }
    for name in ("explanation", "context"):
        if sample.get(name):
            doc[name] = sample[name]
    return doc


def schema(doc: Mapping[str, Any]) -> dict[str, Any]:
    """JSON schema of a document's translation: the same keys, option letters, turns and roles."""

    def of(value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            return {"type": "string"}
        if isinstance(value, Mapping):
            return {
                "type": "object",
                "properties": {k: of(v) for k, v in value.items()},
                "required": list(value),
                "additionalProperties": False,
            }
        # Turns: the same count; roles and their order are checked by fidelity.check_item.
        roles = sorted({turn["role"] for turn in value})
        turn = {
            "type": "object",
            "properties": {"role": {"enum": roles}, "content": {"type": "string"}},
            "required": ["role", "content"],
            "additionalProperties": False,
        }
        return {"type": "array", "items": turn, "minItems": len(value), "maxItems": len(value)}

    return of(doc)


def text_of(doc: Mapping[str, Any]) -> str:
    """All the text of a document, in order, for surface metrics such as chrF."""
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, Mapping):
            for key, inner in value.items():
                if key != "role":
                    walk(inner)
        else:
            for inner in value:
                walk(inner)

    walk(doc)
    return "\n".join(parts)


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1)


def answer_validator(min_arabic_share: float) -> Validator:
    """The translator's answer: Arabic enough, and no invisible formatting character in any field (a bidi
    control would make a stored "5.0 mg" display as "0.5 mg"); the LLM layer re-asks, and records why."""
    arabic = require_arabic(min_arabic_share)

    def validate(text: str, parsed: Any) -> None:
        arabic(text, parsed)
        _, removed = text_safety.strip_document(parsed)
        if removed:
            raise ValueError(f"the translation contains invisible formatting characters: {text_safety.summary(removed)}")

    return validate

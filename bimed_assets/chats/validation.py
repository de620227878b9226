"""Deterministic checks of a synthesized chat against the MCQA item it was made from.

Every rule returns problems in words the generator can act on; they are the feedback of the next attempt
and, when the last attempt still fails, the quarantine reason. The answer rules read surface words, so
they err towards the generator having to say the gold answer in plain words:

- ``gold_missing``: every content word of the correct option (plural "s" folded) must appear in the doctor's
  last turn;
- ``other_option``: no sentence of the doctor's last turn may contain every content word of a wrong option
  (one that differs from the correct option in words), unless the sentence also names a word of the correct
  answer that the wrong one lacks (a comparison) or negates ("not", "rather than", "unlikely"…);
- ``answer_leak``: no option letter ("the answer is C", "option B", "(D)") and no exam wording ("which of
  the following", "the correct answer", "the answer is");
- ``copied_vignette``: no run of ``copy_ngram`` consecutive words shared with the vignette;
- ``roles`` / ``too_few_turns`` / ``empty_turn``: turns alternate patient, doctor, …, end with the doctor,
  and number at least ``min_turns``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bimed_assets.translation.text import sentences

RULES = {
    "roles": "turns alternate patient/doctor, starting with the patient and ending with the doctor",
    "too_few_turns": "fewer turns than the configured minimum",
    "empty_turn": "a turn with no text",
    "gold_missing": "the doctor's last turn does not state the correct answer",
    "other_option": "the doctor's last turn concludes a wrong option",
    "answer_leak": "an option letter or exam wording appears in the chat",
    "copied_vignette": "a long run of words copied from the vignette",
}


@dataclass(frozen=True)
class ChatRules:
    min_turns: int = 6  # patient and doctor turns together
    copy_ngram: int = 10  # a run of this many words shared with the vignette counts as copied


@dataclass(frozen=True)
class Problem:
    rule: str  # one of RULES
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


_WORD = re.compile(r"[a-z0-9]+")
# Function words and words every option of a vignette question shares: they say nothing about the answer.
_STOP = frozenset("""
a an the of in on at to for from by with without and or but as is are was were be been being this that these
those it its his her their your my our which what who whom most likely best following than then there into
over under after before during due per not no any all each other such very more less also only
""".split())  # noqa: SIM905 - a word list reads better as text
_NEGATION = re.compile(
    r"\b(?:not|no|never|isn't|wasn't|doesn't|don't|rather than|instead of|unlikely|unlike|rule[sd]? out"
    r"|ruling out|versus|vs)\b", re.IGNORECASE)
# Letters are matched case-sensitively: "answer a" and "choice a" are words, "answer A" is a letter.
_LETTER_LEAK = re.compile(
    r"\b(?:answer|option|choice)s?\s+(?:is\s+|was\s+|would be\s+|=\s*)?\(?(?-i:[A-J])\)?(?=[\s.,;:!?)]|$)"
    r"|(?-i:\([A-J]\))|^\s*(?-i:[A-J])[.)]\s", re.IGNORECASE | re.MULTILINE)
_EXAM_WORDING = re.compile(
    r"\bwhich of the following\b|\b(?:correct|right|best) (?:answer|option|choice)\b|\banswer choices?\b"
    r"|\bmultiple[- ]choice\b|\bthe answer is\b", re.IGNORECASE)


def _fold(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def words(text: str) -> list[str]:
    return [_fold(w) for w in _WORD.findall(text.lower())]


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in _STOP and (len(w) > 1 or w.isdigit())}


def _structure(turns: Sequence[Mapping[str, Any]], rules: ChatRules) -> list[Problem]:
    problems = []
    expected = ["patient", "doctor"]
    roles = [t.get("role") for t in turns]
    wrong = [i for i, role in enumerate(roles) if role != expected[i % 2]]
    if wrong or not roles or roles[-1] != "doctor":
        where = f"turn {wrong[0] + 1} is {roles[wrong[0]]!r}" if wrong else "the last turn is not the doctor's"
        problems.append(Problem("roles", f"{where}; turns must alternate patient, doctor, patient, … and end "
                                         "with the doctor"))
    if len(turns) < rules.min_turns:
        problems.append(Problem("too_few_turns", f"{len(turns)} turns; write at least {rules.min_turns}"))
    empty = [i + 1 for i, t in enumerate(turns) if not str(t.get("content") or "").strip()]
    if empty:
        problems.append(Problem("empty_turn", f"turn(s) {empty} are empty"))
    return problems


def _conclusion(final: str, gold: str, others: Iterable[str]) -> list[Problem]:
    problems = []
    said = set(words(final))
    gold_words = content_words(gold)
    missing = sorted(gold_words - said)
    if missing:
        problems.append(Problem("gold_missing", f"the doctor's last turn must state the diagnosis or answer "
                                                f"{gold!r} in words (missing: {', '.join(missing)})"))
    for option in others:
        named, distinctive = content_words(option), content_words(option) - gold_words
        if not distinctive:
            continue
        for sentence in sentences(final):
            present = set(words(sentence))
            compares = bool(present & (gold_words - named))  # names the correct answer beside the other
            if named <= present and not compares and not _NEGATION.search(sentence):
                problems.append(Problem("other_option", f"the doctor concludes {option!r}, which is wrong "
                                                        f"for this case: {sentence!r}"))
                break
    return problems


def _leaks(text: str) -> list[Problem]:
    found = [m.group(0).strip() for m in (*_LETTER_LEAK.finditer(text), *_EXAM_WORDING.finditer(text))]
    if not found:
        return []
    return [Problem("answer_leak", f"the chat must read as a consultation, with no option letters or exam "
                                   f"wording (found: {', '.join(repr(f) for f in dict.fromkeys(found))})")]


def _copied(text: str, vignette: str, n: int) -> list[Problem]:
    source = words(vignette)
    grams = {tuple(source[i:i + n]) for i in range(len(source) - n + 1)}
    raw = _WORD.findall(text.lower())
    chat = [_fold(w) for w in raw]
    for i in range(len(chat) - n + 1):
        if tuple(chat[i:i + n]) in grams:
            return [Problem("copied_vignette", f"{' '.join(raw[i:i + n])!r} is copied from the case text; "
                                               "retell the case in the patient's and doctor's own words")]
    return []


def validate(turns: Sequence[Mapping[str, Any]], item: Mapping[str, Any], rules: ChatRules = ChatRules()
             ) -> list[Problem]:
    """Every problem of ``turns`` (``role``/``content`` dicts) as a chat of the MCQA ``item`` (canonical record)."""
    problems = _structure(turns, rules)
    text = "\n".join(str(t.get("content") or "") for t in turns)
    doctor = [t for t in turns if t.get("role") == "doctor"]
    if doctor:
        gold = item["answer_text"]
        others = [o["text"] for o in item["options"] if o["letter"] != item["answer_letter"]]
        problems += _conclusion(str(doctor[-1].get("content") or ""), gold, others)
    problems += _leaks(text)
    problems += _copied(text, item["question"], rules.copy_ngram)
    return problems

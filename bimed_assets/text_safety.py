"""Invisible, bidirectional-control and other format characters: find them, strip them with a reason, show them.

A right-to-left override (U+202E) or an isolate (U+2066–U+2069) changes how the characters around it are
*displayed* without changing what is stored: "5.0 mg" can display as "0.5 mg". In a medical corpus that is a
patient-safety defect, so every entrance (source loaders, LLM answers, reviewer edits, usernames) calls this
module, and a reviewer always sees such characters as visible markers.

Two kinds are told apart:

- ``REMOVABLE``: carry no meaning in English or Arabic text (bidi controls, zero-width space, word joiner,
  byte-order mark, soft hyphen, invisible operators, tag characters, other C0/C1 controls than tab and
  newline, Hangul fillers that render as nothing): removed, or the text refused, with the characters named;
- ``KEPT``: zero-width non-joiner and joiner (U+200C, U+200D), which select letter forms in Arabic script and
  emoji; kept, but still shown as markers so that a reviewer knows they are there.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

KEPT = frozenset("\u200c\u200d")
# Short names for the markers a reviewer sees; the rest are shown by code point.
ABBREVIATIONS = {
    "\u200b": "ZWSP", "\u200c": "ZWNJ", "\u200d": "ZWJ", "\u200e": "LRM", "\u200f": "RLM", "\u061c": "ALM",
    "\u202a": "LRE", "\u202b": "RLE", "\u202c": "PDF", "\u202d": "LRO", "\u202e": "RLO",
    "\u2066": "LRI", "\u2067": "RLI", "\u2068": "FSI", "\u2069": "PDI", "\u2060": "WJ", "\ufeff": "BOM",
    "\u00ad": "SHY",
}
BIDI_CONTROLS = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters of other categories that render as nothing.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def is_invisible(ch: str) -> bool:
    """A character that changes or hides nothing visible by itself: format (Cf), control, blank filler."""
    if ch in _ALLOWED_CONTROLS:
        return False
    category = unicodedata.category(ch)
    return category in ("Cf", "Cc") or ch in _BLANK_LETTERS


def is_removable(ch: str) -> bool:
    return is_invisible(ch) and ch not in KEPT


def _character_class(points: list[int]) -> str:
    ranges, start = [], points[0]
    for prev, cur in zip(points, [*points[1:], None], strict=True):
        if cur != prev + 1:
            ranges.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
            start = cur
    return "[" + "".join(ranges) + "]"


# One regular-expression scan clears a text in C speed; most texts have none of these characters.
# Format and control characters live in the Basic Multilingual Plane, plane 1 and plane 14 (tags): scanning
# those (~0.08 s) rather than all of Unicode (~0.5 s) keeps the import cheap for every loader.
_POINTS = [c for block in (range(0x20000), range(0xE0000, 0xE1000)) for c in block if is_invisible(chr(c))]
_INVISIBLE = re.compile(_character_class(_POINTS))
_REMOVABLE = re.compile(_character_class([c for c in _POINTS if chr(c) not in KEPT]))


def label(ch: str) -> str:
    """``RLO`` or ``U+E0041``: what the marker shows."""
    return ABBREVIATIONS.get(ch) or f"U+{ord(ch):04X}"


def describe(ch: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: what an error message or an audit entry says."""
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED CONTROL')}"


def has_surrogate(text: str) -> bool:
    """A lone surrogate (from a JSON ``\\ud800`` escape): not text, cannot be encoded as UTF-8."""
    return any("\ud800" <= ch <= "\udfff" for ch in text)


@dataclass(frozen=True)
class Cleaned:
    text: str
    removed: Counter  # character → how many times


def find(text: str, *, removable_only: bool = True) -> Counter:
    """The invisible characters of ``text`` (only the removable ones unless told otherwise), counted."""
    return Counter((_REMOVABLE if removable_only else _INVISIBLE).findall(text))


def clean(text: str) -> Cleaned:
    """``text`` without its removable characters, and what was removed."""
    removed = find(text)
    return Cleaned(_REMOVABLE.sub("", text) if removed else text, removed)


def strip_document(value: Any) -> tuple[Any, Counter]:
    """A JSON-like document (strings, mappings, lists) with every string stripped, and everything removed."""
    removed: Counter = Counter()

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            cleaned = clean(node)
            removed.update(cleaned.removed)
            return cleaned.text
        if isinstance(node, Mapping):
            return {key: walk(inner) for key, inner in node.items()}
        if isinstance(node, list | tuple):
            return [walk(inner) for inner in node]
        return node

    return walk(value), removed


def summary(removed: Counter) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE ×2, …``."""
    return ", ".join(f"{describe(ch)} ×{n}" for ch, n in sorted(removed.items()))


def segments(text: str) -> Iterator[tuple[str, str | None]]:
    """``text`` cut into visible runs ``(run, None)`` and invisible characters ``(char, label)``, in order:
    a renderer shows the runs and puts a visible marker in place of each invisible character."""
    start = 0
    for match in _INVISIBLE.finditer(text):
        if match.start() > start:
            yield text[start:match.start()], None
        yield match.group(), label(match.group())
        start = match.end()
    if start < len(text):
        yield text[start:], None

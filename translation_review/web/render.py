"""Jinja2 environment and the helpers that turn documents into what the review page shows.

Bidi: every text field is its own isolate (an element with ``dir``), and inside it a Latin run (a drug name,
"5 mg", "QT", "(Enoxaparin)") in Arabic, or an Arabic quote in English feedback, is wrapped in ``<bdi>`` so
that its direction cannot reorder the neutral characters around it. Invisible and bidi-control characters
(``bimed_assets.text_safety``) are never passed to the browser as such: each is shown as a visible marker
(``RLO``, ``ZWSP``…), so that what a reviewer sees is what is stored.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from bimed_assets import text_safety
from bimed_assets.translation import fidelity

TEMPLATES = Path(__file__).resolve().parent / "templates"
# An opening bracket belongs to the run it opens: "(Enoxaparin)" is one isolate, not "(" + "Enoxaparin)".
_LATIN_RUN = re.compile(r"\(?[A-Za-z0-9][A-Za-z0-9.,%/+\-()'’ ]*[A-Za-z0-9%)]|\(?[A-Za-z0-9]\)?")
_ARABIC_RUN = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF][\u0600-\u06FF\u0750-\u077F"
                         r"\uFB50-\uFDFF\uFE70-\uFEFF\u064B-\u065F\s،؛؟.]*[\u0600-\u06FF\uFB50-\uFEFF]|"
                         r"[\u0600-\u06FF]")
_TOKENS = re.compile(r"\s+|[^\s]+")


def isolate(text: str | None, lang: str = "ar") -> Markup:
    """Escape ``text``, isolate the runs of the other script in ``<bdi>``, and show each invisible character
    as a marker."""
    if not text:
        return Markup("")
    return Markup("").join(marker(piece) if label else _isolated_runs(piece, lang)
                           for piece, label in text_safety.segments(text))


def marker(ch: str) -> Markup:
    """The visible stand-in for an invisible character: its short name, boxed, described on hover."""
    return Markup('<bdi class="invisible" dir="ltr" title="{}">{}</bdi>').format(
        text_safety.describe(ch), text_safety.label(ch))


def has_invisible(text: str | None) -> bool:
    return bool(text) and bool(text_safety.find(text, removable_only=False))


def _isolated_runs(text: str, lang: str) -> Markup:
    run, direction = (_LATIN_RUN, "ltr") if lang == "ar" else (_ARABIC_RUN, "rtl")
    out, last = [], 0
    for match in run.finditer(text):
        out.append(escape(text[last:match.start()]))
        out.append(Markup('<bdi dir="{}">{}</bdi>').format(direction, match.group()))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def word_diff(old: str, new: str) -> Markup:
    """Word-level diff of two texts: removed words in ``<del>``, added ones in ``<ins>``, all escaped."""
    a, b = _TOKENS.findall(old or ""), _TOKENS.findall(new or "")
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            out.append(Markup("<del>{}</del>").format(isolate("".join(a[i1:i2]))))
        if op in ("insert", "replace"):
            out.append(Markup("<ins>{}</ins>").format(isolate("".join(b[j1:j2]))))
        if op == "equal":
            out.append(isolate("".join(a[i1:i2])))
    return Markup("").join(out)


@dataclass(frozen=True)
class Field:
    path: str  # "question", "options.A", "turns.2.content"
    label: str
    english: str
    arabic: str


def fields(document: Mapping[str, Any], translation: Mapping[str, Any]) -> list[Field]:
    """The text fields of a document with their translation, in document order."""
    out: list[Field] = []
    for key, value in document.items():
        if key == "turns":
            for n, turn in enumerate(value):
                arabic = _get(translation, f"turns.{n}.content")
                out.append(Field(f"turns.{n}.content", f"{turn['role']} · turn {n + 1}", turn["content"], arabic))
        elif isinstance(value, Mapping):
            out += [Field(f"{key}.{k}", f"{key} {k}", v, _get(translation, f"{key}.{k}")) for k, v in value.items()]
        else:
            out.append(Field(key, key, value, _get(translation, key)))
    return out


def rebuild(document: Mapping[str, Any], translation: Mapping[str, Any], edits: Mapping[str, str]) -> dict[str, Any]:
    """``translation`` with the edited fields (path → text) put in; textarea newlines normalized. A path that
    is not a text field of the document is refused (``ValueError``), whatever the form sent."""
    known = {f.path for f in fields(document, translation)}
    if unknown := sorted(set(edits) - known):
        raise ValueError(f"unknown field {unknown[0][:80]!r}")
    doc = copy.deepcopy(dict(translation))
    for path, text in edits.items():
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = text.replace("\r\n", "\n")
    return doc


def _get(doc: Mapping[str, Any], path: str) -> str:
    node: Any = doc
    try:
        for part in path.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
    except (KeyError, IndexError, ValueError, TypeError):
        return ""
    return node if isinstance(node, str) else ""


def failures_by_field(failures: list[Any], document: Mapping[str, Any]) -> dict[str, list[str]]:
    """Fidelity failures keyed by the review page's field path ("turns[3]" → "turns.3.content"); failures of
    no one field under ""."""
    paths = {f.path for f in fields(document, document)}
    out: dict[str, list[str]] = {}
    for failure in failures:
        path = re.sub(r"\[(\d+)\]", r".\1", failure.field)
        path = path if path in paths else f"{path}.content" if f"{path}.content" in paths else ""
        out.setdefault(path, []).append(f"{failure.check}: {failure.detail}")
    return out


def signals_by_field(document: Mapping[str, Any], translation: Mapping[str, Any]) -> dict[str, list[str]]:
    """What the fidelity checks flag without failing (a negation in one language only, a question not asked, a
    translation that seems to add to its source) in ``translation``, keyed like ``failures_by_field``: for the
    reviewer to verify, since the checks cannot decide it."""
    return failures_by_field([_Flag(s.field, s.name, s.detail) for s in fidelity.item_signals(document, translation)],
                             document)


@dataclass(frozen=True)
class _Flag:
    field: str
    check: str
    detail: str


def round_diffs(document: Mapping[str, Any], attempts: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per attempt: its scores and failures, and per field the word diff against the previous attempt."""
    out, previous = [], None
    for attempt in attempts:
        translation = attempt.get("translation") or {}
        diffs = []
        for f in fields(document, translation):
            before = _get(previous, f.path) if previous is not None else f.arabic
            if previous is None or before != f.arabic:
                diffs.append({"label": f.label, "html": word_diff(before, f.arabic) if previous else isolate(f.arabic)})
        out.append({**attempt, "diffs": diffs, "unchanged": previous is not None and not diffs})
        previous = translation
    return out


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def band_class(value: float | None) -> str:
    if value is None:
        return "bad"
    return "good" if value >= 75 else "warn" if value >= 60 else "bad"


def iso(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(isolate=isolate, word_diff=word_diff, score=score, band_class=band_class, iso=iso, has_invisible=has_invisible,
                       visible=lambda text: text_safety.clean(text or "").text)
    return env

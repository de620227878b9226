"""Corruptions injected into real translations for bench/fidelity.py, written apart from the checks.

Nothing here imports bimed_assets: the corruptions are found with this module's own simple patterns, so a
blind spot of the checks' parsers counts as a miss instead of being skipped. Each injector takes the
English source and the Arabic translation of one text and yields (variant, corrupted Arabic).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

INDIC = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")
TO_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
NUM = re.compile(r"(?<![A-Za-z0-9٠-٩.,٫٬])[0-9٠-٩]+(?:[.٫][0-9٠-٩]+)?(?![0-9٠-٩])")
# A code with digits kept in Latin letters: "ACE2", "IL-6", "H1N1", "CD4", "COVID-19", "F-35".
CODE = re.compile(r"\b(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z][A-Za-z0-9]*-?([0-9]+)[A-Za-z0-9]*\b")
SENTENCE = re.compile(r"((?<=[.!?؟])[ \t]+|\n)")
# General units in Arabic after a number, and what a careless translation might write instead.
UNIT_SWAPS = {
    "كيلومتر": "ميل",
    "كيلومترات": "أميال",
    "كم": "ميل",
    "ميل": "كيلومتر",
    "أميال": "كيلومترات",
    "متر": "قدم",
    "أمتار": "أقدام",
    "قدم": "متر",
    "أقدام": "أمتار",
    "طن": "كيلوغرام",
    "كيلوغرام": "غرام",
    "كيلوغرامات": "غرامات",
    "درجة مئوية": "درجة فهرنهايت",
    "ساعة": "دقيقة",
    "ساعات": "دقائق",
    "دقيقة": "ثانية",
    "دقائق": "ثوان",
    "أيام": "أسابيع",
    "أسابيع": "أشهر",
    "سنوات": "أشهر",
    "%": " درجة",
}
_UNIT_AFTER_NUMBER = re.compile(
    r"(?<=[0-9٠-٩])(\s?)(" + "|".join(sorted(map(re.escape, UNIT_SWAPS), key=len, reverse=True)) + r")(?![\u0621-\u064a])"
)
AR_NEGATORS = re.compile(r"(?<![\u0621-\u064a])(لا|لم|لن|ليس|ليست)\s+")
# An imperfect verb, roughly: a word of four letters or more starting with ي or ت, not after the article.
AR_VERB = re.compile(r"(?<![\u0621-\u064a])[يت][\u0621-\u064a]{3,}")


def bump(number: str) -> str:
    """A changed number: last digit + 1 (45 → 46, 2.5 → 2.6, 19 → 10), in the script it was written in."""
    indic = number.translate(INDIC) != number
    plain = number.translate(INDIC)
    plain = plain[:-1] + str((int(plain[-1]) + 1) % 10)
    return plain.translate(TO_INDIC) if indic else plain


def tenfold(number: str) -> str:
    """A tenfold dose error: 2.5 → 25, 500 → 50, 5 → 50."""
    indic = number.translate(INDIC) != number
    plain = number.translate(INDIC).replace("٫", ".")
    if "." in plain:
        plain = plain.replace(".", "").lstrip("0") or "0"
    elif plain.endswith("0"):
        plain = plain[:-1]
    else:
        plain += "0"
    return plain.translate(TO_INDIC) if indic else plain


def values(text: str) -> set[str]:
    return {m.group(0).translate(INDIC).replace("٫", ".") for m in NUM.finditer(text)}


Injected = Iterator[tuple[str, str]]


def number_in_code(source: str, target: str) -> Injected:
    """A digit changed inside a code the translation keeps in Latin letters ("IL-6" → "IL-7")."""
    for m in CODE.finditer(target):
        if m.group(0) in source:
            start, end = m.span(1)
            yield "code", target[:start] + bump(m.group(1)) + target[end:]


def general_unit(source: str, target: str) -> Injected:
    for m in _UNIT_AFTER_NUMBER.finditer(target):
        yield m.group(2).strip(), target[: m.start(2)] + UNIT_SWAPS[m.group(2)] + target[m.end(2) :]


def cut_last_third(source: str, target: str) -> Injected:
    """The translation stopped after two thirds of its text, at a word boundary (a truncated answer)."""
    if len(target.split()) >= 6:
        cut = target[: len(target) * 2 // 3]
        cut = cut[: cut.rfind(" ")] if " " in cut else cut
        yield ("with numbers" if NUM.search(target[len(cut) :]) else "without numbers"), cut.rstrip(" ،,")


def dropped_sentence(source: str, target: str) -> Injected:
    """One sentence of a translation of several left out, by whether it holds a number."""
    parts = SENTENCE.split(target)
    pieces, seps = parts[0::2], parts[1::2] + [""]
    spots = [i for i, p in enumerate(pieces) if p.strip()]
    if len(spots) < 2:
        return
    for i in spots:
        kept = "".join(p + s for k, (p, s) in enumerate(zip(pieces, seps)) if k != i and p.strip()).strip()
        yield ("with numbers" if NUM.search(pieces[i]) else "without numbers"), kept


def negation_removed(source: str, target: str) -> Injected:
    for m in AR_NEGATORS.finditer(target):
        if m.group(1) in ("لا", "لم", "لن") or m.group(1).startswith("ليس"):
            yield "removed", target[: m.start()] + target[m.end() :]
            return


def negation_added(source: str, target: str) -> Injected:
    if not AR_NEGATORS.search(target) and (m := AR_VERB.search(target)):
        yield "added", target[: m.start()] + "لا " + target[m.start() :]

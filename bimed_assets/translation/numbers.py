"""Numbers with their units, read from an English source and from its Arabic translation.

The source is read strictly: every standalone number must reach the translation. Numbers glued to
Latin letters ("HbA1c", "B12", "SpO2", "T2DM") belong to names, which translators may render in words
("السكري من النوع الثاني"), so they are not required. English number words from "three" up are required
too, as digits or Arabic words; "one" and "two" are not ("one of the following", and Arabic expresses
two with the dual: "two weeks" → "أسبوعين").

The translation is read leniently, since an extra reading can only hide a missing number, never raise a
false alarm: Arabic number words (cardinal, ordinal, dual nouns), digits glued to proclitics ("بـ500"),
and "2،5" / "2,500" read every way a writer may have meant them.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from bimed_assets.translation.text import ARABIC_WORD, LATIN_LETTER, normalize
from bimed_assets.translation.units import Unit, unit_at

_NUMBER = re.compile(r"\d+(?:[.,،]\d+)*(?:\^\d+)?")
_EN_ONES = re.findall(r"\w+", "one two three four five six seven eight nine")
_EN_TEENS = re.findall(
    r"\w+", "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
)
_EN_TENS = re.findall(r"\w+", "twenty thirty forty fifty sixty seventy eighty ninety")
# A lookahead on the words' first letters only lets the search skip other words fast (3x on real text).
_EN_FIRST_LETTERS = "".join(sorted({word[0] for word in _EN_ONES + _EN_TEENS + _EN_TENS}))
_EN_WORD = re.compile(
    rf"\b(?=[{_EN_FIRST_LETTERS}])"
    rf"(?:({'|'.join(_EN_TENS)})(?:[- ]({'|'.join(_EN_ONES)}))?|({'|'.join(_EN_ONES[2:] + _EN_TEENS)}))\b",
    re.IGNORECASE,
)
# Numbers joined like this share the unit written after the last one: "5-10 mg", "120/80 mmHg",
# "150 على 95 ملم زئبق".
_CONNECTOR = re.compile(r"\s*(?:-|/|to|and|or|الي|حتي|و|او|علي)\s*", re.IGNORECASE)

# Arabic number words, in normalised spelling (ة→ه, أ→ا, ى→ي). Kinds: "n" adds its value (عشر after a
# unit makes a teen: "خمسة عشر"), "hundred"/"thousand" multiply what precedes ("ثلاث مئة", "ثلاثة آلاف").
_AR_WORDS: dict[str, tuple[str, int]] = {}
for _value, _forms in {
    1: "واحد واحده",
    2: "اثنان اثنين اثنتان اثنتين اثنا اثنتا",
    3: "ثلاث ثلاثه",
    4: "اربع اربعه",
    5: "خمس خمسه",
    6: "ست سته",
    7: "سبع سبعه",
    8: "ثمان ثماني ثمانيه",
    9: "تسع تسعه",
    10: "عشر عشره",
    20: "عشرون عشرين",
    30: "ثلاثون ثلاثين",
    40: "اربعون اربعين",
    50: "خمسون خمسين",
    60: "ستون ستين",
    70: "سبعون سبعين",
    80: "ثمانون ثمانين",
    90: "تسعون تسعين",
    200: "مئتان مئتين مائتان مائتين",
    2000: "الفان الفين",
}.items():
    for _form in _forms.split():
        _AR_WORDS[_form] = ("n", _value)
for _value, _stem in enumerate(re.findall(r"\w+", "ثلاث اربع خمس ست سبع ثمان تسع"), start=3):
    _AR_WORDS[_stem + "مئه"] = _AR_WORDS[_stem + "مائه"] = ("n", _value * 100)
_AR_WORDS.update(
    {"مئه": ("hundred", 100), "مائه": ("hundred", 100), "الف": ("thousand", 1000), "الاف": ("thousand", 1000)}
)
# Ordinals only with the article ("النوع الثاني", "في الخامسة والأربعين من عمره"): bare "ثانية" is a second.
_ORDINAL_STEMS = re.findall(r"\w+", "اول ثاني ثالث رابع خامس سادس سابع ثامن تاسع عاشر")
_AR_ORDINALS = {stem + end: value for value, stem in enumerate(_ORDINAL_STEMS, 1) for end in ("", "ه")}
_AR_ORDINALS.update({"اولي": 1, "حادي": 1, "حاديه": 1, "ثان": 2})  # "الثانٍ" without its tanween
# Numbered points written out ("أولًا، ثانيًا") take no article.
_AR_WORDS.update({stem + "ا": ("n", value) for value, stem in enumerate(_ORDINAL_STEMS, 1)})
# Fractions read as the value or as the numbers of "1/2" ("نصف قرص" for "1/2 tablet" or "0.5 tablet").
_AR_FRACTIONS = {
    "نصف": [["0.5"], ["1", "2"], ["50"]],  # "النصف" for 50 percent
    "ربع": [["0.25"], ["1", "4"]],
    "ثلث": [["1", "3"]],
    "ثلثي": [["2", "3"]],
}
# Counted nouns without a digit: the dual stands for two ("قبل أسبوعين" = "2 weeks ago", "قراءتين" =
# "2 readings"), a bare singular time or dose noun for one ("بعد أسبوع" = "after 1 week").
_AR_DUALS = {
    stem + ending
    for stem in ("يوم", "اسبوع", "شهر", "عام", "قرص", "طفل", "ولد", "ابن", "كوب", "لتر", "متر", "غرام", "جزء",
                 "مريض", "شخص", "دواء", "فحص", "اختبار", "نوع", "ضعف")  # "2 patients", "a 2-fold rise"
    for ending in ("ين", "ان")
}
_AR_SINGULARS = {
    "يوم",
    "اسبوع",
    "شهر",
    "عام",
    "سنه",
    "ساعه",
    "دقيقه",
    "ليله",
    "مره",
    "جرعه",
    "قرص",
    "حبه",
    "كبسوله",
}
# "300 ألف", "5 آلاف", "20 مليون": digits scaled by the word after them ("300,000" in the source);
# "مليوني دولار" is "$2 million" (the source reads 2 and leaves the scale word alone).
_AR_SCALE = re.compile(r"\s*(الف|الاف|مليون|ملايين|مليار|مليارات)(?![\u0621-\u064a])")
_SCALES = {"الف": 1000, "الاف": 1000, "مليون": 10**6, "ملايين": 10**6, "مليار": 10**9, "مليارات": 10**9}
_AR_WORDS.update({w: ("n", 2) for w in ("مليونين", "مليونان", "مليوني", "مليارين", "ملياران")})
# A decade ("the 1980s", "widespread 80s") is written in words in Arabic ("ثمانينيات القرن العشرين").
_DECADE = re.compile(r"0'?s(?![A-Za-z])")
# A clock time: "04:00" is "الساعة 4", "5.30pm" is "5:30 مساءً".
_CLOCK = re.compile(r"\s?[ap]\.?m\b", re.IGNORECASE)
# Feminine duals are regular ("ساعتين", "مرتين", "جرعتين"); words that merely end like one are not.
_FEMININE_DUAL = re.compile(r".+[^وا]ت(?:ين|ان)")
_PROCLITICS = ("و", "ف", "ب", "ل", "ك")
# The tables are written with hamza seats ("مئة"); fold them like the text they are matched against.
_AR_WORDS = {normalize(k): v for k, v in _AR_WORDS.items()}
_AR_DUALS = {normalize(k) for k in _AR_DUALS}


# Typed in logical order, Arabic text often puts the percent sign first ("%50" shows as "50%" right to left);
# not the sign of a number before it ("50% 60").
_PERCENT_FIRST = re.compile(r"(?<![\d.,])(%)[ \t]?$")


@dataclass
class Token:
    """A number as written: the ways to read it (each a list of values) and the unit that follows."""

    start: int
    end: int
    readings: list[list[str]]
    unit: Unit | None = None
    unit_end: int = 0


def canonical(digits: str) -> str:
    """One spelling per value: "2.50" → "2.5", "08" → "8", "1000" → "1000", "10^9" stays."""
    base, caret, exponent = digits.partition("^")
    try:
        value = format(Decimal(base).normalize(), "f")
    except InvalidOperation:
        value = base
    return value + caret + exponent


def _readings(token: str, lenient: bool) -> list[list[str]]:
    if "^" in token:
        return [[canonical(token.replace(",", ""))]]
    parts = re.split(r"([.,،])", token)
    groups, seps = parts[0::2], parts[1::2]
    if not seps:
        if lenient and len(token) >= 6:
            # A phone number the source spaced ("116 123") and the translation did not ("116123").
            return [[canonical(token)]] + [[canonical(token[:i]), canonical(token[i:])] for i in range(2, len(token) - 1)]
        return [[canonical(token)]]
    readings = []
    # "15,000", "1,234.5": comma groups of three digits, at most one decimal point at the end.
    commas = seps[:-1] if seps[-1] == "." else seps
    if (
        commas
        and len(set(commas)) == 1
        and "." not in commas
        and len(groups[0]) <= 3
        and all(len(g) == 3 for g in groups[1 : len(commas) + 1])
    ):
        whole = "".join(groups[: len(commas) + 1])
        readings.append([canonical(whole + ("." + groups[-1] if seps[-1] == "." else ""))])
    if lenient and set(seps) == {"."} and len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:]):
        readings.append([canonical("".join(groups))])  # "76.000": a dot between thousands
    if len(seps) == 1 and (seps[0] == "." or lenient):
        readings.append([canonical(groups[0] + "." + groups[1])])
        if lenient:  # two numbers: a clock time ("7.55 صباحا"), a height ("6.6 أقدام" for 6-foot-6)
            readings.append([canonical(groups[0]), canonical(groups[1])])
    # A "." between digits is a decimal point; commas that are no thousands separator separate numbers.
    if not readings or (lenient and "." not in seps):
        split = re.split(r"[,،]", token)
        if len(split) == 1:  # several dots and no comma: a date or a version ("01.04.2000"), part by part
            split = token.split(".")
        readings.append([value for piece in split for value in _readings(piece, lenient)[0]])
    return readings


def _digit_tokens(text: str, lenient: bool) -> Iterator[Token]:
    for match in _NUMBER.finditer(text):
        before = text[match.start() - 1] if match.start() else " "
        if before == "^":
            continue  # the exponent of "m^2" after normalisation of "m²"
        if not lenient:
            if LATIN_LETTER.match(before):
                continue  # part of a name: "HbA1c", "SpO2", "B12"
            if _DECADE.match(text, match.end() - 1):
                continue
            if before == ":" and not match.group(0).strip("0"):
                continue  # the minutes of "04:00"
            if re.fullmatch(r"\d{1,2}\.\d\d", match.group(0)) and _CLOCK.match(text, match.end()):
                hour, minutes = match.group(0).split(".")
                yield Token(match.start(), match.end(), [[canonical(hour), canonical(minutes)]])
                continue
        readings = _readings(match.group(0), lenient)
        if lenient and (scale := _AR_SCALE.match(text, match.end())):
            factor = _SCALES[scale.group(1)]
            # Scaled first: of two readings that cover as much, the first is taken.
            scaled = [[canonical(str(Decimal(v) * factor)) for v in r] for r in readings if "^" not in r[-1]]
            readings = scaled + readings
        yield Token(match.start(), match.end(), readings)


def _english_words(text: str) -> Iterator[Token]:
    for match in _EN_WORD.finditer(text):
        tens, ones, single = (g.lower() if g else None for g in match.groups())
        if single:
            value = (_EN_ONES + _EN_TEENS).index(single) + 1
        else:
            value = 10 * (_EN_TENS.index(tens) + 2) + (_EN_ONES.index(ones) + 1 if ones else 0)
        yield Token(match.start(), match.end(), [[str(value)]])


def _forms(word: str) -> tuple[list[str], list[str]]:
    """The word without a leading "و/ف/ب/ل/ك", and those forms without the article."""
    forms = [word, word[1:]] if word.startswith(_PROCLITICS) else [word]
    return forms, [f[2:] for f in forms if f.startswith(("ال", "لل"))]


@functools.lru_cache(maxsize=1 << 16)  # every Arabic word of a text is looked up; words recur across texts
def _lookup(word: str) -> tuple[str, int, str]:
    """A word's number kind, value and the noun it counts ("والأربعين", "بيوم", "اللترين")."""
    forms, bare = _forms(word)
    for form in forms:
        if form in _AR_WORDS:
            return *_AR_WORDS[form], ""
    for form in bare:
        if form in _AR_WORDS and _AR_WORDS[form][0] == "n":
            return *_AR_WORDS[form], ""
        if form in _AR_ORDINALS:
            return "n", _AR_ORDINALS[form], ""
    for form in forms:  # the accusative of a cardinal: "ثلاثًا" (tanween dropped)
        if form.endswith("ا") and _AR_WORDS.get(form[:-1], ("",))[0] == "n":
            return *_AR_WORDS[form[:-1]], ""
    for form in forms:
        if form in _AR_SINGULARS:
            return "count", 1, form
    for form in forms + bare:
        if form in _AR_DUALS or _FEMININE_DUAL.fullmatch(form):
            singular = form[:-2]
            return "count", 2, singular[:-1] + "ه" if singular.endswith("ت") else singular
    return "", 0, ""


@functools.lru_cache(maxsize=1 << 16)
def _fraction(word: str) -> list[list[str]] | None:
    """The value of a word that is a fraction ("نصف", "والربع"), or None."""
    forms, bare = _forms(word)
    return next((_AR_FRACTIONS[f] for f in forms + bare if f in _AR_FRACTIONS), None)


def _arabic_words(text: str) -> Iterator[Token]:
    """Numbers spelled in Arabic: "خمسة وأربعين", "الخامسة والأربعين", "ثلاثة آلاف", "أسبوعين"."""
    words = list(ARABIC_WORD.finditer(text))
    i = 0
    while i < len(words):
        if fraction := _fraction(words[i].group(0)):
            yield Token(words[i].start(), words[i].end(), fraction)
            i += 1
            continue
        kind, value, noun = _lookup(words[i].group(0))
        if kind == "count":
            # The noun gives the unit: "يومين" is 2 days, "اللترين" 2 L.
            found = unit_at(noun, 0, arabic=True)
            yield Token(words[i].start(), words[i].end(), [[str(value)]], found[0] if found else None)
        if kind in ("", "count"):
            i += 1
            continue
        total, current, last, j = 0, 0, 0, i
        while j < len(words):
            if j > i:
                kind, value, _ = _lookup(words[j].group(0))
                # A phrase goes on only through "و…" or a word that scales the one before it.
                if (
                    kind in ("", "count")
                    or text[words[j - 1].end() : words[j].start()].strip()
                    or not (
                        (words[j].group(0).startswith("و") and _continues(last, value))
                        or kind in ("hundred", "thousand")
                        or (value == 10 and 0 < current < 10)
                    )
                ):
                    break
            if kind == "hundred":
                current = (current or 1) * value
            elif kind == "thousand":
                total, current = total + (current or 1) * value, 0
            else:
                current += value
            last = value
            j += 1
        yield Token(words[i].start(), words[j - 1].end(), [[str(total + current)]])
        i = j


def _continues(last: int, value: int) -> bool:
    """Whether "و" + ``value`` goes on a number whose last part was ``last``: tens after ones ("خمسة
    وأربعون"), anything smaller after hundreds or thousands ("مئة وعشرون"); "أربعة وستة" is two numbers."""
    return (last < 10 and value in range(20, 100, 10)) or (last >= 100 and value < last)


def read(text: str, *, arabic: bool) -> list[Token]:
    """Every number in normalised ``text`` with the unit written after it, in text order."""
    tokens = list(_digit_tokens(text, lenient=arabic))
    # A translation may keep an English title or name with its number words ("in Five Lives").
    tokens += [*_arabic_words(text), *_english_words(text)] if arabic else _english_words(text)
    tokens.sort(key=lambda t: t.start)
    for token in tokens:
        if token.unit is None and (found := unit_at(text, token.end, arabic=arabic)):
            token.unit, token.unit_end = found
        elif arabic and token.unit is None and (sign := _PERCENT_FIRST.search(text, max(token.start - 2, 0),
                                                                               token.start)):
            token.unit = unit_at(text, sign.start(1), arabic=True)[0]
        if not arabic and token.start and text[token.start - 1] in "$£€":
            token.unit = None  # money: "£125m" is 125 million pounds, not metres
    for first, second in pairwise(tokens):
        if first.unit is None and second.unit and _CONNECTOR.fullmatch(text[first.end : second.start]):
            first.unit = second.unit
        if (year := _short_range_end(text, first, second)) is not None:
            # "1950-53" is 1950 to 1953, which a translation writes in full ("من 1950 وحتى 1953").
            second.readings = [[year], *second.readings] if arabic else [[year]]
    return tokens


def _short_range_end(text: str, first: Token, second: Token) -> str | None:
    """The full year a range like "1950-53" or "2018-19" ends with."""
    a, b = text[first.start : first.end], text[second.start : second.end]
    joined = text[first.end : second.start] in ("-", "/")
    if joined and len(a) == 4 and a.isdigit() and len(b) == 2 and b.isdigit() and a[:2] in ("18", "19", "20"):
        return a[:2] + b if int(b) > int(a[2:]) else None
    return None


@dataclass
class Quantity:
    value: str
    unit: Unit | None
    context: str  # how the source wrote it, for feedback: "metformin 500 mg"


def source_quantities(text: str) -> list[Quantity]:
    out = []
    for token in read(text, arabic=False):
        out_value = token.readings[0]
        context = _context(text, token.start, max(token.end, token.unit_end))
        out.extend(
            Quantity(v, token.unit if k == len(out_value) - 1 else None, context)
            for k, v in enumerate(out_value)
        )
    return out


def _context(text: str, start: int, end: int) -> str:
    """The words around a number, for feedback: "metformin 500 mg", "BP 150/95 mmHg"."""
    left = text.rfind(" ", 0, start) + 1
    before = text[:left].rstrip()
    if before and before[-1] not in ".,;:!?)":
        left = before.rfind(" ") + 1
    right = text.find(" ", end)
    return text[left : right if right != -1 else len(text)].strip(" ,;:.()")


def target_quantities(text: str, wanted: Counter[str]) -> list[tuple[str, Unit | None]]:
    """The translation's numbers, each ambiguous token read the way that covers most of ``wanted``."""
    remaining = Counter(wanted)
    out = []
    tokens = read(text, arabic=True)
    # Unambiguous tokens first, so that an ambiguous one is read for what is still missing.
    for token in sorted(tokens, key=lambda t: len(t.readings)):
        reading = max(token.readings, key=lambda r: sum((Counter(r) & remaining).values()))
        remaining -= Counter(reading)
        out.extend((v, token.unit if k == len(reading) - 1 else None) for k, v in enumerate(reading))
    return out


# A code or name with digits: "ACE2", "IL-6", "H1N1", "CD4", "SARS-CoV-2", "COVID-19".
_CODE = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9-]*[0-9])[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")


def _codes(text: str) -> dict[str, set[str]]:
    """Codes by their letters: {"IL": {"IL6", "IL8"}, "HN": {"H1N1"}} (case and hyphens ignored)."""
    out: dict[str, set[str]] = {}
    for match in _CODE.finditer(text):
        token = match.group(0).upper().replace("-", "")
        out.setdefault(re.sub(r"[0-9]", "", token), set()).add(token)
    return out


def code_mismatches(src: str, tgt: str) -> list[str]:
    """Codes the translation keeps in Latin letters with other digits than the source: "IL-6" as "IL-7".

    The numbers inside codes are not required on their own (a code may be rendered in words), but a code the
    translation writes is compared as a whole token with the source's codes of the same letters."""
    source = _codes(src)
    if not source:
        return []
    problems = []
    for letters, tokens in _codes(tgt).items():
        for token in sorted(tokens - source.get(letters, tokens)):
            problems.append(f"{token} in the translation, but the source has {', '.join(sorted(source[letters]))}")
    return problems


def stray_digits(src: str, tgt: str) -> list[str]:
    """Numbers the source writes in digits and the translation has only in words, when the translation also
    writes in digits a number the source does not have: "1-0" → "2-0" with "الشوط الأول" read as the 1.

    The lenient reading of the translation (ordinals, "بعد عام" for one year) can stand in for a changed
    digit; a digit in the translation that matches nothing in the source says it did."""
    source = [t for t in _digit_tokens(src, lenient=False)]
    if not source:
        return []
    wanted = Counter(v for t in source for v in t.readings[0])
    everything = {v for t in read(src, arabic=False) for r in t.readings for v in r}
    remaining, stray = Counter(wanted), []
    # Digits glued to Latin letters belong to names ("T4", "FEV1", "B12"), as in the source.
    digits = [t for t in _digit_tokens(tgt, lenient=True) if not (t.start and LATIN_LETTER.match(tgt[t.start - 1]))]
    for token in sorted(digits, key=lambda t: len(t.readings)):
        reading = max(token.readings, key=lambda r: sum((Counter(r) & remaining).values()))
        remaining -= Counter(reading)
        stray += [v for v in reading if v not in everything]
    if not stray or not +remaining:
        return []
    detail = f"number {stray[0]} in the translation is not in the source, which has {', '.join(sorted(+remaining))}"
    return [f"{detail} in digits"]

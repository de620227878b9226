"""Deterministic clinical-fidelity checks for English→Arabic medical translations (no LLM).

``check_text`` compares one English text with its Arabic translation; ``check_item`` walks a structured
item (MCQA fields with an ``options`` mapping, or chat ``turns``) and checks every field pair. Each
failure says what is wrong in words the translator LLM can act on (``feedback``). A failed check fails
the item whatever the LLM judges say, so every rule errs towards silence where professional
translations legitimately differ (see ``numbers`` and ``units`` for how numbers are read).

Not detectable without a bilingual lexicon or a model, by design:

- a swap of two options that are both translated terms of similar length, without numbers, Latin or
  transliterated names ("Primary" / "Secondary hypothyroidism"); swaps are caught through numbers, Latin
  tokens, transliterated names ("Losartan" ~ "لوسارتان") or lengths that differ 1.8× and invert;
- a short sentence dropped where a translator could have merged it into its neighbour, and a translation that
  marks no sentence end at all, which is judged by its length alone (``structure``);
- an English run of one word, or two words inside Arabic text without a function word, or a run in title
  case inside Arabic text: names, titles, glosses and abbreviations look the same;
- wrong but well-formed Arabic (a mistranslated word; a negation lost, a question rendered as a statement and
  an added sentence are only *signals*, ``text_signals``) and extra numbers that the source does not have (the
  translation is read leniently, so extra readings never raise a false alarm; a digit the source lacks counts
  only where a source digit was read from a word).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bimed_assets import record_rules
from bimed_assets.translation import negation, structure
from bimed_assets.translation.numbers import (
    code_mismatches,
    source_quantities,
    stray_digits,
    target_quantities,
)
from bimed_assets.translation.text import (
    ARABIC_LETTER,
    ARABIC_WORD,
    LATIN_LETTER,
    LATIN_WORD,
    arabic_share,
    normalize,
    same_name,
    sentences,
)
from bimed_assets.translation.units import is_unit

CHECKS = ("structure", "options", "numbers", "codes", "units", "untranslated", "script", "sentences", "length")
# Signals are evidence for the LLM judge and the reviewer, not failures: a deterministic rule for them
# would raise too many false alarms (bench/results/fidelity.md). "questions": a question the translation does
# not ask, where it is not short (``_questions``); "additions": a translation too long, or with a sentence more
# (``structure.additions``).
SIGNALS = ("negation", "questions", "additions")


@dataclass(frozen=True)
class Failure:
    check: str  # one of CHECKS
    field: str  # path in the item ("options.C", "turns[3]"); "" for a plain text pair
    detail: str

    def __str__(self) -> str:
        return f"{self.field}: {self.detail}" if self.field else self.detail


@dataclass(frozen=True)
class Signal:
    """A possible problem the checks cannot decide: shown to the LLM judge and to the reviewer."""

    name: str  # one of SIGNALS
    field: str
    detail: str

    def __str__(self) -> str:
        return f"{self.field}: {self.detail}" if self.field else self.detail


def feedback(failures: Sequence[Failure]) -> str:
    """The failures as a list the translator can be given back, one problem a line."""
    return "\n".join(f"- {failure}" for failure in failures)


def check_text(source: str, target: str, field: str = "") -> list[Failure]:
    """Every fidelity failure of the Arabic ``target`` as a translation of the English ``source``."""
    src, tgt = normalize(source), normalize(target)
    if not tgt.strip():
        return [Failure("structure", field, "the translation is empty")] if src.strip() else []
    problems = [
        *_script(src, tgt),
        # A changed digit the lenient reading hides ("2-0" for "1-0", with "الشوط الأول" read as the 1) is
        # looked for only where no number is reported missing.
        *(_numbers(src, tgt) or [("numbers", detail) for detail in stray_digits(src, tgt)]),
        *(("codes", detail) for detail in code_mismatches(src, tgt)),
        *_option_markers(src, tgt),
        *_untranslated(tgt),
        *_question_failures(src, tgt),
        *structure.problems(src, tgt),
    ]
    return [Failure(check, field, detail) for check, detail in problems]


def text_signals(source: str, target: str, field: str = "") -> list[Signal]:
    """Signals for one text pair: a negation in one language and not the other, a question the translation does
    not ask while it is not shorter than expected (shorter, that is a failure), a translation that seems to add
    to its source."""
    src, tgt = normalize(source), normalize(target)
    questions = _questions(src, tgt)
    found = {
        "negation": negation.mismatch(src, tgt),
        "questions": questions if questions and not _short(src, tgt) else None,
        "additions": structure.additions(src, tgt, structure.field_kind(field)),
    }
    return [Signal(name, field, detail) for name, detail in found.items() if detail]


def item_signals(source: Any, target: Any, path: str = "") -> list[Signal]:
    """Signals for every text field pair of a structured item (fields missing on one side are skipped)."""
    if isinstance(source, str):
        return text_signals(source, target, path) if isinstance(target, str) else []
    if isinstance(source, Mapping) and isinstance(target, Mapping):
        return [s for k in source if k in target for s in item_signals(source[k], target[k], _join(path, str(k)))]
    if isinstance(source, Sequence) and isinstance(target, Sequence) and not isinstance(target, str):
        out = []
        for i, (s, t) in enumerate(zip(source, target)):
            if isinstance(s, Mapping) and "content" in s and isinstance(t, Mapping):
                s, t = s["content"], t.get("content")
            out += item_signals(s, t, f"{path}[{i}]")
        return out
    return []


def check_item(source: Mapping[str, Any] | Sequence[Any], target: Any) -> list[Failure]:
    """Fidelity failures of a structured item: same fields, options and turns, each pair checked; and the
    whole item Arabic enough by the rule the corpus's arabic_script check audits (bimed_assets.record_rules)."""
    failures = _compare(source, target, "")
    share = record_rules.arabic_share("\n".join(record_rules.texts(target)))
    if not record_rules.arabic_enough(share):
        failures.append(Failure("script", "", f"the item is {share:.0%} Arabic letters, under the "
                                              f"{record_rules.MIN_ARABIC_SHARE:.0%} an Arabic record needs"))
    return failures


# --- Arabic script -------------------------------------------------------------------------------

# Below this share of Arabic letters the text was not translated: real translations keep drug names,
# abbreviations and units in Latin letters ("HbA1c 8.2%، LDL 160 mg/dL") but never most of the words.
MIN_ARABIC_SHARE = 0.2
_ORDINARY_WORD = re.compile(r"[A-Za-z][a-z]+(?:['-][A-Za-z]+)*")
# A taxonomic name, which Arabic medical text often keeps in Latin: "Neisseria meningitidis".
_BINOMIAL = re.compile(
    r"\b[A-Z][a-z]{3,}(?:us|a|um|es|er|ces|as|is|on) [a-z]{3,}(?:ae|us|is|um|a|i|es|ans|ens|ax|ile|ale|ica|oides)\b"
)


def _ordinary_words(text: str) -> Iterator[str]:
    """English words that a translation must render in Arabic: not codes, abbreviations, units or taxa."""
    for chunk in _BINOMIAL.sub(" ", text).split():
        chunk = chunk.strip(".,;:!?()[]\"'")
        if len(chunk) >= 3 and _ORDINARY_WORD.fullmatch(chunk) and not is_unit(chunk):
            yield chunk


def _script(src: str, tgt: str) -> list[tuple[str, str]]:
    if next(_ordinary_words(src), None) is None:
        return []  # "CDC", "COVID-19", "5 mg": may stay in Latin letters
    share = arabic_share(tgt)
    if share < MIN_ARABIC_SHARE:
        return [("script", f"the translation is not in Arabic ({share:.0%} of its letters are Arabic)")]
    return []


# --- numbers and units ---------------------------------------------------------------------------


def _numbers(src: str, tgt: str) -> list[tuple[str, str]]:
    wanted = source_quantities(src)
    if not wanted:
        return []
    found: dict[str, list[Any]] = {}
    for value, unit in target_quantities(tgt, Counter(q.value for q in wanted)):
        found.setdefault(value, []).append(unit)
    problems = []
    by_value: dict[str, list[Any]] = {}
    for quantity in wanted:
        by_value.setdefault(quantity.value, []).append(quantity)
    for value, quantities in by_value.items():
        units = found.get(value, [])
        if len(units) < len(quantities):
            if units:
                detail = (
                    f"number {value} appears {len(quantities)} times in the source but {len(units)} "
                    f"in the translation (in '{quantities[0].context}')"
                )
            else:
                detail = f"number {value} (in '{quantities[0].context}') missing from the translation"
            problems.append(("numbers", detail))
        problems += _units(value, quantities, units)
    return problems


_NONE = object()


def _units(value: str, quantities: list[Any], units: list[Any]) -> list[tuple[str, str]]:
    """Pair each source unit with a compatible unit after the same number in the translation."""
    left = list(units)
    unmatched = []
    for quantity in sorted(quantities, key=lambda q: q.unit is None):
        fit = next((u for u in left if _compatible(quantity.unit, u)), _NONE)
        if fit is _NONE:
            unmatched.append(quantity)
        else:
            left.remove(fit)
    problems = []
    for quantity, other in zip(unmatched, left):  # surplus sources were reported as missing numbers
        where = f"(in '{quantity.context}')"
        if other is None:
            detail = f"unit {quantity.unit} after {value} {where} missing from the translation"
        else:
            detail = f"{value} {quantity.unit} {where} appears as {value} {other} in the translation"
        problems.append(("units", detail))
    return problems


def _compatible(source: Any, target: Any) -> bool:
    if source is None:
        return True
    if target is None:
        return not source.strict
    return not source.conflicts_with(target)


# --- option letters written in the text ----------------------------------------------------------

_EN_MARKER = re.compile(r"(?:^|\n)[ \t]*\(?([A-J])[).:][ \t]|\(([A-J])\)|(?<=\s)([A-J])\)[ \t]")
# Arabic option labels أ ب ج د هـ (folded to ا ب ج د ه), or Latin letters kept as they are.
_AR_MARKER = re.compile(
    r"(?:^|\n)[ \t]*\(?([A-Jابجده])[).:\-][ \t]|\(([A-Jابجده])\)|(?<=\s)([A-Jابجده])\)[ \t]"
)
_AR_LETTERS = dict(zip("ابجده", "ABCDE"))


def _markers(pattern: re.Pattern[str], text: str) -> set[str]:
    letters = {next(g for g in m.groups() if g) for m in pattern.finditer(text)}
    return {_AR_LETTERS.get(letter, letter) for letter in letters}


def _option_markers(src: str, tgt: str) -> list[tuple[str, str]]:
    expected = _markers(_EN_MARKER, src)
    if len(expected) < 2 or "A" not in expected:
        return []  # a lone "A." is an initial or "vitamin A.", not a list of options
    written = _markers(_AR_MARKER, tgt)
    return [("options", f"option {k} missing") for k in sorted(expected - written)] + [
        ("options", f"option {k} added (not in the source)") for k in sorted(written - expected)
    ]


# --- English left untranslated -------------------------------------------------------------------

# Words that make a run of Latin words a sentence rather than a name or a gloss. "of", "and", "for",
# "in" are left out: "Tetralogy of Fallot", "Centers for Disease Control and Prevention", "in situ".
_FUNCTION_WORDS = frozenset(
    re.findall(
        r"\w+",
        """the a an is are was were be been being am has have had having he she it they we you his her him its
        their them our your my me us this that these those which what who whom whose when where why how with
        without on at to from by into after before during since until not no nor does do did will would shall
        should can could may might must there than but if because as about following most also very then any
        some each both either neither or""",
    )
)
_RUN_BREAK = re.compile(rf"{ARABIC_WORD.pattern}|[!?؟؛]|\.(?!\d)")


def _untranslated(tgt: str) -> list[tuple[str, str]]:
    if not LATIN_LETTER.search(tgt):
        return []  # most translations: nothing to look at
    problems = []
    for sentence in sentences(tgt):
        whole = not ARABIC_LETTER.search(sentence)
        for chunk in [sentence] if whole else _RUN_BREAK.split(sentence):
            words = LATIN_WORD.findall(chunk)
            ordinary = list(_ordinary_words(chunk))
            function = [w for w in words if w.lower() in _FUNCTION_WORDS and w != "A"]
            n = len(ordinary) + len([w for w in function if w not in ordinary])
            gloss = chunk.strip().startswith("(")  # "(Centers for Disease Control and Prevention)"
            # A sentence with no Arabic at all needs only two words ("A) Primary hypothyroidism");
            # a run inside Arabic text needs a function word or length to be more than a name, and a run in
            # title case inside Arabic text is a name or a title kept as written ("the Brentwood Imperial
            # Youth Band", a book's title).
            if not whole and _title_case(words):
                continue
            if (n >= 2 and function) or (n >= 2 and whole) or (n >= 4 and not gloss) or n >= 7:
                run = chunk.strip(" ,;:-()\"'.?!")
                problems.append(("untranslated", f"untranslated English: '{_clip(run)}'"))
    return problems


# Words a title leaves in lower case.
_TITLE_LOWER = frozenset(["a", "an", "the", "of", "and", "or", "for", "in", "on", "at", "to", "by", "with", "from", "de", "la", "le", "du", "von", "van"])


def _title_case(words: list[str]) -> bool:
    return any(w[0].isupper() for w in words) and all(
        w[0].isupper() or w in _TITLE_LOWER or not w.isalpha() for w in words
    )


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- questions ----------------------------------------------------------------------------------
# Missing or extra sentences and a cut tail are judged by bimed_assets.translation.structure.


# A short exclamation ("Remember?", "Another one?!") is often rendered without its question mark.
_MIN_QUESTION_SIZE = 20
# A question mark that asks: not clinical shorthand for "suspected" written before a word ("CXR: ?consolidation",
# "?PE", rendered "اشتباه"), nor an uncertain reading marked "(?)", nor one inside a link ("page?id=3").
_QUESTION = re.compile(r"(?<!\()\?+(?![A-Za-z0-9)=])")


# A question the translation does not ask fails it only where the translation is also shorter than the length
# model expects (``structure.length_z``): a question dropped or cut takes its words with it, one rendered as a
# statement (a rhetorical or reported question) keeps them, and is a signal. On the calibration material every
# catch the question count alone made (10 of the fixtures' dropped sentences and cut tails, 2 cut NTREX-128
# lines, 3 windows with a sentence dropped) was shorter than expected but one window (z = 0.02), and no
# faithful translation there lost a question mark, so what a rhetorical question costs could not be measured.
QUESTION_SHORT_Z = 0.0


def _questions(src: str, tgt: str) -> str | None:
    """Normalised ``src`` and ``tgt``: how many questions the translation does not ask, or None."""
    if structure.size(src) < _MIN_QUESTION_SIZE:
        return None
    questions, answered = len(_QUESTION.findall(src)), tgt.count("?") + tgt.count("؟")
    return f"{questions} questions in the source, {answered} in the translation" if answered < questions else None


def _short(src: str, tgt: str) -> bool:
    return structure.length_z(structure.size(src), structure.size(tgt)) < QUESTION_SHORT_Z


def _question_failures(src: str, tgt: str) -> list[tuple[str, str]]:
    detail = _questions(src, tgt)
    return [("sentences", detail)] if detail and _short(src, tgt) else []


# --- structured items ----------------------------------------------------------------------------

_OPTION_KEY = re.compile(r"[A-J]")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _compare(src: Any, tgt: Any, path: str) -> list[Failure]:
    if isinstance(src, str):
        if not isinstance(tgt, str):
            return [Failure("structure", path, f"expected text, got {type(tgt).__name__}")]
        if _OPTION_KEY.fullmatch(src.strip()):  # an answer letter is copied, never translated
            return (
                []
                if tgt.strip() == src.strip()
                else [Failure("structure", path, f"answer letter {src.strip()} became '{tgt.strip()}'")]
            )
        return check_text(src, tgt, path)
    if isinstance(src, Mapping):
        if not isinstance(tgt, Mapping):
            return [Failure("structure", path, f"expected fields, got {type(tgt).__name__}")]
        return _compare_mapping(src, tgt, path)
    if isinstance(src, Sequence):
        if not isinstance(tgt, Sequence) or isinstance(tgt, str):
            return [Failure("structure", path, f"expected a list, got {type(tgt).__name__}")]
        return _compare_list(src, tgt, path)
    if src != tgt:
        return [Failure("structure", path, f"value {src!r} became {tgt!r}")]
    return []


def _compare_mapping(src: Mapping[str, Any], tgt: Mapping[str, Any], path: str) -> list[Failure]:
    options = bool(src) and all(_OPTION_KEY.fullmatch(str(k)) for k in src)
    failures = []
    for key in src:
        if key not in tgt:
            if options:
                failures.append(Failure("options", path, f"option {key} missing"))
            else:
                failures.append(Failure("structure", _join(path, key), "field missing from the translation"))
    for key in tgt:
        if key not in src:
            if options:
                failures.append(Failure("options", path, f"option {key} added (not in the source)"))
            else:
                failures.append(Failure("structure", _join(path, key), "field not in the source"))
    for key in src:
        if key in tgt:
            failures += _compare(src[key], tgt[key], _join(path, str(key)))
    if options:
        failures += [Failure("options", path, detail) for detail in _swaps(src, tgt)]
    return failures


def _compare_list(src: Sequence[Any], tgt: Sequence[Any], path: str) -> list[Failure]:
    failures = []
    if len(src) != len(tgt):
        failures.append(
            Failure("structure", path, f"{len(src)} entries in the source, {len(tgt)} in the translation")
        )
    for i, (s, t) in enumerate(zip(src, tgt)):
        here = f"{path}[{i}]"
        if isinstance(s, Mapping) and "role" in s and "content" in s:  # a chat turn
            if not isinstance(t, Mapping) or t.get("role") != s["role"]:
                role = t.get("role") if isinstance(t, Mapping) else None
                failures.append(
                    Failure(
                        "structure", here, f"role {s['role']!r} in the source, {role!r} in the translation"
                    )
                )
                continue
            failures += _compare(s["content"], t.get("content"), here)
        else:
            failures += _compare(s, t, here)
    return failures


# --- swapped options -----------------------------------------------------------------------------

# Option lengths in Arabic keep the English order closely; a pair whose lengths differ this much in the
# source and are inverted in the translation was swapped. Smaller differences are not evidence.
SWAP_LENGTH_RATIO = 1.8


@dataclass
class _Signature:
    """What survives translation of an option: numbers, Latin-letter names, transliterated names."""

    marks: Counter[str]
    words: list[str]  # English words long enough to be names, or the Arabic words of the translation
    size: int


def _signature(text: str, arabic: bool) -> _Signature:
    text = normalize(text)
    values = (
        [v for v, _ in target_quantities(text, Counter())]
        if arabic
        else [q.value for q in source_quantities(text)]
    )
    latin = [w.lower() for w in LATIN_WORD.findall(text) if len(w) >= 2]
    words = ARABIC_WORD.findall(text) if arabic else [w for w in LATIN_WORD.findall(text) if len(w) >= 5]
    return _Signature(Counter(values) + Counter(latin), words, max(structure.size(text), 1))


def _shared(source: _Signature, target: _Signature) -> int:
    names = sum(any(same_name(e, a) for a in target.words) for e in source.words)
    return sum((source.marks & target.marks).values()) + names


def _swaps(src: Mapping[str, str], tgt: Mapping[str, str]) -> list[str]:
    keys = [k for k in src if k in tgt and isinstance(src[k], str) and isinstance(tgt[k], str)]
    s_sig = {k: _signature(src[k], False) for k in keys}
    t_sig = {k: _signature(tgt[k], True) for k in keys}
    shared = functools.cache(lambda x, y: _shared(s_sig[x], t_sig[y]))  # each pair of options is met twice
    found, used = [], set()
    for x in keys:
        for y in keys:
            if x >= y or x in used or y in used:
                continue
            straight = shared(x, x) + shared(y, y)
            crossed = shared(x, y) + shared(y, x)
            if straight or crossed:
                swapped = crossed > straight
            else:
                a = math.log(s_sig[x].size / s_sig[y].size)
                b = math.log(t_sig[x].size / t_sig[y].size)
                limit = math.log(SWAP_LENGTH_RATIO)
                swapped = a * b < 0 and abs(a) >= limit and abs(b) >= limit
            if swapped:
                found.append(f"options {x} and {y} look swapped (the translation of {x} sits under {y})")
                used |= {x, y}
    return found

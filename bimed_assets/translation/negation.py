"""Negation parity: whether the English source and the Arabic translation both negate, or neither does.

A deterministic reading cannot tell a negation lost from one rendered lexically, so this is a *signal*
(given to the LLM judge and shown to the reviewer), not a failure: on NTREX-128's professional translations
a hard rule would flag more than the 1% the checks allow (bench/results/fidelity.md has the measured cost).

English negates with particles (not, no, never, without, neither/nor, n't, none, nobody, nothing, cannot)
and with prefixes and suffixes (unable, inactive, non-invasive, painless), which Arabic renders as "غير"
("غير طبيعي" for "abnormal"), "عدم" or "بلا". So a translation's "غير", "عدم", "دون", "بلا" count as a
negation only where the source has neither a particle nor such a word: a lexical negative in the source
explains them, and a particle in the source is satisfied by any of them.
"""

from __future__ import annotations

import re

_EN_PARTICLE = re.compile(
    r"\b(?:not|no|never|without|neither|nor|none|nobody|nothing|nowhere|cannot|can't|won't|n't)\b|n't\b",
    re.IGNORECASE,
)
# Words negated by an affix, which Arabic renders with غير / عدم / بلا / لا.
_EN_LEXICAL = re.compile(
    r"\b(?:un|in|im|il|ir|non|dis)-?[a-z]{4,}|\b[a-z]{3,}less\b|\babnormal\w*|\b(?:lack|absen|fail|refus|den[iy])\w*",
    re.IGNORECASE,
)
# Common words that begin like a negative prefix and negate nothing.
_EN_NOT_LEXICAL = re.compile(
    r"(?:in|im|un|dis|il|ir)(?:clud|creas|form|dicat|dividual|dustr|cid|come|stanc|stead|terest|ternation|"
    r"tern|volv|vest|sid|sist|tens|tell|ten|itia|jur|fect|flam|fus|hib|ject|nov|put|quir|sur|spect|stall|"
    r"stitu|struct|tegr|ter|to|port|prov|pact|medi|mun|plant|plic|pos|press|der|til|ion|it|ivers|iqu|iform|"
    r"cuss|eas|ease|play|tanc|trict|aster|patch|order|charg|ch|solv|tribut|ness|ois|ustr|lustr)\w*"
    r"|\w*(?:unless|bless)",
    re.IGNORECASE,
)
_AR_PARTICLE = re.compile(r"(?<![\u0621-\u064a])(?:[وف]?(?:لا|لم|لن|ليس|ليست|ليسوا|لست|لسنا))(?![\u0621-\u064a])")
_AR_LEXICAL = re.compile(r"(?<![\u0621-\u064a])(?:[وب]?(?:غير|عدم|دون|بدون|بلا)|بلا)(?![\u0621-\u064a])")
# "لا سيما" (especially) and "لا بد" (must) negate nothing.
_AR_IDIOM = re.compile(r"لا\s+(?:سيما|بد)")


def english(text: str) -> tuple[int, bool]:
    """Negation particles in the English text, and whether it has a word negated by an affix."""
    particles = len(_EN_PARTICLE.findall(text))
    lexical = any(not _EN_NOT_LEXICAL.fullmatch(m.group(0)) for m in _EN_LEXICAL.finditer(text))
    return particles, lexical


def arabic(text: str) -> tuple[int, int]:
    """Negation particles (لا، لم، لن، ليس) and lexical negators (غير، عدم، دون، بلا) in normalised Arabic."""
    text = _AR_IDIOM.sub(" ", text)
    return len(_AR_PARTICLE.findall(text)), len(_AR_LEXICAL.findall(text))


def mismatch(src: str, tgt: str) -> str | None:
    """Why the negation of normalised ``src`` and ``tgt`` differs, or None where they agree."""
    en_particles, en_lexical = english(src)
    ar_particles, ar_lexical = arabic(tgt)
    if en_particles and not (ar_particles or ar_lexical):
        return "the source negates (not, no, never, without…) but the translation has no negation"
    if ar_particles and not (en_particles or en_lexical):
        return "the translation negates (لا، لم، لن، ليس) but the source has no negation"
    return None

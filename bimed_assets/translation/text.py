"""Text normalisation, script statistics and sentence splitting shared by the fidelity checks.

Everything here works on ``normalize``'d text: the checks compare an English source with an Arabic
translation, and the same number or unit can be spelled many ways in Arabic typography (Arabic-Indic
digits, ٫ and ٬, ٪, presentation-form letters from PDFs, diacritics, tatweel, bidi marks). It also holds
the consonant skeletons that match a transliterated drug name across scripts.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
# Letter variants that Arabic writers use interchangeably (hamza seats, alef maqsura, ta marbuta):
# folded so that a word list written one way matches text written another way.
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_PUNCT = str.maketrans(
    {
        "٫": ".",  # Arabic decimal separator
        "٬": ",",  # Arabic thousands separator
        "٪": "%",
        "μ": "µ",  # Greek mu and micro sign are both used for micro-
        "º": "°",  # masculine ordinal indicator, often typed for the degree sign
        "–": "-",
        "—": "-",
        "−": "-",
        "‐": "-",
        "‑": "-",
        "\u00a0": " ",
        "\u202f": " ",
        "\u2009": " ",
        "’": "'",
        "‘": "'",
    }
)
_FOLD_ALL = {**_DIGITS, **_PUNCT, **_ARABIC_FOLD}  # one pass instead of three: the checks' hot path
# Diacritics (harakat, tanween, shadda, sukun, superscript alef), tatweel, bidi and zero-width marks.
_DROP = re.compile(r"[\u064b-\u065f\u0670\u0640\u200b-\u200f\u202a-\u202e\u2066-\u2069\u061c\ufeff]")
_PRESENTATION = re.compile(r"[\ufb50-\ufdff\ufe70-\ufefe]+")
_SUPERSCRIPT_RUN = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹]+")

ARABIC_LETTER = re.compile(r"[\u0621-\u064a\u066e-\u06d3\u06d5\u06fa-\u06ff\u0750-\u077f\u08a0-\u08ff]")
LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
# A Latin word: letters with inner hyphens, apostrophes or digits ("HbA1c", "SARS-CoV-2", "patient's").
LATIN_WORD = re.compile(r"[A-Za-z](?:[A-Za-z0-9'-]*[A-Za-z0-9])?")
ARABIC_WORD = re.compile(r"[\u0621-\u064a\u066e-\u06d3\u06d5\u06fa-\u06ff\u0750-\u077f\u08a0-\u08ff]+")


def normalize(text: str) -> str:
    """The form every check reads: ASCII digits and separators, folded Arabic letters, no diacritics."""
    text = _PRESENTATION.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    text = _DROP.sub("", text)
    # "10⁹/L", "m²": an exponent stays an exponent instead of running into the digits before it.
    text = _SUPERSCRIPT_RUN.sub(lambda m: "^" + m.group(0).translate(_SUPERSCRIPTS), text)
    return text.translate(_FOLD_ALL)


def arabic_share(text: str) -> float:
    """Arabic letters among all Arabic and Latin letters (1.0 for text without letters)."""
    arabic = len(ARABIC_LETTER.findall(text))
    latin = len(LATIN_LETTER.findall(text))
    return arabic / (arabic + latin) if arabic + latin else 1.0


# Sentence ends: . ! ? ؟ followed by space (after any closing quotes or brackets), or a line break. A period
# after a single letter ("Dr.", "A.", Arabic "د."), after initials ("U.S.", "U.N.") or after a common
# abbreviation ("Nov.", "Gov.") does not end a sentence, nor does an ellipsis ("very inquisitive ... they"):
# Arabic has no capitals to tell the two apart, so both languages are read alike.
# A lowercase word after the period continues the sentence ("at 6 p.m. and").
_EN_ABBREV = frozenset(
    ["dr", "mr", "mrs", "ms", "vs", "e.g", "i.e", "etc", "approx", "st", "no", "fig", "jr", "sr", "a.m", "p.m", "prof", "gen", "col", "lt", "capt", "sgt", "gov", "sen", "rep", "rev", "sens", "reps", "inc", "ltd", "co", "corp", "dept", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ave"]
)
_INITIALS = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # "U.S" of "U.S.", "D.C"
_END = re.compile(r"(?<=[.!?؟…])[\"'”“»)\]]*\s+(?![a-z])|\n+")


def sentences(text: str) -> list[str]:
    """Split normalised text into sentences (lines count as sentences too: options, list items)."""
    out: list[str] = []
    start = 0
    for match in _END.finditer(text):
        piece = text[start : match.start()]
        if "\n" not in match.group(0) and _is_abbreviation(piece):
            continue
        if piece.strip():
            out.append(piece.strip())
        start = match.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return [s for s in out if ARABIC_LETTER.search(s) or LATIN_LETTER.search(s)]


def _is_abbreviation(piece: str) -> bool:
    """Whether the period that ends ``piece`` belongs to an abbreviation or an ellipsis."""
    if piece.endswith(("..", "…")):
        return True
    words = piece.rstrip(".").split()
    if not piece.endswith(".") or not words:
        return False
    last = words[-1].lower().lstrip("\"'“”«(")
    return len(last) == 1 or last in _EN_ABBREV or bool(_INITIALS.fullmatch(last))


# Consonant skeletons for matching a transliterated name across scripts ("metformin" ~ "ميتفورمين"):
# vowels and weak letters dropped, letters Arabic cannot tell apart merged (p/b, v/f, z/s, c/k/q).
_EN_DIGRAPHS = (("ph", "f"), ("th", "t"), ("sh", "s"), ("ch", "k"), ("ck", "k"), ("qu", "k"), ("x", "ks"))
_EN_SKELETON = str.maketrans("pvzjqcw", "bfsgkk ", "aeiouyh")
_AR_SKELETON = str.maketrans(
    {
        "ب": "b",
        "ت": "t",
        "ث": "t",
        "ج": "g",
        "خ": "k",
        "د": "d",
        "ذ": "d",
        "ر": "r",
        "ز": "s",
        "س": "s",
        "ش": "s",
        "ص": "s",
        "ض": "d",
        "ط": "t",
        "ظ": "d",
        "غ": "g",
        "ف": "f",
        "ق": "k",
        "ك": "k",
        "ل": "l",
        "م": "m",
        "ن": "n",
        "ا": None,
        "و": None,
        "ي": None,
        "ه": None,
        "ح": None,
        "ع": None,
        "ء": None,
    }
)


@functools.lru_cache(maxsize=65536)  # the same drug names and words recur across a whole corpus
def skeleton(word: str, *, arabic: bool) -> str:
    if arabic:
        word = word.translate(_AR_SKELETON)
    else:
        word = word.lower()
        for digraph, letter in _EN_DIGRAPHS:
            word = word.replace(digraph, letter)
        word = re.sub(r"c(?=[eiy])", "s", word).translate(_EN_SKELETON).replace(" ", "")
    return re.sub(r"(.)\1+", r"\1", word)  # "theophylline" ~ "ثيوفيلين"


@functools.lru_cache(maxsize=1 << 16)  # options compare the same words pair by pair, and terms recur across items
def same_name(english: str, arabic: str) -> bool:
    """Whether an Arabic word transliterates an English one: skeletons at most one edit apart."""
    a = skeleton(english, arabic=False)
    # "الوبيورينول" is allopurinol, "المغنيسيوم" the magnesium: try with and without the article.
    forms = [arabic, arabic[2:]] if arabic.startswith("ال") else [arabic]
    return any(_one_edit(a, skeleton(form, arabic=True)) for form in forms)


def _one_edit(a: str, b: str) -> bool:
    """Levenshtein distance ≤ 1 between skeletons of at least four letters."""
    if min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) <= 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))

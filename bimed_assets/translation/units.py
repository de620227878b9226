"""Units of measure as written after a number, in English and in Arabic (Latin or Arabic letters).

A unit is read as ``numerator[/denominator]`` ("mg/dL", "ملغ/دل", "ملغ لكل ديسيلتر") and compared by
canonical name. Aliases are matched on ``text.normalize``'d text (ة→ه, أ→ا, ى→ي, no diacritics), so
the Arabic lists are folded the same way when compiled.

*Strict* units (mass, volume, amount, pressure, temperature, percent, length) must follow the number
in the translation too: "500 mg" rendered "500" has lost the dose. *Soft* units (time, rates) are only
compared when the translation puts a unit there: Arabic often says "منذ 3 أيام" or "في الخامسة والأربعين
من عمره" without a unit word right after the digits.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from bimed_assets.translation.text import normalize


@dataclass(frozen=True)
class Unit:
    numerator: str  # canonical, "" for a bare rate ("/min")
    denominator: str | None
    strict: bool

    def __str__(self) -> str:
        return self.numerator + (f"/{self.denominator}" if self.denominator else "")

    def conflicts_with(self, other: Unit) -> bool:
        """Whether a translation that wrote ``other`` for this source unit changed the measure."""
        if self.numerator != other.numerator:
            # A bare "degrees" ("38.5 درجة") fits either scale; only °C written as °F is a change.
            pair = {self.numerator, other.numerator}
            ambiguous = ("deg", {"deg", "°C", "°F"}), ("kilo", {"kilo", "kg", "km"})
            return not any(word in pair and pair <= fits for word, fits in ambiguous)
        # "mg/day" may become "ملغ يوميًا": a missing denominator is not a change, a different one is.
        return bool(self.denominator and other.denominator and self.denominator != other.denominator)


# canonical: (strict, English aliases, Arabic aliases). Longer aliases win over their prefixes.
_NUMERATORS: dict[str, tuple[bool, list[str], list[str]]] = {
    "kg": (
        True,
        ["kg", "kgs", "kilograms?"],
        ["كغ", "كلغ", "كغم", "كجم", "كيلوغرام", "كيلوجرام", "كيلوغرامات", "كيلوجرامات"],
    ),
    "kilo": (True, ["kilos?"], ["كيلو"]),  # kilograms or kilometres, by context
    "g": (
        True,
        ["g", "gm", "gms", "grams?", "grammes?"],
        ["غ", "غم", "جم", "جرام", "غرام", "غرامات", "جرامات"],
    ),
    "mg": (
        True,
        ["mg", "milligrams?"],
        [
            "ملغ",
            "ملغم",
            "مغ",
            "ملجم",
            "مجم",
            "ملغرام",
            "(?:ميلي|ملي|مللي|ميللي|مل)\\s?(?:غرام|جرام|غرامات|جرامات)",
        ],
    ),
    "mcg": (
        True,
        ["mcg", "µg", "ug", "micrograms?"],
        ["مكغ", "مكغم", "مكجم", "ميكغ", "ميكروغ", "ميكرو\\s?(?:غرام|جرام|غرامات|جرامات)"],
    ),
    "ng": (True, ["ng", "nanograms?"], ["نانو\\s?(?:غرام|جرام)", "نغ"]),
    "lb": (True, ["lbs?", "pounds?"], ["رطل", "ارطال", "باوند"]),
    "L": (True, ["L", "liters?", "litres?"], ["لتر", "لترات", "ل"]),
    "dL": (True, ["dL", "dl", "deciliters?", "decilitres?"], ["دل", "دسل", "ديسي\\s?لتر", "دسي?\\s?لتر"]),
    "mL": (
        True,
        ["mL", "ml", "cc", "milliliters?", "millilitres?"],
        ["مل", "ملل", "سم\\^?3", "سم مكعب", "(?:ميلي|ملي|مللي|ميللي|مل)\\s?لتر(?:ات)?"],
    ),
    "µL": (True, ["µL", "uL", "microliters?"], ["ميكرو\\s?لتر"]),
    "mmol": (True, ["mmol", "millimoles?"], ["(?:ميلي|ملي|مللي|مل)\\s?مول"]),
    "µmol": (True, ["µmol", "umol"], ["ميكرو\\s?مول"]),
    "mEq": (
        True,
        ["mEq", "meq", "milliequivalents?"],
        ["(?:ميلي|ملي|مللي|مل)\\s?(?:مكافئ|مكافي|اكويفالنت)", "مكافئ ميلي"],
    ),
    "IU": (True, ["IU", "international units?"], ["وحد(?:ه|ات) دولي(?:ه)?", "و\\.?\\s?د"]),
    "U": (True, ["U", "units?"], ["وحد(?:ه|ات)"]),
    "mmHg": (
        True,
        ["mm\\s?Hg", "mm of mercury", "millimeters? of mercury"],
        ["(?:مم|ملم|ميليمتر|مليمتر|ملليمتر)\\s?(?:من )?(?:ال)?زئبق(?:ي)?", "(?:مم|ملم) ز"],
    ),
    "cmH2O": (True, ["cm\\s?H2O"], ["سم\\s?(?:من )?(?:ال)?ماء"]),
    "°C": (
        True,
        ["° ?C", "degrees? (?:C|Celsius|centigrade)"],
        ["° ?م", "م ?°", "° ?س", "س ?°", "درج(?:ه|ات) (?:مئوي(?:ه)?|سيليزي(?:ه)?|سلسيوس)"],
    ),
    "°F": (
        True,
        ["° ?F", "degrees? (?:F|Fahrenheit)"],
        ["° ?ف", "ف ?°", "درج(?:ه|ات) (?:فهرنهايت|فهرنهيت)", "فهرنهايت"],
    ),
    "deg": (True, ["°", "degrees?"], ["°", "درج(?:ه|ات)"]),
    "%": (True, ["%", "percent", "per cent"], ["%", "بالمئه", "بالمائه", "في المئه", "في المائه"]),
    "cm": (
        True,
        ["cm", "centimeters?", "centimetres?"],
        ["سم", "سنتيمتر(?:ات)?", "سنتمتر(?:ات)?", "سنتي\\s?متر"],
    ),
    "mm": (True, ["mm", "millimeters?", "millimetres?"], ["مم", "ملم", "(?:ميلي|ملي|مللي)\\s?متر(?:ات)?"]),
    "m": (True, ["m", "meters?", "metres?"], ["م", "متر", "امتار", "امتر"]),
    "km": (True, ["km", "kilometers?", "kilometres?"], ["كم", "كيلو\\s?متر(?:ات)?"]),
    "ft": (True, ["ft", "feet", "foot"], ["قدم", "اقدام"]),
    "in": (True, ["inch(?:es)?"], ["بوصه", "بوصات", "انش", "انشات"]),
    "mile": (True, ["miles?", "mi"], ["ميل", "اميال"]),
    "t": (True, ["tonnes?", "tons?"], ["طن", "اطنان"]),
    "oz": (True, ["oz", "ounces?"], ["اونصه", "اونصات"]),
    "gal": (True, ["gallons?"], ["جالون", "غالون", "جالونات", "غالونات"]),
    "ha": (True, ["ha", "hectares?"], ["هكتار", "هكتارات"]),
    "kcal": (True, ["kcal", "calories?", "cal"], ["سعر(?:ه|ات)? حراري(?:ه|ات)?", "كيلو\\s?كالوري", "كالوري"]),
    "m2": (True, ["m\\^?2", "square meters?"], ["م\\^?2", "متر مربع"]),
    "s": (False, ["s", "secs?", "seconds?"], ["ثانيه", "ثوان", "ثواني"]),
    "min": (False, ["min", "mins", "minutes?"], ["دقيقه", "دقائق", "دقيقتين", "دقيقتان"]),
    "h": (False, ["h", "hrs?", "hours?"], ["ساعه", "ساعات", "ساعتين", "ساعتان"]),
    "day": (False, ["d", "days?"], ["يوم", "ايام", "يومين", "يومان"]),
    "week": (False, ["wks?", "weeks?"], ["اسبوع", "اسابيع", "اسبوعين", "اسبوعان"]),
    "month": (False, ["mos?", "months?"], ["شهر", "اشهر", "شهور", "شهرين", "شهران"]),
    "year": (
        False,
        ["y", "yrs?", "years?", "year-old", "years-old"],
        ["سنه", "سنوات", "سنين", "عام", "اعوام", "سنتين", "سنتان", "عامين", "عامان"],
    ),
}
_DENOMINATORS: dict[str, tuple[list[str], list[str]]] = {
    "L": (["L", "l", "liter", "litre"], ["لتر", "ل"]),
    "dL": (["dL", "dl", "deciliter", "decilitre"], ["دل", "دسل", "ديسي\\s?لتر", "دسي?\\s?لتر"]),
    "mL": (["mL", "ml", "milliliter", "millilitre"], ["مل", "(?:ميلي|ملي|مللي)\\s?لتر"]),
    "µL": (["µL", "uL"], ["ميكرو\\s?لتر"]),
    "kg": (["kg", "kilogram"], ["كغ", "كلغ", "كغم", "كجم", "كيلوغرام", "كيلوجرام"]),
    "m2": (["m\\^?2"], ["م\\^?2", "متر مربع"]),
    "mm3": (["mm\\^?3", "cu mm"], ["(?:مم|ملم)\\^?3", "(?:مم|ملم) مكعب"]),
    "min": (["min", "minute"], ["(?:ال)?دقيقه", "د"]),
    "h": (["h", "hr", "hour"], ["(?:ال)?ساعه", "س"]),
    "s": (["s", "sec", "second"], ["(?:ال)?ثانيه", "ث"]),
    "day": (["d", "day"], ["(?:ال)?يوم"]),
    "hpf": (["hpf", "HPF"], ["(?:ال)?حقل(?: عالي التكبير)?"]),
}
# A bare rate: "93/min", "18 breaths/min", "bpm"; Arabic "93 نبضة في الدقيقة", "18 نفسًا/دقيقة".
_RATE_EN = r"(?:(?:beats?|breaths?|times)\s*)?(?:/\s*|per\s+)min(?:ute)?|bpm"
_RATE_AR = (
    r"(?:(?:نبضه|نبضات|نفسا|نفس|انفاس|مره|مرات|ضربه|ضربات|دقه|دقات)\s*)?"
    r"(?:/\s*|في\s+|بال|كل\s+)(?:ال)?دقيقه|ن/د"
)


# A unit ends where its word ends; "m" in "m2" or "mm^3" is not metres.
_AR_END = r"(?:(?<=[%°])|(?![\u0621-\u064aA-Za-z0-9^]))"
_EN_END = r"(?:(?<=[%°])|(?![A-Za-z0-9^]|\.[A-Za-z]))"  # "6 U.S." is no unit U


def _pattern(english: list[str], arabic: list[str] | None) -> re.Pattern[str]:
    """English aliases, plus Arabic ones for a translation (which may also keep units in Latin letters)."""
    # English words match in any case, short symbols exactly ("5 L" is litres, "grade 5 l" is not).
    aliases = [a if len(a) <= 3 and "\\" not in a else f"(?i:{a})" for a in english]
    # Arabic aliases also in the accusative with tanween ("غرامًا" → "غراما", "عامًا" → "عاما").
    aliases += [f"(?:{normalize(a)})ا?" for a in arabic or []]
    return re.compile(f"(?:{'|'.join(aliases)}){_EN_END if arabic is None else _AR_END}")


_NUM = {
    arabic: {name: _pattern(en, ar if arabic else None) for name, (_, en, ar) in _NUMERATORS.items()}
    for arabic in (False, True)
}
_DEN = {
    arabic: {name: _pattern(en, ar if arabic else None) for name, (en, ar) in _DENOMINATORS.items()}
    for arabic in (False, True)
}
_RATE = {
    False: re.compile(f"(?:{_RATE_EN}){_EN_END}", re.IGNORECASE),
    True: re.compile(f"(?:{_RATE_AR}){_AR_END}"),
}
_PER = {False: re.compile(r"\s*/\s*|\s+(?i:per)\s+"), True: re.compile(r"\s*/\s*|\s+(?:لكل|في)\s+")}
_GAP = re.compile(r"[ \t]*-?[ \t]*")


# Any alias of a table, to skip the search for the longest where no unit follows (most numbers).
_ANY = {id(table): re.compile("|".join(p.pattern for p in table.values())) for table in (*_NUM.values(), *_DEN.values())}


def _longest(patterns: dict[str, re.Pattern[str]], text: str, pos: int) -> tuple[str, int] | None:
    """The alias that matches longest at ``pos``: "ملغم" over "ملغ", "mm Hg" over "mm", "مل مكافئ" over "مل"."""
    if not _ANY[id(patterns)].match(text, pos):
        return None
    best = None
    for name, pattern in patterns.items():
        match = pattern.match(text, pos)
        if match and (best is None or match.end() > best[1]):
            best = (name, match.end())
    return best


# "10 من الأمتار": Arabic may put the unit in a partitive.
_PARTITIVE = re.compile(r"من\s+(?:ال)?")
# Speeds written as one word: "mph", "km/h" is read as km per h.
_MPH = re.compile(r"mph(?![A-Za-z])", re.IGNORECASE)


def unit_at(text: str, pos: int, *, arabic: bool) -> tuple[Unit, int] | None:
    """The unit written right after ``pos`` (the end of a number) and where it ends, if any."""
    pos = _GAP.match(text, pos).end()
    if not arabic and (mph := _MPH.match(text, pos)):
        return Unit("mile", "h", True), mph.end()
    numerator = _longest(_NUM[arabic], text, pos)
    if numerator is None and arabic and (partitive := _PARTITIVE.match(text, pos)):
        numerator = _longest(_NUM[arabic], text, partitive.end())
    rate = _RATE[arabic].match(text, pos)
    if rate and (numerator is None or rate.end() >= numerator[1]):
        return Unit("", "min", False), rate.end()
    if numerator is None:
        # A count per volume or field with no numerator: "15,000/mm3", "90 × 10^9/L", "5 خلايا/حقل".
        bare = _longest(_DEN[arabic], text, pos + 1) if text.startswith("/", pos) else None
        return (Unit("", bare[0], False), bare[1]) if bare else None
    name, end = numerator
    denominator = None
    if (per := _PER[arabic].match(text, end)) and (found := _longest(_DEN[arabic], text, per.end())):
        denominator, end = found
    return Unit(name, denominator, _NUMERATORS[name][0]), end


@functools.lru_cache(maxsize=65536)  # the same words recur across a corpus
def is_unit(word: str) -> bool:
    """Whether an English word is a unit on its own ("mg", "mmHg", "days"): kept or not, never prose."""
    found = _longest(_NUM[False], word, 0)
    return bool(found and found[1] == len(word))

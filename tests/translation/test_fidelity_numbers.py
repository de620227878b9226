"""Reading numbers and units from an English source and an Arabic translation."""

from collections import Counter

import pytest

from bimed_assets.translation.numbers import read, source_quantities, target_quantities
from bimed_assets.translation.text import normalize, sentences


def source(text: str) -> list[tuple[str, str | None]]:
    return [(q.value, str(q.unit) if q.unit else None) for q in source_quantities(normalize(text))]


def target(text: str) -> list[tuple[str, str | None]]:
    return [(v, str(u) if u else None) for v, u in target_quantities(normalize(text), Counter())]


def test_normalize_digits_separators_and_letters():
    assert normalize("٢٫٥ ملغ، ١٬٠٠٠ مل، ۴۵ عامًا، ٨٫٢٪") == "2.5 ملغ، 1,000 مل، 45 عاما، 8.2%"
    assert normalize("ﻣﻜﺎﻓﺤﺔ") == "مكافحه"  # presentation forms from PDFs
    assert normalize("HbA1c \u200f8.2%") == "HbA1c 8.2%"  # bidi mark a translator typed
    assert normalize("10⁹/L, 1.73 m²") == "10^9/L, 1.73 m^2"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("metformin 500 mg twice daily", [("500", "mg")]),
        ("WBC 15,000/mm3", [("15000", "/mm3")]),
        ("BP 150/95 mmHg", [("150", "mmHg"), ("95", "mmHg")]),  # a ratio shares its unit
        ("5-10 mg", [("5", "mg"), ("10", "mg")]),
        ("a 45-year-old man", [("45", "year")]),
        ("HbA1c 8.2%", [("8.2", "%")]),  # the 1 of HbA1c belongs to the name
        ("vitamin B12 and SpO2 of 92%", [("92", "%")]),
        ("glucose 126 mg/dL, Na 130 mEq/L", [("126", "mg/dL"), ("130", "mEq/L")]),
        ("38.5°C (101.3°F)", [("38.5", "°C"), ("101.3", "°F")]),
        ("amoxicillin 90 mg/kg/day", [("90", "mg/kg")]),
        ("pulse is 93/min", [("93", "/min")]),
        ("for three days, one of the following, two doses", [("3", "day")]),
        ("forty-five", [("45", None)]),
        ("at 08:00", [("8", None)]),  # "الساعة 8": zero minutes are not written
        ("at 7.55am", [("7", None), ("55", None)]),
        ("in the 1980s, widespread 80s", []),  # decades are written in words
        ("Nov. 6 U.S. elections", [("6", None)]),  # a country, not the unit U
        ("£125m", [("125", None)]),  # money, not metres
        ("platelets 90 × 10⁹/L", [("90", None), ("10^9", "/L")]),
        ("COVID-19 and IL-6", [("19", None), ("6", None)]),
        ("2,5 mg", [("2", None), ("5", "mg")]),  # not an English number: two numbers
        ("BMI 32 kg/m2, BSA 1.8 m2", [("32", "kg/m2"), ("1.8", "m2")]),
    ],
)
def test_source_numbers_and_units(text, expected):
    assert source(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ميتفورمين ٥٠٠ ملغم", [("500", "mg")]),
        ("بـ500 مغ", [("500", "mg")]),  # proclitic glued to the digits
        ("500 ميلي غرام", [("500", "mg")]),
        ("15 ميكروغرامًا", [("15", "mcg")]),
        ("150/95 مم زئبقي", [("150", "mmHg"), ("95", "mmHg")]),
        ("130 ميلي مكافئ/لتر", [("130", "mEq/L")]),
        ("126 ملغ لكل ديسيلتر", [("126", "mg/dL")]),
        ("38.5 درجة مئوية", [("38.5", "°C")]),
        ("38.5 درجة", [("38.5", "deg")]),
        ("٨٫٢٪", [("8.2", "%")]),
        ("8.2 في المئة", [("8.2", "%")]),
        ("٪٥٠ من المرضى", [("50", "%")]),  # the sign typed first, in logical order
        ("بين 50% 60 مريضًا", [("50", "%"), ("60", None)]),
        ("93 نبضة في الدقيقة", [("93", "/min")]),
        ("32 كغ/م²", [("32", "kg/m2")]),
        ("من 5 إلى 10 ملغ", [("5", "mg"), ("10", "mg")]),
        ("بين 80 و130 ملغ/دل", [("80", "mg/dL"), ("130", "mg/dL")]),
        ("45 عامًا", [("45", "year")]),
    ],
)
def test_target_numbers_and_units(text, expected):
    assert target(text) == expected


@pytest.mark.parametrize(
    "text, value",
    [
        ("خمسة وأربعون", "45"),
        ("في الخامسة والأربعين من عمره", "45"),
        ("خمسة عشر", "15"),
        ("الحادي عشر", "11"),
        ("ثلاث مئة", "300"),
        ("ثلاثمائة", "300"),
        ("مئة وخمسون", "150"),
        ("ألف ومئتان", "1200"),
        ("ثلاثة آلاف", "3000"),
        ("النوع الثاني", "2"),
        ("الاحتياطات الخمسة", "5"),
    ],
)
def test_arabic_number_words(text, value):
    assert [v for v, _ in target(text)] == [value]


def test_arabic_number_words_stop_at_punctuation_and_other_words():
    assert [v for v, _ in target("ثلاث مئة، مئة وخمسون")] == ["300", "150"]
    assert [v for v, _ in target("ثلاثة أو أربعة")] == ["3", "4"]


def test_arabic_counted_nouns():
    assert target("قبل أسبوعين") == [("2", "week")]
    assert target("واللترين المتبقيين") == [("2", "L")]
    assert target("متوسط قراءتين") == [("2", None)]  # a regular feminine dual
    assert target("بيوم أو يومين") == [("1", "day"), ("2", "day")]
    assert target("البروتين والكرياتين") == []  # words that only end like a dual
    assert target("لدى مريضين") == [("2", None)]
    assert target("ارتفاع بمقدار ضعفين") == [("2", None)]


def test_ambiguous_separators_are_read_for_what_the_source_has():
    assert target_quantities("2،5 ملغ", Counter({"2.5": 1}))[0][0] == "2.5"
    assert [v for v, _ in target_quantities("2،5 ملغ", Counter({"2": 1, "5": 1}))] == ["2", "5"]
    assert target_quantities("1،000 مل", Counter({"1000": 1}))[0][0] == "1000"
    assert target_quantities("12,000", Counter({"12000": 1}))[0][0] == "12000"


def test_token_spans_cover_the_number_as_written():
    text = normalize("الكريات البيض 15٬000/مم³")
    (token,) = read(text, arabic=True)
    assert text[token.start : token.end] == "15,000"


def test_sentences():
    assert sentences("He is 45. Dr. Smith saw him at 6 p.m. and left. Is it?") == [
        "He is 45.",
        "Dr. Smith saw him at 6 p.m. and left.",
        "Is it?",
    ]
    assert sentences(normalize("جاء المريض. هل هو بخير؟ نعم\nA) نعم")) == [
        "جاء المريض.",
        "هل هو بخير؟",
        "نعم",
        "A) نعم",
    ]
    assert sentences("2.5 mg. 150/95") == ["2.5 mg."]


def test_dotted_dates_are_read_part_by_part():
    # Used to recurse forever: several dots and no comma.
    assert [q.value for q in source_quantities("01.04.2000-31.12.2000,")] == ["1", "4", "2000", "31", "12", "2000"]

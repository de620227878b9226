"""Omissions, cut tails, codes, units beyond the clinical lexicon and the negation signal."""

import pytest

from bimed_assets.translation import check_text
from bimed_assets.translation.fidelity import item_signals, text_signals

SOURCE = (
    "The patient was admitted with chest pain that began two days ago. An electrocardiogram showed "
    "changes in the lateral leads. She was started on aspirin and admitted to the cardiology ward for "
    "observation overnight."
)
TARGET = (
    "أُدخلت المريضة بسبب ألم في الصدر بدأ منذ يومين. وأظهر تخطيط كهربية القلب تغيرات في الاتجاهات "
    "الجانبية. وبدأت بتناول الأسبرين وأُدخلت إلى جناح أمراض القلب للمراقبة طوال الليل."
)


def checks(source, target):
    return {f.check for f in check_text(source, target)}


def test_faithful_paragraph_passes():
    assert check_text(SOURCE, TARGET) == []


def test_dropped_sentence_without_numbers():
    dropped = TARGET.replace(" وأظهر تخطيط كهربية القلب تغيرات في الاتجاهات الجانبية.", "")
    assert checks(SOURCE, dropped) & {"sentences", "length"}


def test_cut_tail_without_numbers():
    cut = TARGET[: len(TARGET) * 2 // 3].rsplit(" ", 1)[0]
    assert "length" in checks(SOURCE, cut)


@pytest.mark.parametrize(
    "source, target",
    [
        ("Levels of IL-6 and ACE2 were high.", "كانت مستويات IL-7 و ACE2 مرتفعة."),
        ("The H1N1 strain spread widely.", "انتشرت سلالة H1N2 على نطاق واسع."),
        ("His CD4 count fell.", "انخفض عدد خلايا CD8 لديه."),
    ],
)
def test_number_changed_inside_a_code(source, target):
    assert "codes" in checks(source, target)


@pytest.mark.parametrize(
    "source, target",
    [
        ("More than 300,000 people live there.", "يعيش هناك أكثر من 300 ألف شخص."),
        ("With 77,000 views.", "ومن خلال 77.000 مشاهدة."),
        ("It happened in the 1980s.", "حدث ذلك في ثمانينيات القرن العشرين."),
        ("The Nov. 6 U.S. elections.", "انتخابات 6 نوفمبر الأمريكية."),
        ("It sold for £125m.", "بيعت مقابل 125 مليون جنيه إسترليني."),
        ("Thirty-two percent agreed.", "وافق 32٪ذلك."),
        ("Waves of up to 10 meters.", "أمواج يصل ارتفاعها إلى 10 م."),
        ("Waves of up to 10 meters.", "أمواج بارتفاع 10 من الأمتار."),
        ("He arrived at 7.55am.", "وصل في الساعة 7.55 صباحًا."),
        ("He arrived at 04:00.", "وصل في الساعة 4."),
        ("ranked one and three", "يحتلان الترتيب الأول والثالث"),
        ("It stretches over 300 km.", "يمتد على مسافة 300 كيلومتر."),
    ],
)
def test_real_translations_read_right(source, target):
    assert check_text(source, target) == []


def test_range_in_words_is_two_numbers():
    assert "numbers" in checks("between 4 and 6 tablets, 10 in total", "بين أربعة وستة أقراص، وعشرون إجمالًا")
    assert check_text("between 4 and 6 tablets", "بين أربعة وستة أقراص") == []


@pytest.mark.parametrize(
    "source, target",
    [
        ("The tower is 300 feet tall.", "يبلغ ارتفاع البرج 300 متر."),
        ("It drove at 60 mph.", "سار بسرعة 60 كيلومترًا في الساعة."),
        ("They shipped 5 tonnes.", "شحنوا 5 كيلوغرامات."),
        ("A 20 km walk.", "مسيرة 20 ميلًا."),
    ],
)
def test_general_units_are_compared(source, target):
    assert "units" in checks(source, target)


def test_negation_is_a_signal_not_a_failure():
    source, target = "You should not stop the drug.", "ينبغي أن تتوقف عن الدواء."
    assert check_text(source, target) == []
    assert [s.name for s in text_signals(source, target)] == ["negation"]
    assert [s.name for s in text_signals("You should stop the drug.", "لا ينبغي أن تتوقف عن الدواء.")] == [
        "negation"
    ]
    # Lexical negation: "abnormal" is "غير طبيعي", "painless" "غير مؤلم".
    assert text_signals("The result is abnormal.", "النتيجة غير طبيعية.") == []
    assert text_signals("The lump was painless.", "كانت الكتلة غير مؤلمة.") == []
    assert text_signals("Do not take it without food.", "لا تتناوله بدون طعام.") == []


def test_item_signals_name_their_field():
    source = {"question": "Which drug should not be given?", "options": {"A": "Aspirin", "B": "Heparin"}}
    target = {"question": "أي دواء يجب إعطاؤه؟", "options": {"A": "الأسبرين", "B": "الهيبارين"}}
    signals = item_signals(source, target)
    assert [(s.name, s.field) for s in signals] == [("negation", "question")]
    chat = [{"role": "user", "content": "I never smoked."}]
    assert [s.field for s in item_signals(chat, [{"role": "user", "content": "دخنت."}])] == ["[0]"]

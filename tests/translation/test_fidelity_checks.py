"""Each fidelity check on hand-written pairs: what it must flag, word for word, and what it must let pass."""

import pytest

from bimed_assets.translation import Failure, check_item, check_text, feedback
from bimed_assets.translation.fidelity import text_signals

VIGNETTE = (
    "A 45-year-old man presents with chest pain for three days. His blood pressure is 150/95 mmHg and his "
    "HbA1c is 8.2%. He was started on metformin 500 mg twice daily. Which of the following is the most likely "
    "diagnosis?"
)
TRANSLATION = (
    "رجل يبلغ من العمر ٤٥ عامًا يشكو من ألم في الصدر منذ ثلاثة أيام. ضغط دمه 150/95 ملم زئبق، ونسبة "
    "HbA1c لديه ٨٫٢٪. بُدئ علاجه بالميتفورمين 500 ملغ مرتين يوميًا. ما التشخيص الأرجح؟"
)


def details(failures: list[Failure]) -> list[tuple[str, str]]:
    return [(f.check, f.detail) for f in failures]


def test_a_faithful_translation_passes():
    assert check_text(VIGNETTE, TRANSLATION) == []


# --- numbers and units ---------------------------------------------------------------------------


def test_changed_dose_is_a_missing_number():
    bad = TRANSLATION.replace("500 ملغ", "50 ملغ")
    assert details(check_text(VIGNETTE, bad)) == [
        ("numbers", "number 500 (in 'metformin 500 mg') missing from the translation")
    ]


def test_decimal_dose_error():
    assert details(check_text("Give warfarin 2.5 mg.", "أعطِ الوارفارين 25 ملغ.")) == [
        ("numbers", "number 2.5 (in 'warfarin 2.5 mg') missing from the translation")
    ]


def test_number_written_in_words_in_either_language():
    assert details(check_text(VIGNETTE, TRANSLATION.replace("ثلاثة أيام", "أربعة أيام"))) == [
        ("numbers", "number 3 (in 'for three days') missing from the translation")
    ]
    assert check_text("Take 2 tablets for 5 days.", "تناول قرصين لمدة خمسة أيام.") == []


def test_repeated_number_counts_as_a_multiset():
    assert details(check_text("Give 5 mg, then 5 mg.", "أعطِ 5 ملغ، ثم 50 ملغ.")) == [
        ("numbers", "number 5 appears 2 times in the source but 1 in the translation (in 'Give 5 mg')")
    ]


def test_changed_unit():
    bad = TRANSLATION.replace("500 ملغ", "500 ميكروغرام")
    assert details(check_text(VIGNETTE, bad)) == [
        ("units", "500 mg (in 'metformin 500 mg') appears as 500 mcg in the translation")
    ]
    assert details(check_text("glucose 126 mg/dL", "الغلوكوز 126 مليمول/لتر")) == [
        ("units", "126 mg/dL (in 'glucose 126 mg/dL') appears as 126 mmol/L in the translation")
    ]
    assert details(check_text("a temperature of 38.5°C", "حرارة 38.5 درجة فهرنهايت")) == [
        ("units", "38.5 °C (in 'of 38.5°C') appears as 38.5 °F in the translation")
    ]


def test_dropped_strict_unit():
    assert details(check_text("Give metformin 500 mg daily.", "أعطِ الميتفورمين 500 يوميًا.")) == [
        ("units", "unit mg after 500 (in 'metformin 500 mg') missing from the translation")
    ]


def test_time_units_are_only_compared_when_written():
    assert check_text("He is 45 years old.", "عمره 45.") == []
    assert details(check_text("fever for 3 days", "حمى منذ 3 أسابيع")) == [
        ("units", "3 day (in 'for 3 days') appears as 3 week in the translation")
    ]


@pytest.mark.parametrize(
    "arabic",
    [
        "500 ملغ",
        "500 ملغم",
        "500 مغ",
        "500 ملجم",
        "500 ميليغرام",
        "500 ملليغرامًا",
        "500 mg",
        "٥٠٠ ملغ",
        "۵۰۰ mg",
        "بـ500 ملغ",
    ],
)
def test_unit_aliases(arabic):
    assert check_text("metformin 500 mg", f"ميتفورمين {arabic}") == []


def test_reformatted_numbers():
    assert check_text("WBC 15,000/mm3", "الكريات البيض ١٥٬٠٠٠/مم³") == []
    assert check_text("WBC 15,000/mm3", "الكريات البيض 15000/ملم3") == []
    assert check_text("digoxin 0.5 to 2.0 ng/mL", "الديجوكسين بين 0،5 و2،0 نانوغرام/مل") == []
    assert check_text("at 08:00", "في الساعة ٨:٠٠") == []


def test_numbers_inside_names_are_not_required():
    assert (
        check_text("HbA1c and vitamin B12 were normal.", "كان الهيموغلوبين السكري وفيتامين ب طبيعيين.") == []
    )
    assert check_text("type 2 diabetes", "داء السكري من النوع الثاني") == []


# --- option letters ------------------------------------------------------------------------------

MCQA = {
    "question": "Which drug is an angiotensin II receptor blocker?",
    "options": {"A": "Lisinopril", "B": "Losartan", "C": "Aliskiren 150 mg", "D": "Spironolactone"},
    "answer": "B",
}
MCQA_AR = {
    "question": "أيّ الأدوية التالية حاصر لمستقبلات الأنجيوتنسين II؟",
    "options": {"A": "ليسينوبريل", "B": "لوسارتان", "C": "أليسكيرين 150 ملغ", "D": "سبيرونولاكتون"},
    "answer": "B",
}


def test_structured_mcqa_passes():
    assert check_item(MCQA, MCQA_AR) == []


def test_missing_and_extra_option():
    target = {**MCQA_AR, "options": {k: v for k, v in MCQA_AR["options"].items() if k != "C"}}
    assert details(check_item(MCQA, target)) == [("options", "option C missing")]
    target = {**MCQA_AR, "options": {**MCQA_AR["options"], "E": "أملوديبين"}}
    assert details(check_item(MCQA, target)) == [("options", "option E added (not in the source)")]


def test_swapped_options_by_numbers_and_by_transliterated_names():
    o = MCQA_AR["options"]
    by_number = {**MCQA_AR, "options": {**o, "B": o["C"], "C": o["B"]}}
    failures = check_item(MCQA, by_number)
    assert ("options", "options B and C look swapped (the translation of B sits under C)") in details(
        failures
    )
    by_name = {**MCQA_AR, "options": {**o, "A": o["D"], "D": o["A"]}}
    assert details(check_item(MCQA, by_name)) == [
        ("options", "options A and D look swapped (the translation of A sits under D)")
    ]


def test_swapped_options_by_length():
    source = {"options": {"A": "Anemia", "B": "Anemia of chronic disease with functional iron deficiency"}}
    target = {"options": {"A": "فقر الدم", "B": "فقر الدم المصاحب للأمراض المزمنة مع عوز الحديد الوظيفي"}}
    assert check_item(source, target) == []
    swapped = {"options": {"A": target["options"]["B"], "B": target["options"]["A"]}}
    # An option of 30 letters or more is judged when too short (not when long: short options are often
    # rendered as definitions), so B is also too short for its source.
    assert details(check_item(source, swapped)) == [
        ("length", ("the translation is 0.1× the length of the source, shorter than translations of this "
                    "length ever are")),
        ("options", "options A and B look swapped (the translation of A sits under B)"),
    ]


def test_swap_of_translated_look_alike_options_is_not_detectable():
    source = {"options": {"A": "Primary hypothyroidism", "B": "Secondary hypothyroidism"}}
    target = {"options": {"A": "قصور الدرق الثانوي", "B": "قصور الدرق الأولي"}}
    assert check_item(source, target) == []


def test_inline_option_markers():
    source = "Which vitamin prevents scurvy?\nA. Vitamin A\nB. Vitamin C\nC. Vitamin D"
    assert check_text(source, "أي فيتامين يقي من الإسقربوط؟\nأ. فيتامين A\nب. فيتامين C\nج. فيتامين D") == []
    assert check_text(source, "أي فيتامين يقي من الإسقربوط؟\nA) فيتامين A\nB) فيتامين C\nC) فيتامين D") == []
    # The line's loss also shows as a missing sentence.
    assert ("options", "option B missing") in details(
        check_text(source, "أي فيتامين يقي من الإسقربوط؟\nA) فيتامين A\nC) فيتامين D")
    )


def test_answer_letter_is_copied():
    assert details(check_item(MCQA, {**MCQA_AR, "answer": "C"})) == [
        ("structure", "answer letter B became 'C'")
    ]


# --- untranslated English ------------------------------------------------------------------------


def test_english_sentence_left_untranslated():
    bad = TRANSLATION.replace("ما التشخيص الأرجح؟", "Which of the following is the most likely diagnosis?")
    assert details(check_text(VIGNETTE, bad)) == [
        ("untranslated", "untranslated English: 'Which of the following is the most likely diagnosis'")
    ]
    assert details(check_text("She is afebrile. He is well.", "She is afebrile. وهو بخير.")) == [
        ("untranslated", "untranslated English: 'She is afebrile'")
    ]


@pytest.mark.parametrize(
    "target",
    [
        "نمت في مزارع الدم المكورات العنقودية الذهبية (Staphylococcus aureus) الحساسة للميثيسيلين.",
        "مراكز مكافحة الأمراض والوقاية منها (Centers for Disease Control and Prevention).",
        "أظهر تخطيط كهربية القلب (ECG) ارتفاع ST، وكانت نسبة HbA1c \u200f8.2% وSARS-CoV-2 سلبيًا.",
        "رباعية فالو (Tetralogy of Fallot) هي السبب.",
        "مطهر اليدين من purell",
    ],
)
def test_latin_names_abbreviations_and_glosses_are_allowed(target):
    assert [f for f in check_text("x", target) if f.check == "untranslated"] == []


# --- Arabic script -------------------------------------------------------------------------------


def test_latin_only_output():
    assert details(check_text("Iron deficiency anemia", "Iron deficiency anemia")) == [
        ("script", "the translation is not in Arabic (0% of its letters are Arabic)"),
        ("untranslated", "untranslated English: 'Iron deficiency anemia'"),
    ]


def test_codes_and_taxa_may_stay_in_latin():
    assert check_text("COVID-19", "COVID-19") == []
    assert check_text("CDC", "CDC") == []
    assert check_text("Neisseria meningitidis", "Neisseria meningitidis") == []
    assert check_text("HbA1c 8.2%, LDL 160 mg/dL", "HbA1c \u200f8.2%، وLDL \u200f160 mg/dL") == []


# --- sentences and length ------------------------------------------------------------------------


def test_dropped_sentence():
    bad = TRANSLATION.replace(" بُدئ علاجه بالميتفورمين 500 ملغ مرتين يوميًا.", "")
    assert ("numbers", "number 500 (in 'metformin 500 mg') missing from the translation") in details(
        check_text(VIGNETTE, bad)
    )
    source = (
        "The patient denies chest pain and shortness of breath. She has no history of smoking or alcohol "
        "use. Her mother had breast cancer at a young age."
    )
    target = "تنفي المريضة الشعور بألم في الصدر أو ضيق في التنفس. ولا توجد لديها سوابق تدخين أو تعاطي للكحول."
    assert details(check_text(source, target)) == [
        (
            "sentences",
            ("3 sentences in the source, 2 in the translation, which is 66% of the source's length: a sentence "
            "seems missing ('Her mother had breast cancer at a young age.')"),
        )
    ]


def test_merged_sentences_pass():
    source = "Yes. Ibuprofen passes into breast milk only in very small amounts and is considered safe."
    target = "نعم، فالإيبوبروفين لا ينتقل إلى حليب الثدي إلا بكميات ضئيلة جدًا، ويُعد آمنًا."
    assert check_text(source, target) == []


def test_dropped_question():
    bad = TRANSLATION.replace(" ما التشخيص الأرجح؟", "")
    assert ("sentences", "1 questions in the source, 0 in the translation") in details(
        check_text(VIGNETTE, bad)
    )


def test_a_percent_sign_typed_before_its_number():
    source = "HbA1c fell below 7% in 45% of patients."
    assert check_text(source, "انخفض HbA1c إلى أقل من %7 لدى ٪٤٥ من المرضى.") == []
    assert "numbers" in {f.check for f in check_text(source, "انخفض HbA1c إلى أقل من %7 لدى ٪٥٤ من المرضى.")}
    assert "units" in {f.check for f in check_text(source, "انخفض HbA1c إلى أقل من 7 لدى ٪٤٥ من المرضى.")}


def test_two_written_as_a_dual():
    source = "A 2-fold rise in troponin was seen in 2 patients."
    assert check_text(source, "لوحظ ارتفاع التروبونين بمقدار ضعفين لدى مريضين.") == []
    assert "numbers" in {f.check for f in check_text(source, "لوحظ ارتفاع التروبونين بمقدار ضعفين لدى 3 مرضى.")}


def test_a_query_sign_before_a_word_is_no_question():
    # Clinical shorthand: "?consolidation" is "suspected consolidation", "(?)" an uncertain reading.
    source = "CXR showed ?consolidation in the right lower lobe (?aspiration)."
    faithful = "أظهرت صورة الصدر اشتباهًا بتكثف في الفص السفلي الأيمن (يُحتمل أنه استنشاقي)."
    assert check_text(source, faithful) == []
    source = "Is ?pneumonia the likeliest diagnosis here? Start antibiotics now."
    statement = "الاشتباه بالالتهاب الرئوي هو التشخيص الأرجح هنا. ابدأ المضادات الحيوية الآن."
    signals = [(s.name, s.detail) for s in text_signals(source, statement)]
    assert signals == [("questions", "1 questions in the source, 0 in the translation")]


def test_a_question_rendered_as_a_statement_is_a_signal():
    # A rhetorical question a translator turns into a statement keeps its length: the judge verifies it.
    source = "Why does this matter? Because the dose must be halved in kidney failure."
    statement = "ولهذا الأمر أهمية كبيرة. إذ يجب خفض الجرعة إلى النصف في حالات الفشل الكلوي."
    assert check_text(source, statement) == []
    assert [s.name for s in text_signals(source, statement)] == ["questions"]
    # The question left out shortens the translation: a failure.
    dropped = "يجب خفض الجرعة إلى النصف في حالات الفشل الكلوي."
    assert ("sentences", "1 questions in the source, 0 in the translation") in details(check_text(source, dropped))


def test_added_sentences_are_a_signal():
    # An addition is none of the omissions and changes the checks must catch, and a faithful translation that
    # explains a name can look added: the judge and the reviewer verify it.
    source = "Rest at home and drink plenty of fluids. Take paracetamol if you have a fever."
    faithful = "استرح في المنزل واشرب الكثير من السوائل. وتناول الباراسيتامول إذا أصبت بالحمى."
    assert check_text(source, faithful) == [] and text_signals(source, faithful) == []
    added = faithful + " وإذا استمرت الأعراض أسبوعًا فراجع الطبيب لإجراء صورة شعاعية للصدر."
    assert check_text(source, added) == []
    assert [(s.name, s.detail) for s in text_signals(source, added)] == [
        ("additions", ("2 sentences in the source, 3 in the translation, which is 1.9× the source's length: a "
                       "sentence seems added"))
    ]
    padded = (
        added + " واحرص على النوم الكافي وتجنّب الإجهاد وممارسة الرياضة العنيفة حتى تتعافى تمامًا من المرض."
    )
    assert check_text(source, padded) == []
    assert [(s.name, s.detail) for s in text_signals(source, padded)] == [
        ("additions", ("the translation is 3.1× the length of the source, longer than translations of this "
                       "length ever are"))
    ]


def test_terms_are_not_judged_by_length():
    assert check_text("CDC", "مركز مكافحة الأمراض والوقاية منها (CDC)") == []


# --- structure -----------------------------------------------------------------------------------

CHAT = {
    "turns": [
        {"role": "patient", "content": "I have had a headache for 3 days."},
        {"role": "doctor", "content": "Please measure your blood pressure twice a day."},
    ]
}
CHAT_AR = {
    "turns": [
        {"role": "patient", "content": "أعاني من صداع منذ 3 أيام."},
        {"role": "doctor", "content": "يُرجى قياس ضغط دمك مرتين يوميًا."},
    ]
}


def test_chat_turns():
    assert check_item(CHAT, CHAT_AR) == []
    swapped_roles = {"turns": [CHAT_AR["turns"][1], CHAT_AR["turns"][0]]}
    assert details(check_item(CHAT, swapped_roles))[:1] == [
        ("structure", "role 'patient' in the source, 'doctor' in the translation")
    ]
    short = {"turns": CHAT_AR["turns"][:1]}
    assert details(check_item(CHAT, short)) == [
        ("structure", "2 entries in the source, 1 in the translation")
    ]
    changed = {"turns": [{"role": "patient", "content": "أعاني من صداع منذ 4 أيام."}, CHAT_AR["turns"][1]]}
    (failure,) = check_item(CHAT, changed)
    assert failure.field == "turns[0]" and failure.check == "numbers"


def test_field_paths_and_missing_fields():
    source = {"question": "Which dose?", "options": {"A": "5 mg", "B": "10 mg"}, "explanation": "It is 5 mg."}
    target = {"question": "أي جرعة؟", "options": {"A": "5 ملغ", "B": "100 ملغ"}}
    failures = check_item(source, target)
    assert [(f.check, f.field) for f in failures] == [("structure", "explanation"), ("numbers", "options.B")]
    assert feedback(failures) == (
        "- explanation: field missing from the translation\n"
        "- options.B: number 10 (in '10 mg') missing from the translation"
    )


def test_empty_translation():
    assert details(check_text("Take 5 mg.", "  ")) == [("structure", "the translation is empty")]

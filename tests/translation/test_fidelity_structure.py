"""Omissions, cut tails, codes, units beyond the clinical lexicon and the negation signal."""

import json
from pathlib import Path

import pytest

from bimed_assets.translation import check_item, check_text
from bimed_assets.translation.fidelity import item_signals, text_signals
from bimed_assets.translation.structure import NAME_SKELETON, _transliterations
from bimed_assets.translation.text import ARABIC_WORD, LATIN_WORD, _one_edit, normalize, skeleton

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


def test_an_addition_is_a_signal_where_the_field_is_long_enough_to_tell():
    # A short option explained at length is common ("CDC" → "مراكز مكافحة الأمراض والوقاية منها"); an answer with
    # a sentence more is shown to the judge, and neither fails the item.
    source = {"options": {"A": "CDC", "B": "WHO"}, "answer": "Rest at home and drink plenty of fluids."}
    target = {"options": {"A": "مراكز مكافحة الأمراض والوقاية منها في الولايات المتحدة", "B": "منظمة الصحة العالمية"},
              "answer": "استرح في المنزل واشرب الكثير من السوائل. وإذا استمرت الحمى أسبوعًا فراجع الطبيب فورًا."}
    assert check_item(source, target) == []
    assert [(s.name, s.field) for s in item_signals(source, target)] == [("additions", "answer")]


# --- sentence alignment ----------------------------------------------------------------------------


def test_a_dropped_short_sentence_is_named():
    source = ("The patient was admitted with chest pain. She smokes. An electrocardiogram showed changes in the "
              "lateral leads.")
    target = "أُدخلت المريضة بسبب ألم في الصدر. وأظهر تخطيط كهربية القلب تغيرات في الاتجاهات الجانبية."
    (failure,) = check_text(source, target)
    assert failure.check == "sentences" and failure.detail.endswith("a sentence seems missing ('She smokes.')")


def test_sentences_merged_or_unmarked_pass():
    # Two sentences joined by "، و" (a merge); three whose translation leaves one sentence end unmarked.
    assert check_text("My daughter has had diarrhea 6 times today and vomited twice. She is still drinking a little.",
                      "ابنتي أصيبت بالإسهال 6 مرات اليوم وتقيأت مرتين، ولا تزال تشرب قليلًا.") == []
    assert check_text(
        "The earthquake struck the island before dawn on Friday. Thousands of people spent the night outside their "
        "homes. Rescue teams reached the northern villages by the afternoon.",
        "ضرب الزلزال العنيف الجزيرة قبل فجر يوم الجمعة الماضي وقد قضى آلاف الأشخاص من سكان الجزيرة ليلتهم كلها "
        "خارج منازلهم. ووصلت فرق الإنقاذ إلى القرى الواقعة في الشمال بحلول فترة ما بعد الظهر.") == []


# A medical paragraph whose translation runs its sentences together the way Arabic writers often do: no mark
# between two of them, the next opening with a conjunction and a particle ("وقد", "وفي", "كما").
RUN_ON_SOURCE = (
    "The patient was given intravenous fluids in the emergency department. Her blood pressure improved within "
    "an hour. In the evening she was transferred to the medical ward for further observation. The family was "
    "told that she could go home in the morning."
)
RUN_ON_TARGET = (
    "أُعطيت المريضة سوائل عن طريق الوريد في قسم الطوارئ وقد تحسّن ضغط الدم لديها في غضون ساعة واحدة وفي "
    "المساء نُقلت إلى جناح الأمراض الباطنية لإبقائها تحت المراقبة. كما أُبلغت عائلتها بأنها تستطيع العودة إلى "
    "منزلها صباح اليوم التالي."
)


def test_a_complete_run_on_translation_passes():
    assert check_text(RUN_ON_SOURCE, RUN_ON_TARGET) == []


def test_a_short_sentence_dropped_from_a_run_on_translation_is_caught():
    dropped = RUN_ON_TARGET.replace(" وقد تحسّن ضغط الدم لديها في غضون ساعة واحدة", "")
    assert "sentences" in checks(RUN_ON_SOURCE, dropped)


def test_a_word_starting_with_the_root_letter_waw_is_no_clause_opener():
    # "وفاته" (his death) and "وباء" (an epidemic) begin with و as a root letter, not the conjunction: no
    # sentence may end before them for free.
    from bimed_assets.translation.structure import _JOIN, _NONE, _pieces

    assert [kind for _, kind, *_ in _pieces("ترك عمله قبل وفاته بسبب وباء الكوليرا")] == [_NONE]
    assert [kind for _, kind, *_ in _pieces("ترك عمله قبل وفاته وقد انتشر الوباء")] == [_JOIN, _NONE]


ANCHORED_SOURCE = ("A nurse gave her paracetamol for the fever. She slept through most of the night. "
                   "At 6am on Tuesday her temperature was 37.2 degrees and she was eating again.")
ANCHORED_TARGET = ("أعطتها الممرضة الباراسيتامول لعلاج الحمى. ونامت معظم الليل. وبحلول الساعة 6 من صباح يوم "
                   "الثلاثاء، كانت حرارتها 37.2 درجة وعادت إلى تناول الطعام.")


def test_pieces_are_owned_by_the_sentence_whose_marks_they_hold():
    from bimed_assets.translation.structure import _own_marks, _owners, _pieces
    from bimed_assets.translation.text import normalize, sentences

    owners = _owners(_own_marks(sentences(normalize(ANCHORED_SOURCE))),
                     [piece[3] for piece in _pieces(normalize(ANCHORED_TARGET))])
    # The name transliterated, nothing, the hour (6), the temperature (37.2).
    assert owners == [{0}, set(), {2}, {2}]
    assert check_text(ANCHORED_SOURCE, ANCHORED_TARGET) == []
    assert "sentences" in checks(ANCHORED_SOURCE, ANCHORED_TARGET.replace(" ونامت معظم الليل.", ""))


def test_a_piece_holding_another_sentences_number_does_not_stand_in_for_a_dropped_one():
    # Lengths of a short sentence dropped before one that opens with a clause holding its own number
    # ("... عينيها. وبحلول الساعة 2 مساءً، ..."): by length alone that clause could be the dropped sentence.
    from bimed_assets.translation.structure import _CLAUSE, _END, _NONE, _align

    pieces = [(42, _END, False, ""), (17, _CLAUSE, False, ""), (57, _NONE, False, "")]
    nobody, third = frozenset(), frozenset({2})
    assert _align([31, 27, 62], pieces, [True] * 3, [False] * 3, [nobody] * 3)[0] is None
    assert _align([31, 27, 62], pieces, [True] * 3, [False] * 3, [nobody, third, nobody])[0] == 1


def test_a_list_is_aligned_line_by_line():
    source = ("The most frequent reactions are listed below.\n\nBody as a Whole\nasthenia (weakness), edema, headache\n\n"
              "Digestive\nabdominal pain, anorexia, biliary tract spasm, constipation, dry mouth, glossitis\n\n"
              "Special Senses\nhallucinations, visual disturbances")
    target = ("التفاعلات الأكثر تكرارًا مذكورة أدناه.\n\nالجسم ككل\nالوهن (الضعف)، الوذمة، الصداع\n\n"
              "الجهاز الهضمي\nألم البطن، القهم، تشنج القناة الصفراوية، الإمساك، جفاف الفم، التهاب اللسان\n\n"
              "الحواس الخاصة\nالهلوسة، الاضطرابات البصرية")
    assert check_text(source, target) == []
    assert "sentences" in checks(source, target.replace("الجهاز الهضمي\n", ""))


def test_a_question_may_be_much_shorter_in_arabic():
    source = ("A 60-year-old woman has had a dry cough for two months since starting a new blood pressure drug. "
              "Which of the following is the most likely cause?")
    target = "امرأة تبلغ من العمر 60 عامًا تعاني من سعال جاف منذ شهرين منذ أن بدأت دواءً جديدًا لضغط الدم. ما السبب الأرجح؟"
    assert check_text(source, target) == []


def test_a_sentence_whose_name_the_translation_keeps_is_not_missing():
    source = "It is best to avoid ibuprofen. Paracetamol is a safer choice for the pain in most patients."
    target = "من الأفضل تجنّب الإيبوبروفين، فالباراسيتامول خيار أكثر أمانًا لمعظم المرضى."
    assert check_text(source, target) == []


@pytest.mark.parametrize(
    "text, count",
    [
        ("However, U.S. Secretary Pompeo told the U.N. Security Council that it must go on.", 1),
        ('"Dr. Ford, I don\'t know what happened," Graham said.', 1),
        ("They are very inquisitive ... They aren't out to hurt you.", 1),
        ("He left. She stayed.", 2),
    ],
)
def test_abbreviations_and_ellipses_do_not_end_sentences(text, count):
    from bimed_assets.translation.text import sentences

    assert len(sentences(text)) == count


def test_a_translation_ending_on_a_preposition_was_cut():
    assert [f.check for f in check_text("Iron deficiency anemia", "فقر الدم الناجم عن")] == ["length"]
    assert check_text("Iron deficiency anemia", "فقر الدم الناجم عن عوز الحديد") == []
    assert check_text("What is it caused by", "ما الذي يسببه") == []


def test_a_translation_ending_on_an_acronym_or_name_spelled_in_arabic_is_complete():
    # "في" is also the letter V, "إن" the letter N, "بين" the name Bean: the source ends on them.
    assert check_text("Many of these patients are living with HIV", "يعيش كثير من هؤلاء المرضى مع إتش آي في") == []
    assert check_text("He was interviewed live on CNN", "أُجريت معه مقابلة مباشرة على سي إن إن") == []
    assert check_text("She played opposite Mr Bean", "أدت دورًا أمام مستر بين") == []
    # The same words cut off a phrase where the source's last token is not spelled by them.
    cut = "يعيش كثير من هؤلاء المرضى مع إتش آي في"
    assert "length" in checks("Many of these patients are living with HIV in rural Africa", cut)
    assert "length" in checks("He was interviewed live on CNN", "أُجريت معه مقابلة مباشرة في")


def test_a_short_question_that_lost_its_question_mark():
    assert "sentences" in checks("How long will I need to take it?", "كم من الوقت سأحتاج")


# --- numbers the lenient reading could hide -------------------------------------------------------


def test_a_changed_digit_is_not_hidden_by_a_number_word():
    source = "Chelsea led 1-0 at halftime after a score in the 25th minute."
    assert check_text(source, "تقدم تشيلسي 1-0 في الشوط الأول بعد هدف في الدقيقة 25.") == []
    (failure,) = check_text(source, "تقدم تشيلسي 2-0 في الشوط الأول بعد هدف في الدقيقة 25.")
    assert failure.detail == "number 2 in the translation is not in the source, which has 1 in digits"
    # Digits of names are no stray numbers: "T4", "FEV1".
    assert check_text("His FEV1 is 82% and free T4 is 3.8.", "يبلغ FEV1 لديه 82% وT4 الحر 3.8.") == []


@pytest.mark.parametrize(
    "source, target",
    [
        ("the 1950-53 Korean War", "الحرب الكورية التي استمرت من 1950 وحتى 1953"),
        ("the 1950-53 Korean War", "الحرب الكورية 1950-53"),
        ("call Samaritans free on 116 123", "اتصل بالسامريين مجانًا على الرقم 116123"),
    ],
)
def test_year_ranges_and_phone_numbers_read_right(source, target):
    assert check_text(source, target) == []


def test_a_changed_year_range_or_phone_number_is_caught():
    assert "numbers" in checks("the 1950-53 Korean War", "الحرب الكورية التي استمرت من 1950 وحتى 1954")
    assert "numbers" in checks("call Samaritans free on 116 123", "اتصل بالسامريين مجانًا على الرقم 116124")


def test_a_name_or_title_kept_in_latin_letters_is_not_untranslated():
    assert check_text("The parade was led by the Brentwood Imperial Youth Band.",
                      "قادت فرقة the Brentwood Imperial Youth Band الاستعراض.") == []
    assert "untranslated" in checks("The parade was led by the band.", "قادت the band was leading الاستعراض.")


# --- the negation signal reaches the judge --------------------------------------------------------


def test_signals_are_given_to_the_judge():
    from bimed_assets.translation import prompts
    from bimed_assets.translation.scoring import fidelity_signals

    doc = {"question": "Which drug should not be given?", "answer": "Heparin."}
    translation = {"question": "أي دواء يجب إعطاؤه؟", "answer": "الهيبارين."}
    signals = fidelity_signals(doc, translation)
    assert signals == [("negation: question: the source negates (not, no, never, without…) but the translation "
                        "has no negation")]
    with_signals = prompts.judge("q1", doc, translation, 1, signals).messages[-1]["content"]
    assert prompts.SIGNALS_NOTE in with_signals and f"- {signals[0]}" in with_signals
    plain = prompts.judge("q1", doc, translation, 1).messages[-1]["content"]
    assert prompts.SIGNALS_NOTE not in plain and with_signals.startswith(plain)



def test_a_short_drug_name_found_exactly_places_its_sentence_but_a_near_match_does_not():
    from bimed_assets.translation.structure import _transliterations

    assert _transliterations(["morphine"], ["المورفين"])  # four consonants (m-r-f-n), found as they are
    # m-r-f-q: one edit away, but an ordinary word ("the attachment")
    assert not _transliterations(["morphine"], ["المرفق"])


def test_a_quotation_closed_without_a_period_may_end_its_sentence():
    source = ('The nurse wrote that he was "calm, alert and fully oriented." His breathing, however, was still '
              'laboured. "I feel much better than I did this morning," he told the team.')
    # Compact, and its first sentence ends at the closing mark with no period: three sentences, not two.
    faithful = ('كتبت الممرضة أنه كان "هادئًا ويقظًا وواعيًا تمامًا" غير أن تنفسه كان لا يزال مجهدًا. '
                'وقال للفريق: "أنا أفضل من الصباح".')
    assert check_text(source, faithful) == []
    dropped = 'كتبت الممرضة أنه كان "هادئًا ويقظًا وواعيًا تمامًا". وقال للفريق: "أنا أفضل من الصباح".'
    assert checks(source, dropped) & {"sentences", "length"}
    # A quote closed in mid-sentence stands for no sentence end where the source ended none inside quotes.
    source = "The patient said the pain was sharp. It began after the fall. He has no other complaints."
    dropped = 'قال المريض إن الألم "حاد" وبدأ بعد السقوط.'
    assert checks(source, dropped) & {"sentences", "length"}


def test_transliterations_by_key_sets_match_the_plain_definition_on_every_pair():
    """The keys (``structure._name_keys`` and ``_word_keys``) meet exactly where a name's skeleton and a word's are
    equal (four letters or more) or one edit apart (the name's five or more): checked pair by pair on the fixtures'
    English names and Arabic words."""
    names, words = set(), set()
    for line in (Path(__file__).parent / "data" / "faithful_en_ar.jsonl").read_text().splitlines():
        item = json.loads(line)
        names |= {w for w in LATIN_WORD.findall(json.dumps(item["source"])) if len(w) >= 5}
        words |= set(ARABIC_WORD.findall(normalize(json.dumps(item["target"], ensure_ascii=False))))
    names |= {"morphine", "metformin", "Merriweather"}
    assert len(names) > 100 and len(words) > 500

    def plain(name: str, word: str) -> bool:
        e = skeleton(name, arabic=False)
        forms = [word, word[2:]] if word.startswith("ال") else [word]
        return any(len(a := skeleton(form, arabic=True)) >= 4 and len(e) >= 4
                   and (a == e or len(e) >= NAME_SKELETON and _one_edit(a, e)) for form in forms)

    found = _transliterations(names, words)
    expected = {name: {w for w in words if plain(name, w)} for name in names}
    assert {n: ws for n, ws in found.items() if ws} == {n: ws for n, ws in expected.items() if ws}
    assert sum(map(bool, expected.values())) >= 5  # names that do meet a word

"""Every validation rule of a synthesized chat, each shown to fail on a chat built to break it (no LLM)."""

import pytest

from bimed_assets.chats.validation import ChatRules, validate

ITEM = {
    "id": "mmlu_medical-test",
    "question": ("A 47-year-old man comes to the emergency department because of a 3-day history of increasing "
                 "pain, tenderness, and swelling near the fingernail of his right index finger. There is a "
                 "mildly fluctuant area near the nail edge. Which of the following is the most appropriate "
                 "next step in management?"),
    "options": [{"letter": "A", "text": "Incision and drainage"}, {"letter": "B", "text": "Oral cefazolin therapy"},
                {"letter": "C", "text": "Topical neomycin therapy"}, {"letter": "D", "text": "Warm-water soaks"}],
    "answer_letter": "A",
    "answer_text": "Incision and drainage",
}
OPENING = [
    ("patient", "My finger next to the nail has been swelling up and hurting more every day since Friday."),
    ("doctor", "Did you injure it, and have you had a fever?"),
    ("patient", "No injury, and no fever at all."),
    ("doctor", "Any illnesses or regular medicines?"),
    ("patient", "None, I am healthy."),
]
GOOD_END = ("There is a small collection of pus at the nail fold, an abscess from a paronychia. The treatment is "
            "incision and drainage under a local anaesthetic; after the drainage, warm-water soaks help it heal.")


def chat(*turns):
    return [{"role": role, "content": content} for role, content in turns]


def rules_broken(turns, rules: ChatRules | None = None):
    return sorted({p.rule for p in validate(turns, ITEM, rules or ChatRules())})


def test_a_good_chat_passes():
    assert validate(chat(*OPENING, ("doctor", GOOD_END)), ITEM) == []


@pytest.mark.parametrize("turns", [
    [("doctor", "What brings you in?"), *OPENING[1:], ("doctor", GOOD_END)],  # the doctor opens
    [*OPENING[:2], ("patient", "Also..."), *OPENING[2:], ("doctor", GOOD_END)],  # two patient turns in a row
    [*OPENING, ("doctor", GOOD_END), ("patient", "Thank you.")],  # the patient has the last word
])
def test_roles_must_alternate_from_the_patient_to_the_doctor(turns):
    assert rules_broken(chat(*turns)) == ["roles"]


def test_too_few_turns_and_the_minimum_is_configurable():
    short = chat(OPENING[0], ("doctor", GOOD_END))
    assert rules_broken(short) == ["too_few_turns"]
    assert rules_broken(short, ChatRules(min_turns=2)) == []


def test_an_empty_turn_fails():
    assert rules_broken(chat(OPENING[0], ("doctor", " "), *OPENING[2:], ("doctor", GOOD_END))) == ["empty_turn"]


def test_the_doctor_must_state_the_gold_answer_in_the_last_turn():
    problems = validate(chat(*OPENING, ("doctor", "It is an infection near the nail; I will treat it today.")),
                        ITEM)
    assert [p.rule for p in problems] == ["gold_missing"]
    assert "drainage" in problems[0].detail and "incision" in problems[0].detail
    # Said in an earlier turn only, it does not count: the conclusion is the last turn.
    early = chat(OPENING[0], ("doctor", "Maybe incision and drainage?"), *OPENING[2:],
                 ("doctor", "Let me think about it."))
    assert rules_broken(early) == ["gold_missing"]


def test_concluding_a_wrong_option_fails_unless_negated_or_compared():
    wrong = GOOD_END + " You will also start oral cefazolin therapy tonight."
    problems = validate(chat(*OPENING, ("doctor", wrong)), ITEM)
    assert [p.rule for p in problems] == ["other_option"] and "Oral cefazolin therapy" in problems[0].detail
    negated = GOOD_END + " Oral cefazolin therapy is not needed."
    compared = GOOD_END + " Incision works better here than oral cefazolin therapy."
    assert rules_broken(chat(*OPENING, ("doctor", negated))) == []
    assert rules_broken(chat(*OPENING, ("doctor", compared))) == []


@pytest.mark.parametrize("leak", ["So the answer is A.", "That is option A, incision and drainage.",
                                  "Choice (A) fits.", "Which of the following would you prefer?",
                                  "The correct answer here is clear."])
def test_option_letters_and_exam_wording_leak(leak):
    assert rules_broken(chat(*OPENING, ("doctor", GOOD_END + " " + leak))) == ["answer_leak"]


def test_letters_that_are_not_options_do_not_leak():
    text = GOOD_END + " Your hepatitis A and vitamin B12 results were normal, and a plan A is fine."
    assert rules_broken(chat(*OPENING, ("doctor", text))) == []


def test_copying_a_long_run_of_the_vignette_fails_at_the_configured_length():
    copied = "increasing pain, tenderness, and swelling near the fingernail of his right index"  # 12 words, 13 with "finger"
    turns = chat(("patient", f"I have {copied} finger."), *OPENING[1:], ("doctor", GOOD_END))
    problems = validate(turns, ITEM)
    assert [p.rule for p in problems] == ["copied_vignette"] and "fingernail" in problems[0].detail
    assert rules_broken(turns, ChatRules(copy_ngram=14)) == []
    nine = "pain, tenderness, and swelling near the fingernail of his"  # 9 words: retold, not copied
    assert rules_broken(chat(("patient", f"Sharp {nine} hand."), *OPENING[1:], ("doctor", GOOD_END))) == []

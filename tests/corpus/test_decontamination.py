"""Decontamination: one rule (``dedup.find_contamination``) for the assembly and the ``zero_contamination`` check,
robust to the edits real leaks have, with candidates confirmed by counting shared words exactly."""

from __future__ import annotations

import polars as pl

from bimed_assets.corpus.assemble import assemble, evaluation_questions
from bimed_assets.corpus.checks import contamination
from bimed_assets.corpus.dedup import find_contamination
from bimed_assets.corpus.mix import MixConfig

STEM = "A 54 year old woman with longstanding rheumatoid arthritis develops painless jaundice and pruritus"
OPTIONS = "methotrexate hepatotoxicity | primary biliary cholangitis | choledocholithiasis | pancreatic carcinoma"
EDITS = {
    "verbatim": f"{STEM}\n\nA. {OPTIONS}",
    "case_punctuation": STEM.upper().replace(" ", ", ", 2) + "?!",
    "reordered_options": f"{STEM}\n\n" + " ".join(reversed(OPTIONS.split(" | "))),
    "changed_numbers": STEM.replace("54", "61") + " (dose 250 mg)",
    "dropped_words": STEM.replace("painless ", "").replace("longstanding ", ""),
    "added_words": f"Question: {STEM}. Explain your reasoning step by step.",
    "stem_alone": STEM,
    "with_context": f"Context: a cohort study of hepatic adverse events.\n\n{STEM}",
}
CLEAN = {
    "same_topic": "A woman with rheumatoid arthritis asks which vaccines she needs before starting methotrexate",
    "other": "What is the first line treatment of uncomplicated community acquired pneumonia in adults",
    "long_passage": "Jaundice, pruritus and fatigue are common; " * 3 + "this year old cohort had arthritis",
}


def _evaluation() -> pl.DataFrame:
    return pl.DataFrame({"item_id": ["eval-1", "eval-1", "eval-2"], "text": [
        STEM, f"{STEM} {OPTIONS}", "Which enzyme deficiency causes classic galactosemia in newborns"]})


def test_every_edit_of_a_leak_is_found_and_clean_text_is_not():
    train = pl.DataFrame({"item_id": list(EDITS) + list(CLEAN), "text": list(EDITS.values()) + list(CLEAN.values())})
    found = find_contamination(train, _evaluation())
    assert sorted(found["item_id"]) == sorted(EDITS)
    assert set(found["matched"]) == {"eval-1"}
    assert found.filter(pl.col("item_id") == "verbatim")["contained"].item() == 1.0


def test_assembly_and_check_agree_on_edited_leaks(sample):
    pool, evals = sample["training_pool"], sample["evaluation_sets"].filter(pl.col("task") == "mcqa").head(30)
    kinds = [
        pl.col("question").str.to_uppercase() + " ?!",
        pl.lit("Question: ") + pl.col("question") + " Explain your reasoning.",
        pl.col("question").str.replace_all(r"\d", "7"),
    ]
    leaks = pl.concat([
        evals.slice(10 * k, 10).with_columns(id=pl.lit(f"leak{k}-") + pl.col("id"), split=pl.lit("train"),
                                             is_eval=pl.lit(False), question=edit,
                                             options=pl.col("options").list.reverse())
        for k, edit in enumerate(kinds)
    ])
    result = assemble(pl.concat([pool, leaks]), sample["evaluation_sets"], sample["accepted_translations"],
                      mix=MixConfig(ar_per_en=None))
    assert not result.corpus["provenance"].struct.field("item_id").str.starts_with("leak").any()
    removed = result.removed.filter(pl.col("item_id").str.starts_with("leak") & (pl.col("language") == "en"))
    assert removed.height == 30 and removed["reason"].str.starts_with("contamination").all()
    assert contamination(result.corpus, sample["evaluation_sets"]).passed
    # The check finds them by the same rule when they are left in.
    corpus_with_leaks = assemble(pl.concat([pool, leaks]), sample["evaluation_sets"].head(0),
                                 sample["accepted_translations"], mix=MixConfig(ar_per_en=None)).corpus
    check = contamination(corpus_with_leaks, sample["evaluation_sets"])
    assert not check.passed and check.metadata["contaminated_records"] >= 30


def test_evaluation_questions_are_compared_by_stem_and_with_options(sample):
    questions = evaluation_questions(sample["evaluation_sets"])
    mcqa = sample["evaluation_sets"].filter(pl.col("options").list.len() > 0).height
    assert questions.height == sample["evaluation_sets"]["question"].drop_nulls().len() + mcqa


def test_short_stems_are_found_by_their_run_of_words_and_whole_copies():
    """A stem of mostly common words has too few uncommon ones for the share test: it is found as a run of its
    words in order (one may be missing), or as an exact copy; the same words elsewhere, or scattered, are not."""
    fillers = [f"Which of the following is true of the patient in case {n}" for n in range(30)]
    evaluation = pl.DataFrame({"item_id": [f"f{n}" for n in range(30)] + ["short", "common"],
                               "text": fillers + ["Which of the following is true in uveitis",
                                                  "In the patient which is"]})
    train = pl.DataFrame({"item_id": ["dropped", "exact", "scattered", "elsewhere"], "text": [
        "Question: WHICH, THE FOLLOWING IS TRUE IN UVEITIS?! Explain your reasoning step by step.",
        "In the patient, which is?",
        "Which of the following is true in glaucoma and uveitis is rare in the patient",
        "Uveitis: which of the following drugs is true first line",
    ]})
    found = find_contamination(train, evaluation)
    assert dict(zip(found["item_id"], found["rule"])) == {"dropped": "run", "exact": "exact"}
    assert set(found["matched"]) == {"short", "common"}

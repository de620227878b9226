import json
import shutil
from collections import Counter

import pytest

from bimed_assets.sources import pubmedqa
from bimed_assets.sources.loading import load_files, load_source
from bimed_assets.sources.reading import Native, SourceFileError

SPEC = pubmedqa.SPEC


@pytest.fixture(scope="module")
def real(real_data):
    return load_files(SPEC, real_data / "pubmedqa")  # the folder: LICENSE and SOURCE.md are skipped


def test_real_files_load_every_item(real):
    assert real.read == 1000 and len(real.records) == 1000 and len(real.quarantine) == 0
    assert dict(real.records.group_by("split", "is_eval").len().select("split", "len").iter_rows()) == {
        "test": 500, "train": 500,
    }
    assert real.records.filter(is_eval=True)["split"].unique().to_list() == ["test"]
    assert dict(real.records["answer_text"].value_counts().iter_rows()) == {"yes": 552, "no": 338, "maybe": 110}
    assert real.records["id"].n_unique() == 1000


def test_test_split_is_the_ground_truth(real, real_data):
    truth = json.loads((real_data / "pubmedqa/test_ground_truth.json").read_text())
    test = real.records.filter(split="test")
    assert set(test["id"]) == {f"pubmedqa-{pmid}" for pmid in truth}
    assert dict(zip(test["id"].str.strip_prefix("pubmedqa-"), test["answer_text"], strict=True)) == truth


def test_real_field_spot_checks(real, real_data):
    first = real.records.row(0, named=True)
    assert first["id"] == "pubmedqa-21645374" and first["split"] == "test" and first["is_eval"]
    assert first["origin"] == "ori_pqal.json#21645374"
    assert first["question"] == (
        "Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?"
    )
    assert first["options"] == [
        {"letter": "A", "text": "yes"}, {"letter": "B", "text": "no"}, {"letter": "C", "text": "maybe"},
    ]
    assert (first["answer_letter"], first["answer_text"]) == ("A", "yes")
    assert first["context"].startswith("BACKGROUND: Programmed cell death (PCD) is the regulated death")
    assert "\n\nRESULTS: The following paper elucidates" in first["context"]
    assert "membrane potential (ΔΨm)" in first["context"]
    assert first["explanation"].startswith("Results depicted mitochondrial dynamics in vivo")
    assert json.loads(first["native"])["21645374"]["YEAR"] == "2011"


def test_ground_truth_is_found_beside_a_single_file(real_data):
    result = load_files(SPEC, real_data / "pubmedqa/ori_pqal.json")
    assert len(result.records) == 1000 and result.records["is_eval"].sum() == 500


def test_missing_ground_truth_is_an_error(tmp_path, real_data):
    shutil.copy(real_data / "pubmedqa/ori_pqal.json", tmp_path)
    with pytest.raises(SourceFileError, match="test_ground_truth.json is needed"):
        load_files(SPEC, tmp_path)


def test_bundled_sample_loads_without_drops():
    result = load_files(SPEC)
    assert result.read == len(result.records) == 150
    assert result.records["is_eval"].sum() == 75
    assert set(result.records.filter(is_eval=True)["split"]) == {"test"}
    assert result.records["origin"][0] == "ori_pqal.json#21645374"


def entry(**fields) -> dict:
    base = {
        "QUESTION": "Does aspirin prevent stroke?",
        "CONTEXTS": ["We studied 100 patients.", "Fewer strokes occurred."],
        "LABELS": ["METHODS", "RESULTS"],
        "final_decision": "yes",
        "LONG_ANSWER": "Aspirin helps.",
    }
    return {**base, **fields}


def write_json(path, data) -> None:
    path.write_text(json.dumps(data, indent=4))


def test_bad_items_are_quarantined(tmp_path):
    write_json(tmp_path / "ori_pqal.json", {
        "1": entry(),
        "2": entry(final_decision="perhaps"),
        "3": entry(),  # ground truth says "no"
        "4": entry(CONTEXTS=[]),
        "5": entry(QUESTION="Does <i>aspirin</i> help?"),
        "6": entry(LONG_ANSWER="Aspirin \ufffd helps."),
        "7": entry(CONTEXTS=["Unlabelled text."], LABELS=["UNLABELLED"]),
        "8": entry(LABELS=["METHODS"]),  # fewer labels than contexts: keep the texts unlabelled
        "9": "not an object",
    })
    write_json(tmp_path / "test_ground_truth.json", {"1": "yes", "3": "no", "7": "yes"})
    (tmp_path / "LICENSE").write_text("MIT")
    (tmp_path / "pqal_fold0").mkdir()
    write_json(tmp_path / "pqal_fold0/train_set.json", {"1": entry()})  # upstream CV folds: not read
    (tmp_path / "copy").mkdir()
    write_json(tmp_path / "copy/ori_pqal.json", {"1": entry()})  # the same PMID in a second data file
    result = load_files(SPEC, tmp_path)
    assert result.read == 10
    assert result.reasons == Counter(
        bad_label=2, missing_field=1, html_remnant=1, broken_encoding=1, wrong_type=1, duplicate_id=1
    )
    origins = result.quarantine["origin"].str.strip_prefix(f"{tmp_path}/")
    assert dict(zip(origins, result.quarantine["reason"], strict=True)) == {
        "ori_pqal.json#2": "bad_label", "ori_pqal.json#3": "bad_label", "ori_pqal.json#4": "missing_field",
        "ori_pqal.json#5": "html_remnant", "ori_pqal.json#6": "broken_encoding", "ori_pqal.json#9": "wrong_type",
        "ori_pqal.json#1": "duplicate_id",  # copy/ori_pqal.json sorts first, so this one is the duplicate
    }
    contexts = dict(zip(result.records["id"], result.records["context"], strict=True))
    assert contexts == {
        "pubmedqa-1": "METHODS: We studied 100 patients.\n\nRESULTS: Fewer strokes occurred.",
        "pubmedqa-7": "Unlabelled text.",
        "pubmedqa-8": "We studied 100 patients.\n\nFewer strokes occurred.",
    }
    assert dict(zip(result.records["id"], result.records["split"], strict=True)) == {
        "pubmedqa-1": "test", "pubmedqa-7": "test", "pubmedqa-8": "train",
    }


def test_truncated_file_names_file_and_line(tmp_path):
    text = json.dumps({"1": entry(), "2": entry()}, indent=4)
    (tmp_path / "ori_pqal.json").write_text(text[: len(text) // 2])
    write_json(tmp_path / "test_ground_truth.json", {})
    with pytest.raises(SourceFileError, match=r"ori_pqal\.json:\d+:\d+: not valid JSON"):
        load_files(SPEC, tmp_path)


def test_hf_rows_count_as_evaluation_data():
    row = {
        "pubid": 25429730,
        "question": "Q?",
        "context": {"contexts": ["C."], "labels": ["BACKGROUND"], "meshes": []},
        "long_answer": "L.",
        "final_decision": "maybe",
    }
    native = Native("hf://qiaojin/PubMedQA/train#0", SPEC.from_hf(row), subset="pqa_labeled")
    native.split = SPEC.hf_splits["train"]
    record = load_source(SPEC, [native]).records.row(0, named=True)
    assert (record["id"], record["answer_letter"], record["context"]) == ("pubmedqa-25429730", "C", "BACKGROUND: C.")
    assert record["split"] == "test" and record["is_eval"]

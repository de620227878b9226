import json

import pytest

from bimed_assets.sources import load_files
from bimed_assets.sources.medical_meadow import SPEC
from bimed_assets.sources.reading import SourceFileError


def test_full_small_file(real_data):
    path = real_data / "medical_meadow/medical_meadow_small.json"
    result = load_files(SPEC, path)
    assert result.read == 5942
    assert len(result.records) == 5845 and len(result.quarantine) == 97
    assert dict(result.reasons) == {"duplicate_id": 92, "html_remnant": 3, "broken_encoding": 2}
    others = result.quarantine.filter(result.quarantine["reason"] != "duplicate_id")
    assert others.select("origin", "reason").rows() == [
        (f"{path.name}#530", "broken_encoding"),  # "about Â½ to Â¾ inch"
        (f"{path.name}#1470", "broken_encoding"),  # "100 - 101 Â°F"
        (f"{path.name}#4815", "html_remnant"),  # WikiDoc help pages about markup
        (f"{path.name}#4853", "html_remnant"),
        (f"{path.name}#4897", "html_remnant"),
    ]
    assert set(result.records["subset"]) == {"wikidoc_patient_information"}
    assert set(result.records["task"]) == {"open_qa"} and set(result.records["split"]) == {"train"}
    assert not result.records["is_eval"].any() and result.records["id"].n_unique() == 5845


def test_exact_repeats_are_duplicates_but_other_answers_stay(real_data):
    result = load_files(
        SPEC, real_data / "medical_meadow"
    )  # the folder: DATA_DESCRIPTION.md, LICENSE skipped
    first_duplicate = result.quarantine.filter(reason="duplicate_id").row(0, named=True)
    assert first_duplicate["origin"].endswith("medical_meadow_small.json#202")
    # Asked 7 times upstream with 2 distinct answers: both answers are kept, once each.
    assert len(result.records.filter(question="Should I take any OTC pain medications?")) == 2


def test_field_mapping_on_real_data(real_data):
    records = load_files(SPEC, real_data / "medical_meadow/medical_meadow_small.json").records
    first, last = records.row(0, named=True), records.row(-1, named=True)
    assert first["question"] == "What are the symptoms of Allergy?"
    assert first["answer_text"].startswith(
        "Allergy symptoms vary, but may include:\nBreathing problems (coughing,"
    )
    assert first["options"] == [] and first["answer_letter"] is None and first["context"] is None
    assert json.loads(first["native"])["instruction"] == "Answer this question truthfully"
    assert last["question"] == "What to expect if I have Varicose veins  (Outlook/Prognosis)?"
    assert first["licence"].startswith("GPL-3.0")


def test_bundled_sample_loads_without_drops():
    result = load_files(SPEC)
    assert result.read == len(result.records) == 200
    assert result.records["origin"][0] == "medical_meadow_small.json#0"


def _item(question, answer="Rest and fluids."):
    return {"instruction": "Answer this question truthfully", "input": question, "output": answer}


def test_subset_from_file_name(tmp_path):
    (tmp_path / "medical_meadow_small.json").write_text(json.dumps([_item("What is a cold?")]))
    (tmp_path / "medical_meadow_wikidoc.json").write_text(json.dumps([_item("What is a cold?")]))
    records = load_files(SPEC, tmp_path).records
    assert records["subset"].to_list() == ["wikidoc_patient_information", "wikidoc"]
    assert records["id"].n_unique() == 2  # the subset is part of the content hash


def test_bad_records_are_quarantined_with_reasons(tmp_path):
    items = [
        _item("What is a cold?"),
        {"instruction": "Answer this question truthfully", "output": "No question."},  # no input
        _item("What is flu?", ["a", "list"]),
        _item("What is flu?", "\n  \t"),
        _item("What is BROKEN?"),
        _item("What is asthma?", "<p>A lung disease.</p>"),
        _item("What is COPD?", "A&nbsp;lung disease."),
        _item("What is a cold?"),
        "not an object",
    ]
    path = tmp_path / "medical_meadow_small.json"
    path.write_bytes(json.dumps(items).encode().replace(b"BROKEN", b"\xe9t\xe9"))  # Latin-1 bytes
    result = load_files(SPEC, path)
    assert result.read == 9 and result.records["question"].to_list() == ["What is a cold?"]
    assert result.quarantine.select("origin", "reason").rows() == [
        (f"{path.name}#1", "missing_field"),
        (f"{path.name}#2", "wrong_type"),
        (f"{path.name}#3", "empty_text"),
        (f"{path.name}#4", "broken_encoding"),
        (f"{path.name}#5", "html_remnant"),
        (f"{path.name}#6", "html_remnant"),
        (f"{path.name}#7", "duplicate_id"),
        (f"{path.name}#8", "wrong_type"),
    ]


def test_truncated_json_names_file_and_line(tmp_path):
    path = tmp_path / "medical_meadow_small.json"
    path.write_text(
        '[\n    {\n        "instruction": "Answer this question truthfully",\n        "input": "Wh'
    )
    with pytest.raises(SourceFileError, match=rf"^{path}:4:\d+: not valid JSON"):
        load_files(SPEC, path)


def test_a_file_that_is_not_an_array_is_an_error(tmp_path):
    path = tmp_path / "medical_meadow_small.json"
    path.write_text(json.dumps(_item("What is a cold?")))
    with pytest.raises(SourceFileError, match=rf"^{path}:1: expected a JSON array"):
        load_files(SPEC, path)

import json

import pytest

from bimed_assets.sources import load_files
from bimed_assets.sources.chatdoctor import SPEC
from bimed_assets.sources.reading import SourceFileError

INSTRUCTION = "If you are a doctor, please answer the medical questions based on the patient's description."
# Items of GenMedGPT-5k whose text holds mojibake ("itâ€™s", "Iâ€™ve").
MOJIBAKE_ITEMS = [395, 546, 549, 595, 651, 713]


def test_full_genmedgpt_file(real_data):
    path = real_data / "chatdoctor/chatdoctor5k.json"
    result = load_files(SPEC, path)
    assert result.read == 5452
    assert len(result.records) == 5446 and len(result.quarantine) == 6
    assert dict(result.reasons) == {"broken_encoding": 6}
    assert result.quarantine["origin"].to_list() == [f"{path.name}#{i}" for i in MOJIBAKE_ITEMS]
    assert set(result.records["subset"]) == {"genmedgpt"} and set(result.records["split"]) == {"train"}
    assert set(result.records["task"]) == {"dialogue"} and not result.records["is_eval"].any()
    assert result.records["id"].n_unique() == 5446


def test_field_mapping_on_real_data(real_data):
    records = load_files(SPEC, real_data / "chatdoctor").records  # the folder: format_dataset.csv is skipped
    assert len(records) == 5446
    first = records.row(0, named=True)
    assert first["question"] == (
        "Doctor, I have been experiencing sudden and frequent panic attacks. I don't know what to do."
    )
    assert first["answer_text"].startswith("Well, based on what you're telling me, it sounds like you may be")
    assert first["options"] == [] and first["answer_letter"] is None and first["context"] is None
    assert first["id"].startswith("chatdoctor-") and len(first["id"]) == len("chatdoctor-") + 16
    assert not records["question"].str.contains(INSTRUCTION, literal=True).any()
    assert json.loads(first["native"])["instruction"] == INSTRUCTION
    assert "academic research only" in first["licence"]


def test_bundled_sample_loads_without_drops():
    result = load_files(SPEC)
    assert result.read == len(result.records) == 200
    assert "chatdoctor5k.json#0" == result.records["origin"][0]


def test_ids_are_stable_across_loads():
    assert load_files(SPEC).records["id"].to_list() == load_files(SPEC).records["id"].to_list()


def _item(question, answer="See a doctor.", instruction=INSTRUCTION):
    return {"instruction": instruction, "input": question, "output": answer}


def test_subset_from_file_name(tmp_path):
    for name in ("HealthCareMagic-100k.json", "iCliniq.json", "chatdoctor5k.json"):
        (tmp_path / name).write_text(json.dumps([_item(f"Hi doctor, question from {name}")]))
    records = load_files(SPEC, tmp_path).records
    assert sorted(records["subset"]) == ["genmedgpt", "healthcaremagic", "icliniq"]


def test_bad_records_are_quarantined_with_reasons(tmp_path):
    items = [
        _item("Doctor, I have a cough."),
        {"instruction": INSTRUCTION, "input": "Doctor, I have a rash."},  # no output
        _item(42),
        _item("   "),
        _item("Doctor, BROKEN here."),
        _item("Doctor, my <p>head</p> hurts."),
        _item("Doctor, my back hurts.", "Rest&nbsp;and ice."),
        _item("Doctor, I have a cough."),  # exact repeat of the first
    ]
    raw = json.dumps(items, indent=2).encode().replace(b"BROKEN", b"caf\xc3 \xff")  # invalid UTF-8
    path = tmp_path / "iCliniq.json"
    path.write_bytes(raw)
    result = load_files(SPEC, path)
    assert result.read == 8 and len(result.records) == 1
    assert result.quarantine.select("origin", "reason").rows() == [
        (f"{path.name}#1", "missing_field"),
        (f"{path.name}#2", "wrong_type"),
        (f"{path.name}#3", "empty_text"),
        (f"{path.name}#4", "broken_encoding"),
        (f"{path.name}#5", "html_remnant"),
        (f"{path.name}#6", "html_remnant"),
        (f"{path.name}#7", "duplicate_id"),
    ]
    assert set(result.quarantine["subset"]) == {"icliniq"}


def test_truncated_json_names_file_and_line(tmp_path):
    path = tmp_path / "chatdoctor5k.json"
    path.write_text(json.dumps([_item("Doctor, I have a cough.")] * 3, indent=6)[:-40])
    with pytest.raises(SourceFileError, match=rf"^{path}:15:\d+: not valid JSON"):
        load_files(SPEC, path)

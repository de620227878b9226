"""Every kind of bad input, in MedQA's JSON Lines format: quarantined with its reason, never dropped silently."""

import json

import pytest

from bimed_assets.sources import SOURCES, load_files
from bimed_assets.sources.reading import SourceFileError, read_json

MEDQA = SOURCES["medqa"]
GOOD = {
    "question": "A 45-year-old man has a BP of 150/95 mmHg. Which drug is first line?",
    "options": {"A": "Metformin", "B": "Lisinopril", "C": "Insulin", "D": "Warfarin"},
    "answer": "Lisinopril",
    "answer_idx": "B",
    "meta_info": "step2&3",
}


def variant(**changes):
    record = {**GOOD, **changes}
    return {k: v for k, v in record.items() if v is not ...}


BAD = {
    "missing_field": variant(question=...),
    "wrong_type": variant(question=42),
    "empty_text": variant(question="   "),
    "answer_not_in_options": variant(answer_idx="E"),
    "html_remnant": variant(question="Which drug is first line?<br/>Explain."),
}


def write_jsonl(path, lines):
    path.write_bytes(b"\n".join(line if isinstance(line, bytes) else json.dumps(line).encode() for line in lines))
    return path


@pytest.mark.parametrize("reason", sorted(BAD))
def test_each_bad_record_is_quarantined_with_its_reason(tmp_path, reason):
    path = write_jsonl(tmp_path / "test.jsonl", [GOOD, BAD[reason]])
    result = load_files(MEDQA, path)
    assert (result.read, len(result.records), len(result.quarantine)) == (2, 1, 1)
    row = result.quarantine.row(0, named=True)
    assert row["reason"] == reason
    assert row["origin"] == f"{path.name}:2"
    assert row["source"] == "medqa" and row["native"]


def test_answer_text_disagreeing_with_its_letter_is_quarantined(tmp_path):
    result = load_files(MEDQA, write_jsonl(tmp_path / "test.jsonl", [variant(answer="Metformin")]))
    assert result.reasons == {"answer_not_in_options": 1}
    assert "differs from option B" in result.quarantine["detail"][0]


def test_invalid_utf8_and_mojibake_are_broken_encoding(tmp_path):
    invalid = json.dumps(GOOD).encode().replace(b"Warfarin", b"Warf\xe9rin")
    mojibake = variant(question="The patientâ€™s BP is 150/95 mmHg. Which drug is first line?")
    result = load_files(MEDQA, write_jsonl(tmp_path / "test.jsonl", [invalid, mojibake, GOOD]))
    assert result.reasons == {"broken_encoding": 2}
    assert len(result.records) == 1


def test_unparseable_line_is_quarantined_and_the_rest_kept(tmp_path):
    path = write_jsonl(tmp_path / "test.jsonl", [GOOD, b'{"question": "cut off', variant(question="Other?")])
    result = load_files(MEDQA, path)
    assert result.reasons == {"invalid_json": 1}
    assert result.quarantine["origin"][0] == f"{path.name}:2"
    assert len(result.records) == 2


def test_duplicate_records_keep_the_first(tmp_path):
    # Same question, options and answer: the same record even when metadata differs.
    path = write_jsonl(tmp_path / "test.jsonl", [GOOD, variant(meta_info="step1"), GOOD, variant(question="New?")])
    result = load_files(MEDQA, path)
    assert result.reasons == {"duplicate_id": 2}
    assert result.quarantine["origin"].to_list() == [f"{path.name}:2", f"{path.name}:3"]
    assert result.records["origin"].to_list() == [f"{path.name}:1", f"{path.name}:4"]


def test_comparison_signs_are_not_mistaken_for_html(tmp_path):
    text = "Potassium is <3.5 mEq/L and sodium > 145 mEq/L; which is the most likely cause?"
    result = load_files(MEDQA, write_jsonl(tmp_path / "test.jsonl", [variant(question=text)]))
    assert len(result.records) == 1 and result.records["question"][0] == text


def test_a_file_that_cannot_be_parsed_names_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"input": "a"},\n  {"input": "b",\n')
    with pytest.raises(SourceFileError, match=rf"{path.name}:4:"):
        read_json(path)


def test_a_location_without_files_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no source files match"):
        load_files(MEDQA, str(tmp_path / "*.jsonl"))


def test_counts_add_up(tmp_path):
    lines = [GOOD, *BAD.values(), b"not json", variant(question="Second?")]
    result = load_files(MEDQA, write_jsonl(tmp_path / "test.jsonl", lines))
    assert result.read == len(lines) == len(result.records) + len(result.quarantine)
    assert sum(result.reasons.values()) == len(result.quarantine) == len(BAD) + 1


# --- the same handling in every format: duplicated native keys, empty files, oversized records --------------

PUBMEDQA_ENTRY = {"QUESTION": "Does aspirin reduce stroke risk?", "CONTEXTS": ["A trial."], "LABELS": ["RESULTS"],
                  "final_decision": "yes", "LONG_ANSWER": "Yes."}


def test_a_duplicated_pubmedqa_key_is_quarantined_not_lost(tmp_path):
    entry = json.dumps(PUBMEDQA_ENTRY)
    other = json.dumps({**PUBMEDQA_ENTRY, "QUESTION": "Does aspirin reduce stroke risk in the elderly?"})
    (tmp_path / "ori_pqal.json").write_text(f'{{"111": {entry}, "222": {entry}, "111": {other}}}')
    (tmp_path / "test_ground_truth.json").write_text('{"222": "yes"}')
    result = load_files(SOURCES["pubmedqa"], tmp_path)
    assert (result.read, len(result.records)) == (3, 2)
    assert result.reasons == {"duplicate_id": 1}
    assert "elderly" in result.quarantine["native"][0]  # the second "111", kept in the quarantine


@pytest.mark.parametrize(("source", "name"), [("medqa", "test.jsonl"), ("mmlu_medical", "anatomy_test.csv"),
                                              ("chatdoctor", "chatdoctor5k.json"), ("liveqa", "liveqa.xml")])
def test_an_empty_file_is_quarantined_and_counted_in_every_format(tmp_path, source, name):
    folder = tmp_path / "data" / "test" if source == "mmlu_medical" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n  \n")
    result = load_files(SOURCES[source], tmp_path)
    assert (result.read, len(result.records), result.reasons) == (1, 0, {"empty_file": 1})
    assert result.quarantine["detail"][0] == f"{name} is empty"


def test_an_oversized_record_is_quarantined_in_json_lines_and_csv_alike(tmp_path):
    huge = "x " * 2_600_000  # ~5 MB in one field
    jsonl = load_files(MEDQA, write_jsonl(tmp_path / "test.jsonl", [variant(question=f"Which drug? {huge}"), GOOD]))
    (tmp_path / "mmlu" / "data" / "test").mkdir(parents=True)
    (tmp_path / "mmlu" / "data" / "test" / "anatomy_test.csv").write_text(
        f'"Which nerve? {huge}",a,b,c,d,A\nWhich bone?,a,b,c,d,B\n')
    csv = load_files(SOURCES["mmlu_medical"], tmp_path / "mmlu")
    for result in (jsonl, csv):
        assert (result.read, len(result.records), result.reasons) == (2, 1, {"oversized_record": 1})

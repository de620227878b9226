import datetime
import json

import openpyxl
import pytest

from bimed_assets.paths import SAMPLE_DATA
from bimed_assets.sources import load_files
from bimed_assets.sources.medicationqa import COLUMNS, SPEC
from bimed_assets.sources.reading import SourceFileError

XLSX = "medicationqa/MedInfo2019-QA-Medications.xlsx"


def test_full_workbook(real_data):
    path = real_data / XLSX
    result = load_files(SPEC, path)
    assert result.read == 690
    assert len(result.records) == 688 and len(result.quarantine) == 2
    assert result.quarantine.select("origin", "reason").rows() == [
        (f"{path.name}:33", "broken_encoding"),  # 'pravastatin s9 orange how many "grams?\x9d"'
        (f"{path.name}:434", "duplicate_id"),  # the same row as row 407 in every column
    ]
    assert (
        json.loads(result.quarantine["native"][0])["Question"]
        == 'pravastatin s9 orange how many "grams?\x9d"'
    )
    assert set(result.records["task"]) == {"open_qa"} and set(result.records["split"]) == {"train"}
    assert not result.records["is_eval"].any() and result.records["id"].n_unique() == 688


def test_fields_on_real_data(real_data):
    path = real_data / XLSX
    records = load_files(SPEC, path.parent).records  # the folder: README.md is skipped
    first = records.row(0, named=True)
    assert first["origin"] == f"{path.name}:2"
    assert first["question"] == "how does rivatigmine and otc sleep medicine interact"
    assert first["answer_text"].startswith(
        "tell your doctor and pharmacist what prescription and nonprescription"
    )
    assert first["context"] == "Focus (Drug): rivastigmine; Question Type: Interaction"
    native = json.loads(first["native"])
    assert list(native) == list(COLUMNS)
    assert native["URL"] == "https://medlineplus.gov/druginfo/meds/a602009.html"
    # Rows 45 and 107 have no Section Title, which is not needed.
    row45 = records.filter(origin=f"{path.name}:45").row(0, named=True)
    assert row45["question"] == "sickness in humans caused formaldehyde on toys from china?"
    assert json.loads(row45["native"])["Section Title"] is None


def test_bundled_sample_loads_without_drops():
    result = load_files(SPEC)
    assert result.read == len(result.records) == 150
    path = SAMPLE_DATA / XLSX
    assert result.records["origin"].head(2).to_list() == [f"{path.name}:2", f"{path.name}:3"]


def _write(path, rows, header=COLUMNS):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def _row(question, answer="Take it with food.", focus="ibuprofen", qtype="Usage"):
    return [
        question,
        focus,
        qtype,
        answer,
        "How should I use this medication?",
        "https://medlineplus.gov/x.html",
    ]


def test_bad_rows_are_quarantined_with_reasons(tmp_path):
    path = _write(
        tmp_path / "medications.xlsx",
        [
            _row("how to take ibuprofen"),
            _row("how to take aspirin", answer=None),
            _row(1234),
            _row("what is 1-2 mg", answer=datetime.datetime(2019, 1, 2)),
            _row("   "),
            _row("can i take it with caf\ufffd"),
            _row("how many grams?\x9d"),
            _row("what is <p>this</p>"),
            _row("is it safe", answer="Yes,&nbsp;mostly."),
            _row("how to take ibuprofen"),
            [None] * 6,
            _row("what is ibuprofen", focus=None, qtype=None),
            _row("what dose", focus=5),
        ],
    )
    result = load_files(SPEC, path)
    assert result.read == 12  # the blank row 12 is skipped, and numbering goes on from it
    assert result.records.select("origin", "context").rows() == [
        (f"{path.name}:2", "Focus (Drug): ibuprofen; Question Type: Usage"),
        (f"{path.name}:13", None),
    ]
    assert result.quarantine.select("origin", "reason").rows() == [
        (f"{path.name}:3", "missing_field"),
        (f"{path.name}:4", "wrong_type"),
        (f"{path.name}:5", "wrong_type"),  # a date where the answer text should be
        (f"{path.name}:6", "empty_text"),
        (f"{path.name}:7", "broken_encoding"),
        (f"{path.name}:8", "broken_encoding"),  # stray C1 control character
        (f"{path.name}:9", "html_remnant"),
        (f"{path.name}:10", "html_remnant"),
        (f"{path.name}:11", "duplicate_id"),
        (f"{path.name}:14", "wrong_type"),  # a number as the focus
    ]


def test_cells_under_no_header_are_a_malformed_row(tmp_path):
    header = [*COLUMNS[:4], None, *COLUMNS[4:]]  # an unnamed column between Answer and Section Title
    rows = [_row("how to take ibuprofen"), _row("what is ibuprofen"), _row("what is aspirin")]
    rows[0].insert(4, None)
    rows[0].append("stray")
    rows[1].insert(4, "stray")
    rows[2].insert(4, None)
    path = _write(tmp_path / "medications.xlsx", rows, header=header)
    result = load_files(SPEC, path)
    assert result.quarantine.select("origin", "reason").rows() == [
        (f"{path.name}:2", "malformed_row"),  # a cell right of the header
        (f"{path.name}:3", "malformed_row"),  # a cell under the unnamed column
    ]
    assert len(result.records) == 1 and list(json.loads(result.records["native"][0])) == list(COLUMNS)


def test_missing_column_names_file_and_header_row(tmp_path):
    path = _write(tmp_path / "medications.xlsx", [_row("how to take ibuprofen")[:3]], header=COLUMNS[:3])
    with pytest.raises(
        SourceFileError, match=rf"^{path}:1: header row lacks column\(s\) \['Answer', 'Section"
    ):
        load_files(SPEC, path)


def test_a_file_that_is_not_a_workbook_is_an_error(tmp_path):
    path = tmp_path / "medications.xlsx"
    path.write_bytes(b"Question,Answer\nhow,so\n")
    with pytest.raises(SourceFileError, match=rf"^{path}:1: not a readable .xlsx workbook"):
        load_files(SPEC, path)

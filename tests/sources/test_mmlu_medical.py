from collections import Counter

import polars as pl
import pytest

from bimed_assets.sources import mmlu_medical
from bimed_assets.sources.loading import SAMPLE_DATA, load_files, load_source
from bimed_assets.sources.reading import Native

SPEC = mmlu_medical.SPEC

# Rows per subject and split, from the real files' SOURCE.md.
REAL_COUNTS = {
    "anatomy": {"dev": 5, "validation": 14, "test": 135},
    "clinical_knowledge": {"dev": 5, "validation": 29, "test": 265},
    "college_biology": {"dev": 5, "validation": 16, "test": 144},
    "college_medicine": {"dev": 5, "validation": 22, "test": 173},
    "medical_genetics": {"dev": 5, "validation": 11, "test": 100},
    "professional_medicine": {"dev": 5, "validation": 31, "test": 272},
}


def counts(records) -> dict:
    out: dict = {}
    for subset, split, n in records.group_by("subset", "split").len().iter_rows():
        out.setdefault(subset, {})[split] = n
    return out


@pytest.fixture(scope="module")
def real(real_data):
    return load_files(SPEC, real_data / "mmlu_medical")  # the folder: SOURCE.md, LICENSE, README.txt skipped


def test_real_files_load_every_row(real):
    assert real.read == 1242 and len(real.records) == 1242
    assert len(real.quarantine) == 0 and real.reasons == Counter()
    assert counts(real.records) == REAL_COUNTS
    # 99 questions occur in both clinical_knowledge and college_medicine; subset and split keep their ids apart.
    assert real.records["id"].n_unique() == 1242


@pytest.mark.parametrize("subject", sorted(REAL_COUNTS))
def test_each_real_test_file_alone(real_data, subject):
    result = load_files(SPEC, real_data / f"mmlu_medical/data/test/{subject}_test.csv")
    assert result.read == len(result.records) == REAL_COUNTS[subject]["test"]


def test_only_test_is_evaluation(real):
    flags = real.records.group_by("split").agg(pl.col("is_eval").unique())
    assert dict(flags.iter_rows()) == {"dev": [False], "validation": [False], "test": [True]}
    assert real.records["is_eval"].sum() == 1089


def test_real_field_spot_checks(real):
    by_origin = {row["origin"].removeprefix("data/"): row for row in real.records.iter_rows(named=True)}
    first = by_origin["test/anatomy_test.csv:1"]
    assert first["question"] == (
        "A lesion causing compression of the facial nerve at the stylomastoid foramen will cause ipsilateral"
    )
    assert first["answer_letter"] == "A" and first["answer_text"] == "paralysis of the facial muscles."
    assert first["subset"] == "anatomy" and first["split"] == "test" and first["task"] == "mcqa"
    assert by_origin["test/anatomy_test.csv:2"]["question"] == 'A "dished face" profile is often associated with'
    # A quoted question spanning four lines: the origin is its first line, and the next row's is line 18.
    multi = by_origin["test/college_biology_test.csv:14"]
    assert multi["question"] == "A cell nucleus contains which of the following?\nI. DNA\nII. Protein\nIII. RNA"
    assert "test/college_biology_test.csv:15" not in by_origin and "test/college_biology_test.csv:18" in by_origin
    # The CRLF file without a final newline: its last row is whole.
    last = by_origin["test/professional_medicine_test.csv:272"]
    assert last["answer_letter"] == "B" and last["answer_text"] == "Increases nitric oxide concentration"
    assert [o["text"] for o in last["options"]][-1] == "Inhibits sodium flux"


def test_bundled_sample_loads_without_drops():
    result = load_files(SPEC)
    assert result.read == len(result.records) == 393
    assert counts(result.records) == {
        subject: {**split_counts, "test": 40} for subject, split_counts in REAL_COUNTS.items()
    }
    assert result.records["origin"][0].startswith("data/") and str(SAMPLE_DATA) not in result.records["origin"][0]
    crlf = (SAMPLE_DATA / "mmlu_medical/data/test/professional_medicine_test.csv").read_bytes()
    assert crlf.count(b"\r\n") == 39 and not crlf.endswith((b"\n", b"\r"))


def write(path, text: bytes | str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_bad_rows_are_quarantined(tmp_path):
    good = "What is the largest organ?,Skin,Liver,Brain,Lung,A\r\n"
    write(
        tmp_path / "data/test/anatomy_test.csv",
        good.encode()
        + b"Five columns only,a,b,c,A\n"
        + b"Letter out of range,a,b,c,d,E\n"
        + b"Broken \xff\xfe bytes,a,b,c,d,B\n"
        + b"Line<br>break,a,b,c,d,C\n"
        + b"Empty option,a,,c,d,D\n"
        + good.encode()  # the same row again: same content hash
        + b'"Escaped ""quotes"" and a comma, kept",a,b,c,d,B',
    )
    write(tmp_path / "data/README.txt", "not data\n")
    write(tmp_path / "data/test/astronomy_test.csv", "not a medical subject,a,b,c,d,A\n")
    write(tmp_path / "data/test/anatomy_test.csv.bak", "stale copy,a,b,c,d,A\n")
    result = load_files(SPEC, tmp_path)
    assert result.read == 8
    assert result.reasons == Counter(
        malformed_row=1, answer_not_in_options=1, broken_encoding=1, html_remnant=1, empty_text=1, duplicate_id=1
    )
    assert result.records["question"].to_list() == [
        "What is the largest organ?",
        'Escaped "quotes" and a comma, kept',
    ]
    reasons = dict(zip(result.quarantine["origin"].str.extract(r":(\d+)$").to_list(), result.quarantine["reason"]))
    assert reasons == {
        "2": "malformed_row", "3": "answer_not_in_options", "4": "broken_encoding",
        "5": "html_remnant", "6": "empty_text", "7": "duplicate_id",
    }


def test_splits_from_file_names(tmp_path):
    row = "Q,a,b,c,d,A\n"
    for split in ("dev", "val", "test"):
        write(tmp_path / f"{split}/medical_genetics_{split}.csv", row)
    result = load_files(SPEC, tmp_path)
    assert sorted(result.records.select("split", "is_eval").rows()) == [
        ("dev", False), ("test", True), ("validation", False),
    ]
    # Same question in three splits: three ids, because split is part of the content hash.
    assert result.records["id"].n_unique() == 3


def test_hf_rows_map_to_the_csv_row():
    row = {"question": "Q?", "subject": "anatomy", "choices": ["w", "x", "y", "z"], "answer": 2}
    native = Native("hf://cais/mmlu/test#0", SPEC.from_hf(row), subset="anatomy", split="test")
    record = load_source(SPEC, [native]).records.row(0, named=True)
    assert (record["answer_letter"], record["answer_text"], record["is_eval"]) == ("C", "y", True)

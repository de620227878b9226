import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bimed_assets.sources import medmcqa
from bimed_assets.sources.loading import SAMPLE_DATA, load_files, load_source
from bimed_assets.sources.reading import Native

SPEC = medmcqa.SPEC
REPO = Path(__file__).resolve().parents[2]


def test_bundled_sample_loads_without_drops():
    result = load_files(SPEC)
    assert result.read == len(result.records) == 40 and len(result.quarantine) == 0
    assert dict(result.records.group_by("split", "is_eval").len().select("split", "len").iter_rows()) == {
        "train": 26, "dev": 14,
    }
    assert result.records.filter(is_eval=True)["split"].unique().to_list() == ["dev"]
    assert str(SAMPLE_DATA) not in result.records["origin"][0]  # portable origins
    assert result.records["id"].n_unique() == 40


def test_sample_field_spot_checks():
    records = {row["question"]: row for row in load_files(SPEC).records.iter_rows(named=True)}
    first = records["The only abductor of the vocal cords is the:"]
    assert first["id"] == "medmcqa-2c356e3c-e631-5ad9-8562-25911025e67f"
    assert first["split"] == "dev" and first["is_eval"] and first["subset"] == "medmcqa"
    assert [o["text"] for o in first["options"]] == [
        "Lateral cricoarytenoid", "Cricothyroid", "Posterior cricoarytenoid", "Transverse arytenoid",
    ]
    assert (first["answer_letter"], first["answer_text"]) == ("C", "Posterior cricoarytenoid")  # cop 3
    assert first["context"] == "Anatomy / Head and neck"
    assert first["explanation"].startswith("The posterior cricoarytenoid rotates")
    assert first["origin"] == "dev.json:1"
    no_topic = records["Muscle relaxant of choice for rapid sequence intubation is:"]
    assert no_topic["context"] == "Anaesthesia" and no_topic["answer_letter"] == "D"
    no_exp = records["Which of the following hepatitis viruses is a DNA virus?"]
    assert no_exp["explanation"] is None and no_exp["answer_text"] == "Hepatitis B virus"


def line(**fields) -> str:
    base = {"question": "Q?", "exp": "", "cop": 1, "opa": "a", "opb": "b", "opc": "c", "opd": "d",
            "subject_name": "Anatomy", "topic_name": None, "id": "x", "choice_type": "single"}
    return json.dumps({**base, **fields}, separators=(",", ":"))


def test_bad_records_are_quarantined(tmp_path):
    lines = [
        line(id="ok", cop=4),
        line(id="cop-5", cop=5),
        line(id="cop-0", cop=0),
        line(id="cop-null", cop=None),
        line(id="cop-text", cop="2"),
        line(id="cop-bool", cop=True),
        line(id="no-opd", opd=None),
        line(id="html", question="Q<br>?"),
        line(id="ok"),
        line(id=""),  # blank id
        line(id="ok2")[:-15],  # truncated line
    ]
    data = "\n".join(lines).encode() + b'\n{"question":"bad \xff byte","cop":1}\n'
    (tmp_path / "train.json").write_bytes(data)
    result = load_files(SPEC, tmp_path / "train.json")
    assert result.read == 12
    assert result.reasons == Counter(
        bad_label=2, missing_field=2, wrong_type=2, html_remnant=1, duplicate_id=1, empty_text=1,
        invalid_json=1, broken_encoding=1,
    )
    assert result.records.select("id", "answer_letter", "answer_text").rows() == [("medmcqa-ok", "D", "d")]
    assert result.quarantine.filter(reason="duplicate_id")["origin"].to_list() == ["train.json:9"]


def test_unlabelled_test_file_is_quarantined(tmp_path):
    (tmp_path / "test.json").write_text(line(id="t1", cop=-1) + "\n" + line(id="t2", cop=None) + "\n")
    result = load_files(SPEC, tmp_path)
    assert len(result.records) == 0 and result.reasons == Counter(missing_field=2)


def test_hugging_face_cop_is_zero_based():
    natives = []
    for index, (split, cop) in enumerate((("validation", 0), ("validation", 3), ("test", -1))):
        native = Native(f"hf://openlifescienceai/medmcqa/{split}#{index}",
                        SPEC.from_hf({**json.loads(line(id=f"h{index}")), "cop": cop}))
        native.split = SPEC.hf_splits.get(split, split)
        natives.append(native)
    result = load_source(SPEC, natives)
    assert result.records.select("answer_letter", "split", "is_eval").rows() == [("A", "dev", True), ("D", "dev", True)]
    assert result.reasons == Counter(missing_field=1)


def test_benchmark_generator_is_deterministic_and_loads(tmp_path):
    def make(name: str, *extra: str) -> Path:
        out = tmp_path / name
        subprocess.run([sys.executable, str(REPO / "bench/make_medmcqa.py"), "--records", "3000", "--out", str(out),
                        *extra], check=True, capture_output=True)
        return out

    first, second = make("train.json"), make("again.json")
    assert first.read_bytes() == second.read_bytes()
    result = load_files(SPEC, first)
    assert result.read == len(result.records) == 3000 and result.records["id"].n_unique() == 3000
    lengths = result.records["question"].str.len_chars()
    assert 90 <= lengths.min() and lengths.max() <= 301
    assert 0 < result.records["explanation"].null_count() < 3000
    bad = load_files(SPEC, make("bad.json", "--bad-rate", "0.2", "--seed", "1"))
    assert set(bad.reasons) == {"missing_field", "bad_label", "html_remnant", "invalid_json"}
    assert 400 < len(bad.quarantine) < 800

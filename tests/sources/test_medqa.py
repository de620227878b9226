from bimed_assets.paths import SAMPLE_DATA
from bimed_assets.sources import SOURCES, load_files

MEDQA = SOURCES["medqa"]


def test_full_4_option_test_split(real_data):
    result = load_files(MEDQA, real_data / "medqa/US_4options/phrases_no_exclude_test.jsonl")
    assert result.read == 1273
    assert len(result.records) == 1273 and len(result.quarantine) == 0
    assert result.records["is_eval"].all() and set(result.records["split"]) == {"test"}
    first = result.records.row(0, named=True)
    assert first["answer_letter"] == "B"
    assert first["answer_text"] == "Tell the attending that he cannot fail to disclose this mistake"
    assert [o["letter"] for o in first["options"]] == ["A", "B", "C", "D"]


def test_4_and_5_option_variants_get_distinct_ids(real_data):
    result = load_files(MEDQA, str(real_data / "medqa/**/*.jsonl"))
    counts = dict(result.records.group_by("subset").len().iter_rows())
    assert counts == {"US_4options": 1273, "US_5options": 1273}
    assert result.records["id"].n_unique() == 2546
    five = result.records.filter(subset="US_5options").row(0, named=True)
    assert five["answer_letter"] == "C" and len(five["options"]) == 5


def test_bundled_sample_loads_without_drops():
    result = load_files(MEDQA)
    assert result.read == len(result.records) > 0
    assert str(SAMPLE_DATA) not in result.records["origin"][0]  # portable origins


def test_ids_are_stable_across_loads(real_data):
    path = real_data / "medqa/US_4options/phrases_no_exclude_test.jsonl"
    assert load_files(MEDQA, path).records["id"].to_list() == load_files(MEDQA, path).records["id"].to_list()

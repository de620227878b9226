"""Write-audit-publish of the corpus through its Dagster asset: a failed build publishes nothing, a passing one
becomes a new version, and a rollback brings the previous one back."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from bimed_assets.chats.tables import CHATS_SCHEMA
from bimed_assets.corpus import publish
from bimed_assets.corpus.assemble import REVIEWED_SCHEMA
from bimed_assets.defs.corpus.assets import DATA_FILE, bimed_corpus
from bimed_assets.defs.training.gate import blocking_check_problems, latest_materialization
from bimed_assets.settings import CorpusSettings, SourceFiles


def _given(name: str, frame: pl.DataFrame) -> dg.AssetsDefinition:
    @dg.asset(name=name)
    def given():
        # As the Parquet IO manager hands it to an input annotated LazyFrame (the corpus asset's pool).
        return frame.lazy() if name == "training_pool" else frame

    return given


def build(sample: dict, directory: Path, instance: dg.DagsterInstance | None = None,
          **changes: pl.DataFrame) -> dg.ExecuteInProcessResult:
    """The bimed_corpus asset on the sample's upstream frames (``changes`` replace some of them)."""
    frames = {**sample, "reviewed_translations": pl.DataFrame(schema=REVIEWED_SCHEMA),
              "synthesized_chats": pl.DataFrame(schema=CHATS_SCHEMA), **changes}
    return dg.materialize(
        [bimed_corpus, *(_given(name, frame) for name, frame in frames.items())],
        resources={"corpus_settings": CorpusSettings(directory=str(directory), keep_versions=2),
                   "source_files": SourceFiles()},
        instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )


def corpus_metadata(result: dg.ExecuteInProcessResult) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node("bimed_corpus")[0].metadata.items()}


def published_bytes(directory: Path) -> dict[str, str]:
    """BLAKE2b of every file reached through the published paths (Parquet, card, charts, HF copy)."""
    files = [directory / DATA_FILE, directory / "README.md", *sorted((directory / "hf_dataset").rglob("*"))]
    return {str(p.relative_to(directory)): hashlib.blake2b(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def without_arabic(accepted: pl.DataFrame) -> pl.DataFrame:
    """Translations that lost their Arabic script: the blocking arabic_script check fails on them."""
    return accepted.with_columns(pl.col("translation").str.replace_all(r"\p{Arabic}", "x"))


def test_a_failed_build_leaves_the_published_corpus_intact(sample, tmp_path):
    directory = tmp_path / "corpus"
    good = build(sample, directory)
    assert good.success and corpus_metadata(good)["published"]
    before = published_bytes(directory)
    assert {"bimed_corpus.parquet", "README.md", "hf_dataset/dataset_info.json"} <= set(before)

    bad = build(sample, directory, accepted_translations=without_arabic(sample["accepted_translations"]))
    failed = [c.check_name for c in bad.get_asset_check_evaluations() if not c.passed]
    assert "arabic_script" in failed
    meta = corpus_metadata(bad)
    assert not meta["published"] and "arabic_script" in meta["failed_checks"]
    assert meta["published_version"] == corpus_metadata(good)["version"] != meta["version"]
    assert published_bytes(directory) == before  # byte for byte: data, card, HF copy
    staged = Path(meta["staged_path"])  # kept for inspection, readable
    assert staged.parent == directory / "staging"
    assert pl.read_parquet(staged / DATA_FILE).height == meta["dagster/row_count"]
    assert (staged / "README.md").is_file() and (staged / "hf_dataset").is_dir()


def test_publish_then_roll_back(sample, tmp_path):
    directory = tmp_path / "corpus"
    first = corpus_metadata(build(sample, directory))
    fewer = sample["training_pool"].filter(pl.col("source") != "chatdoctor")
    second = corpus_metadata(build(sample, directory, training_pool=fewer))
    assert first["version"] != second["version"] and second["published"]
    assert publish.current_version(directory) == second["version"]
    assert publish.published_versions(directory) == [first["version"], second["version"]]
    assert f"version: {second['version']}" in (directory / "README.md").read_text(encoding="utf-8")

    assert publish.rollback(directory) == first["version"]
    assert publish.current_version(directory) == first["version"]
    assert pl.read_parquet(directory / DATA_FILE).height == first["dagster/row_count"]
    with pytest.raises(publish.PublishError, match="no published version before"):
        publish.rollback(directory)
    assert publish.main(["--directory", str(directory), "--rollback", second["version"]]) == 0  # the CLI
    assert publish.current_version(directory) == second["version"]

    # keep_versions=2: a third version removes the oldest, never the current one.
    third = corpus_metadata(build(sample, directory, training_pool=fewer,
                                  accepted_translations=sample["accepted_translations"].head(4)))
    assert publish.published_versions(directory) == [second["version"], third["version"]]


def test_the_published_corpus_is_a_hugging_face_dataset(sample, tmp_path):
    datasets = pytest.importorskip("datasets")
    directory = tmp_path / "corpus"
    meta = corpus_metadata(build(sample, directory))
    loaded = datasets.load_dataset(str(directory), split="train")
    assert loaded.num_rows == meta["dagster/row_count"]
    assert datasets.load_from_disk(str(directory / "hf_dataset")).num_rows == meta["dagster/row_count"]
    card = (directory / "README.md").read_text(encoding="utf-8")
    header = card.split("---")[1]
    for key in ("license:", "configs:", "data_files:", "dataset_info:", "features:", "size_categories:",
                "pretty_name:", f"version: {meta['version']}"):
        assert key in header, key
    assert "research only" in card and "chatdoctor" in card and "copyleft" in card and "medical_meadow" in card
    for path in (directory / "current").resolve().rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), path


def test_the_training_gate_refuses_whatever_the_last_corpus_run_left(sample, tmp_path):
    """A corpus step that dies after its checks were planned leaves records with no evaluation: the gate names
    them instead of crashing on them (AttributeError on AssetCheckEvaluationPlanned before)."""
    instance = dg.DagsterInstance.ephemeral()
    blocking = [spec.key for spec in bimed_corpus.check_specs if spec.blocking]
    assert build(sample, tmp_path, instance).success
    assert blocking_check_problems(instance, latest_materialization(instance, bimed_corpus.key), blocking) == {}

    crashed = build(sample, tmp_path, instance, accepted_translations=sample["accepted_translations"].drop("item_id"))
    assert not crashed.success
    problems = blocking_check_problems(instance, latest_materialization(instance, bimed_corpus.key), blocking)
    assert set(problems) == {key.name for key in blocking}
    assert all("did not complete" in why for why in problems.values()), problems

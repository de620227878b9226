"""The paths the corpus takes at BiMed1.3M scale, checked against the plain ones on small data: token counts by
row and by sample, the HF copy written from the Parquet batches, the checks' facts without joined texts, the
Arabic share in Polars against Python, and the contamination check taking the assembly's verdicts."""

from __future__ import annotations

import polars as pl
import pytest

from bimed_assets.corpus import card, checks, formatting, tokens, write
from bimed_assets.corpus.assemble import assemble
from bimed_assets.corpus.dedup import text_key
from bimed_assets.corpus.mix import MixConfig
from bimed_assets.record_rules import arabic_share, arabic_share_expr

TEXTS = ["A 45-year-old man presents with chest pain.\n\nA. Aspirin\nB. Heparin", "double  space", " lead",
         "أنت مساعد طبي دقيق. أجب عن الأسئلة", "Metformin 500mg مرتين يوميا", "", None, "émigré — “quotes”"]


def test_token_counts_by_row_equal_whole_text_encoding():
    pytest.importorskip("mistral_common")
    frame = pl.DataFrame({"texts": [TEXTS[:3], TEXTS[3:6], TEXTS[6:], []]})
    whole = [int(tokens.count(pl.Series(row, dtype=pl.String)).sum()) if row else 0
             for row in frame["texts"].to_list()]
    assert tokens.count_rows(frame, "texts", chunk=2).tolist() == whole


def test_card_tokens_exact_for_small_groups_and_estimated_within_margin_for_large(sample, tmp_path):
    pytest.importorskip("mistral_common")
    corpus = assemble(sample["training_pool"], sample["evaluation_sets"], sample["accepted_translations"]).corpus
    exact = card.composition(corpus, exact_up_to=None)
    assert card.composition(corpus).equals(exact)  # the sample's groups are small: counted exactly
    assert (exact["margin"] == 0).all() and exact["counted"].equals(exact["records"])
    estimated = card.composition(corpus, exact_up_to=0, rate=0.5, min_sample=2)  # every group sampled
    both = estimated.join(exact.select("source", "language", "task", exact="tokens"), on=["source", "language", "task"])
    assert (both["counted"] <= both["records"]).all() and (both["margin"] > 0).any()
    assert (both["counted"] >= 1).all() and (both["tokens"] > 0).all()
    assert ((both["tokens"] - both["exact"]).abs() <= 2 * both["margin"] + 1).all()
    readme = card.write_card(estimated, {}, tmp_path, "corpus.parquet").read_text()
    assert "**estimated**" in readme and "at 95%" in readme
    assert "counted exactly" in card.write_card(exact, {}, tmp_path, "corpus.parquet").read_text()


def test_hf_copy_from_parquet_batches_loads_as_save_to_disk(sample, tmp_path):
    datasets = pytest.importorskip("datasets")
    corpus = assemble(sample["training_pool"], sample["evaluation_sets"], sample["accepted_translations"]).corpus
    path = write.write_parquet_atomic(corpus, tmp_path / "c.parquet", row_group_size=50,
                                      hf_directory=tmp_path / "hf")
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    reference = datasets.Dataset.from_parquet(str(path))
    assert loaded.features == reference.features and loaded.to_list() == reference.to_list()
    # several shards when the bound is small
    hf = write.HFDatasetWriter(tmp_path / "sharded", corpus.head(0).to_arrow().schema, max_shard_bytes=1)
    for part in corpus.iter_slices(max(1, corpus.height // 3)):
        hf.write(part.to_arrow())
    hf.close("x")
    assert len(list((tmp_path / "sharded").glob("data-*.arrow"))) > 1
    assert datasets.load_from_disk(str(tmp_path / "sharded")).to_list() == reference.to_list()


def test_arabic_share_in_polars_equals_python():
    texts = ["السلام عليكم", "HbA1c 8.2%، LDL 160 mg/dL مع سكري", "plain English", "12345 !!", "", "مُحَمَّد ـــ",
             "Ωmega ﷺ ﻻ", "mixed عربي text"]
    got = pl.DataFrame({"t": texts}).select(arabic_share_expr(pl.col("t"))).to_series().to_list()
    for share, text in zip(got, texts):
        expected = arabic_share(text)
        assert (share is None and expected is None) or share == pytest.approx(expected, abs=1e-12), text


def test_facts_hold_the_rules_on_defects(sample):
    corpus = assemble(sample["training_pool"], sample["evaluation_sets"], sample["accepted_translations"]).corpus
    system = pl.struct(role=pl.lit("system"), content=pl.lit("s"))
    turn = lambda role, text: pl.struct(role=pl.lit(role), content=pl.lit(text))
    cases = {
        "ok": pl.concat_list(system, turn("user", "q"), turn("assistant", "a")),
        "swapped": pl.concat_list(system, turn("assistant", "a"), turn("user", "q")),
        "no_answer": pl.concat_list(system, turn("user", "q")),
        "empty_turn": pl.concat_list(system, turn("user", ""), turn("assistant", "a")),
        "english_ar": pl.concat_list(system, turn("user", "plain English"), turn("assistant", "text")),
    }
    rows = pl.concat([corpus.head(1).with_columns(id=pl.lit(name), messages=expr, language=pl.lit("ar"))
                      for name, expr in cases.items()])
    facts = {r["id"]: r for r in checks.facts(rows).iter_rows(named=True)}
    assert facts["ok"]["roles_ok"] and not facts["swapped"]["roles_ok"] and not facts["no_answer"]["roles_ok"]
    assert facts["empty_turn"]["shortest"] == 0 and facts["ok"]["chars"] == len("s\nq\na")
    assert facts["english_ar"]["arabic_share"] == 0.0 and facts["ok"]["arabic_share"] == 0.0


def test_contamination_check_takes_the_assembly_verdicts_and_reads_the_rest(sample):
    evals = sample["evaluation_sets"]
    built = assemble(sample["training_pool"], evals, sample["accepted_translations"], mix=MixConfig(ar_per_en=None))
    check = checks.contamination(built.corpus, evals, screened=built.screened)
    assert check.passed
    english = built.corpus.filter(pl.col("language") == "en").height
    assert check.metadata["records_screened_by_assembly"] == english  # every English turn is one the assembly read
    assert check.metadata["records_read"] == built.corpus.height - english
    # A record whose text the assembly judged contaminated is flagged without reading it again ...
    leaked = built.corpus.head(1).with_columns(id=pl.lit("leak#en"))
    text = leaked.select(pl.col("messages").list.get(1).struct.field("content")).item()
    verdict = pl.DataFrame({"t": [text]}).select(*text_key(pl.col("t")), matched=pl.lit("eval-x"))
    flagged = checks.contamination(pl.concat([built.corpus, leaked]), evals,
                                   screened=pl.concat([built.screened.filter(
                                       ~pl.struct("h1", "h2").is_in(verdict.select(pl.struct("h1", "h2")).to_series().implode())),
                                       verdict]))
    assert not flagged.passed and flagged.metadata["matches"][0]["rule"] == "screened"
    # ... and a new text is read by the rule itself.
    copy = built.corpus.head(1).with_columns(id=pl.lit("copy#en"), messages=formatting.with_system(pl.concat_list(
        pl.struct(role=pl.lit("user"), content=pl.lit("Question: " + evals["question"][0].upper())),
        pl.struct(role=pl.lit("assistant"), content=pl.lit("x"))), pl.lit("en")))
    assert not checks.contamination(pl.concat([built.corpus, copy]), evals, screened=built.screened).passed

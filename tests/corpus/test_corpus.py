"""Corpus assembly on the bundled sample assets plus planted defects."""

from __future__ import annotations

import json
import os

import polars as pl
import pytest

from bimed_assets.corpus import formatting, write
from bimed_assets.corpus.assemble import CORPUS_SCHEMA, assemble
from bimed_assets.corpus.checks import run_checks
from bimed_assets.corpus.dedup import find_removals
from bimed_assets.corpus.mix import MixConfig, choose
from bimed_assets.corpus.text import normalise
from bimed_assets.schema import RECORD_SCHEMA


def _record(id_, task, question, answer, options=(), letter=None, source="medmcqa", split="train"):
    return {"id": id_, "source": source, "subset": "s", "split": split, "is_eval": split != "train", "task": task,
            "question": question, "options": [{"letter": k, "text": v} for k, v in options],
            "answer_letter": letter, "answer_text": answer, "explanation": None, "context": None,
            "language": "en", "licence": "MIT", "origin": "test", "native": "{}"}


def _frame(rows):
    return pl.DataFrame(rows, schema=RECORD_SCHEMA, orient="row") if rows else pl.DataFrame(schema=RECORD_SCHEMA)


OPTS = [("A", "Long thoracic nerve"), ("B", "Radial nerve"), ("C", "Ulnar nerve"), ("D", "Axillary nerve")]
EVAL_Q = "Winging of the scapula is caused by injury to which nerve in a patient after mastectomy?"


def test_formatting_per_task():
    records = _frame([
        _record("m1", "mcqa", EVAL_Q, "Long thoracic nerve", OPTS, "A"),
        _record("o1", "open_qa", "What is metformin?", "A biguanide."),
        _record("d1", "dialogue", "Doctor, my head hurts.", "How long has it hurt?"),
    ])
    turns = formatting.conversation(formatting.english_documents(records), "en").to_list()
    assert turns[0][0]["content"].endswith("A. Long thoracic nerve\nB. Radial nerve\nC. Ulnar nerve\nD. Axillary nerve")
    assert turns[0][1]["content"] == "The answer is A: Long thoracic nerve"
    assert turns[1] == [{"role": "user", "content": "What is metformin?"},
                        {"role": "assistant", "content": "A biguanide."}]
    assert [t["role"] for t in turns[2]] == ["user", "assistant"]


def test_arabic_and_bilingual(sample):
    corpus = assemble(sample["training_pool"], sample["evaluation_sets"], sample["accepted_translations"]).corpus
    assert corpus.schema == CORPUS_SCHEMA
    ar = corpus.filter(pl.col("language") == "ar")
    assert ar["messages"].list.get(0).struct.field("content").unique().to_list() == [formatting.SYSTEM_PROMPT["ar"]]
    assert ar["provenance"].struct.field("translation_round").is_not_null().all()
    assert corpus.filter(pl.col("language") == "bilingual").height >= 1


def test_mix_ratio_is_exact_and_stable():
    items = pl.DataFrame({"item_id": [f"i{n:05d}" for n in range(3000)], "source": ["a", "b"] * 1500,
                          "has_ar": [n % 3 != 0 for n in range(3000)]})
    chosen = choose(items, MixConfig(ar_per_en=0.5))
    assert len(chosen["ar"]) == round(0.5 * len(chosen["en"]))
    assert choose(items, MixConfig(ar_per_en=0.5))["ar"].equals(chosen["ar"])
    half_a = choose(items, MixConfig(ar_per_en=None, source_weights={"a": 0.5}))["en"]
    assert 600 < half_a.str.contains(r"[02468]$").sum() < 900  # source a: even ids, about half of 1500 kept


def test_normalise_folds_arabic_variants():
    out = pl.select(a=normalise(pl.lit("أَلـــمٌ  في  الرأس؟")), b=normalise(pl.lit("الم في الراس"))).row(0)
    assert out[0] == out[1]


def test_exact_and_near_dedup():
    long = "A 45 year old man presents with crushing chest pain radiating to the left arm and jaw for two hours"
    train = pl.DataFrame({"item_id": ["a", "b", "c", "d"], "text": [
        long, long.upper() + "!!", long.replace("two hours", "three hours") + " with sweating", "unrelated text"]})
    removed = find_removals(train, pl.DataFrame({"item_id": [], "text": []}, schema={"item_id": pl.String,
                                                                                       "text": pl.String}))
    assert dict(zip(removed["item_id"], removed["reason"])) == {"b": "duplicate_exact", "c": "duplicate_near"}


def test_planted_evaluation_questions_are_removed(sample):
    pool, evals = sample["training_pool"], sample["evaluation_sets"].filter(pl.col("task") == "mcqa").head(40)
    planted = evals.head(20).with_columns(id=pl.lit("planted-exact-") + pl.col("id"), split=pl.lit("train"),
                                          is_eval=pl.lit(False))
    edited = evals.slice(20, 20).with_columns(
        id=pl.lit("planted-edit-") + pl.col("id"), split=pl.lit("train"), is_eval=pl.lit(False),
        question=pl.col("question").str.to_uppercase().str.replace(r"\?$", " ?") + " Explain.",
    )
    result = assemble(pl.concat([pool, planted, edited]), sample["evaluation_sets"],
                      sample["accepted_translations"], mix=MixConfig(ar_per_en=None))
    ids = result.corpus["provenance"].struct.field("item_id")
    assert not ids.str.starts_with("planted").any()
    reasons = result.removed.filter(pl.col("item_id").str.starts_with("planted"))
    assert reasons.height == 40 and reasons["reason"].str.starts_with("contamination").all()
    assert next(c for c in run_checks(result.corpus, sample["evaluation_sets"],) if c.name == "zero_contamination").passed


def test_translation_of_a_contaminated_item_is_dropped(sample):
    pool, acc = sample["training_pool"], sample["accepted_translations"]
    mcqa = acc.filter(pl.col("task") == "mcqa").head(1)
    target = pool.filter(pl.col("id") == mcqa["item_id"][0])
    evals = pl.concat([sample["evaluation_sets"], target.with_columns(id=pl.lit("eval-copy"), split=pl.lit("test"),
                                                                       is_eval=pl.lit(True))])
    result = assemble(pool, evals, acc, mix=MixConfig(ar_per_en=None))
    assert not result.corpus["provenance"].struct.field("item_id").is_in([mcqa["item_id"][0]]).any()
    assert result.removed.filter((pl.col("item_id") == mcqa["item_id"][0]) & (pl.col("language") == "ar")).height == 1


def test_review_decisions(sample):
    acc = sample["accepted_translations"]
    a, b = acc["item_id"][0], acc["item_id"][1]
    edited = json.loads(acc["translation"][0])
    reviewed = pl.DataFrame({"item_id": [a, b], "translation": [json.dumps(edited, ensure_ascii=False), None],
                             "reviewer": ["r1", "r2"], "reviewed_at": ["2025-01-01T00:00:00Z"] * 2,
                             "decision": ["edited", "rejected"]})
    result = assemble(sample["training_pool"], sample["evaluation_sets"], acc, reviewed, MixConfig(ar_per_en=None))
    ar = result.corpus.filter(pl.col("language") == "ar")
    prov = ar.filter(pl.col("provenance").struct.field("item_id") == a)["provenance"][0]
    assert (prov["review_decision"], prov["reviewer"]) == ("edited", "r1")
    assert b not in ar["provenance"].struct.field("item_id").to_list()
    assert "review_rejected" in result.counts()


def test_decisions_on_benchmark_items_are_not_corpus_removals(sample):
    """The review store also verifies benchmark translations: those decisions are not training translations."""
    acc, evals = sample["accepted_translations"], sample["evaluation_sets"]
    reviewed = pl.DataFrame({"item_id": [evals["id"][0]], "translation": [acc["translation"][0]],
                             "reviewer": ["r1"], "reviewed_at": ["2025-01-01T00:00:00Z"], "decision": ["approved"]})
    with_decision = assemble(sample["training_pool"], evals, acc, reviewed, MixConfig(ar_per_en=None))
    without = assemble(sample["training_pool"], evals, acc, mix=MixConfig(ar_per_en=None))
    assert with_decision.counts() == without.counts()
    assert "translation_unknown_item" not in with_decision.counts()
    assert with_decision.corpus.equals(without.corpus)


def test_checks_fail_on_planted_defects(sample):
    result = assemble(sample["training_pool"], sample["evaluation_sets"], sample["accepted_translations"])
    corpus = result.corpus
    assert all(c.passed for c in run_checks(corpus, sample["evaluation_sets"]))
    english_in_ar = corpus.with_columns(messages=pl.when(pl.col("language") == "ar").then(
        formatting.with_system(pl.concat_list(pl.struct(role=pl.lit("user"), content=pl.lit("plain English")),
                                              pl.struct(role=pl.lit("assistant"), content=pl.lit("text"))),
                               pl.lit("ar"))).otherwise("messages"))
    swapped = corpus.with_columns(messages=pl.col("messages").list.reverse())
    leaked = pl.concat([corpus, corpus.head(1).with_columns(id=pl.lit("leak#en"), messages=formatting.with_system(
        pl.concat_list(pl.struct(role=pl.lit("user"), content=pl.lit(sample["evaluation_sets"]["question"][0])),
                       pl.struct(role=pl.lit("assistant"), content=pl.lit("x"))), pl.lit("en")))])
    for defect, check in ((english_in_ar, "arabic_script"), (swapped, "role_alternation"),
                          (corpus.filter(pl.col("language") != "ar"), "mix_ratio"), (leaked, "zero_contamination")):
        outcome = next(c for c in run_checks(defect, sample["evaluation_sets"]) if c.name == check)
        assert not outcome.passed and outcome.blocking, check


def test_atomic_write_keeps_previous_file_on_crash(tmp_path, monkeypatch):
    path = tmp_path / "corpus.parquet"
    old = pl.DataFrame({"a": [1, 2]})
    write.write_parquet_atomic(old, path)

    def crash(*args, **kwargs):
        raise OSError("disk died mid-write")

    monkeypatch.setattr(write.pq.ParquetWriter, "write_table", crash)
    with pytest.raises(OSError):
        write.write_parquet_atomic(pl.DataFrame({"a": [3]}), path)
    assert pl.read_parquet(path).equals(old)
    assert os.listdir(tmp_path) == ["corpus.parquet"]


def test_datasets_load_and_chat_template(sample, tmp_path):
    datasets = pytest.importorskip("datasets")
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    corpus = assemble(sample["training_pool"], sample["evaluation_sets"], sample["accepted_translations"]).corpus
    path = write.write_parquet_atomic(corpus, tmp_path / "corpus.parquet")
    loaded = datasets.load_dataset("parquet", data_files=str(path), split="train")
    assert loaded.num_rows == corpus.height
    write.save_hf_dataset(path, tmp_path / "hf")
    assert datasets.load_from_disk(str(tmp_path / "hf")).num_rows == corpus.height
    raw = Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    # A Mixtral-like template that refuses out-of-order roles, as strict templates do.
    template = (
        "{{ bos_token }}{% for m in messages %}"
        "{% if m['role'] == 'system' %}{% if not loop.first %}{{ raise_exception('system not first') }}{% endif %}"
        "{{ m['content'] + '\n' }}{% elif (m['role'] == 'user') != (loop.index0 % 2 == 1) %}"
        "{{ raise_exception('roles must alternate user/assistant') }}"
        "{% elif m['role'] == 'user' %}{{ '[INST] ' + m['content'] + ' [/INST]' }}"
        "{% else %}{{ m['content'] + eos_token }}{% endif %}{% endfor %}"
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                        chat_template=template)
    rendered = [tokenizer.apply_chat_template(row["messages"], tokenize=False) for row in loaded]
    assert all("[INST]" in r for r in rendered)


def test_card_counts_tokens_with_mixtral_tokenizer(sample, tmp_path):
    pytest.importorskip("mistral_common")
    from bimed_assets.corpus import card, tokens

    assert tokens.tokenizer().vocab_size() == 32_000
    result = assemble(sample["training_pool"], sample["evaluation_sets"], sample["accepted_translations"])
    composition = card.composition(result.corpus)
    assert composition["records"].sum() == result.corpus.height and composition["tokens"].min() > 0
    # Counted word by word, exactly the tokens of each message content encoded whole.
    contents = result.corpus.select(pl.col("messages").explode(empty_as_null=True).struct.field("content"))
    assert composition["tokens"].sum() == tokens.count(contents["content"]).sum()
    readme = card.write_card(composition, result.counts(), tmp_path, "corpus.parquet").read_text()
    assert "## By language" in readme and (tmp_path / "tokens_by_source.png").stat().st_size > 0

"""The CPU path end to end: QLoRA training of the tiny Mixtral (NF4 attention and fused experts, as on a GPU)
under a real Pipes session, resume, evaluating the saved adapter, and the merged export."""

import json
import sys
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch.nn.utils import parametrize
from transformers import AutoModelForCausalLM, AutoTokenizer

from training_jobs.config import EvalConfig, ExportConfig, refuse_unverified
from training_jobs.evaluate import load_model, read_items
from training_jobs.export import export_merged
from training_jobs.mcqa import build_prompt, encode_pair, loglikelihoods
from training_jobs.model import adapter_coverage, check_coverage, load_base, lora_config
from training_jobs.pipes import config_from
from training_jobs.quantize import EXPERT_PARAMS, storage_bytes
from training_jobs.train import TrainConfig
from training_jobs.train import main as train_main

REPO = Path(__file__).resolve().parents[2]
KINDS = {"attention": 8, "experts.gate_up_proj": 2, "experts.down_proj": 2, "router": 2}


def run_under_pipes(module: str, extras: dict) -> dict:
    """Materialize a one-asset job whose body runs `python -m module` through PipesSubprocessClient."""

    @dg.asset
    def job_asset(context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient):
        return pipes.run(command=[sys.executable, "-m", module], context=context, extras=extras).get_materialize_result()

    result = dg.materialize([job_asset], resources={"pipes": dg.PipesSubprocessClient(cwd=str(REPO))})
    assert result.success
    [mat] = result.asset_materializations_for_node("job_asset")
    return {k: v.value for k, v in mat.metadata.items()}


def tiny_train_extras(tiny_model, corpus, output_dir, max_steps) -> dict:
    return {"model_path": str(tiny_model), "corpus": str(corpus), "output_dir": str(output_dir),
            "max_steps": max_steps, "lora_rank": 8, "lora_alpha": 16, "learning_rate": 5e-3, "max_length": 128,
            "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1, "logging_steps": 1,
            "save_steps": 6, "lr_scheduler_type": "constant"}


@pytest.fixture(scope="module")
def trained(tiny_model, corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return run_under_pipes("training_jobs.train", tiny_train_extras(tiny_model, corpus, out, 12))


def test_pipes_metadata_reports_training(trained):
    meta = trained
    assert meta["global_step"] == 12 and meta["resumed_from"] == ""
    assert meta["lora_coverage"] == KINDS
    assert 0 < meta["trainable_share_pct"] < 100
    assert meta["trainable_share_pct"] == pytest.approx(100 * meta["trainable_params"] / meta["total_params"], 1e-3)
    assert meta["tokens_per_second"] > 0 and meta["train_tokens"] > 0
    history = meta["loss_history"]
    assert [h["step"] for h in history] == list(range(1, 13))
    assert all(h["learning_rate"] == 5e-3 and h["tokens_per_second"] > 0 for h in history)
    first, last = (sum(h["loss"] for h in part) / 3 for part in (history[:3], history[-3:]))
    assert last < first - 0.1, history  # the loss goes down on the tiny set


def test_experts_are_stored_in_4bit(tiny_model):
    model = load_base(str(tiny_model), "nf4")
    experts = model.model.layers[0].mlp.experts
    for name in EXPERT_PARAMS:
        assert parametrize.is_parametrized(experts, name)
        assert experts.parametrizations[name].original.dtype == torch.uint8
    bf16_bytes = 2 * sum(getattr(experts, name).numel() for name in EXPERT_PARAMS)
    stored = storage_bytes(experts)
    assert stored["dense"] == 0
    assert stored["nf4_data"] + stored["quant_state"] <= 0.35 * bf16_bytes, stored
    dense = AutoModelForCausalLM.from_pretrained(tiny_model).model.layers[0].mlp.experts
    for name in EXPERT_PARAMS:  # NF4 keeps every weight within a block's quantization step
        error = (getattr(experts, name) - getattr(dense, name)).abs().max()
        assert 0 < error < 0.2 * getattr(dense, name).abs().max()


def test_unquantized_expert_fails_the_coverage_check_when_4bit_was_asked(tiny_model):
    model = get_peft_model(load_base(str(tiny_model), "nf4"), lora_config(2, rank=4, alpha=8))
    assert check_coverage(model, 2, quantized=True) == KINDS
    experts = model.base_model.model.model.layers[1].mlp.experts.get_base_layer()
    parametrize.remove_parametrizations(experts, "down_proj", leave_parametrized=False)
    experts.down_proj = torch.nn.Parameter(torch.zeros(4, 64, 128), requires_grad=False)
    with pytest.raises(RuntimeError, match=r"not quantized: \['base_model.model.model.layers.1.mlp.experts.down_proj'\]"):
        check_coverage(model, 2, quantized=True)


def test_lora_on_4bit_experts_leaves_no_parametrization_behind(tiny_model):
    """PEFT adds each expert LoRA as a parametrization for one forward; on top of the NF4 one it must go again."""
    model = get_peft_model(load_base(str(tiny_model), "nf4"), lora_config(2, rank=4, alpha=8))
    ids = torch.tensor([[5, 6, 7, 8]])
    first = model(input_ids=ids).logits
    second = model(input_ids=ids).logits
    experts = model.base_model.model.model.layers[0].mlp.experts.get_base_layer()
    assert [len(experts.parametrizations[name]) for name in EXPERT_PARAMS] == [1, 1]
    assert torch.equal(first, second)


def test_adapter_loads_with_peft_on_a_4bit_base(trained, tiny_model):
    meta = trained
    adapter = Path(meta["adapter_dir"])
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 8
    model = PeftModel.from_pretrained(load_base(str(tiny_model), "nf4"), adapter)
    assert adapter_coverage(model) == KINDS
    assert check_coverage(model, 2, quantized=True) == KINDS
    experts_b = model.base_model.model.model.layers[0].mlp.experts.lora_B["default"].weight
    assert experts_b.abs().sum() > 0  # trained, not the zero initialisation


def test_resume_from_checkpoint(trained, tiny_model, corpus, caplog):
    out = Path(trained["adapter_dir"]).parent
    assert (out / "checkpoint-12").is_dir()
    extras = tiny_train_extras(tiny_model, corpus, out, 14)
    argv = [a for k, v in extras.items() for a in (f"--{k.replace('_', '-')}", v if isinstance(v, str) else json.dumps(v))]
    with caplog.at_level("INFO", logger="training_jobs"):
        train_main(argv)  # the plain CLI path; resume defaults to the last checkpoint in output_dir
    state = json.loads((out / "checkpoint-14" / "trainer_state.json").read_text())
    assert state["global_step"] == 14
    assert [h["step"] for h in state["log_history"] if "loss" in h][:13] == list(range(1, 14))
    assert f"resuming from {out / 'checkpoint-12'}" in caplog.text


def test_evaluate_adapter_under_pipes(trained, tiny_model, mcqa_items, tmp_path):
    meta = trained
    items = tmp_path / "items.parquet"
    pq.write_table(pa.Table.from_pylist(mcqa_items), items)
    ev = run_under_pipes("training_jobs.evaluate", {
        "model_path": str(tiny_model), "adapter_path": meta["adapter_dir"], "items": str(items),
        "output_dir": str(tmp_path / "eval"), "batch_size": 4, "max_new_tokens": 4})
    assert ev["items"] == 4 and ev["unverified_items"] == 0 and ev["models"] == ["base", "adapted"]
    for model in ("base", "adapted"):
        assert set(ev["scores"][model]) >= {"medqa/en", "medqa/ar", "medqa/bilingual", "all/bilingual"}
        assert ev[f"acc/{model}/all/bilingual"] == ev["scores"][model]["all/bilingual"]["acc"]
        for batch in (1, 4):
            assert ev[f"generation/{model}/batch_{batch}/generated_tokens"] == 4 * 4
            assert ev[f"generation/{model}/batch_{batch}/tokens_per_second"] > 0
    predictions = pq.read_table(tmp_path / "eval" / "predictions.parquet").to_pylist()
    assert [(p["model"], p["item_id"]) for p in predictions] == [
        (model, item["item_id"]) for model in ("base", "adapted") for item in mcqa_items]


def test_base_scores_with_the_adapter_switched_off_are_the_base_models(trained, tiny_model, mcqa_items, tmp_path):
    """The report's "base" column comes from the adapted model with its adapter disabled: it must be exactly
    the plain base model's, and the trained adapter must change the scores."""
    items = tmp_path / "items.parquet"
    pq.write_table(pa.Table.from_pylist(mcqa_items), items)
    tok = AutoTokenizer.from_pretrained(tiny_model)
    base = load_base(str(tiny_model), "nf4", router_aux_loss_coef=0.0).eval()
    adapted = load_model(EvalConfig(str(tiny_model), str(items), adapter_path=trained["adapter_dir"]))
    prompt = build_prompt(mcqa_items[0]["question"], mcqa_items[0]["options"], "en")
    pairs = [encode_pair(tok, prompt, " " + c) for c in mcqa_items[0]["options"]]
    plain = loglikelihoods(base, pairs)
    with adapted.disable_adapter():
        switched_off = loglikelihoods(adapted, pairs)
    assert switched_off == pytest.approx(plain, abs=1e-5)
    assert loglikelihoods(adapted, pairs) != pytest.approx(plain, abs=1e-3)


def test_merged_export_scores_as_base_plus_adapter(trained, tiny_model, mcqa_items, tmp_path):
    """The merged model (dense float32 here) gives the MCQA log-likelihoods of the 4-bit base + adapter, and is a
    plain transformers model with the tokenizer and chat template."""
    out = tmp_path / "merged"
    facts = export_merged(ExportConfig(str(tiny_model), trained["adapter_dir"], str(out), dtype="float32"))
    assert facts["chat_template"] and facts["size_bytes"] > 0
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    assert merged.config.output_router_logits is False and merged.config.use_cache is True
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False) == "<s>[INST] hi [/INST]"
    adapted = load_model(EvalConfig(str(tiny_model), "unused", adapter_path=trained["adapter_dir"]))
    pairs = []
    for item in mcqa_items:
        prompt = build_prompt(item["question"], item["options"], item["language"])
        pairs += [encode_pair(tok, prompt, " " + c) for c in item["options"]]
    expected, got = loglikelihoods(adapted, pairs), loglikelihoods(merged, pairs)
    with adapted.disable_adapter():
        base = loglikelihoods(adapted, pairs)
    # On CPUs with AVX512-BF16, bitsandbytes' 4-bit kernel computes in bfloat16, so base + adapter is itself rounded
    # (seen: 1.7e-3 on a log-likelihood of -13, where the adapter moved it by 0.09); so the bound is a share of what
    # the adapter changes: a merge that left out the adapter, or half of it, is off by half of that or more.
    adapter_effect = max(abs(a - b) for a, b in zip(expected, base))
    assert adapter_effect > 1e-2
    assert max(abs(a - b) for a, b in zip(expected, got)) <= 0.02 * adapter_effect


def test_unverified_items_are_refused_unless_allowed(mcqa_items, tmp_path):
    mcqa_items[1]["verified"] = False
    del mcqa_items[3]["verified"]  # no flag: not reviewed either
    items = tmp_path / "items.parquet"
    pq.write_table(pa.Table.from_pylist(mcqa_items), items)
    read = read_items(str(items), None)
    with pytest.raises(ValueError, match=r"2 of 4 benchmark items are not verified .*'medqa/ar': 1, "
                                         r"'mmlu_clinical_knowledge/ar': 1"):
        refuse_unverified(read, allow=False)
    assert refuse_unverified(read, allow=True) == 2


def test_missing_expert_or_router_adapter_fails_loudly(tiny_model):
    base = load_base(str(tiny_model), "none")
    attention_only = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    with pytest.raises(RuntimeError, match="experts.gate_up_proj.*router|router.*experts"):
        check_coverage(attention_only, 2)
    full = get_peft_model(load_base(str(tiny_model), "none"), lora_config(2, rank=4, alpha=8))
    assert check_coverage(full, 2) == KINDS


def test_unknown_config_key_is_refused():
    with pytest.raises(ValueError, match="lora_rnak"):
        config_from(TrainConfig, {"model_path": "m", "corpus": "c", "output_dir": "o", "lora_rnak": 8})

"""The merged export: the adapter folded into a dense copy of the base, saved as a standard Hugging Face model with
the tokenizer and its chat template (loadable by transformers, and so by vLLM), as BiMediX released its models.

    python -m training_jobs.export --model-path BASE --adapter-path RUN/adapter --output-dir RUN/merged

The base is loaded exactly as training saw it (by default NF4, attention and experts), dequantized, and the LoRA
delta of attention, experts and router added to those weights: the merged model computes what base + adapter
computed, not base-in-bf16 + adapter (a slightly different model from the one that was trained and evaluated).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from peft import PeftModel
from peft.tuners.lora.layer import LoraLayer, ParamWrapper
from transformers import AutoConfig, AutoTokenizer

from training_jobs.config import ExportConfig
from training_jobs.model import load_base
from training_jobs.pipes import job, log, report

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def lora_deltas(model: PeftModel) -> dict[str, torch.Tensor]:
    """Each adapted weight's LoRA delta (PEFT's own `get_delta_weight`), by the weight's name in the base model."""
    deltas = {}
    for name, module in model.base_model.model.named_modules():
        if isinstance(module, LoraLayer) and "default" in module.lora_A:
            owner = name.replace(".base_layer", "")  # a parameter wrapped twice (experts) sits under base_layer
            target = f"{owner}.{module.parameter_name}" if isinstance(module, ParamWrapper) else f"{owner}.weight"
            deltas[target] = module.get_delta_weight("default").detach()
    return deltas


def merged_model(cfg: ExportConfig):
    """The adapter is attached to the base as training had it (PEFT nests the two wrappers of a layer's experts
    differently on a 4-bit and on a dense base, so the adapter loads only onto the former), its deltas are taken,
    the base dequantized and the deltas added: PEFT's own merge would re-quantize 4-bit linear layers and cannot
    write into a dequantized (computed) expert tensor."""
    if cfg.dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, not {cfg.dtype!r}")
    dtype = DTYPES[cfg.dtype]
    base = load_base(cfg.model_path, cfg.quantize, router_aux_loss_coef=0.0, device=cfg.device)
    adapted = PeftModel.from_pretrained(base, cfg.adapter_path)
    deltas = lora_deltas(adapted)
    model = adapted.unload()
    if getattr(model, "hf_quantizer", None):
        model = model.dequantize(dtype=dtype)
    model = model.to(dtype)  # the weights that were never quantized (embeddings, norms, router, LM head) too
    params = dict(model.named_parameters())
    if missing := set(deltas) - set(params):
        raise RuntimeError(f"adapted weights not found in the base model: {sorted(missing)[:8]}")
    with torch.no_grad():
        for name, delta in deltas.items():
            params[name].add_(delta.to(params[name].dtype))
    return model


def export_merged(cfg: ExportConfig) -> dict:
    merged = merged_model(cfg)
    saved = AutoConfig.from_pretrained(cfg.model_path)
    # As the base's own checkpoint has them, not as loaded for training or scoring.
    for key in ("use_cache", "output_router_logits", "router_aux_loss_coef"):
        setattr(merged.config, key, getattr(saved, key))
    out = Path(cfg.output_dir)
    merged.save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(cfg.adapter_path)  # training saved it there, chat template included
    tokenizer.save_pretrained(out)
    return {"path": str(out), "dtype": cfg.dtype, "parameters": sum(p.numel() for p in merged.parameters()),
            "size_bytes": sum(f.stat().st_size for f in out.glob("*.safetensors")),
            "chat_template": bool(tokenizer.chat_template), "base_model_path": cfg.model_path,
            "adapter_path": cfg.adapter_path}


def main(argv: list[str] | None = None) -> None:
    with job(ExportConfig, argv) as (context, cfg):
        log(context, f"config {json.dumps(asdict(cfg))}")
        facts = export_merged(cfg)
        log(context, f"merged model written: {json.dumps(facts)}")
        report(context, facts)


if __name__ == "__main__":
    main()

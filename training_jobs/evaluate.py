"""Evaluation: MCQA accuracy (lm-eval log-likelihood method) per benchmark and language, and generation throughput.

    python -m training_jobs.evaluate --model-path DIR [--adapter-path DIR] --items items.parquet [--output-dir DIR]

Items Parquet: question, options (list of strings), answer (letter), language (en|ar), benchmark, and `verified`
(benchmarks need 100% human review: unverified items are refused unless `allow_unverified`) and `item_id`.
With an adapter, the base model is scored too, with the adapter switched off, so that one load serves both.
"""

from __future__ import annotations

import json
import statistics
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import torch
from transformers import AutoTokenizer

from training_jobs.config import EvalConfig, refuse_unverified
from training_jobs.mcqa import LETTERS, build_prompt, choice_texts, encode_pair, loglikelihoods, pick
from training_jobs.model import load_base
from training_jobs.pipes import job, log, report


def load_model(cfg: EvalConfig):
    model = load_base(cfg.model_path, cfg.quantize, router_aux_loss_coef=0.0)
    if cfg.adapter_path:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, cfg.adapter_path)
    model.config.use_cache = True
    return model.eval()


# Where lm-eval's HFLM looks for the model's context length, in its order.
CONTEXT_ATTRS = ("n_positions", "max_position_embeddings", "n_ctx")
UNSET_MAX_LENGTH = 1000000000000000019884624838656  # transformers' model_max_length when the tokenizer has none


def context_length(model, tokenizer) -> int:
    """lm-eval HFLM's `max_length` when none is given: the model config's context, else the tokenizer's, else 2048."""
    for attr in CONTEXT_ATTRS:
        if hasattr(model.config, attr):
            return getattr(model.config, attr)
    if tokenizer.model_max_length != UNSET_MAX_LENGTH:
        return tokenizer.model_max_length
    return 2048


def prompt_of(item: dict, cfg: EvalConfig) -> str:
    return build_prompt(item["question"], item["options"], item["language"], item["benchmark"], cfg.prompt)


def score_items(model, tokenizer, items: list[dict], cfg: EvalConfig, max_length: int) -> list[dict]:
    """One row per item with both predictions; all choices of all items go through the model in batches."""
    pairs, spans = [], []
    for item in items:
        prompt = prompt_of(item, cfg)
        choices = choice_texts(item["options"], cfg.continuation, item["benchmark"])
        spans.append((len(pairs), choices))
        pairs += [encode_pair(tokenizer, prompt, " " + c, cfg.add_bos_token) for c in choices]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    scores = loglikelihoods(model, pairs, cfg.batch_size, pad, max_length)
    rows = []
    for item, (start, choices) in zip(items, spans):
        pred, pred_norm = pick(scores[start:start + len(choices)], choices)
        gold = LETTERS.index(item["answer"].strip().upper())
        rows.append({"item_id": item.get("item_id"), "benchmark": item["benchmark"], "language": item["language"],
                     "gold": gold, "pred": pred, "pred_norm": pred_norm, "acc": float(pred == gold),
                     "acc_norm": float(pred_norm == gold)})
    return rows


def summarize(rows: list[dict]) -> dict[str, dict]:
    """acc/acc_norm per benchmark in each language and bilingual (both languages pooled), and over all benchmarks."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        for bench in (r["benchmark"], "all"):
            for lang in (r["language"], "bilingual"):
                groups.setdefault(f"{bench}/{lang}", []).append(r)
    return {
        key: {"n": len(g), "acc": sum(r["acc"] for r in g) / len(g), "acc_norm": sum(r["acc_norm"] for r in g) / len(g)}
        for key, g in sorted(groups.items())
    }


@torch.no_grad()
def generation_throughput(model, tokenizer, prompts: list[str], batch_size: int, max_new_tokens: int) -> dict:
    """Greedy generation of exactly max_new_tokens per prompt in batches of batch_size: tokens/s and the latency
    of a batch (a request at batch 1)."""
    tokenizer.padding_side = "left"  # generation continues from the right edge
    device = next(model.parameters()).device
    # One untimed call first: the first generate pays for allocations and kernel selection, which would
    # otherwise count against whichever model (base or adapted) is measured first.
    warm = tokenizer(prompts[:batch_size], return_tensors="pt", padding=True).to(device)
    model.generate(**warm, max_new_tokens=2, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    latencies, generated = [], 0
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(prompts[start:start + batch_size], return_tensors="pt", padding=True).to(device)
        t0 = time.perf_counter()
        out = model.generate(**batch, max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=tokenizer.pad_token_id)
        if device.type == "cuda":
            torch.cuda.synchronize()
        latencies.append(time.perf_counter() - t0)
        generated += (out.shape[1] - batch["input_ids"].shape[1]) * out.shape[0]
    return {"batch_size": batch_size, "generated_tokens": generated,
            "tokens_per_second": round(generated / sum(latencies), 2),
            "batch_latency_s_median": round(statistics.median(latencies), 4)}


def generation_runs(model, tokenizer, prompts: list[str], cfg: EvalConfig) -> dict[str, dict]:
    """Throughput as the seed reports it: at batch 1 (one request's latency) and at the configured batch size."""
    sizes = sorted({1, cfg.batch_size})
    return {f"batch_{b}": generation_throughput(model, tokenizer, prompts, b, cfg.max_new_tokens) for b in sizes}


def setup(model, path: str) -> dict:
    """What the throughput was measured on: the model, its weights' precision and the device."""
    device = next(model.parameters()).device
    quant = getattr(model.config, "quantization_config", None)
    compute = str(model.dtype).removeprefix("torch.")
    precision = (f"NF4 weights (attention and experts), {compute} compute" if quant else compute)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    return {"model_name": Path(path).name, "precision": precision, "device": f"{device} ({name})"}


REQUIRED = ["question", "options", "answer", "language", "benchmark"]


def read_items(path: str, limit: int | None) -> list[dict]:
    names = pq.read_schema(path).names
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ValueError(f"{path}: benchmark items lack the columns {missing}")
    items = pq.read_table(path, columns=REQUIRED + [c for c in ("item_id", "verified") if c in names]).to_pylist()
    return items[:limit] if limit is not None else items


def variants(model, cfg: EvalConfig):
    """(name, context) per model to score: the base alone, or with an adapter the base (adapter off) first."""
    if not cfg.adapter_path:
        return [("base", nullcontext)]
    return ([("base", model.disable_adapter)] if cfg.compare_base else []) + [("adapted", nullcontext)]


def evaluate(context, cfg: EvalConfig) -> dict:
    log(context, f"config {json.dumps(asdict(cfg))}")
    items = read_items(cfg.items, cfg.limit)  # refused before the (long) model load
    unverified = refuse_unverified(items, cfg.allow_unverified)
    tokenizer = AutoTokenizer.from_pretrained(cfg.adapter_path or cfg.model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_model(cfg)
    max_length = cfg.max_length or context_length(model, tokenizer)
    log(context, f"max_length {max_length}{'' if cfg.max_length else ' (the model context, as lm-eval)'}")
    prompts = [prompt_of(i, cfg) for i in items[: cfg.generation_prompts]]
    scores, generation, scoring_s, predictions = {}, {}, {}, []
    for name, switch in variants(model, cfg):
        with switch():
            t0 = time.perf_counter()
            rows = score_items(model, tokenizer, items, cfg, max_length)
            scoring_s[name] = round(time.perf_counter() - t0, 3)
            generation[name] = generation_runs(model, tokenizer, prompts, cfg) if prompts else {}
        scores[name] = summarize(rows)
        predictions += [{"model": name, **r} for r in rows]
        for key, s in scores[name].items():
            log(context, f"mcqa {name} {key}: acc={s['acc']:.4f} acc_norm={s['acc_norm']:.4f} n={s['n']}")
        log(context, f"generation {name} {json.dumps(generation[name])}")
    if cfg.output_dir:
        out = Path(cfg.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(predictions), out / "predictions.parquet")
        (out / "scores.json").write_text(json.dumps(scores, indent=1))
    return {
        "items": len(items),
        "unverified_items": unverified,
        "models": list(scores),
        "scores": scores,
        "generation": generation,
        "generation_setup": setup(model, cfg.model_path),
        "max_length": max_length,
        "scoring_s": scoring_s,
        # Flat numbers (plotted across materializations) for the overall scores only; `scores` has every one.
        **{f"acc/{name}/{key}": s["acc"] for name, per in scores.items() for key, s in per.items()
           if key.startswith("all/")},
        **{f"generation/{name}/{run}/{k}": v for name, g in generation.items() for run, r in g.items()
           for k, v in r.items() if k != "batch_size"},
    }


def main(argv: list[str] | None = None) -> None:
    with job(EvalConfig, argv) as (context, cfg):
        report(context, evaluate(context, cfg))


if __name__ == "__main__":
    main()

"""QLoRA training and evaluation throughput on full-width Mixtral-8x7B layers (random weights) on one GPU.

    .venv/bin/python bench/qlora_gpu.py --layers 2 4 --seq-len 4096 --steps 5

For each layer count it builds a random Mixtral-8x7B-shaped model (hidden 4096, 8 experts, top-2, intermediate 14336,
vocab 32000), loads it through the training job's own loader (NF4 attention and fused experts; the run fails unless
every expert parameter is 4-bit) and trains with the job's SFTTrainer settings (LoRA r=128 on attention, experts and
router, gradient checkpointing, router aux loss), one sequence of --seq-len tokens per step. Extrapolation to 32
layers: step time, weight memory and peak memory are fitted as a + b * layers by least squares over the layer counts
measured (the embedding, LM head and loss are the constant a; each decoder layer adds b, reported as "per layer"),
and tokens/s at 32 layers is seq_len / (a + 32 b). --experts-implementation picks transformers' MoE forward
(`grouped_mm`, its default, `batched_mm`, `eager`: a loop over experts), to compare them on the 4-bit experts.
Evaluation: MCQA log-likelihood scoring (items/s) and greedy generation (tokens/s, batch latency) on the same layers,
not extrapolated.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

ANCHOR = 632e6 / (35 * 3600 * 8)  # BiMediX: 632M tokens in ~35 h on 8 A100s, per GPU
FULL_LAYERS = 32


def mixtral_8x7b(layers: int):
    from transformers import MixtralConfig

    return MixtralConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=layers, num_attention_heads=32,
                         num_key_value_heads=8, num_local_experts=8, num_experts_per_tok=2, vocab_size=32000,
                         max_position_embeddings=32768, rope_theta=1e6, router_aux_loss_coef=0.02)


def build_random(layers: int, where: Path) -> Path:
    """Random bf16 weights initialised on the GPU, saved so that the job's from_pretrained path quantizes them."""
    from transformers import MixtralForCausalLM

    with torch.device("cuda"):
        model = MixtralForCausalLM(mixtral_8x7b(layers)).to(torch.bfloat16)
    path = where / f"mixtral_{layers}l"
    model.save_pretrained(path)
    del model
    torch.cuda.empty_cache()
    return path


class StepTimer:
    """Wall time of each optimizer step, synchronised with the GPU."""

    def __init__(self):
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                torch.cuda.synchronize()
                timer.t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                torch.cuda.synchronize()
                timer.times.append(time.perf_counter() - timer.t0)

        self.times: list[float] = []
        self.callback = Callback()


def train_bench(path: Path, args, out_dir: Path) -> tuple[dict, torch.nn.Module]:
    from datasets import Dataset
    from trl import SFTTrainer

    from training_jobs.model import check_coverage, load_base, lora_config
    from training_jobs.train import TrainConfig, sft_config

    torch.cuda.reset_peak_memory_stats()
    model = load_base(str(path), args.quantize)
    model.set_experts_implementation(args.experts_implementation)
    weights_gb = torch.cuda.memory_allocated() / 2**30
    cfg = TrainConfig(model_path=str(path), corpus="", output_dir=str(out_dir), max_steps=args.warmup + args.steps,
                      per_device_train_batch_size=1, gradient_accumulation_steps=1, max_length=args.seq_len,
                      packing=False, logging_steps=1, save_steps=10**9, lora_rank=args.rank, lora_alpha=args.alpha)
    ids = torch.randint(0, model.config.vocab_size, (cfg.max_steps, args.seq_len)).tolist()
    timer = StepTimer()
    trainer = SFTTrainer(model=model, args=sft_config(cfg), train_dataset=Dataset.from_dict({"input_ids": ids}),
                         peft_config=lora_config(model.config.num_hidden_layers, args.rank, args.alpha), callbacks=[timer.callback])
    check_coverage(trainer.model, model.config.num_hidden_layers, quantized=args.quantize != "none")
    trainable, total = trainer.model.get_nb_trainable_parameters()
    trainer.train()
    step_s = sorted(timer.times[args.warmup:])[len(timer.times[args.warmup:]) // 2]
    result = {"step_s": step_s, "tokens_per_s": args.seq_len / step_s, "weights_gb": weights_gb,
              "peak_gb": torch.cuda.max_memory_allocated() / 2**30, "trainable_pct": 100 * trainable / total}
    return result, trainer.model


@torch.no_grad()
def eval_bench(model, args) -> dict:
    from training_jobs.mcqa import loglikelihoods

    model.eval()
    vocab = model.config.vocab_size
    pairs = [(torch.randint(0, vocab, (args.eval_prompt_len,)).tolist(), torch.randint(0, vocab, (8,)).tolist())
             for _ in range(4 * args.eval_batch)]
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    loglikelihoods(model, pairs, batch_size=args.eval_batch)
    torch.cuda.synchronize()
    items_s = len(pairs) / 4 / (time.perf_counter() - t0)  # 4 choices per item
    prompt = torch.randint(0, vocab, (args.eval_batch, args.eval_prompt_len), device="cuda")
    model.config.use_cache = True
    t0 = time.perf_counter()
    model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=args.new_tokens,
                   min_new_tokens=args.new_tokens, do_sample=False)
    torch.cuda.synchronize()
    latency = time.perf_counter() - t0
    return {"mcqa_items_s": items_s, "gen_tokens_s": args.eval_batch * args.new_tokens / latency,
            "gen_latency_s": latency}


def fit(xs: list[int], ys: list[float], at: int) -> float:
    """Least-squares line through (layers, value), evaluated at `at` layers."""
    n, mx, my = len(xs), sum(xs) / len(xs), sum(ys) / len(ys)
    if n == 1:
        raise SystemExit("give at least two --layers counts to extrapolate")
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my + slope * (at - mx)


def report(args, rows: dict[int, dict]) -> str:
    layers = sorted(rows)
    step32 = fit(layers, [rows[n]["step_s"] for n in layers], FULL_LAYERS)
    peak32 = fit(layers, [rows[n]["peak_gb"] for n in layers], FULL_LAYERS)
    weights32 = fit(layers, [rows[n]["weights_gb"] for n in layers], FULL_LAYERS)
    per_layer = {k: fit(layers, [rows[n][k] for n in layers], 1) - fit(layers, [rows[n][k] for n in layers], 0)
                 for k in ("step_s", "weights_gb", "peak_gb")}
    tps32 = args.seq_len / step32
    lines = [
        ("| layers | step s | train tokens/s | weights GiB | peak GiB | trainable % | MCQA items/s | gen tokens/s "
        "| gen batch latency s |"),
        "|---|---|---|---|---|---|---|---|---|",
        *(f"| {n} | {r['step_s']:.3f} | {r['tokens_per_s']:.0f} | {r['weights_gb']:.1f} | {r['peak_gb']:.1f} "
          f"| {r['trainable_pct']:.3f} | {r['mcqa_items_s']:.1f} | {r['gen_tokens_s']:.0f} | {r['gen_latency_s']:.2f} |"
          for n, r in sorted(rows.items())),
        (f"| per layer (slope b) | {per_layer['step_s']:.3f} | | {per_layer['weights_gb']:.2f} "
        f"| {per_layer['peak_gb']:.2f} | | | | |"),
        (f"| **{FULL_LAYERS} (extrapolated)** | {step32:.3f} | **{tps32:.0f}** | **{weights32:.1f}** | **{peak32:.1f}** "
        "| | | | |"),
        "",
        (f"Anchor: BiMediX ≈ {ANCHOR:.0f} tokens/s per A100; target ≥ {2 * ANCHOR:.0f} tokens/s on one H100. "
        f"Extrapolated: {tps32:.0f} tokens/s ({tps32 / ANCHOR:.2f}× the anchor); peak memory {peak32:.1f} GiB "
        f"of {torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB."),
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, nargs="+", default=[2, 4], help="decoder layer counts to measure")
    p.add_argument("--seq-len", type=int, default=4096)
    p.add_argument("--steps", type=int, default=5, help="timed optimizer steps (median) after --warmup")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rank", type=int, default=128)
    p.add_argument("--alpha", type=int, default=64)
    p.add_argument("--quantize", default="nf4", choices=["nf4", "none"])
    p.add_argument("--experts-implementation", default="grouped_mm", choices=["grouped_mm", "batched_mm", "eager"])
    p.add_argument("--eval-batch", type=int, default=8)
    p.add_argument("--eval-prompt-len", type=int, default=512)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "qlora_gpu.md")
    args = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench/qlora_gpu.py needs a CUDA GPU and found none (torch.cuda.is_available() is False); "
                 "run it on a GPU node with the `train` and `gpu` extras installed.")

    rows = {}
    work = Path(tempfile.mkdtemp(prefix="qlora_bench_"))
    try:
        for n in sorted(args.layers):
            path = build_random(n, work)
            rows[n], model = train_bench(path, args, work / f"run_{n}")
            rows[n] |= eval_bench(model, args)
            print(n, rows[n], flush=True)
            del model
            torch.cuda.empty_cache()
            shutil.rmtree(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = report(args, rows)
    gpu = torch.cuda.get_device_name(0)
    args.out.write_text(
        f"# QLoRA on Mixtral-8x7B-shaped layers, one GPU\n\n`{' '.join(sys.argv)}` on {gpu}, torch {torch.__version__}, "
        f"{platform.node()}; seq len {args.seq_len}, batch 1, LoRA r={args.rank} α={args.alpha}, weights "
        f"{args.quantize}, experts forward {args.experts_implementation}, median of "
        f"{args.steps} steps after {args.warmup} warm-up. Method: see the docstring of bench/qlora_gpu.py.\n\n"
        f"{table}\n"
    )
    print(table)


if __name__ == "__main__":
    main()

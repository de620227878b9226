"""Exact storage of Mixtral-8x7B's base weights as the training job loads them (NF4 attention and fused experts),
measured on CPU on full-size layers, extrapolated to the 32-layer model.

    .venv/bin/python bench/qlora_memory.py [--layers 2]

It builds a random Mixtral with Mixtral-8x7B's shapes (hidden 4096, intermediate 14336, 8 experts, 32 heads / 8 KV
heads, vocab 32000) but --layers decoder layers, saves it in bf16 and loads it through the job's own loader
(`training_jobs.model.load_base`, quantize=nf4, on CPU: bitsandbytes stores the same 4-bit data and quantization
states on CPU as on CUDA). It then counts bytes tensor by tensor (`training_jobs.quantize.storage_bytes`): the
4-bit data, their quantization states (absmax, nested absmax and code books of the double quantization), and the
dense rest. Method of the extrapolation: every decoder layer has the same shapes, so the 32-layer model holds
exactly 32 × one layer's bytes (the script checks that the measured layers agree to the byte) + the parts outside
the layers (embeddings, final norm, LM head), measured once. Dense weights are counted in bf16, the dtype they have
on a GPU (the CPU load keeps them in float32).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qlora_gpu import FULL_LAYERS, mixtral_8x7b  # bench/, the script directory, is on sys.path

GIB = 2**30
TARGET_GIB = 26


def build_random(layers: int, where: Path) -> Path:
    from transformers import MixtralForCausalLM

    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    try:
        model = MixtralForCausalLM(mixtral_8x7b(layers))
    finally:
        torch.set_default_dtype(torch.float32)
    model.save_pretrained(where)
    return where


def measure(module: torch.nn.Module) -> dict[str, int]:
    """storage_bytes with dense weights in bf16 (2 bytes per element) whatever dtype the CPU load gave them."""
    from training_jobs.quantize import storage_bytes

    stored = storage_bytes(module)
    dense_elements = sum(t.numel() for t in dense_tensors(module))
    return {"nf4_data": stored["nf4_data"], "quant_state": stored["quant_state"], "dense_bf16": 2 * dense_elements,
            "params": sum(t.numel() for t in parameters_as_loaded(module))}


def dense_tensors(module: torch.nn.Module):
    import bitsandbytes as bnb
    from torch.nn.utils import parametrize

    for sub in module.modules():
        if isinstance(sub, parametrize.ParametrizationList):
            continue
        for p in sub._parameters.values():
            if p is not None and not isinstance(p, bnb.nn.Params4bit):
                yield p
        yield from (b for b in sub._buffers.values() if b is not None and b.is_floating_point())


def parameters_as_loaded(module: torch.nn.Module):
    """The weights by their logical size (a 4-bit tensor counts its dequantized elements)."""
    import bitsandbytes as bnb
    from torch.nn.utils import parametrize

    for sub in module.modules():
        for name, p in sub._parameters.items():
            if p is None or isinstance(sub, parametrize.ParametrizationList):
                continue
            yield torch.empty(p.quant_state.shape, device="meta") if isinstance(p, bnb.nn.Params4bit) else p
        if parametrize.is_parametrized(sub):
            for name in sub.parametrizations:
                yield torch.empty(sub.parametrizations[name][0].quant_state.shape, device="meta")


def row(name: str, m: dict[str, int]) -> str:
    total = m["nf4_data"] + m["quant_state"] + m["dense_bf16"]
    return (f"| {name} | {m['params']:,} | {m['nf4_data']:,} | {m['quant_state']:,} | {m['dense_bf16']:,} | "
            f"{total:,} | {2 * m['params']:,} | {total / (2 * m['params']):.3f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=2, help="full-size decoder layers to build and measure")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "qlora_memory.md")
    args = p.parse_args()
    from training_jobs.model import load_base

    work = Path(tempfile.mkdtemp(prefix="qlora_memory_"))
    try:
        t0 = time.perf_counter()
        path = build_random(args.layers, work / "mixtral")
        model = load_base(str(path), "nf4", router_aux_loss_coef=0.0, device="cpu")
        seconds = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    layers = [measure(layer) for layer in model.model.layers]
    if any(m != layers[0] for m in layers):
        raise SystemExit(f"decoder layers differ in storage: {layers}")
    layer = layers[0]
    experts = measure(model.model.layers[0].mlp.experts)
    attention = measure(model.model.layers[0].self_attn)
    whole = measure(model)
    outside = {k: whole[k] - sum(m[k] for m in layers) for k in whole}
    full = {k: outside[k] + FULL_LAYERS * layer[k] for k in layer}
    full_gib = (full["nf4_data"] + full["quant_state"] + full["dense_bf16"]) / GIB
    header = ("| part | parameters | NF4 data B | quant states B | dense (bf16) B | stored B | bf16 B | stored / bf16 |\n"
              "|---|---|---|---|---|---|---|---|")
    table = "\n".join([header, row("experts of one layer (gate_up_proj + down_proj)", experts),
                       row("attention of one layer (q, k, v, o)", attention),
                       row("one decoder layer (+ router, norms)", layer),
                       row("outside the layers (embeddings, final norm, LM head)", outside),
                       row(f"**Mixtral-8x7B, {FULL_LAYERS} layers (extrapolated)**", full)])
    stored_experts = experts["nf4_data"] + experts["quant_state"]
    bf16_experts_gib = full_gib + FULL_LAYERS * (2 * experts["params"] - stored_experts) / GIB
    verdict = "met" if full_gib <= TARGET_GIB else "missed"
    text = (
        f"# Base weights of Mixtral-8x7B with 4-bit experts (exact bytes, CPU)\n\n"
        f"`.venv/bin/python bench/qlora_memory.py --layers {args.layers}` (torch {torch.__version__}, "
        f"bitsandbytes {__import__('bitsandbytes').__version__}; build + load {seconds:.0f} s). Method: see the "
        f"docstring of bench/qlora_memory.py — {args.layers} full-size layers built and loaded through the job's "
        f"loader (NF4, double quantization, blocksize 64), bytes counted tensor by tensor; the layers agree to the "
        f"byte, so 32 layers = 32 × one layer + the parts outside the layers.\n\n{table}\n\n"
        f"**{full_gib:.2f} GiB** of base weights for the 32-layer model (target ≤ {TARGET_GIB} GiB: {verdict}), "
        f"against {2 * full['params'] / GIB:.1f} GiB in bf16; with bf16 experts (4-bit attention only, as before) "
        f"{bf16_experts_gib:.1f} GiB. "
        f"Not counted: LoRA weights and optimizer state (trainable share only), activations; QLoRA's "
        f"`prepare_model_for_kbit_training` also keeps the dense weights (embeddings, LM head, norms, router) in "
        f"float32 on the GPU, {full['dense_bf16'] / GIB:.2f} GiB more.\n")
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Loading the base model (NF4, fused experts included: training_jobs/quantize.py) and attaching LoRA to attention,
experts and router.

In transformers 5, Mixtral's experts are fused 3-D parameters (`mlp.experts.gate_up_proj`, `mlp.experts.down_proj`)
and the router `mlp.gate` is a `MixtralTopKRouter` holding a raw `weight`: none of them is an `nn.Linear`, so
they need PEFT's `target_parameters`; only the attention projections are Linear modules (`target_modules`).
"""

from __future__ import annotations

import os
import re
from collections import Counter

import torch
from peft import LoraConfig
from peft.tuners.lora.layer import LoraLayer, ParamWrapper
from transformers import AutoModelForCausalLM, PreTrainedModel

ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
EXPERTS = ["mlp.experts.gate_up_proj", "mlp.experts.down_proj"]
ROUTER = ["mlp.gate.weight"]


def expert_targets(num_layers: int) -> list[str]:
    """The fused expert parameters by full name: PEFT matches a parameter that is already parametrized (4-bit)
    only by its module's exact name, not by a suffix as it does plain ones."""
    return [f"model.layers.{i}.{name}" for i in range(num_layers) for name in EXPERTS]


def quantization_config(quantize: str, compute_dtype: torch.dtype):
    """`auto` and `nf4`: NF4 for attention and fused experts (bitsandbytes, on CUDA and on CPU); `none`: full precision."""
    if quantize == "none":
        return None
    if quantize not in ("auto", "nf4"):
        raise ValueError(f"quantize must be 'auto', 'nf4' or 'none', not {quantize!r}")
    from training_jobs.quantize import nf4_config

    return nf4_config(compute_dtype)


def load_base(path: str, quantize: str = "auto", router_aux_loss_coef: float = 0.02,
              device: str = "auto") -> PreTrainedModel:
    """`device`: `auto` = this rank's GPU when there is one, else the CPU; `cpu`."""
    if device not in ("auto", "cpu"):
        raise ValueError(f"device must be 'auto' or 'cpu', not {device!r}")
    cuda = device == "auto" and torch.cuda.is_available()
    dtype = torch.bfloat16 if cuda else torch.float32
    quant = quantization_config(quantize, dtype)
    model = AutoModelForCausalLM.from_pretrained(
        path,
        dtype=dtype,
        quantization_config=quant,
        # One full copy per process (QLoRA data parallel): the GPU of this rank under accelerate/torchrun.
        device_map={"": int(os.environ.get("LOCAL_RANK", "0")) if cuda else "cpu"},
        # The router's load-balancing loss is added to the LM loss only when the logits are returned.
        output_router_logits=router_aux_loss_coef > 0,
        router_aux_loss_coef=router_aux_loss_coef,
    )
    model.config.use_cache = False
    if quant is not None:
        check_quantized(model)
    return model


def check_quantized(model: torch.nn.Module) -> None:
    """Fail loudly if 4-bit was asked for and any expert parameter or attention projection is not 4-bit."""
    from training_jobs.quantize import unquantized

    if left := unquantized(model):
        raise RuntimeError(f"4-bit was asked for but {len(left)} weights are not quantized: {left[:8]}")


def lora_config(num_layers: int, rank: int = 128, alpha: int = 64) -> LoraConfig:
    # lora_dropout must stay 0: PEFT's ParamWrapper (target_parameters) does not support dropout.
    return LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=0.0,
        target_modules=ATTENTION,
        target_parameters=expert_targets(num_layers) + ROUTER,
        task_type="CAUSAL_LM",
    )


def adapter_coverage(model: torch.nn.Module) -> Counter:
    """How many LoRA layers sit on each target kind: attention, experts.gate_up_proj, experts.down_proj, router."""
    seen: Counter = Counter()
    for name, module in model.named_modules():
        if isinstance(module, ParamWrapper):
            if re.search(r"\.mlp\.gate$", name):
                seen["router"] += 1
            elif ".mlp.experts" in name:
                seen[f"experts.{module.parameter_name}"] += 1
        elif isinstance(module, LoraLayer) and ".self_attn." in name:  # plain or 4-bit (peft.tuners.lora.bnb)
            seen["attention"] += 1
    return seen


def check_coverage(model: torch.nn.Module, num_layers: int, quantized: bool = False) -> Counter:
    """Fail loudly unless every layer's attention, both fused expert parameters and router carry an adapter, and,
    when 4-bit was asked for (`quantized`), unless every expert parameter and attention projection is 4-bit."""
    if quantized:
        check_quantized(model)
    seen = adapter_coverage(model)
    want = {"attention": 4 * num_layers, "experts.gate_up_proj": num_layers, "experts.down_proj": num_layers,
            "router": num_layers}
    missing = {k: f"{seen.get(k, 0)}/{n}" for k, n in want.items() if seen.get(k, 0) < n}
    if missing:
        raise RuntimeError(f"LoRA adapters missing (got/expected per kind): {missing}; coverage: {dict(seen)}")
    return seen


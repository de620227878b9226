"""NF4 for the whole MoE, the fused experts included, quantized tensor by tensor while the checkpoint loads.

transformers' bitsandbytes quantizer turns only `nn.Linear` into 4-bit. In transformers 5 a Mixtral layer's experts
are two fused 3-D parameters (`mlp.experts.gate_up_proj`, `mlp.experts.down_proj`), ~96% of the weights, which it
leaves in bf16. This quantizer extends it: each expert parameter is quantized as soon as the loader has read it
(bitsandbytes' `replace_parameter_4bit`: NF4 storage plus a parametrization that dequantizes on access, cached for
one forward of the module), so that the bf16 experts of only one layer are ever in memory — Mixtral-8x7B never has
to fit one GPU in bf16. bitsandbytes >= 0.50 does this on CPU too, so the tests run the real 4-bit path.
"""

from __future__ import annotations

import re

import bitsandbytes as bnb
import torch
from bitsandbytes.nn.parametrize import Bnb4bitParametrization, replace_parameter_4bit
from peft.tuners.lora.layer import ParamWrapper, _LoraFactorsProxy, _LoraParameterProxy
from torch.nn.utils import parametrize
from transformers import BitsAndBytesConfig
from transformers.core_model_loading import ConversionOps
from transformers.integrations.bitsandbytes import Bnb4bitQuantize, dequantize_and_replace
from transformers.quantizers.auto import register_quantization_config, register_quantizer
from transformers.quantizers.quantizer_bnb_4bit import Bnb4BitHfQuantizer
from transformers.quantizers.quantizers_utils import get_module_from_name

METHOD = "bnb_4bit_experts"
EXPERT_PARAMS = ("gate_up_proj", "down_proj")
ATTENTION = re.compile(r"\.self_attn\.[qkvo]_proj$")


def is_experts(module: torch.nn.Module) -> bool:
    """A fused MoE experts module (not a PEFT wrapper around one): it owns the expert parameters itself."""
    return all(name in module._parameters or parametrize.is_parametrized(module, name) for name in EXPERT_PARAMS)


def is_nf4(module: torch.nn.Module, name: str) -> bool:
    return parametrize.is_parametrized(module, name) and any(
        isinstance(p, Bnb4bitParametrization) for p in module.parametrizations[name])


def _remove_lora_proxy(self: ParamWrapper) -> None:
    """PEFT 0.21's `ParamWrapper` adds its LoRA as a parametrization for the span of each forward and removes it
    after; on a parameter that already has one (the NF4 dequantization) it removes only a `_LoraParameterProxy`,
    not the `_LoraFactorsProxy` it uses for a single adapter on a 3-D parameter, so LoRA terms pile up forward
    after forward (and break gradient checkpointing). This removes the one it added, whichever kind."""
    stack = self.get_base_layer().parametrizations[self.parameter_name]
    if len(stack) > 1:
        last = max(i for i, p in enumerate(stack) if isinstance(p, (_LoraFactorsProxy, _LoraParameterProxy)))
        del stack[last]
    else:
        _peft_remove_parametrizations(self)


_peft_remove_parametrizations = ParamWrapper._remove_parametrizations
ParamWrapper._remove_parametrizations = _remove_lora_proxy


@register_quantization_config(METHOD)
class ExpertsNF4Config(BitsAndBytesConfig):
    """`BitsAndBytesConfig` (4-bit) whose quantizer also stores the fused expert parameters in 4-bit."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.quant_method = METHOD


class QuantizeOnLoad(ConversionOps):
    """The loader's per-tensor quantization step: `nn.Linear` weights as bitsandbytes' own quantizer does; a fused
    expert parameter replaced in place by its NF4 storage and parametrization (nothing left for the loader to set)."""

    def __init__(self, hf_quantizer: ExpertsNF4Quantizer):
        self.hf_quantizer = hf_quantizer
        self.linear = Bnb4bitQuantize(hf_quantizer)

    def convert(self, input_dict, full_layer_name=None, model=None, missing_keys=None, **kwargs):
        module, name = get_module_from_name(model, full_layer_name)
        if isinstance(module, bnb.nn.Linear4bit):
            return self.linear.convert(input_dict, full_layer_name=full_layer_name, model=model, **kwargs)
        [value] = input_dict.values()
        value = value[0] if isinstance(value, list) else value
        config = self.hf_quantizer.quantization_config
        setattr(module, name, torch.nn.Parameter(value, requires_grad=False))
        replace_parameter_4bit(module, name, compress_statistics=config.bnb_4bit_use_double_quant,
                               quant_type=config.bnb_4bit_quant_type)
        module.parametrizations[name].original._is_hf_initialized = True  # loaded: not to be re-initialised
        if missing_keys is not None:
            missing_keys.discard(full_layer_name)
        return {}


@register_quantizer(METHOD)
class ExpertsNF4Quantizer(Bnb4BitHfQuantizer):
    def param_needs_quantization(self, model, param_name: str, **kwargs) -> bool:
        module, name = get_module_from_name(model, param_name)
        return super().param_needs_quantization(model, param_name, **kwargs) or (
            name in EXPERT_PARAMS and is_experts(module))

    def get_quantize_ops(self):
        return QuantizeOnLoad(self)

    def _dequantize(self, model, dtype=None):
        """Plain weights again (for merging an adapter): Linear4bit -> nn.Linear, NF4 experts -> dense tensors."""
        model = dequantize_and_replace(model, quantization_config=self.quantization_config, dtype=dtype)
        for module in model.modules():
            for name in EXPERT_PARAMS:
                if is_nf4(module, name):
                    dense = getattr(module, name).detach()
                    parametrize.remove_parametrizations(module, name, leave_parametrized=False)
                    setattr(module, name, torch.nn.Parameter(dense.to(dtype or dense.dtype)))
        return model


def nf4_config(compute_dtype: torch.dtype) -> ExpertsNF4Config:
    """QLoRA's settings: NF4 with double quantization, for the attention and the experts alike."""
    return ExpertsNF4Config(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                            bnb_4bit_compute_dtype=compute_dtype)


def unquantized(model: torch.nn.Module) -> list[str]:
    """Names of the expert parameters and attention projections that are not 4-bit."""
    left = []
    for name, module in model.named_modules():
        name = name.replace(".base_layer", "")  # the weight's own name, whether or not a LoRA wraps it
        if is_experts(module):
            left += [f"{name}.{p}" for p in EXPERT_PARAMS if not is_nf4(module, p)]
        elif ATTENTION.search(name) and type(module) is torch.nn.Linear:
            left.append(name)
    return left


def storage_bytes(module: torch.nn.Module) -> dict[str, int]:
    """Exact bytes held by the module's weights: the 4-bit data and their quantization states (absmax, the nested
    absmax and its code book, the NF4 code book), and every dense parameter and buffer, counted once."""
    seen: set[int] = set()
    out = {"nf4_data": 0, "quant_state": 0, "dense": 0}

    def add(kind: str, tensor: torch.Tensor | None) -> None:
        if tensor is not None and id(tensor) not in seen:
            seen.add(id(tensor))
            out[kind] += tensor.numel() * tensor.element_size()

    def add_state(state) -> None:
        add("quant_state", state.absmax)
        add("quant_state", state.code)
        if state.nested and state.state2 is not None:
            add("quant_state", state.state2.absmax)
            add("quant_state", state.state2.code)
        add("quant_state", getattr(state, "offset", None))

    for sub in module.modules():
        for param in sub._parameters.values():
            if param is None:
                continue
            if isinstance(param, bnb.nn.Params4bit):
                add("nf4_data", param)
                add_state(param.quant_state)
            elif isinstance(sub, parametrize.ParametrizationList):
                add("nf4_data" if isinstance(sub[0], Bnb4bitParametrization) else "dense", param)
                if isinstance(sub[0], Bnb4bitParametrization):
                    add_state(sub[0].quant_state)
            else:
                add("dense", param)
        for buffer in sub._buffers.values():
            add("dense", buffer)
    return out

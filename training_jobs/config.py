"""The entry points' configuration, kept free of torch so that the Dagster assets can build their run config from
it without importing the training stack (the Dagster process needs neither torch nor a GPU).

Field by field documentation: training_jobs/README.md.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass
class TrainConfig:
    model_path: str
    corpus: str
    output_dir: str
    max_steps: int = -1
    num_train_epochs: float = 1.0
    learning_rate: float = 2e-4
    lr_scheduler_type: str = "cosine"
    warmup_steps: int = 0
    per_device_train_batch_size: int = 1
    gradient_accumulation_steps: int = 8
    max_length: int = 4096
    packing: bool = True
    lora_rank: int = 128
    lora_alpha: int = 64
    router_aux_loss_coef: float = 0.02
    quantize: str = "auto"
    gradient_checkpointing: bool = True
    logging_steps: int = 10
    save_steps: int = 200
    save_total_limit: int = 2
    resume: str = "auto"
    limit: int | None = None
    seed: int = 0


@dataclass
class EvalConfig:
    model_path: str
    items: str
    adapter_path: str | None = None
    # With an adapter: also score the base model (the adapter switched off in the same loaded model).
    compare_base: bool = True
    # Benchmarks need 100% human review: items whose `verified` is not true are refused unless this is set.
    allow_unverified: bool = False
    output_dir: str | None = None
    batch_size: int = 8
    # The scored choices: `auto` = as lm-eval's task (letters, PubMedQA's yes/no/maybe as text), `letter`, `text`.
    continuation: str = "auto"
    # lm-eval's add_bos_token: None = the tokenizer's own special tokens (lm-eval's default since v0.4.10).
    add_bos_token: bool | None = None
    # The prompts: `lm_eval` = each benchmark's lm-eval task template, `medqa` = medqa_4options' for every one.
    prompt: str = "lm_eval"
    limit: int | None = None
    quantize: str = "auto"
    # Tokens the model sees per choice (truncated from the left); None = the model's context length, as lm-eval.
    max_length: int | None = None
    generation_prompts: int = 8
    max_new_tokens: int = 64


@dataclass
class ExportConfig:
    model_path: str
    adapter_path: str
    output_dir: str
    # The base as the adapter was trained on it (`auto`/`nf4`: its 4-bit weights, dequantized for the merge).
    quantize: str = "auto"
    dtype: str = "bfloat16"
    # Where the merge runs: `auto` = the GPU when there is one; `cpu` when the dense model does not fit the GPU.
    device: str = "auto"


@dataclass
class TinyConfig:
    corpus: str
    output_dir: str
    vocab_size: int = 1024
    seed: int = 0


def refuse_unverified(items: list[dict], allow: bool) -> int:
    """Benchmark items must all have passed human review; an item without a `verified` flag has not. Here, free
    of torch, so that the Dagster asset refuses before it launches a (GPU) job, and the job again on its own."""
    unverified = Counter(f"{i['benchmark']}/{i['language']}" for i in items if i.get("verified") is not True)
    if unverified and not allow:
        raise ValueError(
            f"{sum(unverified.values())} of {len(items)} benchmark items are not verified by human review "
            f"({dict(sorted(unverified.items()))}): finish their review, leave those benchmarks or languages out, "
            "or set allow_unverified=true to score them anyway")
    return sum(unverified.values())

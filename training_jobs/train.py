"""QLoRA fine-tuning of a Mixtral-family MoE on the corpus with TRL's SFTTrainer, reporting to Dagster via Pipes.

    python -m training_jobs.train --model-path DIR --corpus corpus.parquet --output-dir runs/x [--max-steps 100]
    accelerate launch --config_file training_jobs/configs/accelerate_zero2.yaml -m training_jobs.train ...
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch
from transformers import AutoTokenizer, TrainerCallback
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTConfig, SFTTrainer

from training_jobs.config import TrainConfig
from training_jobs.data import read_chats
from training_jobs.model import check_coverage, load_base, lora_config
from training_jobs.pipes import job, log, report


class PipesProgress(TrainerCallback):
    """Forwards each logged step to the run's log and keeps the loss/lr/throughput history for the metadata."""

    def __init__(self, context):
        self.context = context
        self.history: list[dict] = []
        self._last = (time.perf_counter(), 0)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return
        now, tokens = time.perf_counter(), state.num_input_tokens_seen
        rate = (tokens - self._last[1]) / max(now - self._last[0], 1e-9)
        self._last = (now, tokens)
        entry = {"step": state.global_step, "loss": logs["loss"], "learning_rate": logs.get("learning_rate"),
                 "tokens_per_second": round(rate, 1)}
        self.history.append(entry)
        log(self.context, f"train {json.dumps(entry)}")


def resume_point(cfg: TrainConfig) -> str | None:
    if cfg.resume == "never":
        return None
    if cfg.resume == "auto":
        return get_last_checkpoint(cfg.output_dir) if Path(cfg.output_dir).is_dir() else None
    return cfg.resume


def sft_config(cfg: TrainConfig) -> SFTConfig:
    cuda = torch.cuda.is_available()
    return SFTConfig(
        output_dir=cfg.output_dir,
        max_steps=cfg.max_steps,
        num_train_epochs=cfg.num_train_epochs,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_steps,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        max_length=cfg.max_length,
        packing=cfg.packing,
        activation_checkpointing=cfg.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        bf16=cuda,
        logging_steps=cfg.logging_steps,
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        include_num_input_tokens_seen=True,
        report_to="none",
        seed=cfg.seed,
        dataloader_num_workers=0,
    )


def train(context, cfg: TrainConfig) -> dict:
    log(context, f"config {json.dumps(asdict(cfg))}")
    tokenizer = AutoTokenizer.from_pretrained(cfg.model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_base(cfg.model_path, cfg.quantize, cfg.router_aux_loss_coef)
    progress = PipesProgress(context)
    trainer = SFTTrainer(
        model=model,
        args=sft_config(cfg),
        train_dataset=read_chats(cfg.corpus, cfg.limit),
        processing_class=tokenizer,
        peft_config=lora_config(model.config.num_hidden_layers, cfg.lora_rank, cfg.lora_alpha),
        callbacks=[progress],
    )
    coverage = check_coverage(trainer.model, model.config.num_hidden_layers, quantized=cfg.quantize != "none")
    trainable, total = trainer.model.get_nb_trainable_parameters()
    share = 100 * trainable / total
    log(context, f"trainable parameters {trainable:,} of {total:,} ({share:.3f}%); LoRA on {dict(coverage)}")

    resumed = resume_point(cfg)
    if resumed:
        log(context, f"resuming from {resumed}")
    result = trainer.train(resume_from_checkpoint=resumed)
    adapter_dir = Path(cfg.output_dir) / "adapter"
    trainer.save_model(str(adapter_dir))
    tokenizer.save_pretrained(adapter_dir)

    metrics = result.metrics
    history = progress.history
    metadata = {
        "adapter_dir": str(adapter_dir),
        "global_step": trainer.state.global_step,
        "resumed_from": resumed or "",
        "final_loss": history[-1]["loss"] if history else metrics.get("train_loss"),
        "first_loss": history[0]["loss"] if history else None,
        "train_loss": metrics.get("train_loss"),
        "learning_rate": history[-1]["learning_rate"] if history else None,
        "tokens_per_second": round(trainer.state.num_input_tokens_seen / max(metrics["train_runtime"], 1e-9), 1),
        "train_tokens": trainer.state.num_input_tokens_seen,
        "train_runtime_s": metrics["train_runtime"],
        "trainable_params": trainable,
        "total_params": total,
        "trainable_share_pct": round(share, 4),
        "lora_coverage": dict(coverage),
        "loss_history": history,
    }
    log(context, f"done: {json.dumps({k: v for k, v in metadata.items() if k != 'loss_history'})}")
    return metadata


def main(argv: list[str] | None = None) -> None:
    with job(TrainConfig, argv) as (context, cfg):
        metadata = train(context, cfg)
        # Under accelerate/DeepSpeed every rank runs this; only the main one reports the asset.
        if int(os.environ.get("RANK", "0")) == 0:
            report(context, metadata)


if __name__ == "__main__":
    main()

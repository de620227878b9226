"""A tiny random-weight Mixtral and a BPE tokenizer trained on the corpus itself: the offline CPU path for tests/CI.

    python -m training_jobs.tiny --corpus CORPUS.parquet --output-dir OUT_DIR   (or under Pipes: the same as extras)
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import MixtralConfig, MixtralForCausalLM, PreTrainedTokenizerFast

from training_jobs.config import TinyConfig
from training_jobs.data import chat_texts
from training_jobs.pipes import job, log, report

SPECIAL = {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}

# Mixtral-instruct's layout; system text is folded into the first user turn as Mistral does.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% set sys = namespace(text='') %}"
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{% set sys.text = m['content'] + '\n\n' %}"
    "{% elif m['role'] == 'user' %}[INST] {{ sys.text }}{{ m['content'] }} [/INST]{% set sys.text = '' %}"
    "{% else %} {{ m['content'] }}{{ eos_token }}{% endif %}"
    "{% endfor %}"
)


def train_tokenizer(texts: list[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    # Byte-level, so Arabic and any unseen character still encode.
    tok = Tokenizer(models.BPE(unk_token=SPECIAL["unk_token"]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, chat_template=CHAT_TEMPLATE, **SPECIAL)


def tiny_config(tokenizer: PreTrainedTokenizerFast) -> MixtralConfig:
    return MixtralConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_local_experts=4,
        num_experts_per_tok=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_tiny_model(corpus: str | Path, out_dir: str | Path, seed: int = 0, vocab_size: int = 1024) -> Path:
    tokenizer = train_tokenizer(chat_texts(corpus), vocab_size)
    torch.manual_seed(seed)
    model = MixtralForCausalLM(tiny_config(tokenizer))
    out = Path(out_dir)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> None:
    with job(TinyConfig, argv) as (context, cfg):
        out = build_tiny_model(cfg.corpus, cfg.output_dir, cfg.seed, cfg.vocab_size)
        config = MixtralConfig.from_pretrained(out)
        facts = {"path": str(out), "tiny": True, "model_type": config.model_type, "vocab_size": config.vocab_size,
                 "hidden_size": config.hidden_size, "num_hidden_layers": config.num_hidden_layers,
                 "num_local_experts": config.num_local_experts, "num_experts_per_tok": config.num_experts_per_tok}
        log(context, f"tiny Mixtral built: {facts}")
        report(context, facts)


if __name__ == "__main__":
    main()

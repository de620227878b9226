"""The evaluator against lm-eval's log-likelihood definition, on hand-computed and independently computed cases."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from training_jobs.evaluate import EvalConfig, context_length, score_items, summarize
from training_jobs.mcqa import build_prompt, choice_texts, encode_pair, loglikelihoods, pick


class Bigram(torch.nn.Module):
    """p(next | previous) read off a fixed table, so every log-likelihood can be worked out by hand."""

    def __init__(self, probs: list[list[float]]):
        super().__init__()
        self.table = torch.nn.Parameter(torch.tensor(probs).log())

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(logits=self.table[input_ids])


UNIFORM = [0.2] * 5
PROBS = [
    UNIFORM,
    [0.1, 0.1, 0.5, 0.2, 0.1],  # after token 1
    UNIFORM,
    [0.25, 0.25, 0.125, 0.125, 0.25],  # after token 3
    UNIFORM,
]


def test_hand_computed_loglikelihoods_and_predictions():
    context = [0, 1]
    pairs = [(context, [2]), (context, [3, 4]), (context, [4, 4, 4])]
    got = loglikelihoods(Bigram(PROBS), pairs, batch_size=2)
    want = [math.log(0.5), math.log(0.2) + math.log(0.25), math.log(0.1) + 2 * math.log(0.2)]
    assert got == pytest.approx(want, abs=1e-6)
    # acc: the highest sum wins (choice 0). acc_norm divides by characters: "x" is 1, "سي" 2 and "yyyyyyyyyy" 10,
    # so -0.693/1, -3.00/2 = -1.50, -5.52/10 = -0.55: choice 2 wins.
    assert pick(got, ["x", "سي", "y" * 10]) == (0, 2)


def test_auto_choices_follow_lm_eval_tasks():
    assert choice_texts(["yes", "no", "maybe"], "auto", "pubmedqa") == ["yes", "no", "maybe"]
    for benchmark in ("medqa", "medmcqa", "mmlu_anatomy"):
        assert choice_texts(["x", "y", "z", "w"], "auto", benchmark) == ["A", "B", "C", "D"]


def test_acc_norm_divides_by_characters_as_lm_eval_not_bytes():
    # lm-eval: completion_len = len(choice). "ab" and "سي" both have 2 characters (2 and 4 UTF-8 bytes):
    # per character -1.0/2 = -0.50 beats -1.5/2 = -0.75 (per byte "سي" would win, -1.5/4 = -0.375).
    assert pick([-1.0, -1.5], ["ab", "سي"]) == (0, 0)
    # An Arabic option whose raw score loses but whose per-character score wins: -6/12 = -0.5 > -2/3.
    assert pick([-2.0, -6.0], ["نعم", "ربما لا أعرف"]) == (0, 1)


def test_encode_pair_follows_lm_eval(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    ctx, cont = encode_pair(tok, "Answer: ", "Vitamin C", add_bos_token=True)  # the space moves to the continuation
    assert ctx[0] == tok.bos_token_id
    assert ctx + cont == [tok.bos_token_id] + tok.encode("Answer: Vitamin C", add_special_tokens=False)
    assert tok.decode(cont) == " Vitamin C"
    assert encode_pair(tok, "Answer: ", "Vitamin C", add_bos_token=False) == (ctx[1:], cont)


def test_encode_pair_leaves_special_tokens_to_the_tokenizer_by_default(tiny_model):
    """lm-eval's default (add_bos_token unset): whatever the tokenizer adds. The tiny tokenizer adds nothing;
    given a BOS post-processor, as Mixtral's tokenizer has, BOS comes first."""
    from tokenizers import processors

    tok = AutoTokenizer.from_pretrained(tiny_model)
    plain = tok.encode("Answer:", add_special_tokens=False)
    assert encode_pair(tok, "Answer:", " B")[0] == plain
    tok._tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.bos_token_id)])
    ctx, cont = encode_pair(tok, "Answer:", " B")
    assert ctx == [tok.bos_token_id, *plain] and tok.decode(cont) == " B"


def reference_loglikelihood(model, ctx: list[int], cont: list[int]) -> float:
    """Independent of the evaluator: one unpadded forward over context + continuation."""
    ids = torch.tensor([ctx + cont])
    logprobs = F.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    return sum(logprobs[len(ctx) + j - 1, t].item() for j, t in enumerate(cont))


def test_prompts_are_lm_evals_task_templates():
    options = ["x", "y"]
    assert build_prompt("Q?", options, "en", "medqa") == "Question: Q?\nA. x\nB. y\nAnswer:"
    assert build_prompt("Q?", options, "en", "medmcqa") == "Question: Q?\nChoices:\nA. x\nB. y\nAnswer:"
    assert build_prompt(" Q? ", options, "en", "mmlu_college_medicine") == (
        "The following are multiple choice questions (with answers) about college medicine.\n\nQ?\nA. x\nB. y\nAnswer:")
    # PubMedQA's item question is the abstract, a blank line, the question; lm-eval shows no options.
    assert build_prompt("Line 1.\nLine 2.\n\nDoes it?", ["yes", "no", "maybe"], "en", "pubmedqa") == (
        "Abstract: Line 1.\nLine 2.\nQuestion: Does it?\nAnswer:")
    arabic = build_prompt("س؟", options, "ar", "mmlu_anatomy")
    assert arabic.startswith("فيما يلي أسئلة اختيار من متعدد") and "التشريح" in arabic and arabic.endswith("الإجابة:")
    # The single-prompt option: medqa_4options' prompt whatever the benchmark.
    assert build_prompt("Q?", options, "en", "medmcqa", "medqa") == build_prompt("Q?", options, "en", "medqa")
    with pytest.raises(ValueError, match="template must be one of"):
        build_prompt("Q?", options, "en", "medqa", "harness")


def test_max_length_defaults_to_the_model_context_as_lm_eval(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert context_length(model, tok) == model.config.max_position_embeddings == 2048
    tok.model_max_length = 512  # a model config without a context length: the tokenizer's
    assert context_length(SimpleNamespace(config=SimpleNamespace()), tok) == 512


@pytest.mark.parametrize("continuation", ["text", "letter", "auto"])
def test_accuracy_matches_the_definition_on_a_tiny_mixtral(tiny_model, mcqa_items, continuation):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    want = []
    with torch.no_grad():
        for item in mcqa_items:
            prompt = build_prompt(item["question"], item["options"], item["language"], item["benchmark"])
            choices = choice_texts(item["options"], continuation, item["benchmark"])
            scores = [reference_loglikelihood(model, *encode_pair(tok, prompt, " " + c)) for c in choices]
            want.append(pick(scores, choices))
    for batch_size in (1, 3, 16):  # batching and padding must not change a score
        cfg = EvalConfig("", "", batch_size=batch_size, continuation=continuation)
        rows = score_items(model, tok, mcqa_items, cfg, context_length(model, tok))
        assert [(r["pred"], r["pred_norm"]) for r in rows] == want


def test_scores_batched_equal_unbatched(tiny_model, mcqa_items):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    prompt = build_prompt(mcqa_items[1]["question"], mcqa_items[1]["options"], "ar")
    pairs = [encode_pair(tok, prompt, " " + c) for c in mcqa_items[1]["options"] + ["a much longer continuation"]]
    with torch.no_grad():
        want = [reference_loglikelihood(model, *p) for p in pairs]
    assert loglikelihoods(model, pairs, batch_size=4, pad_id=tok.pad_token_id) == pytest.approx(want, abs=1e-4)


def test_summarize_pools_languages_into_bilingual():
    rows = [
        {"benchmark": "medqa", "language": "en", "acc": 1.0, "acc_norm": 0.0},
        {"benchmark": "medqa", "language": "ar", "acc": 0.0, "acc_norm": 0.0},
        {"benchmark": "medqa", "language": "ar", "acc": 1.0, "acc_norm": 1.0},
        {"benchmark": "pubmedqa", "language": "en", "acc": 1.0, "acc_norm": 1.0},
    ]
    s = summarize(rows)
    assert s["medqa/en"] == {"n": 1, "acc": 1.0, "acc_norm": 0.0}
    assert s["medqa/ar"]["acc"] == 0.5
    assert s["medqa/bilingual"] == {"n": 3, "acc": 2 / 3, "acc_norm": 1 / 3}
    assert s["all/en"]["n"] == 2 and s["all/bilingual"]["n"] == 4

"""Multiple-choice QA scored by log-likelihood, as lm-evaluation-harness does for `multiple_choice` tasks.

Each choice is a continuation of the prompt; its score is the sum of its tokens' log-probabilities given the prompt.
acc takes the argmax of the scores; acc_norm the argmax of the scores divided by the choice's length in characters
(lm-eval's ``completion_len = len(choice)``: characters, not bytes, which matters for Arabic).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

LETTERS = "ABCDEFGHIJ"
# The label words of the prompts in each corpus language: lm-eval's English ones, and their Arabic counterparts.
LABELS = {
    "en": {"question": "Question:", "answer": "Answer:", "choices": "Choices:", "abstract": "Abstract:",
           "mmlu": "The following are multiple choice questions (with answers) about {subject}."},
    "ar": {"question": "السؤال:", "answer": "الإجابة:", "choices": "الخيارات:", "abstract": "الملخص:",
           "mmlu": "فيما يلي أسئلة اختيار من متعدد (مع إجاباتها) في {subject}."},
}
# MMLU subjects as lm-eval's task descriptions name them (the task name less `mmlu_`, underscores as spaces).
SUBJECTS_AR = {"anatomy": "التشريح", "clinical knowledge": "المعرفة السريرية", "college biology": "علم الأحياء الجامعي",
               "college medicine": "الطب الجامعي", "medical genetics": "علم الوراثة الطبية",
               "professional medicine": "الطب المهني"}
TEMPLATES = ("lm_eval", "medqa")


def build_prompt(question: str, options: Sequence[str], language: str, benchmark: str = "medqa",
                 template: str = "lm_eval") -> str:
    """The prompt of lm-eval's task for the benchmark (`lm_eval`), or its `medqa_4options` prompt for every
    benchmark (`medqa`):

    - medqa_4options: `Question: …` / `A. …` … / `Answer:`
    - medmcqa: `Question: …` / `Choices:` / `A. …` … / `Answer:`
    - mmlu_*: the subject header, a blank line, the question alone (stripped), `A. …` … / `Answer:`
    - pubmedqa: `Abstract: …` / `Question: …` / `Answer:`, no options (the choices are yes/no/maybe); the item's
      question is its abstract, a blank line, and the question (bimed_assets/benchmarks/frame.py)."""
    if template not in TEMPLATES:
        raise ValueError(f"template must be one of {TEMPLATES}, not {template!r}")
    labels = LABELS[language]
    lettered = [f"{LETTERS[i]}. {o}" for i, o in enumerate(options)]
    task = benchmark if template == "lm_eval" else "medqa"
    if task == "pubmedqa":
        abstract, _, asked = question.rpartition("\n\n")
        return "\n".join([f"{labels['abstract']} {abstract}", f"{labels['question']} {asked}", labels["answer"]])
    if task.startswith("mmlu_"):
        subject = task.removeprefix("mmlu_").replace("_", " ")
        header = labels["mmlu"].format(subject=SUBJECTS_AR.get(subject, subject) if language == "ar" else subject)
        return "\n".join([f"{header}\n", question.strip(), *lettered, labels["answer"]])
    choices = [labels["choices"]] if task == "medmcqa" else []
    return "\n".join([f"{labels['question']} {question}", *choices, *lettered, labels["answer"]])


# lm-eval's tasks score the option letter (medqa_4options, medmcqa, mmlu_*), except PubMedQA (yes/no/maybe).
TEXT_CHOICES = {"pubmedqa"}


def choice_texts(options: Sequence[str], continuation: str, benchmark: str = "") -> list[str]:
    """`letter`: A, B, …; `text`: the option itself; `auto`: as lm-eval's task for the benchmark."""
    if continuation == "auto":
        continuation = "text" if benchmark in TEXT_CHOICES else "letter"
    if continuation == "letter":
        return list(LETTERS[: len(options)])
    if continuation == "text":
        return list(options)
    raise ValueError(f"continuation must be 'auto', 'text' or 'letter', not {continuation!r}")


def encode_pair(tokenizer, context: str, continuation: str,
                add_bos_token: bool | None = None) -> tuple[list[int], list[int]]:
    """lm-eval's HFLM._encode_pair: trailing spaces move to the continuation, whose tokens are those of the whole
    text past the context's tokens. Special tokens as lm-eval's `add_bos_token`: None, the tokenizer's own (its
    default since v0.4.10; Mixtral's tokenizer starts with BOS); True, BOS first; False, none (its default before)."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    if add_bos_token and tokenizer.bos_token_id is None:
        raise ValueError("add_bos_token=True but the tokenizer has no BOS token")

    def encode(text: str) -> list[int]:
        if add_bos_token is None:
            return tokenizer.encode(text)
        ids = tokenizer.encode(text, add_special_tokens=False)
        return [tokenizer.bos_token_id, *ids] if add_bos_token else ids

    whole, ctx = encode(context + continuation), encode(context)
    return ctx, whole[len(ctx):]


@torch.no_grad()
def loglikelihoods(model, pairs: Sequence[tuple[list[int], list[int]]], batch_size: int = 8,
                   pad_id: int = 0, max_length: int | None = None) -> list[float]:
    """Sum of log p(continuation | context) per pair. The model sees (context + continuation)[:-1], right-padded,
    so padding never precedes a scored position; longest first so that batches are evenly padded."""
    device = next(model.parameters()).device
    order = sorted(range(len(pairs)), key=lambda i: -(len(pairs[i][0]) + len(pairs[i][1])))
    out = [0.0] * len(pairs)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        seqs = []
        for i in idx:
            ctx, cont = pairs[i]
            if not cont:
                raise ValueError("empty continuation")
            seq = (ctx + cont)[:-1]
            seqs.append(seq[-max_length:] if max_length else seq)  # lm-eval truncates from the left too
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, seq in enumerate(seqs):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
        logprobs = F.log_softmax(logits, dim=-1).cpu()
        for row, i in enumerate(idx):
            cont = pairs[i][1]
            end = len(seqs[row])
            positions = torch.arange(end - len(cont), end)
            out[i] = logprobs[row, positions, torch.tensor(cont)].sum().item()
    return out


def pick(scores: Sequence[float], choices: Sequence[str]) -> tuple[int, int]:
    """(acc prediction, acc_norm prediction): argmax of the log-likelihoods, raw and per character."""
    norm = [s / len(c) for s, c in zip(scores, choices)]
    return max(range(len(scores)), key=scores.__getitem__), max(range(len(norm)), key=norm.__getitem__)

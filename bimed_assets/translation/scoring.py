"""One 0–100 score per translation attempt, from the LLM judge and the back-translation chrF.

The clinical-fidelity checks are a gate, not a term of the sum: a failed check fails the attempt whatever
the scores say, and its reasons become feedback for the next round.

``fidelity_failures`` and ``back_translation_chrf`` are the CPU-bound steps of a round. They live here, away
from the LLM layer, so that the worker processes of ``parallel`` that run them start without importing it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from bimed_assets.translation import documents, fidelity


@dataclass(frozen=True)
class ScoringConfig:
    threshold: float = 80.0  # an attempt passes at or above this combined score
    max_rounds: int = 3  # translations per item before it goes to human review
    back_translation: bool = True  # AR→EN round trip scored with chrF (one more call per attempt)
    judge_weight: float = 0.7
    chrf_weight: float = 0.3


@functools.cache
def _chrf_metric():
    """sacrebleu's chrF, imported on first use: the import costs ~0.2 s of CPU (it pulls in its download tools),
    paid otherwise by every run process, with back-translation on or off (``python -X importtime``)."""
    from sacrebleu.metrics import CHRF

    return CHRF()


def chrf(hypothesis: str, reference: str) -> float:
    return _chrf_metric().sentence_score(hypothesis, [reference]).score


def combined(config: ScoringConfig, judge: float, chrf_score: float | None) -> float:
    if chrf_score is None or not config.back_translation:
        return judge
    total = config.judge_weight + config.chrf_weight
    return (config.judge_weight * judge + config.chrf_weight * chrf_score) / total


def fidelity_failures(doc: dict[str, Any], translation: dict[str, Any]) -> list[str]:
    return [f"{f.check}: {f}" for f in fidelity.check_item(doc, translation)]


def fidelity_signals(doc: dict[str, Any], translation: dict[str, Any]) -> list[str]:
    """What the checks flag without failing the item (a negation in one language only, a question not asked, an
    addition), "<signal>: <field>: <detail>", for the LLM judge to verify and the reviewer to see."""
    return [f"{s.name}: {s}" for s in fidelity.item_signals(doc, translation)]


def back_translation_chrf(back: dict[str, Any], doc: dict[str, Any]) -> float:
    return chrf(documents.text_of(back), documents.text_of(doc))

"""Review-queue records shaped like the translation stage's (parsed JSON columns)."""

from __future__ import annotations

import copy


def make_item(item_id: str, *, source: str = "medqa", task: str = "open_qa", score: float | None = 62.0,
              question: str = "What is the usual adult dose of metformin?",
              answer: str = "500 mg twice daily with meals.", arabic_answer: str | None = None,
              rounds: int = 2) -> dict:
    """A review-queue record shaped like the translation stage's (parsed JSON columns)."""
    document = {"question": question, "answer": answer}
    attempts = []
    for n in range(1, rounds + 1):
        translation = {"question": f"ما الجرعة المعتادة للبالغين من الميتفورمين (metformin)؟ {n}",
                       "answer": arabic_answer or f"500 mg مرتين يوميًا مع الوجبات. الجولة {n}"}
        attempts.append({"round": n, "translation": translation, "fidelity": [] if n > 1 else
                         ["numbers: answer: number 500 missing from the translation"],
                         "judge_score": None if n == 1 else 60.0,
                         "judge_errors": [] if n == 1 else ["answer: 'with meals' rendered loosely"],
                         "chrf": None if n == 1 else 70.0, "score": None if n == 1 else score, "passed": False})
    best = attempts[-1]
    return {"item_id": item_id, "source": source, "task": task, "document": document, "attempts": attempts,
            "rounds": rounds, "best_round": best["round"], "best_score": best["score"],
            "best_translation": copy.deepcopy(best["translation"]), "reasons": best["judge_errors"]}


# Passes the password policy (12+ characters, not common or guessable).
PASSWORD = "amber-falcon-42-tide"

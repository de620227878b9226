"""A stand-in chat writer for the local OpenAI-compatible test server (``bimed_assets.llm.test_server``).

It answers the request of ``bimed_assets.chats.prompts`` without a model, deterministically, so that tests
can drive the real synthesis loop over real HTTP: a patient/doctor exchange of ``turns`` turns whose last
doctor turn states the case's correct answer. Items chosen by a hash of their case can be made to fail:
``leaky`` ones say "the answer is C" in their first chat (fixed when the request carries feedback),
``hopeless`` ones conclude a wrong answer every time. Any other request goes to ``fallback`` (by default the
translation's ``CipherResponder``), so one server answers a whole build: it is the test server's default on
the command line.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from bimed_assets.chats.prompts import WRITER
from bimed_assets.llm.test_server import Responder
from bimed_assets.translation.cipher_responder import CipherResponder

_CASE = re.compile(r"```json\n(.*?)\n```", re.DOTALL)
_WRITER_START = WRITER.split("\n", 1)[0]


def _share(text: str, salt: str) -> float:
    return int.from_bytes(hashlib.sha256((salt + text).encode()).digest()[:8], "big") / 2**64


@dataclass(frozen=True)
class ChatResponder:
    leaky: float = 0.0  # share of items whose first chat leaks an option letter
    hopeless: float = 0.0  # share of items whose every chat concludes a wrong answer
    turns: int = 6
    fallback: Responder = field(default_factory=CipherResponder)

    def __call__(self, body: dict[str, Any]) -> str:
        system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
        if not system.startswith(_WRITER_START):
            return self.fallback(body)
        case = json.loads(_CASE.findall(user)[0])
        key = json.dumps(case, sort_keys=True)
        rewrite = "Your previous conversation" in user
        answer = case["correct_answer"]
        if _share(key, "hopeless") < self.hopeless:
            answer = case["wrong_answers"][0]
        conclusion = f"Thank you. From what you tell me and what I found, it is {answer.lower()}."
        if not rewrite and _share(key, "leaky") < self.leaky:
            conclusion += " So the answer is C."
        # Every sixth word of the case: the opening differs from case to case (the corpus would drop identical
        # chats as duplicates) without copying a run of the vignette.
        opening = " ".join(case["case"].split()[::6][:10])
        chat = [{"role": "patient", "content": f"Doctor, I am worried about this: {opening}."}]
        for n in range(1, self.turns - 1):
            chat.append({"role": "patient", "content": f"Here is what else I noticed, part {n // 2 + 1}."}
                        if n % 2 == 0 else {"role": "doctor", "content": f"I see. Tell me more, question {n // 2 + 1}?"})
        chat.append({"role": "doctor", "content": conclusion})
        return json.dumps({"turns": chat}, ensure_ascii=False)

"""Progress of a per-item LLM loop at INFO: every ``every`` seconds or every 5% of the items, whichever comes
first, and one summary line at the end; nothing per item (issue 10: logs a person can read)."""

from __future__ import annotations

import logging
import time
from collections import Counter

from .pricing import UsageMeter


class Progress:
    def __init__(self, log: logging.Logger, what: str, total: int, meter: UsageMeter, every: float = 30.0) -> None:
        self._log, self._what, self._total, self._meter, self._every = log, what, total, meter, every
        self._step = max(1, total // 20)
        self._started = self._last = time.monotonic()
        self.done = 0
        self.statuses = Counter[str]()

    def item(self, status: str) -> None:
        self.done += 1
        self.statuses[status] += 1
        now = time.monotonic()
        if self.done < self._total and (self.done % self._step == 0 or now - self._last >= self._every):
            self._last = now
            self._log.info("%s: %s", self._what, self._line())

    def finish(self) -> None:
        self._log.info("%s finished in %.0f s: %s", self._what, time.monotonic() - self._started, self._line())

    def _line(self) -> str:
        usage = self._meter.total()
        statuses = ", ".join(f"{count} {status}" for status, count in sorted(self.statuses.items()))
        return (f"{self.done}/{self._total} items ({statuses or 'none yet'}); "
                f"{usage.prompt_tokens + usage.completion_tokens} tokens, ${usage.usd:.2f}")

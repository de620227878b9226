"""Offline replay: answers recorded as JSON Lines ``{"key", "response", "usage"}``, served by ``LLMClient``
in place of the network when ``LLMConfig.replay_path`` is set (and written by it when ``record_path`` is)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import LLMError

LIVE_HINT = ("to call a live endpoint instead, leave replay_path unset and set base_url, model and api_key "
             "(LLMConfig fields, or the OPENAI_BASE_URL / OPENAI_API_KEY environment variables)")


@dataclass(frozen=True)
class Recording:
    response: str
    prompt_tokens: int
    completion_tokens: int


class Recordings:
    """All recordings of a file, or of every ``*.jsonl`` file of a folder (one file per pipeline step, read in
    name order), by key; a key recorded twice keeps its last answer."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._by_key: dict[str, Recording] = {}
        for file in sorted(self.path.glob("*.jsonl")) if self.path.is_dir() else [self.path]:
            self._read(file)

    def _read(self, file: Path) -> None:
        with file.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    usage = row.get("usage") or {}
                    self._by_key[row["key"]] = Recording(
                        row["response"], int(usage.get("prompt_tokens", 0)),
                        int(usage.get("completion_tokens", 0)))
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    raise ValueError(f"{file}:{number}: not a recording ({exc})") from None

    def keys(self) -> set[str]:
        return set(self._by_key)

    def answer(self, replay_key: str | None, item_id: str | None) -> Recording:
        recording = self._by_key.get(replay_key) if replay_key else None
        if recording is None:
            raise LLMError("replay_missing",
                           f"no recording for item {item_id!r} (replay_key {replay_key!r}) in {self.path}; "
                           + LIVE_HINT, item_id=item_id)
        return recording


def append_recording(path: str | Path, key: str, response: str, prompt_tokens: int,
                     completion_tokens: int) -> None:
    """One line per answer, appended and flushed at once (a line is a single small O_APPEND write, so
    concurrent writers do not interleave within a line)."""
    line = json.dumps({"key": key, "response": response,
                       "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}},
                      ensure_ascii=False)
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(line + "\n")

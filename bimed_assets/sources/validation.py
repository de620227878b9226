"""Field checks shared by every source normaliser.

A failed check raises ``Rejected`` with a reason from ``bimed_assets.schema.REASONS``; the loader
turns it into a quarantine row. Checks are deliberately strict about what is certainly broken
(U+FFFD, mojibake, HTML markup) and silent about what is merely unusual (``<`` in ``K+ < 3.5``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bimed_assets import text_safety
from bimed_assets.schema import REASONS


class Rejected(Exception):
    def __init__(self, reason: str, detail: str):
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# Encoding damage: U+FFFD; UTF-8 read as Latin-1/cp1252 ("Ã©", "â€™", "Â½"); a stray C1 control character
# (U+0080–U+009F), which no real text contains and which such mis-decoding leaves behind ("grams?\x9d").
_BROKEN_ENCODING = re.compile(r"\ufffd|Ã[\u0080-\u00bf]|â€[\u0080-\u00bf™œ\u009d]|Â[\u00a0-\u00bf]|[\u0080-\u009f]")
# HTML left by scraping: tags that occur in web text (not "<5 mm" or "a < b"), or an entity.
_HTML = re.compile(
    r"</?(?:p|br|div|span|a|b|i|u|em|strong|ul|ol|li|table|tr|td|th|img|font|sup|sub|h[1-6]|hr)(?:\s[^<>]*)?/?>"
    r"|&(?:nbsp|amp|lt|gt|quot|apos|#\d{2,5}|#x[0-9a-f]{2,4});",
    re.IGNORECASE,
)
# Every pattern above starts with one of these characters; most texts have none, so one cheap scan clears them.
_SUSPECT = re.compile("[\ufffdÃâÂ\u0080-\u009f<&]")


def check_text(value: str, field: str) -> str:
    if _SUSPECT.search(value):
        if _BROKEN_ENCODING.search(value):
            raise Rejected("broken_encoding", f"{field} has undecodable or mis-decoded characters")
        if match := _HTML.search(value):
            raise Rejected("html_remnant", f"{field} contains {match.group(0)!r}")
    if removed := text_safety.find(value):
        # A bidi control changes how the text around it displays ("5.0 mg" shown as "0.5 mg"): refused. The
        # other invisible characters (zero-width space, stray BOM…) mean nothing: dropped; `native` keeps them.
        if controls := [ch for ch in removed if ch in text_safety.BIDI_CONTROLS]:
            raise Rejected("invisible_characters", f"{field} has {', '.join(map(text_safety.describe, controls))}")
        value = text_safety.clean(value).text.strip()
        if not value:
            raise Rejected("empty_text", f"{field} has only invisible characters")
    return value


def text(record: Mapping[str, Any], field: str, *, required: bool = True) -> str | None:
    """A text field, stripped; ``None`` when optional and absent or blank."""
    if not isinstance(record, dict | Mapping):  # dict first: the common case, and much cheaper to test
        raise Rejected("wrong_type", f"record is {type(record).__name__}, expected an object")
    value = record.get(field)
    if value is None:
        if required:
            raise Rejected("missing_field", f"{field} is missing")
        return None
    if not isinstance(value, str):
        raise Rejected("wrong_type", f"{field} is {type(value).__name__}, expected text")
    value = value.strip()
    if not value:
        if required:
            raise Rejected("empty_text", f"{field} is empty")
        return None
    return check_text(value, field)


def options(mapping: Mapping[str, Any], field: str = "options") -> list[dict[str, str]]:
    """Letter → text options, checked and kept in native order."""
    if mapping is None:
        raise Rejected("missing_field", f"{field} is missing")
    if not isinstance(mapping, Mapping):
        raise Rejected("wrong_type", f"{field} is {type(mapping).__name__}, expected letter → text")
    if len(mapping) < 2:
        raise Rejected("missing_field", f"{field} has {len(mapping)} option(s), expected at least 2")
    return [{"letter": str(letter), "text": text(mapping, letter)} for letter in mapping]


def answer_option(opts: list[dict[str, str]], letter: Any, answer_text: str | None = None) -> dict[str, str]:
    """The option a letter points at; its text must match ``answer_text`` when the source gives both."""
    for option in opts:
        if option["letter"] == letter:
            if answer_text is not None and option["text"].strip() != answer_text.strip():
                raise Rejected(
                    "answer_not_in_options",
                    f"answer {answer_text!r} differs from option {letter} {option['text']!r}",
                )
            return option
    letters = ",".join(o["letter"] for o in opts)
    raise Rejected("answer_not_in_options", f"answer letter {letter!r} is not one of {letters}")

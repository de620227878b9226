"""Answer validators: ``validator(text, parsed_json_or_None)`` raises ValueError to have the answer re-asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bimed_assets.record_rules import arabic_share

Validator = Callable[[str, Any], None]


def require_arabic(min_share: float = 0.5) -> Validator:
    """Rejects answers where fewer than ``min_share`` of the letters are Arabic (medical terms and drug
    names in Latin script are expected, so the default is lenient)."""

    def validate(text: str, parsed: Any) -> None:
        share = arabic_share(text)
        if share is None or share < min_share:
            raise ValueError(f"answer is not Arabic ({share or 0:.0%} of its letters Arabic)")

    return validate

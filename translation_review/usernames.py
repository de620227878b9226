"""Usernames: a safe character set, and no name that reads like an existing one.

A username is shown wherever a reviewer's work is (audit log, "in review by", decisions): it must display as
exactly what it is. Only lower-case ASCII letters, digits and ``. _ -`` are accepted (no bidi control, no
look-alike letter of another script can get in), and a name whose *skeleton* equals an existing one's is
refused: ``adrnin``, ``admln`` and ``adm1n`` all read as ``admin``.
"""

from __future__ import annotations

import re

PATTERN = re.compile(r"[a-z][a-z0-9._-]{1,31}")
RULE = "2–32 characters: lower-case letters a–z, digits and . _ -, starting with a letter"
# Sequences that read alike in lower case in the usual sans-serif fonts; pairs first. Digits that only look
# like capitals (8/B, 6/b) are left apart: "reviewer6" and "reviewer8" are different people.
_LOOK_ALIKE = [("rn", "m"), ("vv", "w"), ("cl", "d"), ("0", "o"), ("1", "l"), ("i", "l"), ("5", "s")]
_SEPARATORS = re.compile(r"[._-]+")


class InvalidUsername(ValueError):
    pass


def check(username: str) -> str:
    """The username if it follows the rule, else ``InvalidUsername`` saying what is wrong."""
    if not PATTERN.fullmatch(username):
        shown = username.encode("ascii", "backslashreplace").decode()  # a bidi control shows as \u202e
        raise InvalidUsername(f"username {shown!r} refused: {RULE}")
    return username


def skeleton(username: str) -> str:
    """What a name looks like: separators dropped, look-alike letters and digits folded together."""
    out = _SEPARATORS.sub("", username.lower())
    for seen, reads_as in _LOOK_ALIKE:
        out = out.replace(seen, reads_as)
    return out

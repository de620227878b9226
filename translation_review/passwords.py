"""Password hashing (argon2id), the password policy, and API tokens (random, stored as SHA-256: they are
high-entropy already)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that the response time does not reveal which names exist.
_DUMMY = _hasher.hash(secrets.token_hex(16))


MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 hashes anything, but a megabyte "password" is an attack on the CPU, not a secret
# zxcvbn's score (0–4) estimates guesses against common-password lists, dictionary words, names, keyboard
# patterns, sequences and dates; 3 is "safely unguessable" against an offline attack on a slow hash.
MIN_SCORE = 3


class WeakPassword(ValueError):
    pass


def check_policy(password: str, username: str = "") -> None:
    """Refuses, with what to change, a password that is short, blank, common or guessable."""
    from zxcvbn import zxcvbn  # its word lists load on first use (~0.1 s), not with every import of the store

    if len(password.strip()) < MIN_LENGTH or len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password needs {MIN_LENGTH} to {MAX_LENGTH} characters, not counting spaces "
                           "at either end")
    verdict = zxcvbn(password, user_inputs=[username, "bimed", "review"])
    if verdict["score"] < MIN_SCORE:
        hint = verdict["feedback"]["warning"] or "it is too easy to guess"
        raise WeakPassword(f"password refused: {hint.rstrip('.')}; a few unrelated words together work well")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

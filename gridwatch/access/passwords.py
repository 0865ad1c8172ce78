"""Password hashing: argon2id (argon2-cffi), salted and slow; passwords are never kept.

Examples
--------
>>> stored = hash_password("correct horse battery")
>>> stored.startswith("$argon2id$")
True
>>> verify_password(stored, "correct horse battery"), verify_password(stored, "wrong")
(True, False)
"""

from __future__ import annotations

import contextlib
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gridwatch.errors import ConfigError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "check_new_password",
    "hash_password",
    "verify_nothing",
    "verify_password",
]

#: Shortest password accepted for a new or changed password.
MIN_PASSWORD_LENGTH = 8
_HASHER = PasswordHasher()  # argon2id with the library's current recommended costs


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user is unknown, so a refusal takes as long either way
    (made on first use: hashing costs a quarter second, which every command paid at import)."""
    return _HASHER.hash("gridwatch: no such user")


def check_new_password(password: str) -> None:
    """Refuse a password too short to be a password (the message never repeats it)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(f"the password is too short: at least {MIN_PASSWORD_LENGTH} "
                          "characters")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salt and costs inside the text)."""
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash (``False`` for no hash or a damaged
    one)."""
    if not stored:
        verify_nothing(password)
        return False
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_nothing(password: str) -> None:
    """Spend the time of one verification (an unknown user is refused as slowly as a wrong
    password, so the time does not tell them apart)."""
    with contextlib.suppress(VerificationError):
        _HASHER.verify(_dummy_hash(), password)

"""Exceptions raised by gridwatch.

Every error derives from :class:`GridwatchError` and also from the builtin that fits it, so
callers can catch either ``GridwatchError`` or, say, ``ValueError``.
"""

from __future__ import annotations

__all__ = [
    "AccessError",
    "CRSError",
    "ConfigError",
    "GridwatchError",
    "InputFileError",
    "LayerError",
    "SchemaError",
    "SignInError",
    "StoreError",
]


class GridwatchError(Exception):
    """Base class of every error gridwatch raises on purpose."""


class ConfigError(GridwatchError, ValueError):
    """The project file (``gridwatch.toml``) or an option is wrong.

    ``problems`` lists every problem found, so they can all be fixed at once.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        if self.problems:
            message = message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


class InputFileError(GridwatchError, OSError):
    """An input file cannot be read at all (missing, unknown format, wrong encoding, too big)."""


class SchemaError(GridwatchError, ValueError):
    """An input file lacks what every record needs (for example no column maps to issue_id)."""


class CRSError(GridwatchError, ValueError):
    """A coordinate system is unknown, or two layers/frames disagree on it."""


class LayerError(GridwatchError, ValueError):
    """A boundary layer cannot be used (missing id field, no polygons, unknown parent)."""


class StoreError(GridwatchError, RuntimeError):
    """The store cannot be opened or written."""


class AccessError(GridwatchError, PermissionError):
    """The user may not do this (their role does not allow it, or the area is outside their
    scope)."""


class SignInError(AccessError):
    """A sign-in was refused. The message never says whether the name or the password was
    wrong, or the user disabled."""

"""``[ledger]`` of the project file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gridwatch.errors import ConfigError

__all__ = ["LedgerSettings", "parse_ledger_settings"]


@dataclass(frozen=True)
class LedgerSettings:
    """``[ledger]``: whether a task counts as closed off only once accepted (验收销号)."""

    require_acceptance: bool = True


def parse_ledger_settings(section: Mapping[str, Any]) -> LedgerSettings:
    """Validate ``[ledger]``; raise ConfigError listing every problem."""
    from gridwatch.settings import type_name, unknown_keys

    problems = unknown_keys(section, ("require_acceptance",), "[ledger]")
    value = section.get("require_acceptance", True)
    if not isinstance(value, bool):
        problems.append(f"[ledger] require_acceptance must be true or false, got "
                        f"{type_name(value)} ({value!r})")
    if problems:
        raise ConfigError(f"[ledger] has {len(problems)} problem(s):", problems)
    return LedgerSettings(require_acceptance=bool(value))

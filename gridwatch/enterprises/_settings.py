"""``[enterprises]``, ``[petitions]`` and ``[campaigns]`` of the project file.

Example::

    [enterprises]
    window_days = 365     # the repeat-offender rule looks at problems reported in these days
    min_problems = 4      # repeat offender: at least this many problems in the window ...
    min_rebounds = 2      # ... or at least this many rebounds in the window (0: not used)
    # radius_m, days: a rebound within R metres / D days of a closing
    # (default: [supervision.rebound])

    [petitions]
    days = 30                       # a complaint within D days after a petition repeats it
    radius_m = 50                   # ... about the same place
    description_radius_m = 200      # ... or with the same description this close
    sources = ["public_report", "hotline"]   # what counts as a complaint (and every petition)

    [[campaigns.rules]]
    name = "绿剑2026"
    categories = ["solid_waste"]
    start = 2026-03-01
    end = 2026-06-30
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gridwatch.errors import ConfigError
from gridwatch.schema import CATEGORIES, SOURCES

__all__ = [
    "CampaignRule",
    "CampaignSettings",
    "EnterpriseSettings",
    "PetitionSettings",
    "parse_campaign_settings",
    "parse_enterprise_settings",
    "parse_petition_settings",
]


@dataclass(frozen=True)
class EnterpriseSettings:
    """``[enterprises]``: rebounds at an enterprise and the repeat-offender rule."""

    #: A rebound lies within this many metres of the closed problem (None: as
    #: ``[supervision.rebound] radius_m``).
    radius_m: float | None = None
    #: ... and is reported within this many days of its closing (None: as
    #: ``[supervision.rebound] days``).
    days: float | None = None
    #: The rule counts problems and rebounds reported in the last ``window_days`` days.
    window_days: int = 365
    #: Repeat offender: at least ``min_problems`` problems in the window (0: not used) ...
    min_problems: int = 4
    #: ... or at least ``min_rebounds`` rebounds in the window (0: not used).
    min_rebounds: int = 2


@dataclass(frozen=True)
class PetitionSettings:
    """``[petitions]``: what makes a later complaint a repeat of a petition."""

    days: float = 30.0
    radius_m: float = 50.0
    description_radius_m: float = 200.0
    #: Sources whose problems count as complaints (every petition counts too).
    sources: tuple[str, ...] = ("public_report", "hotline")


@dataclass(frozen=True)
class CampaignRule:
    """One ``[[campaigns.rules]]``: problems of these categories and sources reported between
    ``start`` and ``end`` (local dates, inclusive) belong to campaign ``name``."""

    name: str
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None


@dataclass(frozen=True)
class CampaignSettings:
    """``[campaigns]``: rules tagging problems that carry no 专项行动 of their own."""

    rules: tuple[CampaignRule, ...] = field(default_factory=tuple)


def _number(raw: Mapping[str, Any], key: str, where: str, problems: list[str], *,
            whole: bool = False, allow_zero: bool = False) -> Any:
    value = raw[key]
    kinds = (int,) if whole else (int, float)
    low_ok = value >= 0 if allow_zero and isinstance(value, kinds) else None
    if isinstance(value, bool) or not isinstance(value, kinds) or not (
            low_ok if low_ok is not None else value > 0):
        what = "a whole number" if whole else "a number"
        bound = ">= 0" if allow_zero else "> 0"
        problems.append(f"{where} {key} must be {what} {bound}, got {value!r}")
        return None
    return value


def parse_enterprise_settings(section: Mapping[str, Any]) -> EnterpriseSettings:
    """Validate ``[enterprises]``; raise ConfigError listing every problem."""
    from gridwatch.settings import unknown_keys

    raw = dict(section or {})
    keys = ("radius_m", "days", "window_days", "min_problems", "min_rebounds")
    problems = unknown_keys(raw, keys, "[enterprises]")
    values: dict[str, Any] = {}
    for key in keys:
        if key in raw:
            whole = key in ("window_days", "min_problems", "min_rebounds")
            value = _number(raw, key, "[enterprises]", problems, whole=whole,
                            allow_zero=key.startswith("min_"))
            if value is not None:
                values[key] = value if whole else float(value)
    if values.get("min_problems") == 0 and values.get("min_rebounds") == 0:
        problems.append("[enterprises] min_problems and min_rebounds are both 0: no enterprise "
                        "could be a repeat offender; set one of them")
    if problems:
        raise ConfigError(f"[enterprises] has {len(problems)} problem(s):", problems)
    return EnterpriseSettings(**values)


def _codes(raw: Mapping[str, Any], key: str, allowed: tuple[str, ...], where: str,
           problems: list[str]) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where} {key} must be an array of strings, got {value!r}")
        return ()
    bad = [v for v in value if v not in allowed]
    if bad:
        problems.append(f"{where} {key}: unknown {', '.join(map(repr, bad))} (allowed: "
                        f"{', '.join(allowed)})")
    return tuple(v for v in value if v in allowed)


def parse_petition_settings(section: Mapping[str, Any]) -> PetitionSettings:
    """Validate ``[petitions]``; raise ConfigError listing every problem."""
    from gridwatch.settings import unknown_keys

    raw = dict(section or {})
    keys = ("days", "radius_m", "description_radius_m", "sources")
    problems = unknown_keys(raw, keys, "[petitions]")
    values: dict[str, Any] = {}
    for key in keys[:3]:
        if key in raw:
            value = _number(raw, key, "[petitions]", problems)
            if value is not None:
                values[key] = float(value)
    if "sources" in raw:
        values["sources"] = _codes(raw, "sources", SOURCES, "[petitions]", problems)
    if problems:
        raise ConfigError(f"[petitions] has {len(problems)} problem(s):", problems)
    return PetitionSettings(**values)


def _date(value: Any, where: str, key: str, problems: list[str]) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    problems.append(f"{where} {key} must be a date such as 2026-03-01, got {value!r}")
    return None


def parse_campaign_settings(section: Mapping[str, Any]) -> CampaignSettings:
    """Validate ``[campaigns]`` (its ``[[campaigns.rules]]``); raise ConfigError listing every
    problem."""
    from gridwatch.settings import unknown_keys

    raw = dict(section or {})
    problems = unknown_keys(raw, ("rules",), "[campaigns]")
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        problems.append(f"[campaigns] rules must be an array of tables ([[campaigns.rules]]), "
                        f"got {rules_raw!r}")
        rules_raw = []
    rules = []
    for k, rule in enumerate(rules_raw, start=1):
        where = f"[[campaigns.rules]] #{k}"
        if not isinstance(rule, dict):
            problems.append(f"{where} must be a table, got {rule!r}")
            continue
        problems += unknown_keys(rule, ("name", "categories", "sources", "start", "end"), where)
        name = rule.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where} name must be a non-empty string, got {name!r}")
            continue
        start = _date(rule["start"], where, "start", problems) if "start" in rule else None
        end = _date(rule["end"], where, "end", problems) if "end" in rule else None
        if start and end and end < start:
            problems.append(f"{where} end {end} is before start {start}")
        rules.append(CampaignRule(
            name=name.strip(), categories=_codes(rule, "categories", CATEGORIES, where, problems),
            sources=_codes(rule, "sources", SOURCES, where, problems), start=start, end=end))
    if problems:
        raise ConfigError(f"[campaigns] has {len(problems)} problem(s):", problems)
    return CampaignSettings(rules=tuple(rules))

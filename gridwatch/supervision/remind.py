"""Daily reminders and escalation (日提醒, 一函两单) per responsible unit.

As of a local date, every open problem is in one bucket at most: ``overdue`` (red),
``due_today`` (deadline date is today) or ``due_soon`` (due within ``due_soon_days`` working
days). Overdue problems escalate by calendar days overdue: ``reminder_letter`` (提醒函) from
``reminder_letter`` days, ``assignment_sheet`` (交办单) from ``assignment_sheet`` days and
``supervision_order`` (督办单) from ``supervision_order`` days; a problem carries its highest level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.schema import DEFAULT_TIMEZONE
from gridwatch.settings import unknown_keys
from gridwatch.supervision.calendar import local_dates

__all__ = [
    "BUCKETS",
    "ESCALATION_LABELS",
    "ESCALATION_LEVELS",
    "EscalationSettings",
    "parse_escalation_settings",
    "reminder_list",
    "reminder_summary",
    "write_reminders",
]

BUCKETS: tuple[str, ...] = ("overdue", "due_today", "due_soon")
ESCALATION_LEVELS: tuple[str, ...] = ("reminder_letter", "assignment_sheet", "supervision_order")
ESCALATION_LABELS: dict[str, str] = {
    "reminder_letter": "提醒函", "assignment_sheet": "交办单", "supervision_order": "督办单",
}
#: Label for problems with no responsible unit.
NO_UNIT = "（未指定责任单位）"


@dataclass(frozen=True)
class EscalationSettings:
    """``[supervision.escalation]``: thresholds in calendar days overdue."""

    due_soon_days: int = 3
    reminder_letter: int = 1
    assignment_sheet: int = 3
    supervision_order: int = 7


def parse_escalation_settings(section: Mapping[str, Any]) -> EscalationSettings:
    """Validate ``[supervision.escalation]``; raise ConfigError listing every problem."""
    raw = dict(section or {})
    keys = ("due_soon_days", *ESCALATION_LEVELS)
    problems = unknown_keys(raw, keys, "[supervision.escalation]")
    values = dict(EscalationSettings().__dict__)
    for key in keys:
        if key not in raw:
            continue
        value = raw[key]
        floor = 0 if key == "due_soon_days" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < floor:
            problems.append(f"[supervision.escalation] {key} must be a whole number of days "
                            f">= {floor}, got {value!r}")
        else:
            values[key] = value
    levels = [values[k] for k in ESCALATION_LEVELS]
    if levels != sorted(levels) or len(set(levels)) != len(levels):
        problems.append("[supervision.escalation] thresholds must increase: reminder_letter < "
                        "assignment_sheet < supervision_order, got "
                        + ", ".join(f"{k} = {values[k]}" for k in ESCALATION_LEVELS))
    if problems:
        raise ConfigError(f"[supervision.escalation] has {len(problems)} problem(s):", problems)
    return EscalationSettings(**values)


def reminder_list(issues: pd.DataFrame, evaluated: pd.DataFrame, *, as_of: Any,
                  settings: EscalationSettings | None = None,
                  timezone: str = DEFAULT_TIMEZONE) -> pd.DataFrame:
    """Open problems that need a reminder as of ``as_of``, with their escalation level.

    Parameters
    ----------
    issues
        The wide issues frame.
    evaluated
        :func:`gridwatch.supervision.codes.evaluate_as_of` of ``issues`` as of ``as_of``.
    as_of
        The local date.
    settings
        Thresholds (``[supervision.escalation]``).
    timezone
        The territory's time zone.

    Returns
    -------
    pandas.DataFrame
        Index of ``issues`` (a subset): ``responsible_unit``, ``issue_id``, ``category``,
        ``reported_at``, ``deadline``, ``bucket``, ``days_overdue``, ``working_days_left``,
        ``escalation`` (level code or NA), ``address``, ``description`` and
        ``escalation_label`` (提醒函/交办单/督办单);
        sorted by unit, then most overdue first, then deadline, then issue_id.
    """
    from gridwatch.supervision.codes import parse_as_of

    settings = settings or EscalationSettings()
    day = np.datetime64(parse_as_of(as_of), "D")
    code = evaluated["code"].fillna("").to_numpy(dtype=object)
    is_open = evaluated["is_open"].to_numpy(dtype=bool)
    due_day = local_dates(evaluated["deadline"], timezone)
    left = evaluated["working_days_left"].to_numpy(dtype="float64")
    overdue = code == "red"
    today = is_open & ~overdue & (due_day == day)
    soon = is_open & ~overdue & ~today & (left <= settings.due_soon_days)
    bucket = np.select([overdue, today, soon], list(BUCKETS), default="")
    days = evaluated["days_overdue"].to_numpy(dtype="float64")
    level = np.select(
        [overdue & (days >= settings.supervision_order),
         overdue & (days >= settings.assignment_sheet),
         overdue & (days >= settings.reminder_letter)],
        list(reversed(ESCALATION_LEVELS)), default="")
    keep = bucket != ""
    unit = (issues["responsible_unit"].astype("str") if "responsible_unit" in issues
            else pd.Series(pd.NA, index=issues.index, dtype="str"))
    unit = unit.str.strip().replace("", pd.NA).fillna(NO_UNIT)
    out = pd.DataFrame({
        "responsible_unit": unit,
        "issue_id": issues["issue_id"].astype("str"),
        "category": issues.get("category", pd.NA),
        "reported_at": issues["reported_at"],
        "deadline": evaluated["deadline"],
        "bucket": pd.Series(bucket, index=issues.index, dtype="str"),
        "days_overdue": days,
        "working_days_left": left,
        "escalation": pd.Series(level, index=issues.index, dtype="str").replace("", pd.NA),
        "address": issues.get("address", pd.NA),
        "description": issues.get("description", pd.NA),
    }, index=issues.index)[keep]
    out["escalation_label"] = out["escalation"].map(ESCALATION_LABELS).astype("str")
    return out.sort_values(["responsible_unit", "days_overdue", "deadline", "issue_id"],
                           ascending=[True, False, True, True], na_position="last",
                           kind="stable")


def reminder_summary(reminders: pd.DataFrame, *, by: str = "responsible_unit") -> pd.DataFrame:
    """Counts per responsible unit (or per the column ``by``, e.g. ``responsible_leader``):
    each bucket, each escalation level, and the worst delay."""
    units = reminders[by]
    parts = {b: (reminders["bucket"] == b) for b in BUCKETS}
    parts.update({lvl: (reminders["escalation"] == lvl).fillna(False) for lvl in ESCALATION_LEVELS})
    counts = pd.DataFrame({k: v.astype("int64") for k, v in parts.items()}).groupby(units).sum()
    counts["max_days_overdue"] = reminders["days_overdue"].groupby(units).max()
    counts = counts.rename_axis(by).reset_index()
    return counts.sort_values(["supervision_order", "assignment_sheet", "reminder_letter",
                               "overdue", by],
                              ascending=[False, False, False, False, True],
                              kind="stable").reset_index(drop=True)


def write_reminders(reminders: pd.DataFrame, path: str | Path, *,
                    timezone: str = DEFAULT_TIMEZONE,
                    by: str = "responsible_unit") -> list[Path]:
    """Write the lists: an XLSX with a summary sheet (per ``by``), a sheet per level and the
    full list; or for ``.csv`` the full list plus ``<stem>_summary.csv`` beside it.

    Returns
    -------
    list of Path
        The files written.
    """
    from gridwatch.output.files import write_table, write_workbook

    path = Path(path)
    summary = reminder_summary(reminders, by=by)
    table = reminders.reset_index(drop=True)
    if path.suffix.lower() == ".csv":
        second = path.with_name(f"{path.stem}_summary.csv")
        return [write_table(table, path, timezone=timezone),
                write_table(summary, second, timezone=timezone)]
    sheets = {"summary": summary, "all": table}
    for level in ESCALATION_LEVELS:
        sheets[ESCALATION_LABELS[level]] = table[table["escalation"] == level]
    return [write_workbook(sheets, path, timezone=timezone)]

"""Rectification deadlines (限时销号): the record's own, or one derived from ``[deadlines]`` rules.

Days are counted in calendar days or in Chinese working days with the official holidays and
make-up workdays (调休) of the ``chinese_calendar`` package. For a year that package does not
cover, working days fall back to Monday–Friday and one :class:`CalendarFallbackWarning` is
emitted per computation. Everything is vectorised: a sorted array of working days is built once
and deadlines are looked up with :func:`numpy.searchsorted`.

Task kinds (任务类型):

* ``immediate`` (立行立改): a short deadline, by default 1 day;
* ``staged`` (阶段性): intermediate milestones and a final deadline;
* ``long_term`` (长期坚持): no deadline, never overdue; due for periodic review instead;
* ``standard``: everything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.schema import CATEGORIES, DEFAULT_TIMEZONE, SOURCES
from gridwatch.settings import unknown_keys
from gridwatch.supervision.calendar import (
    Unit,
    add_days,
    calendar_for,
    end_of_local_day,
    local_dates,
    one_calendar_warning,
)

__all__ = [
    "TASK_KINDS",
    "TASK_KIND_LABELS",
    "DeadlineRule",
    "DeadlineSettings",
    "derive_deadlines",
    "parse_deadline_settings",
    "task_kinds",
]

TASK_KINDS: tuple[str, ...] = ("immediate", "staged", "long_term", "standard")
#: Words written in the task_type column, matched after stripping; codes match themselves.
TASK_KIND_LABELS: dict[str, str] = {
    "立行立改": "immediate", "立即整改": "immediate", "即知即改": "immediate",
    "阶段性": "staged", "阶段性整改": "staged", "分阶段": "staged",
    "长期坚持": "long_term", "长期": "long_term", "长期整改": "long_term",
    "常规": "standard", "一般": "standard",
    **{k: k for k in TASK_KINDS},
}
_UNITS: tuple[Unit, ...] = ("working", "calendar")


@dataclass(frozen=True)
class DeadlineRule:
    """One ``[[deadlines.rules]]`` entry; empty match fields match anything."""

    days: int
    unit: Unit = "working"
    kind: str = "standard"
    category: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    task_type: tuple[str, ...] = ()
    #: Milestones of a staged task, in days after the report (same unit).
    milestones: tuple[int, ...] = ()


@dataclass(frozen=True)
class DeadlineSettings:
    """The parsed ``[deadlines]`` section."""

    rules: tuple[DeadlineRule, ...] = ()
    default_days: int = 15
    default_unit: Unit = "working"
    immediate_days: int = 1
    #: Long-term tasks are reviewed every this many calendar days after the report.
    review_every_days: int = 30
    #: A deadline given in the record wins over the rules.
    prefer_record: bool = True
    task_labels: Mapping[str, str] = field(default_factory=lambda: dict(TASK_KIND_LABELS))


def parse_deadline_settings(section: Mapping[str, Any]) -> DeadlineSettings:
    """Validate a ``[deadlines]`` section (parsed into ``config.settings.deadlines``).

    Raises
    ------
    ConfigError
        Listing every problem found.
    """
    problems: list[str] = []
    raw = dict(section or {})
    known = {"rules", "default_days", "unit", "immediate_days", "review_every_days",
             "prefer_record", "task_labels"}
    problems += unknown_keys(raw, known, "[deadlines]")
    default_unit = _unit(raw.get("unit", "working"), "[deadlines] unit", problems)
    default_days = _nonneg_int(raw.get("default_days", 15), "[deadlines] default_days", problems)
    immediate = _nonneg_int(raw.get("immediate_days", 1), "[deadlines] immediate_days", problems)
    review = _nonneg_int(raw.get("review_every_days", 30), "[deadlines] review_every_days",
                         problems)
    if review == 0:
        problems.append("[deadlines] review_every_days must be >= 1, got 0")
    prefer = raw.get("prefer_record", True)
    if not isinstance(prefer, bool):
        problems.append(f"[deadlines] prefer_record must be true or false, got {prefer!r}")
    labels = dict(TASK_KIND_LABELS)
    extra = raw.get("task_labels", {})
    if not isinstance(extra, dict):
        problems.append("[deadlines.task_labels] must be a table of label = kind")
        extra = {}
    for label, kind in extra.items():
        if not isinstance(kind, str) or kind not in TASK_KINDS:
            problems.append(f"[deadlines.task_labels] {label!r} maps to {kind!r}; "
                            f"allowed: {', '.join(TASK_KINDS)}")
        labels[str(label).strip()] = str(kind)
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        problems.append("[[deadlines.rules]] must be an array of tables")
        rules_raw = []
    rules = tuple(r for i, item in enumerate(rules_raw, start=1)
                  if (r := _rule(item, i, default_unit, immediate, problems)) is not None)
    if problems:
        raise ConfigError(f"the [deadlines] section has {len(problems)} problem(s):", problems)
    return DeadlineSettings(rules=rules, default_days=default_days, default_unit=default_unit,
                            immediate_days=immediate, review_every_days=max(review, 1),
                            prefer_record=bool(prefer), task_labels=labels)


def _rule(item: Any, i: int, default_unit: Unit, immediate: int,
          problems: list[str]) -> DeadlineRule | None:
    where = f"[[deadlines.rules]] #{i}"
    if not isinstance(item, dict):
        problems.append(f"{where} must be a table")
        return None
    allowed = {"category", "source", "severity", "task_type", "days", "unit", "kind",
               "milestones"}
    problems += unknown_keys(item, allowed, where)
    kind = item.get("kind", "standard")
    if kind not in TASK_KINDS:
        problems.append(f"{where}: kind {kind!r} is not one of {', '.join(TASK_KINDS)}")
        kind = "standard"
    if "days" in item:
        days = _nonneg_int(item["days"], f"{where} days", problems)
    elif kind == "immediate":
        days = immediate
    elif kind == "long_term":
        days = 0
    else:
        problems.append(f"{where}: days is required for kind {kind!r}")
        days = 0
    match = {name: _str_tuple(item.get(name), f"{where} {name}", problems)
             for name in ("category", "source", "severity", "task_type")}
    for name, codes in (("category", CATEGORIES), ("source", SOURCES)):
        for value in match[name]:
            if value not in codes:
                problems.append(f"{where}: {name} {value!r} is not a code; "
                                f"allowed: {', '.join(codes)}")
    raw_milestones = item.get("milestones", [])
    if not isinstance(raw_milestones, list):
        problems.append(f"{where} milestones must be an array of whole numbers of days, "
                        f"got {raw_milestones!r}")
        raw_milestones = []
    milestones = tuple(_nonneg_int(m, f"{where} milestones", problems) for m in raw_milestones)
    if milestones and (list(milestones) != sorted(milestones) or milestones[-1] > days):
        problems.append(f"{where}: milestones {list(milestones)} must increase and not pass "
                        f"days = {days}")
    if milestones and kind != "staged":
        problems.append(f"{where}: milestones are only for kind 'staged', got kind {kind!r}")
    return DeadlineRule(days=days, unit=_unit(item.get("unit", default_unit), f"{where} unit",
                                              problems),
                        kind=kind, milestones=milestones, **match)


def _unit(value: Any, where: str, problems: list[str]) -> Unit:
    for unit in _UNITS:
        if value == unit:
            return unit
    problems.append(f"{where} {value!r} is not one of {', '.join(_UNITS)}")
    return "working"


def _nonneg_int(value: Any, where: str, problems: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(f"{where} must be a whole number of days >= 0, got {value!r}")
        return 0
    return value


def _str_tuple(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    problems.append(f"{where} must be a string or a list of strings, got {value!r}")
    return ()


def task_kinds(task_type: pd.Series, *, labels: Mapping[str, str] | None = None) -> pd.Series:
    """Map the task_type column (立行立改, 阶段性, 长期坚持 or codes) to kinds; others are NA."""
    table = dict(labels or TASK_KIND_LABELS)
    text = task_type.astype("str").str.strip()
    return text.map(table).astype("str")


def _match(issues: pd.DataFrame, column: str, values: Iterable[str]) -> np.ndarray:
    values = tuple(values)
    if not values:
        return np.ones(len(issues), dtype=bool)
    if column not in issues:
        return np.zeros(len(issues), dtype=bool)
    hit: np.ndarray = issues[column].astype("str").isin(values).to_numpy(dtype=bool,
                                                                         na_value=False)
    return hit


def derive_deadlines(issues: pd.DataFrame, settings: DeadlineSettings | None = None, *,
                     timezone: str = DEFAULT_TIMEZONE) -> pd.DataFrame:
    """Effective deadline of every problem.

    The record's own ``deadline`` wins (when ``prefer_record``); otherwise the first rule in
    declaration order whose category/source/severity/task_type match; otherwise the default.
    The task kind comes from the rule (unless the rule's kind is ``standard``), else from the
    record's task_type. Long-term tasks get no deadline, even one written in the record.
    Derived deadlines end at 23:59:59 local time of their last day.

    Parameters
    ----------
    issues
        Frame with ``reported_at`` (UTC) and optionally ``deadline``, ``category``, ``source``,
        ``severity``, ``task_type``.
    settings
        The parsed ``[deadlines]`` section; defaults when omitted.
    timezone
        The territory's time zone, in which days are counted.

    Returns
    -------
    pandas.DataFrame
        Same index: ``deadline`` (datetime64[ns, UTC], NaT for long-term), ``deadline_source``
        (``record``, ``rule``, ``default`` or ``none``), ``rule`` (rule number from 1, 0 when none),
        ``task_kind``, ``milestones`` (tuple of UTC timestamps; empty unless staged).
    """
    with one_calendar_warning():
        return _derive(issues, settings or DeadlineSettings(), timezone)


def _derive(issues: pd.DataFrame, settings: DeadlineSettings, timezone: str) -> pd.DataFrame:
    n = len(issues)
    reported = local_dates(issues["reported_at"], timezone)
    kind_from_record = (task_kinds(issues["task_type"], labels=settings.task_labels)
                        if "task_type" in issues else pd.Series(pd.NA, index=issues.index,
                                                                 dtype="str"))
    rule_no = np.zeros(n, dtype="int64")
    for i, rule in enumerate(settings.rules, start=1):
        hit = (rule_no == 0)
        for column in ("category", "source", "severity", "task_type"):
            hit &= _match(issues, column, getattr(rule, column))
        rule_no[hit] = i
    kind = kind_from_record.fillna("standard").to_numpy(dtype=object)
    days = np.where(kind == "immediate", settings.immediate_days, settings.default_days)
    unit = np.full(n, settings.default_unit, dtype=object)
    for i, rule in enumerate(settings.rules, start=1):
        sel = rule_no == i
        if sel.any():
            kind[sel] = rule.kind if rule.kind != "standard" else kind[sel]
            days[sel] = rule.days
            unit[sel] = rule.unit
    calendar = calendar_for(reported, max_days=int(days.max(initial=0)))
    due = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    for u in _UNITS:
        sel = unit == u
        if sel.any():
            due[sel] = add_days(reported[sel], days[sel], unit=u, calendar=calendar)
    derived = end_of_local_day(due, timezone, index=issues.index)
    long_term = kind == "long_term"
    derived[long_term] = pd.NaT
    own = (issues["deadline"] if "deadline" in issues
           else pd.Series(pd.NaT, index=issues.index, dtype="datetime64[ns, UTC]"))
    own = pd.to_datetime(own, utc=True).astype("datetime64[ns, UTC]")
    # A long-term task is never overdue, whatever date the record carries.
    use_own = own.notna().to_numpy() & settings.prefer_record & ~long_term
    deadline = derived.where(~use_own, own)
    source = np.where(use_own, "record",
                      np.where(long_term, "none", np.where(rule_no > 0, "rule", "default")))
    milestones = _milestones(settings, rule_no, reported, calendar, timezone, issues.index)
    return pd.DataFrame({
        "deadline": deadline,
        "deadline_source": pd.Series(source, index=issues.index, dtype="str"),
        "rule": rule_no,
        "task_kind": pd.Series(kind, index=issues.index, dtype="str"),
        "milestones": milestones,
    }, index=issues.index)


def _milestones(settings: DeadlineSettings, rule_no: np.ndarray, reported: np.ndarray,
                calendar: np.ndarray, timezone: str, index: Any) -> pd.Series:
    out = pd.Series([()] * len(rule_no), index=index, dtype=object)
    for i, rule in enumerate(settings.rules, start=1):
        sel = np.flatnonzero(rule_no == i)
        if not rule.milestones or sel.size == 0:
            continue
        columns = [end_of_local_day(add_days(reported[sel], m, unit=rule.unit, calendar=calendar),
                                    timezone) for m in rule.milestones]
        stacked = list(zip(*[c.tolist() for c in columns], strict=True))
        out.iloc[sel] = pd.Series(stacked, index=out.index[sel], dtype=object)
    return out

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

import contextlib
import contextvars
import datetime as dt
import functools
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.schema import CATEGORIES, SOURCES

__all__ = [
    "TASK_KINDS",
    "TASK_KIND_LABELS",
    "CalendarFallbackWarning",
    "DeadlineRule",
    "DeadlineSettings",
    "add_days",
    "calendar_for",
    "count_working_days",
    "derive_deadlines",
    "end_of_local_day",
    "local_dates",
    "one_calendar_warning",
    "parse_deadline_settings",
    "task_kinds",
    "warn_uncovered",
    "working_days",
]

Unit = Literal["working", "calendar"]
TASK_KINDS: tuple[str, ...] = ("immediate", "staged", "long_term", "standard")
#: Words written in the task_type column, matched after stripping; codes match themselves.
TASK_KIND_LABELS: dict[str, str] = {
    "立行立改": "immediate", "立即整改": "immediate", "即知即改": "immediate",
    "阶段性": "staged", "阶段性整改": "staged", "分阶段": "staged",
    "长期坚持": "long_term", "长期": "long_term", "长期整改": "long_term",
    "常规": "standard", "一般": "standard",
    **{k: k for k in TASK_KINDS},
}
_UNITS = ("working", "calendar")
_DAY = np.timedelta64(1, "D")


class CalendarFallbackWarning(UserWarning):
    """A date lies in a year chinese_calendar does not cover; Monday–Friday was used."""


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
    """Validate a ``[deadlines]`` section (``config.section("deadlines")``).

    Raises
    ------
    ConfigError
        Listing every problem found.
    """
    problems: list[str] = []
    raw = dict(section or {})
    known = {"rules", "default_days", "unit", "immediate_days", "review_every_days",
             "prefer_record", "task_labels"}
    for key in sorted(set(raw) - known):
        problems.append(f"[deadlines] unknown key {key!r}; allowed: {', '.join(sorted(known))}")
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
        if kind not in TASK_KINDS:
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
    for key in sorted(set(item) - allowed):
        problems.append(f"{where}: unknown key {key!r}; allowed: {', '.join(sorted(allowed))}")
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
    milestones = tuple(_nonneg_int(m, f"{where} milestones", problems)
                       for m in item.get("milestones", []) or [])
    if milestones and (list(milestones) != sorted(milestones) or milestones[-1] > days):
        problems.append(f"{where}: milestones {list(milestones)} must increase and not pass "
                        f"days = {days}")
    if milestones and kind != "staged":
        problems.append(f"{where}: milestones are only for kind 'staged', got kind {kind!r}")
    return DeadlineRule(days=days, unit=_unit(item.get("unit", default_unit), f"{where} unit",
                                              problems),
                        kind=kind, milestones=milestones, **match)


def _unit(value: Any, where: str, problems: list[str]) -> Unit:
    if value not in _UNITS:
        problems.append(f"{where} {value!r} is not one of {', '.join(_UNITS)}")
        return "working"
    return value  # type: ignore[no-any-return]


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


# --- the working-day calendar ----------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _year_workdays(year: int) -> tuple[np.ndarray, bool]:
    """Working days of one year (sorted datetime64[D]) and whether chinese_calendar knew it."""
    import chinese_calendar

    days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"), _DAY)
    weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday (3)
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return days[weekday < 5], False
    holidays = np.array([np.datetime64(d, "D") for d in chinese_calendar.holidays
                         if d.year == year], dtype="datetime64[D]")
    makeup = np.array([np.datetime64(d, "D") for d in chinese_calendar.workdays
                       if d.year == year], dtype="datetime64[D]")
    work = ((weekday < 5) & ~np.isin(days, holidays)) | np.isin(days, makeup)
    return days[work], True


def working_days(first_year: int, last_year: int) -> np.ndarray:
    """Return the sorted Chinese working days of the years ``first_year..last_year``.

    Years chinese_calendar does not cover are Monday–Friday (see :func:`warn_uncovered`).

    Returns
    -------
    numpy.ndarray
        ``datetime64[D]`` array.
    """
    if last_year < first_year:
        raise ValueError(f"last_year {last_year} is before first_year {first_year}")
    return np.concatenate([_year_workdays(y)[0] for y in range(first_year, last_year + 1)])


_PENDING: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar(
    "gridwatch_calendar_pending", default=None)


@contextlib.contextmanager
def one_calendar_warning() -> Iterator[None]:
    """Gather the fallback years met inside the block into one warning at its end.

    Nested blocks defer to the outermost one, so one computation warns at most once.
    """
    if _PENDING.get() is not None:
        yield
        return
    token = _PENDING.set(set())
    try:
        yield
    finally:
        years = _PENDING.get() or set()
        _PENDING.reset(token)
        if years:
            _emit(years)


def _emit(years: Iterable[int]) -> None:
    warnings.warn(
        f"chinese_calendar has no holidays for {', '.join(map(str, sorted(years)))}: working "
        "days in those years are Monday–Friday (upgrade chinese-calendar for the official list)",
        CalendarFallbackWarning, stacklevel=4)


def warn_uncovered(*dates: np.ndarray) -> None:
    """Warn (once per :func:`one_calendar_warning` block) if any date lies in an uncovered year."""
    years: set[int] = set()
    for d in dates:
        d = np.asarray(d, dtype="datetime64[D]").ravel()
        d = d[~np.isnat(d)]
        if d.size:
            years.update(int(y) for y in np.unique(d.astype("datetime64[Y]").astype(int) + 1970))
    missing = {y for y in years if not _year_workdays(y)[1]}
    if not missing:
        return
    pending = _PENDING.get()
    if pending is None:
        _emit(missing)
    else:
        pending.update(missing)


def calendar_for(*dates: np.ndarray, max_days: int = 0) -> np.ndarray:
    """Working days covering every date given plus ``max_days`` working days after the last."""
    parts = [np.asarray(d, dtype="datetime64[D]").ravel() for d in dates]
    allday = np.concatenate(parts) if parts else np.array([], dtype="datetime64[D]")
    allday = allday[~np.isnat(allday)]
    if allday.size == 0:
        return np.array([], dtype="datetime64[D]")
    # 1.6 calendar days per working day is more than any holiday season needs.
    last = allday.max() + np.timedelta64(int(max_days * 1.6) + 20, "D")
    first_year = int(allday.min().astype("datetime64[Y]").astype(int)) + 1970
    return working_days(first_year, int(last.astype("datetime64[Y]").astype(int)) + 1970)


def add_days(start: Any, days: Any, *, unit: Unit = "working",
             calendar: np.ndarray | None = None) -> np.ndarray:
    """Add ``days`` calendar or working days to local dates.

    With working days the start day itself is not counted: the result is the ``days``-th working
    day after ``start`` (``days = 0`` gives ``start``). A result in a year chinese_calendar does
    not cover warns once (:class:`CalendarFallbackWarning`).

    Parameters
    ----------
    start
        Dates (anything ``numpy.asarray(..., "datetime64[D]")`` accepts); NaT stays NaT.
    days
        Whole days >= 0, a scalar or one per date.
    unit
        ``"working"`` or ``"calendar"``.
    calendar
        Sorted working days to use; built from chinese_calendar when omitted.

    Returns
    -------
    numpy.ndarray
        ``datetime64[D]`` dates.

    Examples
    --------
    >>> str(add_days(["2024-02-09"], 1)[0])  # Spring Festival 2024: Feb 10–17 off, 18 worked
    '2024-02-18'
    """
    start = np.asarray(start, dtype="datetime64[D]").ravel()
    n = np.broadcast_to(np.asarray(days, dtype="int64"), start.shape)
    if (n < 0).any():
        raise ValueError(f"days must be >= 0, got {int(n.min())}")
    if unit == "calendar":
        return start + n.astype("timedelta64[D]")
    if unit != "working":
        raise ValueError(f"unit must be 'working' or 'calendar', got {unit!r}")
    wd = calendar if calendar is not None else calendar_for(start, max_days=int(n.max(initial=0)))
    out = start.copy()
    valid = ~np.isnat(start) & (n > 0)
    idx = np.searchsorted(wd, start[valid], side="right") + n[valid] - 1
    if idx.size and idx.max() >= wd.size:
        raise ValueError("the working-day calendar is too short for these dates")
    out[valid] = wd[idx]
    warn_uncovered(out[valid])
    return out


def count_working_days(after: Any, until: Any, *, calendar: np.ndarray | None = None,
                       ) -> np.ndarray:
    """Number of working days ``d`` with ``after < d <= until`` (negative when until < after).

    NaN where either date is NaT. Warns once when the span meets an uncovered year.
    """
    a = np.asarray(after, dtype="datetime64[D]")
    b = np.asarray(until, dtype="datetime64[D]")
    wd = calendar if calendar is not None else calendar_for(a, b)
    out = (np.searchsorted(wd, b, side="right")
           - np.searchsorted(wd, a, side="right")).astype("float64")
    bad = np.isnat(a) | np.isnat(b)
    out[bad] = np.nan
    warn_uncovered(np.where(bad, np.datetime64("NaT"), np.maximum(a, b)))
    return out


def local_dates(times: pd.Series, timezone: str) -> np.ndarray:
    """Local calendar dates (``datetime64[D]``) of UTC timestamps in ``timezone``."""
    s = pd.to_datetime(times, utc=True)
    local = s.dt.tz_convert(timezone).dt.tz_localize(None)
    return local.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


def end_of_local_day(dates: np.ndarray, timezone: str, *, index: Any = None) -> pd.Series:
    """23:59:59 local time of each date, as UTC timestamps (the end of a date-only deadline)."""
    naive = pd.to_datetime(pd.Series(np.asarray(dates, dtype="datetime64[ns]"), index=index))
    naive = naive + pd.Timedelta(hours=23, minutes=59, seconds=59)
    local = naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    return local.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


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
    return issues[column].astype("str").isin(values).to_numpy(dtype=bool, na_value=False)


def derive_deadlines(issues: pd.DataFrame, settings: DeadlineSettings | None = None, *,
                     timezone: str = "Asia/Shanghai") -> pd.DataFrame:
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

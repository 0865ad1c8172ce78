"""The working-day calendar: Chinese working days with official holidays and make-up days (调休).

Working days come from the ``chinese_calendar`` package. For a year that package does not cover,
working days fall back to Monday–Friday and one :class:`CalendarFallbackWarning` is emitted per
computation (:func:`one_calendar_warning`). Everything is vectorised: a sorted array of working
days is built once and dates are looked up with :func:`numpy.searchsorted`.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "CalendarFallbackWarning",
    "Unit",
    "add_days",
    "calendar_for",
    "count_working_days",
    "end_of_local_day",
    "local_dates",
    "one_calendar_warning",
    "warn_uncovered",
    "working_days",
]

Unit = Literal["working", "calendar"]
_DAY = np.timedelta64(1, "D")


class CalendarFallbackWarning(UserWarning):
    """A date lies in a year chinese_calendar does not cover; Monday–Friday was used."""


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
            year = d.astype("datetime64[Y]").astype("int64")
            first, last = int(year.min()), int(year.max())
            if all(_year_workdays(y + 1970)[1] for y in range(first, last + 1)):
                continue  # every year in the span is covered: no need to see which occur
            # which years occur: a count per year (linear), not a sort of every date
            present = np.flatnonzero(np.bincount(year - first))
            years.update(int(y) + first + 1970 for y in present)
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
    first = np.asarray(start, dtype="datetime64[D]").ravel()
    n = np.broadcast_to(np.asarray(days, dtype="int64"), first.shape)
    if (n < 0).any():
        raise ValueError(f"days must be >= 0, got {int(n.min())}")
    if unit == "calendar":
        due: np.ndarray = first + n.astype("timedelta64[D]")
        return due
    if unit != "working":
        raise ValueError(f"unit must be 'working' or 'calendar', got {unit!r}")
    wd = calendar if calendar is not None else calendar_for(first, max_days=int(n.max(initial=0)))
    out = first.copy()
    valid = ~np.isnat(first) & (n > 0)
    idx = np.searchsorted(wd, first[valid], side="right") + n[valid] - 1
    if idx.size and idx.max() >= wd.size:
        raise ValueError("the working-day calendar is too short for these dates")
    out[valid] = wd[idx]
    warn_uncovered(out[valid])
    return out


def count_working_days(after: Any, until: Any, *, calendar: np.ndarray | None = None,
                       ) -> np.ndarray:
    """Number of working days ``d`` with ``after < d <= until`` (negative when until < after);
    either may be one date for all (arrays broadcast).

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
    return np.asarray(local.to_numpy(dtype="datetime64[ns]"), dtype="datetime64[D]")


def end_of_local_day(dates: np.ndarray, timezone: str, *, index: Any = None) -> pd.Series:
    """23:59:59 local time of each date, as UTC timestamps (the end of a date-only deadline)."""
    naive = pd.to_datetime(pd.Series(np.asarray(dates, dtype="datetime64[ns]"), index=index))
    naive = naive + pd.Timedelta(hours=23, minutes=59, seconds=59)
    local = naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    return local.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")

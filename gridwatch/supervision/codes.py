"""The state of every problem as of a date, and its red/yellow/green code (红黄绿码).

"As of" a local date ``D`` means at the end of that day in the territory's time zone: a problem
reported on ``D`` is known, one closed on ``D`` is closed, one closed on ``D + 1`` is still open.
The status at that moment is reconstructed from the status history when it is given (so a
problem reopened later is counted as it stood then), otherwise from ``reported_at``/``closed_at``.
Recomputing last month's figures from today's records therefore gives last month's answer.

Codes: ``red`` (open and past its deadline date), ``yellow`` (open and due within
``yellow_days`` working days, due today included), ``green`` (other open, including long-term
tasks, which are never overdue), ``closed_on_time`` (closed no later than the deadline, or with
no deadline) and ``closed_late``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.schema import CLOSED_STATUSES, DATE_LIMITS, DEFAULT_TIMEZONE
from gridwatch.settings import SUPERVISION_TABLES, unknown_keys
from gridwatch.supervision.calendar import (
    calendar_for,
    count_working_days,
    local_dates,
    one_calendar_warning,
)
from gridwatch.supervision.deadlines import DeadlineSettings, derive_deadlines
from gridwatch.supervision.events import StatusEvents, status_events

__all__ = [
    "CODES",
    "AsOfSettings",
    "as_of_cutoff",
    "evaluate_as_of",
    "parse_as_of",
    "parse_asof_settings",
    "state_arrays",
    "state_codes",
    "status_as_of",
    "text_from_codes",
]

CODES: tuple[str, ...] = ("red", "yellow", "green", "closed_on_time", "closed_late")
#: Sub-tables of ``[supervision]`` owned by other modules.
_SUBTABLES = set(SUPERVISION_TABLES)


@dataclass(frozen=True)
class AsOfSettings:
    """The top-level keys of ``[supervision]``."""

    #: Open problems due within this many working days (today included) are yellow.
    yellow_days: int = 3
    #: Statistics count incidents (duplicates grouped), not reports.
    count_incidents: bool = True


def parse_asof_settings(section: Mapping[str, Any]) -> AsOfSettings:
    """Validate the top-level keys of ``[supervision]``; raise ConfigError listing every problem."""
    raw = dict(section or {})
    problems: list[str] = []
    known = {"yellow_days", "count_incidents"}
    problems += unknown_keys(raw, known | _SUBTABLES, "[supervision]")
    yellow = raw.get("yellow_days", 3)
    if isinstance(yellow, bool) or not isinstance(yellow, int) or yellow < 0:
        problems.append(f"[supervision] yellow_days must be a whole number >= 0, got {yellow!r}")
        yellow = 3
    incidents = raw.get("count_incidents", True)
    if not isinstance(incidents, bool):
        problems.append(f"[supervision] count_incidents must be true or false, got {incidents!r}")
        incidents = True
    if problems:
        raise ConfigError(f"the [supervision] section has {len(problems)} problem(s):", problems)
    return AsOfSettings(yellow_days=yellow, count_incidents=incidents)


def parse_as_of(value: Any) -> dt.date:
    """Turn ``"2024-03-01"``, a date or a timestamp into a local date; ConfigError otherwise.

    The date must lie within :data:`gridwatch.schema.DATE_LIMITS` (1678-01-01 to 2261-12-31),
    the dates a stored time can hold.
    """
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ConfigError(f"as_of {value!r} is not a date; write it as YYYY-MM-DD") from None
    first, last = DATE_LIMITS
    if not first <= day <= last:
        raise ConfigError(f"as_of {value!s} is outside the dates gridwatch can work with: "
                          f"give a date from {first} to {last}")
    return day


def as_of_cutoff(as_of: Any, timezone: str) -> pd.Timestamp:
    """The UTC instant that ends local date ``as_of`` (the next local midnight)."""
    day = parse_as_of(as_of) + dt.timedelta(days=1)
    return pd.Timestamp(day).tz_localize(timezone).tz_convert("UTC")


def status_as_of(issues: pd.DataFrame, cutoff: pd.Timestamp,
                 history: pd.DataFrame | None = None, *,
                 events: StatusEvents | None = None) -> pd.DataFrame:
    """Status and closing time of each problem just before ``cutoff`` (a UTC instant).

    The record's own status is what its ``closed_at`` says; the status history, when given,
    overrides it from the problem's first recorded change on: the last change before the
    cutoff gives the status, and a closed problem's closing time is its record's
    ``closed_at`` when that is already past, else the time of its last move into a closed
    status (a reopening leaves the record's time stale).

    Parameters
    ----------
    issues
        The wide issues frame.
    cutoff
        The UTC instant.
    history
        The status history (``issue_id``, ``status``, ``previous_status``, ``changed_at``).
    events
        The history already sorted (:func:`gridwatch.supervision.events.status_events` of
        these issues), to answer many cutoffs without sorting again.

    Returns
    -------
    pandas.DataFrame
        Same index: ``known`` (reported before the cutoff), ``status`` (str, NA when not known),
        ``closed`` (bool), ``closed_at`` (closing time if closed then, else NaT).
    """
    known, status, labels, closed, close_ns = state_codes(issues, cutoff, history,
                                                         events=events)
    return pd.DataFrame({
        "known": known,
        "status": text_from_codes(status, labels, index=issues.index),
        "closed": closed,
        "closed_at": pd.Series(close_ns, index=issues.index).dt.tz_localize("UTC")
        .astype("datetime64[ns, UTC]"),
    }, index=issues.index)


def state_arrays(issues: pd.DataFrame, cutoff: pd.Timestamp,
                 history: pd.DataFrame | None = None, *, events: StatusEvents | None = None,
                 with_status: bool = True,
                 ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """:func:`status_as_of` as arrays: ``known``, ``status`` (object, or ``None`` without
    ``with_status``), ``closed`` and ``closed_at`` (``datetime64[ns]``, UTC, NaT if open)."""
    known, code, labels, closed, close_ns = state_codes(issues, cutoff, history, events=events)
    status = None
    if with_status:
        status = np.array([*labels, None], dtype=object)[code]  # code -1: the None at the end
    return known, status, closed, close_ns


def state_codes(issues: pd.DataFrame, cutoff: pd.Timestamp,
                history: pd.DataFrame | None = None, *, events: StatusEvents | None = None,
                ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray, np.ndarray]:
    """:func:`state_arrays` with the status as integer codes into ``labels`` (-1: not
    known): ``known``, ``code``, ``labels``, ``closed``, ``closed_at``."""
    reported = pd.to_datetime(issues["reported_at"], utc=True)
    closed_rec = (pd.to_datetime(issues["closed_at"], utc=True) if "closed_at" in issues
                  else pd.Series(pd.NaT, index=issues.index, dtype="datetime64[ns, UTC]"))
    known = (reported < cutoff).to_numpy()
    rec_closed = (closed_rec < cutoff).to_numpy(dtype=bool, na_value=False)
    if events is None and history is not None and len(history):
        events = status_events(issues["issue_id"], history)
    labels = tuple(events.labels) if events is not None else ()
    labels += tuple(s for s in ("closed", "reported") if s not in labels)
    code = np.where(rec_closed, labels.index("closed"), labels.index("reported"))
    closed = rec_closed.copy()
    close_ns = closed_rec.to_numpy(dtype="datetime64[ns]").copy()
    close_ns[~rec_closed] = np.datetime64("NaT")
    if events is not None:
        has, event_code, last_close = events.state_before(cutoff)
        if has.any():
            # labels kept beside an older copy may lack statuses added since
            hist_closed = np.isin(event_code[has], [i for i, s in enumerate(events.labels)
                                                    if s in CLOSED_STATUSES])
            code[has] = event_code[has]  # events.labels lead ``labels``: same codes
            closed[has] = hist_closed
            from_history = np.where(last_close[has] >= 0, last_close[has],
                                    np.datetime64("NaT").view("int64")).view("datetime64[ns]")
            own = close_ns[has]
            close_ns[has] = np.where(~np.isnat(own) & hist_closed, own, from_history)
    code[~known] = -1
    closed &= known
    close_ns[~closed] = np.datetime64("NaT")
    return known, code, labels, closed, close_ns


def text_from_codes(codes: np.ndarray, labels: Sequence[str], *,
                    index: pd.Index | None = None) -> pd.Series:
    """A text column (pandas ``str``) of ``labels[code]``, missing where the code is -1.

    Built by Arrow from the codes: making a million Python strings first and converting them
    cost several tenths of a second per column.
    """
    import pyarrow as pa

    codes = np.asarray(codes)
    indices = pa.array(codes.astype("int32"), mask=codes < 0)
    dictionary = pa.array([str(label) for label in labels], type=pa.large_string())
    text = pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.large_string())
    values = pd.array(text, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    return pd.Series(values, index=index)


def evaluate_as_of(issues: pd.DataFrame, *, as_of: Any, history: pd.DataFrame | None = None,
                   deadlines: pd.DataFrame | None = None,
                   deadline_settings: DeadlineSettings | None = None,
                   settings: AsOfSettings | None = None,
                   timezone: str = DEFAULT_TIMEZONE,
                   events: StatusEvents | None = None,
                   local_days: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Code every problem as of the end of local date ``as_of``.

    Parameters
    ----------
    issues
        The wide issues frame (``issue_id``, ``reported_at``, ``closed_at``, ``deadline`` ...).
    as_of
        Local date (``"YYYY-MM-DD"``, date or timestamp).
    history
        Status history (``issue_id, previous_status, status, changed_at``); optional.
    deadlines
        Output of :func:`gridwatch.supervision.deadlines.derive_deadlines`; derived when omitted.
    deadline_settings, settings
        Parsed ``[deadlines]`` and ``[supervision]`` sections.
    timezone
        The territory's time zone.
    events
        The history sorted once (:func:`gridwatch.supervision.events.status_events`), when
        many dates are evaluated.
    local_days
        Local dates (``datetime64[D]``) of ``"deadline"`` (the derived one) and
        ``"reported_at"`` when already at hand: they do not change with ``as_of``.

    Returns
    -------
    pandas.DataFrame
        Same index as ``issues``: ``known``, ``status``, ``is_open``, ``closed_at``, ``deadline``,
        ``task_kind``, ``code`` (NA when not yet reported), ``days_overdue`` (open, calendar
        days past the deadline date), ``days_late`` (closed late, calendar days), ``days_to_close``
        (float days), ``working_days_left``, ``next_review`` and ``review_due`` (long-term
        tasks), ``milestones_passed`` (staged tasks: milestones passed while open).
    """
    with one_calendar_warning():
        return _evaluate(issues, as_of, history, deadlines,
                         deadline_settings or DeadlineSettings(), settings or AsOfSettings(),
                         timezone, events, local_days)


def _evaluate(issues: pd.DataFrame, as_of: Any, history: pd.DataFrame | None,
              deadlines: pd.DataFrame | None, deadline_settings: DeadlineSettings,
              settings: AsOfSettings, timezone: str,
              events: StatusEvents | None = None,
              local_days: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    local_days = local_days or {}
    day = np.datetime64(parse_as_of(as_of), "D")
    cutoff = as_of_cutoff(as_of, timezone)
    if deadlines is None:
        deadlines = derive_deadlines(issues, deadline_settings, timezone=timezone)
    state = status_as_of(issues, cutoff, history, events=events)
    known = state["known"].to_numpy()
    closed = state["closed"].to_numpy()
    is_open = known & ~closed
    deadline = deadlines["deadline"]
    long_term = (deadlines["task_kind"] == "long_term").to_numpy(dtype=bool, na_value=False)
    due_day = local_days.get("deadline")
    if due_day is None:
        due_day = local_dates(deadline, timezone)
    rep_day = local_days.get("reported_at")
    if rep_day is None:
        rep_day = local_dates(issues["reported_at"], timezone)
    review = _next_review(rep_day, day, long_term, deadline_settings)
    calendar = calendar_for(np.array([day]), due_day, review)
    # working days left matter for open problems only (a few percent of a year's)
    left = np.full(len(issues), np.nan)
    open_rows = np.flatnonzero(is_open)
    left[open_rows] = count_working_days(day, due_day[open_rows], calendar=calendar)
    has_due = ~np.isnat(due_day)
    red = is_open & has_due & (due_day < day)
    yellow = is_open & has_due & ~red & (left <= settings.yellow_days)
    late = closed & (state["closed_at"] > deadline).to_numpy(dtype=bool, na_value=False)
    which = np.select([red, yellow, is_open, late, closed],
                      [CODES.index(c) for c in ("red", "yellow", "green", "closed_late",
                                                "closed_on_time")], default=-1)
    code = text_from_codes(which, CODES, index=issues.index)
    with np.errstate(invalid="ignore"):
        overdue = np.where(red, (day - due_day).astype("float64"), np.nan)
        closed_day = local_dates(state["closed_at"], timezone)
        days_late = np.where(late, (closed_day - due_day).astype("float64"), np.nan)
    reported = pd.to_datetime(issues["reported_at"], utc=True)
    to_close = (state["closed_at"] - reported) / pd.Timedelta(days=1)
    review_left = np.full(len(issues), np.nan)
    reviewed = np.flatnonzero(is_open & long_term)
    review_left[reviewed] = count_working_days(day, review[reviewed], calendar=calendar)
    return pd.DataFrame({
        "known": known,
        "status": state["status"],
        "is_open": is_open,
        "closed_at": state["closed_at"],
        "deadline": deadline,
        "task_kind": deadlines["task_kind"],
        "code": code,
        "days_overdue": overdue,
        "days_late": days_late,
        "days_to_close": to_close.astype("float64"),
        "working_days_left": np.where(is_open, left, np.nan),
        "next_review": pd.Series(review, index=issues.index),
        "review_due": is_open & long_term & (review_left <= settings.yellow_days),
        "milestones_passed": _milestones_passed(deadlines, cutoff, is_open),
    }, index=issues.index)


def _next_review(reported: np.ndarray, day: np.datetime64, long_term: np.ndarray,
                 settings: DeadlineSettings) -> np.ndarray:
    """First review date on or after ``day``: every review_every_days after the report."""
    period = settings.review_every_days
    age = (day - reported).astype("float64")
    k = np.maximum(np.ceil(age / period), 1)
    k = np.where(np.isnan(k), 1, k).astype("int64")
    out: np.ndarray = reported + (k * period).astype("timedelta64[D]")
    out[~long_term] = np.datetime64("NaT")
    return out


def _milestones_passed(deadlines: pd.DataFrame, cutoff: pd.Timestamp,
                       is_open: np.ndarray) -> np.ndarray:
    out = np.zeros(len(deadlines), dtype="int64")
    if "milestones" not in deadlines:
        return out
    open_rows = np.flatnonzero(is_open)  # only open problems pass milestones: a few percent
    values = deadlines["milestones"].to_numpy(dtype=object)[open_rows]
    lengths = np.fromiter(map(len, values), dtype="int64", count=len(values))
    rows = open_rows[lengths > 0]
    if rows.size == 0:
        return out
    exploded = deadlines["milestones"].iloc[rows].explode()
    # A milestone ending on the as-of date is due today, not passed (as with the deadline).
    passed = pd.to_datetime(exploded, utc=True) < cutoff - pd.Timedelta(days=1)
    counts = passed.groupby(level=0, sort=False).sum()
    out[rows] = counts.reindex(deadlines.index[rows]).to_numpy()
    return out

"""Status as of any instant from sorted arrays of events, built once per set of problems.

The status history is sorted once by (problem, time, order of recording) into integer arrays.
The state before a cutoff is then a vectorised pass: within each problem's run of events the
ones before the cutoff form a prefix, so the last of them is found from per-problem counts,
and the last move into a closed status from a running maximum. No string is compared and no
frame is grouped per question.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridwatch.schema import CLOSED_STATUSES, STATUSES

__all__ = ["StatusEvents", "status_events"]

_NEVER = np.iinfo("int64").max  # a change with no known time never counts as "before"
#: Codes of the statuses in the event arrays; anything else is ``len(STATUSES)``.
_CODES = {s: i for i, s in enumerate(STATUSES)}
_CLOSED_CODES = np.array([_CODES[s] for s in CLOSED_STATUSES])


@dataclass(frozen=True)
class StatusEvents:
    """The status history of a set of problems as sorted integer arrays.

    Attributes
    ----------
    n
        Number of problems (positions ``0 .. n-1`` of the issues frame).
    start
        First event of each problem in the sorted arrays (``n + 1`` offsets).
    time
        Change time of each event, UTC nanoseconds (``int64`` max when unknown).
    status
        Status code of each event (index into ``labels``).
    labels
        The status of each code (``STATUSES`` plus any other status met).
    last_close
        Index of the latest event at or before each event (same problem) that moved the
        problem into a closed status, else -1.
    """

    n: int
    start: np.ndarray
    time: np.ndarray
    status: np.ndarray
    labels: tuple[str, ...]
    last_close: np.ndarray

    @functools.cached_property
    def problem(self) -> np.ndarray:
        """The problem (position) of each event."""
        return np.repeat(np.arange(self.n), np.diff(self.start))

    def to_frame(self) -> pd.DataFrame:
        """The arrays as a frame (to keep them in a Parquet file); :meth:`from_frame` reads
        them back."""
        problem = np.repeat(np.arange(self.n), np.diff(self.start))
        # rows past the events (problem n) only carry the labels when there are more of them
        pad = max(len(self.labels) - len(problem), 0)
        fill = np.full(pad, -1, dtype="int64")
        return pd.DataFrame({
            "problem": np.concatenate([problem, np.full(pad, self.n, dtype="int64")]),
            "time": np.concatenate([self.time, fill]),
            "status": np.concatenate([self.status, fill]),
            "last_close": np.concatenate([self.last_close, fill]),
            "label": pd.Series(list(self.labels), dtype="str").reindex(
                range(len(problem) + pad)),
        })

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, n: int) -> StatusEvents:
        """The events of :meth:`to_frame` for ``n`` problems."""
        problem = frame["problem"].to_numpy(dtype="int64")
        labels = tuple(str(s) for s in frame["label"].dropna())
        start = np.searchsorted(problem, np.arange(n + 1)).astype("int64")
        events = slice(0, int(start[-1]))
        out = cls(n=n, start=start, time=frame["time"].to_numpy(dtype="int64")[events],
                  status=frame["status"].to_numpy(dtype="int64")[events],
                  labels=labels or STATUSES,
                  last_close=frame["last_close"].to_numpy(dtype="int64")[events])
        out.__dict__["problem"] = problem[events]  # the cached property, already at hand
        return out

    def subset(self, keep: np.ndarray) -> StatusEvents:
        """The events of the problems ``keep`` (a boolean mask), in their order: equal to
        :func:`status_events` of those problems."""
        rows = np.flatnonzero(np.asarray(keep, dtype=bool))
        counts = np.diff(self.start)[rows]
        start = np.concatenate([[0], np.cumsum(counts)]).astype("int64")
        shift = np.repeat(self.start[rows] - start[:-1], counts)
        take = np.arange(int(start[-1]), dtype="int64") + shift
        last_close = self.last_close[take]
        last_close = np.where(last_close >= 0, last_close - shift, -1)
        return StatusEvents(n=len(rows), start=start, time=self.time[take],
                            status=self.status[take], labels=self.labels,
                            last_close=last_close)

    def state_before(self, cutoff: pd.Timestamp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each problem: whether it has an event before ``cutoff``, the status code of
        the last such event, and the time (UTC ns) of its last move into a closed status
        before the cutoff (``-1`` when none)."""
        limit = pd.Timestamp(cutoff).as_unit("ns").value
        before = self.time < limit
        counts = np.bincount(self.problem[before], minlength=self.n)
        has = counts > 0
        last = self.start[:-1] + counts - 1
        status = np.full(self.n, -1, dtype="int64")
        status[has] = self.status[last[has]]
        closing = np.full(self.n, -1, dtype="int64")
        closing[has] = self.last_close[last[has]]
        close_time = np.full(self.n, -1, dtype="int64")
        ok = closing >= 0
        close_time[ok] = self.time[closing[ok]]
        return has, status, close_time


def status_events(issue_ids: pd.Series, history: pd.DataFrame | None) -> StatusEvents:
    """Sort the status history of the problems ``issue_ids`` into :class:`StatusEvents`.

    History rows of problems not in ``issue_ids`` are left out.
    """
    n = len(issue_ids)
    if history is None or not len(history):
        empty = np.zeros(0, dtype="int64")
        return StatusEvents(n=n, start=np.zeros(n + 1, dtype="int64"), time=empty,
                            status=empty, labels=STATUSES, last_close=empty)
    position = pd.Index(issue_ids.astype("str")).get_indexer(history["issue_id"].astype("str"))
    keep = position >= 0
    changed = pd.to_datetime(history["changed_at"], utc=True)
    time = changed.to_numpy(dtype="datetime64[ns]").view("int64").copy()
    time[changed.isna().to_numpy()] = _NEVER
    status_text = history["status"].astype("str")
    others = sorted(set(status_text.dropna().unique()) - set(STATUSES))
    labels = (*STATUSES, *others)
    codes = {s: i for i, s in enumerate(labels)}
    status = status_text.map(codes).fillna(-1).to_numpy(dtype="int64")
    into_closed = np.isin(status, _CLOSED_CODES)
    if "previous_status" in history:
        previous = history["previous_status"].astype("str").map(codes).fillna(-1)
        into_closed &= ~np.isin(previous.to_numpy(dtype="int64"), _CLOSED_CODES)
    order = np.arange(len(history))
    position, time, status, into_closed, order = (position[keep], time[keep], status[keep],
                                                  into_closed[keep], order[keep])
    sort = np.lexsort((order, time, position))
    position, time, status, into_closed = (position[sort], time[sort], status[sort],
                                           into_closed[sort])
    start = np.searchsorted(position, np.arange(n + 1), side="left").astype("int64")
    marks = np.where(into_closed, np.arange(len(position)), -1)
    last_close = np.maximum.accumulate(marks) if len(marks) else marks
    # a close of an earlier problem is not this one's
    own_start = np.repeat(start[:-1], np.diff(start))
    last_close = np.where(last_close >= own_start, last_close, -1)
    return StatusEvents(n=n, start=start, time=time, status=status, labels=labels,
                        last_close=last_close)

"""Deadline extensions of single problems (延期) as of a date.

An extension (``gridwatch ledger extend ID --problem``) is kept in the ledger's events with the
day it was approved and the new deadline. It counts from the day of approval on: as of a day
before the approval the problem is judged against the deadline it had, so figures of past days
stay what they were. Of several extensions approved by a day the one approved last (then
recorded last) holds. The new deadline is a local day and ends at 23:59:59 local time, as a
date-only deadline of an export does.

Everything is vectorised over the extensions (a few thousand at most), not over the problems:
the problems' deadline columns are copied only when an extension applies.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["EXTENSION_COLUMNS", "apply_extensions", "empty_extensions", "extension_key",
           "extensions_as_of"]

#: Columns of an extensions frame: the problem, the day of approval, the new deadline (both
#: ``datetime64[D]`` local days) and the event's id (the order recorded).
EXTENSION_COLUMNS: tuple[str, ...] = ("issue_id", "approved_on", "new_deadline", "id")


def empty_extensions() -> pd.DataFrame:
    """An extensions frame with no row."""
    return pd.DataFrame({"issue_id": pd.Series(dtype="str"),
                         "approved_on": pd.Series(dtype="datetime64[s]"),
                         "new_deadline": pd.Series(dtype="datetime64[s]"),
                         "id": pd.Series(dtype="int64")})


def extension_key(extensions: pd.DataFrame | None) -> str:
    """A short text that changes whenever the extensions do ("" when there is none): part of
    the key of every evaluation kept, so a cached code never outlives an extension."""
    if extensions is None or not len(extensions):
        return ""
    from gridwatch.store.analytical import settings_key

    rows = extensions.sort_values("id", kind="stable")
    return "x" + settings_key(len(rows), int(rows["id"].max()),
                              rows["issue_id"].astype(str).tolist(),
                              rows["new_deadline"].astype(str).tolist(),
                              rows["approved_on"].astype(str).tolist())


def extensions_as_of(extensions: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The extension in force for each extended problem at the end of ``day``: approved on or
    before it, the last approved (then recorded) of each problem. Columns as the input,
    one row per problem."""
    approved = np.asarray(extensions["approved_on"].to_numpy(), dtype="datetime64[D]")
    valid = approved <= np.datetime64(day, "D")
    chosen = extensions.loc[valid].assign(_day=approved[valid])
    chosen = chosen.sort_values(["_day", "id"], kind="stable")
    return chosen.drop_duplicates("issue_id", keep="last").drop(columns="_day")


def apply_extensions(positions: np.ndarray, extensions: pd.DataFrame, day: dt.date,
                     deadlines: pd.DataFrame, due_day: np.ndarray, *, timezone: str,
                     ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The derived deadlines and their local days as of ``day``, extensions applied.

    Parameters
    ----------
    positions
        The position of each extension's problem among the problems (-1: not among them,
        e.g. outside a scope), aligned with ``extensions``.
    extensions
        :data:`EXTENSION_COLUMNS`.
    day
        The local date asked.
    deadlines
        The derived deadlines (:func:`gridwatch.supervision.deadlines.derive_deadlines`).
    due_day
        Local days of ``deadlines["deadline"]``.
    timezone
        The territory's time zone.

    Returns
    -------
    deadlines, due_day
        The same objects when no extension is in force by ``day``, else copies.
    extended
        Which problems have an extension in force (bool per problem).
    """
    extended = np.zeros(len(deadlines), dtype=bool)
    inside = extensions.assign(_pos=positions).loc[np.asarray(positions) >= 0]
    if not len(inside):
        return deadlines, due_day, extended
    now = extensions_as_of(inside, day)
    if not len(now):
        return deadlines, due_day, extended
    from gridwatch.supervision.calendar import end_of_local_day

    rows = now["_pos"].to_numpy(dtype="int64")
    new_days = np.asarray(now["new_deadline"].to_numpy(), dtype="datetime64[D]")
    new_times = end_of_local_day(new_days, timezone).to_numpy(dtype="datetime64[ns]")
    column = deadlines["deadline"].to_numpy(dtype="datetime64[ns]").copy()
    column[rows] = new_times
    out: Any = deadlines.assign(deadline=pd.Series(column, index=deadlines.index)
                                .dt.tz_localize("UTC"))
    days = due_day.copy()
    days[rows] = new_days
    extended[rows] = True
    return out, days, extended

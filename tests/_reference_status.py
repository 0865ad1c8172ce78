"""The first round's status-as-of and area statistics, kept as the simple references the fast
paths are proved equal to (DataFrame groupbys over strings)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.schema import CLOSED_STATUSES, DEFAULT_TIMEZONE
from gridwatch.supervision.aggregate import _COUNTS, _between, reported_between, statistics_table
from gridwatch.supervision.calendar import local_dates
from gridwatch.supervision.incidents import incident_primary


def reference_status_as_of(
    issues: pd.DataFrame, cutoff: pd.Timestamp, history: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Status and closing time of each problem just before ``cutoff``, the simple way."""
    reported = pd.to_datetime(issues["reported_at"], utc=True)
    closed_rec = (
        pd.to_datetime(issues["closed_at"], utc=True)
        if "closed_at" in issues
        else pd.Series(pd.NaT, index=issues.index, dtype="datetime64[ns, UTC]")
    )
    known = (reported < cutoff).to_numpy()
    rec_closed = (closed_rec < cutoff).to_numpy(dtype=bool, na_value=False)
    status = np.where(rec_closed, "closed", "reported").astype(object)
    closed = rec_closed.copy()
    close_time = closed_rec.where(rec_closed)
    if history is not None and len(history):
        h = history[pd.to_datetime(history["changed_at"], utc=True) < cutoff]
        h = h.assign(_t=pd.to_datetime(h["changed_at"], utc=True), _o=np.arange(len(h)))
        h = h.sort_values(["issue_id", "_t", "_o"], kind="stable")
        last = h.groupby("issue_id", sort=False).tail(1).set_index("issue_id")
        into_closed = h["status"].isin(CLOSED_STATUSES)
        if "previous_status" in h:
            into_closed &= ~h["previous_status"].isin(CLOSED_STATUSES)
        closes = h[into_closed].groupby("issue_id", sort=False)["_t"].last()
        ids = issues["issue_id"]
        has = ids.isin(last.index).to_numpy()
        hist_status = ids[has].map(last["status"]).to_numpy(dtype=object)
        hist_closed = np.isin(hist_status, CLOSED_STATUSES)
        status[has] = hist_status
        closed[has] = hist_closed
        hist_close_time = pd.Series(
            closes.reindex(ids[has].to_numpy()).to_numpy(),
            index=ids.index[has],
            dtype="datetime64[ns, UTC]",
        )
        # The record's closed_at, when already past, is the exact closing time; the history's
        # change time only when the record does not give one before the cutoff (a reopening).
        own = close_time[has]
        close_time.loc[has] = own.where(own.notna() & hist_closed, hist_close_time)
        close_time[~closed] = pd.NaT
    status[~known] = None
    closed &= known
    return pd.DataFrame(
        {
            "known": known,
            "status": pd.Series(status, index=issues.index, dtype="str"),
            "closed": closed,
            "closed_at": close_time.where(closed).astype("datetime64[ns, UTC]"),
        },
        index=issues.index,
    )


def reference_area_statistics(issues: pd.DataFrame, evaluated: pd.DataFrame, *, layer: str,
                    start: Any = None, end: Any = None, rebounds: pd.DataFrame | None = None,
                    incidents: pd.DataFrame | None = None,
                    areas: Iterable[str] | pd.DataFrame | None = None,
                    timezone: str = DEFAULT_TIMEZONE) -> pd.DataFrame:
    """Statistics per area of ``layer`` for one period, by a DataFrame groupby."""
    column = f"{layer}_id"
    if column not in issues:
        have = ", ".join(c[:-3] for c in issues.columns if c.endswith("_id") and c != "issue_id")
        raise ConfigError(f"layer {layer!r}: the issues have no column {column!r}; "
                          f"layers present: {have or '(none)'}")
    counted = evaluated["known"].to_numpy(dtype=bool)
    if incidents is not None:
        counted = counted & incident_primary(incidents)
    code = evaluated["code"].fillna("").to_numpy(dtype=object)
    new = reported_between(issues, start, end, timezone=timezone)
    closed_in = _between(local_dates(evaluated["closed_at"], timezone), start, end)
    flags = {
        "new": new,
        "closed": closed_in,
        "closed_on_time": closed_in & (code == "closed_on_time"),
        "closed_late": closed_in & (code == "closed_late"),
        "open": evaluated["is_open"].to_numpy(dtype=bool),
        "red": code == "red",
        "yellow": code == "yellow",
        "green": code == "green",
        "rebounds": new & (rebounds["rebound"].to_numpy(dtype=bool) if rebounds is not None
                           else False),
    }
    area = issues[column].astype("str").to_numpy(dtype=object)[counted]
    frame = pd.DataFrame({k: v[counted].astype("int64") for k, v in flags.items()})
    frame.insert(0, "area_id", pd.Series(area, dtype="str"))
    grouped = frame.groupby("area_id", dropna=False, sort=False)[list(_COUNTS)].sum()
    days = evaluated["days_to_close"].to_numpy(dtype="float64")[counted]
    median = (pd.Series(np.where(closed_in[counted], days, np.nan))
              .groupby(frame["area_id"], dropna=False, sort=False).median())
    stats = grouped.assign(median_days_to_close=median)
    return statistics_table(stats, areas)  # layout shared; counting is the reference


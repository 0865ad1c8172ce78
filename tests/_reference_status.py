"""The first round's status-as-of, kept as the simple reference the fast path is proved equal
to (one groupby over the history rows before the cutoff, by issue id)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridwatch.schema import CLOSED_STATUSES


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

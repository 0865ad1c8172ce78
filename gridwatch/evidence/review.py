"""The evidence table of the monthly review: the problems closed in the month, their photos,
and the after-photo rule."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from gridwatch.evidence.photos import PHOTO_COLUMNS, missing_after_photo
from gridwatch.schema import CLOSED_STATUSES

__all__ = ["EVIDENCE_COLUMNS", "closed_evidence"]

EVIDENCE_COLUMNS: tuple[str, ...] = ("issue_id", "closed_at", "category", "responsible_unit",
                                     *PHOTO_COLUMNS, "missing_after_photo")


def closed_evidence(issues: pd.DataFrame, first: dt.date, last: dt.date, *,
                    timezone: str) -> pd.DataFrame:
    """Problems closed (or verified) from local day ``first`` to ``last``, with their photo
    names and ``missing_after_photo`` (closed without an after-photo), those first.

    Examples
    --------
    >>> frame = pd.DataFrame({"issue_id": ["a", "b"], "status": ["closed", "closed"],
    ...     "closed_at": pd.to_datetime(["2026-03-02", "2026-04-02"], utc=True),
    ...     "photo_after": [None, "b.jpg"]})
    >>> closed_evidence(frame, dt.date(2026, 3, 1), dt.date(2026, 3, 31),
    ...                 timezone="Asia/Shanghai")["issue_id"].tolist()
    ['a']
    """
    start = pd.Timestamp(first).tz_localize(timezone)
    end = pd.Timestamp(last + dt.timedelta(days=1)).tz_localize(timezone)
    closed = pd.to_datetime(issues["closed_at"], utc=True)
    status = issues["status"].astype("str") if "status" in issues else \
        pd.Series("closed", index=issues.index, dtype="str")  # a closing time says closed
    mask = (status.isin(CLOSED_STATUSES).to_numpy(dtype=bool, na_value=False)
            & (closed >= start).to_numpy(dtype=bool, na_value=False)
            & (closed < end).to_numpy(dtype=bool, na_value=False))
    chosen = issues[mask]
    out = pd.DataFrame(index=chosen.index)
    for column in EVIDENCE_COLUMNS[:-1]:
        out[column] = chosen[column] if column in chosen else pd.Series(
            pd.NA, index=chosen.index, dtype="str")
    out["missing_after_photo"] = missing_after_photo(
        chosen.assign(status=status[mask])).to_numpy()
    return out.sort_values(["missing_after_photo", "closed_at", "issue_id"],
                           ascending=[False, True, True], kind="stable").reset_index(drop=True)

"""The whole history of one problem: status, deadline and unit as imports saw them change, and
what the ledger recorded of it (acceptances, re-checks, extensions).

Status changes come from ``status_history``, changes of deadline and responsible unit between
imports from ``issue_changes`` (old and new value), the rest from ``ledger_events``. Each row is
dated by the local day it took effect: a status change by its ``changed_at``, a change of
deadline or unit by the time the import that saw it was observed, a ledger event by its day.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlalchemy as sa

from gridwatch.errors import StoreError

if TYPE_CHECKING:
    from gridwatch.store.transactional import Store

__all__ = ["HISTORY_COLUMNS", "problem_history"]

HISTORY_COLUMNS: tuple[str, ...] = (
    "on_date", "kind", "field", "old_value", "new_value", "conclusion", "unit", "reason",
    "run_id",
)


def _local_day(times: pd.Series, timezone: str) -> np.ndarray:
    stamps = pd.to_datetime(times.astype(object), utc=True, format="ISO8601")
    return np.asarray(stamps.dt.tz_convert(timezone).dt.tz_localize(None)
                      .to_numpy(dtype="datetime64[ns]"), dtype="datetime64[D]")


def _local_text(values: pd.Series, timezone: str) -> pd.Series:
    """Deadlines stored as UTC ISO text shown as local times (``2026-02-20 23:59:59``)."""
    stamps = pd.to_datetime(values.astype(object), utc=True, format="ISO8601", errors="coerce")
    text = stamps.dt.tz_convert(timezone).dt.strftime("%Y-%m-%d %H:%M:%S")
    return text.astype(object).where(stamps.notna(), None)


def problem_history(store: Store, issue_id: str, events: pd.DataFrame, *,
                    timezone: str) -> pd.DataFrame:
    """Every recorded change of one problem, oldest first.

    Parameters
    ----------
    store
        The store.
    issue_id
        The problem.
    events
        The ledger's events (:func:`gridwatch.store.ledger.ledger_events`).
    timezone
        The territory's time zone (days and deadlines are shown in it).

    Returns
    -------
    pandas.DataFrame
        :data:`HISTORY_COLUMNS`; ``kind`` is ``status``, ``change`` (field ``deadline`` or
        ``responsible_unit``), ``accept``, ``recheck`` or ``extend``.

    Raises
    ------
    StoreError
        When the store has no such problem.
    """
    issues = store.table("issues")
    status, changes = store.table("status_history"), store.table("issue_changes")
    with store.engine.connect() as conn:
        if conn.execute(sa.select(issues.c.issue_id)
                        .where(issues.c.issue_id == issue_id)).first() is None:
            raise StoreError(f"no problem {issue_id!r} in the store {store!r}")
        moves = conn.execute(sa.select(status.c.changed_at, status.c.seen_at,
                                       status.c.previous_status, status.c.status,
                                       status.c.run_id, status.c.id)
                             .where(status.c.issue_id == issue_id)
                             .order_by(status.c.id)).all()
        edits = conn.execute(sa.select(changes.c.seen_at, changes.c.field,
                                       changes.c.old_value, changes.c.new_value,
                                       changes.c.run_id, changes.c.id)
                             .where(changes.c.issue_id == issue_id)
                             .order_by(changes.c.id)).all()
    parts = []
    if moves:
        frame = pd.DataFrame(moves, columns=["changed_at", "seen_at", "old_value", "new_value",
                                             "run_id", "id"])
        when = frame["changed_at"].where(frame["changed_at"].notna(), frame["seen_at"])
        parts.append(pd.DataFrame({"on_date": _local_day(when, timezone), "kind": "status",
                                   "field": "status", "old_value": frame["old_value"],
                                   "new_value": frame["new_value"],
                                   "run_id": frame["run_id"], "_order": 0}))
    if edits:
        frame = pd.DataFrame(edits, columns=["seen_at", "field", "old_value", "new_value",
                                             "run_id", "id"])
        dated = frame["field"] == "deadline"
        old, new = frame["old_value"].astype(object), frame["new_value"].astype(object)
        old = old.where(~dated, _local_text(old, timezone))
        new = new.where(~dated, _local_text(new, timezone))
        parts.append(pd.DataFrame({"on_date": _local_day(frame["seen_at"], timezone),
                                   "kind": "change", "field": frame["field"],
                                   "old_value": old, "new_value": new,
                                   "run_id": frame["run_id"], "_order": 1}))
    mine = events[(events["subject"] == "issue") & (events["subject_id"] == issue_id)]
    if len(mine):
        parts.append(pd.DataFrame({
            "on_date": np.asarray(mine["on_date"].to_numpy(), dtype="datetime64[D]"),
            "kind": mine["kind"].to_numpy(dtype=object),
            "field": ["deadline" if k == "extend" else None for k in mine["kind"]],
            "old_value": mine["old_value"].to_numpy(dtype=object),
            "new_value": mine["new_value"].to_numpy(dtype=object),
            "conclusion": mine["conclusion"].to_numpy(dtype=object),
            "unit": mine["unit"].to_numpy(dtype=object),
            "reason": mine["reason"].to_numpy(dtype=object), "_order": 2}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HISTORY_COLUMNS})
    out = pd.concat([p.reset_index(drop=True) for p in parts], ignore_index=True)
    out = out.sort_values(["on_date", "_order"], kind="stable").reset_index(drop=True)
    out = out.reindex(columns=[*HISTORY_COLUMNS, "_order"]).drop(columns="_order")
    out["on_date"] = np.asarray(out["on_date"].to_numpy(), dtype="datetime64[D]")
    out["run_id"] = pd.to_numeric(out["run_id"]).astype("Int64")
    return out

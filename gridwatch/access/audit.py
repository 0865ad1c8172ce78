"""The audit trail: who signed in, imported, exported and changed users, kept in the store.

Append-only: gridwatch only inserts, and the database refuses UPDATE and DELETE on the table
(triggers on SQLite and PostgreSQL, see ``gridwatch.store._tables.protect_audit``).

Examples
--------
>>> from gridwatch.store import Store
>>> with Store("sqlite://") as store:
...     log_action(store, "wang", "export", scope="*", format="csv")
...     audit_log(store)[["actor", "action"]].to_dict("records")
[{'actor': 'wang', 'action': 'export'}]
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

if TYPE_CHECKING:
    from gridwatch.store import Store

__all__ = ["ACTIONS", "audit_log", "log_action", "record"]

#: What the audit records.
ACTIONS: tuple[str, ...] = ("sign_in", "sign_in_refused", "import", "export", "user_add",
                            "user_remove", "user_password", "user_disable", "user_enable",
                            "row_security")


def record(conn: sa.Connection, store: Store, actor: str, action: str, *,
           run_id: int | None = None, **detail: Any) -> None:
    """Append one entry inside an open transaction ``conn`` (the change it records commits
    with it, or neither does)."""
    table = store.table("audit")
    conn.execute(table.insert().values(
        at=dt.datetime.now(dt.UTC).replace(tzinfo=None), actor=actor, action=action,
        run_id=run_id, detail=json.dumps(detail, ensure_ascii=False, sort_keys=True,
                                         default=str)))


def log_action(store: Store, actor: str, action: str, *, run_id: int | None = None,
               **detail: Any) -> None:
    """Append one entry in its own transaction (an import, an export)."""
    with store.transaction() as conn:
        record(conn, store, actor, action, run_id=run_id, **detail)


def audit_log(store: Store, *, actor: str | None = None, action: str | None = None,
              limit: int | None = None) -> pd.DataFrame:
    """The audit, oldest first (the last ``limit`` entries when given).

    Returns
    -------
    pandas.DataFrame
        ``id``, ``at`` (UTC), ``actor``, ``action``, ``run_id`` (nullable), ``detail`` (dict).
    """
    table = store.table("audit")
    query = sa.select(table).order_by(table.c.id.desc())
    if actor is not None:
        query = query.where(table.c.actor == actor)
    if action is not None:
        query = query.where(table.c.action == action)
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()[::-1]
    return pd.DataFrame({
        "id": pd.Series([r.id for r in rows], dtype="int64"),
        "at": pd.to_datetime(pd.Series([r.at for r in rows], dtype=object), utc=True),
        "actor": pd.Series([r.actor for r in rows], dtype="str"),
        "action": pd.Series([r.action for r in rows], dtype="str"),
        "run_id": pd.Series([r.run_id for r in rows], dtype="Int64"),
        "detail": pd.Series([json.loads(r.detail) for r in rows], dtype=object),
    })

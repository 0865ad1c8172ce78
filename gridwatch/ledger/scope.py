"""The part of the ledger a user with a scope of areas sees.

The ledger's tasks name units and leaders, not areas; a task belongs to an area through the
problems that hang under it (a problem's ``ledger_ref`` names its task or feedback item). A
scoped user (``gridwatch progress`` and ``ledger backlog`` with ``--as-user``) sees the tasks
their own problems hang under — a task named by one of them, or every task of a feedback item
named by one — with those tasks' milestones and events, and the events of their own problems.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["ledger_in_scope"]


def ledger_in_scope(tasks: pd.DataFrame, milestones: pd.DataFrame, events: pd.DataFrame,
                    issues: pd.DataFrame | None,
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The tasks, milestones and events a scoped user sees.

    Parameters
    ----------
    tasks, milestones, events
        The whole ledger (:mod:`gridwatch.store.ledger`).
    issues
        The problems in the user's scope (``issue_id``, ``ledger_ref``); ``None`` or without
        ``ledger_ref``: no task is theirs.

    Returns
    -------
    tasks, milestones, events
        The same columns, the rows in scope.
    """
    if issues is None or "ledger_ref" not in issues or not len(issues):
        refs: set[str] = set()
        ids: set[str] = set()
    else:
        refs = set(issues["ledger_ref"].dropna().astype(str))
        ids = set(issues["issue_id"].astype(str))
    mine = tasks["task_id"].astype(str).isin(refs) | tasks["item_id"].astype(str).isin(refs)
    kept = tasks.loc[mine.to_numpy()]
    task_ids = set(kept["task_id"].astype(str))
    ms = milestones.loc[milestones["task_id"].astype(str).isin(task_ids).to_numpy()]
    subject = events["subject"].astype(str)
    about = events["subject_id"].astype(str)
    seen = ((subject == "task") & about.isin(task_ids)) | ((subject == "issue") & about.isin(ids))
    return (kept.reset_index(drop=True), ms.reset_index(drop=True),
            events.loc[seen.to_numpy()].reset_index(drop=True))

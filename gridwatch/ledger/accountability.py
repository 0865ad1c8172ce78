"""Accountability by responsible unit and leader: every question that works by area (status,
league, review) asked by unit (责任单位) or leader (责任领导) instead.

The seeds rank departments and name leaders, not only places. A problem's unit is its own
责任单位, else the unit of the ledger task it hangs under; its leader is the leader of its task
(or of its feedback item's first task), else the leader the ledger names for its unit (the one
named on most of that unit's tasks). The supervision context gets two pseudo layers, ``unit``
and ``leader`` (columns ``unit_id`` and ``leader_id``), so the same statistics, league and review
run over them unchanged.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["ACCOUNTABILITY_LAYERS", "NO_LEADER", "accountable", "by_accountability",
           "with_leaders"]

#: Label for problems whose leader the ledger does not name.
NO_LEADER = "（未指定责任领导）"

#: The pseudo layers: ``--by unit`` and ``--by leader``.
ACCOUNTABILITY_LAYERS: tuple[str, ...] = ("unit", "leader")


def accountable(issues: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """Each problem's responsible unit and leader (same index as ``issues``).

    Parameters
    ----------
    issues
        ``responsible_unit`` and ``ledger_ref`` (either may be missing).
    tasks
        The ledger's tasks (``task_id``, ``item_id``, ``unit``, ``leader``); may be empty.

    Returns
    -------
    pandas.DataFrame
        ``unit_id`` and ``leader_id`` (str, NA when unknown).

    Examples
    --------
    >>> tasks = pd.DataFrame({"task_id": ["T1"], "item_id": ["I1"], "unit": ["市住建局"],
    ...                       "leader": ["张副市长"]})
    >>> issues = pd.DataFrame({"responsible_unit": ["市住建局", None, "某街道"],
    ...                        "ledger_ref": [None, "T1", None]})
    >>> accountable(issues, tasks).values.tolist()
    [['市住建局', '张副市长'], ['市住建局', '张副市长'], ['某街道', nan]]
    """
    n = len(issues)
    unit = (issues["responsible_unit"].astype("str") if "responsible_unit" in issues
            else pd.Series([None] * n, index=issues.index, dtype="str"))
    ref = (issues["ledger_ref"].astype("str") if "ledger_ref" in issues
           else pd.Series([None] * n, index=issues.index, dtype="str"))
    by_task = tasks.drop_duplicates("task_id").set_index("task_id")
    by_item = tasks.drop_duplicates("item_id").set_index("item_id")
    task_unit = ref.map(by_task["unit"]).fillna(ref.map(by_item["unit"]))
    task_leader = ref.map(by_task["leader"]).fillna(ref.map(by_item["leader"]))
    unit = unit.fillna(task_unit).astype("str")
    named = tasks.dropna(subset=["unit", "leader"])
    unit_leader = (named.groupby(["unit", "leader"]).size().rename("n").reset_index()
                   .sort_values(["unit", "n", "leader"], ascending=[True, False, True])
                   .drop_duplicates("unit").set_index("unit")["leader"])
    leader = task_leader.fillna(unit.map(unit_leader)).astype("str")
    return pd.DataFrame({"unit_id": unit, "leader_id": leader}, index=issues.index)


def by_accountability(ctx: SupervisionContext, tasks: pd.DataFrame) -> SupervisionContext:
    """The same context whose problems also have the pseudo layers ``unit`` and ``leader``.

    The problems and their order are unchanged, so everything derived (deadlines, rebounds,
    incidents, evaluations) is shared, not computed again.
    """
    extra = accountable(ctx.issues, tasks)
    issues = ctx.issues.assign(unit_id=extra["unit_id"], leader_id=extra["leader_id"])
    with ctx._lock:
        memo = dict(ctx._memo)
    return replace(ctx, issues=issues, _memo=memo, _lock=threading.RLock())


def with_leaders(reminders: pd.DataFrame, issues: pd.DataFrame,
                 tasks: pd.DataFrame) -> pd.DataFrame:
    """The reminder list (:func:`gridwatch.supervision.remind.reminder_list`, a subset of
    ``issues``' index) with ``responsible_leader``: each problem's leader by
    :func:`accountable`, :data:`NO_LEADER` when the ledger names none."""
    leaders = accountable(issues.loc[reminders.index], tasks)["leader_id"]
    return reminders.assign(responsible_leader=leaders.fillna(NO_LEADER).astype("str"))

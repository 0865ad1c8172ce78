"""How far each task, feedback item and round of the ledger is, as of a date.

A task's state as of a local day ``D`` (``as_of``), from its row in the ledger and the events
recorded up to and including ``D``:

* its deadline is the last extension (延期) approved on or before ``D``, else its own;
* it is *rectified* when its 完成时间 is on or before ``D`` and no acceptance after that day
  failed (a failed acceptance, 验收不通过, sends it back to rectification);
* ``closed_off`` (验收销号): rectified and accepted (验收通过) on or after the day it was
  rectified, on or before ``D``; with ``require_acceptance=False`` (``[ledger]
  require_acceptance = false``) rectified is enough;
* ``awaiting_acceptance`` (已整改待验收): rectified, not yet accepted;
* ``overdue`` (逾期): not rectified, not long-term (长期坚持), deadline before ``D``;
* ``behind`` (滞后): not rectified, not overdue, and a milestone due before ``D`` not marked
  done on or before ``D``;
* ``on_schedule`` (按序时进度): any other open task (a long-term task always, unless behind
  a milestone).

A feedback item takes the worst state of its tasks (overdue, behind, on schedule, awaiting
acceptance, closed off, in that order); it is rectified (整改完成) when every task is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "PROBLEM_COUNTS",
    "STATES",
    "STATE_LABELS",
    "TASK_REPORT_COLUMNS",
    "dates_as_text",
    "group_progress",
    "item_progress",
    "linked_problems",
    "progress_report",
    "progress_sentence",
    "round_progress",
    "task_states",
    "write_progress",
]

#: Task states from worst to best.
STATES: tuple[str, ...] = ("overdue", "behind", "on_schedule", "awaiting_acceptance",
                           "closed_off")
#: Counts of the problems under a task or feedback item.
PROBLEM_COUNTS: tuple[str, ...] = ("problems", "problems_open", "problems_overdue",
                                   "problems_closed")
STATE_LABELS: dict[str, str] = {
    "overdue": "逾期", "behind": "滞后", "on_schedule": "按序时进度",
    "awaiting_acceptance": "已整改待验收", "closed_off": "已验收销号",
}


def _day(as_of: str | dt.date | np.datetime64) -> np.datetime64:
    try:
        return np.datetime64(pd.Timestamp(as_of).date(), "D")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"as_of must be a date (YYYY-MM-DD), got {as_of!r}") from exc


def _last(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The last event of ``kind`` per task (by day, then order recorded)."""
    chosen = events[events["kind"] == kind].sort_values(["on_date", "id"], kind="stable")
    return chosen.drop_duplicates("subject_id", keep="last").set_index("subject_id")


def task_states(tasks: pd.DataFrame, milestones: pd.DataFrame, events: pd.DataFrame,
                as_of: str | dt.date | np.datetime64, *,
                require_acceptance: bool = True) -> pd.DataFrame:
    """The state of every task as of a day.

    Parameters
    ----------
    tasks, milestones, events
        As :func:`gridwatch.store.ledger.ledger_tasks`, ``ledger_milestones`` and
        ``ledger_events`` return them.
    as_of
        Local day.
    require_acceptance
        A task is closed off only when accepted (default); False: when rectified.

    Returns
    -------
    pandas.DataFrame
        The tasks' columns plus ``own_deadline``, ``deadline`` (after extensions up to
        ``as_of``), ``extended`` (bool), ``rectified`` (bool), ``accepted_on``,
        ``rejected_at_acceptance`` (bool: the last acceptance failed), ``milestones``,
        ``milestones_due``, ``milestones_done``, ``milestones_late`` (ints), ``state``
        (:data:`STATES`), in the tasks' order.
    """
    day = _day(as_of)
    out = tasks.reset_index(drop=True).copy()
    ids = out["task_id"]
    upto = events[(events["subject"] == "task") & (events["on_date"] <= day)]
    own = np.asarray(out["deadline"].to_numpy(), dtype="datetime64[D]")
    ext = _last(upto, "extend")
    new = pd.to_datetime(ext["new_value"].reindex(ids), errors="coerce").to_numpy(
        dtype="datetime64[ns]").astype("datetime64[D]")
    out["own_deadline"] = own
    out["extended"] = ~np.isnat(new)
    out["deadline"] = np.where(np.isnat(new), own, new)
    acc = _last(upto, "accept")
    conclusion = acc["conclusion"].reindex(ids).to_numpy(dtype=object)
    accepted_day = np.asarray(acc["on_date"].reindex(ids).to_numpy(), dtype="datetime64[D]")
    rectified_on = np.asarray(out["rectified_on"].to_numpy(), dtype="datetime64[D]")
    done_by_day = ~np.isnat(rectified_on) & (rectified_on <= day)
    after = ~np.isnat(accepted_day) & done_by_day & (accepted_day >= rectified_on)
    failed = after & (conclusion == "fail")
    passed = after & (conclusion == "pass")
    rectified = done_by_day & ~failed
    out["rectified"] = rectified
    out["accepted_on"] = np.where(passed, accepted_day, np.datetime64("NaT", "D"))
    out["rejected_at_acceptance"] = failed
    marked = upto[upto["kind"] == "milestone_done"]
    done_keys = set(zip(marked["subject_id"], marked["milestone"].astype("int64"), strict=True))
    ms = milestones.copy()
    ms["is_due"] = np.asarray(ms["due"].to_numpy(), dtype="datetime64[D]") < day
    ms["is_done"] = [(t, int(s)) in done_keys for t, s in zip(ms["task_id"], ms["seq"],
                                                                strict=True)]
    ms["is_late"] = ms["is_due"] & ~ms["is_done"]
    per = ms.groupby("task_id")[["is_due", "is_done", "is_late"]].sum()
    total = ms.groupby("task_id").size()
    out["milestones"] = total.reindex(ids).fillna(0).astype("int64").to_numpy()
    for name, column in (("milestones_due", "is_due"), ("milestones_done", "is_done"),
                         ("milestones_late", "is_late")):
        out[name] = per[column].reindex(ids).fillna(0).astype("int64").to_numpy()
    long_term = (out["task_type"] == "long_term").to_numpy()
    deadline = np.asarray(out["deadline"].to_numpy(), dtype="datetime64[D]")
    overdue = ~rectified & ~long_term & ~np.isnat(deadline) & (deadline < day)
    behind = ~rectified & ~overdue & (out["milestones_late"].to_numpy() > 0)
    closed = rectified & (passed | (not require_acceptance))
    state = np.select([closed, rectified, overdue, behind],
                      ["closed_off", "awaiting_acceptance", "overdue", "behind"],
                      default="on_schedule")
    out["state"] = pd.Series(state, dtype="str")
    return out


def _state_counts(states: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    counts = pd.crosstab([states[k] for k in keys], states["state"])
    counts = counts.reindex(columns=list(STATES), fill_value=0)
    counts.columns.name = None
    counts.insert(0, "tasks", counts.sum(axis=1))
    counts["rectified"] = counts["awaiting_acceptance"] + counts["closed_off"]
    return counts.reset_index()


def _worst(states: pd.Series) -> str:
    rank = {s: i for i, s in enumerate(STATES)}
    return STATES[min(rank[s] for s in states)]


def item_progress(states: pd.DataFrame) -> pd.DataFrame:
    """Per feedback item of every round: its tasks by state, ``item_state`` (the worst) and
    ``item_rectified`` (every task rectified)."""
    keys = ["round", "item_id"]
    if states.empty:
        return pd.DataFrame(columns=[*keys, "item", "tasks", *STATES, "rectified",
                                     "item_state", "item_rectified"])
    counts = _state_counts(states, keys)
    first = states.drop_duplicates(keys).set_index(keys)["item"]
    worst = states.groupby(keys)["state"].agg(_worst)
    counts["item"] = first.reindex(pd.MultiIndex.from_frame(counts[keys])).to_numpy()
    counts["item_state"] = worst.reindex(pd.MultiIndex.from_frame(counts[keys])).to_numpy()
    counts["item_rectified"] = counts["rectified"] == counts["tasks"]
    order = [*keys, "item", "tasks", *STATES, "rectified", "item_state", "item_rectified"]
    return counts.loc[:, order]


def round_progress(items: pd.DataFrame) -> pd.DataFrame:
    """Per round: feedback items, items rectified and closed off, and items by worst state."""
    rows = []
    for name, group in items.groupby("round", sort=True):
        row: dict[str, object] = {"round": name, "items": len(group),
                                  "items_rectified": int(group["item_rectified"].sum())}
        for state in STATES:
            row[f"items_{state}"] = int((group["item_state"] == state).sum())
        row["tasks"] = int(group["tasks"].sum())
        for state in STATES:
            row[f"tasks_{state}"] = int(group[state].sum())
        for column in PROBLEM_COUNTS:
            if column in group:
                row[column] = int(group[column].sum())
        rows.append(row)
    return pd.DataFrame(rows)


def group_progress(states: pd.DataFrame, by: str) -> pd.DataFrame:
    """Tasks by state per responsible unit (``by="unit"``) or leader (``by="leader"``), the
    ones with overdue and behind tasks first."""
    if by not in ("unit", "leader"):
        raise ValueError(f"by must be 'unit' or 'leader', got {by!r}")
    frame = states.assign(**{by: states[by].fillna("(none)")})
    if frame.empty:
        return pd.DataFrame(columns=[by, "tasks", *STATES, "rectified"])
    counts = _state_counts(frame, [by])
    return counts.sort_values(["overdue", "behind", by], ascending=[False, False, True],
                              kind="stable").reset_index(drop=True)


def progress_sentence(row: pd.Series) -> str:
    """The sentence of a round's progress as reports write it.

    Examples
    --------
    >>> progress_sentence(pd.Series({"round": "第二轮中央督察", "items": 5,
    ...     "items_rectified": 2, "items_closed_off": 1, "items_on_schedule": 2,
    ...     "items_behind": 1, "items_overdue": 0}))
    ... # doctest: +NORMALIZE_WHITESPACE
    '第二轮中央督察: 5 feedback items, 2 rectified (1 accepted), 2 on schedule
    (按序时进度), 1 behind, 0 overdue'
    """
    return (f"{row['round']}: {row['items']} feedback items, {row['items_rectified']} rectified "
            f"({row['items_closed_off']} accepted), {row['items_on_schedule']} on schedule "
            f"(按序时进度), {row['items_behind']} behind, {row['items_overdue']} overdue")


#: Columns of the task sheet of a progress report, in order.
TASK_REPORT_COLUMNS: tuple[str, ...] = (
    "round", "item_id", "task_id", "task", "task_type", "unit", "leader", "own_deadline",
    "deadline", "extended", "milestones", "milestones_due", "milestones_done",
    "milestones_late", "rectified_on", "accepted_on", "rejected_at_acceptance", "state",
)


def linked_problems(problems: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """The problems that hang under the ledger, with their task and feedback item.

    A problem's ``ledger_ref`` (整改任务编号 or 反馈问题编号 in its export) names a task_id, else
    a feedback item's item_id (an item id used in several rounds links to the first of them).

    Parameters
    ----------
    problems
        ``issue_id``, ``ledger_ref`` and, as of the day asked, ``known`` (reported by then),
        ``is_open`` and ``code`` (``red`` = open past its deadline), as
        :meth:`gridwatch.supervision.context.SupervisionContext.evaluate` gives them.
    tasks
        The ledger's tasks.

    Returns
    -------
    pandas.DataFrame
        One row per problem known by then with a ledger_ref: ``issue_id``, ``ledger_ref``,
        ``task_id`` (NA when linked to an item), ``round`` and ``item_id`` (NA when the
        reference is in no task or item: ``linked`` False), ``is_open``, ``overdue``.
    """
    refs = problems["ledger_ref"].astype("str")
    keep = (refs.notna() & problems["known"].astype(bool)).to_numpy()
    part = problems.loc[keep]
    ref = refs[keep]
    by_task = tasks.drop_duplicates("task_id").set_index("task_id")
    by_item = tasks.drop_duplicates("item_id").set_index("item_id")
    is_task = ref.isin(by_task.index).to_numpy()
    task_id = ref.where(is_task)
    rnd = np.where(is_task, ref.map(by_task["round"]).to_numpy(dtype=object),
                   ref.map(by_item["round"]).to_numpy(dtype=object))
    item = np.where(is_task, ref.map(by_task["item_id"]).to_numpy(dtype=object),
                    np.where(ref.isin(by_item.index).to_numpy(), ref.to_numpy(dtype=object),
                             None))
    return pd.DataFrame({
        "issue_id": part["issue_id"].astype("str").to_numpy(),
        "ledger_ref": ref.to_numpy(),
        "task_id": pd.array(task_id.to_numpy(), dtype="str"),
        "round": pd.array(rnd, dtype="str"), "item_id": pd.array(item, dtype="str"),
        "linked": pd.notna(item),
        "is_open": part["is_open"].to_numpy(dtype=bool),
        "overdue": (part["code"].astype("str") == "red").fillna(False).to_numpy(dtype=bool),
    })


def _problem_counts(linked: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    part = linked[linked[keys].notna().all(axis=1)]
    grouped = part.groupby(keys)
    return pd.DataFrame({
        "problems": grouped.size(),
        "problems_open": grouped["is_open"].sum(),
        "problems_overdue": grouped["overdue"].sum(),
        "problems_closed": grouped.size() - grouped["is_open"].sum(),
    })


def _with_problem_counts(table: pd.DataFrame, linked: pd.DataFrame,
                         keys: list[str]) -> pd.DataFrame:
    counts = _problem_counts(linked, keys)
    index = pd.MultiIndex.from_frame(table[keys]) if len(keys) > 1 else table[keys[0]]
    out = table.copy()
    for column in PROBLEM_COUNTS:
        out[column] = counts[column].reindex(index).fillna(0).astype("int64").to_numpy()
    return out


def progress_report(tasks: pd.DataFrame, milestones: pd.DataFrame, events: pd.DataFrame,
                    as_of: str | dt.date | np.datetime64, *, round: str | None = None,
                    require_acceptance: bool = True,
                    problems: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Everything the monthly report asks of the ledger as of a day, as named tables.

    Parameters
    ----------
    tasks, milestones, events
        The stored ledger (:mod:`gridwatch.store.ledger`).
    as_of
        Local day.
    round
        Only this round (督察轮次, exactly as in the ledger); None: every round.
    require_acceptance
        See :func:`task_states`.
    problems
        The problems as of ``as_of`` for :func:`linked_problems`; None: no problem counts.

    Returns
    -------
    dict
        ``rounds`` (:func:`round_progress`), ``items`` (:func:`item_progress`), ``units`` and
        ``leaders`` (:func:`group_progress`), ``tasks`` (:data:`TASK_REPORT_COLUMNS`),
        ``awaiting_acceptance`` (rectified tasks not yet accepted, by unit) and
        ``extensions`` (extensions approved up to ``as_of``). With ``problems``, items and
        tasks also count the problems under them (:data:`PROBLEM_COUNTS`, an item's own and
        its tasks'), and ``unlinked`` lists references that name no task or item.

    Raises
    ------
    ValueError
        For a round not in the ledger (naming the rounds it has).
    """
    if round is not None:
        known = sorted(tasks["round"].dropna().unique().tolist())
        if round not in known:
            raise ValueError(f"round {round!r} is not in the ledger; its rounds: "
                             f"{', '.join(known) or '(none: import a ledger first)'}")
        tasks = tasks[tasks["round"] == round]
    states = task_states(tasks, milestones, events, as_of,
                         require_acceptance=require_acceptance)
    items = item_progress(states)
    waiting = states[states["state"] == "awaiting_acceptance"].sort_values(
        ["unit", "rectified_on", "task_id"], kind="stable")
    day = _day(as_of)
    ext = events[(events["kind"] == "extend") & (events["subject"] == "task")
                 & (events["on_date"] <= day)
                 & events["subject_id"].isin(states["task_id"])]
    extensions = ext.rename(columns={"subject_id": "task_id", "on_date": "approved_on",
                                     "new_value": "extended_to", "old_value": "deadline_before",
                                     "unit": "approved_by"})
    task_table = states.loc[:, list(TASK_REPORT_COLUMNS)]
    unlinked = pd.DataFrame(columns=["ledger_ref", "problems"])
    if problems is not None:
        linked = linked_problems(problems, tasks)
        unlinked_rows = linked[~linked["linked"]]
        if round is not None:
            linked = linked[linked["round"] == round]
        items = _with_problem_counts(items, linked, ["round", "item_id"])
        task_table = _with_problem_counts(task_table, linked, ["task_id"])
        unlinked = (unlinked_rows.groupby("ledger_ref").size().rename("problems")
                    .reset_index())
    return {
        "rounds": round_progress(items),
        "items": items,
        "units": group_progress(states, "unit"),
        "leaders": group_progress(states, "leader"),
        "tasks": task_table,
        "awaiting_acceptance": waiting.loc[:, ["unit", "task_id", "round", "item_id", "task",
                                               "leader", "rectified_on"]],
        "extensions": extensions.loc[:, ["task_id", "approved_on", "deadline_before",
                                         "extended_to", "reason", "approved_by"]],
        "unlinked": unlinked,
    }


def write_progress(report: dict[str, pd.DataFrame], path: str | Path, *,
                   timezone: str = "Asia/Shanghai") -> Path:
    """Write a :func:`progress_report` as one XLSX, a sheet per table (formulas neutralised)."""
    from gridwatch.output.files import write_workbook

    sheets = {"督察轮次 rounds": report["rounds"], "反馈问题 items": report["items"],
              "责任单位 units": report["units"], "责任领导 leaders": report["leaders"],
              "整改任务 tasks": report["tasks"],
              "待验收 awaiting": report["awaiting_acceptance"],
              "延期 extensions": report["extensions"]}
    if len(report.get("unlinked", ())):
        sheets["未匹配 unlinked"] = report["unlinked"]
    return write_workbook({k: dates_as_text(v) for k, v in sheets.items()}, path,
                          timezone=timezone)


def dates_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Local days as ``YYYY-MM-DD`` (they are days, not times)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype.kind == "M" and getattr(out[column].dt, "tz", None) is None:
            out[column] = out[column].dt.strftime("%Y-%m-%d").astype("str")
    return out

"""Acceptance of single problems and spot re-checks of what was accepted (抽查复核).

A closed problem is *closed off* (验收销号) once accepted: an ``accept`` event with conclusion
``pass`` on or before the day asked, after which no re-check failed — or, with no acceptance
recorded here, its status that day is 已销号 (``verified``: the platform's own acceptance).
:func:`acceptance_backlog` lists the closed problems not (or no longer) accepted per
responsible unit.

:func:`draw_recheck` draws a stratified random sample of the accepted problems for a spot
re-check: in every stratum (area of a layer x category) ``ceil(rate * n)`` problems, at least
one, drawn with ``numpy.random.default_rng(seed)`` over the problems sorted by issue_id, so the
same seed and store give the same sample. A failed re-check (``recheck`` event, conclusion
``fail``) reopens the problem in the ledger's eyes — it is no longer closed off, it is counted as
a rebound (反弹回潮) against its unit (:func:`recheck_summary`) — until it is accepted again.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

__all__ = ["acceptance_backlog", "acceptance_state", "draw_recheck", "recheck_summary",
           "status_acceptances", "with_status_acceptances"]

#: Statuses of a problem export that are acceptances, and their conclusion.
_ACCEPTANCE_STATUSES = {"accepted": "pass", "not_accepted": "fail"}


def status_acceptances(history: pd.DataFrame, *, timezone: str) -> pd.DataFrame:
    """The acceptances a problem export states by its status (验收通过 ``accepted``, 验收不通过
    ``not_accepted``) as ledger events of problems: kind ``accept``, conclusion pass or fail,
    dated by the local day of the status change (the export's closing time when it gives one,
    else the day it was observed). The export names no accepting unit: ``unit`` is empty.

    Parameters
    ----------
    history
        The status history (``issue_id``, ``status``, ``changed_at``).
    timezone
        The territory's time zone.
    """
    columns = ["id", "subject", "subject_id", "kind", "on_date", "conclusion", "unit", "reason"]
    if not len(history):
        return pd.DataFrame(columns=columns)
    moved = history.loc[history["status"].isin(list(_ACCEPTANCE_STATUSES)).to_numpy()]
    changed = pd.to_datetime(moved["changed_at"], utc=True)
    day = np.asarray(changed.dt.tz_convert(timezone).dt.tz_localize(None)
                     .to_numpy(dtype="datetime64[ns]"), dtype="datetime64[D]")
    status = moved["status"].astype("str")
    frame = pd.DataFrame({
        "id": np.zeros(len(moved), dtype="int64"),  # before what is recorded the same day
        "subject": "issue", "subject_id": moved["issue_id"].astype("str").to_numpy(),
        "kind": "accept", "on_date": day,
        "conclusion": status.map(_ACCEPTANCE_STATUSES).to_numpy(dtype=object),
        "unit": np.full(len(moved), None, dtype=object),
        "reason": ("status " + status + " in the export").to_numpy(dtype=object)},
        columns=columns)
    return frame.loc[~np.isnat(day)].reset_index(drop=True)


def with_status_acceptances(events: pd.DataFrame, history: pd.DataFrame, *,
                            timezone: str) -> pd.DataFrame:
    """The ledger's events plus the acceptances the problems' statuses state
    (:func:`status_acceptances`): what :func:`acceptance_state` and the backlog read."""
    stated = status_acceptances(history, timezone=timezone)
    if not len(stated):
        return events
    return pd.concat([stated.reindex(columns=events.columns), events], ignore_index=True)


def _upto(events: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    day = np.datetime64(pd.Timestamp(as_of).date(), "D")
    mine = events[(events["subject"] == "issue")
                  & (events["on_date"].to_numpy(dtype="datetime64[D]") <= day)]
    return mine.sort_values(["on_date", "id"], kind="stable")


def acceptance_state(issue_ids: pd.Series, events: pd.DataFrame, as_of: dt.date, *,
                     verified: np.ndarray | None = None) -> pd.DataFrame:
    """Per problem (same index as ``issue_ids``): ``accepted`` (bool: the last acceptance or
    re-check by ``as_of`` passed, or none was recorded and ``verified`` says its status was
    已销号), ``accepted_on``, ``rebound`` (bool: the last of them was a failed re-check),
    ``failed`` (bool: the last of them was a failed acceptance, 验收不通过)."""
    mine = _upto(events, as_of)
    verdicts = mine[mine["kind"].isin(["accept", "recheck"])]
    last = verdicts.drop_duplicates("subject_id", keep="last").set_index("subject_id")
    accepts = mine[(mine["kind"] == "accept") & (mine["conclusion"] == "pass")]
    last_pass = accepts.drop_duplicates("subject_id", keep="last").set_index("subject_id")
    ids = issue_ids.astype("str")
    kind = ids.map(last["kind"])
    conclusion = ids.map(last["conclusion"])
    accepted = (conclusion == "pass").fillna(False).to_numpy(dtype=bool).copy()
    if verified is not None:
        accepted |= conclusion.isna().to_numpy() & np.asarray(verified, dtype=bool)
    rebound = ((kind == "recheck") & (conclusion == "fail")).fillna(False).to_numpy(dtype=bool)
    failed = ((kind == "accept") & (conclusion == "fail")).fillna(False).to_numpy(dtype=bool)
    on = np.asarray(last_pass["on_date"].reindex(ids.to_numpy()).to_numpy(),
                    dtype="datetime64[D]")
    on = np.where(accepted, on, np.datetime64("NaT", "D"))  # NaT: accepted as 已销号
    return pd.DataFrame({"accepted": accepted, "accepted_on": on, "rebound": rebound,
                         "failed": failed}, index=issue_ids.index)


def _verified(problems: pd.DataFrame) -> np.ndarray | None:
    """Which problems were 已销号 as of the day (``status_as_of``), when known."""
    if "status_as_of" not in problems:
        return None
    return (problems["status_as_of"] == "verified").fillna(False).to_numpy(dtype=bool)


def acceptance_backlog(problems: pd.DataFrame, events: pd.DataFrame,
                       as_of: dt.date) -> pd.DataFrame:
    """Closed problems waiting for acceptance (or reopened by a failed re-check) per unit.

    Parameters
    ----------
    problems
        ``issue_id``, ``responsible_unit``, and as of ``as_of`` ``known``, ``is_open`` and
        (optional) ``status_as_of``.

    Returns
    -------
    pandas.DataFrame
        ``responsible_unit``, ``waiting`` (closed, never accepted), ``reopened`` (a re-check
        failed), ``rejected`` (open again after a failed acceptance, 验收不通过), sorted by the
        most waiting first.
    """
    state = acceptance_state(problems["issue_id"], events, as_of, verified=_verified(problems))
    known = problems["known"].astype(bool).to_numpy()
    closed = known & ~problems["is_open"].astype(bool).to_numpy()
    waiting = closed & ~state["accepted"].to_numpy() & ~state["rebound"].to_numpy()
    reopened = closed & state["rebound"].to_numpy()
    rejected = known & ~closed & state["failed"].to_numpy()
    unit = problems["responsible_unit"].astype("str").fillna("（未指定责任单位）")
    table = pd.DataFrame({"responsible_unit": unit, "waiting": waiting, "reopened": reopened,
                          "rejected": rejected})
    columns = ["waiting", "reopened", "rejected"]
    counts = table.groupby("responsible_unit")[columns].sum().astype("int64")
    counts = counts[(counts[columns] > 0).any(axis=1)]
    return counts.sort_values(["waiting", "reopened"], ascending=False,
                              kind="stable").reset_index()


def draw_recheck(problems: pd.DataFrame, events: pd.DataFrame, as_of: dt.date, *,
                 rate: float, seed: int, stratum: str) -> pd.DataFrame:
    """A stratified random sample of the problems accepted by ``as_of`` (module docstring).

    Parameters
    ----------
    problems
        ``issue_id``, ``category``, ``responsible_unit`` and the column ``stratum`` (an area
        id column such as ``town_id``).
    rate
        Share drawn in every stratum, in (0, 1].
    seed
        Seed of the draw.

    Returns
    -------
    pandas.DataFrame
        The drawn problems' ``issue_id``, ``stratum`` (area id), ``category``,
        ``responsible_unit``, ``accepted_on`` and ``stratum_size``, by stratum then issue_id.
    """
    if not 0 < rate <= 1:
        raise ValueError(f"rate must be in (0, 1], got {rate!r}")
    state = acceptance_state(problems["issue_id"], events, as_of, verified=_verified(problems))
    pool = problems.loc[state["accepted"].to_numpy(),
                        ["issue_id", stratum, "category", "responsible_unit"]].copy()
    pool["accepted_on"] = state.loc[pool.index, "accepted_on"]
    pool = pool.rename(columns={stratum: "stratum"})
    pool["stratum"] = pool["stratum"].astype("str").fillna("(none)")
    pool = pool.sort_values(["stratum", "category", "issue_id"], kind="stable")
    rng = np.random.default_rng(seed)
    chosen = []
    for _key, group in pool.groupby(["stratum", "category"], sort=True):
        k = max(1, math.ceil(rate * len(group)))
        picked = rng.choice(len(group), size=k, replace=False)
        chosen.append(group.iloc[np.sort(picked)].assign(stratum_size=len(group)))
    if not chosen:
        return pool.assign(stratum_size=pd.Series(dtype="int64")).iloc[:0]
    return pd.concat(chosen).reset_index(drop=True)


def recheck_summary(problems: pd.DataFrame, events: pd.DataFrame,
                    as_of: dt.date) -> pd.DataFrame:
    """Re-checks per responsible unit up to ``as_of``: ``rechecked``, ``passed``, ``rebounds``
    (failed: 反弹回潮), worst first."""
    mine = _upto(events, as_of)
    checks = mine[mine["kind"] == "recheck"]
    unit = problems.set_index("issue_id")["responsible_unit"].astype("str")
    frame = pd.DataFrame({
        "responsible_unit": checks["subject_id"].map(unit).fillna("（未指定责任单位）"),
        "passed": (checks["conclusion"] == "pass").to_numpy(),
        "rebounds": (checks["conclusion"] == "fail").to_numpy()})
    table = frame.groupby("responsible_unit").agg(
        rechecked=("passed", "size"), passed=("passed", "sum"), rebounds=("rebounds", "sum"))
    return table.astype("int64").sort_values(["rebounds", "rechecked"], ascending=False,
                                             kind="stable").reset_index()

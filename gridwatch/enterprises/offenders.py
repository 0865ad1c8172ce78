"""Enterprises (一码统管): their problems, rebounds, and the repeat offenders.

A problem B of enterprise E is a **rebound at the enterprise** when an earlier problem A of the
same category was closed and B was reported within ``days`` days after that closing
(``0 < reported_at(B) - closed_at(A) <= days``), and either A belongs to E too, or A lies within
``radius_m`` metres of B (the rebound of :func:`gridwatch.supervision.rebound.find_rebounds`:
an enterprise that starts again where a closed problem was, 死灰复燃, whatever the earlier
problem was recorded under). B is linked to the A of E closed most recently before it, else to
the nearby one.

An enterprise is a **repeat offender** when, among the problems reported in the last
``window_days`` days up to the date asked, it has at least ``min_problems`` problems or at least
``min_rebounds`` rebounds (``[enterprises]``; a threshold of 0 is not used).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridwatch.enterprises._settings import EnterpriseSettings
from gridwatch.enterprises.names import enterprise_keys, enterprise_labels
from gridwatch.errors import ConfigError
from gridwatch.supervision.calendar import local_dates
from gridwatch.supervision.codes import parse_as_of

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = [
    "ENTERPRISE_COLUMNS",
    "enterprise_rebounds",
    "enterprise_table",
    "has_enterprises",
    "rebound_window",
    "reuses_context_rebounds",
]

#: Columns of :func:`enterprise_table`, in order.
ENTERPRISE_COLUMNS: tuple[str, ...] = (
    "enterprise_key", "enterprise_code", "enterprise_name", "name_variants", "problems",
    "open", "overdue", "closed", "rebounds", "problems_window", "rebounds_window",
    "categories", "first_reported", "last_reported", "area_id", "lon", "lat",
    "repeat_offender", "reason",
)


def has_enterprises(issues: pd.DataFrame) -> bool:
    """Whether any problem names an enterprise (code or name)."""
    return any(column in issues and bool(issues[column].notna().any())
               for column in ("enterprise_code", "enterprise_name"))


def enterprise_rebounds(issues: pd.DataFrame, keys: pd.Series, *, days: float,
                        nearby: pd.DataFrame | None = None) -> pd.DataFrame:
    """Flag the rebounds at an enterprise (see the module docstring).

    Parameters
    ----------
    issues
        Frame with ``issue_id``, ``reported_at``, ``closed_at``, ``category``.
    keys
        :func:`gridwatch.enterprises.names.enterprise_keys` of ``issues``.
    days
        Window after a closing, in days.
    nearby
        Rebounds within the radius (:func:`gridwatch.supervision.rebound.find_rebounds` with
        the same ``days``), same index; None: only rebounds at the same enterprise.

    Returns
    -------
    pandas.DataFrame
        Same index: ``enterprise_rebound`` (bool, only rows with an enterprise),
        ``enterprise_rebound_of`` (issue_id or NA) and ``rebound_by`` (``"enterprise"``,
        ``"nearby"`` or NA).
    """
    n = len(issues)
    has_key = keys.notna().to_numpy()
    rows = np.flatnonzero(has_key)
    key_v = keys.to_numpy(dtype=object)
    category = issues["category"].astype("str").fillna("").to_numpy(dtype=object)
    # UTC as datetime64 (a tz-aware column's to_numpy() makes a million Timestamp objects)
    reported = pd.to_datetime(issues["reported_at"], utc=True).to_numpy("datetime64[ns]")
    closed = pd.to_datetime(issues["closed_at"], utc=True).to_numpy("datetime64[ns]")
    left = pd.DataFrame({"row": rows, "key": key_v[rows], "category": category[rows],
                         "at": reported[rows]}).dropna(subset=["at"])
    done = rows[~np.isnat(closed[rows])]
    right = pd.DataFrame({"of": issues["issue_id"].astype("str").to_numpy(dtype=object)[done],
                          "key": key_v[done], "category": category[done],
                          "at": closed[done]})
    of = np.full(n, None, dtype=object)
    by = np.full(n, None, dtype=object)
    if len(left) and len(right):
        # the A of the same enterprise and category closed most recently, strictly before B
        right = right.sort_values(["at", "of"], kind="stable").drop_duplicates(
            ["key", "category", "at"], keep="first")
        matched = pd.merge_asof(left.sort_values("at", kind="stable"),
                                right.sort_values("at", kind="stable"), on="at",
                                by=["key", "category"], direction="backward",
                                allow_exact_matches=False,
                                tolerance=pd.Timedelta(days=days))
        hit = matched["of"].notna().to_numpy()
        target = matched["row"].to_numpy()[hit]
        of[target] = matched["of"].to_numpy(dtype=object)[hit]
        by[target] = "enterprise"
    if nearby is not None:
        near = nearby["rebound"].to_numpy(dtype=bool) & has_key & (by == None)  # noqa: E711
        of[near] = nearby["rebound_of"].to_numpy(dtype=object)[near]
        by[near] = "nearby"
    return pd.DataFrame({
        "enterprise_rebound": by != None,  # noqa: E711
        "enterprise_rebound_of": pd.Series(of, index=issues.index, dtype="str"),
        "rebound_by": pd.Series(by, index=issues.index, dtype="str"),
    }, index=issues.index)


def _settings(ctx: SupervisionContext) -> EnterpriseSettings:
    return ctx.settings.enterprises or EnterpriseSettings()


def rebound_window(ctx: SupervisionContext) -> tuple[float, float]:
    """The radius (m) and days of the rebounds at enterprises: ``[enterprises]``'s, else
    ``[supervision.rebound]``'s."""
    settings, base = _settings(ctx), ctx.settings.rebound
    return (settings.radius_m if settings.radius_m is not None else base.radius_m,
            settings.days if settings.days is not None else base.days)


def reuses_context_rebounds(ctx: SupervisionContext) -> bool:
    """Whether the nearby rebounds at enterprises are the context's own rebounds (the same
    radius and days); otherwise they are found again among all the context's problems."""
    base = ctx.settings.rebound
    return rebound_window(ctx) == (base.radius_m, base.days)


def context_rebounds(ctx: SupervisionContext) -> tuple[pd.Series, pd.DataFrame]:
    """The enterprise keys and rebounds at the enterprises of a context's problems; the
    context's own rebounds are reused when ``[enterprises]`` keeps the radius and days of
    ``[supervision.rebound]``."""
    from gridwatch.supervision.rebound import ReboundSettings, find_rebounds

    radius, days = rebound_window(ctx)
    keys = enterprise_keys(ctx.issues)
    if reuses_context_rebounds(ctx):
        nearby = ctx.rebounds
    else:
        nearby = find_rebounds(ctx.issues, ReboundSettings(radius_m=radius, days=days),
                               metric_crs=ctx.metric_crs)
    return keys, enterprise_rebounds(ctx.issues, keys, days=days, nearby=nearby)


def enterprise_table(ctx: SupervisionContext, as_of: Any, *,
                     layer: str | None = None) -> pd.DataFrame:
    """Per enterprise, as of the end of a local date: problems, open, overdue (red), closed,
    rebounds, the repeat-offender rule and why.

    Parameters
    ----------
    ctx
        The supervision context (its scope and counted rows apply).
    as_of
        Local date.
    layer
        Layer whose area each enterprise is shown in (the area of most of its problems);
        default the context's review layer.

    Returns
    -------
    pandas.DataFrame
        :data:`ENTERPRISE_COLUMNS`, repeat offenders first, then by problems; first and last
        reported as local dates; ``lon``/``lat`` (WGS84) of the enterprise's latest problem
        with coordinates.
    """
    day = parse_as_of(as_of)
    settings = _settings(ctx)
    issues = ctx.issues
    if not has_enterprises(issues):
        return _empty()
    keys, rebounds = context_rebounds(ctx)
    evaluated = ctx.evaluate(day)
    rows = (keys.notna().to_numpy() & evaluated["known"].to_numpy(dtype=bool)
            & ctx.counted().to_numpy(dtype=bool))
    if not rows.any():
        return _empty()
    reported_day = local_dates(issues["reported_at"], ctx.timezone)
    window_start = np.datetime64(day - dt.timedelta(days=settings.window_days - 1), "D")
    in_window = reported_day >= window_start
    layer = layer or _layer(ctx)
    area = (issues[f"{layer}_id"].astype("str") if layer and f"{layer}_id" in issues
            else pd.Series(pd.NA, index=issues.index, dtype="str"))
    at = np.flatnonzero(rows)  # a few enterprises' rows among a million: taken first
    is_open = evaluated["is_open"].to_numpy(dtype=bool)[at]
    rebound = rebounds["enterprise_rebound"].to_numpy(dtype=bool)[at]
    frame = pd.DataFrame({
        "enterprise_key": keys.to_numpy(dtype=object)[at],
        "open": is_open,
        "overdue": evaluated["code"].to_numpy(dtype=object)[at] == "red",
        "closed": ~is_open,
        "rebounds": rebound,
        "problems_window": in_window[at],
        "rebounds_window": rebound & in_window[at],
        "category": issues["category"].astype("str").to_numpy(dtype=object)[at],
        "reported_at": pd.to_datetime(issues["reported_at"], utc=True)
        .to_numpy("datetime64[ns]")[at],
        "area_id": area.to_numpy(dtype=object)[at],
        "lon": issues["lon"].to_numpy(dtype=float)[at],
        "lat": issues["lat"].to_numpy(dtype=float)[at],
    })
    grouped = frame.groupby("enterprise_key", sort=True)
    table = grouped[["open", "overdue", "closed", "rebounds", "problems_window",
                     "rebounds_window"]].sum().astype("int64")
    table.insert(0, "problems", grouped.size().astype("int64"))
    kinds = frame[["enterprise_key", "category"]].drop_duplicates().sort_values("category")
    table["categories"] = kinds.groupby("enterprise_key")["category"].agg(", ".join)
    for column, first in (("first_reported", True), ("last_reported", False)):
        times = grouped["reported_at"].min() if first else grouped["reported_at"].max()
        table[column] = pd.Series(local_dates(times, ctx.timezone), index=times.index).dt.date
    table["area_id"] = _most_frequent(frame, "area_id").reindex(table.index)
    placed = frame.dropna(subset=["lon", "lat"]).sort_values("reported_at", kind="stable")
    last_place = placed.groupby("enterprise_key").tail(1).set_index("enterprise_key")
    table["lon"] = last_place["lon"].reindex(table.index)
    table["lat"] = last_place["lat"].reindex(table.index)
    labels = enterprise_labels(issues[rows], keys[rows])
    table = labels.join(table, how="right")
    by_problems = (table["problems_window"] >= settings.min_problems
                   if settings.min_problems else pd.Series(False, index=table.index))
    by_rebounds = (table["rebounds_window"] >= settings.min_rebounds
                   if settings.min_rebounds else pd.Series(False, index=table.index))
    table["repeat_offender"] = by_problems | by_rebounds
    reasons = []
    for p, r, pw, rw in zip(by_problems, by_rebounds, table["problems_window"],
                            table["rebounds_window"], strict=True):
        parts = []
        if p:
            parts.append(f"{pw} problems in {settings.window_days} days "
                         f"(>= {settings.min_problems})")
        if r:
            parts.append(f"{rw} rebounds in {settings.window_days} days "
                         f"(>= {settings.min_rebounds})")
        reasons.append("; ".join(parts))
    table["reason"] = reasons
    table = table.reset_index()
    table = table.sort_values(["repeat_offender", "rebounds_window", "problems", "enterprise_key"],
                              ascending=[False, False, False, True], kind="stable")
    return table[list(ENTERPRISE_COLUMNS)].reset_index(drop=True)


def _most_frequent(frame: pd.DataFrame, column: str) -> pd.Series:
    """Per enterprise key, the most frequent value of ``column`` (the smallest on a tie)."""
    counts = (frame.dropna(subset=[column]).groupby(["enterprise_key", column]).size()
              .rename("n").reset_index())
    counts = counts.sort_values(["enterprise_key", "n", column], ascending=[True, False, True],
                                kind="stable")
    return counts.drop_duplicates("enterprise_key").set_index("enterprise_key")[column]


def _layer(ctx: SupervisionContext) -> str | None:
    try:
        return ctx.review_layer()
    except ConfigError:  # a context without layers shows no area
        return None


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in ENTERPRISE_COLUMNS})
    return frame.astype({"repeat_offender": bool})

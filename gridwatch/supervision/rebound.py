"""Rebound (回头看): a problem that comes back where one was closed.

A problem B is a rebound of an earlier problem A when A was closed, B was reported within
``days`` days after A's closing (``0 < reported_at(B) - closed_at(A) <= days``), B lies within
``radius_m`` metres of A, and both have the same category. B is linked to the A closed most
recently before it (then the nearest, then the smallest issue_id). Candidate pairs come from a
spatial index (k-d tree) over metric coordinates: a year of problems takes seconds, not an
all-pairs loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.schema import DEFAULT_TIMEZONE
from gridwatch.supervision.incidents import id_ranks, metric_xy, near_pairs, positive_settings

__all__ = [
    "ReboundSettings",
    "find_rebounds",
    "parse_rebound_settings",
    "rebound_counts",
]


@dataclass(frozen=True)
class ReboundSettings:
    """``[supervision.rebound]``."""

    radius_m: float = 100.0
    days: float = 90.0


def parse_rebound_settings(section: Mapping[str, Any]) -> ReboundSettings:
    """Validate ``[supervision.rebound]``; raise ConfigError listing every problem."""
    return positive_settings(section, ReboundSettings, "[supervision.rebound]")


def find_rebounds(issues: pd.DataFrame, settings: ReboundSettings | None = None, *,
                  metric_crs: str | None = None) -> pd.DataFrame:
    """Flag rebounds and link each to the earlier problem it repeats.

    Parameters
    ----------
    issues
        Frame with ``issue_id``, ``reported_at``, ``closed_at``, ``category``, ``lon``, ``lat``.
    settings
        ``radius_m`` (default 100) and ``days`` (default 90).
    metric_crs
        CRS for distances (``[territory] metric_crs``); when omitted, the zone of the points
        (:func:`gridwatch.placing.layers.project_metric_crs`).

    Returns
    -------
    pandas.DataFrame
        Same index: ``rebound`` (bool), ``rebound_of`` (issue_id of the earlier problem or NA),
        ``rebound_distance_m`` and ``rebound_days`` (days from its closing to this report).
    """
    settings = settings or ReboundSettings()
    n = len(issues)
    x, y = metric_xy(issues["lon"], issues["lat"], crs=metric_crs)
    # pairs of the same category only: a dense city has tens of millions of pairs in all
    cat = pd.factorize(issues["category"].astype("str").fillna(""))[0]
    new, old = near_pairs(x, y, settings.radius_m, groups=cat)
    reported = pd.to_datetime(issues["reported_at"], utc=True).to_numpy("datetime64[ns]")
    closed = pd.to_datetime(issues["closed_at"], utc=True).to_numpy("datetime64[ns]")
    keep = ~np.isnat(closed[old])
    new, old = new[keep], old[keep]
    gap = (reported[new] - closed[old]).astype("timedelta64[s]").astype("float64") / 86400.0
    keep = (gap > 0) & (gap <= settings.days)
    new, old, gap = new[keep], old[keep], gap[keep]
    dist = np.hypot(x[new] - x[old], y[new] - y[old])
    ids = issues["issue_id"].astype("str").to_numpy(dtype=object)
    # the candidates' ids in text order: ranked once among all ids (a million) rather than
    # among the candidate pairs (several million), the same order
    id_rank = id_ranks(issues["issue_id"])[old]
    # Per new problem: the smallest gap, then the smallest distance, then the smallest id.
    order = np.lexsort((id_rank, dist, gap, new))
    new, old, gap, dist = new[order], old[order], gap[order], dist[order]
    first = np.r_[True, new[1:] != new[:-1]] if new.size else np.array([], dtype=bool)
    new, old, gap, dist = new[first], old[first], gap[first], dist[first]
    rebound_of = np.full(n, None, dtype=object)
    rebound_of[new] = ids[old]
    distance = np.full(n, np.nan)
    distance[new] = dist
    days = np.full(n, np.nan)
    days[new] = gap
    flag = np.zeros(n, dtype=bool)
    flag[new] = True
    return pd.DataFrame({
        "rebound": flag,
        "rebound_of": pd.Series(rebound_of, index=issues.index, dtype="str"),
        "rebound_distance_m": distance,
        "rebound_days": days,
    }, index=issues.index)


def rebound_counts(issues: pd.DataFrame, rebounds: pd.DataFrame, *, layer: str,
                   start: Any = None, end: Any = None,
                   timezone: str = DEFAULT_TIMEZONE) -> pd.DataFrame:
    """Rebounds per area of ``layer`` among problems reported in ``[start, end]`` (local dates).

    Returns
    -------
    pandas.DataFrame
        Columns ``area_id``, ``rebounds``, sorted by area_id (areas without an id are left out).
    """
    from gridwatch.supervision.aggregate import reported_between

    column = f"{layer}_id"
    if column not in issues:
        raise ConfigError(f"layer {layer!r}: the issues have no column {column!r}")
    mask = rebounds["rebound"].to_numpy(dtype=bool) & reported_between(
        issues, start, end, timezone=timezone)
    counts = issues.loc[mask, column].dropna().astype("str").value_counts()
    return (counts.rename("rebounds").rename_axis("area_id").reset_index()
            .sort_values("area_id", kind="stable").reset_index(drop=True))

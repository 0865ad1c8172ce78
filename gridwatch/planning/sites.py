"""Sites to visit: problems near each other (or of one enterprise) grouped into one stop.

Two problems are at the same site when they are at most ``site_radius_m`` metres apart in the
metric CRS, or carry the same non-empty value in ``enterprise_column``; sites are the connected
groups of that relation (so a row of problems along a river bank, each within the radius of the
next, is one site). A site stands at the mean of its problems' metric coordinates; its
priority is the sum of its problems' and its time on site ``visit_minutes`` plus
``minutes_per_problem`` for each further problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridwatch.planning.priority import TERMS, explain
from gridwatch.planning.settings import PlanSettings

__all__ = ["group_sites", "site_table"]


def group_sites(x: np.ndarray, y: np.ndarray, *, radius_m: float,
                enterprise: pd.Series | np.ndarray | None = None) -> np.ndarray:
    """The site of each point: connected groups of points within ``radius_m`` of each other
    or sharing a non-empty ``enterprise``.

    Parameters
    ----------
    x, y
        Metric coordinates; a point without coordinates is a site of its own.
    radius_m
        The grouping distance.
    enterprise
        Optional labels (same length); equal non-empty labels join their sites.

    Returns
    -------
    numpy.ndarray
        An integer label per point, numbered in the order of each site's first point.

    Examples
    --------
    >>> group_sites(np.array([0.0, 150.0, 300.0, 1000.0]), np.zeros(4), radius_m=200).tolist()
    [0, 0, 0, 1]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from gridwatch.supervision.incidents import near_pairs

    n = len(x)
    a, b = near_pairs(np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"),
                      radius_m)
    if enterprise is not None:
        labels = pd.Series(np.asarray(enterprise, dtype=object)).astype("str").str.strip()
        codes, _ = pd.factorize(labels.where(labels.ne("") & labels.notna()))
        rows = np.flatnonzero(codes >= 0)
        if rows.size:
            order = rows[np.argsort(codes[rows], kind="stable")]
            same = codes[order][1:] == codes[order][:-1]
            a = np.concatenate([a, order[1:][same]])
            b = np.concatenate([b, order[:-1][same]])
    graph = coo_matrix((np.ones(a.size), (a, b)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    # number sites by their first point, so labels do not depend on scipy's numbering
    _, first = np.unique(label, return_index=True)
    renumber = np.empty(first.size, dtype="int64")
    renumber[np.argsort(first)] = np.arange(first.size)
    out: np.ndarray = renumber[label]
    return out


def site_table(problems: pd.DataFrame, terms: pd.DataFrame, x: np.ndarray, y: np.ndarray, *,
               settings: PlanSettings) -> tuple[pd.DataFrame, pd.Series]:
    """Group problems into sites and sum their scores.

    Parameters
    ----------
    problems
        The candidate problems (``issue_id``; ``enterprise_column`` when set and present).
    terms
        :func:`priority_terms` of them (same index).
    x, y
        Their metric coordinates.
    settings
        ``[plan]``: ``site_radius_m``, ``enterprise_column``, visit times.

    Returns
    -------
    (sites, site_of)
        ``sites``: one row per site, highest priority first (then site id): ``site_id``
        (``"S-"`` + its smallest issue_id), ``x``, ``y``, ``problems``, ``issue_ids`` (joined
        by ``,``), ``priority``, one column per term, ``why``, ``visit_minutes``.
        ``site_of``: the site_id of each problem (same index as ``problems``).
    """
    column = settings.enterprise_column
    enterprise = problems[column] if column and column in problems else None
    label = group_sites(x, y, radius_m=settings.site_radius_m, enterprise=enterprise)
    ids = problems["issue_id"].astype("str").to_numpy(dtype=object)
    frame = pd.DataFrame({"label": label, "issue_id": ids, "x": x, "y": y})
    frame = pd.concat([frame, terms[[*TERMS, "priority"]].reset_index(drop=True)], axis=1)
    frame = frame.sort_values(["label", "issue_id"], kind="stable")
    grouped = frame.groupby("label", sort=True)
    sites = grouped[[*TERMS, "priority"]].sum()
    sites["x"] = grouped["x"].mean()
    sites["y"] = grouped["y"].mean()
    sites["problems"] = grouped.size()
    sites["issue_ids"] = grouped["issue_id"].agg(",".join)
    sites["site_id"] = "S-" + grouped["issue_id"].first().astype("str")
    sites["visit_minutes"] = settings.visit_minutes + \
        settings.minutes_per_problem * (sites["problems"] - 1)
    sites["why"] = explain(sites[list(TERMS)])
    site_of = pd.Series(sites["site_id"].reindex(label).to_numpy(), index=problems.index,
                        dtype="str")
    sites = sites.sort_values(["priority", "site_id"], ascending=[False, True], kind="stable")
    columns = ["site_id", "x", "y", "problems", "issue_ids", "priority", *TERMS, "why",
               "visit_minutes"]
    return sites[columns].reset_index(drop=True), site_of

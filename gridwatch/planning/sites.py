"""Sites to visit: problems near each other (or of one enterprise) grouped into one stop.

Sites open around the most urgent problems: the problem of highest priority not yet in a site
opens one and takes every problem not yet in a site within ``site_radius_m`` metres of it (in
the metric CRS); then the next. Sites holding problems with the same non-empty value in
``enterprise_column`` are then joined. A site stands at the mean of its problems' metric
coordinates; its priority is the sum of its problems' and its time on site ``visit_minutes``
plus ``minutes_per_problem`` for each further problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridwatch.planning.priority import TERMS, explain
from gridwatch.planning.settings import PlanSettings

__all__ = ["group_sites", "site_table"]


def group_sites(x: np.ndarray, y: np.ndarray, *, radius_m: float,
                enterprise: pd.Series | np.ndarray | None = None,
                priority: np.ndarray | None = None) -> np.ndarray:
    """The site of each point: sites open around the most urgent points, and points with the
    same non-empty ``enterprise`` share one.

    The point of highest ``priority`` not yet in a site (ties: the first) opens a site and
    takes every point not yet in a site within ``radius_m`` of it; then the next. So a site
    spans at most ``2 x radius_m`` however dense the city (joining every pair within the
    radius would chain a whole district into one stop). Then sites holding points of one
    enterprise are joined.

    Parameters
    ----------
    x, y
        Metric coordinates; a point without coordinates is a site of its own.
    radius_m
        The grouping distance.
    enterprise
        Optional labels (same length); equal non-empty labels join their sites.
    priority
        The order in which points open sites (highest first); default their order.

    Returns
    -------
    numpy.ndarray
        An integer label per point, numbered in the order of each site's first point.

    Examples
    --------
    >>> group_sites(np.array([0.0, 150.0, 300.0, 1000.0]), np.zeros(4), radius_m=200).tolist()
    [0, 0, 1, 2]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    n = len(x)
    label = np.full(n, -1, dtype="int64")
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    rank = np.zeros(n) if priority is None else -np.asarray(priority, dtype="float64")
    order = ok[np.lexsort((ok, rank[ok]))]
    if ok.size:
        tree = cKDTree(np.column_stack([x[ok], y[ok]]))
        neighbours = tree.query_ball_point(np.column_stack([x[order], y[order]]), radius_m)
        site = 0
        for seed, near in zip(order, neighbours, strict=True):  # one pass per site opened
            if label[seed] >= 0:
                continue
            members = ok[np.asarray(near, dtype="int64")]
            label[members[label[members] < 0]] = site
            site += 1
    rest = np.flatnonzero(label < 0)
    label[rest] = label.max(initial=-1) + 1 + np.arange(rest.size)
    if enterprise is not None:
        names = pd.Series(np.asarray(enterprise, dtype=object)).astype("str").str.strip()
        codes, _ = pd.factorize(names.where(names.ne("") & names.notna()))
        rows = np.flatnonzero(codes >= 0)
        if rows.size:
            rows = rows[np.argsort(codes[rows], kind="stable")]
            same = codes[rows][1:] == codes[rows][:-1]
            m = int(label.max()) + 1
            graph = coo_matrix((np.ones(int(same.sum())),
                                (label[rows[1:][same]], label[rows[:-1][same]])), shape=(m, m))
            _, joined = connected_components(graph, directed=False)
            label = joined[label]
    # number sites by their first point, so labels do not depend on the order they opened
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
    label = group_sites(x, y, radius_m=settings.site_radius_m, enterprise=enterprise,
                        priority=terms["priority"].to_numpy(dtype="float64"))
    ids = problems["issue_id"].astype("str").to_numpy(dtype=object)
    frame = pd.DataFrame({"label": label, "issue_id": ids, "x": x, "y": y})
    frame = pd.concat([frame, terms[[*TERMS, "priority"]].reset_index(drop=True)], axis=1)
    frame = frame.sort_values(["label", "issue_id"], kind="stable")
    grouped = frame.groupby("label", sort=True)
    sites = grouped[[*TERMS, "priority"]].sum()
    sites["x"] = grouped["x"].mean()
    sites["y"] = grouped["y"].mean()
    sites["problems"] = grouped.size()
    ordered = frame["issue_id"].to_numpy(dtype=object)
    bounds = np.flatnonzero(np.diff(frame["label"].to_numpy())) + 1
    sites["issue_ids"] = [",".join(part) for part in np.split(ordered, bounds)] \
        if len(frame) else pd.Series(dtype="str")
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

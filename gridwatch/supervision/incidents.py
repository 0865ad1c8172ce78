"""Duplicate reports grouped as incidents (一事多报).

Two reports are linked when they lie within ``radius_m`` metres of each other, were reported
within ``hours`` hours of each other and share the category; an incident is a connected group
of links, so chains (A–B, B–C) form one incident even when A and C are farther apart. The
incident id is the issue_id of the group's first report (earliest ``reported_at``, then the
smallest issue_id), so it does not depend on row order. Distances are measured in a metric CRS
with a spatial index (a k-d tree), never with an all-pairs loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.settings import unknown_keys

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "DuplicateSettings",
    "group_incidents",
    "incident_primary",
    "metric_xy",
    "near_pairs",
    "parse_duplicate_settings",
    "positive_settings",
]


_S = TypeVar("_S", bound="DataclassInstance")


@dataclass(frozen=True)
class DuplicateSettings:
    """``[supervision.duplicates]``."""

    radius_m: float = 50.0
    hours: float = 24.0


def parse_duplicate_settings(section: Mapping[str, Any]) -> DuplicateSettings:
    """Validate ``[supervision.duplicates]``; raise ConfigError listing every problem."""
    return positive_settings(section, DuplicateSettings, "[supervision.duplicates]")


def positive_settings(section: Mapping[str, Any], cls: type[_S], where: str) -> _S:
    """Build a settings dataclass whose fields are all numbers > 0 from a config section.

    Unknown keys and bad values are all reported at once in one ConfigError.
    """
    raw = dict(section or {})
    keys = tuple(f.name for f in dataclasses.fields(cls))
    problems = unknown_keys(raw, keys, where)
    for key in keys:
        value = raw.get(key)
        if key in raw and (isinstance(value, bool) or not isinstance(value, int | float)
                           or value <= 0):
            problems.append(f"{where} {key} must be a number > 0, got {value!r}")
    if problems:
        raise ConfigError(f"{where} has {len(problems)} problem(s):", problems)
    return cls(**{k: float(v) for k, v in raw.items()})


def metric_xy(lon: Any, lat: Any, *, crs: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 lon/lat to metres in ``crs`` (``[territory] metric_crs``), else in the
    metric CRS of the points (:func:`gridwatch.placing.layers.project_metric_crs`)."""
    from gridwatch.placing.coords import lonlat_transformer
    from gridwatch.placing.layers import project_metric_crs

    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return np.full(lon.shape, np.nan), np.full(lat.shape, np.nan)
    crs = project_metric_crs(crs, lon=lon[ok], lat=lat[ok])
    x, y = lonlat_transformer("EPSG:4326", crs).transform(lon, lat)
    return np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")


def id_ranks(ids: pd.Series) -> np.ndarray:
    """Each id's rank among the distinct ids sorted as text (0 first; equal ids share it), in
    the order Python gives ``str``: Arrow ranks a million ids in a fraction of a second where
    sorting Python strings takes seconds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(pd.Series(ids).astype("str").fillna(""), type=pa.large_string())
    ranks: np.ndarray = pc.rank(text, sort_keys="ascending", tiebreaker="dense").to_numpy()
    return ranks.astype("int64") - 1


def near_pairs(x: np.ndarray, y: np.ndarray, radius_m: float, *,
               groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs ``(i, j)``, ``i != j``, of finite points at most ``radius_m`` apart;
    with ``groups`` (integer codes, e.g. categories), only pairs within the same group.

    Searching each group on its own finds the same pairs as filtering all of them, without
    making the pairs of other groups first (in a dense city, tens of millions).
    """
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if ok.size == 0:
        empty = np.array([], dtype="int64")
        return empty, empty
    # A k-d tree finds the pairs of 250k points in well under a second (an STRtree dwithin
    # query takes several); distances are Euclidean in the metric CRS either way.
    from scipy.spatial import cKDTree  # heavy: imported when pairs are searched

    if groups is None:
        members = [ok]
    else:
        codes = np.asarray(groups)[ok]
        order = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        members = [ok[part] for part in np.split(order, bounds)]
    firsts, seconds = [], []
    for rows in members:
        if rows.size < 2:
            continue
        pairs = cKDTree(np.column_stack([x[rows], y[rows]])).query_pairs(
            radius_m, output_type="ndarray")
        firsts += [rows[pairs[:, 0]], rows[pairs[:, 1]]]
        seconds += [rows[pairs[:, 1]], rows[pairs[:, 0]]]
    if not firsts:
        empty = np.array([], dtype="int64")
        return empty, empty
    return np.concatenate(firsts).astype("int64"), np.concatenate(seconds).astype("int64")


def group_incidents(issues: pd.DataFrame, settings: DuplicateSettings | None = None, *,
                    metric_crs: str | None = None) -> pd.DataFrame:
    """Group duplicate reports into incidents.

    Parameters
    ----------
    issues
        Frame with ``issue_id``, ``reported_at``, ``category``, ``lon``, ``lat`` (WGS84).
    settings
        Radius in metres and window in hours (defaults 50 m, 24 h).
    metric_crs
        CRS for distances (``[territory] metric_crs``); when omitted, the zone of the points
        (:func:`gridwatch.placing.layers.project_metric_crs`).

    Returns
    -------
    pandas.DataFrame
        Same index: ``incident_id`` (str), ``incident_size`` (int), ``is_primary`` (bool, the
        first report of its incident). Rows without coordinates are incidents of their own.
    """
    settings = settings or DuplicateSettings()
    n = len(issues)
    x, y = metric_xy(issues["lon"], issues["lat"], crs=metric_crs)
    cat = pd.factorize(issues["category"].astype("str").fillna(""))[0]
    a, b = near_pairs(x, y, settings.radius_m, groups=cat)  # same category only
    t = pd.to_datetime(issues["reported_at"], utc=True).to_numpy("datetime64[ns]")
    gap = np.abs((t[a] - t[b]).astype("timedelta64[s]").astype("float64"))
    keep = gap <= settings.hours * 3600.0
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(int(keep.sum())), (a[keep], b[keep])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    ids = issues["issue_id"].astype("str").to_numpy(dtype=object)
    order = np.lexsort((id_ranks(issues["issue_id"]), t))  # earliest first, then smallest id
    first = np.full(label.max(initial=-1) + 1, -1, dtype="int64")
    labels_in_order = label[order]
    _, first_pos = np.unique(labels_in_order, return_index=True)
    first[labels_in_order[first_pos]] = order[first_pos]
    primary_row = first[label]
    size = np.bincount(label, minlength=first.size)[label]
    return pd.DataFrame({
        "incident_id": pd.Series(ids[primary_row], index=issues.index, dtype="str"),
        "incident_size": size.astype("int64"),
        "is_primary": primary_row == np.arange(n),
    }, index=issues.index)


def incident_primary(issues: pd.DataFrame) -> np.ndarray:
    """Mask of rows counted when statistics count incidents: primaries and ungrouped rows."""
    mask: np.ndarray
    if "is_primary" in issues:
        mask = issues["is_primary"].fillna(True).to_numpy(dtype=bool)
        return mask
    if "incident_id" in issues:
        inc = issues["incident_id"]
        mask = (inc.isna() | (inc == issues["issue_id"])).to_numpy(dtype=bool)
        return mask
    return np.ones(len(issues), dtype=bool)

"""The shapely implementation of ``locate_points`` that the compiled kernel replaced.

Kept verbatim (STRtree bounding-box query, ``shapely.intersects_xy`` on prepared polygons, then
the border rule) as the reference the kernel must equal, point for point.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely


def id_rank(layer: gpd.GeoDataFrame) -> np.ndarray:
    """Rank of each area's id in string order (ties keep layer order)."""
    ids = layer["area_id"].astype("str").to_numpy(dtype=object)
    order = np.argsort(ids, kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return rank


def locate_points_reference(x: np.ndarray, y: np.ndarray, layer: gpd.GeoDataFrame, *,
                            points: np.ndarray | None = None) -> np.ndarray:
    """Position (``iloc``) of each point's area by the border rule, -1 outside all areas."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    result = np.full(len(x), -1, dtype=np.int64)
    if len(x) == 0 or len(layer) == 0:
        return result
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if len(ok) == 0:
        return result
    geoms = np.asarray(layer.geometry.array, dtype=object)
    shapely.prepare(geoms)
    pts = shapely.points(x[ok], y[ok]) if points is None else np.asarray(points)[ok]
    pt, poly = layer.sindex.query(pts)
    hit = shapely.intersects_xy(geoms[poly], x[ok][pt], y[ok][pt])
    pt, poly = pt[hit], poly[hit]
    if len(pt) == 0:
        return result
    rank = id_rank(layer)
    order = np.lexsort((poly, rank[poly], pt))
    pt, poly = pt[order], poly[order]
    first = np.flatnonzero(np.r_[True, pt[1:] != pt[:-1]])
    result[ok[pt[first]]] = poly[first]
    return result


def assign_areas_reference(*args, **kwargs):
    """``assign_areas`` as it was: every layer placed with :func:`locate_points_reference`."""
    from unittest import mock

    from gridwatch.placing import assign

    with mock.patch.object(assign, "locate_points", locate_points_reference):
        return assign.assign_areas(*args, **kwargs)

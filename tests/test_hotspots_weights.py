"""The weights cache key: any change of ids, their order, geometry or options gives another key."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from gridwatch.hotspots._weights import _cache_key

PARAMS = {"kind": "queen", "k": None, "distance_m": None, "join_islands": True}


def squares() -> gpd.GeoDataFrame:
    boxes = [shapely.box(x, 0, x + 1, 1) for x in range(4)]
    boxes[1] = shapely.Polygon([(1, 0), (1.5, 0), (2, 0), (2, 1), (1, 1)])  # one more vertex
    return gpd.GeoDataFrame({"area_id": ["a", "b", "c", "d"]}, geometry=boxes, crs="EPSG:4326")


def key(frame: gpd.GeoDataFrame, **params: object) -> str:
    return _cache_key(tuple(frame["area_id"]), np.asarray(frame.geometry.values),
                      {**PARAMS, **params})


def test_the_key_follows_ids_order_geometry_and_options():
    base = squares()
    keys = {key(base)}
    assert key(squares()) in keys  # the same layer read again: the same key
    renamed = base.assign(area_id=["a", "b", "c", "e"])
    swapped = base.copy()
    swapped.geometry = base.geometry.to_numpy()[[1, 0, 2, 3]]  # same bytes, other split
    moved = base.copy()
    moved.geometry = base.geometry.translate(1e-9, 0)
    reordered = base.iloc[[1, 0, 2, 3]]
    variants = [key(renamed), key(swapped), key(moved), key(reordered), key(base, kind="rook"),
                key(base, join_islands=False)]
    assert len(set(variants) | keys) == len(variants) + 1

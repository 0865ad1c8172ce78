"""What gridwatch knows of a boundary layer without reading its geometry: where its WGS84 form
is cached, its bounds and attribute table from that cache, and the project's metric CRS rule.

Kept apart from :mod:`gridwatch.placing.layers` so a question that only needs area names or the
metric CRS does not import geopandas.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridwatch.config import LayerSpec
from gridwatch.errors import CRSError
from gridwatch.placing import coords

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["LAYER_CACHE_DIR", "layer_bounds", "layer_cache_path", "project_metric_crs",
           "read_layer_table", "territory_specs"]


#: Folder beside a layer file where its WGS84 form is kept (GeoParquet reads in a fraction of
#: the time of a GeoPackage or GeoJSON plus a GCJ-02/BD-09 conversion).
LAYER_CACHE_DIR = ".gridwatch-cache"
_LAYER_CACHE_VERSION = 1


def layer_cache_path(spec: LayerSpec) -> Path | None:
    """Where the layer's WGS84 form is kept: named after the declaration and the files it was
    read from (size and modification time), so any change reads the file again."""
    import hashlib

    try:
        siblings = sorted(spec.path.parent.glob(f"{spec.path.stem}.*"))
        stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in siblings
                 if f.is_file()]
    except OSError:
        return None
    if not stats:
        return None
    key = json.dumps([_LAYER_CACHE_VERSION, str(spec.path), spec.id_field, spec.name_field,
                      spec.crs, spec.parent_field, spec.source_layer, spec.encoding, stats])
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
    return spec.path.parent / LAYER_CACHE_DIR / "layers" / f"{spec.path.stem}-{digest}.parquet"


def layer_bounds(spec: LayerSpec) -> np.ndarray:
    """The layer's WGS84 bounds (minx, miny, maxx, maxy; NaN without geometry), from its
    cached form's GeoParquet metadata when there is one: no geometry is read."""
    cache = layer_cache_path(spec)
    if cache is not None and cache.is_file():
        try:
            import pyarrow.parquet as pq

            geo = json.loads(pq.read_schema(cache).metadata[b"geo"])
            box = geo["columns"][geo["primary_column"]].get("bbox")
            if box is not None and len(box) == 4:
                return np.asarray(box, dtype=float)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # read the layer below
    from gridwatch.placing.layers import read_layer  # geopandas: only without a cache

    layer = read_layer(spec)
    return np.asarray(layer.total_bounds if len(layer) else [np.nan] * 4, dtype=float)


def read_layer_table(spec: LayerSpec) -> pd.DataFrame:
    """The columns of :func:`~gridwatch.placing.layers.read_layer` but the geometry
    (``area_id``, ``area_name``, ...), read from the layer's cached form without its geometry
    when there is one (names for tables need no outline)."""
    cache = layer_cache_path(spec)
    if cache is not None and cache.is_file():
        try:
            import pyarrow.parquet as pq

            schema = pq.read_schema(cache)
            geometry = json.loads(schema.metadata[b"geo"])["primary_column"]
            columns = [name for name in schema.names if name != geometry]
            return pd.read_parquet(cache, columns=columns)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # read the layer below
    from gridwatch.placing.layers import read_layer

    layer = read_layer(spec)
    return pd.DataFrame(layer.drop(columns=layer.geometry.name))


def project_metric_crs(
    configured: str | None,
    *,
    layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    specs: Sequence[LayerSpec] | None = None,
    lon: Any = None,
    lat: Any = None,
    bounds: Mapping[str, Sequence[float]] | None = None,
) -> str:
    """Return the project's metric CRS, for every distance, buffer and area in gridwatch.

    One rule, in this order:

    1. ``configured`` (``[territory] metric_crs``) when it is set;
    2. else the zone :func:`gridwatch.placing.coords.metric_crs` picks (CGCS2000 3-degree
       Gauss-Krüger in China, UTM elsewhere) at the centre of the bounds of the territory's
       layers: the admin layers without a parent (else every admin layer, else every layer
       without a parent, as :func:`territory` chooses; every layer given when ``specs`` is
       None);
    3. else, when no such layer has geometry, the zone at the median of the points
       ``lon``/``lat``.

    Parameters
    ----------
    configured
        ``config.territory.metric_crs`` (None or ``""`` when not set).
    layers
        Loaded layers (name → GeoDataFrame in WGS84).
    specs
        Their declarations (``config.layers``), to find the admin layers.
    lon, lat
        WGS84 degrees of points, used only when no layer has geometry.
    bounds
        Instead of ``layers``: each layer's WGS84 bounds (:func:`layer_bounds`; NaN for a
        layer without geometry), so the layers need not be read.

    Returns
    -------
    str
        ``configured`` as given, or ``"EPSG:n"``.

    Raises
    ------
    CRSError
        When nothing is configured and there is neither a layer with geometry nor a point
        with finite coordinates.

    Examples
    --------
    >>> project_metric_crs("EPSG:4549")
    'EPSG:4549'
    >>> project_metric_crs(None, lon=[120.7, 120.8], lat=[30.7, 30.8])  # Jiaxing
    'EPSG:4549'
    """
    if configured:
        return str(configured)
    boxes: dict[str, Any] = {name: g.total_bounds for name, g in (layers or {}).items()
                             if len(g)}
    boxes.update(bounds or {})
    if specs is not None:
        boxes = {s.name: boxes[s.name] for s in territory_specs(specs, boxes)}
    found = np.array(list(boxes.values()), dtype=float).reshape(-1, 4)
    if len(found) and not np.isnan(found).all():
        centre_lon = (np.nanmin(found[:, 0]) + np.nanmax(found[:, 2])) / 2.0
        centre_lat = (np.nanmin(found[:, 1]) + np.nanmax(found[:, 3])) / 2.0
        return coords.metric_crs(float(centre_lon), float(centre_lat))
    if lon is not None and lat is not None:
        xs = np.asarray(lon, dtype=float)
        ys = np.asarray(lat, dtype=float)
        if (np.isfinite(xs) & np.isfinite(ys)).any():
            return coords.metric_crs(xs, ys)
    raise CRSError("no metric CRS can be chosen: no layer has any geometry and no point has "
                   "coordinates; set [territory] metric_crs (e.g. 'EPSG:4549')")


def territory_specs(specs: Sequence[LayerSpec],
                     layers: Mapping[str, Any]) -> list[LayerSpec]:
    """The layers that make the territory: top admin layers, else admin, else parentless."""
    present = [s for s in specs if s.name in layers]
    return ([s for s in present if s.kind == "admin" and s.parent is None]
            or [s for s in present if s.kind == "admin"]
            or [s for s in present if s.parent is None])

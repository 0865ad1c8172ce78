"""The size of each satellite patch and how it lies over the project's areas.

All areas are measured in the project's metric CRS (:func:`gridwatch.placing.layers.
project_metric_crs`, a CGCS2000 Gauss-Krüger zone in China), never in degrees. For every
declared layer the patch's overlap with each area it touches is kept (one row per patch, layer
and area), so the area a patch "falls in" (the one holding most of it), and the share and
hectares inside redline and drinking-water zones (layers of kind ``redline`` or ``zone``), are
read from one table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridwatch.config import LayerSpec
from gridwatch.placing.coords import lonlat_transformer

__all__ = ["OVERLAP_COLUMNS", "PROTECTED_KINDS", "measure_patches", "patch_summary"]

#: Columns of the overlap table of :func:`measure_patches`.
OVERLAP_COLUMNS: tuple[str, ...] = ("patch_id", "layer", "kind", "area_id", "overlap_m2")
#: Layer kinds whose overlap with a patch is reported as protected land (share and hectares).
PROTECTED_KINDS: tuple[str, ...] = ("redline", "zone")
#: Overlaps smaller than this (m²) are slivers of shared edges, not overlaps.
MIN_OVERLAP_M2 = 0.01


def _to_metric(geoms: np.ndarray, metric_crs: str) -> np.ndarray:
    transformer = lonlat_transformer("EPSG:4326", metric_crs)

    def apply(xy: np.ndarray) -> np.ndarray:
        if len(xy) == 0:
            return xy
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])

    return shapely.transform(np.asarray(geoms, dtype=object), apply)


def measure_patches(patches: gpd.GeoDataFrame, layers: Mapping[str, gpd.GeoDataFrame],
                    specs: Sequence[LayerSpec], *, metric_crs: str,
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure patches and intersect them with every layer, in the metric CRS.

    Parameters
    ----------
    patches
        :func:`gridwatch.patches.read.read_patches` (WGS84 polygons).
    layers
        Loaded boundary layers (:func:`gridwatch.placing.layers.load_layers`), WGS84.
    specs
        The layers as declared (their kinds), in order.
    metric_crs
        The project's metric CRS.

    Returns
    -------
    measured : pandas.DataFrame
        The rows of ``patches`` (same index) with ``area_m2``, and ``lon``/``lat`` of a point
        inside the patch (WGS84).
    overlaps : pandas.DataFrame
        :data:`OVERLAP_COLUMNS`: one row per patch, layer and area it overlaps (m²).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from gridwatch.config import LayerSpec
    >>> patch = gpd.GeoDataFrame({"patch_id": ["P1"]}, crs="EPSG:4326",
    ...                          geometry=[shapely.box(120.7, 30.7, 120.701, 30.701)])
    >>> zone = gpd.GeoDataFrame({"area_id": ["Z"]}, crs="EPSG:4326",
    ...                         geometry=[shapely.box(120.7, 30.7, 120.7005, 30.701)])
    >>> spec = LayerSpec(name="redline", path=None, id_field="id", kind="redline")
    >>> m, o = measure_patches(patch, {"redline": zone}, [spec], metric_crs="EPSG:4549")
    >>> round(float(o["overlap_m2"].iloc[0] / m["area_m2"].iloc[0]), 3)
    0.5
    """
    geoms = np.asarray(patches.geometry.array, dtype=object)
    metric = _to_metric(geoms, metric_crs)
    inside = shapely.point_on_surface(geoms)
    measured = pd.DataFrame(patches.drop(columns=patches.geometry.name))
    measured["area_m2"] = shapely.area(metric)
    measured["lon"] = shapely.get_x(inside)
    measured["lat"] = shapely.get_y(inside)
    ids = patches["patch_id"].astype("str").to_numpy(dtype=object)
    parts = []
    for spec in specs:
        layer = layers.get(spec.name)
        if layer is None or layer.empty or not len(patches):
            continue
        left, right = layer.sindex.query(geoms, predicate="intersects")
        if not len(left):
            continue
        area_metric = _to_metric(np.asarray(layer.geometry.array, dtype=object)[right],
                                 metric_crs)
        overlap = shapely.area(shapely.intersection(metric[left], area_metric))
        keep = overlap >= MIN_OVERLAP_M2
        parts.append(pd.DataFrame({
            "patch_id": ids[left][keep], "layer": spec.name, "kind": spec.kind,
            "area_id": layer["area_id"].astype("str").to_numpy(dtype=object)[right][keep],
            "overlap_m2": overlap[keep]}))
    overlaps = (pd.concat(parts, ignore_index=True) if parts
                else pd.DataFrame({c: pd.Series(dtype="float64" if c == "overlap_m2"
                                                else "str") for c in OVERLAP_COLUMNS}))
    return measured, overlaps.astype({"patch_id": "str", "layer": "str", "kind": "str",
                                      "area_id": "str", "overlap_m2": "float64"})


def patch_summary(patches: pd.DataFrame, overlaps: pd.DataFrame,
                  specs: Sequence[LayerSpec]) -> pd.DataFrame:
    """One row per patch: its area, the area it falls in per layer, and protected overlaps.

    Parameters
    ----------
    patches
        Patches with ``patch_id`` and ``area_m2`` (as stored or measured).
    overlaps
        :data:`OVERLAP_COLUMNS`.
    specs
        The project's layers, in order.

    Returns
    -------
    pandas.DataFrame
        ``patches`` (same index) plus ``area_ha``; per layer ``<layer>_id`` (the area holding
        the largest part of the patch, NA when none); per layer of a kind in
        :data:`PROTECTED_KINDS` ``<layer>_ha`` (hectares inside any of its zones),
        ``<layer>_share`` (that over the patch's area, 0..1) and ``<layer>_zones`` (the zone
        ids, ``;``-separated).
    """
    out = patches.copy()
    area = out["area_m2"].to_numpy(dtype=float)
    out["area_ha"] = area / 10_000.0
    key = out["patch_id"].astype("str")
    for spec in specs:
        sub = overlaps[overlaps["layer"] == spec.name]
        if len(sub):
            best = sub.sort_values(["overlap_m2", "area_id"], ascending=[False, True]) \
                .drop_duplicates("patch_id").set_index("patch_id")["area_id"]
        else:
            best = pd.Series(dtype="str")
        out[f"{spec.name}_id"] = key.map(best).astype("str").to_numpy()
        if spec.kind in PROTECTED_KINDS:
            inside = sub.groupby("patch_id")["overlap_m2"].sum()
            zones = sub.sort_values("area_id").groupby("patch_id")["area_id"] \
                .agg(lambda s: ";".join(s))
            ha = key.map(inside).fillna(0.0).to_numpy(dtype=float)
            # zones of one layer do not overlap (check_layers); the cap keeps rounding honest
            ha = np.minimum(ha, area)
            out[f"{spec.name}_ha"] = ha / 10_000.0
            with np.errstate(invalid="ignore", divide="ignore"):
                out[f"{spec.name}_share"] = np.where(area > 0, ha / area, 0.0)
            out[f"{spec.name}_zones"] = key.map(zones).astype("str").to_numpy()
    return out

"""Placing: put every problem in WGS84 and in its area of every boundary layer.

:func:`place_records` converts each row's coordinates to WGS84, rejects the rows that cannot be
placed (with a reason a person understands), repairs swapped lat/lon, places rows that only name
their grid at that grid, then calls :func:`assign_areas`. Everything is vectorised: one bulk
compiled point-in-polygon pass per layer (:mod:`gridwatch.placing._pip`), no Python loop over
points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridwatch.config import Config, LayerSpec
from gridwatch.placing import coords
from gridwatch.placing.layers import (
    in_territory,
    locate_points,
    project_metric_crs,
    representative_xy,
    territory,
)
from gridwatch.schema import concat_rejects

__all__ = [
    "DISTANCE_CAP_M",
    "assign_areas",
    "place_records",
    "unassigned_counts",
]

#: Distances to a redline zone are computed up to this many metres; farther points get NaN.
DISTANCE_CAP_M = 5_000.0

_GRID_KINDS = ("microgrid", "grid")  # a reported micro-grid id is more precise: try it first


def place_records(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame],
                  config: Config, *, area: BaseGeometry | None = None,
                  left_out: np.ndarray | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convert coordinates to WGS84, reject what cannot be placed, and assign every area.

    Parameters
    ----------
    records
        Canonical records (from :func:`gridwatch.ingest.records.read_issues`): ``lon``/``lat`` as in
        the file, ``coord_system`` per row (missing means ``[input] crs``), ``reported_grid``,
        ``source_file`` and ``source_row``.
    layers
        Loaded layers (:func:`gridwatch.placing.layers.load_layers`).
    config
        The project: territory (name, ``margin_m``), ``[input] crs`` and ``grid_fallback``.
    area
        The territory from :func:`gridwatch.placing.layers.territory`, to reuse between calls;
        default: built from ``layers`` and ``config``.
    left_out
        Rows without coordinates to leave out, neither placed nor rejected (those placed from
        their address meanwhile, :func:`gridwatch.geocoding.records.rows_to_geocode`).

    Returns
    -------
    placed : pandas.DataFrame
        The accepted rows with the records' index, ``lon``/``lat`` in WGS84, ``location_flag``
        (``""``; ``"swapped"`` when lat/lon were given the wrong way round and swapping them
        lands inside the territory; ``"grid_point"`` when a row without coordinates was placed
        at the representative point of its reported grid or micro-grid; ``"geocoded"`` when
        it was placed from its address, see :mod:`gridwatch.geocoding.records`), and the
        columns of :func:`assign_areas` (``grid_mismatch`` also set for rows whose address
        disagrees with their coordinates, ``address_mismatch``).
    rejects : pandas.DataFrame
        ``file, row, column, value, reason``, one row per rejected record: coordinates missing
        or zero (and no usable reported grid), an unknown coordinate system, coordinates that
        cannot be converted, or a point outside the territory even with lat/lon swapped.

    Notes
    -----
    The territory is the union of the top admin layer grown by ``[territory] margin_m`` (see
    :func:`gridwatch.placing.layers.territory`). ``lon``/``lat`` are WGS84 from here on, so
    ``coord_system`` becomes ``"wgs84"`` (the file's system is kept in ``input_crs``): nothing
    downstream can convert the numbers a second time.
    """
    n = len(records)
    x = _floats(records, "lon", n)
    y = _floats(records, "lat", n)
    default = coords.parse_crs(config.input.crs) or "wgs84"
    raw_crs = (records["coord_system"].astype("str").to_numpy(dtype=object, na_value=None)
               if "coord_system" in records else np.full(n, None, dtype=object))
    crs = _normalise_crs(raw_crs, default)

    have = np.isfinite(x) & np.isfinite(y)
    zero = have & ((x == 0) | (y == 0))
    bad_crs = have & ~zero & pd.isna(crs)
    usable = have & ~zero & ~bad_crs
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if usable.any():
        lon[usable], lat[usable] = _convert(x[usable], y[usable], crs[usable])
    converted = usable & np.isfinite(lon) & np.isfinite(lat)
    unconvertible = usable & ~converted

    if area is None:
        area = territory(layers, config.layers, margin_m=config.territory.margin_m,
                         metric_crs=config.territory.metric_crs)
    inside = converted & _in_area(area, lon, lat)
    flag = np.full(n, "", dtype=object)
    outside = np.flatnonzero(usable & ~inside)
    if len(outside):
        sx, sy = _convert(y[outside], x[outside], crs[outside])
        fixed = np.isfinite(sx) & np.isfinite(sy) & _in_area(area, sx, sy)
        rows = outside[fixed]
        lon[rows], lat[rows] = sx[fixed], sy[fixed]
        inside[rows] = True
        flag[rows] = "swapped"
    far = converted & ~inside
    unconvertible &= ~inside

    if "geocode_source" in records:  # placed from its address (gridwatch.geocoding.records)
        geocoded = records["geocode_source"].fillna("").to_numpy(dtype=object) != ""
        flag[geocoded & inside] = "geocoded"

    reported = _grid_codes(records, n)
    no_coords = ~have | zero
    grid_lon, grid_lat = _grid_points(reported, no_coords, layers, config.layers)
    by_grid = no_coords & np.isfinite(grid_lon) & config.input.grid_fallback
    if left_out is not None:
        if (left_out & ~no_coords).any():
            raise ValueError("only rows without coordinates can be left out")
        by_grid &= ~left_out
    lon[by_grid], lat[by_grid] = grid_lon[by_grid], grid_lat[by_grid]
    flag[by_grid] = "grid_point"

    keep = inside | by_grid
    placed = records.loc[keep]  # a new frame (copy-on-write): the columns set below are its own
    placed["lon"] = lon[keep]
    placed["lat"] = lat[keep]
    placed["location_flag"] = pd.array(flag[keep], dtype="str")
    if "coord_system" in placed:
        placed["input_crs"] = placed["coord_system"]
    placed["coord_system"] = "wgs84"
    areas = assign_areas(placed["lon"], placed["lat"], layers, config,
                         reported_grid=placed.get("reported_grid"))
    for column in areas.columns:
        placed[column] = areas[column].array  # by position: the records' index may repeat
    if "address_mismatch" in placed:  # the address lies far from the coordinates: audit it
        placed["grid_mismatch"] = placed["grid_mismatch"].to_numpy(dtype=bool) | \
            placed["address_mismatch"].fillna(False).to_numpy(dtype=bool)

    points = _Points(x=x, y=y, raw_crs=raw_crs, crs=crs, lon=lon, lat=lat)
    missing = no_coords & ~by_grid
    if left_out is not None:
        missing &= ~left_out
    failed = _Failures(missing=missing, bad_crs=bad_crs,
                       unconvertible=unconvertible, far=far)
    rejects = _rejects(records, points, failed, reported, config)
    return placed, rejects


def assign_areas(lon: Any, lat: Any, layers: Mapping[str, gpd.GeoDataFrame],
                 config: Config | Sequence[LayerSpec], *, metric_crs: str | None = None,
                 reported_grid: Any = None,
                 distance_cap_m: float = DISTANCE_CAP_M) -> pd.DataFrame:
    """Find each WGS84 point's area in every layer, plus redline nearness and grid checks.

    Parameters
    ----------
    lon, lat
        WGS84 coordinates (arrays or Series; the result takes a Series' index).
    layers
        Loaded layers (name -> GeoDataFrame from :func:`gridwatch.placing.layers.load_layers`).
    config
        The project, or the layer declarations (for kind and ``near_m``).
    metric_crs
        CRS for distances; default ``[territory] metric_crs``, else the zone of the layers
        (:func:`gridwatch.placing.layers.project_metric_crs`).
    reported_grid
        Grid codes given by the reporters, for ``grid_mismatch``; None means none given.
    distance_cap_m
        Distances to redline zones are computed up to this many metres (at least ``near_m``).

    Returns
    -------
    pandas.DataFrame
        Same length and index as ``lon``. ``<layer>_id`` (str, NA outside all areas) for every
        layer; for redline layers ``in_<layer>`` (bool), ``near_<layer>`` (bool, within
        ``near_m`` metres including inside) and ``<layer>_dist_m`` (float: 0 inside, else the
        distance in metres in the metric CRS to the nearest zone, NaN when farther than the cap
        or when the point is missing); ``grid_mismatch`` (bool): a reported grid is given and
        differs from the point's area in the grid layer, or in the micro-grid layer when the
        reported code is a micro-grid id.

    Notes
    -----
    Border rule (see :func:`gridwatch.placing.layers.locate_points`): a point on a boundary shared
    by several areas goes to the area with the smallest ``area_id`` in string order.

    Nested layers (micro-grid -> grid -> town -> county) are each placed too, not looked up
    through ``parent_id``: that would differ from placing them at points near a parent's
    border, since children do not nest exactly once converted to WGS84 (GCJ-02 -> WGS84
    moves every vertex on its own, leaving slivers), and with the compiled kernel a coarse
    layer costs little to place (most points fall in index cells with a precomputed answer).
    """
    index = lon.index if isinstance(lon, pd.Series) else pd.RangeIndex(len(np.asarray(lon)))
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    specs = config.layers if isinstance(config, Config) else tuple(config)
    if metric_crs is None and isinstance(config, Config):
        metric_crs = config.territory.metric_crs
    x, y, back = _spatial_order(x, y)
    positions = _layer_positions(x, y, layers, specs)

    out: dict[str, Any] = {}
    assigned: dict[str, np.ndarray] = {}
    metric_xy: tuple[np.ndarray, np.ndarray] | None = None
    for spec in specs:
        if spec.name not in layers:
            continue
        layer = layers[spec.name]
        pos = positions[spec.name]
        assigned[spec.name] = pos[back]
        ids = pd.array(layer["area_id"], dtype="str")
        out[f"{spec.name}_id"] = ids.take(pos[back], allow_fill=True)
        if spec.kind == "redline":
            if metric_xy is None:
                crs = project_metric_crs(metric_crs, layers=layers, specs=specs)
                fwd = coords.lonlat_transformer("EPSG:4326", crs)
                metric_xy = fwd.transform(x, y)
                to_metric = fwd.transform
            inside = pos >= 0
            near, dist = _redline(metric_xy, inside, layer, to_metric,
                                  near_m=spec.near_m or 0.0, cap_m=distance_cap_m)
            out[f"in_{spec.name}"] = inside[back]
            out[f"near_{spec.name}"] = near[back]
            out[f"{spec.name}_dist_m"] = dist[back]
    out["grid_mismatch"] = _grid_mismatch(reported_grid, len(x), assigned, layers, specs)
    return pd.DataFrame(out, index=index)


def unassigned_counts(placed: pd.DataFrame, layer_names: Sequence[str]) -> dict[str, int]:
    """Return, per layer, how many placed rows lie outside all of its areas (``<layer>_id`` NA).

    Examples
    --------
    >>> unassigned_counts(pd.DataFrame({"county_id": ["330402", None]}), ["county"])
    {'county': 1}
    """
    counts: dict[str, int] = {}
    for name in layer_names:
        column = f"{name}_id"
        counts[name] = int(placed[column].isna().sum()) if column in placed else len(placed)
    return counts


# --------------------------------------------------------------------------------------------
# helpers of assign_areas


def _layer_positions(x: np.ndarray, y: np.ndarray, layers: Mapping[str, gpd.GeoDataFrame],
                     specs: Sequence[LayerSpec]) -> dict[str, np.ndarray]:
    """Each present layer's area position per point (-1 outside all), every layer placed on
    its own. A parent layer is not looked up through its child's ``parent_id``: layers do
    not nest exactly once converted to WGS84 (see the Notes of :func:`assign_areas`)."""
    return {spec.name: locate_points(x, y, layers[spec.name])
            for spec in specs if spec.name in layers}


def _spatial_order(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort points along a Z-order curve (nearby points are tested one after another, which
    keeps the polygons in the CPU cache); return the sorted points and the inverse order."""
    n = len(x)
    if n < 2:
        return x, y, np.arange(n)
    finite = np.isfinite(x) & np.isfinite(y)
    key = np.zeros(n, dtype=np.uint64)
    if finite.any():
        fx, fy = x[finite], y[finite]
        span_x = max(float(fx.max() - fx.min()), 1e-12)
        span_y = max(float(fy.max() - fy.min()), 1e-12)
        ix = ((fx - fx.min()) / span_x * 65535).astype(np.uint64)
        iy = ((fy - fy.min()) / span_y * 65535).astype(np.uint64)
        key[finite] = _interleave(ix) | (_interleave(iy) << np.uint64(1))
    order = np.argsort(key, kind="stable")
    back = np.empty(n, dtype=np.int64)
    back[order] = np.arange(n)
    return x[order], y[order], back


def _interleave(v: np.ndarray) -> np.ndarray:
    """Spread the 16 low bits of v to the even bit positions (Morton code half)."""
    v = v & np.uint64(0xFFFF)
    for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def _redline(metric_xy: tuple[np.ndarray, np.ndarray], inside: np.ndarray,
             layer: gpd.GeoDataFrame, to_metric: Any, *, near_m: float,
             cap_m: float) -> tuple[np.ndarray, np.ndarray]:
    mx, my = (np.asarray(v, dtype=float) for v in metric_xy)
    n = len(mx)
    dist = np.full(n, np.nan)
    dist[inside] = 0.0
    near = inside.copy()
    geoms = np.asarray(layer.geometry.array, dtype=object)
    geoms = geoms[~shapely.is_empty(geoms)]
    finite = np.isfinite(mx) & np.isfinite(my)
    if len(geoms) == 0 or not finite.any():
        return near, dist

    def apply(xy: np.ndarray) -> np.ndarray:
        tx, ty = to_metric(xy[:, 0], xy[:, 1])
        return np.column_stack([tx, ty])

    zones = shapely.transform(geoms, apply)
    todo = np.flatnonzero(finite & ~inside)
    if near_m > 0 and len(todo):
        belt = shapely.union_all(shapely.buffer(zones, near_m))
        shapely.prepare(belt)
        near[todo] = shapely.intersects_xy(belt, mx[todo], my[todo])
    cap = max(cap_m, near_m)
    if len(todo) and cap > 0:
        # query_nearest is slow when most points have no zone near them; a prepared belt at the
        # cap picks the points worth measuring, then exact distances to the candidate zones.
        reach = shapely.union_all(shapely.buffer(zones, cap, quad_segs=4))
        shapely.prepare(reach)
        todo = todo[shapely.intersects_xy(reach, mx[todo], my[todo])]
        points = shapely.points(mx[todo], my[todo])
        pt, zone = shapely.STRtree(zones).query(points, predicate="dwithin", distance=cap)
        measured = np.full(len(todo), np.inf)
        np.minimum.at(measured, pt, shapely.distance(points[pt], zones[zone]))
        dist[todo] = np.where(measured <= cap, measured, np.nan)
    return near, dist


def _grid_mismatch(reported: Any, n: int, assigned: Mapping[str, np.ndarray],
                   layers: Mapping[str, gpd.GeoDataFrame],
                   specs: Sequence[LayerSpec]) -> np.ndarray:
    """Reported code given and not the id of the point's grid (micro-grid when it is one).

    ``assigned`` holds each layer's area positions in input order (-1 outside all areas).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    mismatch = np.zeros(n, dtype=bool)
    if reported is None:
        return mismatch
    codes = _codes(pd.Series(np.asarray(reported, dtype=object))).fillna("")
    text = pa.array(codes.to_numpy(dtype=object), type=pa.large_string())
    given = (codes != "").to_numpy()
    grid = next((s for s in specs if s.kind == "grid" and s.name in assigned), None)
    micro = next((s for s in specs if s.kind == "microgrid" and s.name in assigned), None)
    todo = given.copy()
    for spec in (micro, grid):
        if spec is None:
            continue
        ids = layers[spec.name]["area_id"].to_numpy(dtype=object)
        known = pd.Index(pd.unique(ids))
        # Arrow's hash lookup: pandas' get_indexer of a million Python strings took seconds
        value_set = pa.array([v if isinstance(v, str) else None for v in known],
                             type=pa.large_string())
        code_at = pc.index_in(text, value_set=value_set).fill_null(-1).to_numpy(
            zero_copy_only=False).astype(np.int64)
        # A micro-grid code is compared with the micro-grid layer; anything else with the grid.
        use = todo & ((code_at >= 0) | (spec is grid) | (grid is None))
        pos = assigned[spec.name]
        area_of = np.append(known.get_indexer(ids), -1)  # position -1 -> the appended -1
        area_at = area_of[pos]
        mismatch[use] = (code_at[use] < 0) | (code_at[use] != area_at[use])
        todo &= ~use
    return mismatch


# --------------------------------------------------------------------------------------------
# helpers of place_records


def _floats(records: pd.DataFrame, column: str, n: int) -> np.ndarray:
    if column not in records:
        return np.full(n, np.nan)
    return pd.to_numeric(records[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _normalise_crs(raw: np.ndarray, default: str) -> np.ndarray:
    """Parse each distinct label once; empty means the default, unknown gives None."""
    out = np.full(len(raw), default, dtype=object)
    labels = pd.Series(raw, dtype=object)
    present = labels.notna() & (labels.astype("str").str.strip() != "")
    for label in pd.unique(labels[present]):
        out[(labels == label).to_numpy()] = coords.parse_crs(label)
    return out


def _convert(x: np.ndarray, y: np.ndarray,
             crs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(all="ignore"):
        lon, lat = coords.rows_to_wgs84(x, y, crs)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    valid = (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)
    return np.where(valid, lon, np.nan), np.where(valid, lat, np.nan)


def _in_area(area: Any, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    return valid & in_territory(area, lon, lat)


def _codes(values: pd.Series) -> pd.Series:
    text = values.astype("str").str.strip()
    return text.where(text.notna() & (text != ""), None).astype(object)


def _grid_codes(records: pd.DataFrame, n: int) -> pd.Series:
    if "reported_grid" not in records:
        return pd.Series([None] * n, dtype=object)
    return _codes(records["reported_grid"].reset_index(drop=True))


def _grid_points(reported: pd.Series, need: np.ndarray, layers: Mapping[str, gpd.GeoDataFrame],
                 specs: Sequence[LayerSpec]) -> tuple[np.ndarray, np.ndarray]:
    """Representative point of the reported grid (micro-grid first) of the rows in ``need``;
    NaN for the other rows and for codes that are not an id of a grid layer."""
    n = len(reported)
    gx = np.full(n, np.nan)
    gy = np.full(n, np.nan)
    codes = np.where(need, reported.fillna("").to_numpy(dtype=object), "")
    for kind in _GRID_KINDS:
        for spec in specs:
            if spec.kind != kind or spec.name not in layers:
                continue
            layer = layers[spec.name]
            layer = layer[~layer.geometry.is_empty & layer["area_id"].notna()]
            layer = layer.drop_duplicates("area_id")
            if layer.empty:
                continue
            pos = pd.Index(layer["area_id"].to_numpy(dtype=object)).get_indexer(codes)
            todo = (pos >= 0) & np.isnan(gx)
            if not todo.any():
                continue
            wanted, inverse = np.unique(pos[todo], return_inverse=True)
            px, py = representative_xy(layer.iloc[wanted])
            gx[todo], gy[todo] = px[inverse], py[inverse]
    return gx, gy


@dataclass(frozen=True)
class _Points:
    """Each record's coordinates as in the file (``x``, ``y``, its coordinate system as
    written and as parsed) and in WGS84 (``lon``, ``lat``)."""

    x: np.ndarray
    y: np.ndarray
    raw_crs: np.ndarray
    crs: np.ndarray
    lon: np.ndarray
    lat: np.ndarray


@dataclass(frozen=True)
class _Failures:
    """Why records could not be placed, one mask per reason."""

    missing: np.ndarray
    bad_crs: np.ndarray
    unconvertible: np.ndarray
    far: np.ndarray


def _rejects(records: pd.DataFrame, points: _Points, failed: _Failures, reported: pd.Series,
             config: Config) -> pd.DataFrame:
    """Build the reject rows; strings are made column-wise (a bad export may reject 100k rows)."""
    x, y, raw_crs, crs, lon, lat = (points.x, points.y, points.raw_crs, points.crs, points.lon,
                                    points.lat)
    missing, bad_crs, unconvertible, far = (failed.missing, failed.bad_crs,
                                            failed.unconvertible, failed.far)
    n = len(records)
    files = (records["source_file"].astype("str").fillna("").to_numpy(dtype=object)
             if "source_file" in records else np.full(n, "", dtype=object))
    all_files = files
    rows = (pd.to_numeric(records["source_row"], errors="coerce").fillna(0).astype("int64")
            .to_numpy() if "source_row" in records else np.arange(1, n + 1))
    where = config.territory.name or "the territory (the admin layer)"
    margin = f"{config.territory.margin_m:,.0f} m"
    codes = reported.to_numpy(dtype=object)
    # Work on the rejected rows only.
    sel = np.flatnonzero(missing | bad_crs | unconvertible | far)
    files, rows, codes = files[sel], rows[sel], codes[sel]
    x, y, lon, lat, crs, raw_crs = x[sel], y[sel], lon[sel], lat[sel], crs[sel], raw_crs[sel]
    missing, bad_crs, unconvertible, far = (m[sel] for m in (missing, bad_crs, unconvertible,
                                                              far))
    parts: list[pd.DataFrame] = []

    def part(mask: np.ndarray, column: str, value: Any, reason: Any) -> None:
        idx = np.flatnonzero(mask)
        if len(idx):
            parts.append(pd.DataFrame({
                "file": files[idx], "row": rows[idx], "column": column,
                "value": _texts(value, idx), "reason": _texts(reason, idx)}))

    pair = _fmt(x) + ", " + _fmt(y)
    text_crs = pd.Series(crs, dtype=object).astype("str")
    zero = np.isfinite(x) & np.isfinite(y)
    has_code = ~pd.isna(codes)
    quoted = "'" + pd.Series(codes, dtype=object).fillna("").astype("str") + "'"
    has_grid_layer = any(spec.kind in _GRID_KINDS for spec in config.layers)
    if not config.input.grid_fallback:
        tail = ("placing at the reported grid " + quoted
                + " is switched off ([input] grid_fallback = false)")
    elif has_grid_layer:
        tail = "its reported grid " + quoted + " is not an id of the grid layers"
    else:
        tail = "the project declares no grid layer to find its reported grid " + quoted
    tail = tail.where(has_code, "there is no reported grid (所属网格) to place it at")
    lead = ("coordinates are zero (" + pair + "), which is not a real location").where(
        zero, "coordinates missing: the row has no 经度/纬度 (lon/lat)")
    part(missing, "lon/lat", pair.where(zero, ""), lead + ", and " + tail)

    raw = pd.Series(raw_crs, dtype=object).astype("str")
    part(bad_crs, "coord_system", raw,
         "unknown coordinate system '" + raw + "': use wgs84, cgcs2000, gcj02, bd09 or EPSG:n "
         "(e.g. EPSG:4549)")

    projected = text_crs.str.startswith("EPSG:").fillna(False)
    what = ("cannot be converted from " + text_crs + " to WGS84 lon/lat").where(
        projected, "are not a valid longitude/latitude in " + text_crs
        + " (longitude -180…180, latitude -90…90)")
    part(unconvertible, "lon/lat", pair,
         "coordinates (" + pair + ") " + what + ", also with lon and lat swapped; check the "
         "values and the coordinate system (坐标系)")

    part(far, "lon/lat", pair,
         "outside the territory: (" + pair + ") in " + text_crs + " is lon "
         + _fmt(lon, "{:.6f}") + ", lat " + _fmt(lat, "{:.6f}") + f" in WGS84, more than "
         f"{margin} outside {where} (also with lon and lat swapped)")

    return concat_rejects(*parts, file_order=pd.unique(all_files))


def _texts(value: Any, idx: np.ndarray) -> Any:
    return value.to_numpy(dtype=object)[idx] if isinstance(value, pd.Series) else value


def _fmt(values: np.ndarray, spec: str = "{:.10g}") -> pd.Series:
    """Numbers as text for people ('' for NaN), column-wise."""
    series = pd.Series(np.asarray(values, dtype=float))
    text = series.map(spec.format).astype(object)
    return text.where(np.isfinite(series), "")

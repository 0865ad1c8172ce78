"""Boundary layers: read them, put them in WGS84, check them, and find the territory.

Every layer declared in ``[[layers]]`` of ``gridwatch.toml`` becomes a GeoDataFrame with the
columns ``area_id`` (str), ``area_name`` (str), ``parent_id`` (str or NA), ``repaired`` (bool) and
``geometry`` (polygons), in EPSG:4326 holding WGS84 numbers: GCJ-02 and BD-09 layers (traced on
Chinese web maps) are converted with :mod:`gridwatch.placing.coords`, EPSG layers with pyproj.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError
from shapely.geometry.base import BaseGeometry

from gridwatch.config import Config, LayerSpec
from gridwatch.errors import CRSError, LayerError
from gridwatch.placing import coords
from gridwatch.placing.layer_files import (
    LAYER_CACHE_DIR,
    layer_bounds,
    layer_cache_path,
    project_metric_crs,
    territory_specs,
)

if TYPE_CHECKING:
    from gridwatch.placing import _pip

__all__ = [
    "FINDING_KINDS",
    "LAYER_CACHE_DIR",
    "LAYER_COLUMNS",
    "LayerFinding",
    "check_layers",
    "in_territory",
    "layer_bounds",
    "load_layers",
    "locate_points",
    "polygonal_parts",
    "project_metric_crs",
    "read_layer",
    "representative_xy",
    "territory",
]

LAYER_COLUMNS: tuple[str, ...] = ("area_id", "area_name", "parent_id", "repaired", "geometry")
FindingKind = Literal["invalid_repaired", "overlap", "not_nested", "outside_parent",
                      "duplicate_id", "empty_geometry"]
FINDING_KINDS: tuple[str, ...] = ("invalid_repaired", "overlap", "not_nested", "outside_parent",
                                  "duplicate_id", "empty_geometry")

#: Called with a short message before each layer is read.
Progress = Callable[[str], None]

_GEOGRAPHIC_LABELS = ("wgs84", "cgcs2000")
_SHIFTED_LABELS = ("gcj02", "bd09")
_POLYGONAL_TYPES = (3, 6)  # shapely type ids of Polygon and MultiPolygon
_EMPTY = shapely.Polygon()


@dataclass(frozen=True)
class LayerFinding:
    """One problem found in a boundary layer by :func:`check_layers`."""

    layer: str
    area_id: str
    kind: FindingKind
    detail: str


# --------------------------------------------------------------------------------------------
# reading


def read_layer(spec: LayerSpec) -> gpd.GeoDataFrame:
    """Read one boundary layer into the standard shape, in WGS84.

    Parameters
    ----------
    spec
        The layer as declared in the project file: path, id/name/parent fields, the coordinate
        system of the file (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` or ``EPSG:n``), the
        layer inside a GeoPackage/KML (``source_layer``) and the encoding of a Shapefile that has
        no ``.cpg``.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``area_id``, ``area_name``, ``parent_id``, ``repaired``, ``geometry`` (only
        polygonal geometry; features with none are kept as empty polygons), CRS EPSG:4326.

    Raises
    ------
    LayerError
        The file is missing or unreadable, a declared field is absent (the message lists the
        fields present), an id is empty, or the layer holds no polygon.
    CRSError
        ``spec.crs`` is unknown, or the file declares a projected CRS that contradicts it.
    """
    layer, _reasons = _read_layer(spec)
    return layer


def load_layers(config: Config, *,
                progress: Progress | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Read every layer of the project, in declaration order, and fill missing parent ids.

    A layer with a ``parent`` but no ``parent_field`` gets ``parent_id`` spatially: the parent
    area holding the child's representative point (border rule of :func:`locate_points`).

    Parameters
    ----------
    config
        The project.
    progress
        Called with a short message before each layer is read.

    Returns
    -------
    dict
        Layer name -> GeoDataFrame as from :func:`read_layer`.
    """
    return {name: layer for name, (layer, _r) in _load(config, progress).items()}


def _load(config: Config, progress: Progress | None
          ) -> dict[str, tuple[gpd.GeoDataFrame, dict[int, str]]]:
    loaded: dict[str, tuple[gpd.GeoDataFrame, dict[int, str]]] = {}
    for spec in config.layers:
        if progress is not None:
            progress(f"reading layer {spec.name} ({spec.path.name})")
        loaded[spec.name] = _read_layer(spec)
    for spec in config.layers:
        if spec.parent is not None and spec.parent_field is None:
            child, reasons = loaded[spec.name]
            parent = loaded[spec.parent][0]
            loaded[spec.name] = (_fill_parent(child, parent), reasons)
    return loaded


def _read_layer(spec: LayerSpec) -> tuple[gpd.GeoDataFrame, dict[int, str]]:
    """Read a layer, from its cached WGS84 form when the file has not changed since; also
    return why each repaired feature was invalid (position -> reason)."""
    cache = layer_cache_path(spec)
    if cache is not None and cache.is_file():
        try:
            layer = gpd.read_parquet(cache)
            stored = json.loads(cache.with_suffix(".json").read_text(encoding="utf-8"))
            return layer, {int(k): str(v) for k, v in stored.items()}
        except (OSError, ValueError):
            pass  # damaged: read the file again below
    layer, reasons = _read_layer_file(spec)
    if cache is not None:
        _write_layer_cache(cache, layer, reasons)
    return layer, reasons


def _write_layer_cache(cache: Path, layer: gpd.GeoDataFrame, reasons: dict[int, str]) -> None:
    """Keep the layer's WGS84 form; a folder that cannot be written only costs the next read."""
    partial = cache.with_name(f".{cache.name}.{os.getpid()}.partial")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.with_suffix(".json").write_text(json.dumps(reasons), encoding="utf-8")
        layer.to_parquet(partial, index=False)
        os.replace(partial, cache)  # last: the pair is complete once the layer is there
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def _read_layer_file(spec: LayerSpec) -> tuple[gpd.GeoDataFrame, dict[int, str]]:
    """Read a layer from its file; also return why each repaired feature was invalid."""
    where = f"layer {spec.name!r} ({spec.path})"
    label = _parse_layer_crs(spec)
    raw = _read_file(spec, where)
    _check_fields(raw, spec, where)
    if len(raw) == 0:
        raise LayerError(f"{where} has no features; a boundary layer needs polygons")

    area_id = _id_strings(raw[spec.id_field])
    if area_id.isna().any():
        rows = np.flatnonzero(area_id.isna().to_numpy())
        raise LayerError(f"{where}: {len(rows)} feature(s) have an empty {spec.id_field!r} "
                         f"(feature number(s) {_first(rows + 1)}); every area needs an id")
    area_name = (_id_strings(raw[spec.name_field]).fillna(area_id) if spec.name_field
                 else area_id.copy())
    if spec.parent_field:
        parent_id = _id_strings(raw[spec.parent_field])
    else:
        parent_id = pd.Series(pd.NA, index=raw.index, dtype="str")

    geoms = np.asarray(raw.geometry.array, dtype=object)
    geoms = np.where(pd.isna(geoms), np.array(None), geoms)
    if shapely.has_z(geoms).any():  # KML polygons often carry a zero height
        geoms = shapely.force_2d(geoms)
    geoms = _to_wgs84(geoms, raw.crs, label, spec, where)
    types = shapely.get_type_id(geoms)
    has_area = np.isin(types, (*_POLYGONAL_TYPES, 7))
    if not has_area.any():
        kinds = ", ".join(sorted({str(t) for t in raw.geom_type.dropna().unique()})) or "none"
        raise LayerError(f"{where} holds no polygons (geometry types: {kinds}); boundary "
                         "layers must be polygons or multipolygons")
    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    reasons = {int(i): str(shapely.is_valid_reason(geoms[i])) for i in np.flatnonzero(invalid)}
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    geoms = polygonal_parts(geoms)

    out = gpd.GeoDataFrame(
        {"area_id": area_id.array, "area_name": area_name.astype("str").array,
         "parent_id": parent_id.array, "repaired": invalid},
        geometry=geoms, crs="EPSG:4326")
    return out, reasons


def _parse_layer_crs(spec: LayerSpec) -> str:
    label = coords.parse_crs(spec.crs)
    if label is None:
        raise CRSError(f"layer {spec.name!r}: crs {spec.crs!r} is not a known coordinate system; "
                       "allowed: wgs84, cgcs2000, gcj02, bd09 or EPSG:n (e.g. 'EPSG:4549')")
    return label


def _read_file(spec: LayerSpec, where: str) -> gpd.GeoDataFrame:
    path = Path(spec.path)
    if not path.exists():
        raise LayerError(f"{where}: file not found; check path = {str(spec.path)!r} in the "
                         "project file (relative paths are relative to the project file)")
    kwargs: dict[str, Any] = {}
    if spec.source_layer:
        kwargs["layer"] = spec.source_layer
    if path.suffix.lower() == ".shp":
        has_cpg = any(path.with_suffix(s).exists() for s in (".cpg", ".CPG"))
        if not has_cpg and spec.encoding:
            kwargs["encoding"] = spec.encoding
    elif spec.encoding and path.suffix.lower() not in (".gpkg", ".kml", ".kmz"):
        kwargs["encoding"] = spec.encoding
    try:
        if not spec.source_layer:
            names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
            if len(names) > 1:
                raise LayerError(f"{where} holds {len(names)} layers ({_first(names)}); say "
                                 "which one with layer = \"...\" in the project file")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL notes on field widths etc.
            return gpd.read_file(path, engine="pyogrio", **kwargs)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        hint = ""
        if spec.source_layer:
            try:
                names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
                hint = f"; layers in the file: {', '.join(names)}"
            except pyogrio.errors.DataSourceError:
                pass
        raise LayerError(f"{where} cannot be read: {exc}{hint}") from exc
    except (UnicodeDecodeError, LookupError) as exc:
        raise LayerError(f"{where}: text fields cannot be decoded with encoding "
                         f"{spec.encoding!r}: {exc}; set encoding (e.g. 'GBK' or 'UTF-8') "
                         "in the project file") from exc


def _check_fields(raw: gpd.GeoDataFrame, spec: LayerSpec, where: str) -> None:
    present = [str(c) for c in raw.columns if c != raw.geometry.name]
    wanted = [("id_field", spec.id_field), ("name_field", spec.name_field),
              ("parent_field", spec.parent_field)]
    missing = [f"{key} = {value!r}" for key, value in wanted if value and value not in raw]
    if missing:
        raise LayerError(f"{where}: {', '.join(missing)} not found; fields in the file: "
                         f"{', '.join(present) or '(none)'}")


def _id_strings(values: pd.Series) -> pd.Series:
    """Ids and names as stripped text, NA when empty; whole floats (330402.0 from a .dbf)
    lose their '.0'."""
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        text = np.array([f"{v:.15g}" for v in numbers], dtype=object)  # 330402.0 -> "330402"
        text[np.isnan(numbers)] = None
        out = pd.Series(text, index=values.index, dtype="str")
    else:
        out = values.astype("str")
    out = out.str.strip()
    return out.where(out.notna() & (out != ""), None).astype("str")


def _to_wgs84(geoms: np.ndarray, file_crs: CRS | None, label: str, spec: LayerSpec,
              where: str) -> np.ndarray:
    """Put geometries in WGS84 lon/lat following the declared crs; see read_layer."""
    declared = f"crs = {spec.crs!r}"
    if label in _GEOGRAPHIC_LABELS or label in _SHIFTED_LABELS:
        if file_crs is not None and file_crs.is_projected:
            raise CRSError(
                f"{where}: the file declares the projected CRS {_crs_text(file_crs)} but the "
                f"project file says {declared} (lon/lat degrees). Fix: set crs = "
                f"\"{_crs_code(file_crs)}\" for this layer, or reproject the file to lon/lat")
        if label in _SHIFTED_LABELS:
            # The file's own tag (Amap exports say CRS84) is ignored: the numbers are shifted.
            geoms = _transform(geoms, lambda x, y: coords.to_wgs84(x, y, label))
    else:
        try:
            target = CRS.from_user_input(label)
        except PyprojCRSError as exc:
            raise CRSError(f"layer {spec.name!r}: crs {spec.crs!r} is not known to PROJ: "
                           f"{exc}") from exc
        if (file_crs is not None and file_crs.is_projected
                and not file_crs.equals(target, ignore_axis_order=True)):
            raise CRSError(
                f"{where}: the file declares {_crs_text(file_crs)} but the project file says "
                f"{declared} ({target.name}). Fix: set crs = \"{_crs_code(file_crs)}\" for this "
                "layer if the file is right, or correct the file's .prj")
        if not (target.is_geographic and target.equals(CRS.from_epsg(4326),
                                                       ignore_axis_order=True)):
            transformer = coords.lonlat_transformer(target, "EPSG:4326")
            geoms = _transform(geoms, transformer.transform)
    _check_lonlat(geoms, spec, where)
    return geoms


def _transform(geoms: np.ndarray,
               func: Callable[[np.ndarray, np.ndarray], tuple[Any, Any]]) -> np.ndarray:
    def apply(xy: np.ndarray) -> np.ndarray:
        if len(xy) == 0:
            return xy
        x, y = func(xy[:, 0], xy[:, 1])
        return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])

    return shapely.transform(geoms, apply)


def _check_lonlat(geoms: np.ndarray, spec: LayerSpec, where: str) -> None:
    bounds = shapely.total_bounds(geoms)
    if np.isnan(bounds).all():
        return
    lon_ok = bounds[0] >= -180.0 and bounds[2] <= 180.0
    if not (lon_ok and bounds[1] >= -90.0 and bounds[3] <= 90.0):
        raise CRSError(
            f"{where}: with crs = {spec.crs!r} the coordinates are not lon/lat degrees (bounds "
            f"{', '.join(f'{b:.6g}' for b in bounds)}); they look projected. Fix: set crs to the "
            "file's projected system, e.g. \"EPSG:4549\" (CGCS2000 Gauss-Krüger, 120°E)")


def _crs_text(crs: CRS) -> str:
    return f"{_crs_code(crs)} ({crs.name})"


def _crs_code(crs: CRS) -> str:
    found = crs.to_authority(min_confidence=70)
    return f"{found[0]}:{found[1]}" if found else crs.to_string()


def polygonal_parts(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of each geometry; geometries with none become empty
    polygons. Boundary layers hold only (Multi)Polygons after loading and after display
    simplification, whatever ``make_valid`` returned."""
    out = np.array(geoms, dtype=object)
    types = shapely.get_type_id(out)
    for i in np.flatnonzero(types == 7):  # geometry collections: the few repaired/KML ones
        parts = shapely.get_parts(out[i])
        polys = parts[np.isin(shapely.get_type_id(parts), _POLYGONAL_TYPES)]
        out[i] = shapely.union_all(polys) if len(polys) else _EMPTY
    other = ~np.isin(shapely.get_type_id(out), _POLYGONAL_TYPES)
    out[other] = _EMPTY
    return out


def _first(values: Iterable[object], n: int = 10) -> str:
    items = [str(v) for v in values]
    more = f", … ({len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


# --------------------------------------------------------------------------------------------
# point in polygon, shared with gridwatch.placing.assign


def locate_points(x: np.ndarray, y: np.ndarray, layer: gpd.GeoDataFrame, *,
                  points: np.ndarray | None = None) -> np.ndarray:
    """Return, for each WGS84 point, the position (``iloc``) of its area, or -1 when outside all.

    A point belongs to an area when it lies inside it or on its boundary, exactly as
    ``shapely.intersects_xy`` on the prepared polygon says (holes and multipolygon parts
    included). Border rule: a point on the boundary shared by several areas (or inside
    overlapping areas) goes to the one with the smallest ``area_id`` in string order, then the
    earliest in the layer, so the result does not depend on the order of the points.

    The test runs in a compiled kernel (:mod:`gridwatch.placing._pip`) over an index of the
    layer's edges built once per layer and reused while the layer's geometries and ids stay
    the same; points are bucketed by index cell and split between threads.

    Parameters
    ----------
    x, y
        Longitudes and latitudes (WGS84); NaN gives -1.
    layer
        A layer from :func:`read_layer`.
    points
        Accepted for compatibility and ignored: the kernel works on the coordinates.

    Returns
    -------
    numpy.ndarray of int64
    """
    del points
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) == 0 or len(layer) == 0:
        return np.full(len(x), -1, dtype=np.int64)
    from gridwatch.placing import _pip  # numba: compiled (or loaded) on first use

    return _pip.locate(_layer_index(layer), x, y)


def _layer_index(layer: gpd.GeoDataFrame) -> _pip.PipIndex:
    """The layer's prepared point-in-polygon index, from the cache when its contents match."""
    from gridwatch.placing import _pip

    geoms = np.asarray(layer.geometry.array, dtype=object)
    return _pip.CACHE.get(geoms, _id_rank(layer))


def representative_xy(layer: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return lon/lat of a point inside each area (``point_on_surface``); NaN for empty ones."""
    geoms = np.asarray(layer.geometry.array, dtype=object)
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    full = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    points = shapely.point_on_surface(geoms[full])
    x[full], y[full] = shapely.get_x(points), shapely.get_y(points)
    return x, y


def _id_rank(layer: gpd.GeoDataFrame) -> np.ndarray:
    """Rank of each area's id in string order (ties keep layer order)."""
    ids = layer["area_id"].astype("str").to_numpy(dtype=object)
    order = np.argsort(ids, kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return rank


def _fill_parent(child: gpd.GeoDataFrame, parent: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    x, y = representative_xy(child)
    pos = locate_points(x, y, parent)
    parent_ids = parent["area_id"].to_numpy(dtype=object)
    filled = np.where(pos >= 0, parent_ids[np.clip(pos, 0, None)], None)
    out = child.copy()
    out["parent_id"] = pd.Series(filled, index=child.index, dtype="str")
    return out


# --------------------------------------------------------------------------------------------
# territory and metric CRS


def territory(layers: Mapping[str, gpd.GeoDataFrame], specs: Sequence[LayerSpec], *,
              margin_m: float, metric_crs: str | None = None) -> BaseGeometry | None:
    """Return the territory: the admin layer's union grown by ``margin_m``, in WGS84.

    The admin layers without a parent are used (the county or city layer); when every admin
    layer has a parent, all admin layers; with no admin layer, every layer without a parent.
    The buffer is computed in the metric CRS.

    Parameters
    ----------
    layers
        Loaded layers (name -> GeoDataFrame in WGS84).
    specs
        Their declarations (for kind and parent).
    margin_m
        Metres added around the union.
    metric_crs
        ``[territory] metric_crs``: the CRS to buffer in (default: :func:`project_metric_crs`).

    Returns
    -------
    shapely geometry or None
        None when there is no layer to build it from; test points with :func:`in_territory`.
    """
    chosen = territory_specs(specs, layers)
    parts = [np.asarray(layers[s.name].geometry.array, dtype=object) for s in chosen]
    if not parts:
        return None
    geoms = np.concatenate(parts)
    geoms = geoms[~shapely.is_empty(geoms)]
    if len(geoms) == 0:
        return None
    crs = project_metric_crs(metric_crs, layers=layers, specs=specs)
    forward = coords.lonlat_transformer("EPSG:4326", crs)
    back = coords.lonlat_transformer(crs, "EPSG:4326")
    metric = _transform(geoms, forward.transform)
    # Tiny buffer first closes slivers between neighbouring areas traced separately.
    union = shapely.union_all(shapely.buffer(metric, 1.0))
    grown = shapely.buffer(union, max(float(margin_m) - 1.0, 0.0))
    return _transform(np.array([grown], dtype=object), back.transform)[0]


def in_territory(area: BaseGeometry | None, lon: Any, lat: Any) -> np.ndarray:
    """Return a boolean array: which WGS84 points lie in ``area`` (border included).

    ``area`` is prepared once, so millions of points are tested quickly with
    ``shapely.intersects_xy``; with no territory (None) every finite point is in.
    """
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    if area is None:
        return finite
    shapely.prepare(area)
    out = np.zeros(len(x), dtype=bool)
    out[finite] = shapely.intersects_xy(area, x[finite], y[finite])
    return out


# --------------------------------------------------------------------------------------------
# checks


def check_layers(config: Config, *, overlap_tolerance_m2: float = 1.0,
                 nest_tolerance: float = 0.01,
                 progress: Progress | None = None) -> list[LayerFinding]:
    """Check every layer of the project and return everything found, all at once.

    Parameters
    ----------
    config
        The project.
    overlap_tolerance_m2
        Overlaps between two areas of one layer smaller than this (square metres, in the metric
        CRS) are ignored: neighbouring areas traced separately touch with slivers.
    nest_tolerance
        Share of a child's area allowed outside its parent (0.01 = 1 %).
    progress
        Called with a short message before each layer is read and checked.

    Returns
    -------
    list of LayerFinding
        Kinds: ``invalid_repaired`` (made valid with ``make_valid``), ``empty_geometry``,
        ``duplicate_id``, ``overlap``, ``outside_parent`` (more than ``nest_tolerance`` of the
        child outside its parent), ``not_nested`` (no parent area holds the child, or its
        ``parent_id`` is not in the parent layer). Ordered by layer, then kind, then id.
    """
    loaded = _load(config, progress)
    layers = {name: layer for name, (layer, _r) in loaded.items()}
    crs = project_metric_crs(config.territory.metric_crs, layers=layers, specs=config.layers)
    forward = coords.lonlat_transformer("EPSG:4326", crs)
    metric = {name: _transform(np.asarray(g.geometry.array, dtype=object), forward.transform)
              for name, g in layers.items()}
    findings: list[LayerFinding] = []
    for spec in config.layers:
        if progress is not None:
            progress(f"checking layer {spec.name}")
        layer, reasons = loaded[spec.name]
        ids = layer["area_id"].to_numpy(dtype=object)
        found: list[LayerFinding] = []
        for pos, reason in reasons.items():
            found.append(LayerFinding(spec.name, str(ids[pos]), "invalid_repaired",
                                      f"invalid geometry ({reason}); repaired with make_valid"))
        for pos in np.flatnonzero(shapely.is_empty(np.asarray(layer.geometry.array))).tolist():
            found.append(LayerFinding(spec.name, str(ids[pos]), "empty_geometry",
                                      "no polygon (empty, or not a polygon); it holds no point"))
        counts = layer["area_id"].value_counts()
        for area_id, n in counts[counts > 1].items():
            found.append(LayerFinding(spec.name, str(area_id), "duplicate_id",
                                      f"{n} areas share this id"))
        found += _overlaps(spec.name, ids, metric[spec.name], overlap_tolerance_m2)
        if spec.parent is not None:
            found += _nesting(spec, layer, metric[spec.name], layers[spec.parent],
                              metric[spec.parent], nest_tolerance)
        order = {k: i for i, k in enumerate(FINDING_KINDS)}
        findings += sorted(found, key=lambda f: (order[f.kind], f.area_id))
    return findings


def _overlaps(name: str, ids: np.ndarray, geoms: np.ndarray,
              tolerance_m2: float) -> list[LayerFinding]:
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if len(left) == 0:
        return []
    # Interiors meet (not just a shared edge): only those pairs need an intersection.
    inner = shapely.relate_pattern(geoms[left], geoms[right], "T********")
    left, right = left[inner], right[inner]
    area = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    big = area > tolerance_m2
    return [LayerFinding(name, str(ids[i]), "overlap",
                         f"overlaps {ids[j]} by {a:,.0f} m²")
            for i, j, a in zip(left[big], right[big], area[big], strict=True)]


def _nesting(spec: LayerSpec, child: gpd.GeoDataFrame, child_m: np.ndarray,
             parent: gpd.GeoDataFrame, parent_m: np.ndarray,
             tolerance: float) -> list[LayerFinding]:
    found: list[LayerFinding] = []
    ids = child["area_id"].to_numpy(dtype=object)
    parent_pos = pd.Series(np.arange(len(parent)), index=parent["area_id"].to_numpy())
    parent_pos = parent_pos[~parent_pos.index.duplicated()]
    pid = child["parent_id"]
    pos = parent_pos.reindex(pid.fillna("").to_numpy()).to_numpy()
    nonempty = ~shapely.is_empty(child_m)
    for i in np.flatnonzero(nonempty & pd.isna(pos)):
        if pd.isna(pid.iloc[i]):
            detail = f"no area of layer {spec.parent!r} holds it"
        else:
            detail = f"its parent id {pid.iloc[i]!r} is not an id of layer {spec.parent!r}"
        found.append(LayerFinding(spec.name, str(ids[i]), "not_nested", detail))
    has = np.flatnonzero(nonempty & ~pd.isna(pos))
    if len(has) == 0:
        return found
    ppos = pos[has].astype(np.int64)
    shapely.prepare(parent_m)
    covered = shapely.covers(parent_m[ppos], child_m[has])
    rest, prest = has[~covered], ppos[~covered]
    outside = shapely.area(shapely.difference(child_m[rest], parent_m[prest]))
    share = outside / np.maximum(shapely.area(child_m[rest]), 1e-12)
    parent_ids = parent["area_id"].to_numpy(dtype=object)
    for i, p, s, a in zip(rest, prest, share, outside, strict=True):
        if s > tolerance:
            found.append(LayerFinding(
                spec.name, str(ids[i]), "outside_parent",
                f"{s:.1%} of its area ({a:,.0f} m²) lies outside its parent "
                f"{parent_ids[p]} in layer {spec.parent!r}"))
    return found

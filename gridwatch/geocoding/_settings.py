"""``[geocoding]`` of the project file: whether and how addresses without coordinates are placed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gridwatch.errors import ConfigError
from gridwatch.settings import type_name, unknown_keys

__all__ = ["GeocodeSettings", "PointSource", "parse_geocode_settings"]

_KEYS = ("enabled", "min_score", "max_precision_m", "postcode_column", "history", "gazetteer",
         "layers", "points", "check_coordinates", "check_margin_m")
_POINT_KEYS = ("path", "crs", "address_field", "lon_field", "lat_field", "postcode_field",
               "source_layer")


@dataclass(frozen=True)
class PointSource:
    """``[geocoding.points]``: the bureau's address-point or POI file (标准地址, 门牌,
    enterprise locations): GeoPackage, Shapefile or GeoJSON points, or a CSV with coordinate
    columns, in any coordinate system gridwatch reads."""

    path: str
    address_field: str
    crs: str = "wgs84"
    #: Coordinate columns of a CSV (ignored for files with geometry).
    lon_field: str = "lon"
    lat_field: str = "lat"
    postcode_field: str | None = None
    source_layer: str | None = None


@dataclass(frozen=True)
class GeocodeSettings:
    """``[geocoding]``.

    Example::

        [geocoding]
        enabled = true
        min_score = 85            # fuzzy matches below this are rejected, candidates named
        max_precision_m = 5000    # a place coarser than this (a county) is not a placement
        postcode_column = "location_zipcode"   # English addresses: match within the postcode

        [geocoding.points]
        path = "gazetteer/门牌.gpkg"
        address_field = "地址"
        crs = "cgcs2000"
    """

    enabled: bool = False
    #: Fuzzy matches (rapidfuzz, 0-100) scoring below this do not place a row.
    min_score: float = 85.0
    #: Rows whose best match is coarser than this radius (metres) are rejected.
    max_precision_m: float = 5000.0
    #: Column of the records holding a postcode (kept with ``[input] keep_columns``).
    postcode_column: str | None = None
    #: Learn addresses from earlier problems that came with coordinates.
    history: bool = True
    #: Folder of the built gazetteer, relative to the project file.
    gazetteer: str = ".gridwatch-cache/gazetteer"
    #: Layers whose area names are looked for in addresses; default the admin and grid layers.
    layers: tuple[str, ...] | None = None
    points: PointSource | None = None
    #: Also geocode rows that have coordinates and flag (``grid_mismatch``) those whose address
    #: disagrees with them: placed farther away than the match's precision plus
    #: ``check_margin_m``, or, matched at an area, outside that area by more than the margin.
    check_coordinates: bool = True
    #: How far beyond the match's precision (or outside the area named) coordinates may lie
    #: before the row is flagged (metres): an address describes a place more loosely than
    #: its precision radius says (a house number seen once, a neighbouring number's point).
    check_margin_m: float = 1000.0


def parse_geocode_settings(section: Mapping[str, Any]) -> GeocodeSettings:
    """Validate ``[geocoding]``; raise ConfigError listing every problem."""
    raw = dict(section or {})
    problems = unknown_keys(raw, _KEYS, "[geocoding]")
    values: dict[str, Any] = {}
    for key in ("enabled", "history", "check_coordinates"):
        if key in raw:
            if isinstance(raw[key], bool):
                values[key] = raw[key]
            else:
                problems.append(f"[geocoding] {key} must be true or false, got "
                                f"{type_name(raw[key])} ({raw[key]!r})")
    for key, low, high in (("min_score", 0.0, 100.0), ("max_precision_m", 1.0, 1e7),
                           ("check_margin_m", 0.0, 1e7)):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not low <= value <= high:
                problems.append(f"[geocoding] {key} must be a number from {low:g} to "
                                f"{high:g}, got {value!r}")
            else:
                values[key] = float(value)
    for key in ("postcode_column", "gazetteer"):
        if key in raw:
            if isinstance(raw[key], str) and raw[key].strip():
                values[key] = raw[key].strip()
            else:
                problems.append(f"[geocoding] {key} must be a non-empty string, got "
                                f"{raw[key]!r}")
    if "layers" in raw:
        layers = raw["layers"]
        if isinstance(layers, list) and all(isinstance(v, str) for v in layers):
            values["layers"] = tuple(layers)
        else:
            problems.append(f"[geocoding] layers must be an array of layer names, got "
                            f"{layers!r}")
    if "points" in raw:
        values["points"] = _points(raw["points"], problems)
    if problems:
        raise ConfigError(f"[geocoding] has {len(problems)} problem(s):", problems)
    return GeocodeSettings(**values)


def _points(raw: Any, problems: list[str]) -> PointSource | None:
    if not isinstance(raw, Mapping):
        problems.append(f"[geocoding.points] must be a table, got {type_name(raw)}")
        return None
    problems += unknown_keys(raw, _POINT_KEYS, "[geocoding.points]")
    for key in ("path", "address_field"):
        if key not in raw or (isinstance(raw[key], str) and not raw[key].strip()):
            problems.append(f"[geocoding.points] {key} is required (a string), got "
                            f"{raw.get(key)!r}")
    bad = [k for k in _POINT_KEYS if k in raw and not isinstance(raw[k], str)]
    problems += [f"[geocoding.points] {k} must be a string, got {raw[k]!r}" for k in bad]
    if any(p.startswith("[geocoding.points]") for p in problems):
        return None
    return PointSource(**{k: raw[k] for k in _POINT_KEYS if k in raw})

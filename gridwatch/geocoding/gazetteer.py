"""The gazetteer: every name and address the bureau already has, with where it is.

Three sources, all offline:

- **areas**: the names of the areas of the project's own boundary layers (county, town/street,
  village/community, grid), each with a point inside it and the radius of a circle of the same
  area (its precision when a problem is placed at it);
- **address points**: the bureau's address-point or POI file (标准地址, 门牌, enterprise
  locations), ``[geocoding.points]``, in any coordinate system gridwatch reads;
- **history**: addresses of earlier problems that came with coordinates (the store, or files).

Points carry their address key (the address inside its town, ``体育南路88号``; ``"22 wolcott
st"``), street and house number, postcode, and the id of their area in each named layer, so
matching can stay inside the area an address names. The built gazetteer is kept as Parquet in
``[geocoding] gazetteer`` (beside the project file), named by a hash of its sources: a change of
any layer or point file, of the settings or of the history gives a new build.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridwatch.config import Config, LayerSpec
from gridwatch.errors import ConfigError, InputFileError
from gridwatch.geocoding._settings import GeocodeSettings, PointSource
from gridwatch.geocoding.normalise import has_chinese, normalise_address
from gridwatch.geocoding.parse import local_part, parse_english, road_and_number

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "POINT_PRECISION_M",
    "ROAD_PRECISION_M",
    "Gazetteer",
    "address_keys",
    "address_points",
    "area_names",
    "build_gazetteer",
    "gazetteer_folder",
    "geocode_settings",
    "history_from_store",
    "load_gazetteer",
    "named_layers",
    "normalise_postcode",
    "points_from_file",
    "project_gazetteer",
    "save_gazetteer",
    "source_key",
    "without_problems",
]

#: Precision radius of a place found at an address point or an earlier problem's address.
POINT_PRECISION_M = 30.0
#: Precision radius of a place found on a road (near the house number when it has one).
ROAD_PRECISION_M = 300.0
#: 2: points carry the issue_id of the problem they were learnt from.
_VERSION = 2


@dataclass(frozen=True)
class Gazetteer:
    """Areas (``layer, level, area_id, parent_id, name, lon, lat, radius_m``; levels coarse to
    fine) and points (``source, key, street, number, postcode, lon, lat``, ``issue_id`` of the
    problem a history point was learnt from, and ``<layer>_id`` per level), lon/lat WGS84."""

    areas: pd.DataFrame
    points: pd.DataFrame
    levels: tuple[str, ...]

    def sizes(self) -> dict[str, int]:
        """Entries per source: ``area:<layer>`` for each level, then each point source."""
        out = {f"area:{name}": int((self.areas["layer"] == name).sum()) for name in self.levels}
        counts = self.points["source"].value_counts()
        out.update({str(k): int(v) for k, v in counts.sort_index().items()})
        return out


def geocode_settings(config: Config) -> GeocodeSettings:
    """The project's ``[geocoding]`` settings (defaults when the section is absent)."""
    return config.settings.geocoding or GeocodeSettings()


def named_layers(config: Config, settings: GeocodeSettings | None = None
                 ) -> tuple[LayerSpec, ...]:
    """Layers whose area names are looked for in addresses, coarse to fine (parents first).

    ``[geocoding] layers`` when set, else the admin and grid layers that have a ``name_field``
    (a layer without one has only codes, which addresses do not contain).
    """
    settings = settings or geocode_settings(config)
    if settings.layers is not None:
        chosen = [config.layer(name) for name in settings.layers]
    else:
        chosen = [s for s in config.layers if s.kind in ("admin", "grid") and s.name_field]
    by_name = {s.name: s for s in config.layers}

    def depth(spec: LayerSpec) -> int:
        d, seen = 0, {spec.name}
        while spec.parent and spec.parent in by_name and spec.parent not in seen:
            spec = by_name[spec.parent]
            seen.add(spec.name)
            d += 1
        return d

    order = {s.name: i for i, s in enumerate(config.layers)}
    return tuple(sorted(chosen, key=lambda s: (depth(s), order[s.name])))


def area_names(layers: Mapping[str, gpd.GeoDataFrame], specs: Sequence[LayerSpec], *,
               metric_crs: str) -> pd.DataFrame:
    """The areas of the named layers as gazetteer entries.

    Parameters
    ----------
    layers
        Loaded layers (WGS84).
    specs
        The named layers, coarse to fine (:func:`named_layers`).
    metric_crs
        CRS in which the areas are measured.

    Returns
    -------
    pandas.DataFrame
        ``layer, level, area_id, parent_id`` (the area of the previous level holding a point of
        this one; NA at level 0), ``name`` (normalised), ``lon, lat`` (a point inside it) and
        ``radius_m`` (radius of a circle of the same area).
    """
    from gridwatch.placing.layers import locate_points, representative_xy

    parts = []
    previous: gpd.GeoDataFrame | None = None
    for level, spec in enumerate(specs):
        layer = layers[spec.name]
        x, y = representative_xy(layer)
        if previous is None:
            parent = pd.array([None] * len(layer), dtype="str")
        else:
            pos = locate_points(x, y, previous)
            ids = previous["area_id"].to_numpy(dtype=object)
            parent = pd.array(np.where(pos >= 0, ids[np.clip(pos, 0, None)], None), dtype="str")
        parts.append(pd.DataFrame({
            "layer": spec.name, "level": level,
            "area_id": layer["area_id"].astype("str").to_numpy(dtype=object),
            "parent_id": parent,
            "name": normalise_address(layer["area_name"].astype("str")).to_numpy(dtype=object),
            "lon": x, "lat": y,
            "radius_m": np.sqrt(layer.geometry.to_crs(metric_crs).area.to_numpy() / np.pi),
        }))
        previous = layer
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
            ("layer", "str"), ("level", "int64"), ("area_id", "str"), ("parent_id", "str"),
            ("name", "str"), ("lon", "float64"), ("lat", "float64"), ("radius_m", "float64"))})
    out = pd.concat(parts, ignore_index=True)
    for column in ("layer", "area_id", "name"):
        out[column] = out[column].astype("str")
    return out[out["name"].notna() & np.isfinite(out["lon"])].reset_index(drop=True)


def address_keys(addresses: pd.Series) -> pd.DataFrame:
    """Key, street and house number of addresses, Chinese or English.

    Chinese: the key is the normalised address after its division names
    (:func:`gridwatch.geocoding.parse.local_part`), the street its road name. English
    (:func:`gridwatch.geocoding.parse.parse_english`): ``"22 wolcott st"``, ``"wolcott st"``.

    Returns
    -------
    pandas.DataFrame
        Same index: ``key``, ``street`` (str or NA), ``number`` (float or NaN), ``chinese``
        (bool), ``cross_street`` (the second street of an English crossing, else NA).
    """
    codes, unique = pd.factorize(addresses.astype("str"), use_na_sentinel=True)
    if len(unique) < len(addresses):  # each distinct address parsed once
        parts = address_keys(pd.Series(unique, dtype="str"))
        at = np.clip(codes, 0, None)
        missing = codes < 0
        out = parts.iloc[at].reset_index(drop=True) if len(parts) else pd.DataFrame(
            {"key": pd.Series(pd.NA, index=range(len(codes)), dtype="str")})
        out = out.reindex(columns=["key", "street", "number", "chinese", "cross_street"])
        for column in ("key", "street", "cross_street"):
            out[column] = out[column].astype("str").mask(missing)
        out["number"] = out["number"].astype(float).mask(missing)
        out["chinese"] = out["chinese"].fillna(False).astype(bool) & ~missing
        out.index = addresses.index
        return out
    chinese = has_chinese(addresses)
    key = pd.Series(pd.NA, index=addresses.index, dtype="str")
    street = key.copy()
    cross = key.copy()
    number = pd.Series(np.nan, index=addresses.index)
    if chinese.any():
        local = local_part(normalise_address(addresses[chinese]))
        road = road_and_number(local)
        key[chinese] = local
        street[chinese] = road["road"]
        number[chinese] = road["number"]
    english = ~chinese & addresses.notna().to_numpy()
    if english.any():
        parsed = parse_english(addresses[english])
        key[english], street[english] = parsed["key"], parsed["street"]
        number[english], cross[english] = parsed["number"], parsed["cross_street"]
    return pd.DataFrame({"key": key, "street": street, "number": number, "chinese": chinese,
                         "cross_street": cross}, index=addresses.index)


def address_points(addresses: pd.Series, lon: Any, lat: Any, *, source: str,
                   layers: Mapping[str, gpd.GeoDataFrame], specs: Sequence[LayerSpec],
                   postcodes: pd.Series | None = None,
                   ids: pd.Series | None = None) -> pd.DataFrame:
    """Gazetteer points from addresses with WGS84 coordinates (rows missing either are left
    out), with their area id in each named layer and the ``issue_id`` of the problem each was
    learnt from (``ids``; missing without)."""
    from gridwatch.placing.layers import locate_points

    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    text = addresses.reset_index(drop=True).astype("str")
    keep = np.isfinite(x) & np.isfinite(y) & text.fillna("").str.strip().ne("").to_numpy()
    text, x, y = text[keep], x[keep], y[keep]
    parsed = address_keys(text)
    code = (normalise_postcode(postcodes.reset_index(drop=True)[keep])
            if postcodes is not None else pd.Series(pd.NA, index=text.index, dtype="str"))
    issue = (pd.Series(ids.reset_index(drop=True)[keep].to_numpy(dtype=object),
                       index=text.index, dtype="str") if ids is not None
             else pd.Series(pd.NA, index=text.index, dtype="str"))
    out = pd.DataFrame({"source": source, "key": parsed["key"], "street": parsed["street"],
                        "number": parsed["number"], "postcode": code, "lon": x, "lat": y,
                        "issue_id": issue})
    # a crossing lies on its second street too (as a point of that road, not an address)
    cross = parsed["cross_street"].notna().to_numpy()
    if cross.any():
        second = out[cross].assign(key=pd.NA, street=parsed["cross_street"][cross].to_numpy())
        out = pd.concat([out, second.astype({"key": "str", "street": "str"})])
    px, py = out["lon"].to_numpy(), out["lat"].to_numpy()
    for spec in specs:
        layer = layers[spec.name]
        pos = locate_points(px, py, layer)
        ids = layer["area_id"].astype("str").to_numpy(dtype=object)
        out[f"{spec.name}_id"] = pd.array(np.where(pos >= 0, ids[np.clip(pos, 0, None)], None),
                                          dtype="str")
    out = out[out["key"].notna() | out["street"].notna()].reset_index(drop=True)
    out["source"] = out["source"].astype("str")
    return out


def normalise_postcode(values: pd.Series) -> pd.Series:
    """Postcodes as digits without a decimal tail (``2119.0`` → ``02119`` for 5-digit US ZIP
    codes written as numbers; Chinese 6-digit codes stay as they are).

    Examples
    --------
    >>> normalise_postcode(pd.Series(["2119.0", "02119", "314000", None])).tolist()
    ['02119', '02119', '314000', nan]
    """
    text = values.astype("str").str.strip().str.replace(r"\.0+$", "", regex=True)
    text = text.where(text.str.fullmatch(r"\d{3,9}").fillna(False))
    short = text.str.len() < 5
    return text.mask(short.fillna(False), text.str.zfill(5))


def points_from_file(source: PointSource, root: Path) -> pd.DataFrame:
    """Read ``[geocoding.points]``: ``address, lon, lat`` (WGS84) and ``postcode``.

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    ConfigError
        A named field is not in the file, or its coordinate system is unknown.
    """
    from gridwatch.placing import coords

    path = Path(source.path)
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise InputFileError(f"[geocoding.points] path {str(path)!r} does not exist")
    crs = coords.parse_crs(source.crs)
    if crs is None:
        raise ConfigError(f"[geocoding.points] crs {source.crs!r} is not known: use wgs84, "
                          "cgcs2000, gcj02, bd09 or EPSG:n")
    try:
        if path.suffix.lower() in (".csv", ".txt"):
            frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
            fields = (source.lon_field, source.lat_field)
            _check_fields(frame, (source.address_field, *fields), path)
            x = pd.to_numeric(frame[source.lon_field], errors="coerce").to_numpy(dtype=float)
            y = pd.to_numeric(frame[source.lat_field], errors="coerce").to_numpy(dtype=float)
        else:
            import geopandas as gpd
            import shapely

            frame = gpd.read_file(path, layer=source.source_layer, engine="pyogrio")
            _check_fields(frame, (source.address_field,), path)
            points = shapely.point_on_surface(np.asarray(frame.geometry.array, dtype=object))
            x, y = shapely.get_x(points), shapely.get_y(points)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise InputFileError(f"[geocoding.points] cannot read {str(path)!r}: {exc}") from exc
    lon, lat = coords.rows_to_wgs84(x, y, np.full(len(x), crs, dtype=object))
    postcode = (frame[source.postcode_field] if source.postcode_field else
                pd.Series(pd.NA, index=frame.index, dtype="str"))
    return pd.DataFrame({"address": frame[source.address_field].astype("str").to_numpy(),
                         "lon": np.asarray(lon, dtype=float), "lat": np.asarray(lat, dtype=float),
                         "postcode": postcode.to_numpy(dtype=object)})


def _check_fields(frame: pd.DataFrame, fields: Sequence[str], path: Path) -> None:
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        raise ConfigError(f"[geocoding.points] {str(path)!r} has no field "
                          f"{', '.join(map(repr, missing))}; its fields: "
                          f"{', '.join(map(str, frame.columns))}")


def build_gazetteer(config: Config, layers: Mapping[str, gpd.GeoDataFrame], *,
                    history: pd.DataFrame | None = None) -> Gazetteer:
    """Build the gazetteer of a project from its layers, point file and history.

    Parameters
    ----------
    config
        The project (``[geocoding]``, layers, metric CRS).
    layers
        Its loaded layers.
    history
        Earlier problems: ``address``, WGS84 ``lon``/``lat`` and, when
        ``[geocoding] postcode_column`` is set, that column; None for none.

    Returns
    -------
    Gazetteer
    """
    from gridwatch.placing.layers import project_metric_crs

    settings = geocode_settings(config)
    specs = tuple(s for s in named_layers(config, settings) if s.name in layers)
    metric = project_metric_crs(config.territory.metric_crs, layers=layers, specs=config.layers)
    areas = area_names(layers, specs, metric_crs=metric)
    parts = []
    if settings.points is not None:
        raw = points_from_file(settings.points, config.root)
        parts.append(address_points(raw["address"], raw["lon"], raw["lat"],
                                    source="address_point", layers=layers, specs=specs,
                                    postcodes=raw["postcode"]))
    if history is not None and len(history):
        column = settings.postcode_column
        codes = history[column] if column and column in history else None
        parts.append(address_points(history["address"], history["lon"], history["lat"],
                                    source="history", layers=layers, specs=specs,
                                    postcodes=codes, ids=history.get("issue_id")))
    if parts:
        points = pd.concat(parts, ignore_index=True)
    else:
        points = address_points(pd.Series([], dtype="str"), [], [], source="history",
                                layers=layers, specs=specs)
    return Gazetteer(areas=areas, points=points, levels=tuple(s.name for s in specs))


def history_from_store(store: Any) -> pd.DataFrame:
    """Earlier problems of a store with an address and coordinates of their own (rows placed by
    geocoding or at a reported grid are left out: they would teach the gazetteer its own
    guesses): ``issue_id, address, lon, lat``."""
    if store.last_run_id() == 0:
        return pd.DataFrame({"issue_id": pd.Series(dtype="str"),
                             "address": pd.Series(dtype="str"), "lon": pd.Series(dtype=float),
                             "lat": pd.Series(dtype=float)})
    issues, _history, _run = store.analytical(layers=[])  # the columnar copy: no table scan
    own = issues["location_flag"].fillna("").isin(["", "swapped"])
    frame = issues.loc[own & issues["address"].notna(), ["issue_id", "address", "lon", "lat"]]
    return frame.reset_index(drop=True)


def source_key(config: Config, *, history_token: str = "") -> str:
    """Hash of everything a build depends on: layer and point files (size, modification time),
    the ``[geocoding]`` settings, and a token naming the history (a store's last run, files;
    ``""`` for the part without history)."""
    settings = geocode_settings(config)
    files: list[Path] = [s.path for s in named_layers(config, settings)]
    if settings.points is not None:
        path = Path(settings.points.path)
        files.append(path if path.is_absolute() else config.root / path)
    stats = []
    for f in files:
        try:
            stats.append((str(f), f.stat().st_size, f.stat().st_mtime_ns))
        except OSError:
            stats.append((str(f), -1, -1))
    text = json.dumps([_VERSION, stats, repr(settings), history_token], default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def gazetteer_folder(config: Config) -> Path:
    """Where the project's gazetteer is kept (``[geocoding] gazetteer``, relative to the
    project file)."""
    path = Path(geocode_settings(config).gazetteer)
    return path if path.is_absolute() else config.root / path


def save_gazetteer(gazetteer: Gazetteer, folder: Path, *, key: str, files_key: str) -> Path:
    """Write the gazetteer as ``gazetteer-<key>/`` (areas and points as Parquet, a manifest
    with ``files_key``: the hash of its sources without the history), replacing older builds;
    return its folder."""
    import os
    import shutil
    import tempfile

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"gazetteer-{key}"
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=folder))
    gazetteer.areas.to_parquet(work / "areas.parquet", index=False)
    gazetteer.points.to_parquet(work / "points.parquet", index=False)
    (work / "manifest.json").write_text(json.dumps(
        {"key": key, "files_key": files_key, "levels": list(gazetteer.levels),
         "sizes": gazetteer.sizes()}, ensure_ascii=False, indent=1), encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    os.replace(work, target)
    for old in folder.glob("gazetteer-*"):
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target


def load_gazetteer(folder: Path, *, key: str | None = None,
                   files_key: str | None = None) -> Gazetteer | None:
    """Read a saved gazetteer: the build of ``key``, else the newest build whose sources
    other than the history are ``files_key`` (any when None); None when there is none."""
    try:
        builds = [folder / f"gazetteer-{key}"] if key else sorted(
            folder.glob("gazetteer-*"), key=lambda p: p.stat().st_mtime, reverse=True)
        for build in builds:
            manifest = build / "manifest.json"
            if not manifest.is_file():
                continue
            meta = json.loads(manifest.read_text(encoding="utf-8"))
            if files_key is not None and meta.get("files_key") != files_key:
                continue
            return Gazetteer(areas=pd.read_parquet(build / "areas.parquet"),
                             points=pd.read_parquet(build / "points.parquet"),
                             levels=tuple(meta["levels"]))
    except (OSError, ValueError, KeyError):
        return None  # a damaged build is rebuilt, never trusted
    return None


def project_gazetteer(config: Config, layers: Mapping[str, gpd.GeoDataFrame], *,
                      extra_history: pd.DataFrame | None = None) -> Gazetteer:
    """The gazetteer an import matches against: the saved build (``gridwatch gazetteer
    build``) when its layer and point files are unchanged, else one built now from them
    (without the store's history), plus the points of ``extra_history`` (the rows of the
    import that came with coordinates)."""
    folder = gazetteer_folder(config)
    saved = load_gazetteer(folder, files_key=source_key(config))
    base = saved if saved is not None else build_gazetteer(config, layers)
    if extra_history is None or not len(extra_history):
        return base
    settings = geocode_settings(config)
    specs = tuple(config.layer(name) for name in base.levels)
    column = settings.postcode_column
    codes = extra_history[column] if column and column in extra_history else None
    more = address_points(extra_history["address"], extra_history["lon"],
                          extra_history["lat"], source="history", layers=layers, specs=specs,
                          postcodes=codes, ids=extra_history.get("issue_id"))
    return Gazetteer(areas=base.areas, points=pd.concat([base.points, more], ignore_index=True),
                     levels=base.levels)


def without_problems(gazetteer: Gazetteer, ids: Sequence[str] | pd.Series) -> Gazetteer:
    """The gazetteer without the points learnt from the problems ``ids`` (a problem's address
    is checked against what the others say, never against what it said itself before)."""
    points = gazetteer.points
    if "issue_id" not in points:
        return gazetteer
    # a set of Python strings: pandas' isin of Arrow strings builds a scalar per value
    # (20 s for the ids of a million rows)
    wanted = set(pd.Series(ids, dtype="str").dropna().to_numpy(dtype=object).tolist())
    drop = np.fromiter((v in wanted for v in points["issue_id"].to_numpy(dtype=object)),
                       dtype=bool, count=len(points))
    if not drop.any():
        return gazetteer
    return Gazetteer(areas=gazetteer.areas, points=points[~drop].reset_index(drop=True),
                     levels=gazetteer.levels)

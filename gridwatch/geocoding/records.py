"""The import's one call into geocoding: rows with an address and no coordinates get a place.

:func:`geocode_records` runs between reading and placing (``gridwatch.pipeline``). Rows that
have no coordinates and no reported grid the grid layers know (those are placed at their grid,
see :func:`gridwatch.placing.assign.place_records`) but an address are matched against the
gazetteer. A placed row gets WGS84 ``lon``/``lat`` and ``geocode_source``, ``geocode_score``,
``location_precision_m`` (placing then flags it ``location_flag = "geocoded"``); a row that
cannot be placed is rejected here with the best candidates named. Coordinates always win over
the address; with ``[geocoding] check_coordinates`` (on by default) the rows that have both
are geocoded too, against what the gazetteer and the other problems say, and those whose
address lies farther from their coordinates than the match's precision plus
``check_margin_m`` (or outside the area it names by more than that margin) get
``address_mismatch`` and ``address_offset_m`` (placing adds the flag to ``grid_mismatch``, the
audit list of doubtful places; the store keeps the distance).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gridwatch.config import Config
from gridwatch.geocoding.gazetteer import (
    Gazetteer,
    geocode_settings,
    history_from_store,
    project_gazetteer,
    without_problems,
)
from gridwatch.geocoding.match import geocode_addresses
from gridwatch.schema import concat_rejects, empty_rejects

if TYPE_CHECKING:
    import geopandas as gpd

    from gridwatch.store.transactional import Store

__all__ = ["IMPORT_HISTORY_ROWS", "MATCHED_AT", "PLACED_BY", "AddressCheck", "geocode_records",
           "geocode_records_later", "placement_mask", "with_address_check"]

#: How a stored problem was placed, as filters name it: its own coordinates (repaired when
#: lat/lon were swapped), its reported grid, its address.
PLACED_BY: dict[str, tuple[str, ...]] = {"by_coordinates": ("", "swapped"),
                                         "by_grid": ("grid_point",),
                                         "by_address": ("geocoded",)}

#: Where in the gazetteer an address matched (``geocode_source``), as filters name it: an
#: address point, an earlier problem's address, a road, an area of a layer (village, town,
#: grid, …).
MATCHED_AT: tuple[str, ...] = ("address_point", "history", "road", "area")

#: At most this many rows of the store and the import (with coordinates and an address) join
#: the gazetteer's history, a seeded sample when there are more (parsing costs about 1.5 s
#: per 100,000 distinct addresses).
IMPORT_HISTORY_ROWS = 100_000


#: The check of addresses against coordinates, run later (see :func:`geocode_records_later`):
#: returns ``address_mismatch`` and ``address_offset_m`` of the rows it was made for, indexed
#: like them.
AddressCheck = Callable[[], pd.DataFrame]


def geocode_records(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame],
                    config: Config, *, gazetteer: Gazetteer | None = None,
                    store: Store | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Place the rows that have only an address; reject those that cannot be placed.

    Parameters
    ----------
    records
        Canonical records (from :func:`gridwatch.ingest.records.read_issues`).
    layers
        Loaded layers.
    config
        The project; nothing happens unless ``[geocoding] enabled = true``.
    gazetteer
        To match against; default the project's (:func:`project_gazetteer`), with the import's
        own rows that have coordinates, and the store's problems, as history.
    store
        The store the import goes to: its earlier problems with coordinates of their own join
        the history (read from its analytical copy) when ``[geocoding] history`` is on.

    Returns
    -------
    records : pandas.DataFrame
        The records less the rejected rows; geocoded rows have WGS84 ``lon``/``lat``,
        ``coord_system = "wgs84"``, ``geocode_source``, ``geocode_score`` and
        ``location_precision_m``; with ``check_coordinates``, ``address_mismatch`` and
        ``address_offset_m`` (metres between the coordinates and the address's place, or the
        area it names, for the flagged rows; NaN elsewhere).
    rejects : pandas.DataFrame
        One row per address that could not be placed: column ``address``, the reason naming
        the best candidates.
    """
    out, rejects, check = geocode_records_later(records, layers, config, gazetteer=gazetteer,
                                                store=store)
    if check is not None:
        out = with_address_check(out, check())
    return out, rejects


def geocode_records_later(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame],
                          config: Config, *, gazetteer: Gazetteer | None = None,
                          store: Store | None = None, drop_rejected: bool = True,
                          ) -> tuple[pd.DataFrame, pd.DataFrame, AddressCheck | None]:
    """:func:`geocode_records`, with the check of addresses against coordinates left to run
    later (``[geocoding] check_coordinates``; it reads only the rows and the gazetteer, so it
    can run on another thread while the rows are placed).

    drop_rejected
        False: the rows rejected stay in ``records`` (without ``geocode_source``), which then
        shares every column it does not change with the rows given (no copy).

    Returns
    -------
    records, rejects
        As :func:`geocode_records`, with ``address_mismatch`` False and ``address_offset_m``
        NaN until the check's results are put in (:func:`with_address_check`).
    check : callable or None
        The check; None when there is nothing to check.
    """
    settings = geocode_settings(config)
    if not settings.enabled or "address" not in records or records.empty:
        return records, empty_rejects(), None
    n = len(records)
    x = _floats(records, "lon")
    y = _floats(records, "lat")
    no_coords = _no_coordinates(x, y)
    if not no_coords.any() and not settings.check_coordinates:
        return records, empty_rejects(), None  # the usual export: nothing to do, nothing read
    has_address = _has_address(records)
    todo = _to_geocode(records, layers, config, no_coords, has_address)
    check = ~no_coords & has_address if settings.check_coordinates else np.zeros(n, bool)
    if not todo.any() and not check.any():
        return records, empty_rejects(), None
    lon, lat = _wgs84(records, x, y, ~no_coords, default=config.input.crs)
    ids = (records["issue_id"].astype("str") if "issue_id" in records
           else pd.Series([], dtype="str"))
    if gazetteer is None:
        stored = (history_from_store(store) if store is not None and settings.history
                  else None)
        own = _history(records, lon, lat, has_address, settings.postcode_column)
        gazetteer = project_gazetteer(config, layers, extra_history=_capped(stored, own))
    # a row's address is checked against what others say, never against the row itself (its
    # own coordinates, in this import or stored before)
    check_gazetteer = without_problems(gazetteer, ids) if check.any() else gazetteer
    column = settings.postcode_column
    # the two columns matching reads (the later check keeps them, not every column of the rows)
    addresses = records["address"]
    postcodes = records[column] if column and column in records else None

    def place(rows: np.ndarray, against: Gazetteer, *, reasons: bool = True) -> pd.DataFrame:
        codes = postcodes[rows] if postcodes is not None else None
        return geocode_addresses(addresses[rows], against, postcodes=codes,
                                 min_score=settings.min_score,
                                 max_precision_m=settings.max_precision_m,
                                 reasons=reasons).reset_index(drop=True)

    at = np.flatnonzero(todo)
    found = place(todo, gazetteer) if len(at) else pd.DataFrame(
        {c: pd.Series(dtype=float) for c in ("lon", "lat", "geocode_score", "precision_m")}
        | {c: pd.Series(dtype="str") for c in ("geocode_source", "reason")})
    ok = found["lon"].notna().to_numpy()
    out = records.copy(deep=False)
    source = np.full(n, "", dtype=object)
    score = np.full(n, np.nan)
    precision = np.full(n, np.nan)
    placed, pick = at[ok], ok
    out_lon = x.copy()
    out_lat = y.copy()
    out_lon[placed] = found["lon"].to_numpy()[pick]
    out_lat[placed] = found["lat"].to_numpy()[pick]
    source[placed] = found["geocode_source"].to_numpy(dtype=object)[pick]
    score[placed] = found["geocode_score"].to_numpy()[pick]
    precision[placed] = found["precision_m"].to_numpy()[pick]
    if placed.size:
        out["lon"], out["lat"] = out_lon, out_lat
        crs = (out["coord_system"].astype("str").to_numpy(dtype=object)
               if "coord_system" in out else np.full(n, None, dtype=object))
        crs[placed] = "wgs84"
        out["coord_system"] = pd.array(crs, dtype="str")
    out["geocode_source"] = pd.array(source, dtype="str")
    out["geocode_score"] = score
    out["location_precision_m"] = precision
    if settings.check_coordinates:
        out["address_mismatch"] = np.zeros(n, dtype=bool)
        out["address_offset_m"] = np.full(n, np.nan)
    failed = at[~ok]
    rejects = _rejects(records, failed, found["reason"].to_numpy(dtype=object)[~ok])
    keep = np.ones(n, dtype=bool)
    if drop_rejected:
        keep[failed] = False
    if not keep.all():
        out = out.loc[keep]
    if not settings.check_coordinates:
        return out, rejects, None
    index = out.index

    def check_addresses() -> pd.DataFrame:
        mismatch = np.zeros(n, dtype=bool)
        offset = np.full(n, np.nan)
        if check.any():
            said = place(check, check_gazetteer, reasons=False)
            rows = np.flatnonzero(check)
            far = _disagreement(lon[rows], lat[rows], said, layers, config,
                                margin_m=settings.check_margin_m)
            flagged = np.isfinite(far)
            mismatch[rows[flagged]] = True
            offset[rows[flagged]] = np.round(far[flagged], 1)
        return pd.DataFrame({"address_mismatch": mismatch[keep],
                             "address_offset_m": offset[keep]}, index=index)
    return out, rejects, check_addresses


def rows_to_geocode(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame],
                    config: Config) -> np.ndarray:
    """The rows :func:`geocode_records` places from their address (placed or rejected
    there, never by their coordinates): no coordinates, an address, and no reported grid a
    grid layer knows. All False unless ``[geocoding] enabled``."""
    n = len(records)
    if not geocode_settings(config).enabled or "address" not in records or not n:
        return np.zeros(n, dtype=bool)
    no_coords = _no_coordinates(_floats(records, "lon"), _floats(records, "lat"))
    if not no_coords.any():
        return no_coords
    return _to_geocode(records, layers, config, no_coords, _has_address(records))


def _no_coordinates(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return ~(np.isfinite(x) & np.isfinite(y)) | (x == 0) | (y == 0)


def _has_address(records: pd.DataFrame) -> np.ndarray:
    address = records["address"].astype("str").str.strip()
    return (address.notna() & (address != "")).to_numpy()


def _to_geocode(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame], config: Config,
                no_coords: np.ndarray, has_address: np.ndarray) -> np.ndarray:
    todo = no_coords & has_address
    todo[todo] = ~_known_grid(records[todo], layers, config)
    return todo


def with_address_check(placed: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """Put the results of a later address check (:func:`geocode_records_later`) into the
    checked rows, or rows placed since (matched by index, which must be unique), as placing
    them after the check would have: ``address_mismatch``, ``address_offset_m``, and for
    placed rows the mismatch added to ``grid_mismatch``. Modifies ``placed`` and returns it."""
    if placed.index.equals(found.index):  # the checked rows themselves (index may repeat)
        rows = np.arange(len(placed))
    else:
        if not found.index.is_unique:
            raise ValueError("the checked rows' index repeats: rows placed since cannot be "
                             "matched to them")
        rows = found.index.get_indexer(placed.index)
        if (rows < 0).any():
            raise ValueError("some placed rows are not among the checked ones")
    mismatch = found["address_mismatch"].to_numpy(dtype=bool)[rows]
    placed["address_mismatch"] = mismatch
    placed["address_offset_m"] = found["address_offset_m"].to_numpy(dtype=float)[rows]
    if "grid_mismatch" in placed:
        placed["grid_mismatch"] = placed["grid_mismatch"].to_numpy(dtype=bool) | mismatch
    return placed


def _floats(records: pd.DataFrame, column: str) -> np.ndarray:
    if column not in records:
        return np.full(len(records), np.nan)
    return pd.to_numeric(records[column], errors="coerce").to_numpy(dtype=float,
                                                                     na_value=np.nan)


def _known_grid(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame],
                config: Config) -> np.ndarray:
    """Rows whose reported grid is an id of a grid or micro-grid layer (placing puts them at
    that grid when ``[input] grid_fallback`` is on)."""
    n = len(records)
    if not config.input.grid_fallback or "reported_grid" not in records:
        return np.zeros(n, dtype=bool)
    codes = records["reported_grid"].astype("str").str.strip().to_numpy(dtype=object)
    known = np.zeros(n, dtype=bool)
    for spec in config.layers_of_kind("grid", "microgrid"):
        if spec.name in layers:
            known |= pd.Index(layers[spec.name]["area_id"].astype("str")).get_indexer(
                codes) >= 0
    return known


def _wgs84(records: pd.DataFrame, x: np.ndarray, y: np.ndarray, have: np.ndarray, *,
           default: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 of the rows that have coordinates (NaN elsewhere and where not convertible);
    rows that name no coordinate system are in ``default`` (``[input] crs``)."""
    from gridwatch.placing import coords

    lon = np.full(len(x), np.nan)
    lat = np.full(len(x), np.nan)
    if not have.any():
        return lon, lat
    default = coords.parse_crs(default) or "wgs84"
    if "coord_system" in records:  # each label parsed once, looked up by its code
        codes, labels = pd.factorize(records["coord_system"].astype("str").fillna(""))
    else:
        codes, labels = np.zeros(len(x), dtype=np.intp), pd.Index([""])
    parsed = np.array([(coords.parse_crs(v) if v else default) for v in labels] + [None],
                      dtype=object)
    per_row = parsed[codes[have]]  # code -1 (none) takes the last: None
    good = pd.notna(per_row)
    rows = np.flatnonzero(have)[good]
    with np.errstate(all="ignore"):
        gx, gy = coords.rows_to_wgs84(x[rows], y[rows], per_row[good])
    lon[rows], lat[rows] = gx, gy
    return lon, lat


def _capped(*parts: pd.DataFrame | None) -> pd.DataFrame | None:
    """The history parts together, a seeded sample of :data:`IMPORT_HISTORY_ROWS` when
    longer (parsing costs)."""
    frames = [p for p in parts if p is not None and len(p)]
    if not frames:
        return None
    history = pd.concat(frames, ignore_index=True)
    if len(history) > IMPORT_HISTORY_ROWS:
        history = history.sample(IMPORT_HISTORY_ROWS, random_state=0).sort_index()
    return history


def _history(records: pd.DataFrame, lon: np.ndarray, lat: np.ndarray, has_address: np.ndarray,
             postcode_column: str | None) -> pd.DataFrame:
    """The import's rows with coordinates (WGS84) and an address."""
    rows = np.flatnonzero(has_address & np.isfinite(lon) & np.isfinite(lat))

    def pick(column: str) -> pd.Series:  # the column's own dtype: no Python string per row
        return records[column].iloc[rows].reset_index(drop=True)

    frame = pd.DataFrame({"address": pick("address"), "lon": lon[rows], "lat": lat[rows]})
    if "issue_id" in records:
        frame["issue_id"] = pick("issue_id")
    if postcode_column and postcode_column in records:
        frame[postcode_column] = pick(postcode_column)
    return frame


def _disagreement(lon: np.ndarray, lat: np.ndarray, said: pd.DataFrame,
                  layers: Mapping[str, gpd.GeoDataFrame], config: Config, *,
                  margin_m: float) -> np.ndarray:
    """How far coordinates lie from the place their address names, for the rows where they
    disagree (NaN elsewhere, and where the address placed nothing).

    A match at a point or a road disagrees when it lies farther than its precision radius
    plus ``margin_m``; a match at an area (village, town, grid) when the coordinates are
    outside that area by more than ``margin_m`` (the distance is then to the area's edge).
    """
    import shapely
    from geopandas import GeoSeries, points_from_xy

    from gridwatch.placing.layers import locate_points, project_metric_crs

    out = np.full(len(lon), np.nan)
    px, py = said["lon"].to_numpy(dtype=float), said["lat"].to_numpy(dtype=float)
    placed = np.isfinite(px) & np.isfinite(lon)
    source = said["geocode_source"].fillna("").to_numpy(dtype=object)
    area = placed & np.isin(source, list(layers))
    point = np.flatnonzero(placed & ~area)
    if len(point):
        far = _metres(lon[point], lat[point], px[point], py[point])
        wide = far > said["precision_m"].to_numpy(dtype=float)[point] + margin_m
        out[point[wide]] = far[wide]
    for name in pd.unique(source[area]):
        rows = np.flatnonzero(area & (source == name))
        # only rows farther than the margin from the area's own point can be outside it by more
        rows = rows[_metres(lon[rows], lat[rows], px[rows], py[rows]) > margin_m]
        if not len(rows):
            continue
        layer = layers[name]
        named = locate_points(px[rows], py[rows], layer)  # the area's point lies inside it
        at = locate_points(lon[rows], lat[rows], layer)
        outside = (named >= 0) & (at != named)
        rows, named = rows[outside], named[outside]
        if not len(rows):
            continue
        metric = project_metric_crs(config.territory.metric_crs, layers=layers,
                                    specs=config.layers)
        shapes = layer.geometry.iloc[named].to_crs(metric).to_numpy()
        points = GeoSeries(points_from_xy(lon[rows], lat[rows]), crs=4326).to_crs(
            metric).to_numpy()
        far = shapely.distance(points, shapes)
        wide = far > margin_m
        out[rows[wide]] = far[wide]
    return out


def _metres(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
            ) -> np.ndarray:
    """Distances in metres on the WGS84 ellipsoid."""
    from pyproj import Geod

    _, _, dist = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist, dtype=float)


def _rejects(records: pd.DataFrame, rows: np.ndarray, reasons: np.ndarray) -> pd.DataFrame:
    if not len(rows):
        return empty_rejects()
    def picked(column: str) -> pd.Series:  # the rows first: not a million values converted
        return records[column].iloc[rows].reset_index(drop=True)

    files = (picked("source_file").astype("str").fillna("").to_numpy(dtype=object)
             if "source_file" in records else np.full(len(rows), "", dtype=object))
    numbers = (pd.to_numeric(picked("source_row"), errors="coerce").fillna(0)
               .astype("int64").to_numpy() if "source_row" in records else rows + 1)
    return concat_rejects(pd.DataFrame({
        "file": files, "row": numbers, "column": "address",
        "value": picked("address").astype("str").to_numpy(dtype=object),
        "reason": "address not placed (no coordinates, no reported grid): " + pd.Series(
            reasons, dtype="str").to_numpy(dtype=object)}), file_order=pd.unique(files))


def placement_mask(issues: pd.DataFrame, *, placed_by: tuple[str, ...] = (),
                   max_precision_m: float | None = None, matched_at: tuple[str, ...] = (),
                   min_score: float | None = None) -> np.ndarray:
    """Which stored problems were placed the chosen ways, precisely enough.

    Parameters
    ----------
    issues
        Stored problems (``location_flag``; ``location_precision_m``, ``geocode_source`` and
        ``geocode_score`` when there are such columns).
    placed_by
        Keys of :data:`PLACED_BY`; empty keeps every way.
    max_precision_m
        Leave out problems placed from an address with a precision radius larger than this.
    matched_at
        Keys of :data:`MATCHED_AT`: only problems placed from an address at these sources of
        the gazetteer (``area``: any layer's area); empty keeps every problem.
    min_score
        Leave out problems placed from an address by a match scoring below this (0-100).

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> frame = pd.DataFrame({"location_flag": ["", "geocoded", "geocoded", "grid_point"],
    ...                       "location_precision_m": [np.nan, 30.0, 4000.0, np.nan],
    ...                       "geocode_source": [None, "history", "town", None],
    ...                       "geocode_score": [np.nan, 100.0, 88.0, np.nan]})
    >>> placement_mask(frame, placed_by=("by_address",)).tolist()
    [False, True, True, False]
    >>> placement_mask(frame, max_precision_m=500).tolist()
    [True, True, False, True]
    >>> placement_mask(frame, matched_at=("area",)).tolist()
    [False, False, True, False]
    >>> placement_mask(frame, min_score=90).tolist()
    [True, True, False, True]
    """
    from gridwatch.errors import ConfigError

    unknown = [p for p in placed_by if p not in PLACED_BY]
    if unknown:
        raise ConfigError(f"placed by {', '.join(map(repr, unknown))} is not known; "
                          f"allowed: {', '.join(PLACED_BY)}")
    unknown = [p for p in matched_at if p not in MATCHED_AT]
    if unknown:
        raise ConfigError(f"matched at {', '.join(map(repr, unknown))} is not known; "
                          f"allowed: {', '.join(MATCHED_AT)}")
    n = len(issues)
    keep = np.ones(n, dtype=bool)
    flags = (issues["location_flag"].astype("str").fillna("").to_numpy(dtype=object)
             if "location_flag" in issues else np.full(n, "", dtype=object))
    if placed_by:
        keep &= np.isin(flags, [f for p in placed_by for f in PLACED_BY[p]])
    if max_precision_m is not None and "location_precision_m" in issues:
        precision = pd.to_numeric(issues["location_precision_m"], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
        keep &= ~(precision > max_precision_m)
    if matched_at:
        source = (issues["geocode_source"].astype("str").fillna("").to_numpy(dtype=object)
                  if "geocode_source" in issues else np.full(n, "", dtype=object))
        named = [m for m in matched_at if m != "area"]
        chosen = np.isin(source, named)
        if "area" in matched_at:  # any other source is a layer's area
            chosen |= (source != "") & ~np.isin(source, [m for m in MATCHED_AT if m != "area"])
        keep &= chosen
    if min_score is not None and "geocode_score" in issues:
        score = pd.to_numeric(issues["geocode_score"], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
        keep &= ~(score < min_score)
    return keep

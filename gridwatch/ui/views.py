"""What the supervisor's app shows, as pure functions: filters, figures, level of detail, tables.

The Streamlit pages only read widgets, call these functions and draw. Filters travel in the URL
(:func:`filters_to_query` / :func:`filters_from_query`) so a view can be shared; everything here
takes frames in and gives frames out, so it is tested without Streamlit.

Levels: the area layers (kinds ``admin``, ``grid``, ``microgrid``) form a chain by ``parent``
(county → town → grid → micro-grid). The city view shows one level; choosing an area of a level
shows the next level down inside it, and the problems themselves once the chosen area is a grid
or finer (:func:`view_plan`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridwatch.config import LayerSpec
from gridwatch.errors import ConfigError
from gridwatch.placing.layers import polygonal_parts
from gridwatch.schema import CATEGORIES, DEFAULT_TIMEZONE, SOURCES, STATUSES

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = [
    "AREA_KINDS",
    "CODE_FILTERS",
    "COLOUR_BY",
    "REDLINE_MODES",
    "SIMPLIFY_M",
    "Filters",
    "ViewPlan",
    "area_figures",
    "area_levels",
    "area_options",
    "belt_shapes",
    "city_levels",
    "filter_problems",
    "filters_from_query",
    "filters_to_query",
    "headline_figures",
    "id_ranks",
    "inspection_list",
    "inspection_order",
    "inspection_positions",
    "inspection_rows",
    "simplify_layer",
    "view_plan",
    "weekly_trend",
    "with_defaults",
]

#: Layer kinds that nest into the level-of-detail chain.
AREA_KINDS: tuple[str, ...] = ("admin", "grid", "microgrid")
#: Red/yellow/green codes a user can filter by (``closed`` covers both closed codes).
CODE_FILTERS: tuple[str, ...] = ("red", "yellow", "green", "closed")
#: How a problem was placed, as a user can filter by (see gridwatch.geocoding.records).
PLACED_BY_FILTERS: tuple[str, ...] = ("by_coordinates", "by_grid", "by_address")
#: Where an address matched in the gazetteer (gridwatch.geocoding.records.MATCHED_AT).
MATCHED_AT_FILTERS: tuple[str, ...] = ("address_point", "history", "road", "area")
#: inside: in a zone; belt: within near_m but outside; near: inside or belt.
REDLINE_MODES: tuple[str, ...] = ("all", "inside", "belt", "near")
#: What the areas are coloured by.
COLOUR_BY: tuple[str, ...] = ("red", "overdue_rate", "gistar")
#: Simplification tolerance per layer kind in metres: coarse for big areas, fine for small.
SIMPLIFY_M: dict[str, float] = {"admin": 150.0, "grid": 40.0, "microgrid": 10.0}
_DEG_M = 111_000.0  # metres per degree of latitude, for simplification tolerances


@dataclass(frozen=True)
class Filters:
    """Everything a user can choose; the defaults show the whole territory as of today."""

    level: str | None = None
    area: str | None = None
    basin: str | None = None
    redline: str | None = None
    redline_mode: str = "all"
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    #: How problems were placed (gridwatch.geocoding.records.PLACED_BY): by their
    #: coordinates, their reported grid or their address.
    placed_by: tuple[str, ...] = ()
    #: Problems placed from an address: where it matched, the least score, the widest
    #: precision radius (metres) kept.
    matched_at: tuple[str, ...] = ()
    min_score: float | None = None
    max_precision_m: float | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    as_of: dt.date | None = None
    colour: str = "red"
    heat: bool = False
    hexagons: bool = False
    lang: str = "zh"
    #: Values in the URL that were not understood (shown to the user, then dropped).
    ignored: tuple[str, ...] = field(default=(), compare=False)


_LISTS = {"categories": CATEGORIES, "sources": SOURCES, "statuses": STATUSES,
          "codes": CODE_FILTERS, "placed_by": PLACED_BY_FILTERS,
          "matched_at": MATCHED_AT_FILTERS}
#: Numbers a user can give, with their allowed range.
_NUMBERS = {"min_score": (0.0, 100.0), "max_precision_m": (0.0, 1e7)}
_CHOICES = {"redline_mode": REDLINE_MODES, "colour": COLOUR_BY, "lang": ("zh", "en")}
_DATES = ("start", "end", "as_of")
_FLAGS = ("heat", "hexagons")
_TEXT = ("level", "area", "basin", "redline")


def _one(value: str | Sequence[str]) -> str:
    if isinstance(value, str):
        return value
    return str(value[-1]) if len(value) else ""


def filters_from_query(params: Mapping[str, str | Sequence[str]]) -> Filters:
    """Read filters from URL query parameters, dropping (and listing) values not understood.

    Lists are comma-separated (``categories=water,air``), dates ISO (``as_of=2026-10-31``),
    flags ``1``/``0``.

    Examples
    --------
    >>> filters_from_query({"level": "grid", "codes": "red,bogus"}).codes
    ('red',)
    """
    values: dict[str, Any] = {}
    ignored: list[str] = []
    for name in (f.name for f in fields(Filters)):
        if name == "ignored" or name not in params:
            continue
        raw = _one(params[name]).strip()
        if not raw:
            continue
        if name in _LISTS:
            items = tuple(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))
            ignored += [f"{name}={v}" for v in items if v not in _LISTS[name]]
            values[name] = tuple(v for v in items if v in _LISTS[name])
        elif name in _CHOICES:
            if raw in _CHOICES[name]:
                values[name] = raw
            else:
                ignored.append(f"{name}={raw}")
        elif name in _DATES:
            try:
                values[name] = dt.date.fromisoformat(raw)
            except ValueError:
                ignored.append(f"{name}={raw}")
        elif name in _NUMBERS:
            low, high = _NUMBERS[name]
            try:
                number = float(raw)
            except ValueError:
                number = float("nan")
            if low <= number <= high:
                values[name] = number
            else:
                ignored.append(f"{name}={raw}")
        elif name in _FLAGS:
            values[name] = raw.lower() in ("1", "true", "yes", "on")
        else:
            values[name] = raw[:200]
    return Filters(**values, ignored=tuple(ignored))


def filters_to_query(filters: Filters) -> dict[str, str]:
    """Write filters as URL query parameters; defaults are left out so links stay short.

    Examples
    --------
    >>> filters_to_query(filters_from_query({"level": "grid", "codes": "red,yellow"}))
    {'level': 'grid', 'codes': 'red,yellow'}
    """
    default = Filters()
    out: dict[str, str] = {}
    for item in fields(Filters):
        name = item.name
        value = getattr(filters, name)
        if name == "ignored" or value == getattr(default, name):
            continue
        if name in _LISTS:
            out[name] = ",".join(value)
        elif name in _DATES:
            out[name] = value.isoformat()
        elif name in _NUMBERS:
            out[name] = f"{value:g}"
        elif name in _FLAGS:
            out[name] = "1" if value else "0"
        else:
            out[name] = str(value)
    return out


# --- levels ---------------------------------------------------------------------------------

def area_levels(specs: Sequence[LayerSpec]) -> list[str]:
    """Names of the nesting area layers, coarsest first (parents before children).

    Examples
    --------
    >>> from pathlib import Path
    >>> specs = [LayerSpec("grid", Path("g"), "id", "grid", parent="county"),
    ...          LayerSpec("county", Path("c"), "id", "admin"),
    ...          LayerSpec("basin", Path("b"), "id", "basin")]
    >>> area_levels(specs)
    ['county', 'grid']
    """
    area = [s for s in specs if s.kind in AREA_KINDS]
    names = {s.name for s in area}
    depth: dict[str, int] = {}

    def level(spec: LayerSpec) -> int:
        if spec.name not in depth:
            parent = next((s for s in area if s.name == spec.parent), None)
            depth[spec.name] = 0 if parent is None or spec.parent not in names else level(
                parent) + 1
        return depth[spec.name]

    order = {s.name: i for i, s in enumerate(area)}
    return sorted(names, key=lambda n: (level(next(s for s in area if s.name == n)), order[n]))


def city_levels(specs: Sequence[LayerSpec]) -> list[str]:
    """The levels a whole-territory view may draw: every area level but micro-grids, which are
    shown only inside a chosen grid (92.6 k polygons would be a page of ~27 MB)."""
    kinds = {s.name: s.kind for s in specs}
    return [name for name in area_levels(specs) if kinds[name] != "microgrid"]


@dataclass(frozen=True)
class ViewPlan:
    """What the map shows for a choice of level and area."""

    #: Layer whose areas are drawn and counted.
    layer: str
    #: (layer, area id) the view is limited to, or None for the whole territory.
    within: tuple[str, str] | None
    #: Draw the problems themselves (a grid or finer was chosen).
    show_points: bool


def view_plan(specs: Sequence[LayerSpec], level: str | None, area: str | None) -> ViewPlan:
    """Choose the layer to draw: ``level`` for the city view, its children inside ``area``.

    Parameters
    ----------
    specs
        The project's layer declarations.
    level
        The level chosen (default: the coarsest area layer).
    area
        An area id of ``level``; None for the whole territory.

    Raises
    ------
    ConfigError
        When ``level`` is not an area layer, the project declares none, or ``level`` is
        micro-grids with no ``area`` (see :func:`city_levels`).
    """
    levels = area_levels(specs)
    if not levels:
        raise ConfigError("the project declares no area layer (kind admin, grid or microgrid)")
    level = level or levels[0]
    if level not in levels:
        raise ConfigError(f"level {level!r} is not an area layer; choose one of "
                          f"{', '.join(levels)}")
    kinds = {s.name: s.kind for s in specs}
    if area is None:
        if level not in city_levels(specs):
            raise ConfigError(f"level {level!r} is drawn only inside a chosen area; choose an "
                              f"area of it, or one of {', '.join(city_levels(specs))}")
        return ViewPlan(layer=level, within=None, show_points=False)
    children = [s.name for s in specs if s.parent == level and s.name in levels]
    fine = kinds[level] in ("grid", "microgrid")
    return ViewPlan(layer=children[0] if children else level, within=(level, area),
                    show_points=fine)


def area_options(layer: gpd.GeoDataFrame | pd.DataFrame) -> dict[str, str]:
    """``area_id`` → label ``"name（id）"``, sorted by name, for a searchable select box."""
    frame = pd.DataFrame({"id": layer["area_id"].astype("str"),
                          "name": layer["area_name"].astype("str").fillna("")})
    frame = frame.sort_values(["name", "id"], kind="stable")
    return {i: f"{n}（{i}）" if n and n != i else i for i, n in zip(frame["id"], frame["name"],
                                                                  strict=True)}


def simplify_layer(layer: gpd.GeoDataFrame, tolerance_m: float, *,
                   decimals: int = 5) -> gpd.GeoDataFrame:
    """Simplify WGS84 outlines for display and round coordinates (5 decimals ≈ 1 m).

    Topology is kept per polygon and nothing becomes empty, so every area is still drawn; the
    rounding alone roughly halves the GeoJSON the browser receives.
    """
    if tolerance_m < 0:
        raise ConfigError(f"tolerance_m must be >= 0 metres, got {tolerance_m!r}")
    geoms = layer.geometry.to_numpy()
    if tolerance_m > 0:
        geoms = shapely.simplify(geoms, tolerance_m / _DEG_M, preserve_topology=True)
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, decimals))
    bad = shapely.is_empty(rounded) | ~shapely.is_valid(rounded)
    if bad.any():  # make_valid may return a collection with lines: keep the polygons only
        rounded[bad] = polygonal_parts(shapely.make_valid(rounded[bad]))
    still = shapely.is_empty(rounded)
    rounded[still] = layer.geometry.to_numpy()[still]
    return layer.set_geometry(gpd.GeoSeries(rounded, index=layer.index, crs=layer.crs))


def belt_shapes(zones: gpd.GeoDataFrame, near_m: float, *, metric_crs: str,
                label_column: str = "area_name") -> gpd.GeoDataFrame:
    """The belt of ``near_m`` metres around each zone (the ring outside it), in WGS84."""
    if near_m <= 0:
        raise ConfigError(f"near_m must be > 0 metres for a belt, got {near_m!r}")
    metric = zones.to_crs(metric_crs)
    ring = shapely.difference(shapely.buffer(metric.geometry.to_numpy(), near_m),
                              metric.geometry.to_numpy())
    out = gpd.GeoDataFrame({label_column: zones[label_column].astype("str").to_numpy()},
                           geometry=ring, crs=metric_crs).to_crs(4326)
    return simplify_layer(out, 5.0)


#: The columns of an evaluation that :func:`area_statistics` reads.
_STATE_COLUMNS = ("known", "code", "closed_at", "is_open", "days_to_close")


def area_figures(issues: pd.DataFrame, evaluated: pd.DataFrame, keep: pd.Series,
                 shapes: gpd.GeoDataFrame, *, layer: str, as_of: dt.date,
                 min_overdue: int = 5, min_rate: float = 0.3, min_problems: int = 10,
                 timezone: str = DEFAULT_TIMEZONE) -> gpd.GeoDataFrame:
    """Figures of the kept problems per area of ``layer``, with the rule's overdue hotspots.

    Parameters
    ----------
    issues, evaluated, keep
        Problems, their evaluation as of ``as_of`` and the filter mask.
    shapes
        The areas to show (``area_id``, ``area_name``, ``geometry``); areas with no problem get
        zero counts.
    layer
        The layer of ``shapes`` (its ``<layer>_id`` column in ``issues``).
    min_overdue, min_rate, min_problems
        The hotspot rule (``[hotspots] rule_*``), applied to red against open problems.

    Returns
    -------
    geopandas.GeoDataFrame
        ``shapes`` with :data:`gridwatch.supervision.aggregate.STAT_COLUMNS` and ``hotspot`` (bool).
    """
    from gridwatch.hotspots import rule_hotspots
    from gridwatch.supervision.aggregate import area_statistics, area_statistics_gdf

    mask = keep.reindex(issues.index).fillna(False).to_numpy(dtype=bool)
    # only the columns area_statistics reads: a filtered copy of the whole frames would cost
    # more than the statistics themselves at a million problems
    wanted = [c for c in (f"{layer}_id", "reported_at") if c in issues]
    base, state = issues[wanted], evaluated[list(_STATE_COLUMNS)]
    if mask.sum() * 2 > len(mask):  # most kept: count them as the known ones, copy nothing
        state = state.assign(known=state["known"].to_numpy(dtype=bool) & mask)
    else:
        base, state = base.loc[mask], state.loc[mask]
    stats = area_statistics(base, state, layer=layer, end=as_of, areas=shapes,
                            timezone=timezone)
    # area_statistics may add area_name: the layer's own columns win
    stats = stats.drop(columns=[c for c in shapes.columns if c != "area_id"], errors="ignore")
    frame = area_statistics_gdf(stats.dropna(subset=["area_id"]), shapes)
    frame["overdue_rate"] = frame["overdue_rate"].fillna(0.0).round(3)
    if len(frame):
        rule = rule_hotspots(frame, frame["red"].to_numpy(), frame["open"].to_numpy(),
                             min_overdue=min_overdue, min_rate=min_rate,
                             min_problems=min_problems)
        frame["hotspot"] = (rule["category"] == "rule_hot_spot").to_numpy()
    else:
        frame["hotspot"] = pd.Series(dtype=bool)
    return frame


# --- problems ------------------------------------------------------------------------------

def _local_days(values: pd.Series, timezone: str) -> np.ndarray:
    times = pd.to_datetime(values, utc=True).dt.tz_convert(timezone)
    return times.dt.tz_localize(None).to_numpy().astype("datetime64[D]")


def filter_problems(context: SupervisionContext, evaluated: pd.DataFrame, filters: Filters, *,
                    plan: ViewPlan | None = None) -> pd.Series:
    """Mask (same index as ``context.issues``) of the problems the filters keep.

    Parameters
    ----------
    context
        The supervision context: its problems, the project's basin and redline layers (the
        first of each kind), the redline belt width (``near_m``), the metric CRS and the time
        zone. The store keeps the zone a problem lies in, not the zone it is near, so the belt
        of one chosen zone is found from the zones' shapes.
    evaluated
        :func:`gridwatch.supervision.codes.evaluate_as_of` of the problems as of
        ``filters.as_of``; problems not yet reported then are dropped.
    filters
        The user's choice; the date range bounds the local report date.
    plan
        The view: its ``within`` area limits the problems.
    """
    issues, timezone = context.issues, context.timezone
    config = context.config
    basins = config.layers_of_kind("basin") if config is not None else ()
    redlines = config.layers_of_kind("redline") if config is not None else ()
    basin_layer = basins[0].name if basins else None
    redline_layer = redlines[0].name if redlines else None
    redline_zones = context.areas(redline_layer) if redline_layer else None
    near_m = (redlines[0].near_m or 500.0) if redlines else 500.0
    metric_crs = context.metric_crs
    keep = evaluated["known"].to_numpy(dtype=bool).copy()
    if plan is not None and plan.within is not None:
        layer, area = plan.within
        keep &= _equals(issues, f"{layer}_id", area)
    if filters.basin and basin_layer:
        keep &= _equals(issues, f"{basin_layer}_id", filters.basin)
    if redline_layer and (filters.redline or filters.redline_mode != "all"):
        keep &= _redline_mask(issues, filters, redline_layer, redline_zones, near_m, metric_crs)
    for name, column in (("categories", "category"), ("sources", "source"),
                         ("statuses", "status")):
        chosen = getattr(filters, name)
        if chosen:
            values = evaluated["status"] if column == "status" else issues[column]
            keep &= values.astype("str").isin(chosen).to_numpy()
    if filters.placed_by or filters.matched_at or filters.min_score is not None \
            or filters.max_precision_m is not None:
        from gridwatch.geocoding.records import placement_mask

        keep &= placement_mask(issues, placed_by=filters.placed_by,
                               matched_at=filters.matched_at, min_score=filters.min_score,
                               max_precision_m=filters.max_precision_m)
    if filters.codes:
        code = evaluated["code"].astype("str").fillna("")
        wanted = set(filters.codes)
        if "closed" in wanted:
            wanted |= {"closed_on_time", "closed_late"}
        keep &= code.isin(wanted).to_numpy()
    if filters.start or filters.end:
        days = _local_days(issues["reported_at"], timezone)
        ok = ~np.isnat(days)
        if filters.start:
            ok &= days >= np.datetime64(filters.start, "D")
        if filters.end:
            ok &= days <= np.datetime64(filters.end, "D")
        keep &= ok
    return pd.Series(keep, index=issues.index, name="keep")


def _equals(issues: pd.DataFrame, column: str, value: str) -> np.ndarray:
    """Mask of ``issues[column] == value`` (missing: False), compared in the column's own
    storage rather than as a million Python strings."""
    if column not in issues:
        raise ConfigError(f"the problems have no column {column!r}; is the layer declared and "
                          "were the problems ingested with it?")
    values = issues[column]
    if not pd.api.types.is_string_dtype(values):
        values = values.astype("str")
    return (values == value).to_numpy(dtype=bool, na_value=False)


def _redline_mask(issues: pd.DataFrame, filters: Filters, layer: str,
                  zones: gpd.GeoDataFrame | None, near_m: float,
                  metric_crs: str | None) -> np.ndarray:
    false = pd.Series(False, index=issues.index)
    inside = issues.get(f"in_{layer}", false).fillna(False).to_numpy(dtype=bool)
    near = issues.get(f"near_{layer}", false).fillna(False).to_numpy(dtype=bool) | inside
    if filters.redline:
        in_zone = _equals(issues, f"{layer}_id", filters.redline)
        inside = inside & in_zone
        near_zone = in_zone.copy()
        chosen = (zones[zones["area_id"].astype("str") == filters.redline]
                  if zones is not None else None)
        if filters.redline_mode != "inside" and chosen is not None and len(chosen) \
                and metric_crs is not None:
            shape = shapely.union_all(chosen.to_crs(metric_crs).geometry.to_numpy())
            points = gpd.GeoSeries(gpd.points_from_xy(issues["lon"], issues["lat"]),
                                   crs=4326).to_crs(metric_crs).to_numpy()
            near_zone |= shapely.dwithin(points, shape, near_m)
        near = near & near_zone
    if filters.redline_mode == "inside":
        return inside
    if filters.redline_mode == "belt":
        return near & ~inside
    return near


def headline_figures(evaluated: pd.DataFrame, before: pd.DataFrame,
                     keep: pd.Series, keep_before: pd.Series | None = None) -> dict[str, float]:
    """Figures at the top: open, red, yellow, closure rate, and red/open against a week before.

    Parameters
    ----------
    evaluated, before
        :func:`~gridwatch.supervision.codes.evaluate_as_of` as of the chosen date and 7 days
        earlier. Of ``before`` only ``known``, ``is_open`` and the red code are read: a frame
        with a boolean ``red`` column in place of ``code`` will do (see
        :meth:`SupervisionContext.open_overdue`).
    keep, keep_before
        Masks of the filtered problems for each date (``keep_before`` defaults to ``keep``).

    Returns
    -------
    dict
        ``problems``, ``open``, ``red``, ``yellow``, ``closed``, ``closure_rate`` (closed /
        problems, NaN when none), ``red_change``, ``open_change``.
    """
    def counts(ev: pd.DataFrame, mask: pd.Series) -> dict[str, int]:
        m = mask.reindex(ev.index).fillna(False).to_numpy(dtype=bool) & \
            ev["known"].to_numpy(dtype=bool)
        is_open = ev["is_open"].to_numpy(dtype=bool)[m]
        if "code" in ev:  # compared in the column's storage, not as Python strings
            red = (ev["code"] == "red").to_numpy(dtype=bool, na_value=False)[m]
            yellow = int((ev["code"] == "yellow").to_numpy(dtype=bool, na_value=False)[m].sum())
        else:
            red, yellow = ev["red"].to_numpy(dtype=bool)[m], -1
        return {"problems": int(m.sum()), "open": int(is_open.sum()), "red": int(red.sum()),
                "yellow": yellow, "closed": int(m.sum() - is_open.sum())}

    now = counts(evaluated, keep)
    then = counts(before, keep if keep_before is None else keep_before)
    rate = now["closed"] / now["problems"] if now["problems"] else float("nan")
    return {**now, "closure_rate": rate, "red_change": now["red"] - then["red"],
            "open_change": now["open"] - then["open"]}


_INSPECTION_COLUMNS = ("issue_id", "code", "days_overdue", "deadline", "status", "category",
                       "source", "description", "address", "responsible_unit", "reported_at",
                       "lon", "lat", "location_flag", "geocode_source", "geocode_score",
                       "location_precision_m",
                       # evidence photos (gridwatch.evidence): names or intranet URLs
                       "photo_before", "photo_after")
#: Shown only when some problem was placed from its address.
_GEOCODE_COLUMNS = ("location_flag", "geocode_source", "geocode_score", "location_precision_m")


def inspection_list(issues: pd.DataFrame, evaluated: pd.DataFrame, keep: pd.Series, *,
                    area_names: Mapping[str, Mapping[str, str]] | None = None,
                    open_only: bool = True, order: np.ndarray | None = None) -> pd.DataFrame:
    """The field team's list: the kept problems, most urgent first, with their area names.

    Parameters
    ----------
    issues, evaluated, keep
        Problems, their evaluation and the filter mask.
    area_names
        Layer → (area id → name); adds ``<layer>_id`` and ``<layer>_name`` columns.
    open_only
        Keep only open problems (red, yellow, green).
    order
        :func:`inspection_order` of ``issues`` and ``evaluated``, when already at hand.

    Returns
    -------
    pandas.DataFrame
        Red first by days overdue, then yellow, then green (then closed), then deadline.
    """
    rows = inspection_positions(evaluated, keep, open_only=open_only,
                                order=inspection_order(issues, evaluated) if order is None
                                else order)
    return inspection_rows(issues, evaluated, rows, area_names=area_names)


def inspection_order(issues: pd.DataFrame, evaluated: pd.DataFrame, *,
                     id_rank: np.ndarray | None = None) -> np.ndarray:
    """Positions of every problem in the inspection list's order: red, yellow, green, then the
    rest; within a code by days overdue (most first), deadline (missing last), ``issue_id``.

    A filter only removes rows from this order, so it is computed once per evaluation and
    each filtered list is a pass over it (:func:`inspection_positions`). ``id_rank`` is
    :func:`id_ranks` of ``issues``, when kept.
    """
    rank = np.full(len(evaluated), 3, dtype="int8")
    for value, code in enumerate(("red", "yellow", "green")):
        rank[(evaluated["code"] == code).to_numpy(dtype=bool, na_value=False)] = value
    late = -np.nan_to_num(evaluated["days_overdue"].to_numpy(dtype="float64"), nan=0.0)
    deadline = evaluated["deadline"].to_numpy(dtype="datetime64[ns]").view("int64").copy()
    deadline[deadline == np.iinfo("int64").min] = np.iinfo("int64").max  # NaT last
    ids = id_ranks(issues) if id_rank is None else id_rank
    order: np.ndarray = np.lexsort((ids, deadline, late, rank))
    return order


def id_ranks(issues: pd.DataFrame) -> np.ndarray:
    """Rank of each problem's ``issue_id`` in sorted order (missing last), as integers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pa.array(issues["issue_id"].astype("str"))  # the column's own Arrow data
    ranks: np.ndarray = pc.rank(ids, sort_keys="ascending", tiebreaker="dense") \
        .to_numpy().astype("int64")
    return ranks


def inspection_positions(evaluated: pd.DataFrame, keep: pd.Series | np.ndarray,
                         *, order: np.ndarray, open_only: bool = True) -> np.ndarray:
    """Positions of the kept (and, with ``open_only``, open) problems in ``order``."""
    mask = (keep.reindex(evaluated.index).fillna(False) if isinstance(keep, pd.Series)
            else pd.Series(keep)).to_numpy(dtype=bool)
    if open_only:
        mask = mask & evaluated["is_open"].to_numpy(dtype=bool)
    chosen: np.ndarray = order[mask[order]]
    return chosen


def inspection_rows(issues: pd.DataFrame, evaluated: pd.DataFrame, rows: np.ndarray, *,
                    area_names: Mapping[str, Mapping[str, str]] | None = None
                    ) -> pd.DataFrame:
    """The inspection list's columns for the problems at positions ``rows``, in that order
    (a page of the list is built without the rest)."""
    geocoded = "geocode_source" in issues and bool(issues["geocode_source"].notna().any())
    wanted = [*(c for c in _INSPECTION_COLUMNS if geocoded or c not in _GEOCODE_COLUMNS),
              *(f"{layer}_id" for layer in (area_names or {}))]
    base = issues[[c for c in dict.fromkeys(wanted) if c in issues]].take(rows)
    ev = evaluated[[c for c in ("code", "days_overdue", "deadline", "status")
                    if c in evaluated]].take(rows)
    table = pd.DataFrame(index=base.index)
    for column in _INSPECTION_COLUMNS:
        source = ev if column in ("code", "days_overdue", "deadline", "status") else base
        if column in source:
            table[column] = source[column]
    for layer, names in (area_names or {}).items():
        column = f"{layer}_id"
        if column in base:
            table[column] = base[column]
            table[f"{layer}_name"] = base[column].map(names if isinstance(names, dict)
                                                      else dict(names))
    return table.reset_index(drop=True)


def weekly_trend(context: SupervisionContext, *, as_of: dt.date, weeks: int = 12,
                 keep: pd.Series | np.ndarray | None = None,
                 overdue: bool = True) -> pd.DataFrame:
    """New and overdue problems per ISO week and category, for the ``weeks`` up to ``as_of``.

    ``overdue`` is the count of red problems at the end of each week (at ``as_of`` for the
    current, unfinished week). Only the problems ``keep`` marks are counted (default: all);
    the same as the trend of :meth:`SupervisionContext.restrict` to them, without a copy of
    the problems. Without ``overdue`` only the new problems are counted (``overdue`` is
    missing): the weekly states are most of the work.

    Returns
    -------
    pandas.DataFrame
        ``week`` (``YYYY-Www``), ``week_end`` (date), ``category``, ``new``, ``overdue``.
    """
    if weeks < 1:
        raise ConfigError(f"weeks must be >= 1, got {weeks!r}")
    issues = context.issues
    chosen = np.ones(len(issues), dtype=bool) if keep is None else \
        np.asarray(keep, dtype=bool)
    if chosen.shape != (len(issues),):
        raise ValueError(f"keep has {chosen.size} values for {len(issues)} problems")
    if not chosen.any():
        return pd.DataFrame(columns=["week", "week_end", "category", "new", "overdue"])
    monday = as_of - dt.timedelta(days=as_of.weekday())
    starts = [monday - dt.timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
    # categories as integer codes: counts per week by bincount, no string compared per row
    codes, uniques = pd.factorize(issues["category"].astype("str"), use_na_sentinel=True)
    codes = np.where(chosen, codes, -1)
    present = {str(u): i for i, u in enumerate(uniques)}
    in_chosen = set(np.unique(codes[codes >= 0]).tolist())
    categories = [c for c in CATEGORIES if c in present and present[c] in in_chosen]
    rows: list[dict[str, Any]] = []
    days = _local_days(issues["reported_at"], context.timezone)
    valid = codes >= 0
    for start in starts:
        end = min(start + dt.timedelta(days=6), as_of)
        new = (days >= np.datetime64(start, "D")) & (days <= np.datetime64(end, "D"))
        new_counts = np.bincount(codes[new & valid], minlength=len(uniques))
        red_counts = np.bincount(codes[context.overdue(end) & valid], minlength=len(uniques)) \
            if overdue else None
        year, week, _ = start.isocalendar()
        for cat in categories:
            rows.append({"week": f"{year}-W{week:02d}", "week_end": end, "category": cat,
                         "new": int(new_counts[present[cat]]),
                         "overdue": int(red_counts[present[cat]]) if red_counts is not None
                         else pd.NA})
    return pd.DataFrame(rows)


def with_defaults(filters: Filters, *, level: str, as_of: dt.date) -> Filters:
    """Fill the level and as-of date when the URL did not give them."""
    return replace(filters, level=filters.level or level, as_of=filters.as_of or as_of)

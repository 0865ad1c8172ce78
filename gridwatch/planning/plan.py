"""From the supervision context to a field plan: scored problems, sites, team-day routes.

:func:`make_plan` takes the open problems as of a date (optionally of one area), scores them
(:mod:`gridwatch.planning.priority`), groups them into sites (:mod:`gridwatch.planning.sites`)
and routes the teams (:mod:`gridwatch.planning.routing`), returning the optimised plan and the
naive plan side by side.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError, GridwatchError
from gridwatch.planning.priority import TERMS, priority_terms
from gridwatch.planning.routing import Routes, naive_routes, solve_routes, travel_matrix
from gridwatch.planning.settings import Base, PlanSettings
from gridwatch.planning.sites import site_table

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["FieldPlan", "incidents_of", "make_plan", "plan_summary", "resolve_base",
           "road_distances"]

#: Problem columns carried into the plan (and the field package).
PROBLEM_COLUMNS: tuple[str, ...] = ("issue_id", "category", "source", "description", "address",
                                    "responsible_unit", "severity", "status", "lon", "lat")


@dataclass(frozen=True)
class FieldPlan:
    """A plan for ``teams`` teams over ``days`` days.

    Attributes
    ----------
    as_of
        The local date the problems were evaluated on.
    problems
        The candidate problems: :data:`PROBLEM_COLUMNS`, ``code``, ``days_overdue``, the
        points of each term (``<term>_points``), ``priority``, ``why``, ``site_id``.
    sites
        The candidate sites (highest priority first): see :func:`site_table`, plus WGS84
        ``lon``/``lat`` and, for the optimised plan, ``team``, ``day``, ``stop`` (visit
        order, 1-based; 0 when not planned), ``arrive_minutes`` (after the start of the day).
    bases
        The bases used, one per team: ``team``, ``name``, ``lon``, ``lat`` (WGS84).
    routes, naive
        One row per team-day: ``team``, ``day``, ``base``, ``sites``, ``problems``,
        ``priority``, ``km``, ``minutes``, ``site_ids`` (in visit order).
    time_limit_reached
        The route search stopped at its time limit.
    """

    as_of: dt.date
    problems: pd.DataFrame
    sites: pd.DataFrame
    bases: pd.DataFrame
    routes: pd.DataFrame
    naive: pd.DataFrame
    settings: PlanSettings
    time_limit_reached: bool = False
    notes: tuple[str, ...] = field(default=())


def resolve_base(text: str, settings: PlanSettings, *, context: SupervisionContext,
                 default_crs: str = "wgs84") -> Base:
    """A base by name (``[[plan.bases]]``, else an area of an admin layer: its inner point),
    or ``"lon,lat"`` (in ``default_crs``).

    Raises
    ------
    ConfigError
        Naming the bases and the forms allowed.
    """
    for base in settings.bases:
        if base.name == text.strip():
            return base
    parts = text.replace("，", ",").split(",")
    if len(parts) == 2:
        try:
            lon, lat = float(parts[0]), float(parts[1])
        except ValueError:
            pass
        else:
            return Base(name=text.strip(), lon=lon, lat=lat, crs=default_crs)
    config = context.config
    if config is not None:
        for spec in config.layers_of_kind("admin"):
            table = context.areas(spec.name)
            if table is None:
                continue
            hit = table[(table["area_name"] == text.strip()) | (table["area_id"] == text.strip())]
            if len(hit):
                point = hit.geometry.iloc[0].representative_point()
                return Base(name=text.strip(), lon=float(point.x), lat=float(point.y),
                            crs="wgs84")
    names = ", ".join(b.name for b in settings.bases) or "(none in [[plan.bases]])"
    raise ConfigError(f"--start {text!r} is not a base: give a name of [[plan.bases]] ({names}), "
                      "the name of an admin area, or 'lon,lat'")


def _base_wgs84(base: Base, default_crs: str) -> tuple[float, float]:
    from gridwatch.placing.coords import to_wgs84

    lon, lat = to_wgs84(np.array([base.lon]), np.array([base.lat]), base.crs or default_crs)
    return float(lon[0]), float(lat[0])


def road_distances(path: str | Path, x: np.ndarray, y: np.ndarray, *, metric_crs: str
                   ) -> np.ndarray:
    """Metres along a road network between every two points (metric coordinates).

    The network is a file of lines (GeoPackage, or anything pyogrio reads); lines that cross
    are joined where they cross (an overpass counts as a junction); each point joins the
    network at the nearest vertex (the straight step to it counted), and distances are
    shortest paths over the segments (scipy's Dijkstra). Points the network does not connect
    are ``inf``.
    """
    import geopandas as gpd
    import shapely
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    try:
        lines = gpd.read_file(path)
    except Exception as exc:
        raise ConfigError(f"road network {str(path)!r} cannot be read: {exc}") from exc
    if lines.crs is None:
        raise ConfigError(f"road network {str(path)!r} has no coordinate system")
    lines = lines.to_crs(metric_crs).explode(index_parts=False)
    lines = lines[lines.geom_type == "LineString"]
    if lines.empty:
        raise ConfigError(f"road network {str(path)!r} has no lines")
    # lines that cross meet there (a file of roads is not always split at its junctions)
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(lines.geometry.to_numpy())))
    coords, parts = shapely.get_coordinates(noded, return_index=True)
    key = np.round(coords, 1)
    vertices, node = np.unique(key, axis=0, return_inverse=True)
    node = node.ravel()
    same_line = parts[1:] == parts[:-1]
    a, b = node[:-1][same_line], node[1:][same_line]
    length = np.hypot(*(coords[1:][same_line] - coords[:-1][same_line]).T)
    graph = coo_matrix((np.r_[length, length], (np.r_[a, b], np.r_[b, a])),
                       shape=(len(vertices), len(vertices))).tocsr()
    snap_dist, snap = cKDTree(vertices).query(np.column_stack([x, y]))
    unique, position = np.unique(snap, return_inverse=True)
    paths = dijkstra(graph, directed=False, indices=unique)[:, unique]
    out: np.ndarray = paths[position][:, position] + snap_dist[:, None] + snap_dist[None, :]
    np.fill_diagonal(out, 0.0)
    return out


def make_plan(context: SupervisionContext, *, teams: int, days: int, starts: Sequence[str],
              as_of: Any = None, layer: str | None = None, area: str | None = None,
              settings: PlanSettings | None = None, road_network: str | Path | None = None,
              field_counts: pd.DataFrame | None = None, hotspots: bool = True) -> FieldPlan:
    """Plan ``days`` days of ``teams`` teams over the open problems as of a date.

    Parameters
    ----------
    context
        The supervision context (problems, settings, layers).
    teams, days
        How many teams, and working days each.
    starts
        The base of each team (cycled when fewer than teams): see :func:`resolve_base`.
    as_of
        Local date of the evaluation; default the last export (else the last report).
    layer, area
        Keep the problems of one area (an id or name of ``layer``).
    settings
        ``[plan]`` (default: the project file's).
    road_network
        A file of road lines; straight-line distance times ``detour_factor`` without one.
    field_counts
        Earlier field results per issue_id (:func:`gridwatch.planning.results.field_counts`).
    hotspots
        Score the Gi* bins and emerging categories of the areas (a few seconds per layer).

    Returns
    -------
    FieldPlan
    """
    from gridwatch.supervision.codes import parse_as_of
    from gridwatch.supervision.incidents import metric_xy

    if teams < 1 or days < 1:
        raise ConfigError(f"--teams and --days must be at least 1, got {teams} and {days}")
    if not starts:
        raise ConfigError("give the teams' base with --start (a name of [[plan.bases]], an "
                          "admin area or 'lon,lat')")
    settings = settings or context.settings.plan or PlanSettings()
    issues = context.issues
    if issues.empty:
        raise ConfigError("the store has no problems yet: run gridwatch ingest first")
    day = parse_as_of(as_of) if as_of is not None else (context.last_export
                                                        or context.last_report_date())
    assert day is not None
    config = context.config
    bases = [resolve_base(s, settings, context=context,
                          default_crs=config.input.crs if config is not None else "wgs84")
             for s in starts]  # before any work: a wrong --start is said at once
    evaluated = context.evaluate(day)
    keep = evaluated["is_open"].to_numpy(dtype=bool) & issues["lon"].notna().to_numpy()
    notes: list[str] = []
    if area is not None:
        keep &= _area_mask(context, layer, area)
    rows = np.flatnonzero(keep)
    problems = issues.iloc[rows]
    zones = [s.name for s in config.layers_of_kind("redline", "zone")] if config else []
    hot_layer, bins, categories = None, None, None
    if hotspots and config is not None:
        try:
            hot_layer, bins, categories = _hotspot_labels(context, settings, day, notes)
        except GridwatchError as exc:
            if settings.hotspot_layer:  # asked for by name: say what is wrong with it
                raise
            notes.append(f"the hotspot terms are 0: {exc}")
    terms = priority_terms(problems, evaluated.iloc[rows], weights=settings.weights,
                           rebounds=context.rebounds.iloc[rows],
                           incidents=incidents_of(context).iloc[rows],
                           zones=zones, hotspot_layer=hot_layer, hot_bins=bins,
                           emerging=categories, field_counts=field_counts)
    x, y = metric_xy(problems["lon"], problems["lat"], crs=context.metric_crs)
    sites, site_of = site_table(problems, terms, x, y, settings=settings)
    table = problems[[c for c in PROBLEM_COLUMNS if c in problems]].copy()
    table["code"] = evaluated["code"].iloc[rows].to_numpy()
    table["days_overdue"] = evaluated["days_overdue"].iloc[rows].to_numpy()
    table = pd.concat([table, terms.rename(columns={t: f"{t}_points" for t in TERMS})], axis=1)
    table["site_id"] = site_of
    if layer:
        table[f"{layer}_id"] = problems[f"{layer}_id"]
    candidates = sites[sites["priority"] > 0].head(settings.max_sites).reset_index(drop=True)
    if len(sites[sites["priority"] > 0]) > len(candidates):
        notes.append(f"{len(sites[sites['priority'] > 0])} sites have priority; the "
                     f"{len(candidates)} highest ([plan] max_sites) were considered")
    candidates = _with_lonlat(candidates, context.metric_crs)

    default_crs = config.input.crs if config is not None else "wgs84"
    team_bases = [bases[t % len(bases)] for t in range(teams)]
    base_lonlat = [_base_wgs84(b, default_crs) for b in team_bases]
    distinct = list(dict.fromkeys(base_lonlat))
    bx, by = metric_xy([p[0] for p in distinct], [p[1] for p in distinct],
                       crs=context.metric_crs)
    node_x = np.r_[bx, candidates["x"].to_numpy(dtype="float64")]
    node_y = np.r_[by, candidates["y"].to_numpy(dtype="float64")]
    if road_network is not None:
        assert context.metric_crs is not None
        distance = road_distances(road_network, node_x, node_y, metric_crs=context.metric_crs)
        unreachable = ~np.isfinite(distance)
        if unreachable.any():
            notes.append("some sites are not connected to the bases by the road network: "
                         "they are not planned")
            distance[unreachable] = 1e9
    else:
        distance = travel_matrix(node_x, node_y, detour_factor=settings.detour_factor)
    depots = [distinct.index(base_lonlat[t]) for _ in range(days) for t in range(teams)]
    priority = candidates["priority"].to_numpy(dtype="float64")
    visit = candidates["visit_minutes"].to_numpy(dtype="float64")
    speed = settings.speed_kmh * 1000.0 / 60.0
    naive = naive_routes(priority, visit, distance, depots, day_minutes=settings.day_minutes,
                         metres_per_minute=speed)
    solved = solve_routes(priority, visit, distance, depots, day_minutes=settings.day_minutes,
                          metres_per_minute=speed, time_limit_s=settings.solver_seconds,
                          initial=naive)
    if _covered(solved, priority) < _covered(naive, priority) - 1e-9:
        notes.append("the search found less than the naive plan; the naive plan is kept")
        solved = naive
    vehicles = [(t + 1, d + 1) for d in range(days) for t in range(teams)]
    base_names = [team_bases[t - 1].name for t, _ in vehicles]
    routes = _route_table(solved, vehicles, base_names, depots, candidates, distance, speed)
    naive_table = _route_table(naive, vehicles, base_names, depots, candidates, distance, speed)
    candidates = _assign(candidates, solved, vehicles, depots, distance, speed)
    base_frame = pd.DataFrame({"team": range(1, teams + 1),
                               "name": [b.name for b in team_bases],
                               "lon": [p[0] for p in base_lonlat],
                               "lat": [p[1] for p in base_lonlat]})
    return FieldPlan(as_of=day, problems=table.reset_index(drop=True), sites=candidates,
                     bases=base_frame, routes=routes, naive=naive_table, settings=settings,
                     time_limit_reached=solved.time_limit_reached, notes=tuple(notes))


def incidents_of(context: SupervisionContext) -> pd.DataFrame:
    """Duplicate incidents of every problem: the context's, or found here when its statistics
    count reports (``[supervision] count_incidents = false``): a repeat complaint is one
    either way."""
    incidents = context.incidents
    if incidents is not None:
        return incidents
    from gridwatch.supervision.incidents import group_incidents

    return group_incidents(context.issues, context.settings.duplicates,
                           metric_crs=context.metric_crs)


def _area_mask(context: SupervisionContext, layer: str | None, area: str) -> np.ndarray:
    if not layer:
        raise ConfigError("--area needs --layer (the layer the area is of)")
    column = f"{layer}_id"
    if column not in context.issues:
        raise ConfigError(f"layer {layer!r} is not a layer of the project")
    ids = context.issues[column].astype("str")
    mask = (ids == area).to_numpy(dtype=bool, na_value=False)
    if not mask.any():
        table = context.area_table(layer)
        if table is not None:
            hit = table.loc[table["area_name"] == area, "area_id"]
            if len(hit):
                mask = ids.isin(hit.astype("str")).to_numpy(dtype=bool, na_value=False)
    if not mask.any():
        raise ConfigError(f"--area {area!r}: no problem lies in an area of layer {layer!r} "
                          "with that id or name")
    return mask


def _hotspot_labels(context: SupervisionContext, settings: PlanSettings, day: dt.date,
                    notes: list[str]) -> tuple[str | None, pd.Series | None, pd.Series | None]:
    config = context.config
    assert config is not None
    names = [s.name for s in config.layers]
    layer = settings.hotspot_layer or ("grid" if "grid" in names else None)
    if layer is None:
        notes.append("no hotspot layer ([plan] hotspot_layer): the hotspot terms are 0")
        return None, None, None
    if layer not in names:
        raise ConfigError(f"[plan] hotspot_layer {layer!r} is not a layer; layers: "
                          f"{', '.join(names)}")
    bins = context.hotspots(layer=layer, method="gistar", as_of=day)
    emerging = context.hotspots(layer=layer, method="emerging", as_of=day)
    return (layer, pd.Series(bins["bin"].to_numpy(), index=bins["area_id"].astype("str")),
            pd.Series(emerging["category"].to_numpy(), index=emerging["area_id"].astype("str")))


def _with_lonlat(sites: pd.DataFrame, metric_crs: str | None) -> pd.DataFrame:
    from gridwatch.placing.coords import lonlat_transformer

    out = sites.copy()
    if len(out) and metric_crs:
        lon, lat = lonlat_transformer(metric_crs, "EPSG:4326").transform(
            out["x"].to_numpy(), out["y"].to_numpy())
    else:
        lon = lat = np.full(len(out), np.nan)
    out["lon"], out["lat"] = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    return out


def _covered(routes: Routes, priority: np.ndarray) -> float:
    return float(sum(priority[s] for stops in routes.stops for s in stops))


def _legs(stops: Sequence[int], depot: int, first: int, distance: np.ndarray) -> list[float]:
    nodes = [depot, *(first + s for s in stops), depot]
    return [float(distance[a, b]) for a, b in itertools.pairwise(nodes)]


def _route_table(routes: Routes, vehicles: list[tuple[int, int]], base_names: list[str],
                 depots: list[int], sites: pd.DataFrame, distance: np.ndarray,
                 speed: float) -> pd.DataFrame:
    first = distance.shape[0] - len(sites)
    rows = []
    for (team, day), base, depot, stops in zip(vehicles, base_names, depots, routes.stops,
                                               strict=True):
        legs = _legs(stops, depot, first, distance)
        chosen = sites.iloc[list(stops)]
        rows.append({
            "team": team, "day": day, "base": base, "sites": len(stops),
            "problems": int(chosen["problems"].sum()),
            "priority": float(chosen["priority"].sum()),
            "km": sum(legs) / 1000.0,
            "minutes": sum(legs) / speed + float(chosen["visit_minutes"].sum()),
            "site_ids": ",".join(chosen["site_id"]),
        })
    return pd.DataFrame(rows)


def _assign(sites: pd.DataFrame, routes: Routes, vehicles: list[tuple[int, int]],
            depots: list[int], distance: np.ndarray, speed: float) -> pd.DataFrame:
    out = sites.copy()
    first = distance.shape[0] - len(sites)
    team = np.zeros(len(out), dtype="int64")
    day = np.zeros(len(out), dtype="int64")
    stop = np.zeros(len(out), dtype="int64")
    arrive = np.full(len(out), np.nan)
    visit = out["visit_minutes"].to_numpy(dtype="float64")
    for (t, d), depot, stops in zip(vehicles, depots, routes.stops, strict=True):
        clock = 0.0
        legs = _legs(stops, depot, first, distance)
        for k, site in enumerate(stops):
            clock += legs[k] / speed
            team[site], day[site], stop[site], arrive[site] = t, d, k + 1, clock
            clock += visit[site]
    out["team"], out["day"], out["stop"], out["arrive_minutes"] = team, day, stop, arrive
    return out


def plan_summary(plan: FieldPlan) -> dict[str, Any]:
    """The figures of a plan and of the naive plan side by side (for the CLI and the app).

    Returns
    -------
    dict
        ``as_of``, ``candidate_sites``, ``candidate_priority`` and, for ``optimised`` and
        ``naive``: ``sites``, ``problems``, ``priority``, ``km``, ``minutes``.
    """
    def figures(table: pd.DataFrame) -> dict[str, float | int]:
        return {"sites": int(table["sites"].sum()), "problems": int(table["problems"].sum()),
                "priority": round(float(table["priority"].sum()), 2),
                "km": round(float(table["km"].sum()), 2),
                "minutes": round(float(table["minutes"].sum()), 1)}

    return {"as_of": plan.as_of.isoformat(), "candidate_sites": len(plan.sites),
            "candidate_priority": round(float(plan.sites["priority"].sum()), 2),
            "optimised": figures(plan.routes), "naive": figures(plan.naive),
            "time_limit_reached": plan.time_limit_reached, "notes": list(plan.notes),
            "terms": list(TERMS)}

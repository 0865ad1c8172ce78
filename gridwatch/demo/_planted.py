"""Planted truths: patterns put into the demo on purpose, so analyses can be checked against them.

Areas are chosen with the seeded Generator from grid adjacency (grids sharing a boundary), far
apart from each other. The problems planted here are tagged (``tag``, ``group``) so the
generator can write ``planted.json`` after the final issue ids are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from gridwatch.demo._city import City, to_metric, xy_to_degrees, xy_to_metric
from gridwatch.demo._problems import Sampler, problems_at

__all__ = [
    "CLUSTER_NAMES",
    "Clusters",
    "choose_clusters",
    "micro_weights",
    "plant_mismatches",
    "plant_problems",
    "plant_rebounds",
]

CLUSTER_NAMES: tuple[str, ...] = ("overdue_hotspot", "cold_spot", "emerging_intensifying",
                                  "new_hotspot", "diminishing")
_CLUSTER_SIZE = 6


@dataclass
class Clusters:
    """Grid indices of each planted cluster, and the grid adjacency used to find them."""

    grids: dict[str, np.ndarray] = field(default_factory=dict)
    neighbours: list[np.ndarray] = field(default_factory=list)

    def all_grids(self) -> np.ndarray:
        """Every grid index in some cluster."""
        return np.unique(np.concatenate(list(self.grids.values())))


def choose_clusters(city: City, rng: np.random.Generator) -> Clusters:
    """Pick five clusters of adjacent grids, far apart; the overdue one in an industrial town."""
    geoms = city.grid.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left != right
    left, right = left[keep], right[keep]
    neighbours = np.split(right, np.searchsorted(left, np.arange(1, len(geoms))))
    centre = shapely.point_on_surface(geoms)
    cx, cy = xy_to_metric(shapely.get_x(centre), shapely.get_y(centre))
    area = shapely.area(to_metric(geoms)).sum()
    spacing = 6.0 * np.sqrt(area / len(geoms))
    town_of = city.grid["town_code"].to_numpy()
    industrial = set(city.town.loc[city.town["industrial"], "code"])
    is_industrial = np.array([t in industrial for t in town_of])
    chosen: list[int] = []
    out = Clusters(neighbours=neighbours)
    order = rng.permutation(len(geoms))
    for name in CLUSTER_NAMES:
        want_industrial = {"overdue_hotspot": True, "cold_spot": False}.get(name)
        pick = None
        for relax in (False, True):
            for i in order:
                if len(neighbours[i]) < _CLUSTER_SIZE - 1 or i in chosen:
                    continue
                if not relax and want_industrial is not None and \
                        is_industrial[i] != want_industrial:
                    continue
                d = np.hypot(cx[chosen] - cx[i], cy[chosen] - cy[i]) if chosen else np.array([])
                if (d > (spacing if not relax else spacing / 3)).all():
                    pick = int(i)
                    break
            if pick is not None:
                break
        if pick is None:
            raise ValueError("the city has too few grids to plant five separate clusters; "
                             "use a larger scale")
        chosen.append(pick)
        near = neighbours[pick]
        near = near[np.argsort(np.hypot(cx[near] - cx[pick], cy[near] - cy[pick]),
                               kind="stable")]
        out.grids[name] = np.sort(np.concatenate(([pick], near[: _CLUSTER_SIZE - 1])))
    return out


def micro_weights(city: City, clusters: Clusters, rng: np.random.Generator) -> np.ndarray:
    """Relative problem density of each micro-grid: industry, streets, local variation."""
    towns = city.town.set_index("code")
    grid_town = city.grid["town_code"].to_numpy()
    g_weight = (np.where(towns["industrial"].reindex(grid_town).to_numpy(), 2.5, 1.0)
                * np.where(towns["urban"].reindex(grid_town).to_numpy(), 1.6, 1.0)
                * rng.gamma(1.5, 1.0, len(grid_town)))
    g_weight[clusters.grids["cold_spot"]] *= 0.03
    grid_pos = pd.Index(city.grid["code"]).get_indexer(city.microgrid["grid_code"])
    return g_weight[grid_pos] * rng.gamma(4.0, 0.25, len(grid_pos))


def _micro_in(city: City, grids: np.ndarray) -> np.ndarray:
    codes = city.grid["code"].to_numpy()[grids]
    return np.flatnonzero(city.microgrid["grid_code"].isin(codes).to_numpy())


def _months(days: pd.DatetimeIndex) -> list[np.ndarray]:
    period = days.to_period("M")
    return [days[period == p].to_numpy().astype("datetime64[D]") for p in period.unique()]


def _tagged(frame: pd.DataFrame, tag: str, group: np.ndarray | int = -1) -> pd.DataFrame:
    frame["tag"] = tag
    frame["group"] = group
    return frame


def plant_problems(city: City, clusters: Clusters, *, n: int, days: pd.DatetimeIndex,
                   rng: np.random.Generator, sampler: Sampler) -> list[pd.DataFrame]:
    """Problems of the clusters, redline zones, duplicates and rebound originals (A side).

    The rebound re-reports (B side) depend on when A is closed; see :func:`plant_rebounds`.
    """
    mean_grid = n / len(city.grid)
    u = n / 250_000
    end = days[-1].to_datetime64().astype("datetime64[D]")
    frames: list[pd.DataFrame] = []
    months = _months(days)
    m_count = len(months)

    def in_cluster(name: str, per_month: np.ndarray | None, day_pool: np.ndarray | None,
                   count: int, category: str | None = None) -> pd.DataFrame:
        micro_pool = _micro_in(city, clusters.grids[name])
        if per_month is not None:
            day = np.concatenate([rng.choice(months[m], size=int(k))
                                  for m, k in enumerate(per_month)])
        elif day_pool is not None:
            day = rng.choice(day_pool, size=count)
        else:
            raise ValueError("in_cluster needs per_month or day_pool")
        micro = rng.choice(micro_pool, size=len(day))
        cats = (np.full(len(day), category, dtype=object) if category else
                rng.choice(np.array(["water", "air", "solid_waste"], dtype=object), len(day)))
        return _tagged(problems_at(day, cats, micro, rng=rng, sampler=sampler), name)

    grids = _CLUSTER_SIZE
    overdue_days = np.arange(end - 120, end - 24)
    overdue = in_cluster("overdue_hotspot", None, overdue_days,
                         grids * max(6, round(0.5 * mean_grid)))
    overdue["task_type"] = "常规"  # a deadline within days, long passed by the end
    frames.append(overdue)
    # Extra problems per cluster and month, in units of an average grid's monthly count.
    base = max(1.0, mean_grid / m_count) * grids
    ramp = np.linspace(0.0, 1.0, m_count)
    frames.append(in_cluster("emerging_intensifying",
                             np.round(base * (0.5 + 2.5 * ramp ** 2)).astype(int), None, 0))
    frames.append(in_cluster("diminishing",
                             np.round(base * (3.0 - 2.2 * ramp)).astype(int), None, 0))
    last_period = np.arange(end - 29, end + 1)
    frames.append(in_cluster("new_hotspot", None, last_period,
                             grids * max(6, round(4.0 * mean_grid / m_count))))
    frames.extend(_redline_problems(city, clusters, count=max(5, round(80 * u)), days=days,
                                    rng=rng, sampler=sampler))
    frames.append(_duplicates(city, clusters, count=max(5, round(100 * u)), days=days, rng=rng,
                              sampler=sampler))
    # Rebound originals: closed well before the end, so the re-report fits in the year.
    k = max(5, round(150 * u))
    pool = np.setdiff1d(np.arange(len(city.microgrid)), _micro_in(city, clusters.all_grids()))
    a_days = rng.choice(days.to_numpy().astype("datetime64[D]")[: max(1, len(days) - 90)], k)
    a = problems_at(a_days, rng.choice(np.array(["water", "air", "solid_waste"]), k),
                    rng.choice(pool, k), rng=rng, sampler=sampler)
    a["task_type"] = "立行立改"
    frames.append(_tagged(a, "rebound_original", np.arange(k)))
    return frames


def plant_rebounds(originals: pd.DataFrame, *, rng: np.random.Generator,
                   end: np.datetime64) -> pd.DataFrame:
    """Re-reports of closed problems at the same point and category, 3–55 days after closing."""
    closed = originals["closed_at"].to_numpy(dtype="datetime64[s]")
    gap = (rng.uniform(3.0, 55.0, len(originals)) * 86400).astype("timedelta64[s]")
    again = np.minimum(closed + gap, end.astype("datetime64[s]") + np.timedelta64(64800, "s"))
    b = originals[["category", "micro", "lon", "lat", "road", "house", "severity"]].copy()
    b["reported_at"] = again
    b["source_label"] = rng.choice(np.array(["群众举报", "网格巡查", "12345热线"]), len(b))
    b["description"] = "曾整改的问题再次出现：" + originals["description"].astype(str)
    b["task_type"] = "常规"
    return _tagged(b, "rebound_repeat", originals["group"].to_numpy())


def _points_in(geom: shapely.Geometry, k: int, rng: np.random.Generator,
               sampler: Sampler) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``k`` points inside a GCJ-02 polygon, each also well inside one micro-grid."""
    tree = shapely.STRtree(sampler.geoms)
    x0, y0, x1, y1 = shapely.bounds(geom)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    ms: list[np.ndarray] = []
    got = 0
    for _ in range(200):
        if got >= k:
            break
        x = np.round(rng.uniform(x0, x1, 4 * k), 6)
        y = np.round(rng.uniform(y0, y1, 4 * k), 6)
        inside = shapely.contains_xy(geom, x, y)
        pts = shapely.points(x[inside], y[inside])
        p_idx, m_idx = tree.query(pts, predicate="within")
        _, first = np.unique(p_idx, return_index=True)
        p_idx, m_idx = p_idx[first], m_idx[first]
        far = shapely.distance(sampler.boundaries[m_idx], pts[p_idx]) > sampler.margin
        p_idx, m_idx = p_idx[far], m_idx[far]
        xs.append(shapely.get_x(pts[p_idx]))
        ys.append(shapely.get_y(pts[p_idx]))
        ms.append(m_idx)
        got += len(p_idx)
    return np.concatenate(xs)[:k], np.concatenate(ys)[:k], np.concatenate(ms)[:k]


def _redline_problems(city: City, clusters: Clusters, *, count: int, days: pd.DatetimeIndex,
                      rng: np.random.Generator, sampler: Sampler) -> list[pd.DataFrame]:
    """Problems inside redline zones, and outside them but within 60–440 m."""
    zones = city.redline.geometry.to_numpy()
    metric = to_metric(zones)
    out = []
    for tag, shapes in (
        ("redline_inside", zones),
        ("redline_near", to_metric_ring(metric, 60.0, 440.0)),
    ):
        per_zone = np.bincount(rng.integers(0, len(zones), count), minlength=len(zones))
        for z, k in enumerate(per_zone):
            if not k:
                continue
            lon, lat, micro = _points_in(shapes[z], int(k), rng, sampler)
            day = rng.choice(days.to_numpy().astype("datetime64[D]"), len(lon))
            cats = rng.choice(np.array(["water", "ecology"]), len(lon))
            frame = problems_at(day, cats, micro, rng=rng, sampler=sampler)
            frame["lon"], frame["lat"] = lon, lat
            frame["zone"] = city.redline["code"].iloc[z]
            out.append(_tagged(frame, tag))
    return out


def to_metric_ring(metric: np.ndarray, inner: float, outer: float) -> np.ndarray:
    """Rings between ``inner`` and ``outer`` metres around metric polygons, in GCJ-02 degrees."""
    ring = shapely.difference(shapely.buffer(metric, outer), shapely.buffer(metric, inner))
    return shapely.transform(ring, lambda xy: np.column_stack(xy_to_degrees(xy[:, 0], xy[:, 1])))


def _duplicates(city: City, clusters: Clusters, *, count: int, days: pd.DatetimeIndex,
                rng: np.random.Generator, sampler: Sampler) -> pd.DataFrame:
    """Incidents reported 2–4 times by different sources within hours and metres."""
    pool = np.setdiff1d(np.arange(len(city.microgrid)), _micro_in(city, clusters.all_grids()))
    size = rng.integers(2, 5, count)
    incident = np.repeat(np.arange(count), size)
    micro = np.repeat(rng.choice(pool, count), size)
    day = np.repeat(rng.choice(days.to_numpy().astype("datetime64[D]")[:-1], count), size)
    cats = np.repeat(rng.choice(np.array(["water", "air", "solid_waste", "noise"]), count), size)
    frame = problems_at(day, cats, micro, rng=rng, sampler=sampler)
    first = np.r_[True, incident[1:] != incident[:-1]]
    start = np.repeat(frame["reported_at"].to_numpy()[first], size)
    delay = np.where(first, 0, rng.uniform(0.2, 6.0, len(frame)) * 3600).astype("timedelta64[s]")
    frame["reported_at"] = start + delay
    lon0 = np.repeat(frame["lon"].to_numpy()[first], size)
    lat0 = np.repeat(frame["lat"].to_numpy()[first], size)
    x0, y0 = xy_to_metric(lon0, lat0)
    angle = rng.uniform(0, 2 * np.pi, len(frame))
    dist = np.where(first, 0.0, rng.uniform(0.0, 15.0, len(frame)))
    lon, lat = xy_to_degrees(x0 + dist * np.cos(angle), y0 + dist * np.sin(angle))
    lon, lat = np.round(lon, 6), np.round(lat, 6)
    ok = shapely.contains_xy(sampler.geoms[micro], lon, lat)
    ok &= shapely.distance(sampler.boundaries[micro], shapely.points(lon, lat)) > sampler.margin
    frame["lon"] = np.where(ok, lon, lon0)
    frame["lat"] = np.where(ok, lat, lat0)
    # Each report of one incident comes from a different source, patrol or public first.
    order = np.array(["网格巡查", "群众举报", "12345热线", "12369热线"], dtype=object)
    rank = np.arange(len(frame)) - np.repeat(np.flatnonzero(first), size)
    rotate = np.repeat(rng.integers(0, 2, count), size)
    frame["source_label"] = order[(rank + rotate) % 4]
    frame["task_type"] = "立行立改"
    return _tagged(frame, "duplicate", incident)


def plant_mismatches(frame: pd.DataFrame, city: City, clusters: Clusters, *, count: int,
                     rng: np.random.Generator) -> pd.DataFrame:
    """Give ``count`` ordinary problems the code of a micro-grid in a neighbouring grid."""
    out = frame.copy()
    candidates = np.flatnonzero((out["tag"] == "").to_numpy())
    rows = np.sort(rng.choice(candidates, size=min(count, len(candidates)), replace=False))
    grid_pos = pd.Index(city.grid["code"]).get_indexer(city.microgrid["grid_code"])
    micro_by_grid = pd.Series(np.arange(len(grid_pos))).groupby(grid_pos).first()
    reported = out["reported_grid"].to_numpy(dtype=object, copy=True)
    for r in rows:
        own = grid_pos[out["micro"].iat[r]]
        near = clusters.neighbours[own]
        other = int(near[rng.integers(0, len(near))]) if len(near) else (own + 1) % len(
            city.grid)
        reported[r] = city.microgrid["code"].iat[int(micro_by_grid[other])]
    out["reported_grid"] = reported
    out.loc[out.index[rows], "tag"] = "grid_mismatch"
    return out

"""The demo city's boundary layers: generated towns, grids, micro-grids, basins and redlines.

The 7 counties are real (GCJ-02 numbers, see ``data/boundaries/SOURCE.txt``); everything below
them is generated, because no public town, grid, basin or redline polygons exist. Each level is a
Voronoi diagram of seeds spread by a few Lloyd (k-means) steps over random points inside the
parent, clipped to the parent, so children tile their parent exactly and look irregular, not like
a lattice. All geometry is built in a local metric plane (metres) and converted back to GCJ-02
degrees at the end; every random draw comes from one seeded ``numpy.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from gridwatch.errors import LayerError

__all__ = [
    "FULL_COUNTS",
    "SEGMENT_M",
    "City",
    "CountPlan",
    "build_city",
    "plan_counts",
    "read_counties",
    "to_degrees",
    "to_metric",
    "xy_to_degrees",
    "xy_to_metric",
]

#: Full-density totals of Jiaxing: towns/streets, grids, micro-grids.
FULL_COUNTS: tuple[int, int, int] = (73, 4649, 92600)

# Local metric plane around Jiaxing (equirectangular; metres).
_LON0, _LAT0 = 120.75, 30.65
_KX = 111_320.0 * np.cos(np.radians(_LAT0))
_KY = 110_574.0

#: Rough GCJ-02 position of each county's main urban area (towns near it become 街道).
_SEATS: dict[str, tuple[float, float]] = {
    "330402": (120.78, 30.75), "330411": (120.70, 30.77), "330421": (120.92, 30.84),
    "330424": (120.94, 30.53), "330481": (120.68, 30.52), "330482": (121.02, 30.70),
    "330483": (120.56, 30.63),
}

# Two-character words for generated town names (no claim that such towns exist).
_TOWN_WORDS: tuple[str, ...] = (
    "清溪", "东升", "永安", "兴隆", "长丰", "和平", "新塘", "龙泉", "金桥",
    "白云", "青松", "丰乐", "双溪", "瑞安", "广福", "三星", "联合", "太平",
    "安乐", "石门", "秀水", "梅园", "荷花", "柳庄", "渔村", "桑园", "稻香",
    "芦花", "莲池", "春晖", "明湖", "南浦", "北港", "东湾", "西塘口", "新丰桥",
    "杨柳", "银杏", "茶亭", "紫薇", "凤鸣", "鹤林", "龙湾", "虹桥", "星湖",
    "临河", "望江", "观澜", "长虹", "云龙", "景和", "泰和", "嘉禾", "福泉",
    "德胜", "仁和", "礼贤", "文昌", "武原里", "启明", "晨光", "朝阳", "新港",
    "塘湾", "湖滨", "沙洲", "港东", "河西", "桥北", "园区", "滨海", "江畔",
    "古镇", "新城", "湾里", "岗山", "竹林", "松溪", "梧桐", "樟树", "桂花",
    "蔷薇", "菱湖", "鱼池",
)

#: Generated river basins: name and a rough GCJ-02 seed (grids go to the nearest seed).
_BASINS: tuple[tuple[str, str, float, float], ...] = (
    ("330400B01", "运河流域", 120.62, 30.72),
    ("330400B02", "长水塘流域", 120.72, 30.55),
    ("330400B03", "平湖塘流域", 121.02, 30.75),
    ("330400B04", "红旗塘流域", 120.92, 30.92),
    ("330400B05", "海盐塘流域", 120.92, 30.45),
    ("330400B06", "上塘河流域", 120.45, 30.45),
)

#: Generated ecological redline zones: code, name, kind, rough GCJ-02 centre, radius in metres.
_REDLINES: tuple[tuple[str, str, str, float, float, float], ...] = (
    ("330400R01", "南湖湖泊生态保护区", "湖泊", 120.766, 30.757, 700.0),
    ("330400R02", "湘家荡湿地保护区", "湿地", 120.838, 30.806, 1300.0),
    ("330400R03", "长水塘饮用水水源保护区", "饮用水水源保护区", 120.705, 30.690, 1100.0),
    ("330400R04", "石臼漾饮用水水源保护区", "饮用水水源保护区", 120.705, 30.780, 800.0),
    ("330400R05", "贯泾港饮用水水源保护区", "饮用水水源保护区", 120.690, 30.830, 900.0),
    ("330400R06", "南北湖风景湿地保护区", "湿地", 120.905, 30.425, 1500.0),
    ("330400R07", "汾湖湖泊生态保护区", "湖泊", 120.860, 30.985, 1000.0),
    ("330400R08", "东湖湖泊生态保护区", "湖泊", 121.020, 30.700, 600.0),
    ("330400R09", "长山河湿地保护区", "湿地", 120.640, 30.470, 1000.0),
    ("330400R10", "乌镇湿地保护区", "湿地", 120.490, 30.740, 900.0),
)

Progress = Callable[[int], None]
#: Longest edge written, in metres (see _frame).
SEGMENT_M = 100.0


@dataclass(frozen=True)
class CountPlan:
    """How many towns each county gets, grids each town gets, micro-grids each grid gets."""

    towns_per_county: np.ndarray
    grids_per_town: np.ndarray
    micro_per_grid: np.ndarray


@dataclass
class City:
    """The generated layers, GCJ-02 degrees, each with ``code``, ``name`` and a parent code."""

    county: gpd.GeoDataFrame
    town: gpd.GeoDataFrame
    grid: gpd.GeoDataFrame
    microgrid: gpd.GeoDataFrame
    basin: gpd.GeoDataFrame
    redline: gpd.GeoDataFrame

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Return the layers by name, in parent-first order."""
        return {"county": self.county, "town": self.town, "grid": self.grid,
                "microgrid": self.microgrid, "basin": self.basin, "redline": self.redline}


def to_metric(geoms: np.ndarray) -> np.ndarray:
    """GCJ-02 degrees -> local metres (linear, so containment is kept)."""
    return shapely.transform(geoms, lambda xy: np.column_stack(
        ((xy[:, 0] - _LON0) * _KX, (xy[:, 1] - _LAT0) * _KY)))


def to_degrees(geoms: np.ndarray) -> np.ndarray:
    """Local metres -> GCJ-02 degrees."""
    return shapely.transform(geoms, lambda xy: np.column_stack(
        (xy[:, 0] / _KX + _LON0, xy[:, 1] / _KY + _LAT0)))


def xy_to_metric(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat -> local metres."""
    return (np.asarray(lon) - _LON0) * _KX, (np.asarray(lat) - _LAT0) * _KY


def xy_to_degrees(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Local metres -> GCJ-02 lon/lat."""
    return np.asarray(x) / _KX + _LON0, np.asarray(y) / _KY + _LAT0


def read_counties(path: Path) -> gpd.GeoDataFrame:
    """Read the real county boundaries (GCJ-02 numbers) as ``code``, ``name``, geometry."""
    if not Path(path).is_file():
        raise LayerError(f"counties file {str(path)!r} was not found; the demo city is built on "
                         "data/boundaries/jiaxing_counties.geojson")
    raw = gpd.read_file(path)
    out = gpd.GeoDataFrame({"code": raw["adcode"].astype(str).to_numpy(),
                            "name": raw["name"].astype(str).to_numpy()},
                           geometry=shapely.make_valid(raw.geometry.to_numpy()), crs="EPSG:4326")
    return out.sort_values("code", ignore_index=True)


def _largest_remainder(weights: np.ndarray, total: int, minimum: int) -> np.ndarray:
    """Integers >= minimum, proportional to weights, summing exactly to total."""
    n = len(weights)
    if total < n * minimum:
        raise ValueError(f"total {total} is too small for {n} parts of at least {minimum}")
    share = weights / weights.sum() * (total - n * minimum)
    base = np.floor(share).astype(np.int64)
    rest = total - n * minimum - int(base.sum())
    order = np.lexsort((np.arange(n), -(share - base)))
    base[order[:rest]] += 1
    return base + minimum


def _sample_inside(geom: shapely.Geometry, n: int, rng: np.random.Generator,
                   centre: tuple[float, float] | None = None,
                   spread: float = 0.0) -> np.ndarray:
    """``n`` random points inside a metric polygon; with ``centre`` half crowd around it."""
    shapely.prepare(geom)
    x0, y0, x1, y1 = shapely.bounds(geom)
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        m = max(2 * (n - got), 64)
        pts = np.column_stack((rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)))
        if centre is not None:
            near = rng.random(m) < 0.5
            pts[near] = np.asarray(centre) + rng.normal(0.0, spread, (int(near.sum()), 2))
        keep = pts[shapely.contains_xy(geom, pts[:, 0], pts[:, 1])]
        out.append(keep)
        got += len(keep)
    return np.concatenate(out)[:n]


def _split(parent: shapely.Geometry, n: int, rng: np.random.Generator, *,
           centre: tuple[float, float] | None = None, spread: float = 0.0,
           iterations: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Cut a metric polygon into ``n`` irregular cells; return (cells, seed xy) in code order."""
    if n == 1:
        point = shapely.point_on_surface(parent)
        return np.array([parent], dtype=object), np.array([[point.x, point.y]])
    samples = _sample_inside(parent, max(10 * n, 120), rng, centre, spread)
    seeds = samples[:n].copy()
    tree_labels = np.zeros(len(samples), dtype=np.int64)
    for _ in range(iterations):
        tree_labels = cKDTree(seeds).query(samples)[1]
        counts = np.bincount(tree_labels, minlength=n)
        sx = np.bincount(tree_labels, samples[:, 0], minlength=n)
        sy = np.bincount(tree_labels, samples[:, 1], minlength=n)
        filled = counts > 0
        seeds[filled] = np.column_stack((sx[filled] / counts[filled], sy[filled] / counts[filled]))
    # Snap each seed to the nearest sample point, so it lies inside the parent and cells are
    # never empty, then drop exact duplicates by nudging them to other samples.
    snapped = cKDTree(samples).query(seeds)[1]
    _, first = np.unique(snapped, return_index=True)
    dup = np.setdiff1d(np.arange(n), first)
    if dup.size:
        free = np.setdiff1d(np.arange(len(samples)), snapped[first])
        snapped[dup] = free[: dup.size]
    seeds = samples[snapped]
    # Codes run north to south in bands, west to east inside a band.
    band = np.sqrt(shapely.area(parent) / n)
    order = np.lexsort((seeds[:, 0], np.floor((seeds[:, 1].max() - seeds[:, 1]) / band)))
    seeds = seeds[order]
    cells = shapely.get_parts(shapely.voronoi_polygons(
        shapely.multipoints(seeds), extend_to=parent, ordered=True))
    clipped = _polygonal(shapely.intersection(cells, parent))
    return clipped, seeds


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of each geometry (intersections may add lines/points)."""
    out = np.asarray(geoms, dtype=object).copy()
    odd = np.flatnonzero(~np.isin(shapely.get_type_id(out), (3, 6)))
    for i in odd:
        parts = shapely.get_parts(out[i])
        parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        out[i] = shapely.union_all(parts) if len(parts) else shapely.Polygon()
    return out


def plan_counts(counties: gpd.GeoDataFrame, *, seed: int, scale: float = 1.0
                ) -> tuple[CountPlan, np.ndarray, np.ndarray]:
    """Allocate towns, grids and micro-grids; build only the towns' geometry.

    Returns the plan, the towns' metric geometry and a bool array "town is an urban street".
    """
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale!r}")
    towns_total, grids_total, micro_total = FULL_COUNTS
    grids_n = max(round(grids_total * scale), 2 * len(counties))
    micro_n = max(round(micro_total * scale), 3 * grids_n)
    towns_n = min(towns_total, max(len(counties), grids_n // 8))
    rng = np.random.default_rng([seed, 1])
    metric = to_metric(counties.geometry.to_numpy())
    areas = shapely.area(metric)
    towns_per_county = _largest_remainder(areas, towns_n, 1)
    town_geoms: list[np.ndarray] = []
    urban: list[np.ndarray] = []
    for code, geom, k in zip(counties["code"], metric, towns_per_county, strict=True):
        sx, sy = xy_to_metric(*_SEATS.get(code, (np.nan, np.nan)))
        seat = (float(sx), float(sy)) if np.isfinite(sx) else None
        cells, seeds = _split(geom, int(k), rng, centre=seat, spread=4000.0)
        town_geoms.append(cells)
        if seat is None:
            urban.append(np.zeros(len(cells), dtype=bool))
        else:
            dist = np.hypot(seeds[:, 0] - seat[0], seeds[:, 1] - seat[1])
            streets = min(max(1, len(cells) // 3), len(cells))
            urban.append(np.isin(np.arange(len(cells)), np.argsort(dist)[:streets]))
    towns = np.concatenate(town_geoms)
    is_urban = np.concatenate(urban)
    # Urban streets are small and dense: three times the grids per square kilometre.
    weight = shapely.area(towns) * np.where(is_urban, 3.0, 1.0)
    grids_per_town = _largest_remainder(weight, grids_n, 1)
    micro_weight = rng.gamma(8.0, 1.0, grids_n)
    micro_per_grid = _largest_remainder(micro_weight, micro_n, 3)
    return CountPlan(towns_per_county, grids_per_town, micro_per_grid), towns, is_urban


def build_city(counties: gpd.GeoDataFrame, *, seed: int, scale: float = 1.0,
               progress: Progress | None = None) -> City:
    """Generate every layer of the demo city inside the real counties.

    ``progress`` is called with the number of grids split into micro-grids since the last call.
    """
    plan, town_m, is_urban = plan_counts(counties, seed=seed, scale=scale)
    rng = np.random.default_rng([seed, 2])
    county_codes = np.repeat(counties["code"].to_numpy(), plan.towns_per_county)
    county_names = np.repeat(counties["name"].to_numpy(), plan.towns_per_county)
    town_seq = np.concatenate([np.arange(1, k + 1) for k in plan.towns_per_county])
    town_codes = np.array([f"{c}{s:03d}" for c, s in zip(county_codes, town_seq, strict=True)])
    words = np.array(_TOWN_WORDS)[rng.permutation(len(_TOWN_WORDS))[: len(town_codes)]]
    town_names = np.array([f"{w}{'街道' if u else '镇'}"
                           for w, u in zip(words, is_urban, strict=True)])
    industrial = np.zeros(len(town_codes), dtype=bool)
    industrial[rng.permutation(len(town_codes))[: max(1, len(town_codes) // 4)]] = True
    town = _frame(town_codes, town_names, town_m, county_code=county_codes,
                  county_name=county_names, urban=is_urban, industrial=industrial)

    grid_geoms, grid_codes, grid_names, grid_town = [], [], [], []
    micro_geoms, micro_codes, micro_names, micro_grid = [], [], [], []
    micro_iter = iter(plan.micro_per_grid)
    for t_code, t_name, t_geom, k in zip(town_codes, town_names, town_m, plan.grids_per_town,
                                         strict=True):
        cells, _ = _split(t_geom, int(k), rng)
        for j, g_geom in enumerate(cells, start=1):
            g_code = f"{t_code}{j:03d}"
            grid_geoms.append(g_geom)
            grid_codes.append(g_code)
            grid_names.append(f"{t_name}第{j}网格")
            grid_town.append(t_code)
            m = int(next(micro_iter))
            sub, _ = _split(g_geom, m, rng, iterations=4)
            digits = 2 if m < 100 else 3
            for i, mg in enumerate(sub, start=1):
                micro_geoms.append(mg)
                micro_codes.append(f"{g_code}{i:0{digits}d}")
                micro_names.append(f"{t_name}第{j}网格{i}号微网格")
                micro_grid.append(g_code)
            if progress is not None:
                progress(1)
    grid_m = np.array(grid_geoms, dtype=object)
    grid = _frame(np.array(grid_codes), np.array(grid_names), grid_m, town_code=grid_town)
    micro = _frame(np.array(micro_codes), np.array(micro_names),
                   np.array(micro_geoms, dtype=object), grid_code=micro_grid)
    return City(county=_counties(counties), town=town, grid=grid, microgrid=micro,
                basin=_basins(grid_m), redline=_redlines(counties))


def _frame(codes: np.ndarray, names: np.ndarray, metric: np.ndarray,
           **columns: object) -> gpd.GeoDataFrame:
    data = {"code": codes.astype(str), "name": names.astype(str)}
    data.update({k: np.asarray(v) for k, v in columns.items()})
    # GCJ-02 -> WGS84 is not linear: a long edge noded differently in two neighbours (one
    # has an extra vertex on it) would bend apart into slivers once converted. Short
    # segments keep neighbours together to well under a square metre.
    geoms = to_degrees(shapely.segmentize(metric, SEGMENT_M))
    return gpd.GeoDataFrame(pd.DataFrame(data), geometry=geoms, crs="EPSG:4326")


def _counties(counties: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The real counties, densified like the generated layers (same shape, more vertices)."""
    metric = shapely.segmentize(to_metric(counties.geometry.to_numpy()), SEGMENT_M)
    out = gpd.GeoDataFrame({"code": counties["code"].to_numpy(),
                            "name": counties["name"].to_numpy(), "city": "嘉兴市"},
                           geometry=to_degrees(metric), crs="EPSG:4326")
    return out


def _basins(grid_m: np.ndarray) -> gpd.GeoDataFrame:
    """Basins as unions of whole grids, each grid going to the nearest basin seed."""
    bx, by = xy_to_metric(np.array([b[2] for b in _BASINS]), np.array([b[3] for b in _BASINS]))
    centres = shapely.point_on_surface(grid_m)
    label = cKDTree(np.column_stack((bx, by))).query(
        np.column_stack((shapely.get_x(centres), shapely.get_y(centres))))[1]
    geoms, codes, names = [], [], []
    for i, (code, name, _, _) in enumerate(_BASINS):
        members = grid_m[label == i]
        if not len(members):
            continue
        geoms.append(shapely.make_valid(shapely.union_all(members)))
        codes.append(code)
        names.append(name)
    out = _frame(np.array(codes), np.array(names), np.array(geoms, dtype=object))
    out.geometry = shapely.make_valid(out.geometry.to_numpy())
    return out


def _redlines(counties: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Blob-shaped lakes, wetlands and water-source areas, clipped to the city."""
    rng = np.random.default_rng(20261031)  # fixed shapes, whatever the problems' seed
    city = shapely.union_all(to_metric(counties.geometry.to_numpy()))
    geoms, codes, names, kinds = [], [], [], []
    angles = np.linspace(0.0, 2 * np.pi, 48, endpoint=False)
    for code, name, kind, lon, lat, radius in _REDLINES:
        cx, cy = xy_to_metric(lon, lat)
        wobble = 1.0 + sum(rng.uniform(0.05, 0.22) * np.sin(k * angles + rng.uniform(0, 6.3))
                           for k in (2, 3, 5))
        ring = np.column_stack((cx + radius * wobble * np.cos(angles),
                                cy + radius * 0.8 * wobble * np.sin(angles)))
        blob = shapely.intersection(shapely.Polygon(ring), city)
        if shapely.is_empty(blob):
            continue
        geoms.append(blob)
        codes.append(code)
        names.append(name)
        kinds.append(kind)
    return _frame(np.array(codes), np.array(names), _polygonal(np.array(geoms, dtype=object)),
                  zone_type=kinds)

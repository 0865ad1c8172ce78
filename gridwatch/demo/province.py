"""The province demo: the 90 real counties of Zhejiang with generated towns, grids and
micro-grids at Jiaxing's density, and a configurable number of problems.

It is built like the demo city (:mod:`gridwatch.demo._city`: each level a clipped Voronoi
diagram of seeds spread by Lloyd steps, in a local metric plane, GCJ-02 degrees at the end),
county by county with a random generator per county, so a county's areas do not depend on the
others. ``density`` scales Jiaxing's areas per square kilometre (at 1.0 about 2,100 towns,
116,000 grids and 2.3 million micro-grids; building them takes long on one machine, so the
benchmarks use a share of it). The problems are ordinary ones (no planted patterns, no ledger),
written as one export taken at the end of the period, in files of at most 1,000,000 rows
(UTF-8 CSV with the platform's Chinese headers, GCJ-02 coordinates).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridwatch.demo._city import (
    FULL_COUNTS,
    _frame,
    _largest_remainder,
    _split,
    read_counties,
    to_degrees,
    to_metric,
)
from gridwatch.errors import ConfigError

__all__ = ["PROVINCE_LAYERS", "ROWS_PER_FILE", "build_province", "generate_province",
           "province_counties_path", "province_plan"]

_REPO = Path(__file__).resolve().parents[2]
#: Layers of the province demo, parent first.
PROVINCE_LAYERS: tuple[str, ...] = ("county", "town", "grid", "microgrid")
#: Rows per problem file (the reader's default ``[input] max_rows`` is 2,000,000).
ROWS_PER_FILE = 1_000_000
MAX_PROBLEMS = 10_000_000
_EXPORT_CLOCK = np.timedelta64(86399, "s")

Progress = Callable[[str, int, int], None]


def province_counties_path() -> Path:
    """The 90 real county boundaries of Zhejiang (``data/boundaries``, GCJ-02)."""
    return _REPO / "data" / "boundaries" / "zhejiang_counties.geojson"


def _jiaxing_km2() -> float:
    from gridwatch.demo import counties_path

    return float(shapely.area(to_metric(read_counties(counties_path()).geometry.to_numpy()))
                 .sum() / 1e6)


def province_plan(counties: gpd.GeoDataFrame, *, density: float = 1.0) -> pd.DataFrame:
    """Towns, grids and micro-grids per county at ``density`` times Jiaxing's per km².

    Returns a frame with ``code``, ``km2``, ``towns``, ``grids``, ``micro`` per county.
    """
    if not 0 < density <= 1:
        raise ConfigError(f"density must be in (0, 1], got {density!r}")
    km2 = shapely.area(to_metric(counties.geometry.to_numpy())) / 1e6
    per_km2 = np.array(FULL_COUNTS, dtype=float) / _jiaxing_km2()
    grids = np.maximum(np.round(km2 * per_km2[1] * density), 2).astype(np.int64)
    micro = np.maximum(np.round(km2 * per_km2[2] * density), 3 * grids).astype(np.int64)
    towns = np.clip(np.round(km2 * per_km2[0]), 1, np.maximum(grids // 8, 1)).astype(np.int64)
    return pd.DataFrame({"code": counties["code"].to_numpy(), "km2": km2, "towns": towns,
                         "grids": grids, "micro": micro})


def _town_words() -> tuple[str, ...]:
    from gridwatch.demo._city import _TOWN_WORDS

    return _TOWN_WORDS


def _build_county(code: str, name: str, city: str, geom_m: shapely.Geometry, towns: int,
                  grids: int, micro: int, rng: np.random.Generator
                  ) -> dict[str, dict[str, list[object]]]:
    """The towns, grids and micro-grids of one county (metric geometry), as column lists."""
    centre = shapely.point_on_surface(geom_m)
    seat = (float(centre.x), float(centre.y))
    town_m, seeds = _split(geom_m, towns, rng, centre=seat, spread=4000.0)
    dist = np.hypot(seeds[:, 0] - seat[0], seeds[:, 1] - seat[1])
    urban = np.isin(np.arange(len(town_m)), np.argsort(dist)[: max(1, len(town_m) // 3)])
    words = _town_words()
    out: dict[str, dict[str, list[object]]] = {
        k: {"code": [], "name": [], "geom": [], "parent": []}
        for k in ("town", "grid", "microgrid")}
    weight = shapely.area(town_m) * np.where(urban, 3.0, 1.0)
    grids_per_town = _largest_remainder(weight, max(grids, len(town_m)), 1)
    micro_per_grid = iter(_largest_remainder(rng.gamma(8.0, 1.0, int(grids_per_town.sum())),
                                             max(micro, 3 * int(grids_per_town.sum())), 3))
    for t, (t_geom, k) in enumerate(zip(town_m, grids_per_town, strict=True), start=1):
        t_code = f"{code}{t:03d}"
        t_name = f"{words[(t - 1) % len(words)]}{'街道' if urban[t - 1] else '镇'}"
        if t > len(words):
            t_name = f"{t_name}{(t - 1) // len(words) + 1}"
        for key, value in (("code", t_code), ("name", t_name), ("geom", t_geom),
                           ("parent", code)):
            out["town"][key].append(value)
        cells, _ = _split(t_geom, int(k), rng)
        for j, g_geom in enumerate(cells, start=1):
            g_code = f"{t_code}{j:03d}"
            for key, value in (("code", g_code), ("name", f"{t_name}第{j}网格"),
                               ("geom", g_geom), ("parent", t_code)):
                out["grid"][key].append(value)
            m = int(next(micro_per_grid))
            sub, _ = _split(g_geom, m, rng, iterations=4)
            digits = 2 if m < 100 else 3
            for i, mg in enumerate(sub, start=1):
                for key, value in (("code", f"{g_code}{i:0{digits}d}"),
                                   ("name", f"{t_name}第{j}网格{i}号微网格"), ("geom", mg),
                                   ("parent", g_code)):
                    out["microgrid"][key].append(value)
    out["town"]["urban"] = list(urban)
    out["town"]["county_name"] = [name] * len(town_m)
    out["town"]["city"] = [city] * len(town_m)
    return out


def build_province(counties: gpd.GeoDataFrame, *, seed: int, density: float = 1.0,
                   progress: Callable[[int], None] | None = None
                   ) -> dict[str, gpd.GeoDataFrame]:
    """Generate the towns, grids and micro-grids inside the real counties.

    ``counties`` has ``code``, ``name``, ``city`` and GCJ-02 geometry (from the province
    file). Returns the layers by name (GCJ-02 degrees), parent first; each layer has
    ``code``, ``name`` and its parent's code (``county_code``, ``town_code``, ``grid_code``).
    ``progress`` is called with 1 after each county.
    """
    plan = province_plan(counties, density=density)
    metric = to_metric(counties.geometry.to_numpy())
    parts = []
    for k, row in enumerate(counties.itertuples(index=False)):
        rng = np.random.default_rng([seed, 31, k])
        parts.append(_build_county(row.code, row.name, row.city, metric[k],
                                   int(plan["towns"].iloc[k]), int(plan["grids"].iloc[k]),
                                   int(plan["micro"].iloc[k]), rng))
        if progress is not None:
            progress(1)

    def joined(level: str, key: str) -> np.ndarray:
        return np.array([v for p in parts for v in p[level][key]], dtype=object)

    county = gpd.GeoDataFrame(
        {"code": counties["code"].to_numpy(), "name": counties["name"].to_numpy(),
         "city": counties["city"].to_numpy()},
        geometry=to_degrees(shapely.segmentize(metric, 100.0)), crs="EPSG:4326")
    town = _frame(joined("town", "code"), joined("town", "name"), joined("town", "geom"),
                  county_code=joined("town", "parent"),
                  county_name=joined("town", "county_name"), city=joined("town", "city"),
                  urban=joined("town", "urban").astype(bool))
    grid = _frame(joined("grid", "code"), joined("grid", "name"), joined("grid", "geom"),
                  town_code=joined("grid", "parent"))
    micro = _frame(joined("microgrid", "code"), joined("microgrid", "name"),
                   joined("microgrid", "geom"), grid_code=joined("microgrid", "parent"))
    return {"county": county, "town": town, "grid": grid, "microgrid": micro}


def province_problems(layers: dict[str, gpd.GeoDataFrame], n: int, *, seed: int,
                      days: pd.DatetimeIndex) -> pd.DataFrame:
    """``n`` ordinary problems over the province's micro-grids (the demo city's generator:
    seasonal categories, sources, times and handling), with ``ZJ`` issue ids and addresses
    in their own city."""
    from gridwatch.demo._problems import (
        Sampler,
        background_problems,
        finish_problems,
        lifecycle,
    )

    rng = np.random.default_rng([seed, 33])
    micro = layers["microgrid"]
    town = layers["town"]
    urban_town = pd.Series(town["urban"].to_numpy(dtype=bool), index=town["code"])
    grid_town = layers["grid"].set_index("code")["town_code"]
    urban = urban_town.reindex(grid_town.reindex(micro["grid_code"]).to_numpy()).to_numpy(
        dtype=bool)
    weights = rng.gamma(0.8, 1.0, len(micro)) * np.where(urban, 3.0, 1.0)
    frame = background_problems(n, micro_weight=weights, days=days, rng=rng,
                                sampler=Sampler(micro, rng))
    frame["tag"] = ""
    frame["group"] = -1
    frame = lifecycle(frame, rng=rng)
    frame["reported_grid"] = micro["code"].to_numpy(dtype=object)[frame["micro"].to_numpy()]
    frame["tiebreak"] = rng.random(len(frame))
    frame = finish_problems(frame, micro, grid_town, town)
    frame["issue_id"] = "ZJ" + frame["issue_id"].str.slice(2)
    city = town.set_index("code")["city"].reindex(frame["town_code"]).to_numpy(dtype=object)
    frame["address"] = city + frame["address"].str.slice(3).to_numpy(dtype=object)
    frame["address_only"] = False  # every row has its coordinates (no geocoding here)
    return frame


def generate_province(out_dir: Path, *, problems: int, seed: int = 20261031,
                      density: float = 0.1, days: int = 365, end: str = "2026-10-31",
                      progress: Progress | None = None) -> Path:
    """Write the province demo into ``out_dir``; return its project file.

    Parameters
    ----------
    out_dir
        Folder to write into (written beside it first, then moved in).
    problems
        Number of problems (1,000 to 10,000,000).
    seed
        Seed of every random draw.
    density
        Share of Jiaxing's areas per km² (0 < density <= 1).
    days, end
        The period of the problems, ending on ``end``.
    progress
        Called as ``progress(stage, done, total)``.
    """
    if isinstance(problems, bool) or not 1_000 <= problems <= MAX_PROBLEMS:
        raise ConfigError(f"problems must be a whole number from 1,000 to {MAX_PROBLEMS:,}, "
                          f"got {problems!r}")
    say = progress or (lambda _stage, _done, _total: None)
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:12]}"
    work.mkdir()
    try:
        raw = gpd.read_file(province_counties_path())
        counties = read_counties(province_counties_path()).merge(
            pd.DataFrame({"code": raw["adcode"].astype(str), "city": raw["city"].astype(str)}),
            on="code", how="left")
        say("layers", 0, len(counties))
        layers = build_province(counties, seed=seed, density=density,
                                progress=lambda k: say("layers", k, len(counties)))
        for name, layer in layers.items():
            out_layer = layer.copy()
            if "urban" in out_layer:
                out_layer["urban"] = out_layer["urban"].astype("int32")
            out_layer.to_file(work / f"{name}.gpkg", driver="GPKG", layer=name,
                              engine="pyogrio")
        say("problems", 0, problems)
        end_day = np.datetime64(end, "D")
        day_index = pd.date_range(pd.Timestamp(end_day) - pd.Timedelta(days=days - 1),
                                  periods=days, freq="D")
        frame = province_problems(layers, problems, seed=seed, days=day_index)
        say("problems", problems, problems)
        files = _write_problems(frame, work, when=end_day.astype("datetime64[s]") +
                                _EXPORT_CLOCK, progress=lambda _k, t: say("files", 1, t))
        record = {"province": "浙江省", "seed": seed, "problems": len(frame),
                  "density": density, "days": days, "end": end, "files": files,
                  "areas": {k: len(v) for k, v in layers.items()}}
        (work / "province.json").write_text(json.dumps(record, ensure_ascii=False, indent=1),
                                            encoding="utf-8")
        (work / "gridwatch.toml").write_text(province_config_text(), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out / "gridwatch.toml"


def _write_problems(frame: pd.DataFrame, folder: Path, *, when: np.datetime64,
                    progress: Callable[[int, int], None]) -> list[str]:
    from gridwatch.demo._exports import export_frame

    chunks = max(1, -(-len(frame) // ROWS_PER_FILE))
    names = []
    for k in range(chunks):
        part = frame.iloc[k * ROWS_PER_FILE:(k + 1) * ROWS_PER_FILE]
        name = f"problems_{k + 1:02d}.csv"
        export_frame(part, when).to_csv(folder / name, index=False, encoding="utf-8-sig")
        names.append(name)
        progress(k + 1, chunks)
    return names


def province_config_text() -> str:
    """The province demo's ``gridwatch.toml``."""
    from gridwatch.demo._exports import config_text, territory_lines

    city = config_text("")
    # the demo city's deadline rules and supervision settings, the province's layers
    start, stop = city.index("[deadlines]"), city.index("# Hotline calls")
    parts = [
        "# The province demo of Zhejiang (浙江省): written by `gridwatch demo generate "
        "--province`.",
        "# Counties are real (data/boundaries/SOURCE.txt); towns, grids and micro-grids are "
        "generated.",
        "",
        *territory_lines("浙江省"),
        city[start:stop].rstrip(),
    ]
    layers = [("county", "admin", None, None), ("town", "admin", "county", "county_code"),
              ("grid", "grid", "town", "town_code"),
              ("microgrid", "microgrid", "grid", "grid_code")]
    for name, kind, parent, field in layers:
        parts += ["", "[[layers]]", f'name = "{name}"', f'path = "{name}.gpkg"',
                  'id_field = "code"', 'name_field = "name"', f'kind = "{kind}"',
                  'crs = "gcj02"']
        if parent:
            parts += [f'parent = "{parent}"', f'parent_field = "{field}"']
    return "\n".join(parts) + "\n"

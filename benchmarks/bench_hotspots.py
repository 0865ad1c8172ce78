"""Benchmark of the hotspot stage at city scale (not a unit test).

Measures, in one process and on the same data:

- Queen weights for 92,600 micro-grids and 4,649 grids (built, then from the memory and disk
  caches);
- Gi* with 999 conditional permutations: ``gridwatch.hotspots.gi_star`` against
  ``esda.G_Local(y, w, transform="B", star=True, permutations=999, seed=...)`` called directly
  (the baseline), checking that both give the same z and p;
- the emerging analysis over 52 weeks on the grids, against esda's ``G_Local`` called once per
  week on the same space-time windows (analytical z, the part esda can do);
- the permuted ids of Gi*: gridwatch's compiled sampler against
  ``esda.crand.vec_permutations`` (numba), checking that both draw the same ids.

The areas are Voronoi cells of random points inside the 7 real Jiaxing counties
(``data/boundaries/jiaxing_counties.geojson``), or the layers given with ``--micro``/``--grids``
(e.g. the demo city's ``microgrid.gpkg`` and ``grid.gpkg``).

Run::

    .venv/bin/python benchmarks/bench_hotspots.py            # full: ~3-5 minutes on 2 cores
    .venv/bin/python benchmarks/bench_hotspots.py --quick    # 9,260 / 465 areas
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridwatch.hotspots import (
    build_weights,
    clear_weights_cache,
    emerging_hotspots,
    gi_star,
    space_time_weights,
)

REPO = Path(__file__).resolve().parents[1]
COUNTIES = REPO / "data" / "boundaries" / "jiaxing_counties.geojson"


def voronoi_areas(n: int, *, seed: int, prefix: str) -> gpd.GeoDataFrame:
    """``n`` Voronoi cells of random points inside the Jiaxing counties, clipped to them."""
    counties = gpd.read_file(COUNTIES)
    region = shapely.union_all(counties.geometry.to_numpy())
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = region.bounds
    points = np.empty((0, 2))
    while len(points) < n:
        x = rng.uniform(x0, x1, 2 * n)
        y = rng.uniform(y0, y1, 2 * n)
        inside = shapely.contains_xy(region, x, y)
        points = np.vstack([points, np.column_stack([x[inside], y[inside]])])
    points = points[:n]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points),
                                                       extend_to=region))
    cells = shapely.intersection(cells, region)
    cells = cells[~shapely.is_empty(cells)]
    ids = [f"{prefix}{i:06d}" for i in range(len(cells))]
    return gpd.GeoDataFrame({"area_id": ids, "area_name": ids}, geometry=cells,
                            crs="EPSG:4326")


def read_areas(path: Path) -> gpd.GeoDataFrame:
    """A layer file with area_id (or the first string column) and geometry."""
    frame = gpd.read_file(path)
    if "area_id" not in frame:
        first = next(c for c in frame.columns if frame[c].dtype == object or str(frame[c].dtype)
                     == "str")
        frame = frame.rename(columns={first: "area_id"})
    frame["area_id"] = frame["area_id"].astype(str)
    frame["area_name"] = frame.get("area_name", frame["area_id"])
    return frame[["area_id", "area_name", "geometry"]].to_crs("EPSG:4326")


def clustered_counts(areas: gpd.GeoDataFrame, *, seed: int) -> np.ndarray:
    """Poisson counts with a planted dense cluster around one area."""
    rng = np.random.default_rng(seed)
    y = rng.poisson(2.0, len(areas)).astype(float)
    centre = shapely.centroid(areas.geometry.to_numpy())
    c0 = centre[len(centre) // 2]
    near = np.argsort(shapely.distance(centre, c0))[: max(10, len(areas) // 200)]
    y[near] += rng.poisson(8.0, near.size)
    return y


def timed(func, *args, **kwargs):
    start = time.perf_counter()
    out = func(*args, **kwargs)
    return out, time.perf_counter() - start


def bench_weights(areas: gpd.GeoDataFrame, cache: Path) -> dict[str, float]:
    clear_weights_cache()
    _, built = timed(build_weights, areas, cache_dir=cache)
    _, memory = timed(build_weights, areas, cache_dir=cache)
    clear_weights_cache()
    _, disk = timed(build_weights, areas, cache_dir=cache)
    return {"weights_built_s": built, "weights_memory_cache_s": memory,
            "weights_disk_cache_s": disk}


def bench_gistar(areas: gpd.GeoDataFrame, cache: Path, *, permutations: int,
                 seed: int) -> dict[str, float]:
    import esda

    weights = build_weights(areas, cache_dir=cache)
    y = clustered_counts(areas, seed=seed)
    ours, t_ours = timed(gi_star, areas, y, weights=weights, permutations=permutations,
                         seed=seed)
    graph = weights.to_graph()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, t_esda = timed(esda.G_Local, y, graph, transform="B", star=True,
                            permutations=permutations, seed=seed, keep_simulations=False,
                            n_jobs=1)
    same_z = bool(np.allclose(ours["z"], ref.Zs, atol=1e-9, equal_nan=True))
    counts = np.rint(np.asarray(ref.p_sim, dtype=float) * (permutations + 1))  # float32 in esda
    p_ref = np.minimum(1.0, 2.0 * counts / (permutations + 1))
    same_p = bool(np.allclose(ours["p"], p_ref, rtol=1e-9))
    return {"gistar_gridwatch_s": t_ours, "gistar_esda_s": t_esda,
            "speedup": t_esda / t_ours, "same_z": same_z, "same_p": same_p,
            "hot_99": int((ours["bin"] == 3).sum())}


def bench_sampler(n: int, max_card: int, *, permutations: int, seed: int) -> dict[str, object]:
    from esda.crand import vec_permutations

    from gridwatch.hotspots._permutation import permutation_ids

    vec_permutations(2, 10, 2, seed)  # both compiled (or loaded from numba's cache) first
    permutation_ids(2, 10, 2, seed)
    ours, t_ours = timed(permutation_ids, max_card, n, permutations, seed)
    ref, t_esda = timed(vec_permutations, max_card, n, permutations, seed)
    return {"ids_gridwatch_s": t_ours, "ids_esda_s": t_esda, "speedup": t_esda / t_ours,
            "same_ids": bool(np.array_equal(ours, ref))}


def bench_emerging(areas: gpd.GeoDataFrame, cache: Path, *, weeks: int,
                   seed: int) -> dict[str, float]:
    import esda
    from libpysal.graph import Graph

    weights = build_weights(areas, cache_dir=cache)
    rng = np.random.default_rng(seed)
    base = clustered_counts(areas, seed=seed)
    counts = rng.poisson(np.outer(base / 4 + 0.2, np.linspace(0.8, 1.2, weeks)))
    periods = pd.period_range(end="2026-10-31", periods=weeks, freq="W-SUN")
    frame = pd.DataFrame(counts, index=areas["area_id"], columns=periods)
    result, t_ours = timed(emerging_hotspots, areas, frame, weights=weights, time_lag=1)
    n = len(areas)
    st = space_time_weights(weights.matrix, weeks, time_lag=1)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in range(weeks):
            first = max(0, t - 1)
            window = st[first * n:(t + 1) * n, first * n:(t + 1) * n].tocsr()
            window.setdiag(0)
            window.eliminate_zeros()
            y = counts[:, first:t + 1].T.ravel().astype(float)
            esda.G_Local(y, Graph.from_sparse(window), transform="B", star=True,
                         permutations=0)
    t_esda = time.perf_counter() - start
    return {"emerging_gridwatch_s": t_ours, "emerging_esda_loop_s": t_esda,
            "speedup": t_esda / t_ours,
            "categories": result["category"].value_counts().to_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the areas")
    parser.add_argument("--micro", type=Path, help="micro-grid layer file instead of Voronoi")
    parser.add_argument("--grids", type=Path, help="grid layer file instead of Voronoi")
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        layers = {
            "microgrids": (read_areas(args.micro) if args.micro
                           else voronoi_areas(92_600 // scale, seed=1, prefix="M")),
            "grids": (read_areas(args.grids) if args.grids
                      else voronoi_areas(4_649 // scale, seed=2, prefix="G")),
        }
        for name, areas in layers.items():
            entry: dict[str, object] = {"areas": len(areas)}
            entry.update(bench_weights(areas, cache))
            entry["gistar"] = bench_gistar(areas, cache, permutations=args.permutations,
                                           seed=args.seed)
            max_card = int(build_weights(areas, cache_dir=cache).cardinalities().max())
            entry["permuted_ids"] = bench_sampler(len(areas), max_card,
                                                  permutations=args.permutations, seed=args.seed)
            report[name] = entry
            if not args.json:
                print(name, json.dumps(entry, indent=1), flush=True)
        report["emerging_grids"] = bench_emerging(layers["grids"], cache, weeks=args.weeks,
                                                  seed=args.seed)
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        print("emerging_grids", json.dumps(report["emerging_grids"], indent=1, default=str))


if __name__ == "__main__":
    main()

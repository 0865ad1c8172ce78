"""Benchmark of placing points in areas at city scale (not a unit test).

Measures, in one process and on the same data (the full-density demo city: 92,600 micro-grids,
4,649 grids, 73 towns, 7 counties, basins and redlines, read through ``load_layers`` so in
WGS84 as the pipeline has them) and 1,000,000 clustered points:

- the micro-grid layer: ``geopandas.sjoin(predicate="within")`` (the baseline), the shapely
  path ``locate_points`` had before (``tests/_reference.py``) and the compiled kernel, best of
  ``--repeat``; numba's compile (or cache load) and building the layer's index are timed
  apart; the ids must be identical;
- ``assign_areas`` over every layer of the demo, old (the shapely path for every layer) and
  new (the kernel), whose frames must be equal, with the placement part timed on its own
  (the rest is the redline distances, the same code in both).

The demo layers are generated once into ``--cache`` (default ``data/cache/bench_placing``,
ignored by git), which takes about a minute.

Run::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_placing.py
    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_placing.py --points 200000 --repeat 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _reference import assign_areas_reference, locate_points_reference  # noqa: E402
from _timing import best  # noqa: E402

from gridwatch.config import Config, load_config  # noqa: E402
from gridwatch.placing import _pip  # noqa: E402
from gridwatch.placing.assign import _layer_positions, _spatial_order, assign_areas  # noqa: E402
from gridwatch.placing.layers import (  # noqa: E402
    _layer_index,
    load_layers,
    locate_points,
    representative_xy,
)


def demo_city(cache: Path) -> tuple[Config, dict[str, gpd.GeoDataFrame]]:
    """The full-density demo city's project and layers, generated into ``cache`` once."""
    config_path = cache / "gridwatch.toml"
    if not config_path.exists():
        from gridwatch.demo import generate

        print(f"generating the full demo city into {cache} (about a minute) ...", flush=True)
        generate(cache, problems=20_000, scale=1.0)
    config = load_config(config_path)
    return config, load_layers(config)


def clustered_points(layer: gpd.GeoDataFrame, n: int, *, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Points inside the layer's areas, as the demo's problems are: most around a few hundred
    hot places of very unequal weight (a town centre, an industrial park), the rest spread
    over the whole city."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = layer.total_bounds
    k = 400
    cx, cy = representative_xy(layer.iloc[rng.choice(len(layer), size=k, replace=False)])
    weight = rng.pareto(1.2, k) + 1.0
    chunks: list[np.ndarray] = []
    got = 0
    while got < n:
        m = 2 * (n - got)
        near = int(m * 0.8)
        which = rng.choice(k, size=near, p=weight / weight.sum())
        spread = rng.gamma(2.0, 0.004, near)[:, None]
        pts = np.column_stack([cx[which], cy[which]]) + rng.normal(0.0, 1.0, (near, 2)) * spread
        pts = np.vstack([pts, rng.uniform([x0, y0], [x1, y1], (m - near, 2))])
        pts = pts[locate_points(pts[:, 0], pts[:, 1], layer) >= 0]
        chunks.append(pts)
        got += len(pts)
    pts = np.concatenate(chunks)[rng.permutation(got)[:n]]
    return pts[:, 0], pts[:, 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=REPO / "data" / "cache" / "bench_placing")
    parser.add_argument("--seed", type=int, default=20261031)
    args = parser.parse_args()

    # numba: compile (or load from its on-disk cache) on a tiny layer, before anything else.
    start = time.perf_counter()
    tiny = gpd.GeoDataFrame({"area_id": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)])
    locate_points(np.array([0.5]), np.array([0.5]), tiny)
    compile_s = time.perf_counter() - start

    config, layers = demo_city(args.cache)
    micro = layers["microgrid"]
    x, y = clustered_points(micro, args.points, seed=args.seed)
    print(f"{len(micro):,} micro-grids, {len(x):,} clustered points, "
          f"best of {args.repeat}\n")
    _pip.CACHE.clear()
    start = time.perf_counter()
    _layer_index(micro)
    index_s = time.perf_counter() - start

    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=micro.crs)
    areas = micro[["area_id", "geometry"]]
    t_sjoin, joined = best(args.repeat, lambda: gpd.sjoin(points, areas, predicate="within"))
    t_old, old = best(args.repeat, lambda: locate_points_reference(x, y, micro))
    t_new, new = best(args.repeat, lambda: locate_points(x, y, micro))

    ids = micro["area_id"].to_numpy(dtype=object)
    new_ids = pd.Series(np.where(new >= 0, ids[np.clip(new, 0, None)], None), dtype=object)
    # sjoin "within" leaves out points on a border; it may also keep several areas per point.
    sj = joined.sort_values("area_id").groupby(level=0)["area_id"].first()
    inside = new_ids.notna().to_numpy()
    same_as_old = bool(np.array_equal(new, old))
    agree = new_ids.iloc[sj.index.to_numpy()].to_numpy() == sj.to_numpy()
    print(f"numba compile / cache load    {compile_s:8.3f} s  (once per process)")
    print(f"kernel index, micro-grids     {index_s:8.3f} s  (once per layer, then cached)")
    print(f"geopandas.sjoin(within)       {t_sjoin:8.3f} s")
    print(f"shapely path (old)            {t_old:8.3f} s")
    print(f"compiled kernel (new)         {t_new:8.3f} s")
    print(f"  kernel vs sjoin             {t_sjoin / t_new:8.1f} x")
    print(f"  kernel vs old               {t_old / t_new:8.1f} x")
    print(f"  ids identical to old:       {same_as_old}")
    print(f"  ids identical to sjoin:     {bool(agree.all())} on the {len(sj):,} points sjoin "
          f"places ({int(inside.sum()) - len(sj)} border points it leaves out)\n")

    # assign_areas over all layers (the redline distances included in both).
    t_assign_old, frame_old = best(args.repeat,
                                   lambda: assign_areas_reference(x, y, layers, config))
    t_assign_new, frame_new = best(args.repeat, lambda: assign_areas(x, y, layers, config))
    sx, sy, _back = _spatial_order(x, y)
    t_pos_new, _ = best(args.repeat, lambda: _layer_positions(sx, sy, layers, config.layers))
    t_pos_old, _ = best(args.repeat, lambda: {
        s.name: locate_points_reference(sx, sy, layers[s.name]) for s in config.layers})
    equal = frame_old.equals(frame_new)
    print(f"assign_areas, {len(layers)} layers, old    {t_assign_old:8.3f} s")
    print(f"assign_areas, {len(layers)} layers, new    {t_assign_new:8.3f} s"
          f"   ({t_assign_old / t_assign_new:.1f} x; frames equal: {equal})")
    print(f"  placing only, old (shapely)         {t_pos_old:8.3f} s")
    print(f"  placing only, new (kernel)          {t_pos_new:8.3f} s"
          f"   ({t_pos_old / t_pos_new:.1f} x)")
    if not (same_as_old and equal and agree.all()):
        raise SystemExit("results differ")


if __name__ == "__main__":
    main()

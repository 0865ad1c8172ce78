"""Satellite patches, evidence photos and the public list at full size.

    .venv/bin/python benchmarks/bench_patches.py --demo /tmp/city   # a demo at scale 1.0

Times, with peak memory of the process at the end:

- photos found in a folder of 500 images among 1,000,000 problems (``attach_folder_photos``,
  what an import does with ``[evidence] folder``);
- the public list (``public_list``) of 1,000,000 problems, and one town's HTML and XLSX;
- with ``--demo``: importing the demo's patches against its full-density layers (92,600
  micro-grids), against a baseline ``geopandas.overlay`` of the same patches with the
  micro-grids in the metric CRS (the overlaps of one layer, the part that grows with the
  layers).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _photos(folder: Path, n: int, rng: np.random.Generator) -> None:
    from PIL import Image

    from gridwatch.evidence import attach_folder_photos

    ids = pd.Series([f"JX{i:08d}" for i in range(n)], dtype="str")
    for i in rng.choice(n, 500, replace=False):
        Image.new("RGB", (64, 48)).save(folder / f"JX{i:08d}_整改前.jpg")
    records = pd.DataFrame({"issue_id": ids})
    start = time.perf_counter()
    out = attach_folder_photos(records, folder)
    print(f"attach_folder_photos: {n:,} problems, 500 photos: "
          f"{time.perf_counter() - start:.2f} s ({out['photo_before'].notna().sum()} found)")


def _public(folder: Path, n: int, rng: np.random.Generator) -> None:
    from gridwatch.output.public import public_list, write_public

    day = pd.Timestamp("2026-01-01", tz="UTC")
    issues = pd.DataFrame({
        "category": rng.choice(["water", "air", "noise", "soil"], n),
        "status": rng.choice(["reported", "assigned", "rectifying", "closed", "verified"], n),
        "deadline": day + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
        "closed_at": day + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
        "responsible_unit": ["南湖区生态环境分局"] * n})
    places = pd.Series(rng.choice([f"镇{i}" for i in range(73)], n))
    start = time.perf_counter()
    table = public_list(issues, places, timezone="Asia/Shanghai",
                        as_of=pd.Timestamp("2026-10-31", tz="UTC"),
                        allow=("responsible_unit",))
    print(f"public_list: {n:,} problems: {time.perf_counter() - start:.2f} s")
    town = table[table["所在镇街"] == "镇1"]
    for ext in ("html", "xlsx"):
        start = time.perf_counter()
        write_public(town, folder / f"town.{ext}", title="公示")
        print(f"write_public {ext}: one town, {len(town):,} problems: "
              f"{time.perf_counter() - start:.2f} s")


def _patches(demo: Path, folder: Path) -> None:
    import geopandas as gpd

    from gridwatch.config import load_config
    from gridwatch.patches import import_patch_file, read_patches
    from gridwatch.placing.layers import load_layers, project_metric_crs
    from gridwatch.store import Store

    config = load_config(demo / "gridwatch.toml")
    layers = load_layers(config)
    print(f"layers: {', '.join(f'{k} {len(v):,}' for k, v in layers.items())}")
    with Store(f"sqlite:///{(folder / 'patches.sqlite').as_posix()}") as store:
        start = time.perf_counter()
        result = import_patch_file(demo / "patches.geojson", config=config, store=store,
                                   layers=layers)
        took = time.perf_counter() - start
    print(f"patches import: {result.patches} patches against every layer: {took:.2f} s")
    patches = read_patches(demo / "patches.geojson")
    crs = project_metric_crs(config.territory.metric_crs, layers=layers, specs=config.layers)
    start = time.perf_counter()
    gpd.overlay(patches.to_crs(crs), layers["microgrid"].to_crs(crs), how="intersection")
    print(f"baseline geopandas.overlay with the micro-grids only: "
          f"{time.perf_counter() - start:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demo", type=Path, help="A demo folder at scale 1.0 (patches).")
    parser.add_argument("--problems", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        _photos(folder, args.problems, rng)
        _public(folder, args.problems, rng)
        if args.demo is not None:
            _patches(args.demo, folder)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:,.0f} MB")


if __name__ == "__main__":
    main()

"""City-scale benchmark: a year of Jiaxing (1,000,000 problems, 92,600 micro-grids), row by
row, each beside a baseline measured in the same run (not a unit test).

Builds (or reuses) the demo city with ``--problems`` problems into ``--folder``, ingests its
daily exports into a fresh SQLite store there (``--skip-ingest`` reuses the stores of an earlier
run), then measures:

- ingest of the daily exports, as a fresh process;
- placing every stored problem (WGS84 lon/lat) in the micro-grids: ``locate_points`` against
  ``geopandas.sjoin(predicate="within")`` on the same points in one process, best of
  ``--repeat`` after a warm-up (numba's compile or cache load and the layer's index are timed
  apart); the ids must be identical;
- ``gridwatch status``, ``league`` and ``hotspots`` (Gi* with 999 permutations on the
  micro-grids; emerging by week on the grids) as fresh processes, first and warm, against a
  baseline in a process of its own: ``pandas.read_sql`` of the issues and their grid, a
  ``groupby`` of the open problems per grid (what a first attempt would do);
- Gi* against esda's ``G_Local(star=True)`` (analytical and 999 permutations, same seed) on the
  same values per micro-grid and the same queen weights, in one process with gridwatch's own
  ``gi_star``; libpysal's queen contiguity is timed beside gridwatch's cached weights;
- with ``--postgis URL``: placement as a PostGIS ``ST_Contains`` join of the same points and
  micro-grids (GiST-indexed tables in a scratch schema, dropped at the end; loading timed apart
  from the join), and ingest and ``status`` into a fresh schema ``--postgis-schema`` (kept for
  ``--skip-ingest``; its analytical copy lives in the user's cache folder).

Peak memory is the maximum resident set size of the process that ran the stage: each command
and each in-process stage runs in a child process of its own. Where gridwatch and its baseline
share a process (placement, Gi* in-process), gridwatch's figure is the peak before the baseline
ran and the baseline's is the whole process. The PostgreSQL server's memory is not counted.

A question's first run after an import derives and keeps what changes only at import (deadlines,
rebounds, incidents, the sorted status events): ``status`` runs first, so its first run carries
that cost; both the first and the warm time of every question are printed.

Run::

    .venv/bin/python benchmarks/city_scale.py                      # 1,000,000 problems
    .venv/bin/python benchmarks/city_scale.py --problems 20000 --folder /tmp/city20k \\
        --postgis postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _timing import best  # benchmarks/, the folder of this script

REPO = Path(__file__).resolve().parents[1]
GRIDWATCH = [sys.executable, "-c", "from gridwatch.cli import main; main()"]
#: Schema of the PostGIS placement baseline, created and dropped by each run.
SCRATCH_SCHEMA = "gridwatch_bench_scratch"
MB = 1024.0  # ru_maxrss is in KiB on Linux


# --------------------------------------------------------------------------------------------
# running children


def _child_env() -> dict[str, str]:
    """The environment of every child: this checkout's gridwatch first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def _spawn(argv: list[str], label: str) -> tuple[float, float, str]:
    """Run ``argv`` as a fresh process: (seconds, peak MB of that process, its stdout)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as errors:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=errors, env=_child_env())
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise SystemExit(f"{label} failed:\n{errors.read()[-3000:]}")
        out.seek(0)
        return elapsed, usage.ru_maxrss / MB, out.read()


def _gridwatch(args: list[str]) -> tuple[float, float]:
    """Run one gridwatch command as a fresh process: (seconds, peak MB)."""
    seconds, peak, _ = _spawn([*GRIDWATCH, *args], f"gridwatch {' '.join(args[:3])} ...")
    return seconds, peak


def _stage(name: str, **params: Any) -> tuple[dict[str, Any], float]:
    """Run one in-process stage of this script in a child: (its result, its peak MB)."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--stage", name,
            "--stage-params", json.dumps(params, default=str)]
    _, peak, out = _spawn(argv, f"stage {name}")
    return json.loads(out.strip().splitlines()[-1]), peak


def _self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MB


def _say(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------------------------
# shared by the stages


def _points(db: str) -> tuple[Any, Any]:
    """WGS84 lon/lat of every stored problem that has both, in store order."""
    import numpy as np

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT lon, lat FROM issues "
                            "WHERE lon IS NOT NULL AND lat IS NOT NULL").fetchall()
    xy = np.array(rows, dtype=float).reshape(-1, 2)
    return np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])


def _micro_layer(config_path: str, layer: str) -> Any:
    """The micro-grid layer as gridwatch reads it (WGS84)."""
    from gridwatch.config import load_config
    from gridwatch.placing.layers import read_layer

    return read_layer(load_config(config_path).layer(layer))


def _warm_kernel(micro: Any) -> tuple[float, float]:
    """Compile (or load) the numba kernel on a tiny layer, then build ``micro``'s index from
    scratch: (compile seconds, index seconds)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from gridwatch.placing import _pip
    from gridwatch.placing.layers import _layer_index, locate_points

    start = time.perf_counter()
    tiny = gpd.GeoDataFrame({"area_id": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)])
    locate_points(np.array([0.5]), np.array([0.5]), tiny)
    compile_s = time.perf_counter() - start
    _pip.CACHE.clear()
    start = time.perf_counter()
    _layer_index(micro)
    return compile_s, time.perf_counter() - start


def _kernel_ids(micro: Any, positions: Any) -> Any:
    """Area id per point from ``locate_points`` positions (None outside every area)."""
    import numpy as np

    ids = micro["area_id"].astype(str).to_numpy(dtype=object)
    return np.where(positions >= 0, ids[np.clip(positions, 0, None)], None)


def _compare(kernel: Any, other_ids: Any, other_hits: Any) -> dict[str, int]:
    """Compare the kernel's id per point with another method's smallest id per point
    (None where it found none) and its number of areas per point."""
    import numpy as np

    k_in = np.array([v is not None for v in kernel])
    o_in = np.array([v is not None for v in other_ids])
    both = k_in & o_in
    return {
        "points": len(kernel),
        "placed_by_kernel": int(k_in.sum()),
        "placed_by_other": int(o_in.sum()),
        "agree": int((kernel[both] == other_ids[both]).sum()),
        "differ": int((kernel[both] != other_ids[both]).sum()),
        "left_out_by_other": int((k_in & ~o_in).sum()),  # on a border (or a gap) for it
        "only_other": int((~k_in & o_in).sum()),
        "several_areas": int((np.asarray(other_hits) > 1).sum()),
    }


# --------------------------------------------------------------------------------------------
# in-process stages (each run in a child by main)


def stage_status_baseline(db: str, as_of: str) -> dict[str, Any]:
    """The naive way: read every problem with its grid into pandas, group the open ones."""
    import pandas as pd

    start = time.perf_counter()
    with sqlite3.connect(db) as conn:
        (grid,) = conn.execute("SELECT position FROM layers WHERE name = 'grid'").fetchone()
        frame = pd.read_sql(
            f"SELECT i.issue_id, i.reported_at, i.closed_at, i.status, p.area_{grid} AS grid_id "
            "FROM issues i LEFT JOIN issue_places p ON p.issue_id = i.issue_id", conn)
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], utc=True, format="ISO8601")
    frame["closed_at"] = pd.to_datetime(frame["closed_at"], utc=True, format="ISO8601")
    cutoff = pd.Timestamp(as_of, tz="Asia/Shanghai").tz_convert("UTC") + pd.Timedelta(days=1)
    open_ = (frame["reported_at"] < cutoff) & ~(frame["closed_at"] < cutoff)
    per_grid = frame[open_].groupby("grid_id").size()
    return {"seconds": time.perf_counter() - start, "grids": len(per_grid)}


def stage_placement(config: str, db: str, layer: str, repeat: int) -> dict[str, Any]:
    """``locate_points`` against ``geopandas.sjoin(predicate="within")`` on the stored points."""
    import geopandas as gpd
    import numpy as np

    from gridwatch.placing.layers import locate_points

    micro = _micro_layer(config, layer)
    x, y = _points(db)
    compile_s, index_s = _warm_kernel(micro)
    kernel_s, positions = best(repeat, lambda: locate_points(x, y, micro))
    kernel_mb = _self_peak_mb()

    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=micro.crs)
    areas = micro[["area_id", "geometry"]]
    sjoin_s, joined = best(repeat, lambda: gpd.sjoin(points, areas, predicate="within"))
    # sjoin "within" leaves out points on a border; it keeps several rows for overlaps: the
    # smallest id is the kernel's border rule.
    by_point = joined.groupby(level=0)["area_id"]
    smallest = by_point.min()
    other = np.full(len(x), None, dtype=object)
    hits = np.zeros(len(x), dtype=np.int64)
    other[smallest.index.to_numpy()] = smallest.astype(str).to_numpy(dtype=object)
    hits[smallest.index.to_numpy()] = by_point.size().to_numpy()
    kernel = _kernel_ids(micro, positions)
    return {"areas": len(micro), "compile_s": compile_s, "index_s": index_s,
            "kernel_s": kernel_s, "kernel_mb": kernel_mb, "sjoin_s": sjoin_s,
            **_compare(kernel, other, hits)}


def _conninfo(url: str) -> str:
    """A psycopg connection string from a SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _copy(cursor: Any, table: str, lines: list[str]) -> None:
    """COPY tab-separated lines into ``table``."""
    with cursor.copy(f"COPY {table} FROM STDIN") as copy:
        for start in range(0, len(lines), 100_000):
            copy.write("".join(lines[start:start + 100_000]))


def stage_postgis_placement(config: str, db: str, layer: str, url: str,
                            repeat: int) -> dict[str, Any]:
    """``locate_points`` against a PostGIS ``ST_Contains`` join of the same points and areas."""
    import numpy as np
    import psycopg
    import shapely

    from gridwatch.placing.layers import locate_points

    micro = _micro_layer(config, layer)
    x, y = _points(db)
    _warm_kernel(micro)
    kernel_s, positions = best(repeat, lambda: locate_points(x, y, micro))
    kernel_mb = _self_peak_mb()
    kernel = _kernel_ids(micro, positions)

    s = SCRATCH_SCHEMA
    result: dict[str, Any] = {"kernel_s": kernel_s, "kernel_mb": kernel_mb}
    with psycopg.connect(_conninfo(url), autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")
        cur.execute(f"CREATE SCHEMA {s}")
        try:
            result["parallel_workers"] = cur.execute(
                "SHOW max_parallel_workers_per_gather").fetchone()[0]
            start = time.perf_counter()
            cur.execute(f"CREATE TABLE {s}.microgrids (area_id text, "
                        "geom geometry(Geometry, 4326))")
            geoms = shapely.set_srid(np.asarray(micro.geometry.array, dtype=object), 4326)
            wkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
            ids = micro["area_id"].astype(str).to_numpy(dtype=object)
            _copy(cur, f"{s}.microgrids", [f"{i}\t{g}\n" for i, g in zip(ids, wkb, strict=True)])
            result["load_areas_s"] = time.perf_counter() - start
            start = time.perf_counter()
            cur.execute(f"CREATE TABLE {s}.points (id integer, geom geometry(Point, 4326))")
            wkb = shapely.to_wkb(shapely.set_srid(shapely.points(x, y), 4326), hex=True,
                                 include_srid=True)
            _copy(cur, f"{s}.points", [f"{i}\t{g}\n" for i, g in enumerate(wkb)])
            result["load_points_s"] = time.perf_counter() - start
            start = time.perf_counter()
            cur.execute(f"CREATE INDEX ON {s}.microgrids USING gist (geom)")
            cur.execute(f"CREATE INDEX ON {s}.points USING gist (geom)")
            cur.execute(f"ANALYZE {s}.microgrids")
            cur.execute(f"ANALYZE {s}.points")
            result["index_s"] = time.perf_counter() - start
            result["load_s"] = (result["load_areas_s"] + result["load_points_s"]
                                + result["index_s"])

            join = (f"CREATE TABLE {s}.placed AS SELECT p.id, m.area_id "
                    f"FROM {s}.points p LEFT JOIN {s}.microgrids m "
                    "ON ST_Contains(m.geom, p.geom)")
            plan = cur.execute(f"EXPLAIN (COSTS OFF) {join}").fetchall()
            result["plan"] = " / ".join(" ".join(line.split()) for (line,) in plan)
            start = time.perf_counter()
            cur.execute(join)
            result["join_s"] = time.perf_counter() - start

            rows = cur.execute(f"SELECT id, min(area_id), count(area_id) FROM {s}.placed "
                               "GROUP BY id").fetchall()
        finally:
            cur.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")
    other = np.full(len(x), None, dtype=object)
    hits = np.zeros(len(x), dtype=np.int64)
    for point, area, count in rows:
        other[point] = area
        hits[point] = count
    result.update(_compare(kernel, other, hits))
    return result


def stage_gistar(config: str, db: str, layer: str, as_of: str) -> dict[str, Any]:
    """gridwatch's ``gi_star`` and esda's ``G_Local`` on the same values and weights."""
    import esda
    import numpy as np
    import scipy.sparse as sp
    from libpysal.graph import Graph

    from gridwatch.config import load_config
    from gridwatch.hotspots import build_weights, clear_weights_cache, gi_star
    from gridwatch.hotspots.gistar import confidence_bins
    from gridwatch.supervision.context import open_context

    ctx = open_context(load_config(config), f"sqlite:///{db}")
    settings = ctx.settings.hotspots
    areas = ctx.areas(layer)
    # the values gridwatch's hotspots analyses (overdue problems per micro-grid as of the date)
    values = ctx.hotspots(layer=layer, method="gistar", as_of=as_of)["value"].to_numpy(float)
    weights = build_weights(areas, kind=settings.weights, k=settings.knn_k,
                            distance_m=settings.distance_m, cache_dir=ctx.cache_dir)
    perms, seed = settings.permutations, settings.seed
    gi_perm_s, ours = best(1, lambda: gi_star(areas, values, weights=weights,
                                               permutations=perms, seed=seed))
    gi_an_s, _ = best(1, lambda: gi_star(areas, values, weights=weights, permutations=perms,
                                          seed=seed, inference="analytical"))
    clear_weights_cache()
    start = time.perf_counter()
    built = build_weights(areas, kind="queen", cache_dir=None)
    weights_s = time.perf_counter() - start
    ours_mb = _self_peak_mb()

    start = time.perf_counter()
    queen = Graph.build_contiguity(areas.set_index("area_id").geometry, rook=False)
    queen_s = time.perf_counter() - start
    binary = (queen.sparse != 0).astype(float)
    neighbour_diff = int((abs(binary - built.matrix.astype(float)) > 0).nnz) \
        if binary.shape == built.matrix.shape else -1
    graph = weights.to_graph()  # gridwatch's weights (islands joined), so the numbers compare
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ring = sp.csr_matrix(np.roll(np.eye(10), 1, axis=1) + np.roll(np.eye(10), -1, axis=1))
        start = time.perf_counter()  # esda compiles its permutation sampler in each process
        esda.G_Local(np.arange(10.0), Graph.from_sparse(ring), transform="B", star=True,
                     permutations=9, seed=seed)
        esda_compile_s = time.perf_counter() - start
        esda_an_s, ref_an = best(1, lambda: esda.G_Local(values, graph, transform="B",
                                                          star=True, permutations=0))
        esda_perm_s, ref = best(1, lambda: esda.G_Local(
            values, graph, transform="B", star=True, permutations=perms, seed=seed,
            keep_simulations=False, n_jobs=1))
    z = ours["z"].to_numpy(float)
    counts = np.rint(np.asarray(ref.p_sim, dtype=float) * (perms + 1))  # float32 in esda
    p_ref = np.minimum(1.0, 2.0 * counts / (perms + 1))
    p_differ = ~np.isclose(ours["p"].to_numpy(float), p_ref, rtol=1e-9)
    bins_ref = confidence_bins(np.asarray(ref_an.Zs, dtype=float), p_ref)
    return {"areas": len(areas), "permutations": perms, "seed": seed,
            "weights": settings.weights, "gi_perm_s": gi_perm_s, "gi_an_s": gi_an_s,
            "ours_mb": ours_mb, "weights_s": weights_s, "queen_s": queen_s,
            "neighbour_diff": neighbour_diff,
            "joined_islands": len(built.joined_islands),
            "esda_compile_s": esda_compile_s, "esda_an_s": esda_an_s,
            "esda_perm_s": esda_perm_s,
            "same_z": bool(np.allclose(z, ref_an.Zs, atol=1e-9, equal_nan=True)),
            "p_differ": int(p_differ.sum()),
            "bins_differ": int((ours["bin"].to_numpy(dtype=np.int64) != bins_ref).sum())}


STAGES: dict[str, Callable[..., dict[str, Any]]] = {
    "status_baseline": stage_status_baseline,
    "placement": stage_placement,
    "postgis_placement": stage_postgis_placement,
    "gistar": stage_gistar,
}


# --------------------------------------------------------------------------------------------
# the table


@dataclass
class Row:
    """One line of the table; ``ratio`` is the baseline's time over gridwatch's."""

    name: str
    seconds: float | None
    peak_mb: float | None = None
    baseline: str = ""
    baseline_s: float | None = None
    baseline_mb: float | None = None
    target: str = ""
    met: bool | None = None
    in_process: bool = False

    @property
    def ratio(self) -> float | None:
        if self.seconds is None or self.baseline_s is None or self.seconds <= 0:
            return None
        return self.baseline_s / self.seconds


def _num(value: float | None, digits: int, width: int) -> str:
    return f"{value:{width}.{digits}f}" if value is not None else " " * (width - 1) + "-"


def print_table(rows: list[Row]) -> None:
    """One aligned table: gridwatch's time and peak beside the baseline's, ratio, target."""
    name_w = max(len(r.name) for r in rows)
    base_w = max(len("baseline"), *(len(r.baseline) for r in rows))
    target_w = max(len("target"), *(len(r.target) for r in rows))
    print(f"{'row':<{name_w}} {'seconds':>8} {'peak MB':>8}  {'baseline':<{base_w}} "
          f"{'seconds':>8} {'peak MB':>8} {'ratio':>7}  {'target':<{target_w}}  met")
    for r in rows:
        peak = _num(r.peak_mb, 0, 7) + ("*" if r.in_process else " ")
        ratio = ("      -" if r.ratio is None
                 else f"{r.ratio:6.2f}x" if r.ratio < 1 else f"{r.ratio:6.1f}x")
        met = {True: "met", False: "NOT met", None: "-"}[r.met]
        print(f"{r.name:<{name_w}} {_num(r.seconds, 2, 8)} {peak}  {r.baseline:<{base_w}} "
              f"{_num(r.baseline_s, 2, 8)} {_num(r.baseline_mb, 0, 8)} {ratio}  "
              f"{r.target:<{target_w}}  {met}")


# --------------------------------------------------------------------------------------------
# main


def _remove_sqlite_store(db: Path) -> None:
    """Remove a store of an earlier run of this benchmark (file, WAL and analytical copy)."""
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")):
        path.unlink(missing_ok=True)
    shutil.rmtree(db.with_name(db.name + ".columns"), ignore_errors=True)


def _postgis_store_url(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema},public"


def _fresh_postgis_schema(url: str, schema: str) -> None:
    """Drop ``schema`` (and the analytical copy of the store in it), then create it empty."""
    import psycopg

    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f"{schema}.runs",)).fetchone()[0]:
            from gridwatch.store import Store

            with Store(_postgis_store_url(url, schema)) as store:
                copy = store.analytical_copy
            if copy is not None:
                shutil.rmtree(copy.folder, ignore_errors=True)
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')


def _postgis_has_store(url: str, schema: str) -> bool:
    import psycopg

    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        return conn.execute("SELECT to_regclass(%s)", (f"{schema}.runs",)).fetchone()[0] \
            is not None


def _ingest(daily: list[str], config: Path, url: str, name: str, skip: bool,
            exists: bool) -> Row:
    """Time ``gridwatch ingest`` of the daily exports (unless skipped and the store exists)."""
    target = "<= 30 s, 3 GB"
    if skip and exists:
        return Row(f"{name} (skipped: store reused)", None, target=target)
    _say(f"{name} ...")
    seconds, peak = _gridwatch(["ingest", *daily, "--config", str(config), "--db", url])
    return Row(name, seconds, peak, target=target, met=seconds <= 30 and peak <= 3 * 1024)


def _daily_import(db: Path, config: Path, demo: Path) -> Row:
    """Time ``gridwatch ingest`` of the latest snapshot export into a copy of the full store:
    what a supervisor's day starts with (no target in the issue; shown for the record)."""
    snapshots = sorted((demo / "snapshots").glob("*.csv"))
    if not snapshots or not db.is_file():
        return Row("a day's export into the full store (no snapshot)", None)
    work = db.with_name("daily-import.sqlite")
    _remove_sqlite_store(work)
    shutil.copyfile(db, work)
    for suffix in ("-wal", "-shm"):
        if Path(f"{db}{suffix}").is_file():
            shutil.copyfile(f"{db}{suffix}", f"{work}{suffix}")
    shutil.copytree(db.with_name(db.name + ".columns"), work.with_name(work.name + ".columns"))
    _say(f"a day's export ({snapshots[-1].name}) into a copy of the full store ...")
    try:
        seconds, peak = _gridwatch(["ingest", str(snapshots[-1]), "--config", str(config),
                                    "--db", f"sqlite:///{work}"])
    finally:
        _remove_sqlite_store(work)
    return Row(f"a day's export ({snapshots[-1].name}) into the full store", seconds, peak)


@dataclass
class Question:
    """A question as a fresh process: its command, target and (once run) first/warm runs."""

    command: list[str]
    target_s: float
    first: tuple[float, float] = (0.0, 0.0)  # seconds, peak MB
    warm: tuple[float, float] = (0.0, 0.0)

    def run(self, name: str, common: list[str]) -> None:
        _say(f"{name} (first, then warm) ...")
        self.first = _gridwatch([*self.command, *common])
        self.warm = _gridwatch([*self.command, *common])

    def rows(self, name: str, baseline: str, baseline_s: float | None,
             baseline_mb: float | None, first_label: str = "  first run") -> list[Row]:
        warm_s, warm_mb = self.warm
        return [Row(name, warm_s, warm_mb, baseline, baseline_s, baseline_mb,
                    f"<= {self.target_s:g} s", met=warm_s <= self.target_s),
                Row(first_label, *self.first)]


def _placement_rows(config: Path, db: Path, layer: str, repeat: int,
                    notes: list[str]) -> list[Row]:
    _say("placement: locate_points against geopandas.sjoin ...")
    place, place_mb = _stage("placement", config=str(config), db=str(db), layer=layer,
                             repeat=repeat)
    identical = place["differ"] == 0 and place["only_other"] == 0
    notes.append(
        f"placement: ids identical to sjoin: {identical} ({place['agree']:,} agree, "
        f"{place['differ']} differ, {place['left_out_by_other']} border points sjoin(within) "
        f"leaves out, {place['several_areas']} in several areas, "
        f"{place['points'] - place['placed_by_kernel']:,} outside every micro-grid)")
    return [
        Row(f"placing {place['points']:,} points in {place['areas']:,} micro-grids",
            place["kernel_s"], place["kernel_mb"], "geopandas.sjoin(within)", place["sjoin_s"],
            place_mb, ">= 5x, same ids",
            met=place["sjoin_s"] / place["kernel_s"] >= 5 and identical, in_process=True),
        Row("  kernel index of the micro-grids (once per layer)", place["index_s"]),
        Row("  numba compile or cache load (once per process)", place["compile_s"]),
    ]


def _gistar_rows(question: Question, config: Path, db: Path, layer: str, as_of: str,
                 notes: list[str]) -> list[Row]:
    _say("Gi*: gi_star and esda G_Local on the same values and weights ...")
    gi, gi_mb = _stage("gistar", config=str(config), db=str(db), layer=layer, as_of=as_of)
    perms = gi["permutations"]
    esda_perm = f"esda G_Local {perms} perm."
    notes.append(
        f"Gi*: {gi['areas']:,} micro-grids, {gi['weights']} weights, seed {gi['seed']}, esda "
        f"n_jobs=1 after compiling its sampler ({gi['esda_compile_s']:.1f} s); z identical "
        f"to esda: {gi['same_z']}; p differs in {gi['p_differ']} areas, bins in "
        f"{gi['bins_differ']}; libpysal's queen weights differ from gridwatch's in "
        f"{gi['neighbour_diff']} entries ({gi['joined_islands']} islands joined by gridwatch)")
    return [
        *question.rows(f"hotspots --layer {layer} --method gistar ({perms} perm.)", esda_perm,
                       gi["esda_perm_s"], gi_mb),
        Row(f"  gi_star {perms} permutations, in-process", gi["gi_perm_s"], gi["ours_mb"],
            esda_perm, gi["esda_perm_s"], gi_mb, in_process=True),
        Row("  gi_star analytical, in-process", gi["gi_an_s"], gi["ours_mb"],
            "esda G_Local analytical", gi["esda_an_s"], gi_mb, in_process=True),
        Row("  queen weights built (no cache), in-process", gi["weights_s"], gi["ours_mb"],
            "libpysal queen build", gi["queen_s"], gi_mb, in_process=True),
    ]


def _postgis_rows(args: argparse.Namespace, config: Path, db: Path, layer: str,
                  daily: list[str], sqlite_ingest: Row, sqlite_status: Question,
                  notes: list[str]) -> list[Row]:
    _say("PostGIS: ST_Contains placement baseline ...")
    pg, pg_mb = _stage("postgis_placement", config=str(config), db=str(db), layer=layer,
                       url=args.postgis, repeat=args.repeat)
    rows = [Row("placing on PostGIS: locate_points against ST_Contains", pg["kernel_s"],
                pg["kernel_mb"], "PostGIS ST_Contains join", pg["join_s"], pg_mb,
                in_process=True),
            Row("  loading into PostGIS (COPY + GiST index + ANALYZE)", pg["load_s"])]
    notes.append(
        f"PostGIS placement: loading {pg['load_s']:.2f} s = micro-grids "
        f"{pg['load_areas_s']:.2f} s + points {pg['load_points_s']:.2f} s + GiST indexes "
        f"and ANALYZE {pg['index_s']:.2f} s; max_parallel_workers_per_gather "
        f"{pg['parallel_workers']}; ids: {pg['agree']:,} agree with the kernel, "
        f"{pg['differ']} differ, {pg['left_out_by_other']} border points ST_Contains "
        f"leaves out, {pg['several_areas']} in several areas, {pg['only_other']} placed "
        f"only by PostGIS (scratch schema dropped); plan: {pg['plan']}")

    schema = args.postgis_schema
    url = _postgis_store_url(args.postgis, schema)
    exists = _postgis_has_store(args.postgis, schema)
    if not (args.skip_ingest and exists):
        _fresh_postgis_schema(args.postgis, schema)
    ingest = _ingest(daily, config, url, "ingest on PostGIS", args.skip_ingest, exists)
    ingest.baseline, ingest.baseline_s, ingest.baseline_mb = (
        "the same on SQLite", sqlite_ingest.seconds, sqlite_ingest.peak_mb)
    status = Question(sqlite_status.command, sqlite_status.target_s)
    status.run("status on PostGIS", ["--config", str(config), "--db", url])
    first = "  first run after the ingest" if ingest.seconds is not None else "  first run"
    notes.append(f"PostGIS store kept in schema {schema} (reused with --skip-ingest; "
                 f"drop with DROP SCHEMA {schema} CASCADE)")
    return [*rows, ingest,
            status.rows("status on PostGIS", "the same on SQLite", *sqlite_status.warm)[0],
            Row(first, *status.first, "the same on SQLite", *sqlite_status.first)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--folder", type=Path, default=REPO / "data" / "cache" / "city_scale")
    parser.add_argument("--as-of", default="2026-10-28")
    parser.add_argument("--week", default="2026-W43")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many (placement)")
    parser.add_argument("--skip-ingest", action="store_true",
                        help="reuse the stores of an earlier run instead of ingesting afresh")
    parser.add_argument("--postgis", metavar="URL",
                        help="PostgreSQL+PostGIS database, e.g. "
                             "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--postgis-schema", default="gridwatch_city_scale",
                        help="schema of the PostGIS store (recreated unless --skip-ingest)")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--stage-params", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(STAGES[args.stage](**json.loads(args.stage_params)), default=str))
        return

    demo = args.folder / "demo"
    db = args.folder / "store.sqlite"
    config = demo / "gridwatch.toml"
    layer = "microgrid"
    if not config.is_file():
        _say(f"generating the demo city ({args.problems:,} problems) into {demo} ...")
        seconds, _ = _gridwatch(["demo", "generate", "--out", str(demo), "--problems",
                                 str(args.problems), "--seed", str(args.seed)])
        _say(f"generated the demo in {seconds:.1f} s")
    daily = sorted(str(p) for p in (demo / "daily").iterdir())
    notes: list[str] = []
    load_start = os.getloadavg()[0]

    if not args.skip_ingest:
        _remove_sqlite_store(db)
    ingest = _ingest(daily, config, f"sqlite:///{db}",
                     f"ingest of the {len(daily)} daily exports", args.skip_ingest, db.is_file())

    # the questions as fresh processes, status first: it derives what changes at import
    status = Question(["status", "--as-of", args.as_of, "--layer", "grid"], 2.0)
    league = Question(["league", "--week", args.week, "--layer", "grid"], 2.0)
    gistar = Question(["hotspots", "--layer", layer, "--method", "gistar", "--as-of",
                       args.as_of], 4.0)
    emerging = Question(["hotspots", "--layer", "grid", "--method", "emerging", "--period",
                         "week", "--as-of", args.as_of], 4.0)
    common = ["--config", str(config), "--db", f"sqlite:///{db}"]
    for question in (status, league, gistar, emerging):
        question.run(" ".join(question.command[:5]), common)

    _say("baseline: read_sql + groupby ...")
    base, base_mb = _stage("status_baseline", db=str(db), as_of=args.as_of)
    naive = ("read_sql+groupby", base["seconds"], base_mb)

    daily_import = _daily_import(db, config, demo)
    rows = [ingest, daily_import, *_placement_rows(config, db, layer, args.repeat, notes)]
    rows += status.rows(f"status --as-of {args.as_of} --layer grid", *naive,
                        first_label="  first run after the ingest" if ingest.seconds is not None
                        else "  first run")
    rows += league.rows(f"league --week {args.week} --layer grid", *naive)
    rows += _gistar_rows(gistar, config, db, layer, args.as_of, notes)
    rows += emerging.rows("hotspots --layer grid --method emerging --period week", *naive)
    if args.postgis:
        rows += _postgis_rows(args, config, db, layer, daily, ingest, status, notes)
    else:
        notes.append("PostGIS rows skipped: give --postgis URL")

    print()
    print_table(rows)
    print()
    print("peak MB: of the process that ran the row (a fresh gridwatch process or a stage of "
          "this script);\n  * in one process with its baseline, measured before the baseline "
          "ran (the baseline's figure is the whole process)")
    print("ratio: baseline seconds / gridwatch seconds (above 1: gridwatch is faster); "
          "read_sql+groupby: open problems per grid, the naive first attempt")
    for note in notes:
        print(note)
    print(f"load average (1 min) at the start {load_start:.1f}, at the end "
          f"{os.getloadavg()[0]:.1f}, on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

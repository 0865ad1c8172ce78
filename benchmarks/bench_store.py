"""Benchmark of the store at city scale (not a unit test).

Imports N placed problems (default 250,000) into a fresh store, imports them again (all
unchanged), and reads them back with ``Store.issues()``. The baseline, run in the same process
on the same rows, is ``DataFrame.to_sql`` appending the canonical columns to a plain table of
the same backend: what a bare load costs without upsert, content hashes, history and areas.
On SQLite it also times the floor of Python's ``sqlite3`` driver: making the Python value of
every value of the same rows (the stored columns of ``issues``, the area columns of
``issue_places``, the history's ids and statuses), binding it to a statement that writes
nothing, and freeing it; an import through that driver could not be faster. The import writes
from Arrow columns through scratch databases instead (``gridwatch.store._bulk``), so it is
no longer held to that floor.

Run::

    .venv/bin/python benchmarks/bench_store.py                       # SQLite in a temp folder
    .venv/bin/python benchmarks/bench_store.py --db postgresql+psycopg://postgres@127.0.0.1/test
    .venv/bin/python benchmarks/bench_store.py --rows 50000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from gridwatch.schema import CANONICAL_COLUMNS
from gridwatch.store.transactional import Store

LAYERS = [("county", "admin"), ("grid", "grid"), ("redline", "redline")]


def placed_problems(n: int, *, seed: int = 0) -> pd.DataFrame:
    """N placed problems shaped as ``gridwatch.placing.assign.place_records`` returns them."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2024-03-15 00:30", tz="UTC")
    reported = t0 + pd.to_timedelta(rng.integers(0, 86400 * 30, n), unit="s")
    status = rng.choice(["reported", "assigned", "closed"], n)
    frame = pd.DataFrame({
        "issue_id": [f"I{i:07d}" for i in range(n)],
        "reported_at": reported,
        "category": rng.choice(["water", "air", "solid_waste", "noise"], n),
        "source": rng.choice(["grid_patrol", "hotline", "public_report"], n),
        "description": [f"河道漂浮物 {i} '\"<>=" for i in range(n)],
        "lon": 120.7 + rng.random(n) * 0.2,
        "lat": 30.7 + rng.random(n) * 0.2,
        "coord_system": "wgs84",
        "address": None,
        "reported_grid": None,
        "status": status,
        "deadline": reported + pd.Timedelta(days=7),
        "closed_at": pd.Series(reported + pd.Timedelta(days=3)).where(status == "closed"),
        "responsible_unit": "南湖区生态环境分局",
        "severity": None,
        "task_type": None,
        "location_flag": "",
        "grid_mismatch": False,
        "county_id": "330402",
        "grid_id": [f"G{i % 4649}" for i in range(n)],
        "redline_id": None,
        "in_redline": False,
        "near_redline": False,
        "redline_dist_m": rng.random(n) * 1000,
    })
    for column in CANONICAL_COLUMNS:  # the columns a plain export leaves empty
        if column not in frame:
            frame[column] = None
    return frame


def bind_floor(frame: pd.DataFrame) -> float:
    """Seconds to make, bind (``sqlite3.executemany``, a statement that writes nothing) and
    free the Python values an import writes (the stored columns of ``issues``, the area
    columns of ``issue_places``, the history's ids and statuses): the driver's floor."""
    import sqlite3

    from gridwatch.store._tables import driver_values, prepare

    prepared = prepare(frame, [name for name, _ in LAYERS])
    groups = [prepared.issues, *prepared.areas.values(), prepared.issues[["status"]]]
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (a)")
    seconds = 0.0
    for group in groups:
        start = time.perf_counter()
        # the Python objects the driver needs are made, bound and freed, as in an import
        values = [driver_values(group[c].to_numpy(), sqlite=True) for c in group.columns]
        marks = ", ".join("?" for _ in range(len(values) + 1))  # and the id
        con.executemany(f"INSERT INTO t SELECT 1 WHERE 0 AND coalesce({marks})",
                        zip(prepared.ids, *values, strict=True))
        del values
        seconds += time.perf_counter() - start
    con.close()
    return seconds


def _timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--db", help="store URL (default: SQLite in a temp folder)")
    args = parser.parse_args()
    frame = placed_problems(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        baseline_url = args.db or f"sqlite:///{Path(tmp) / 'baseline.sqlite'}"
        engine = sa.create_engine(baseline_url)
        canonical = frame.loc[:, list(CANONICAL_COLUMNS)]
        _, baseline = _timed(lambda: canonical.to_sql("bench_baseline", engine, index=False,
                                                      if_exists="replace", chunksize=5000))
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE bench_baseline"))
        engine.dispose()
        with Store(url) as store:
            def load():
                return store.import_records(frame, layers=LAYERS, files=["bench.csv"],
                                            rows_in=len(frame), rejected=0)
            first, imported = _timed(load)
            second, again = _timed(load)
            issues, read = _timed(store.issues)
            backend = store.backend
        floor = bind_floor(frame) if backend == "sqlite" else None
    assert first.inserted == second.unchanged == len(issues) == args.rows
    print(f"{backend}, {args.rows:,} rows")
    print(f"  baseline to_sql (canonical columns, plain append): {baseline:6.1f} s")
    print(f"  import (upsert, hashes, history, areas):           {imported:6.1f} s  "
          f"ratio {imported / baseline:.1f}")
    print(f"  re-import, all unchanged:                          {again:6.1f} s  "
          f"ratio {again / baseline:.1f}")
    print(f"  issues() read back, wide:                          {read:6.1f} s")
    if floor is not None:
        print(f"  sqlite3's floor (values bound, nothing written):   {floor:6.1f} s  "
              f"import / this {imported / floor:.1f}")


if __name__ == "__main__":
    main()

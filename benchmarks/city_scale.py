"""City-scale benchmark: a year of Jiaxing (1,000,000 problems, 92,600 micro-grids), question by
question, each beside a baseline measured in the same run (not a unit test).

Builds (or reuses) the demo city with ``--problems`` problems into ``--folder``, ingests its
daily exports into a SQLite store there (unless the store exists), then times each supervisor
question as a fresh process, as a supervisor's command runs:

- ``gridwatch status``  against a baseline in this process: ``pandas.read_sql`` of the issues
  and their grid, a ``groupby`` of the open problems per grid (what a first attempt would do);
- ``gridwatch league`` and ``gridwatch hotspots`` (Gi* with 999 permutations on the
  micro-grids; emerging by week on the grids), each against the same baseline read.

Peak memory is the child's maximum resident set size. A question's first run after an import
derives and keeps what changes only at import (deadlines, rebounds, incidents, the sorted status
events): both the first and the warm time are printed.

Run::

    .venv/bin/python benchmarks/city_scale.py                      # 1,000,000 problems
    .venv/bin/python benchmarks/city_scale.py --problems 250000 --folder /tmp/city250k
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRIDWATCH = [sys.executable, "-c", "from gridwatch.cli import main; main()"]


def _run(args: list[str]) -> tuple[float, float]:
    """Run one gridwatch command as a fresh process: (seconds, peak MB of that process)."""
    with tempfile.TemporaryFile("w+") as errors:
        start = time.perf_counter()
        child = subprocess.Popen([*GRIDWATCH, *args], stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"gridwatch {' '.join(args)} failed:\n{errors.read()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024.0


def _baseline_status(db: Path, as_of: str) -> float:
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
    frame[open_].groupby("grid_id").size()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--folder", type=Path, default=REPO / "data" / "cache" / "city_scale")
    parser.add_argument("--as-of", default="2026-10-28")
    parser.add_argument("--week", default="2026-W43")
    args = parser.parse_args()
    demo = args.folder / "demo"
    db = args.folder / "store.sqlite"
    config = demo / "gridwatch.toml"
    rows: list[tuple[str, float, float, str]] = []
    if not config.is_file():
        seconds, peak = _run(["demo", "generate", "--out", str(demo), "--problems",
                              str(args.problems), "--seed", str(args.seed)])
        print(f"generated the demo in {seconds:.1f} s")
    if not db.is_file():
        daily = sorted(str(p) for p in (demo / "daily").iterdir())
        seconds, peak = _run(["ingest", *daily, "--config", str(config), "--db",
                              f"sqlite:///{db}"])
        rows.append(("ingest of the daily exports", seconds, peak, "target <= 30 s, 3 GB"))
    common = ["--config", str(config), "--db", f"sqlite:///{db}"]
    baseline = _baseline_status(db, args.as_of)
    questions = {
        "status --layer grid": ["status", "--as-of", args.as_of, "--layer", "grid"],
        "league --layer grid": ["league", "--week", args.week, "--layer", "grid"],
        "hotspots gistar microgrid": ["hotspots", "--layer", "microgrid", "--method",
                                      "gistar", "--as-of", args.as_of],
        "hotspots emerging grid week": ["hotspots", "--layer", "grid", "--method", "emerging",
                                        "--period", "week", "--as-of", args.as_of],
    }
    for name, command in questions.items():
        first, _ = _run([*command, *common])
        warm, peak = _run([*command, *common])
        rows.append((f"{name} (first after import {first:.1f} s)", warm, peak,
                     f"{baseline / warm:.1f}x the read_sql+groupby baseline"))
    print(f"baseline read_sql + groupby of open problems per grid: {baseline:.2f} s")
    print(f"{'question':<58} {'seconds':>8} {'peak MB':>8}  note")
    for name, seconds, peak, note in rows:
        print(f"{name:<58} {seconds:8.2f} {peak:8.0f}  {note}")


if __name__ == "__main__":
    main()

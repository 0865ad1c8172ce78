"""Province benchmark: Zhejiang (90 real counties, generated towns, grids and micro-grids),
the single-process path against ``--engine dask`` with 1 and 2 local workers.

Builds (or reuses, ``--skip-generate``) the province demo with ``--problems`` problems at
``--density`` times Jiaxing's areas per km² into ``--folder``, then for each engine runs, each
in a fresh child process of its own:

- ``ingest``: every problem file into a fresh SQLite store of that engine (one run), timed per
  stage (reading, loading the layers, placing, storing, deriving), with the peak memory of
  the client process and of each worker, how the partitions went to the workers (rows,
  seconds on the worker) and the bytes scattered (the layers, once per worker), sent (the
  partitions) and gathered (the placed rows);
- ``status`` of the counties and of the grids, ``league`` of the towns and ``hotspots`` (Gi*,
  the settings' 999 permutations) of the grids, on the store ingested on one machine; each
  answer of the Dask path is checked equal to the single-process answer.

Peak memory is the maximum resident set size (``ru_maxrss``) of the process: the client (the
gridwatch command) and each worker process, asked by ``client.run`` at the end of the stage.
A local cluster's start (worker processes importing gridwatch) is timed apart.

Run::

    .venv/bin/python benchmarks/province.py --folder /tmp/zhejiang --problems 2000000 \\
        --density 0.1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MB = 1024.0  # ru_maxrss is in KiB on Linux


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MB


def _worker_peak_mb() -> float:  # runs on each worker (client.run)
    import resource as res

    return res.getrusage(res.RUSAGE_SELF).ru_maxrss / 1024.0


def _open(engine: str, workers: int) -> Any:
    import contextlib

    if engine == "local":
        return contextlib.nullcontext(None)
    from gridwatch.distributed import open_client

    return open_client(workers=workers)


def stage_ingest(folder: str, db: str, engine: str, workers: int,
                 max_files: int) -> dict[str, Any]:
    """One import of every problem file; seconds per stage, peaks, partitions, transfers."""
    from gridwatch.config import load_config
    from gridwatch.distributed.ingest import DaskPlacement, run_ingest_dask
    from gridwatch.pipeline import run_ingest
    from gridwatch.store.transactional import Store

    root = Path(folder)
    record = json.loads((root / "province.json").read_text(encoding="utf-8"))
    files = [root / f for f in record["files"]][:max_files]
    config = load_config(root / "gridwatch.toml")
    marks: list[tuple[str, float]] = []
    out: dict[str, Any] = {"engine": engine, "workers": workers if engine == "dask" else 0}
    start = time.perf_counter()
    with _open(engine, workers) as client:
        out["cluster_start_s"] = round(time.perf_counter() - start, 2)
        report = DaskPlacement()
        begin = time.perf_counter()

        def stage(message: str) -> None:
            marks.append((message.split(" ")[0], time.perf_counter()))

        with Store(db) as store:
            if client is None:
                summary, _ = run_ingest(files, config=config, store=store, progress=stage)
            else:
                summary, _ = run_ingest_dask(files, config=config, store=store, client=client,
                                             progress=stage, report=report)
        end = time.perf_counter()
        if client is not None:
            out["worker_peak_mb"] = sorted(round(v) for v in
                                           client.run(_worker_peak_mb).values())
            out["partitions"] = {"count": report.partitions, "rows": report.rows,
                                 "workers": report.workers,
                                 "seconds": [round(s, 2) for s in report.seconds],
                                 "scattered_mb": round(report.scattered_bytes / 2**20, 1),
                                 "sent_mb": round(report.sent_bytes / 2**20, 1),
                                 "gathered_mb": round(report.gathered_bytes / 2**20, 1)}
    marks.append(("end", end))
    out["seconds"] = round(end - begin, 2)
    out["stages"] = {name: round(marks[k + 1][1] - t, 2) for k, (name, t) in
                     enumerate(marks[:-1])}
    out["client_peak_mb"] = round(_peak_mb())
    out["accepted"] = summary.accepted
    return out


def stage_questions(folder: str, db: str, engine: str, workers: int,
                    answers: str) -> dict[str, Any]:
    """status (county, grid), league (town), the monthly review (town), Gi* (grid),
    emerging hot spots (town, weekly new problems): seconds each, peaks; the Dask
    answers are compared with those the local engine saved in ``answers``."""
    import pandas as pd

    from gridwatch.config import load_config
    from gridwatch.distributed.questions import (
        StoreSource,
        hotspots_dask,
        league_dask,
        review_dask,
        status_dask,
    )
    from gridwatch.supervision.context import open_context

    config = load_config(Path(folder) / "gridwatch.toml")
    out: dict[str, Any] = {"engine": engine, "workers": workers if engine == "dask" else 0}
    begin = time.perf_counter()
    ctx = open_context(config, db)
    ctx.derive()
    out["open_s"] = round(time.perf_counter() - begin, 2)
    day = ctx.last_export
    year, week, _ = (day - pd.Timedelta(days=7)).isocalendar()
    label = f"{year}-W{week:02d}"
    src = StoreSource(config=config, db_url=db, run_id=ctx.run_id)
    start = time.perf_counter()
    results: dict[str, pd.DataFrame] = {}
    with _open(engine, workers) as client:
        out["cluster_start_s"] = round(time.perf_counter() - start, 2)
        jobs = {
            "status county": lambda: (ctx.status(day, layer="county") if client is None else
                                      status_dask(ctx, day, layer="county", client=client,
                                                  source=src)),
            "status grid": lambda: (ctx.status(day, layer="grid") if client is None else
                                    status_dask(ctx, day, layer="grid", client=client,
                                                source=src)),
            "league town": lambda: (ctx.league(label, layer="town") if client is None else
                                    league_dask(ctx, label, layer="town", client=client,
                                                source=src)),
            "review town": lambda: (ctx.review(f"{day:%Y-%m}", layer="town")
                                    if client is None else
                                    review_dask(ctx, f"{day:%Y-%m}", layer="town",
                                                client=client, source=src)),
            "gistar grid": lambda: pd.DataFrame(
                (ctx.hotspots(layer="grid", method="gistar") if client is None else
                 hotspots_dask(ctx, layer="grid", client=client, source=src))
                .drop(columns="geometry")),
            "emerging town": lambda: pd.DataFrame(
                (ctx.hotspots(layer="town", method="emerging") if client is None else
                 hotspots_dask(ctx, layer="town", method="emerging", client=client,
                               source=src))
                .drop(columns="geometry")),
        }
        for name, job in jobs.items():
            t = time.perf_counter()
            answer = job()
            out[name] = round(time.perf_counter() - t, 2)
            tables = answer if isinstance(answer, dict) else {"": answer}  # the review's
            results.update({f"{name} {k}".strip(): frame for k, frame in tables.items()})
        if client is not None:
            out["worker_peak_mb"] = sorted(round(v) for v in
                                           client.run(_worker_peak_mb).values())
    out["client_peak_mb"] = round(_peak_mb())
    saved = Path(answers)
    if engine == "local":
        saved.mkdir(parents=True, exist_ok=True)
        for name, frame in results.items():
            frame.to_pickle(saved / f"{name.replace(' ', '_')}.pkl")
    else:
        for name, frame in results.items():
            want = pd.read_pickle(saved / f"{name.replace(' ', '_')}.pkl")
            pd.testing.assert_frame_equal(frame, want, check_exact=True)
        out["equal_to_local"] = True
    return out


def _child(args: list[str]) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, __file__, *args], env=env, check=True,
                          capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _fresh_schema(url: str, schema: str) -> str:
    """The URL of an empty schema ``schema`` at the PostgreSQL ``url`` (dropped first)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{url}?options=-csearch_path%3D{schema},public"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", default="/tmp/zhejiang")
    parser.add_argument("--problems", type=int, default=2_000_000)
    parser.add_argument("--density", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=20261031)
    parser.add_argument("--workers", default="1,2", help="local Dask workers to try")
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--max-files", type=int, default=100,
                        help="ingest only the first N problem files (1,000,000 rows each)")
    parser.add_argument("--only", choices=["ingest", "questions"], default=None)
    parser.add_argument("--postgis", metavar="URL", default=None,
                        help="ingest into PostGIS at URL (schema gw_province_<engine>, made "
                             "afresh), where the Dask workers COPY their partitions into "
                             "staging tables; default SQLite files in --folder")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="local", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = Path(args.folder)
    answers = str(folder / "answers")
    if args.stage == "ingest":
        print(json.dumps(stage_ingest(str(folder), args.db, args.engine, args.n,
                                      args.max_files)))
        return
    if args.stage == "questions":
        print(json.dumps(stage_questions(str(folder), args.db, args.engine, args.n, answers)))
        return
    if not args.skip_generate:
        from gridwatch.demo.province import generate_province

        t = time.perf_counter()
        generate_province(folder, problems=args.problems, seed=args.seed, density=args.density)
        print(json.dumps({"generate_s": round(time.perf_counter() - t, 1),
                          "peak_mb": round(_peak_mb())}), flush=True)
    record = json.loads((folder / "province.json").read_text(encoding="utf-8"))
    print(json.dumps({"province": record["areas"], "problems": record["problems"],
                      "load": os.getloadavg()}), flush=True)
    engines = [("local", 0)] + [("dask", int(n)) for n in args.workers.split(",") if n]
    for engine, n in engines:
        if args.only in (None, "ingest"):
            if args.postgis:
                db = _fresh_schema(args.postgis, f"gw_province_{engine}{n or ''}")
            else:
                db = f"sqlite:///{folder}/{engine}{n or ''}.sqlite"
                Path(f"{folder}/{engine}{n or ''}.sqlite").unlink(missing_ok=True)
            result = _child(["--folder", str(folder), "--stage", "ingest", "--engine", engine,
                             "--n", str(n), "--db", db, "--max-files", str(args.max_files)])
            result["load"] = [round(v, 1) for v in os.getloadavg()]
            print(json.dumps(result), flush=True)
    for engine, n in engines:
        if args.only in (None, "questions"):
            asked = (f"{args.postgis}?options=-csearch_path%3Dgw_province_local,public"
                     if args.postgis else f"sqlite:///{folder}/local.sqlite")
            result = _child(["--folder", str(folder), "--stage", "questions", "--engine",
                             engine, "--n", str(n), "--db", asked])
            result["load"] = [round(v, 1) for v in os.getloadavg()]
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

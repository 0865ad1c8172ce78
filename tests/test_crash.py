"""``gridwatch ingest`` killed with SIGKILL: the store and its analytical copy stay as they were.

An import is one transaction (:mod:`gridwatch.store.transactional`), so a process killed at any
moment before its commit (while it starts, reads, places, or writes) must leave every table
exactly as it was, the analytical copy still of the previous run, and the same ingest run again
must give what an uninterrupted import gives. The kills are of real ``gridwatch ingest``
processes, on both backends; the moment the writer holds its lock is seen from outside, by
trying to take the same lock without waiting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa
from helpers import GRID_ORIGIN, grid_cells, postgis_schema, sqlite_url, write_grid_project

import gridwatch
from gridwatch.config import load_config
from gridwatch.pipeline import run_ingest
from gridwatch.store.transactional import Store

SH = ZoneInfo("Asia/Shanghai")
EARLIER = dt.datetime(2024, 3, 12, 18, tzinfo=SH)
LATER = dt.datetime(2024, 3, 13, 18, tzinfo=SH)
KNOWN, NEW = 2000, 500  # problems in the earlier export; more in the later one
STATUSES = ("已受理", "已交办", "整改中", "已办结")


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostGIS stores keep their copy in the user's cache folder: here, a temporary one (the
    killed processes inherit it)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def reference_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty store of the same backend, for the uninterrupted import."""
    if store_url.startswith("sqlite"):
        yield sqlite_url(tmp_path / "reference.sqlite")
        return
    with postgis_schema(store_url.split("?", 1)[0]) as url:
        yield url


def write_export(path: Path, *, day: int, problems: int, seed: int) -> Path:
    """A CSV export: problem i is reported at the same time in every export; its status is
    drawn anew (closed ones closed on ``day``)."""
    rng = random.Random(seed)
    lines = ["问题编号,上报时间,问题类型,状态,办结时间,经度,纬度,问题描述"]
    for i in range(problems):
        status = rng.choice(STATUSES)
        closed = f"2024-03-{day} 09:00" if status == "已办结" else ""
        lon = GRID_ORIGIN[0] + 0.001 + rng.random() * 0.048
        lat = GRID_ORIGIN[1] + 0.001 + rng.random() * 0.048
        lines.append(f"P{i:06d},2024-03-10 {8 + i % 10:02d}:{i % 60:02d},水污染,{status},"
                     f"{closed},{lon:.6f},{lat:.6f},河道漂浮物 {i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def table_digest(url: str) -> dict[str, tuple[int, str]]:
    """Every table of the store: its row count and a hash of its rows in any order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            digest = {}
            for name in sorted(sa.inspect(conn).get_table_names()):
                rows = sorted(map(repr, conn.execute(sa.text(f'SELECT * FROM "{name}"')).all()))
                digest[name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
            return digest
    finally:
        engine.dispose()


def writer_lock_probe(url: str) -> tuple[Callable[[], bool], Callable[[], None]]:
    """``(held, close)``: ``held()`` says whether a writer holds the store's write lock, by
    trying to take it without waiting (``BEGIN IMMEDIATE``; PostgreSQL's per-schema advisory
    lock) and letting it go at once."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None,
                               check_same_thread=False)

        def held_sqlite() -> bool:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # database is locked
                return True
            conn.execute("ROLLBACK")
            return False

        return held_sqlite, conn.close
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    pg = engine.connect()
    take = sa.text("SELECT pg_try_advisory_xact_lock(hashtext('gridwatch:' || current_schema()))")

    def held_postgis() -> bool:
        return not pg.execute(take).scalar_one()

    def close() -> None:
        pg.close()
        engine.dispose()

    return held_postgis, close


def rows_write_probe(url: str, folder: Path) -> tuple[Callable[[], bool], Callable[[], None]]:
    """Whether a writer is writing the problems' rows: SQLite's bulk writes stage them in
    scratch databases beside the store (the first one early in the write); on PostgreSQL the
    writer, which added its run first, has begun to write the problems' table (a temporary
    table it copies them into is invisible to other sessions until committed)."""
    if url.startswith("sqlite"):
        return lambda: any(folder.glob(".*.scratch-*/*.sqlite")), lambda: None
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    writing = sa.text(
        "SELECT count(DISTINCT c.relname) = 2 FROM pg_locks l"
        " JOIN pg_class c ON c.oid = l.relation"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relname IN ('runs', 'issues')"
        " AND l.mode = 'RowExclusiveLock' AND l.granted AND l.pid <> pg_backend_pid()")

    def writing_postgis() -> bool:
        with engine.connect() as conn:
            return bool(conn.execute(writing).scalar_one())

    return writing_postgis, engine.dispose


def start_ingest(export: Path, config: Path, url: str) -> subprocess.Popen[bytes]:
    """``gridwatch ingest`` of the later export, in a process of its own."""
    env = dict(os.environ)
    package_root = str(Path(gridwatch.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-c", "from gridwatch.cli import main; main()", "ingest", str(export),
         "--config", str(config), "--db", url, "--observed-at", "2024-03-13 18:00:00"],
        env=env, cwd=config.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes] | None,
             what: str, timeout_s: float = 120) -> float:
    """Poll ``condition`` every 5 ms; the seconds it took. Fails if ``process`` ends first."""
    start = time.monotonic()
    while not condition():
        if process is not None and process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"gridwatch ingest ended (exit {process.returncode}) before {what}: "
                        f"{error[-500:]}")
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"no {what} after {timeout_s} s")
        time.sleep(0.005)
    return time.monotonic() - start


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


def answers(url: str) -> tuple[pd.DataFrame, pd.DataFrame, int, bool]:
    """What questions read: the analytical answer, its run, and whether the copy in use is of
    that run (rather than rebuilt from the tables on this read)."""
    with Store(url) as store:
        run_id = store.last_run_id()
        copy = store.analytical_copy
        assert copy is not None
        in_use = copy.read(run_id) is not None
        issues, history, answered_run = store.analytical()
    assert answered_run == run_id
    return issues, history, run_id, in_use


@pytest.mark.slow
def test_an_ingest_killed_at_any_moment_leaves_the_store_as_it_was(
        store_url: str, reference_url: str, tmp_path: Path) -> None:
    config_path = write_grid_project(tmp_path, grid_cells(*GRID_ORIGIN, 0.01, rows=5, cols=5))
    config = load_config(config_path)
    earlier = write_export(tmp_path / "earlier.csv", day=12, problems=KNOWN, seed=1)
    later = write_export(tmp_path / "later.csv", day=13, problems=KNOWN + NEW, seed=2)

    # the uninterrupted import
    with Store(reference_url) as reference:
        run_ingest([earlier], config=config, store=reference, observed_at=EARLIER)
        summary = run_ingest([later], config=config, store=reference, observed_at=LATER)[0]
        assert summary.status_changes > 0 and summary.inserted == NEW
    with Store(store_url) as store:
        run_ingest([earlier], config=config, store=store, observed_at=EARLIER)
    before = table_digest(store_url)
    issues, history, run_id, in_use = answers(store_url)
    assert in_use

    held, close = writer_lock_probe(store_url)
    rows_being_written, close_rows_probe = rows_write_probe(store_url, tmp_path)
    to_lock = 0.0
    try:
        for moment in ("as the write begins", "at a random moment before the write",
                       "in the middle of the write"):
            process = start_ingest(later, config_path, store_url)
            if moment == "at a random moment before the write":  # starting, reading, placing
                time.sleep(random.Random(13).uniform(0.2, 0.9) * to_lock)
                assert process.poll() is None
            else:
                to_lock = wait_for(held, process, "the write lock was taken")
                if moment == "in the middle of the write":
                    # the rows being written, seen from outside (a write this short is too
                    # quick to hit by waiting a share of it); the writer is stopped at once so
                    # that it is still in the middle when the lock is looked at
                    wait_for(rows_being_written, process, "the rows were being written")
                    process.send_signal(signal.SIGSTOP)
                    assert held(), "the write had ended when the writer was stopped"
            kill(process)
            # PostgreSQL rolls back the dead client's transaction; wait until it has
            wait_for(lambda: not held(), None, "release of the lock after the kill")
            assert table_digest(store_url) == before, f"killed {moment}: the store changed"
            after = answers(store_url)
            assert after[2:] == (run_id, True), f"killed {moment}: the copy is not in use"
            pd.testing.assert_frame_equal(after[0], issues)
            pd.testing.assert_frame_equal(after[1], history)
    finally:
        close()
        close_rows_probe()

    process = start_ingest(later, config_path, store_url)
    assert process.wait(timeout=300) == 0, process.stderr.read().decode() if process.stderr \
        else ""
    with Store(store_url) as store, Store(reference_url) as reference:
        pd.testing.assert_frame_equal(store.issues(), reference.issues())
        pd.testing.assert_frame_equal(*(_without_ids(s.history()) for s in (store, reference)))
        pd.testing.assert_frame_equal(*(_runs(s.runs()) for s in (store, reference)))
    got = answers(store_url)
    assert got[3], "the re-run left no analytical copy of its run"
    # the scratch databases of the killed imports went with the re-run's
    assert not list(tmp_path.glob(".*.scratch-*"))
    with Store(store_url) as store:
        pd.testing.assert_frame_equal(got[0], store.issues())


def _without_ids(history: pd.DataFrame) -> pd.DataFrame:
    """History rows without their ids and run ids (PostgreSQL's sequences keep counting
    through rolled-back transactions)."""
    return history.drop(columns=["id", "run_id"]).sort_values(
        ["issue_id", "seen_at", "status"]).reset_index(drop=True)


def _runs(runs: pd.DataFrame) -> pd.DataFrame:
    return runs.drop(columns=["run_id", "started_at", "finished_at"]).reset_index(drop=True)

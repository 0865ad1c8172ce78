"""Bulk writes to SQLite through scratch databases (gridwatch.store._bulk): the values stored are
exactly those Python's sqlite3 stores row by row, and nothing of the scratch is left behind."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings

from gridwatch.errors import StoreError
from gridwatch.store import _bulk
from gridwatch.store import _tables as _s
from gridwatch.store.transactional import Store
from tests.test_store import do_import, placed_frame, snapshot

# naive UTC times SQLite stores: years 1678-2261 (DATE_LIMITS), microseconds
_MICROS = st.integers(min_value=-9_214_000_000_000_000, max_value=9_214_000_000_000_000)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_MICROS, st.none()), max_size=40))
def test_times_are_the_text_sqlalchemy_stores(micros: list[int | None]) -> None:
    times = np.array([np.datetime64("NaT") if m is None else np.datetime64(m, "us")
                      for m in micros], dtype="datetime64[us]")
    assert _bulk.time_text(times).to_pylist() == _s.driver_values(times, sqlite=True)


def test_times_at_the_edges_of_days_years_and_leap_years() -> None:
    text = ["1678-01-01 00:00:00.000000", "1969-12-31 23:59:59.999999",
            "1970-01-01 00:00:00.000000", "2000-02-29 12:00:00.000001",
            "2024-12-31 23:59:59.999999", "2100-03-01 00:00:00.000000",
            "2261-12-31 23:59:59.999999"]
    times = np.array([t.replace(" ", "T") for t in text], dtype="datetime64[us]")
    assert _bulk.time_text(times).to_pylist() == text


def _columns(n: int) -> dict[str, object]:
    rng = np.random.default_rng(3)
    text = np.array([f"河道 {i} '\"<>=" if i % 4 else None for i in range(n)], dtype=object)
    times = np.array(rng.integers(0, 2 * 10**15, n), dtype="datetime64[us]")
    times[::5] = np.datetime64("NaT")
    floats = rng.random(n)
    floats[::3] = np.nan
    flags = np.array([(True, False, None)[i % 3] for i in range(n)], dtype=object)
    return {
        "issue_id": np.array([f"I{i:05d}" for i in range(n)], dtype=object),
        "arrow_text": pd.Series(text, dtype="str"),
        "object_text": text,
        "number": floats,
        "flag": rng.random(n) < 0.5,
        "maybe": flags,
        "at": times,
        "seen": ["2026-11-27 03:00:00.000000"] * n,
        "run": [7] * n,
        "empty": np.full(n, None, dtype=object),
    }


@pytest.mark.parametrize("soon", [False, True], ids=["here", "on-a-thread"])
def test_staged_rows_are_stored_as_sqlite3_stores_them(tmp_path: Path, soon: bool) -> None:
    columns = _columns(500)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'a.sqlite'}")
    meta = sa.MetaData()
    types = {"number": sa.Float, "flag": sa.Boolean, "maybe": sa.Boolean, "at": sa.DateTime,
             "seen": sa.DateTime, "run": sa.Integer}
    by_row, bulk = (sa.Table(name, meta, *(sa.Column(c, types.get(c, sa.Text))
                                           for c in columns)) for name in ("by_row", "bulk"))
    meta.create_all(engine)
    with engine.connect() as conn:
        with conn.begin():
            # the reference: SQLAlchemy's own insert of Python values, row by row
            conn.execute(by_row.insert(), _python_rows(columns))
            if soon:  # made and written on a thread while this one goes on
                attach = _bulk.stage_soon(conn, lambda: (columns, None),
                                          store_file=tmp_path / "a.sqlite")
                staged, length = attach()
                assert length == 500
            else:
                staged = _bulk.stage(conn, columns, store_file=tmp_path / "a.sqlite")
            conn.execute(bulk.insert().from_select(list(columns), sa.select(
                *(staged.c[c] for c in columns))))
        folder = conn.info[_bulk._INFO_KEY].folder
        _bulk.release(conn)
        typed = ", ".join(f"{c}, typeof({c})" for c in columns)
        want = conn.exec_driver_sql(f"SELECT {typed} FROM by_row ORDER BY rowid").all()
        got = conn.exec_driver_sql(f"SELECT {typed} FROM bulk ORDER BY rowid").all()
        attached = conn.exec_driver_sql("PRAGMA database_list").all()
    assert got == want
    assert not [row[1] for row in attached if row[1].startswith("gw_scratch")]
    assert not folder.exists()


def _python_rows(columns: dict[str, object]) -> list[dict[str, object]]:
    """The columns as rows of Python values (None for missing), as a caller of SQLAlchemy
    gives them."""
    def python(name: str, values: object) -> list[object]:
        if isinstance(values, pd.Series):
            values = values.to_numpy(dtype=object)
        if isinstance(values, list):
            if name == "seen":  # the store passes its driver text; the reference a datetime
                return [dt.datetime.fromisoformat(v) for v in values]
            return values
        array = np.asarray(values)
        if array.dtype.kind == "M":
            return [None if np.isnat(v) else pd.Timestamp(v).to_pydatetime() for v in array]
        if array.dtype.kind == "f":
            return [None if np.isnan(v) else float(v) for v in array]
        if array.dtype.kind == "b":
            return [bool(v) for v in array]
        return [None if v is None or (isinstance(v, float) and np.isnan(v)) else v
                for v in array]

    lists = {name: python(name, values) for name, values in columns.items()}
    return [dict(zip(lists, row, strict=True)) for row in zip(*lists.values(), strict=True)]


def test_a_failed_import_leaves_no_scratch_behind(tmp_path: Path) -> None:
    """It fails once the problems are staged: the scratch tables of their places and history
    are then being written on threads of their own."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"

    def stop(done: int, total: int) -> None:
        raise KeyError("stopped")

    with Store(url) as store:
        do_import(store, placed_frame(3, prefix="B"))
        before = snapshot(store)
        with pytest.raises(StoreError, match="stopped"):
            do_import(store, placed_frame(6), progress=stop)
        for old, new in zip(before, snapshot(store), strict=True):
            pd.testing.assert_frame_equal(old, new)
        with store.engine.connect() as conn:
            attached = conn.exec_driver_sql("PRAGMA database_list").all()
        assert do_import(store, placed_frame(6)).inserted == 6
    assert not [row[1] for row in attached if row[1].startswith("gw_scratch")]
    assert sorted(p.name for p in tmp_path.iterdir() if "scratch" in p.name) == []


def test_scratch_left_by_a_killed_import_goes_with_the_next_import(tmp_path: Path) -> None:
    left = tmp_path / ".store.sqlite.scratch-killed"
    left.mkdir()
    (left / "gw_scratch_0.sqlite").write_bytes(b"half written")
    other = tmp_path / ".other.sqlite.scratch-running"  # another store's, in the same folder
    other.mkdir()
    with Store(f"sqlite:///{tmp_path / 'store.sqlite'}") as store:
        do_import(store, placed_frame(3))
    assert not left.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if "scratch" in p.name) == [other.name]


@pytest.mark.parametrize("shuffled", [False, True], ids=["in-id-order", "shuffled"])
def test_problems_staged_in_parts_store_what_one_part_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shuffled: bool) -> None:
    """The problems are staged in parts, each written into the store while the next is made
    (Store._stage_parts): the same tables as staging them at once, new and changed rows."""
    from gridwatch.store import transactional

    first = placed_frame(10)
    second = placed_frame(14)
    second.loc[2:5, "status"] = "closed"
    second.loc[2:5, "closed_at"] = pd.Timestamp("2026-03-05 10:00", tz="UTC")
    if shuffled:
        first, second = (f.sample(frac=1, random_state=7) for f in (first, second))
    stores = []
    for name, part_rows in (("whole", 10**6), ("parts", 3)):
        monkeypatch.setattr(transactional, "_STAGED_PART_ROWS", part_rows)
        with Store(f"sqlite:///{tmp_path / name}.sqlite") as store:
            do_import(store, first, observed_at=dt.datetime(2026, 3, 4, tzinfo=dt.UTC))
            counts = do_import(store, second, observed_at=dt.datetime(2026, 3, 6, tzinfo=dt.UTC))
            stores.append((counts, snapshot(store)))
    (whole_counts, whole), (parts_counts, parts) = stores
    assert parts_counts == whole_counts
    assert whole_counts.inserted == 4 and whole_counts.updated >= 4
    for want, got in zip(whole, parts, strict=True):
        pd.testing.assert_frame_equal(got, want)
    assert not list(tmp_path.glob(".*scratch*"))

"""The store on both backends: upsert, history, areas, runs, rollback, backend specifics."""

from __future__ import annotations

import sqlite3
import string
import uuid
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from helpers import sqlite_url
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.config import LayerSpec
from gridwatch.errors import StoreError
from gridwatch.schema import CANONICAL_COLUMNS
from gridwatch.store.transactional import ImportCounts, Store

LAYERS = [("county", "admin"), ("grid", "grid"), ("redline", "redline")]
T0 = pd.Timestamp("2024-03-15 00:30", tz="UTC")


def placed_frame(n: int = 3, *, prefix: str = "A") -> pd.DataFrame:
    """A small frame shaped like assign.place_records output (WGS84, three layers)."""
    ids = [f"{prefix}{i}" for i in range(1, n + 1)]
    frame = pd.DataFrame({
        "issue_id": ids,
        "reported_at": [T0 + pd.Timedelta(hours=i) for i in range(n)],
        "category": ["water", "air", "noise"] * (n // 3) + ["water"] * (n % 3),
        "source": "grid_patrol",
        "description": [f"河道漂浮物 {i} <b>'\"=" for i in range(n)],
        "lon": [120.81 + 0.001 * i for i in range(n)],
        "lat": [30.73 + 0.001 * i for i in range(n)],
        "coord_system": "gcj02",
        "address": [None] + ["南湖区某路"] * (n - 1),
        "reported_grid": "G11",
        "status": "reported",
        "deadline": [T0 + pd.Timedelta(days=7)] * n,
        "closed_at": pd.Series([pd.NaT] * n, dtype="datetime64[ns, UTC]"),
        "responsible_unit": "南湖区生态环境分局",
        "severity": None,
        "task_type": np.nan,
        "location_flag": [""] * (n - 1) + ["swapped"],
        "grid_mismatch": [False] * (n - 1) + [True],
        "county_id": ["330402"] * (n - 1) + [None],
        "grid_id": [f"G{i % 9}" for i in range(n)],
        "redline_id": ["RL1"] + [None] * (n - 1),
        "in_redline": [True] + [False] * (n - 1),
        "near_redline": [True, True] + [False] * (n - 2),
        "redline_dist_m": [0.0, 312.5] + [1500.0 + i for i in range(n - 2)],
        "source_file": "day.csv",
        "source_row": range(2, n + 2),
    })
    for column in ("reported_at", "deadline", "closed_at"):  # as ingest gives them
        frame[column] = frame[column].astype("datetime64[ns, UTC]")
    return frame


def do_import(store: Store, frame: pd.DataFrame, **kwargs) -> ImportCounts:
    return store.import_records(frame, layers=LAYERS, files=["day.csv"], rows_in=len(frame) + 1,
                                rejected=1, **kwargs)


def snapshot(store: Store) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Everything an import may touch, apart from the runs."""
    with store.engine.connect() as conn:
        areas = pd.DataFrame(conn.execute(sa.text(
            "SELECT * FROM issue_places ORDER BY issue_id")).all())
    return store.issues(), store.history(), areas


def test_insert_and_read_back(store_url: str) -> None:
    frame = placed_frame()
    with Store(store_url) as store:
        counts = do_import(store, frame)
        issues = store.issues()
    assert (counts.inserted, counts.updated, counts.unchanged) == (3, 0, 0)
    assert counts.status_changes == 0  # first statuses are history rows, counted as inserted
    assert list(issues.columns[:len(CANONICAL_COLUMNS)]) == list(CANONICAL_COLUMNS)
    for column in ("reported_at", "deadline", "closed_at", "first_seen_at", "last_seen_at"):
        assert str(issues[column].dtype) == "datetime64[ns, UTC]"
    pd.testing.assert_series_equal(issues["reported_at"], frame["reported_at"])
    assert issues["description"].tolist() == frame["description"].tolist()
    assert pd.isna(issues.loc[0, "address"]) and issues.loc[1, "address"] == "南湖区某路"
    assert issues["severity"].isna().all() and issues["task_type"].isna().all()
    assert issues["lon"].tolist() == frame["lon"].tolist()
    assert issues["location_flag"].tolist() == ["", "", "swapped"]
    assert issues["grid_mismatch"].tolist() == [False, False, True]
    assert "source_file" not in issues.columns


def test_reimport_changes_nothing(store_url: str) -> None:
    frame = placed_frame()
    with Store(store_url) as store:
        do_import(store, frame)
        before = snapshot(store)
        again = do_import(store, frame.sample(frac=1, random_state=1))  # row order is irrelevant
        after = snapshot(store)
    assert (again.inserted, again.updated, again.unchanged, again.status_changes) == (0, 0, 3, 0)
    pd.testing.assert_frame_equal(before[1], after[1])
    pd.testing.assert_frame_equal(before[2], after[2])
    unchanged = ["last_seen_at"]
    pd.testing.assert_frame_equal(before[0].drop(columns=unchanged),
                                  after[0].drop(columns=unchanged))
    assert (after[0]["last_seen_at"] >= before[0]["last_seen_at"]).all()


def test_status_change_writes_history(store_url: str) -> None:
    frame = placed_frame()
    seen1 = pd.Timestamp("2024-03-15 12:00", tz="Asia/Shanghai")
    seen2 = pd.Timestamp("2024-03-16 09:00", tz="UTC")
    with Store(store_url) as store:
        first = do_import(store, frame, observed_at=seen1.to_pydatetime())
        nextday = frame.copy()
        nextday.loc[0, "status"] = "closed"
        nextday.loc[0, "closed_at"] = pd.Timestamp("2024-03-16 02:00", tz="UTC")
        nextday.loc[1, "status"] = "assigned"
        second = do_import(store, nextday, observed_at=seen2.to_pydatetime())
        history = store.history()
        issues = store.issues().set_index("issue_id")
    assert (second.inserted, second.updated, second.unchanged) == (0, 2, 1)
    assert second.status_changes == 2
    first_rows = history[history["run_id"] == first.run_id].set_index("issue_id")
    assert len(first_rows) == 3 and first_rows["previous_status"].isna().all()
    # a new problem's first status happened when it was reported
    assert first_rows.loc["A2", "changed_at"] == frame.loc[1, "reported_at"]
    assert (first_rows["seen_at"] == seen1.tz_convert("UTC")).all()
    changes = history[history["run_id"] == second.run_id].set_index("issue_id")
    assert sorted(changes.index) == ["A1", "A2"]
    assert changes.loc["A1", "previous_status"] == "reported"
    assert changes.loc["A1", "status"] == "closed"
    assert changes.loc["A1", "changed_at"] == pd.Timestamp("2024-03-16 02:00", tz="UTC")
    assert changes.loc["A2", "changed_at"] == seen2  # no better time known
    assert issues.loc["A1", "status"] == "closed"
    assert issues.loc["A1", "first_seen_at"] == seen1.tz_convert("UTC")
    assert issues.loc["A1", "last_seen_at"] == seen2


def test_description_change_updates_without_history(store_url: str) -> None:
    frame = placed_frame()
    with Store(store_url) as store:
        do_import(store, frame)
        edited = frame.copy()
        edited.loc[2, "description"] = "更正：河道漂浮物已打捞"
        counts = do_import(store, edited)
        history = store.history()
        issues = store.issues()
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 1, 2)
    assert counts.status_changes == 0
    assert len(history) == 3  # only the first statuses
    assert issues.loc[2, "description"] == "更正：河道漂浮物已打捞"


def test_areas_pivot_round_trip(store_url: str) -> None:
    frame = placed_frame(4)
    with Store(store_url) as store:
        do_import(store, frame)
        issues = store.issues()
        only_grid = store.issues(layers=["grid", "basin"])
        moved = frame.copy()
        moved.loc[0, ["grid_id", "redline_id", "in_redline", "redline_dist_m"]] = [
            "G8", None, False, 42.0]
        counts = do_import(store, moved)
        after = store.issues()
        with store.engine.connect() as conn:
            per_issue = dict(conn.execute(sa.text(
                "SELECT issue_id, count(*) FROM issue_places GROUP BY issue_id")).all())
    placement = ["county_id", "grid_id", "redline_id", "in_redline", "near_redline",
                 "redline_dist_m"]
    assert list(issues.columns[-len(placement):]) == placement
    assert "in_grid" not in issues.columns and "grid_dist_m" not in issues.columns
    assert issues["county_id"].tolist()[:3] == ["330402"] * 3 and pd.isna(issues["county_id"][3])
    assert issues["redline_id"].iloc[0] == "RL1" and issues["redline_id"].iloc[1:].isna().all()
    assert issues["in_redline"].dtype == bool and issues["near_redline"].dtype == bool
    assert issues["in_redline"].tolist() == [True, False, False, False]
    assert issues["near_redline"].tolist() == [True, True, False, False]
    assert issues["redline_dist_m"].tolist() == [0.0, 312.5, 1500.0, 1501.0]
    assert list(only_grid.columns[-2:]) == ["grid_id", "basin_id"]
    assert only_grid["basin_id"].isna().all() and "county_id" not in only_grid.columns
    assert counts.updated == 1
    assert per_issue == {f"A{i}": 1 for i in range(1, 5)}  # replaced, not added
    assert after.loc[0, "grid_id"] == "G8" and pd.isna(after.loc[0, "redline_id"])
    assert not after.loc[0, "in_redline"] and after.loc[0, "redline_dist_m"] == 42.0


def test_content_hashes_stay_those_stores_already_hold() -> None:
    """A changed hash would count every stored problem as updated at the next import: these
    are the hashes the first round wrote for this frame (text as Python strings then, as
    Arrow strings now)."""
    from gridwatch.store._tables import prepare

    hashes = prepare(placed_frame(), [name for name, _ in LAYERS]).hashes.tolist()
    assert hashes == ["aa15e8b03f4b7679", "ca27405e484e5424", "dea3c5add4f95273"]


def _to_version_1(store: Store) -> None:
    """Turn a store into the first round's layout: placement in the long table issue_areas
    (one row per problem and layer), schema version 1."""
    with store.engine.begin() as conn:
        positions = conn.execute(sa.text("SELECT name, position FROM layers")).all()
        conn.execute(sa.text(
            "CREATE TABLE issue_areas (issue_id TEXT REFERENCES issues (issue_id) ON DELETE "
            "CASCADE, layer TEXT, area_id TEXT, inside BOOLEAN, near BOOLEAN, distance_m "
            "DOUBLE PRECISION, PRIMARY KEY (issue_id, layer))"))
        for name, p in positions:
            conn.execute(sa.text(
                f"INSERT INTO issue_areas SELECT issue_id, :name, area_{p}, inside_{p}, "
                f"near_{p}, distance_{p} FROM issue_places WHERE area_{p} IS NOT NULL "
                f"OR inside_{p} IS NOT NULL OR distance_{p} IS NOT NULL"), {"name": name})
        conn.execute(sa.text("DROP TABLE issue_places"))
        conn.execute(sa.text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))


def test_a_version_1_store_is_migrated_on_open(store_url: str) -> None:
    frame = placed_frame(4)
    with Store(store_url) as store:
        do_import(store, frame)
        issues, history = store.issues(), store.history()
        _to_version_1(store)
    with Store(store_url) as store:  # migrates: issue_areas into issue_places
        pd.testing.assert_frame_equal(store.issues(), issues)
        pd.testing.assert_frame_equal(store.history(), history)
        with store.engine.connect() as conn:
            version = conn.execute(sa.text(
                "SELECT value FROM meta WHERE key = 'schema_version'")).scalar()
            tables = set(sa.inspect(conn).get_table_names(schema=store.schema))
        moved = frame.copy()
        moved.loc[0, "grid_id"] = "G8"
        counts = do_import(store, moved)  # and takes imports as before
        assert counts.updated == 1 and store.issues().loc[0, "grid_id"] == "G8"
    assert version == "2" and "issue_areas" not in tables and "issue_places" in tables


def test_layer_specs_are_accepted(store_url: str, tmp_path: Path) -> None:
    specs = [LayerSpec(name=n, path=tmp_path / f"{n}.geojson", id_field="code", kind=k)
             for n, k in LAYERS]
    with Store(store_url) as store:
        counts = store.import_records(placed_frame(), layers=specs, files=["a.csv"], rows_in=3,
                                      rejected=0)
        assert counts.inserted == 3
        assert store.issues().columns[-6] == "county_id"


def test_redline_columns_exist_before_any_problem(store_url: str) -> None:
    with Store(store_url) as store:
        do_import(store, placed_frame().iloc[:0])
        empty = store.issues()
    assert list(empty.columns[-6:]) == ["county_id", "grid_id", "redline_id", "in_redline",
                                        "near_redline", "redline_dist_m"]
    assert empty.empty


def test_runs_are_recorded(store_url: str) -> None:
    with Store(store_url) as store:
        first = store.import_records(placed_frame(), layers=LAYERS, files=["导出1.csv", "b.xlsx"],
                                     rows_in=5, rejected=2)
        second = do_import(store, placed_frame())
        runs = store.runs().set_index("run_id")
    assert list(runs.index) == [first.run_id, second.run_id]
    row = runs.loc[first.run_id]
    assert row["files"] == ["导出1.csv", "b.xlsx"]
    assert (row["rows_in"], row["accepted"], row["rejected"]) == (5, 3, 2)
    assert (row["inserted"], row["updated"], row["unchanged"]) == (3, 0, 0)
    assert bool(row["ok"]) and pd.isna(row["message"])
    assert row["started_at"] <= row["finished_at"]
    assert runs.loc[second.run_id, "unchanged"] == 3


def test_empty_import_is_a_recorded_run(store_url: str) -> None:
    with Store(store_url) as store:
        do_import(store, placed_frame())
        counts = do_import(store, placed_frame().iloc[:0])
        runs = store.runs()
        assert len(store.issues()) == 3
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 0)
    assert runs["ok"].tolist() == [True, True] and runs["accepted"].tolist() == [3, 0]


def test_constraint_violation_in_a_later_chunk_rolls_back(store_url: str) -> None:
    with Store(store_url) as store:
        do_import(store, placed_frame())
        before = snapshot(store)
        bigger = placed_frame(7)
        bigger.loc[0, "status"] = "closed"  # an update in the first chunk
        bigger.loc[1, "description"] = "changed"
        bigger.loc[6, "status"] = "lost"  # breaks ck_issues_status in the last chunk
        with pytest.raises(StoreError, match="rolled back") as info:
            do_import(store, bigger, chunk_size=2)
        after = snapshot(store)
        runs = store.runs()
    assert info.value.__cause__ is not None
    for old, new in zip(before, after, strict=True):
        pd.testing.assert_frame_equal(old, new)
    assert runs["ok"].tolist() == [True, False]
    assert "ck_issues_status" in runs["message"].iloc[1] or "CHECK" in runs["message"].iloc[1]
    assert runs["rows_in"].iloc[1] == 8 and runs["inserted"].iloc[1] == 0


def test_error_between_chunks_rolls_back(store_url: str) -> None:
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if len(calls) == 2:
            raise KeyError("operator pressed stop")

    with Store(store_url) as store:
        do_import(store, placed_frame(2, prefix="B"))
        before = snapshot(store)
        with pytest.raises(StoreError, match="operator pressed stop") as info:
            do_import(store, placed_frame(6), chunk_size=2, progress=progress)
        after = snapshot(store)
        runs = store.runs()
        # the store still works after the failure
        counts = do_import(store, placed_frame(6))
    assert isinstance(info.value.__cause__, KeyError)
    assert calls == [(2, 6), (4, 6)]
    for old, new in zip(before, after, strict=True):
        pd.testing.assert_frame_equal(old, new)
    assert runs["ok"].tolist() == [True, False]
    assert counts.inserted == 6


def test_bad_frames_are_refused_and_recorded(store_url: str) -> None:
    frame = placed_frame()
    frame.loc[2, "issue_id"] = "A1"
    with Store(store_url) as store:
        with pytest.raises(StoreError, match="repeated: 'A1'"):
            do_import(store, frame)
        with pytest.raises(StoreError, match="no issue_id column"):
            do_import(store, frame.drop(columns="issue_id"))
        broken = placed_frame()
        broken["deadline"] = ["soon", "later", "never"]
        with pytest.raises(StoreError, match="deadline"):
            do_import(store, broken)
        runs = store.runs()
        assert store.issues().empty
    assert runs["ok"].tolist() == [False, False, False]


def test_sqlite_imports_keep_every_reference_without_checking_each(tmp_path: Path) -> None:
    """A SQLite import does not look up each written row's problem (Store._write with
    references_checked=False): the references hold after new, changed, unchanged and failed
    imports, and every connection has its checks on again afterwards."""
    path = tmp_path / "refs.sqlite"
    with Store(sqlite_url(path)) as store:
        do_import(store, placed_frame(6))
        changed = placed_frame(9)
        changed.loc[1:3, "status"] = "closed"
        changed.loc[1:3, "closed_at"] = T0 + pd.Timedelta(days=2)
        counts = do_import(store, changed)
        assert (counts.inserted, counts.status_changes) == (3, 3)
        assert do_import(store, changed).unchanged == 9

        def stop(done: int, total: int) -> None:
            raise KeyError("stopped")

        with pytest.raises(StoreError, match="stopped"):
            do_import(store, placed_frame(12, prefix="B"), progress=stop)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA foreign_key_check").fetchall() == []
        assert check.execute("SELECT count(*) FROM status_history").fetchone()[0] == 12
        assert check.execute("SELECT count(*) FROM issue_places").fetchone()[0] == 9
    finally:
        check.close()


def _rows_in_file_alone(path: Path, tmp_path: Path) -> int:
    """Problems in a copy of the database file without its write-ahead log."""
    alone = tmp_path / "alone.sqlite"
    alone.write_bytes(path.read_bytes())
    check = sqlite3.connect(alone)
    try:
        return int(check.execute("SELECT count(*) FROM issues").fetchone()[0])
    finally:
        check.close()
        alone.unlink()


def test_sqlite_import_copies_its_log_into_the_database_after_the_commit(
        tmp_path: Path) -> None:
    """The import's own commit leaves the write-ahead log alone (Store._write with
    references_checked=False); the import copies it into the database file on a thread
    before it returns, also when a reader holds an older snapshot meanwhile, and the
    connection it used checkpoints as usual afterwards."""
    path = tmp_path / "log.sqlite"
    with Store(sqlite_url(path)) as store:
        with store.engine.connect() as keep_open:  # the log is not removed on close
            do_import(store, placed_frame(6))
            assert _rows_in_file_alone(path, tmp_path) == 6
            reader = sqlite3.connect(path, isolation_level=None)
            try:
                reader.execute("BEGIN")
                assert reader.execute("SELECT count(*) FROM issues").fetchone()[0] == 6
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # an unfinished checkpoint only waits
                    do_import(store, placed_frame(9))
                assert reader.execute("SELECT count(*) FROM issues").fetchone()[0] == 6
                reader.execute("COMMIT")
            finally:
                reader.close()
            assert store.issues()["issue_id"].nunique() == 9
            do_import(store, placed_frame(12))
            assert _rows_in_file_alone(path, tmp_path) == 12
            assert keep_open.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000


def _foreign_keys(conn: sa.Connection) -> list[tuple[str, str, str]]:
    return [tuple(row) for row in conn.execute(sa.text(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = CAST(current_schema() AS regnamespace) "
        "ORDER BY 1, 2"))]


@pytest.mark.parametrize("store_url", ["postgis"], indirect=True)
def test_a_large_postgis_import_checks_its_references_once_at_its_end(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large import on PostgreSQL drops the foreign keys of the places and the history for
    its transaction and adds them again, as they were, before it commits; a failed one
    leaves them as they were; a role that does not own the tables imports with them on."""
    from gridwatch.store import transactional

    monkeypatch.setattr(transactional, "_REFERENCES_CHECKED_AT_END_FROM", 1)
    dropped: list[list[tuple[str, str, str]]] = []
    without = Store._without_references

    def spy(self: Store, conn: sa.Connection, rows: int) -> list[tuple[str, str, str]]:
        dropped.append(without(self, conn, rows))
        return dropped[-1]

    monkeypatch.setattr(Store, "_without_references", spy)
    with Store(store_url) as store:
        with store.engine.connect() as conn:
            before = _foreign_keys(conn)
        tables = {table for table, _, _ in before}
        assert {"issue_places", "status_history"} <= tables
        assert do_import(store, placed_frame(6)).inserted == 6
        assert {(table.rsplit(".", 1)[-1].strip('"'), name)
                for table, name, _ in dropped[-1]} == {
            (table, name) for table, name, _ in before
            if table in ("issue_places", "status_history")}
        with store.engine.connect() as conn:
            assert _foreign_keys(conn) == before

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("after the places and the history")

        with monkeypatch.context() as patched:
            patched.setattr(Store, "_write_changes", broken)
            with pytest.raises(StoreError, match="after the places"):
                do_import(store, placed_frame(9, prefix="B"))
        assert dropped[-1]  # they were dropped, and the rollback brought them back
        with store.engine.connect() as conn:
            assert _foreign_keys(conn) == before
        assert sorted(store.issues()["issue_id"]) == [f"A{i}" for i in range(1, 7)]
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO issue_places (issue_id) VALUES ('nobody')"))

    role = f"gw_not_owner_{uuid.uuid4().hex[:8]}"
    schema = store_url.split("search_path%3D", 1)[1].split(",", 1)[0]
    admin = sa.create_engine(store_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(sa.text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
        conn.execute(sa.text(f'GRANT ALL ON ALL TABLES IN SCHEMA "{schema}" TO {role}'))
        conn.execute(sa.text(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role}'))
    try:
        other = store_url.replace("//postgres@", f"//{role}@", 1)
        assert other != store_url
        with Store(other) as store:
            assert do_import(store, placed_frame(12)).inserted == 6
            assert dropped[-1] == []  # not the owner: nothing dropped, each row checked
            assert len(store.issues()) == 12
        with admin.connect() as conn:
            assert _foreign_keys(conn) == before
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {role}"))
            conn.execute(sa.text(f"DROP ROLE {role}"))
        admin.dispose()


def test_sqlite_wal_busy_timeout_and_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite"
    with Store(sqlite_url(path), busy_timeout_s=0.3) as store:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 300
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        do_import(store, placed_frame())
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            with pytest.raises(StoreError, match="locked"):
                do_import(store, placed_frame(5))
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert len(store.issues()) == 3
        assert do_import(store, placed_frame(5)).inserted == 2
    # WAL is a property of the file: a plain connection sees it too
    plain = sqlite3.connect(path)
    assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    plain.close()


def test_default_store_is_sqlite_under_data(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Store() as store:
        assert store.backend == "sqlite"
        do_import(store, placed_frame())
    assert (tmp_path / "data" / "gridwatch.sqlite").is_file()
    with Store() as store:  # the tables and the schema version are found again
        assert len(store.issues()) == 3


def test_clean_errors_for_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        Store("not a url")
    with pytest.raises(StoreError, match="not installed"):
        Store("postgresql+nosuchdriver://u@127.0.0.1/db")
    with pytest.raises(StoreError, match="backend 'mysql'"):
        Store("mysql://u@127.0.0.1/db")
    with pytest.raises(StoreError) as info:
        Store("postgresql+psycopg://gw:s3cr3t@127.0.0.1:1/nowhere")
    assert "cannot open the store" in str(info.value) and "s3cr3t" not in str(info.value)
    assert "127.0.0.1:1/nowhere" in str(info.value)
    with pytest.raises(StoreError, match="only for PostgreSQL"):
        Store(sqlite_url(tmp_path / "x.sqlite"), schema="gw")


def test_schema_version_mismatch_is_refused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "old.sqlite")
    Store(url).close()
    with sqlite3.connect(tmp_path / "old.sqlite") as raw:
        raw.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99"):
        Store(url)


@pytest.mark.parametrize("store_url", ["postgis"], indirect=True)
def test_postgis_geometry_and_schema_keyword(store_url: str) -> None:
    frame = placed_frame()
    with Store(store_url) as store:
        do_import(store, frame)
        with store.engine.connect() as conn:
            points = conn.execute(sa.text(
                f'SELECT issue_id, ST_X(geom), ST_Y(geom), ST_SRID(geom) FROM "{store.schema}".'
                "issues ORDER BY issue_id")).all()
            index = conn.execute(sa.text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = :s AND tablename = 'issues' "
                "AND indexdef ILIKE '%gist%'"), {"s": store.schema}).scalar()
    assert [(p[1], p[2], p[3]) for p in points] == list(zip(frame["lon"], frame["lat"],
                                                            [4326] * 3, strict=True))
    assert index is not None and "geom" in index
    # the schema= keyword keeps a store apart from the URL's own
    base = store_url.split("?", 1)[0]
    other = f"gw_kw_{uuid.uuid4().hex[:10]}"
    try:
        with Store(base, schema=other) as store:
            assert store.schema == other and store.issues().empty
            do_import(store, placed_frame(2))
            assert len(store.issues()) == 2
    finally:
        engine = sa.create_engine(base)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{other}" CASCADE'))
        engine.dispose()


# --- property: random frames survive import → issues() -----------------------------------------

_TEXT = st.one_of(
    st.none(),
    st.just(np.nan),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=12),
    st.sampled_from(["河道漂浮物", "'\"<>=", "=HYPERLINK(\"x\")", "", " ", "${x}`\\"]),
)
_TIME = st.one_of(st.none(), st.datetimes(
    min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
    max_value=pd.Timestamp("2060-01-01").to_pydatetime()))
_ROW = st.fixed_dictionaries({
    "reported_at": _TIME, "deadline": _TIME, "closed_at": _TIME,
    "description": _TEXT, "address": _TEXT, "responsible_unit": _TEXT, "severity": _TEXT,
    "status": st.sampled_from(["reported", "assigned", "rectifying", "closed", "verified"]),
    "lon": st.one_of(st.none(), st.floats(-180, 180)),
    "lat": st.one_of(st.none(), st.floats(-90, 90)),
    "county_id": st.one_of(st.none(), st.text(string.digits, min_size=1, max_size=6)),
    "in_redline": st.booleans(), "near_redline": st.booleans(),
    "redline_dist_m": st.floats(0, 1e6),
})


def test_random_frames_round_trip(store_url: str) -> None:
    layers = [("county", "admin"), ("redline", "redline")]
    with Store(store_url) as store:  # one store for every example: tags keep them apart

        @settings(max_examples=12, deadline=None)
        @given(rows=st.lists(_ROW, min_size=1, max_size=8),
               ids=st.lists(st.text(alphabet=string.ascii_letters + "中文编号-_/ ", min_size=1,
                                    max_size=8), min_size=8, max_size=8, unique=True))
        def check(rows: list[dict], ids: list[str]) -> None:
            tag = uuid.uuid4().hex[:6]
            frame = pd.DataFrame(rows)
            frame.insert(0, "issue_id", [f"{tag}{i}" for i in ids[:len(frame)]])
            for column in ("reported_at", "deadline", "closed_at"):
                frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC").astype(
                    "datetime64[ns, UTC]")
            counts = store.import_records(frame, layers=layers, files=["h.csv"],
                                          rows_in=len(frame), rejected=0)
            stored = store.issues()
            stored = stored[stored["issue_id"].str.startswith(tag)].set_index("issue_id")
            again = store.import_records(frame, layers=layers, files=["h.csv"],
                                         rows_in=len(frame), rejected=0)
            assert counts.inserted == len(frame) and again.unchanged == len(frame)
            assert sorted(stored.index) == sorted(frame["issue_id"])
            expected = frame.set_index("issue_id").loc[stored.index]
            for column in ("reported_at", "deadline", "closed_at"):
                pd.testing.assert_series_equal(stored[column], expected[column],
                                               check_names=False)
            for column in ("description", "address", "responsible_unit", "severity",
                           "county_id"):
                want = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v
                        for v in expected[column]]
                got = [None if pd.isna(v) else v for v in stored[column]]
                assert got == want, column
            for column in ("lon", "lat", "redline_dist_m"):
                np.testing.assert_array_equal(stored[column].to_numpy(),
                                              expected[column].astype("float64").to_numpy())
            for column in ("in_redline", "near_redline"):
                assert stored[column].tolist() == expected[column].tolist()
            assert stored["status"].tolist() == expected["status"].tolist()

        check()


def test_reading_never_waits_for_a_writer(tmp_path: Path) -> None:
    import time

    path = tmp_path / "store.sqlite"
    with Store(sqlite_url(path)) as store:
        do_import(store, placed_frame())
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process importing: it holds the write lock
    try:
        start = time.perf_counter()
        with Store(sqlite_url(path), busy_timeout_s=5) as store:
            issues, history = store.issues(), store.history()
            copied, _, run_id = store.analytical()
        assert time.perf_counter() - start < 4, "a reader waited for the writer"
        assert len(issues) == len(copied) == 3 and len(history) == 3 and run_id == 1
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_concurrent_imports_are_serialised_and_keep_a_true_history(store_url: str) -> None:
    """Two imports of overlapping exports at once (from a fresh schema): no error, every
    problem stored once, and each history row's previous status is the status before it."""
    from concurrent.futures import ThreadPoolExecutor

    statuses = ["assigned", "rectifying", "reported", "closed"]

    def export(k: int) -> pd.DataFrame:
        frame = placed_frame(12)
        frame["issue_id"] = [f"A{i}" for i in range(k * 4, k * 4 + 12)]  # overlapping ids
        frame["status"] = [statuses[(i + k) % 4] for i in range(12)]
        closed = frame["status"] == "closed"
        frame["closed_at"] = pd.Series(T0 + pd.Timedelta(days=3), index=frame.index).where(
            closed)
        return frame

    def run(k: int) -> ImportCounts:
        with Store(store_url) as store:  # both may create the tables
            return do_import(store, export(k), observed_at=T0 + pd.Timedelta(days=k))

    def read_while_importing() -> int:
        """A reader (status, export, the app) during the imports: never an error."""
        seen = 0
        for _ in range(10):
            with Store(store_url) as store:
                seen = max(seen, len(store.issues()))
        return seen

    for _ in range(2):  # twice: on a fresh schema, then over the rows the first pass stored
        with ThreadPoolExecutor(max_workers=4) as pool:
            reader = pool.submit(read_while_importing)
            counts = list(pool.map(run, range(3)))
            assert reader.result() <= 20
        assert all(c.run_id > 0 for c in counts)
    with Store(store_url) as store:
        issues, history, runs = store.issues(), store.history(), store.runs()
    assert issues["issue_id"].is_unique and len(issues) == 20
    assert runs["ok"].all() and len(runs) == 6
    for _, rows in history.sort_values("id").groupby("issue_id"):
        previous = rows["previous_status"].tolist()
        assert pd.isna(previous[0])
        assert previous[1:] == rows["status"].tolist()[:-1]


def test_an_older_export_never_overwrites_a_newer_one(store_url: str) -> None:
    """Importing the 31 October snapshot, then the 25 October one: the store keeps the newer
    state and history, and the run counts the rows that were older."""
    newer = placed_frame(4)
    newer["status"] = ["closed", "rectifying", "assigned", "closed"]
    newer["closed_at"] = pd.Series(T0 + pd.Timedelta(days=6), index=newer.index).where(
        newer["status"] == "closed")
    stale = placed_frame(5)  # four known problems as they were before, and one new
    stale["status"] = ["rectifying", "assigned", "assigned", "rectifying", "reported"]
    with Store(store_url) as store:
        do_import(store, placed_frame(4), observed_at=T0)
        do_import(store, newer, observed_at=T0 + pd.Timedelta(days=16))
        before_issues, before_history = store.issues(), store.history()
        counts = do_import(store, stale, observed_at=T0 + pd.Timedelta(days=10))
        after_issues, after_history = store.issues(), store.history()
        again = do_import(store, newer, observed_at=T0 + pd.Timedelta(days=16))
    assert (counts.older, counts.inserted, counts.updated, counts.unchanged) == (4, 1, 0, 0)
    kept = after_issues[after_issues["issue_id"].isin(newer["issue_id"])]
    pd.testing.assert_frame_equal(kept.reset_index(drop=True),
                                  before_issues.reset_index(drop=True))
    assert after_issues.set_index("issue_id").loc["A1", "status"] == "closed"
    added = after_history[~after_history["id"].isin(before_history["id"])]
    assert added["issue_id"].tolist() == ["A5"]  # only the new problem's first status
    # the same export again, observed at the same time, is unchanged, not older
    assert (again.older, again.unchanged) == (0, 4)


def test_the_store_lets_go_of_rows_handed_over_once_they_are_prepared(tmp_path: Path) -> None:
    """At a million problems the placed frame is a few hundred MB: once in stored form, a
    frame its caller handed over (kept no reference to) is freed while the rows are written."""
    import gc
    import weakref

    frame = placed_frame(6)
    ref = weakref.ref(frame)
    alive_while_writing: list[bool] = []

    def progress(done: int, total: int) -> None:
        gc.collect()
        alive_while_writing.append(ref() is not None)

    handed = [frame]
    del frame
    with Store(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        counts = store.import_records(handed.pop(), layers=LAYERS, files=["day.csv"],
                                      rows_in=6, rejected=0, progress=progress)
    assert counts.inserted == 6
    assert alive_while_writing and not any(alive_while_writing)

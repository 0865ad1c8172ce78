"""The analytical copy: always the store's tables as of its last run, refreshed atomically,
incremental refreshes equal to full rebuilds, never used when stale, and the same answers."""

from __future__ import annotations

import datetime as dt
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_store import do_import, placed_frame

from gridwatch.errors import StoreError
from gridwatch.store import Store
from gridwatch.store.analytical import AnalyticalCopy
from gridwatch.supervision.context import SupervisionContext, open_context


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostGIS stores keep their copy in the user's cache folder: here, a temporary one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _assert_copy_is_the_store(store: Store) -> None:
    copy = store.analytical_copy
    assert copy is not None
    found = copy.read(store.last_run_id())
    assert found is not None, "the copy is not of the store's last run"
    issues, history = found
    pd.testing.assert_frame_equal(issues, store.issues())
    pd.testing.assert_frame_equal(history, store.history())


def test_each_import_refreshes_the_copy_incrementally(store_url: str) -> None:
    with Store(store_url) as store:
        do_import(store, placed_frame(6))
        _assert_copy_is_the_store(store)
        first = store.analytical_copy.current()
        # a later export: two problems change status, one is new, the rest are seen again
        later = placed_frame(7)
        later.loc[[0, 3], "status"] = ["closed", "rectifying"]
        later.loc[0, "closed_at"] = pd.Timestamp("2024-03-20", tz="UTC")
        do_import(store, later, observed_at=pd.Timestamp("2024-03-21 08:00", tz="UTC"))
        _assert_copy_is_the_store(store)
        second = store.analytical_copy.current()
        assert second.run_id == first.run_id + 1 and second.rows == 7
        # only the version in use and the one before it are kept
        kept = [p for p in store.analytical_copy.folder.iterdir() if p.name.startswith("r")]
        assert len(kept) <= 2


def test_a_failed_import_leaves_the_previous_copy(store_url: str) -> None:
    with Store(store_url) as store:
        do_import(store, placed_frame(4))
        before = store.analytical_copy.current()
        broken = placed_frame(7)
        broken.loc[0, "status"] = "closed"
        broken.loc[6, "status"] = "lost"  # breaks the status check in the last chunk
        with pytest.raises(StoreError, match="rolled back"):
            do_import(store, broken, chunk_size=2)
        assert store.analytical_copy.current() == before
        _assert_copy_is_the_store(store)


def test_a_stale_or_damaged_copy_is_never_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    with Store(url) as store:
        do_import(store, placed_frame(5))
        copy = store.analytical_copy
        assert copy.folder == tmp_path / "store.sqlite.columns"
        (copy.current().folder / "issues.arrow").write_bytes(b"not arrow")
        assert copy.read(store.last_run_id()) is None
        issues, _, run_id = store.analytical()  # rebuilt from the tables
        pd.testing.assert_frame_equal(issues, store.issues())
        assert copy.read(run_id) is not None
        assert copy.read(run_id - 1) is None  # a copy of another run is not this run's


def test_rebuild_equals_the_incremental_copy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    with Store(url) as store:
        for day in range(3):
            frame = placed_frame(3 + day)
            frame.loc[day, "status"] = "assigned"
            do_import(store, frame, observed_at=pd.Timestamp("2024-03-16", tz="UTC")
                      + pd.Timedelta(days=day))
        incremental = store.analytical_copy.read(store.last_run_id())
        version = store.rebuild_copy()
        rebuilt = store.analytical_copy.read(version.run_id)
    for got, want in zip(incremental, rebuilt, strict=True):
        pd.testing.assert_frame_equal(got, want)


def test_a_staged_version_is_left_alone_by_other_writers_until_it_is_old(
        tmp_path: Path) -> None:
    """An import writes its version before its rows are committed: a writer meanwhile (a
    reader rebuilding the copy) leaves it alone; one left by a killed import goes in time."""
    from gridwatch.store.analytical import STAGED_KEPT_S

    copy = AnalyticalCopy(tmp_path / "columns")
    frame = pd.DataFrame({"issue_id": ["a", "b"]})
    with copy.locked():
        copy.write(1, frame, frame, layers=())
    staged = copy.stage(2, frame, frame, layers=())
    abandoned = copy.stage(2, frame, frame, layers=())
    old = time.time() - STAGED_KEPT_S - 60
    os.utime(abandoned.folder, (old, old))
    with copy.locked():
        copy.write(1, frame.iloc[:1], frame, layers=())  # a rebuild of the run in use
    assert staged.folder.exists() and not abandoned.folder.exists()
    assert copy.current().run_id == 1 and copy.read(2) is None  # staged: not in use
    with copy.locked():
        version = copy.publish(staged)
    assert version.run_id == 2 and copy.read(2) is not None
    assert not staged.folder.exists()


def test_a_newer_copy_is_never_replaced_by_an_older_run(tmp_path: Path) -> None:
    copy = AnalyticalCopy(tmp_path / "columns")
    frame = pd.DataFrame({"issue_id": ["a"]})
    with copy.locked():
        copy.write(5, frame, frame, layers=())
        kept = copy.write(4, frame.iloc[:0], frame, layers=())
    assert kept.run_id == 5 and copy.current().rows == 1
    leftovers = [p.name for p in copy.folder.iterdir() if p.name.endswith(".partial")]
    assert not leftovers and not any(name.startswith(".CURRENT.") for name in os.listdir(
        copy.folder))


def _day_export(path: Path, problems: range, *, closed_every: int) -> Path:
    rows = ["问题编号,上报时间,问题类型,经度,纬度,状态,办结时间,整改期限"]
    for i in problems:
        closed = f"2024-03-{10 + i % 10} 10:00" if i % closed_every == 0 else ""
        rows.append(f"P{i},2024-03-0{1 + i % 9} 09:00,{'水' if i % 2 else '大气'},"
                    f"{120.70 + 0.002 * (i % 7)},{30.70 + 0.002 * (i % 5)},"
                    f"{'已办结' if closed else '整改中'},{closed},2024-03-1{i % 9}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("imports", [1, 2])
def test_questions_from_the_copy_equal_questions_from_the_tables(
        small_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        imports: int) -> None:
    from gridwatch.config import load_config
    from gridwatch.pipeline import run_ingest

    config = load_config(small_project)
    url = f"sqlite:///{tmp_path / 'q.sqlite'}"
    exports = [_day_export(small_project.parent / "day1.csv", range(40), closed_every=3),
               # the next day: more problems closed, ten new ones
               _day_export(small_project.parent / "day2.csv", range(50), closed_every=2)]
    # exported at 18:00 in Jiaxing on Wednesday 13 and Thursday 14 March 2024 (ISO week 11)
    observed = [dt.datetime(2024, 3, 13, 10, tzinfo=dt.UTC),
                dt.datetime(2024, 3, 14, 10, tzinfo=dt.UTC)]
    with Store(url) as store:
        for export, when in list(zip(exports, observed, strict=True))[:imports]:
            run_ingest([export], config=config, store=store, observed_at=when)
        assert store.last_run_id() == imports
        tables = SupervisionContext.from_frames(store.issues(layers=["county", "grid"]),
                                                store.history(), config=config)
        tables.derive()
    # the import derived and kept deadlines, rebounds, incidents and status events: questions
    # read them back and never compute them
    keys = sorted(p.name for p in store.analytical_copy.current().folder.glob("derived-*"))
    assert [k.split("-")[1] for k in keys] == ["deadlines", "evaluation", "events", "incidents",
                                                "open", "rebounds"]
    last_export = open_context(config, url).last_export
    assert last_export == observed[imports - 1].date()
    evaluated = tables.evaluate(last_export)  # before evaluate_as_of is stubbed out below
    week_end = tables.evaluate(dt.date(2024, 3, 10))
    league = tables.league("2024-W10", layer="grid")
    # the first league of the last whole week keeps its two evaluations (that week's end and
    # the week before's) beside the copy; later ones read them
    pd.testing.assert_frame_equal(open_context(config, url).league("2024-W10", layer="grid"),
                                  league)
    kept_days = sorted(p.name for p in store.analytical_copy.current().folder.glob(
        "derived-evaluation-*"))
    assert len(kept_days) == 3
    monkeypatch.setattr("gridwatch.supervision.codes.evaluate_as_of", _not_again)
    kept = open_context(config, url)
    pd.testing.assert_frame_equal(kept.evaluate(last_export), evaluated)
    pd.testing.assert_frame_equal(kept.evaluate(dt.date(2024, 3, 10)), week_end)
    pd.testing.assert_frame_equal(open_context(config, url).league("2024-W10", layer="grid"),
                                  league)
    monkeypatch.undo()
    for module, name in (("rebound", "find_rebounds"), ("incidents", "group_incidents"),
                         ("deadlines", "derive_deadlines"), ("events", "status_events")):
        monkeypatch.setattr(f"gridwatch.supervision.{module}.{name}", _not_again)
    first = open_context(config, url)
    second = open_context(config, url)
    assert second.copy is not None and second.run_id == imports
    for ctx in (first, second):
        pd.testing.assert_frame_equal(ctx.rebounds, tables.rebounds)
        pd.testing.assert_frame_equal(_ns(ctx.deadlines), _ns(tables.deadlines))
        pd.testing.assert_frame_equal(ctx.status("2024-03-12", layer="grid"),
                                      tables.status("2024-03-12", layer="grid"))
        pd.testing.assert_frame_equal(ctx.league("2024-W11", layer="grid"),
                                      tables.league("2024-W11", layer="grid"))
        pd.testing.assert_frame_equal(ctx.reminders("2024-03-12"),
                                      tables.reminders("2024-03-12"))


def _one_export(small_project: Path, tmp_path: Path) -> tuple[Any, str]:
    """The small project and a store holding one day's export (13 March 2024, 18:00 local)."""
    from gridwatch.config import load_config
    from gridwatch.pipeline import run_ingest

    config = load_config(small_project)
    url = f"sqlite:///{tmp_path / 'one.sqlite'}"
    export = _day_export(small_project.parent / "day1.csv", range(40), closed_every=3)
    with Store(url) as store:
        run_ingest([export], config=config, store=store,
                   observed_at=dt.datetime(2024, 3, 13, 10, tzinfo=dt.UTC))
    return config, url


@pytest.mark.parametrize("imports", [1, 2])
def test_parts_derived_while_the_rows_are_written_equal_parts_derived_after(
        small_project: Path, tmp_path: Path, imports: int) -> None:
    """run_ingest derives what questions need while the store writes the rows; deriving the
    same from the committed copy afterwards gives the same parts, under the same names."""
    from gridwatch.config import load_config
    from gridwatch.pipeline import run_ingest
    from gridwatch.store.analytical import _read_frame

    config = load_config(small_project)
    exports = [_day_export(small_project.parent / "day1.csv", range(40), closed_every=3),
               _day_export(small_project.parent / "day2.csv", range(50), closed_every=2)]
    observed = [dt.datetime(2024, 3, 13, 10, tzinfo=dt.UTC),
                dt.datetime(2024, 3, 14, 10, tzinfo=dt.UTC)]
    folders = []
    for name, alongside in (("beside", True), ("after", False)):
        with Store(f"sqlite:///{tmp_path / name}.sqlite") as store, \
                warnings.catch_warnings():
            warnings.simplefilter("error")  # derived alongside, not again after a warning
            for export, when in list(zip(exports, observed, strict=True))[:imports]:
                run_ingest([export], config=config, store=store, observed_at=when,
                           derive=alongside)
            if not alongside:
                open_context(config, store=store).derive()
            folders.append(store.analytical_copy.current().folder)
    beside, after = ({p.name: p for p in folder.glob("derived-*.arrow")} for folder in folders)
    assert sorted(beside) == sorted(after) and len(beside) == 6
    for name, path in beside.items():
        pd.testing.assert_frame_equal(_read_frame(path), _read_frame(after[name]))


def test_an_evaluation_asked_once_is_read_when_asked_again(
        small_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gridwatch.supervision import context

    config, url = _one_export(small_project, tmp_path)
    first = open_context(config, url)
    assert first.copy is not None
    folder = first.copy.current().folder
    asked = [dt.date(2024, 2, day) for day in range(1, 10)]  # none of the kept days
    answers = {day: first.evaluate(day) for day in asked}
    # the last export's (kept at import) and the last six asked
    assert len(list(folder.glob("derived-evaluation-*"))) == 1 + context._ASKED_EVALUATIONS_ON_DISK
    monkeypatch.setattr("gridwatch.supervision.codes.evaluate_as_of", _not_again)
    again = open_context(config, url)
    for day in asked[-context._ASKED_EVALUATIONS_ON_DISK:]:
        pd.testing.assert_frame_equal(again.evaluate(day), answers[day])
    pd.testing.assert_frame_equal(again.evaluate(dt.date(2024, 3, 13)),
                                  first.evaluate(dt.date(2024, 3, 13)))
    with pytest.raises(AssertionError, match="derived again"):  # let go: computed again
        again.evaluate(asked[0])
    monkeypatch.undo()
    # a kept day is never let go, however many dates are asked after it
    sunday = open_context(config, url)
    sunday.evaluate(dt.date(2024, 3, 10))
    for day in range(10, 20):
        sunday.evaluate(dt.date(2024, 1, day))
    assert sunday._evaluation_key(dt.date(2024, 3, 10)) in {
        p.name[len("derived-"):-len(".arrow")] for p in folder.glob("derived-evaluation-*")}


def test_open_and_overdue_of_a_date_are_kept_once_asked(
        small_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gridwatch.supervision import context

    config, url = _one_export(small_project, tmp_path)
    with Store(url) as store:
        tables = SupervisionContext.from_frames(store.issues(layers=["county", "grid"]),
                                                store.history(), config=config)
    days = [dt.date(2024, 3, 6), *(dt.date(2024, 2, d) for d in range(1, 29))]
    # the import kept a week before the last export (the app's first view); the rest are
    # computed once, then read
    asked = open_context(config, url)
    answers = {day: asked.open_overdue(day) for day in days[1:]}
    answers[days[0]] = tables.open_overdue(days[0])
    monkeypatch.setattr("gridwatch.supervision.codes.state_arrays", _not_again)
    again = open_context(config, url)
    for day in days:
        for got, expected in zip(again.open_overdue(day), answers[day], strict=True):
            np.testing.assert_array_equal(got, expected)
    monkeypatch.undo()
    assert tables.copy is None
    for day in days[1:]:  # what was kept is what the tables give
        for got, expected in zip(answers[day], tables.open_overdue(day), strict=True):
            np.testing.assert_array_equal(got, expected)
    folder = asked.copy.current().folder
    assert len(list(folder.glob("derived-open-overdue-*"))) == min(
        len(days), context._OPEN_OVERDUE_ON_DISK)


def test_missing_floats_and_times_are_written_as_values_read_in_place(tmp_path: Path) -> None:
    import pyarrow.feather as feather

    from gridwatch.store.analytical import _read_frame, _write_frame

    frame = pd.DataFrame({
        "score": [1.5, np.nan, 3.0],
        "nullable": pd.array([1.5, None, 2.0], dtype="Float64"),
        "closed_at": pd.to_datetime(["2024-01-01", None, "2024-02-01"]).tz_localize("UTC"),
        "review": np.array(["2024-01-01", "NaT", "2024-01-03"], dtype="datetime64[s]"),
        "unit": pd.Series(["a", None, "c"], dtype="str"),
        "count": [1, 2, 3],
    })
    path = tmp_path / "frame.arrow"
    _write_frame(frame, path)
    table = feather.read_table(path)
    assert table.column("unit").num_chunks == 1  # one batch: text is not joined when read
    # NaN and NaT are values in the file: those columns are read without a copy
    assert [table.column(c).null_count for c in ("score", "closed_at", "review")] == [0, 0, 0]
    assert table.column("nullable").null_count == 1  # an extension dtype keeps its NA
    pd.testing.assert_frame_equal(_read_frame(path), frame)


def _not_again(*args: object, **kwargs: object) -> None:
    raise AssertionError("derived again although the import kept it")


def _ns(deadlines: pd.DataFrame) -> pd.DataFrame:
    """Milestones as tuples of UTC nanoseconds, however they are held."""
    return deadlines.assign(milestones=[tuple(pd.Timestamp(t, tz="UTC").value
                                              if not isinstance(t, pd.Timestamp) else t.value
                                              for t in v) for v in deadlines["milestones"]])


def test_store_info_and_rebuild_from_the_command_line(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from gridwatch.cli import main

    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    with Store(url) as store:
        do_import(store, placed_frame(3))
    (store.analytical_copy.folder / "CURRENT").unlink()  # as if the copy had been lost
    runner = CliRunner()
    info = runner.invoke(main, ["store", "info", "--db", url, "--json"])
    assert info.exit_code == 0, info.output
    assert json.loads(info.output) | {"copy_folder": None} == {
        "last_run": 1, "copy_folder": None, "copy_run": None, "copy_rows": None,
        "copy_current": False}
    rebuilt = runner.invoke(main, ["store", "rebuild", "--db", url])
    assert rebuilt.exit_code == 0 and "run 1: 3 problems" in rebuilt.output
    info = runner.invoke(main, ["store", "info", "--db", url])
    assert "up to date" in info.output and "3 problems" in info.output


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_copy_equals_the_tables_over_random_import_sequences(tmp_path: Path, seed: int) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    statuses = ["reported", "assigned", "rectifying", "closed", "verified"]
    with Store(url) as store:
        for round_no in range(4):
            frame = placed_frame(int(rng.integers(3, 12)))
            keep = rng.random(len(frame)) < 0.8
            frame = frame[keep].reset_index(drop=True)
            frame["status"] = rng.choice(statuses, len(frame))
            closed = frame["status"].isin(["closed", "verified"]).to_numpy()
            frame["closed_at"] = pd.Series(pd.Timestamp("2024-03-20", tz="UTC"),
                                           index=frame.index).where(closed)
            if round_no == 2:  # an export without the redline placement
                frame = frame.drop(columns=["redline_id", "in_redline", "near_redline",
                                            "redline_dist_m"])
            do_import(store, frame, observed_at=pd.Timestamp("2024-03-16", tz="UTC")
                      + pd.Timedelta(days=round_no))
            _assert_copy_is_the_store(store)


def test_a_copy_that_cannot_be_written_only_warns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    with Store(url) as store:
        do_import(store, placed_frame(3))
        folder = store.analytical_copy.folder
        import shutil

        shutil.rmtree(folder)
        folder.write_text("a file where the folder should be")  # nothing can be written there
        with pytest.warns(RuntimeWarning, match="could not be written"):
            issues, _, run_id = store.analytical()
        pd.testing.assert_frame_equal(issues, store.issues())
        with pytest.warns(RuntimeWarning, match="could not be refreshed"):
            do_import(store, placed_frame(4))  # the import itself is stored
        assert store.last_run_id() == run_id + 1


def test_a_copy_left_by_another_store_at_the_same_place_is_replaced(tmp_path: Path) -> None:
    import time

    path = tmp_path / "store.sqlite"
    with Store(f"sqlite:///{path}") as store:
        for _ in range(3):
            do_import(store, placed_frame(5))
    for leftover in tmp_path.glob("store.sqlite*"):
        if leftover.is_file():
            leftover.unlink()  # the store is deleted; its copy (of run 3) stays behind
    time.sleep(0.01)
    with Store(f"sqlite:///{path}") as store:  # a new store at the same place: run 1
        do_import(store, placed_frame(2, prefix="B"))
        assert store.analytical_copy.current().run_id == 1
        _assert_copy_is_the_store(store)

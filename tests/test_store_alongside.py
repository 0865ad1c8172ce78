"""Work done while an import's rows are written (``Store.import_records(..., alongside=...)``):
the copy's frames built before the commit are the copy after it, what ``alongside`` derives
is what the questions derive from the copy, and a failure on either side behaves as without it.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_store import do_import, placed_frame, snapshot

from gridwatch.errors import StoreError
from gridwatch.store import Store
from gridwatch.store.analytical import AnalyticalCopy, DerivedBuffer


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostGIS stores keep their copy in the user's cache folder: here, a temporary one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


class _Recorder:
    """An ``alongside`` that keeps what it was given and when its ``after`` ran."""

    def __init__(self) -> None:
        self.given: list[tuple[pd.DataFrame, pd.DataFrame, int]] = []
        self.after: list[tuple[int, int | None]] = []

    def __call__(self, issues: pd.DataFrame, history: pd.DataFrame, run_id: int,
                 observed_at: dt.datetime) -> Any:
        self.given.append((issues.copy(), history.copy(), run_id))

        def after(copy: AnalyticalCopy) -> None:
            current = copy.current()
            self.after.append((run_id, current.run_id if current else None))
        return after


def _copy_is_the_store(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    found = store.analytical_copy.read(store.last_run_id())
    assert found is not None, "the copy is not of the store's last run"
    issues, history = found
    pd.testing.assert_frame_equal(issues, store.issues())
    pd.testing.assert_frame_equal(history, store.history())
    return issues, history


@pytest.mark.parametrize("seed", [1, 2])
def test_frames_given_alongside_are_the_copy_after_the_commit(
        store_url: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    statuses = ["reported", "assigned", "rectifying", "closed", "verified"]
    recorder = _Recorder()
    stored: list[int] = []
    predicted_wrong: list[bool] = []
    with Store(store_url) as store:
        for round_no in range(4):
            frame = placed_frame(int(rng.integers(3, 12)))
            frame = frame[rng.random(len(frame)) < 0.8].reset_index(drop=True)
            frame["status"] = rng.choice(statuses, len(frame))
            closed = frame["status"].isin(["closed", "verified"]).to_numpy()
            frame["closed_at"] = pd.Series(pd.Timestamp("2024-03-20", tz="UTC"),
                                           index=frame.index).where(closed)
            when = pd.Timestamp("2024-03-16", tz="UTC") + pd.Timedelta(days=round_no)
            if round_no == 2:
                # an import that fails after writing its history: PostgreSQL's sequence then
                # skips the ids it gave, and the ids the frames expected are not the ones given
                def fail(*args: object, **kwargs: object) -> None:
                    raise RuntimeError("the disk is full")

                with monkeypatch.context() as patched:
                    patched.setattr(Store, "_write_changes", fail)
                    with pytest.raises(StoreError, match="the disk is full"):
                        do_import(store, frame, observed_at=when, alongside=recorder)
            do_import(store, frame, observed_at=when, alongside=recorder)
            issues, history = _copy_is_the_store(store)
            given_issues, given_history, run_id = recorder.given[-1]
            assert run_id == store.last_run_id()
            stored.append(run_id)
            pd.testing.assert_frame_equal(given_issues, issues)
            # the run's history ids are the database's, read back after the commit
            pd.testing.assert_frame_equal(given_history.drop(columns="id"),
                                          history.drop(columns="id"))
            predicted_wrong.append(bool((given_history["id"] != history["id"]).any()))
    # SQLite numbers on from its largest id (a rolled-back run leaves none behind);
    # PostgreSQL's sequence skipped the ids the failed run took
    assert any(predicted_wrong) == store_url.startswith("postgresql")
    # after() ran once the copy of its run was in place; never for the failed run
    assert recorder.after == [(run, run) for run in stored]


def test_a_failed_write_leaves_store_and_copy_and_never_calls_after(store_url: str) -> None:
    recorder = _Recorder()

    def stop(done: int, total: int) -> None:
        raise KeyError("operator pressed stop")

    with Store(store_url) as store:
        do_import(store, placed_frame(3, prefix="B"), alongside=recorder)
        before, version = snapshot(store), store.analytical_copy.current()
        with pytest.raises(StoreError, match="operator pressed stop"):
            do_import(store, placed_frame(6), chunk_size=2, progress=stop, alongside=recorder)
        for old, new in zip(before, snapshot(store), strict=True):
            pd.testing.assert_frame_equal(old, new)
        assert store.analytical_copy.current() == version
        # the copy's version of the failed run, written while its rows were, is gone
        assert not [p for p in store.analytical_copy.folder.iterdir()
                    if p.name.endswith(".partial") or p.name.startswith("r000002")]
        assert [run for run, _ in recorder.after] == [1]
        # the store still imports after the failure
        assert do_import(store, placed_frame(6), alongside=recorder).inserted == 6
        _copy_is_the_store(store)


def test_a_failing_alongside_only_warns(store_url: str) -> None:
    def broken(*args: object) -> None:
        raise ValueError("a setting the questions cannot use")

    with Store(store_url) as store:
        with pytest.warns(RuntimeWarning, match="derived after it"):
            counts = do_import(store, placed_frame(5), alongside=broken)
        assert counts.inserted == 5
        _copy_is_the_store(store)


def test_an_import_into_a_store_without_a_copy_does_nothing_alongside(tmp_path: Path) -> None:
    recorder = _Recorder()
    with Store("sqlite://") as store:  # in memory: no analytical copy
        assert do_import(store, placed_frame(4), alongside=recorder).inserted == 4
    assert recorder.given == [] and recorder.after == []


def test_derived_parts_wait_in_a_buffer_until_flushed(tmp_path: Path) -> None:
    buffer = DerivedBuffer(run_id=3)
    part = pd.DataFrame({"x": [1.0, 2.0]})
    assert buffer.write_derived(3, "deadlines-a", part)
    assert not buffer.write_derived(2, "deadlines-b", part)  # another run
    assert buffer.read_derived(2, "deadlines-a") is None
    pd.testing.assert_frame_equal(buffer.read_derived(3, "deadlines-a"), part)
    for day in range(5):
        buffer.write_derived(3, f"evaluation-{day}", part)
    buffer.read_derived(3, "evaluation-0")  # used last: kept
    buffer.forget_derived(3, "evaluation-", keep={"evaluation-1"}, most=2)
    assert sorted(buffer.parts) == ["deadlines-a", "evaluation-0", "evaluation-1",
                                    "evaluation-4"]
    with Store(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        for _ in range(3):
            do_import(store, placed_frame(3))
        copy = store.analytical_copy
        assert DerivedBuffer(run_id=2).flush(copy) == 0  # not the version in use
        assert buffer.flush(copy) == 4
        pd.testing.assert_frame_equal(copy.read_derived(3, "evaluation-4"), part)


def test_ctrl_c_while_deriving_stops_the_writes_at_their_next_batch(store_url: str) -> None:
    calls: list[int] = []

    def slow(done: int, total: int) -> None:
        calls.append(done)
        time.sleep(0.05)

    def interrupted(*args: object) -> None:
        time.sleep(0.1)
        raise KeyboardInterrupt

    with Store(store_url) as store:
        do_import(store, placed_frame(3, prefix="B"))
        before, version = snapshot(store), store.analytical_copy.current()
        with pytest.raises(KeyboardInterrupt):
            do_import(store, placed_frame(30), chunk_size=1, progress=slow,
                      alongside=interrupted)
        for old, new in zip(before, snapshot(store), strict=True):
            pd.testing.assert_frame_equal(old, new)
        assert store.analytical_copy.current() == version
    assert 0 < len(calls) < 30  # stopped long before the last of the 30 batches


def test_ctrl_c_while_waiting_for_the_writes_lets_them_stop_first() -> None:
    """Ctrl-C while the import waits for its statements: they are asked to stop and the
    interrupt is raised once they have (never while they still use the connection)."""
    import threading

    from gridwatch.store.transactional import _join

    stop = threading.Event()

    class Statements:  # a thread whose first join is interrupted by Ctrl-C
        def __init__(self) -> None:
            self.joins = 0
            self.running = True

        def is_alive(self) -> bool:
            return self.running

        def join(self) -> None:
            self.joins += 1
            if self.joins == 1:
                raise KeyboardInterrupt
            assert stop.is_set(), "waited again without asking the statements to stop"
            self.running = False  # they stopped at their next batch

    worker = Statements()
    with pytest.raises(KeyboardInterrupt):
        _join(worker, stop)  # type: ignore[arg-type]
    assert worker.joins == 2 and not worker.running

"""The ledger in the store (SQLite and PostGIS): one transaction per import, runs, events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from _ledger_fixture import GOOD, write_ledger

from gridwatch.errors import StoreError
from gridwatch.ledger.read import read_ledger
from gridwatch.store.ledger import (
    import_ledger,
    ledger_events,
    ledger_milestones,
    ledger_runs,
    ledger_tasks,
    record_event,
)
from gridwatch.store.transactional import Store


def _import(store: Store, path: Path):
    result = read_ledger(path)
    return result, import_ledger(store, result.tasks, result.milestones, file=path.name,
                                 rows_in=result.rows_in, rejected=result.rejected)


def test_import_round_trip_and_runs(store_url: str, tmp_path: Path) -> None:
    with Store(store_url) as store:
        result, counts = _import(store, write_ledger(tmp_path))
        assert (counts.inserted, counts.updated, counts.unchanged) == (len(GOOD), 0, 0)
        tasks = ledger_tasks(store)
        expected = result.tasks.drop(columns=["source_file", "source_row"])
        pd.testing.assert_frame_equal(
            tasks.sort_values("task_id").reset_index(drop=True),
            expected.sort_values("task_id").reset_index(drop=True)[tasks.columns.tolist()],
            check_dtype=False)
        ms = ledger_milestones(store)
        assert len(ms) == len(result.milestones)
        _r, again = _import(store, write_ledger(tmp_path))
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(GOOD))
        runs = ledger_runs(store)
        assert runs["ok"].tolist() == [True, True]
        assert runs[["rows_in", "accepted", "rejected"]].iloc[0].tolist() == [
            result.rows_in, result.accepted, result.rejected]


def test_changes_of_deadline_unit_and_leader_are_kept(store_url: str, tmp_path: Path) -> None:
    with Store(store_url) as store:
        result, _c = _import(store, write_ledger(tmp_path))
        tasks = result.tasks.copy()
        row = tasks.index[tasks["task_id"] == "S1-02-1"][0]
        tasks.loc[row, "unit"] = "秀洲区人民政府"
        tasks.loc[row, "leader"] = "李副市长"
        tasks.loc[tasks["task_id"] == "Z2-01-1", "deadline"] = pd.Timestamp("2024-10-31")
        counts = import_ledger(store, tasks, result.milestones, file="b.csv", rows_in=8,
                               rejected=0)
        assert (counts.updated, counts.changes) == (2, 3)
        events = ledger_events(store)
        got = {(e.subject_id, e.field): (e.old_value, e.new_value)
               for e in events.itertuples() if e.kind == "change"}
        assert got == {("S1-02-1", "unit"): ("南湖区人民政府", "秀洲区人民政府"),
                       ("S1-02-1", "leader"): ("王副市长", "李副市长"),
                       ("Z2-01-1", "deadline"): ("2024-09-30", "2024-10-31")}
        assert ledger_tasks(store).set_index("task_id").loc["S1-02-1", "unit"] == "秀洲区人民政府"


def test_a_failed_import_leaves_the_ledger_and_is_recorded(store_url: str,
                                                           tmp_path: Path) -> None:
    with Store(store_url) as store:
        result, _c = _import(store, write_ledger(tmp_path))
        bad = result.tasks.copy()
        bad.loc[0, "task"] = "改了"
        bad.loc[1, "round"] = None  # NOT NULL: the transaction fails on the second task
        with pytest.raises(StoreError, match="rolled back"):
            import_ledger(store, bad, result.milestones, file="bad.csv", rows_in=8, rejected=0)
        tasks = ledger_tasks(store).set_index("task_id")
        assert tasks.loc[result.tasks["task_id"][0], "task"] == result.tasks["task"][0]
        runs = ledger_runs(store)
        assert runs["ok"].tolist() == [True, False]
        assert runs["file"].tolist()[-1] == "bad.csv"


def test_events_need_a_known_task(store_url: str, tmp_path: Path) -> None:
    with Store(store_url) as store:
        _import(store, write_ledger(tmp_path))
        event_id = record_event(store, subject="task", subject_id="Z2-01-2", kind="accept",
                                on_date=dt.date(2024, 3, 5), conclusion="pass", unit="市督察办")
        assert event_id >= 1
        with pytest.raises(StoreError, match="no task 'Z9'"):
            record_event(store, subject="task", subject_id="Z9", kind="accept",
                         on_date=dt.date(2024, 3, 5), conclusion="pass")
        with pytest.raises(StoreError, match="unknown ledger event kind"):
            record_event(store, subject="task", subject_id="Z2-01-2", kind="close",
                         on_date=dt.date(2024, 3, 5))
        events = ledger_events(store)
        assert events[["subject_id", "kind", "conclusion", "unit"]].values.tolist() == [
            ["Z2-01-2", "accept", "pass", "市督察办"]]
        assert events["on_date"].iloc[0] == pd.Timestamp("2024-03-05")


def test_a_store_made_before_the_ledger_gains_its_tables(store_url: str) -> None:
    with Store(store_url) as store:
        names = ["ledger_events", "ledger_milestones", "ledger_tasks", "ledger_runs",
                 "letter_items", "letters"]
        with store.write() as conn:
            for name in names:
                store.table(name).drop(conn)
        with store.engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert not any(inspector.has_table(n, schema=store.schema) for n in names)
    with Store(store_url) as store:
        with store.engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert all(inspector.has_table(n, schema=store.schema) for n in names)
        assert ledger_tasks(store).empty and ledger_events(store).empty


# --- problems linked to the ledger (the ledger_ref column) -----------------------------------

def _problems(refs: list[str | None]) -> pd.DataFrame:
    from test_store import placed_frame

    frame = placed_frame(len(refs))
    frame["ledger_ref"] = pd.Series(refs, dtype="str")
    return frame


def test_a_link_changes_only_the_hash_of_linked_rows() -> None:
    from test_store import LAYERS, placed_frame

    from gridwatch.store._tables import prepare

    layers = [name for name, _ in LAYERS]
    before = prepare(placed_frame(3), layers).hashes
    linked = prepare(_problems(["Z2-01-1", None, "Z2-01-2"]), layers).hashes
    assert linked[1] == before[1]
    assert linked[0] != before[0] and linked[2] != before[2] and linked[0] != linked[2]


def test_problems_keep_their_link_and_a_store_without_the_column_gains_it(
        store_url: str) -> None:
    from test_store import do_import

    with Store(store_url) as store:
        do_import(store, _problems([None, None]))
        with store.write() as conn:
            issues = conn.dialect.identifier_preparer.format_table(store.table("issues"))
            conn.exec_driver_sql(f"ALTER TABLE {issues} DROP COLUMN ledger_ref")
    with Store(store_url) as store:  # opened: the column is added, nothing else changes
        assert store.issues()["ledger_ref"].isna().all()
        counts = do_import(store, _problems([None, "S1-01-1"]))
        assert (counts.unchanged, counts.updated) == (1, 1)
        assert store.issues()["ledger_ref"].tolist()[1] == "S1-01-1"


def test_problem_exports_link_by_either_header(tmp_path: Path) -> None:
    from gridwatch.ingest.records import read_issues

    for header in ("整改任务编号", "反馈问题编号"):
        path = tmp_path / f"{header}.csv"
        path.write_text(f"问题编号,上报时间,经度,纬度,{header}\n"
                        "P1,2024-03-01 09:00,120.8,30.7,Z2-01-1\nP2,2024-03-01 09:00,120.8,30.7,\n",
                        encoding="utf-8")
        records = read_issues(path).records
        assert records["ledger_ref"].tolist()[0] == "Z2-01-1"
        assert pd.isna(records["ledger_ref"].tolist()[1])


def test_the_register_of_letters_round_trips(store_url: str) -> None:
    from test_ledger_letters import empty_register, reminders

    from gridwatch.ledger.letters import plan_letters
    from gridwatch.store.ledger import issue_letters, letter_register, record_reply

    plan = plan_letters(reminders([("P1", "甲局", "reminder_letter", 1),
                                   ("P2", "乙局", "assignment_sheet", 4)]),
                        *empty_register(), dt.date(2026, 3, 2))
    with Store(store_url) as store:
        issue_letters(store, plan.letters, plan.items, plan.escalated)
        record_reply(store, "督提〔2026〕1号", on=dt.date(2026, 3, 4), reply="已整改")
        with pytest.raises(StoreError, match="already"):
            record_reply(store, "督提〔2026〕1号", on=dt.date(2026, 3, 5))
        letters, items = letter_register(store)
    assert letters["letter_no"].tolist() == ["督交〔2026〕1号", "督提〔2026〕1号"]
    assert letters.set_index("letter_no").loc["督提〔2026〕1号", "replied_on"] == \
        pd.Timestamp("2026-03-04")
    assert items.sort_values("issue_id")["issue_id"].tolist() == ["P1", "P2"]
    later = plan_letters(reminders([("P2", "乙局", "assignment_sheet", 12)]), letters, items,
                         dt.date(2026, 3, 20))
    assert later.escalated == {"督交〔2026〕1号": "督办〔2026〕1号"}

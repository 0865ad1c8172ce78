"""Progress of the ledger as of a date, against figures computed here task by task."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _ledger_fixture import CENTRAL, PROVINCIAL, write_ledger
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.ledger.progress import (
    STATES,
    group_progress,
    item_progress,
    progress_report,
    progress_sentence,
    round_progress,
    task_states,
    write_progress,
)
from gridwatch.ledger.read import read_ledger

EVENT_COLUMNS = ["id", "subject", "subject_id", "kind", "on_date", "field", "old_value",
                 "new_value", "conclusion", "unit", "reason", "milestone"]


def events_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame([{c: r.get(c) for c in EVENT_COLUMNS} | {"id": i + 1}
                          for i, r in enumerate(rows)], columns=EVENT_COLUMNS)
    frame["on_date"] = pd.to_datetime(frame["on_date"]).astype("datetime64[s]")
    frame["milestone"] = pd.to_numeric(frame["milestone"]).astype("Int64")
    for c in ("subject", "subject_id", "kind", "new_value", "conclusion"):
        frame[c] = frame[c].astype("str")
    return frame


def reference_state(task: dict, milestones: list[tuple[int, dt.date]], events: list[dict],
                    day: dt.date, require_acceptance: bool = True) -> str:
    """The rules of docs/ledger.md, one task at a time, in plain Python."""
    mine = sorted((e for e in events if e["subject_id"] == task["task_id"]
                   and e["on_date"] <= day), key=lambda e: (e["on_date"], e["id"]))
    deadline = task["deadline"]
    for e in mine:
        if e["kind"] == "extend":
            deadline = dt.date.fromisoformat(e["new_value"])
    done_on = task["rectified_on"]
    rectified = done_on is not None and done_on <= day
    accepted = False
    accepts = [e for e in mine if e["kind"] == "accept"]
    if rectified and accepts and accepts[-1]["on_date"] >= done_on:
        if accepts[-1]["conclusion"] == "fail":
            rectified = False
        else:
            accepted = True
    if rectified:
        return "closed_off" if accepted or not require_acceptance else "awaiting_acceptance"
    if task["task_type"] != "long_term" and deadline is not None and deadline < day:
        return "overdue"
    marked = {e["milestone"] for e in mine if e["kind"] == "milestone_done"}
    if any(due < day and seq not in marked for seq, due in milestones):
        return "behind"
    return "on_schedule"


def _day(value: object) -> dt.date | None:
    return None if pd.isna(value) else pd.Timestamp(value).date()


@pytest.fixture
def ledger(tmp_path: Path):
    result = read_ledger(write_ledger(tmp_path))
    return result.tasks.drop(columns=["source_file", "source_row"]), result.milestones


def test_the_fixture_as_of_may_day(ledger) -> None:
    tasks, ms = ledger
    events = events_frame([
        {"subject": "task", "subject_id": "Z2-01-2", "kind": "accept",
         "on_date": "2024-03-05", "conclusion": "pass"},
        {"subject": "task", "subject_id": "Z2-03-1", "kind": "accept",
         "on_date": "2024-04-20", "conclusion": "fail"},
        {"subject": "task", "subject_id": "Z2-02-2", "kind": "extend",
         "on_date": "2024-03-01", "new_value": "2024-06-30"},
        {"subject": "task", "subject_id": "Z2-01-1", "kind": "milestone_done",
         "on_date": "2024-03-28", "milestone": 1},
    ])
    states = task_states(tasks, ms, events, "2024-05-01").set_index("task_id")["state"]
    assert states.to_dict() == {
        "Z2-01-1": "on_schedule",          # milestone 1 done, 2 not yet due
        "Z2-01-2": "closed_off",           # rectified 02-20, accepted 03-05
        "Z2-02-1": "on_schedule",          # long-term
        "Z2-02-2": "on_schedule",          # 01-31 passed, but extended to 06-30 on 03-01
        # rectified 04-10 but failed acceptance on 04-20, so open again; its milestone of
        # 04-30 is past and not marked done (its deadline 08-31 is not)
        "Z2-03-1": "behind",
        "S1-01-1": "behind",               # milestone 04-30 not marked done
        "S1-01-2": "awaiting_acceptance",  # rectified 03-15, not accepted
        "S1-02-1": "on_schedule",          # due 05-31
    }
    items = item_progress(task_states(tasks, ms, events, "2024-05-01")).set_index("item_id")
    assert items["item_state"].to_dict() == {"Z2-01": "on_schedule", "Z2-02": "on_schedule",
                                             "Z2-03": "behind", "S1-01": "behind",
                                             "S1-02": "on_schedule"}
    assert items["item_rectified"].sum() == 0
    rounds = round_progress(items.reset_index()).set_index("round")
    assert rounds.loc[CENTRAL, "items"] == 3 and rounds.loc[PROVINCIAL, "items"] == 2
    assert rounds.loc[CENTRAL, "tasks_closed_off"] == 1
    assert progress_sentence(rounds.reset_index().iloc[0]).startswith(
        f"{rounds.index[0]}: ")


def test_before_the_extension_was_approved_the_task_is_overdue(ledger) -> None:
    tasks, ms = ledger
    events = events_frame([{"subject": "task", "subject_id": "Z2-02-2", "kind": "extend",
                            "on_date": "2024-03-01", "new_value": "2024-06-30"}])
    state = {d: task_states(tasks, ms, events, d).set_index("task_id").loc["Z2-02-2"]
             for d in ("2024-02-29", "2024-03-01", "2024-07-01")}
    assert state["2024-02-29"]["state"] == "overdue"
    assert not state["2024-02-29"]["extended"]
    assert state["2024-03-01"]["state"] == "on_schedule"
    assert state["2024-03-01"]["extended"]
    assert state["2024-07-01"]["state"] == "overdue"


def test_the_project_can_close_off_without_acceptance(ledger) -> None:
    tasks, ms = ledger
    states = task_states(tasks, ms, events_frame([]), "2024-05-01", require_acceptance=False)
    rectified = tasks["rectified_on"].notna().sum()
    assert (states["state"] == "closed_off").sum() == rectified
    assert (states["state"] == "awaiting_acceptance").sum() == 0


def test_groups_by_unit_and_leader_count_every_task_once(ledger) -> None:
    tasks, ms = ledger
    states = task_states(tasks, ms, events_frame([]), "2024-06-15")
    for by in ("unit", "leader"):
        table = group_progress(states, by)
        assert table["tasks"].sum() == len(tasks)
        expected = tasks.groupby(by).size()
        assert table.set_index(by)["tasks"].sort_index().to_dict() == expected.to_dict()
        assert (table[list(STATES)].sum(axis=1) == table["tasks"]).all()
        # worst first
        assert table["overdue"].tolist() == sorted(table["overdue"], reverse=True)


def test_report_for_one_round_and_the_workbook(ledger, tmp_path: Path) -> None:
    tasks, ms = ledger
    events = events_frame([{"subject": "task", "subject_id": "Z2-02-2", "kind": "extend",
                            "on_date": "2024-03-01", "new_value": "2024-06-30",
                            "reason": "=cmd|' /C calc'!A0"}])
    report = progress_report(tasks, ms, events, "2024-05-01", round=CENTRAL)
    assert report["rounds"]["round"].tolist() == [CENTRAL]
    assert set(report["tasks"]["round"]) == {CENTRAL}
    assert report["extensions"]["task_id"].tolist() == ["Z2-02-2"]
    with pytest.raises(ValueError, match="its rounds"):
        progress_report(tasks, ms, events, "2024-05-01", round="第三轮")
    path = write_progress(report, tmp_path / "p.xlsx")
    book = pd.read_excel(path, sheet_name=None)
    assert len(book) == 7
    ext = next(v for k, v in book.items() if k.startswith("延期"))
    assert ext["reason"].iloc[0].startswith("'=")  # neutralised


_DAYS = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2024, 12, 31))


@st.composite
def ledgers(draw: st.DrawFn):
    n = draw(st.integers(1, 8))
    tasks, ms, events = [], [], []
    for i in range(n):
        kind = draw(st.sampled_from(["immediate", "staged", "long_term"]))
        deadline = None if kind == "long_term" else draw(_DAYS)
        done = draw(st.one_of(st.none(), _DAYS))
        tasks.append({"task_id": f"T{i}", "round": draw(st.sampled_from(["一", "二"])),
                      "item_id": f"I{draw(st.integers(0, 3))}", "item": "问题", "task": "任务",
                      "target": None, "measures": None, "task_type": kind,
                      "deadline": deadline, "leader": draw(st.sampled_from(["甲", "乙"])),
                      "unit": draw(st.sampled_from(["局", "区", None])), "person": None,
                      "rectified_on": done})
        for seq in range(1, draw(st.integers(0, 3)) + 1):
            ms.append({"task_id": f"T{i}", "seq": seq, "due": draw(_DAYS), "text": ""})
        for _ in range(draw(st.integers(0, 4))):
            e = draw(st.sampled_from(["accept", "extend", "milestone_done"]))
            events.append({"subject": "task", "subject_id": f"T{i}", "kind": e,
                           "on_date": draw(_DAYS),
                           "conclusion": draw(st.sampled_from(["pass", "fail"]))
                           if e == "accept" else None,
                           "new_value": draw(_DAYS).isoformat() if e == "extend" else None,
                           "milestone": draw(st.integers(1, 3))
                           if e == "milestone_done" else None})
    return tasks, ms, events


@settings(max_examples=150, deadline=None)
@given(ledgers(), _DAYS, st.booleans())
def test_states_equal_the_task_by_task_reference(data, day, require_acceptance) -> None:
    tasks, ms, events = data
    frame = pd.DataFrame(tasks)
    for c in ("deadline", "rectified_on"):
        frame[c] = pd.to_datetime(frame[c]).astype("datetime64[s]")
    for c in ("task_id", "round", "item_id", "task_type", "unit", "leader"):
        frame[c] = frame[c].astype("str")
    ms_frame = pd.DataFrame(ms, columns=["task_id", "seq", "due", "text"])
    ms_frame["due"] = pd.to_datetime(ms_frame["due"]).astype("datetime64[s]")
    ms_frame["seq"] = ms_frame["seq"].astype("int64")
    ev = events_frame(events)
    got = task_states(frame, ms_frame, ev, day, require_acceptance=require_acceptance)
    numbered = [e | {"id": i + 1} for i, e in enumerate(events)]
    expected = [reference_state(t, [(m["seq"], m["due"]) for m in ms
                                    if m["task_id"] == t["task_id"]],
                                numbered, day, require_acceptance) for t in tasks]
    assert got["state"].tolist() == expected
    items = item_progress(got)
    rank = {s: i for i, s in enumerate(STATES)}
    for (rnd, item), group in pd.DataFrame({"round": [t["round"] for t in tasks],
                                            "item_id": [t["item_id"] for t in tasks],
                                            "state": expected}).groupby(["round", "item_id"]):
        row = items[(items["round"] == rnd) & (items["item_id"] == item)].iloc[0]
        assert row["item_state"] == min(group["state"], key=rank.__getitem__)
        assert row["tasks"] == len(group)
        assert row["item_rectified"] == group["state"].isin(
            ["awaiting_acceptance", "closed_off"]).all()
    rounds = round_progress(items)
    assert rounds["tasks"].sum() == len(tasks)
    assert rounds["items"].sum() == len(items)
    assert np.all(rounds[[f"items_{s}" for s in STATES]].sum(axis=1) == rounds["items"])

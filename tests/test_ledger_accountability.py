"""Status, league and review by responsible unit and leader, counted here independently."""

from __future__ import annotations

import numpy as np
import pandas as pd
from helpers import REPORTS

from gridwatch.ledger.accountability import accountable, by_accountability
from gridwatch.supervision.context import SupervisionContext

TASKS = pd.DataFrame({
    "task_id": ["T1", "T2", "T3"], "item_id": ["I1", "I1", "I2"],
    "unit": ["市住建局", "南湖区人民政府", "市住建局"],
    "leader": ["张副市长", "南湖区区长", "王副市长"],
})
UNITS = ["市住建局", "南湖区人民政府", "秀洲区综合行政执法局", None]
REFS = ["T1", "T2", "T3", "I2", "X9", None]


def _issues(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    # whole days at noon UTC (20:00 in Shanghai): no evaluation edge falls on a boundary
    reported = pd.Timestamp("2026-03-01 12:00", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 40, n), unit="D")
    deadline = reported + pd.to_timedelta(rng.integers(3, 30, n), unit="D")
    closed = reported + pd.to_timedelta(rng.integers(1, 60, n), unit="D")
    closed = closed.where(rng.random(n) < 0.6)
    return pd.DataFrame({
        "issue_id": [f"P{i:03d}" for i in range(n)],
        "reported_at": reported.astype("datetime64[ns, UTC]"),
        "deadline": pd.Series(deadline, dtype="datetime64[ns, UTC]"),
        "closed_at": pd.Series(closed, dtype="datetime64[ns, UTC]"),
        "status": np.where(pd.notna(closed), "closed", "assigned"),
        "category": rng.choice(["water", "air"], n), "source": "grid_patrol",
        "lon": 120.75 + rng.random(n) * 0.05, "lat": 30.75 + rng.random(n) * 0.05,
        "responsible_unit": pd.Series([UNITS[i] for i in rng.integers(0, 4, n)], dtype="str"),
        "ledger_ref": pd.Series([REFS[i] for i in rng.integers(0, 6, n)], dtype="str"),
    })


def _expected_people(issues: pd.DataFrame) -> tuple[list, list]:
    """Unit and leader of each problem by the rules of the module docstring, row by row."""
    task_of = {t.task_id: t for t in TASKS.itertuples()}
    first_of_item = {t.item_id: t for t in reversed(list(TASKS.itertuples()))}
    units, leaders = [], []
    for unit, ref in zip(issues["responsible_unit"], issues["ledger_ref"], strict=True):
        unit = None if pd.isna(unit) else unit
        ref = None if pd.isna(ref) else ref
        task = task_of.get(ref) or first_of_item.get(ref)
        if unit is None and task is not None:
            unit = task.unit
        leader = task.leader if task is not None else None
        if leader is None and unit is not None:
            # the leader named on most of the unit's tasks (ties: the first by name)
            named = TASKS[TASKS["unit"] == unit]["leader"].value_counts()
            if len(named):
                top = named[named == named.max()].index
                leader = sorted(top)[0]
        units.append(unit)
        leaders.append(leader)
    return units, leaders


def test_each_problem_gets_its_unit_and_leader() -> None:
    issues = _issues()
    got = accountable(issues, TASKS)
    units, leaders = _expected_people(issues)
    assert [None if pd.isna(u) else u for u in got["unit_id"]] == units
    assert [None if pd.isna(v) else v for v in got["leader_id"]] == leaders


def test_status_and_league_by_unit_and_leader_count_as_by_hand() -> None:
    issues = _issues()
    ctx = by_accountability(SupervisionContext.from_frames(issues, settings=REPORTS), TASKS)
    units, leaders = _expected_people(issues)
    as_of = pd.Timestamp("2026-04-10")
    end = pd.Timestamp("2026-04-10 23:59:59", tz="Asia/Shanghai").tz_convert("UTC")
    known = issues["reported_at"] <= end
    is_open = known & (issues["closed_at"].isna() | (issues["closed_at"] > end))
    # red: still open after the local day of its deadline (that day itself is not overdue)
    due_day = issues["deadline"].dt.tz_convert("Asia/Shanghai").dt.date
    red = is_open & (due_day < as_of.date())
    for by, people in (("unit", units), ("leader", leaders)):
        table = ctx.status(as_of.date(), layer=by).set_index("area_id")
        frame = pd.DataFrame({"who": people, "open": is_open, "red": red})
        expected = frame.dropna(subset=["who"]).groupby("who")[["open", "red"]].sum()
        got = table.loc[table.index.notna(), ["open", "red"]]
        got = got[got.index.isin(expected.index)].sort_index()
        pd.testing.assert_frame_equal(got.astype("int64"), expected.sort_index().astype("int64"),
                                      check_names=False)
        league = ctx.league("2026-W15", layer=by)
        assert set(league["area_id"]) >= set(expected.index)
        assert league["rank"].min() == 1


def test_the_context_shares_what_was_derived() -> None:
    base = SupervisionContext.from_frames(_issues(), settings=REPORTS)
    deadlines = base.deadlines
    ctx = by_accountability(base, TASKS)
    assert ctx.deadlines is deadlines
    assert ctx.issues.index.equals(base.issues.index)

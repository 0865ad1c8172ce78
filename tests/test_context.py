"""The supervision context: built once, derived parts kept, subsets consistent, local dates in
the project's own time zone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridwatch.config import config_from_dict
from gridwatch.store import Store
from gridwatch.supervision.codes import evaluate_as_of
from gridwatch.supervision.context import SupervisionContext, empty_issues, open_context


def _issues(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    reported = pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 30 * 24, n), unit="h")
    closed = reported + pd.to_timedelta(rng.integers(1, 20 * 24, n), unit="h")
    closed = closed.where(rng.random(n) < 0.5)
    return pd.DataFrame({
        "issue_id": [f"P{i:03d}" for i in range(n)],
        "reported_at": reported.astype("datetime64[ns, UTC]"),
        "deadline": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]"),
        "closed_at": pd.Series(closed, dtype="datetime64[ns, UTC]"),
        "status": np.where(pd.notna(closed), "closed", "assigned"),
        "category": rng.choice(["water", "air"], n),
        "source": "grid_patrol",
        "lon": 120.75 + rng.random(n) * 0.01,
        "lat": 30.75 + rng.random(n) * 0.01,
        "grid_id": rng.choice(["G1", "G2", "G3"], n),
        "responsible_unit": rng.choice(["甲局", "乙局"], n),
    })


def test_derived_parts_are_computed_once_and_shared() -> None:
    ctx = SupervisionContext.from_frames(_issues())
    assert ctx.deadlines is ctx.deadlines
    assert ctx.rebounds is ctx.rebounds
    first = ctx.evaluate("2026-03-20")
    assert ctx.evaluate(dt.date(2026, 3, 20)) is first
    alone = evaluate_as_of(ctx.issues, as_of="2026-03-20", history=ctx.history)
    pd.testing.assert_frame_equal(first, alone)


def test_a_subset_answers_as_the_whole_restricted_to_it() -> None:
    ctx = SupervisionContext.from_frames(_issues())
    keep = ctx.issues["category"] == "water"
    sub = ctx.restrict(keep)
    assert len(sub.issues) == int(keep.sum())
    pd.testing.assert_frame_equal(sub.rebounds, ctx.rebounds.loc[keep])
    pd.testing.assert_frame_equal(sub.evaluate("2026-03-25"),
                                  ctx.evaluate("2026-03-25").loc[keep])
    whole = ctx.status("2026-03-25", layer="grid").set_index("area_id")
    water = sub.status("2026-03-25", layer="grid").set_index("area_id")
    assert (water["open"] <= whole["open"]).all()
    with pytest.raises(ValueError, match="keep has 3 values"):
        ctx.restrict(np.ones(3, dtype=bool))
    assert ctx.restrict(np.ones(len(ctx.issues), dtype=bool)) is ctx  # nothing to copy


def test_counted_leaves_out_duplicate_reports() -> None:
    issues = _issues()
    twin = issues.iloc[[0]].assign(issue_id="DUP", reported_at=issues["reported_at"].iloc[0]
                                   + pd.Timedelta(hours=1))
    ctx = SupervisionContext.from_frames(pd.concat([issues, twin], ignore_index=True))
    counted = ctx.counted()
    assert not counted.iloc[-1] and counted.iloc[:-1].all()
    totals = ctx.status("2026-03-02", layer="grid")["new"].sum()
    assert totals == int(counted[ctx.evaluate("2026-03-02")["known"]].sum())


def test_an_empty_store_answers_with_empty_tables() -> None:
    ctx = SupervisionContext.from_frames(empty_issues(["grid"]))
    assert ctx.status("2024-03-01", layer="grid").empty
    assert ctx.reminders("2024-03-01").empty
    assert ctx.last_report_date() is None


def test_last_export_is_a_local_date_of_the_projects_time_zone(tmp_path: Path) -> None:
    # 02:30 UTC on 1 March is still 28 February in Boston (the app used to read it in Shanghai)
    config = config_from_dict({"territory": {"timezone": "America/New_York"}}, root=tmp_path)
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    with Store(url) as store:
        placed = _issues(5).assign(location_flag="", grid_mismatch=False)
        store.import_records(placed, layers=[("grid", "grid")], files=["a.csv"], rows_in=5,
                             rejected=0,
                             observed_at=dt.datetime(2026, 3, 1, 2, 30, tzinfo=dt.UTC))
    ctx = open_context(config, url)
    assert ctx.timezone == "America/New_York"
    assert ctx.last_export == dt.date(2026, 2, 28)
    assert ctx.run_id == 1 and len(ctx.issues) == 5


def test_overdue_is_the_red_code_of_the_full_evaluation() -> None:
    issues = _issues(60)
    issues["deadline"] = (issues["reported_at"] + pd.Timedelta(days=5)).where(
        np.arange(60) % 4 != 0)  # some without a deadline
    ctx = SupervisionContext.from_frames(issues)
    sub = ctx.restrict(ctx.issues["category"] == "air")
    for context in (ctx, sub):
        for day in ("2026-02-28", "2026-03-08", "2026-03-20", "2026-04-30"):
            red = (context.evaluate(day)["code"] == "red").fillna(False).to_numpy(dtype=bool)
            np.testing.assert_array_equal(context.overdue(day), red)
    assert ctx.overdue("2026-03-20").any()

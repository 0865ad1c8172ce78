import datetime as dt
import math
import statistics

import chinese_calendar
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from helpers import REPORTS, SH, utc_columns
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from gridwatch.errors import ConfigError
from gridwatch.supervision.aggregate import (
    STAT_COLUMNS,
    area_statistics,
    area_statistics_gdf,
    period_bounds,
    period_statistics,
    previous_period,
)
from gridwatch.supervision.codes import AsOfSettings, evaluate_as_of
from gridwatch.supervision.context import SupervisionContext

BASE = dt.date(2024, 3, 1)


def local(day: dt.date, hour: int = 9) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime(day.year, day.month, day.day, hour), tz=SH).tz_convert("UTC")


row = st.fixed_dictionaries({
    "area": st.sampled_from(["A", "B", "C", None]),
    "reported": st.integers(0, 20),
    "hour": st.integers(0, 23),
    "due": st.one_of(st.none(), st.integers(0, 15)),
    "close": st.one_of(st.none(), st.integers(0, 15)),
    "close_hour": st.integers(0, 23),
})


def build(rows: list[dict]) -> pd.DataFrame:
    records = []
    for i, r in enumerate(rows):
        reported = BASE + dt.timedelta(days=r["reported"])
        due = None if r["due"] is None else reported + dt.timedelta(days=r["due"])
        closed = None if r["close"] is None else reported + dt.timedelta(days=r["close"])
        records.append({
            "issue_id": f"p{i:03d}",
            "reported_at": local(reported, r["hour"]),
            "deadline": local(due, 18) if due else pd.NaT,
            "closed_at": local(closed, r["close_hour"]) if closed else pd.NaT,
            # no deadline in the record and no rule: make it long-term so it has none at all
            "task_type": "长期坚持" if due is None else None,
            "category": "water",
            "grid_id": r["area"],
        })
    out = utc_columns(pd.DataFrame(records), "reported_at", "deadline", "closed_at")
    out["grid_id"] = out["grid_id"].astype("str")
    return out


def by_hand(issues: pd.DataFrame, start: dt.date | None, end: dt.date, yellow: int) -> dict:
    """Recompute the statistics row by row with plain Python and chinese_calendar."""
    out: dict = {}
    for r in issues.itertuples():
        area = r.grid_id if isinstance(r.grid_id, str) else None
        s = out.setdefault(area, {k: 0 for k in STAT_COLUMNS} | {"_days": []})
        rep = r.reported_at.tz_convert(SH)
        if rep.date() > end:
            continue
        closed = pd.notna(r.closed_at) and r.closed_at.tz_convert(SH).date() <= end
        if (start is None or rep.date() >= start) and rep.date() <= end:
            s["new"] += 1
        if closed:
            if start is None or r.closed_at.tz_convert(SH).date() >= start:
                s["closed"] += 1
                late = pd.notna(r.deadline) and r.closed_at > r.deadline
                s["closed_late" if late else "closed_on_time"] += 1
                s["_days"].append((r.closed_at - r.reported_at).total_seconds() / 86400)
            continue
        s["open"] += 1
        if pd.isna(r.deadline):
            s["green"] += 1
            continue
        due = r.deadline.tz_convert(SH).date()
        if due < end:
            s["red"] += 1
            continue
        left = sum(chinese_calendar.is_workday(end + dt.timedelta(days=k))
                   for k in range(1, (due - end).days + 1))
        s["yellow" if left <= yellow else "green"] += 1
    for s in out.values():
        s["overdue_rate"] = s["red"] / s["open"] if s["open"] else math.nan
        s["on_time_rate"] = s["closed_on_time"] / s["closed"] if s["closed"] else math.nan
        s["median_days_to_close"] = statistics.median(s["_days"]) if s["_days"] else math.nan
        del s["_days"]
    return out


def compare(got: pd.DataFrame, expected: dict) -> None:
    got_rows = {(None if pd.isna(a) else a): r for a, r in zip(got["area_id"],
                                                                got.to_dict("records"),
                                                                strict=True)}
    expected = {a: s for a, s in expected.items() if any(s[k] for k in ("new", "open",
                                                                        "closed"))}
    assert set(got_rows) >= set(expected)
    for area, want in expected.items():
        for key, value in want.items():
            have = got_rows[area][key]
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(have), (area, key)
            else:
                assert have == pytest.approx(value), (area, key, have, value)


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(row, min_size=1, max_size=25), end_offset=st.integers(0, 30),
       length=st.one_of(st.none(), st.integers(0, 10)), yellow=st.integers(0, 4))
def test_statistics_equal_a_recomputation_by_hand(rows, end_offset, length, yellow) -> None:
    issues = build(rows)
    end = BASE + dt.timedelta(days=end_offset)
    start = None if length is None else end - dt.timedelta(days=length)
    evaluated = evaluate_as_of(issues, as_of=end, settings=AsOfSettings(yellow_days=yellow))
    got = area_statistics(issues, evaluated, layer="grid", start=start, end=end)
    compare(got, by_hand(issues, start, end, yellow))


def small() -> pd.DataFrame:
    return build([
        {"area": "A", "reported": 0, "hour": 9, "due": 3, "close": 2, "close_hour": 10},
        {"area": "A", "reported": 0, "hour": 9, "due": 3, "close": 5, "close_hour": 10},
        {"area": "A", "reported": 1, "hour": 9, "due": 1, "close": None, "close_hour": 0},
        {"area": "B", "reported": 2, "hour": 9, "due": 10, "close": None, "close_hour": 0},
        {"area": None, "reported": 2, "hour": 9, "due": 10, "close": None, "close_hour": 0},
    ])


def test_small_frame_known_answer_and_empty_areas() -> None:
    issues = small()
    evaluated = evaluate_as_of(issues, as_of="2024-03-06")
    got = area_statistics(issues, evaluated, layer="grid", areas=["A", "B", "Z"])
    assert list(got["area_id"].fillna("-")) == ["A", "B", "Z", "-"]
    a = got.iloc[0]
    assert (a["new"], a["closed"], a["closed_on_time"], a["closed_late"], a["open"],
            a["red"]) == (3, 2, 1, 1, 1, 1)
    assert a["overdue_rate"] == 1.0 and a["on_time_rate"] == 0.5
    assert a["median_days_to_close"] == pytest.approx(3.5 + 1 / 24 / 1)  # 2.04 and 5.04 days
    z = got.iloc[2]
    assert z["new"] == 0 and math.isnan(z["overdue_rate"])
    assert list(got.columns) == ["area_id", *STAT_COLUMNS]


def test_incidents_and_rebounds_are_counted() -> None:
    issues = small()
    evaluated = evaluate_as_of(issues, as_of="2024-03-06")
    incidents = pd.DataFrame({"incident_id": ["p000", "p000", "p002", "p003", "p004"],
                              "is_primary": [True, False, True, True, True]})
    rebounds = pd.DataFrame({"rebound": [False, False, True, False, False]})
    got = area_statistics(issues, evaluated, layer="grid", incidents=incidents,
                          rebounds=rebounds)
    a = got.iloc[0]
    assert (a["new"], a["closed"], a["rebounds"]) == (2, 1, 1)


def test_period_statistics_and_bounds() -> None:
    assert period_bounds("2024-W10") == (dt.date(2024, 3, 4), dt.date(2024, 3, 10))
    assert period_bounds("2024-02") == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert period_bounds("2024-12") == (dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    assert period_bounds("2024-03-05") == (dt.date(2024, 3, 5), dt.date(2024, 3, 5))
    assert previous_period("2025-W01") == "2024-W52"
    assert previous_period("2024-01") == "2023-12"
    assert previous_period("2024-03-01") == "2024-02-29"
    with pytest.raises(ConfigError, match="'2024-13'"):
        period_bounds("2024-13")
    no_rebounds = pd.DataFrame({"rebound": False}, index=small().index)
    context = SupervisionContext.from_frames(small(), settings=REPORTS, rebounds=no_rebounds)
    stats = period_statistics(context, ["2024-W09", "2024-W10"], layer="grid")
    assert list(stats["period"].unique()) == ["2024-W09", "2024-W10"]
    w09 = stats[(stats["period"] == "2024-W09") & (stats["area_id"] == "A")].iloc[0]
    assert (w09["new"], w09["closed"], w09["open"]) == (3, 1, 2)


def test_geodataframe_variant_joins_on_area_id() -> None:
    areas = gpd.GeoDataFrame({"area_id": ["A", "B", "Z"], "area_name": ["甲", "乙", "丙"]},
                             geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
                             crs="EPSG:4326")
    issues = small()
    stats = area_statistics(issues, evaluate_as_of(issues, as_of="2024-03-06"), layer="grid")
    gdf = area_statistics_gdf(stats, areas)
    assert isinstance(gdf, gpd.GeoDataFrame) and gdf.crs == areas.crs
    assert list(gdf["area_id"]) == ["A", "B", "Z"]
    assert list(gdf["open"]) == [1, 1, 0]
    assert gdf["red"].dtype == np.int64


def test_unknown_layer_is_named() -> None:
    issues = small()
    with pytest.raises(ConfigError, match=r"'town'.*layers present: grid"):
        area_statistics(issues, evaluate_as_of(issues, as_of="2024-03-06"), layer="town")


# --- the fast path equals the simple reference ------------------------------------------------

@settings(max_examples=80, deadline=None)
@given(data=st.data(), n=st.integers(0, 30))
def test_area_statistics_equal_the_reference(data, n) -> None:
    from _reference_status import reference_area_statistics

    from gridwatch.supervision.codes import evaluate_as_of

    day = st.integers(0, 30)
    base = pd.Timestamp("2024-03-01 01:00", tz="UTC")
    issues = pd.DataFrame({
        "issue_id": [f"P{i}" for i in range(n)],
        "reported_at": [base + pd.Timedelta(days=data.draw(day)) for _ in range(n)],
        "deadline": [base + pd.Timedelta(days=data.draw(day)) for _ in range(n)],
        "closed_at": [base + pd.Timedelta(days=data.draw(day), hours=data.draw(day))
                      if data.draw(st.booleans()) else pd.NaT for _ in range(n)],
        "grid_id": pd.Series([data.draw(st.sampled_from(["A", "B", "C", None]))
                              for _ in range(n)], dtype="str"),
    })
    issues = utc_columns(issues, "reported_at", "deadline", "closed_at")
    evaluated = evaluate_as_of(issues, as_of="2024-03-20")
    flags = [data.draw(st.booleans()) for _ in range(n)]
    rebounds = pd.DataFrame({"rebound": pd.Series(flags, dtype=bool)})
    incidents = pd.DataFrame({"is_primary": pd.Series([data.draw(st.booleans())
                                                       for _ in range(n)], dtype=bool)})
    areas = data.draw(st.sampled_from([None, ["A", "Z"], pd.DataFrame(
        {"area_id": ["A", "B", "Q"], "area_name": ["甲", "乙", "丙"]})]))
    kwargs = {"layer": "grid", "start": data.draw(st.sampled_from([None, "2024-03-05"])),
              "end": "2024-03-20", "areas": areas,
              "rebounds": data.draw(st.sampled_from([None, rebounds])),
              "incidents": data.draw(st.sampled_from([None, incidents]))}
    pd.testing.assert_frame_equal(area_statistics(issues, evaluated, **kwargs),
                                  reference_area_statistics(issues, evaluated, **kwargs))

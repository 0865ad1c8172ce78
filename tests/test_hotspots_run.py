"""From stored problems to the values per area of the hotspot methods: the same figures as the
status statistics, and per-period counts equal to a plain cross-tabulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import demo_city

from gridwatch.hotspots import period_counts, run_hotspots
from gridwatch.supervision.aggregate import area_statistics
from gridwatch.supervision.calendar import local_dates
from gridwatch.supervision.context import SupervisionContext


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    return demo_city(tmp_path_factory.mktemp("run"), problems=3_000, scale=0.05, days=150)


def context_of(city, issues: pd.DataFrame | None = None) -> SupervisionContext:
    return SupervisionContext.from_frames(city["issues"] if issues is None else issues,
                                          city["history"], config=city["config"],
                                          layers={"grid": city["layers"]["grid"]})


def crosstab_reference(issues: pd.DataFrame, ids: list[str], *, layer: str, day: str,
                       labels: pd.PeriodIndex, timezone: str) -> pd.DataFrame:
    """Reports per area and period by local report date, with pandas' crosstab."""
    column = f"{layer}_id"
    reported = local_dates(issues["reported_at"], timezone)
    ok = ~np.isnat(reported) & issues[column].notna().to_numpy() & \
        (reported <= np.datetime64(day, "D"))
    when = pd.PeriodIndex(pd.DatetimeIndex(reported[ok]), freq=labels.freq)
    frame = pd.DataFrame({"area_id": issues[column].to_numpy()[ok].astype(str), "period": when})
    frame = frame[frame["period"] >= labels[0]]
    table = pd.crosstab(frame["area_id"], frame["period"])
    return table.reindex(index=pd.Index(ids, name="area_id"), columns=labels).fillna(0) \
        .astype(float)


@pytest.mark.parametrize(("period", "periods"), [("week", 12), ("month", 4), ("week", 52)])
def test_new_per_period_equals_a_crosstab(city, period, periods):
    issues = city["issues"].copy()
    # problems in no area, in an area the layer does not list, and with no report date
    issues.loc[issues.index[:5], "grid_id"] = None
    issues.loc[issues.index[5:9], "grid_id"] = "not-a-grid"
    issues.loc[issues.index[9:12], "reported_at"] = pd.NaT
    context = context_of(city, issues)
    areas = city["layers"]["grid"]
    day = city["planted"]["end_date"]
    for as_of in (day, str((pd.Timestamp(day) - pd.Timedelta(days=40)).date())):
        got = period_counts(context, layer="grid", as_of=as_of, period=period, periods=periods,
                            areas=areas)
        ids = areas["area_id"].astype(str).tolist()
        expected = crosstab_reference(issues, ids, layer="grid", day=as_of,
                                      labels=pd.PeriodIndex(got.columns),
                                      timezone=context.timezone)
        pd.testing.assert_frame_equal(got, expected, check_names=False)
        assert got.to_numpy().sum() > 0
        last = pd.Period(as_of, freq=pd.PeriodIndex(got.columns).freq)
        assert got.columns[-1] == last
    # without areas: every area with a problem, in sorted order
    got = period_counts(context, layer="grid", as_of=day, period=period, periods=periods)
    ids = sorted(issues["grid_id"].dropna().astype(str).unique())
    assert got.index.tolist() == ids


@pytest.mark.parametrize("variable", ["overdue", "open", "new", "overdue_rate"])
def test_gistar_values_are_the_status_figures(city, variable):
    context = context_of(city)
    day = city["planted"]["end_date"]
    result = run_hotspots(context, layer="grid", method="gistar", as_of=day, variable=variable,
                          period="week")
    areas = city["layers"]["grid"]
    stats = area_statistics(context.issues, context.evaluate(day), layer="grid",
                            start=str((pd.Timestamp(day) - pd.Timedelta(days=6)).date()),
                            end=day, rebounds=context.rebounds, incidents=context.incidents,
                            areas=areas, timezone=context.timezone).set_index("area_id")
    stats = stats.reindex(areas["area_id"].astype(str))
    if variable == "overdue_rate":
        minimum = context.settings.hotspots.rate_min_problems
        expected = np.where(stats["open"] >= minimum, stats["overdue_rate"], 0.0)
    else:
        expected = stats["red" if variable == "overdue" else variable].to_numpy(dtype=float)
    np.testing.assert_array_equal(result["value"].to_numpy(), np.nan_to_num(expected))
    assert result["value"].sum() > 0


def test_rule_uses_the_status_figures(city):
    from gridwatch.hotspots import rule_hotspots

    context = context_of(city)
    day = city["planted"]["end_date"]
    areas = city["layers"]["grid"]
    settings = context.settings.hotspots
    result = run_hotspots(context, layer="grid", method="rule", as_of=day)
    stats = area_statistics(context.issues, context.evaluate(day), layer="grid", end=day,
                            incidents=context.incidents, areas=areas,
                            timezone=context.timezone).dropna(subset=["area_id"])
    stats = stats.set_index("area_id")
    expected = rule_hotspots(areas, stats["red"], stats["open"],
                             min_overdue=settings.rule_min_overdue,
                             min_rate=settings.rule_min_rate,
                             min_problems=settings.rule_min_problems)
    pd.testing.assert_frame_equal(result.drop(columns="geometry"),
                                  expected.drop(columns="geometry"))
    assert result["value"].sum() > 0

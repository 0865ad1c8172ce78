import math

import pandas as pd
import pytest
from helpers import REPORTS, SH, local, utc_columns

from gridwatch.errors import ConfigError
from gridwatch.supervision.context import SupervisionContext
from gridwatch.supervision.league import (
    LeagueSettings,
    league_for_week,
    league_table,
    parse_league_settings,
    write_league,
)


def stats(rows: dict[str, tuple[int, int, int, int]]) -> pd.DataFrame:
    """area -> (closed_on_time, closed_late, open, red)."""
    records = []
    for area, (on_time, late, open_, red) in rows.items():
        closed = on_time + late
        records.append({
            "area_id": area, "new": 0, "closed": closed, "closed_on_time": on_time,
            "closed_late": late, "open": open_, "red": red, "yellow": 0, "green": open_ - red,
            "overdue_rate": red / open_ if open_ else math.nan,
            "on_time_rate": on_time / closed if closed else math.nan,
            "median_days_to_close": math.nan, "rebounds": 0,
        })
    return pd.DataFrame(records)


THIS = stats({"A": (9, 1, 10, 0), "B": (5, 5, 10, 5), "C": (10, 0, 4, 2), "D": (0, 0, 0, 0),
              "E": (5, 5, 10, 5)})
LAST = stats({"A": (1, 9, 10, 9), "B": (10, 0, 10, 0), "C": (5, 5, 10, 5), "D": (0, 0, 0, 0),
              "E": (0, 10, 10, 10)})


def test_scores_ranks_ties_and_change() -> None:
    table = league_table(THIS, LAST)
    # Default score = 40 + 60 on_time_rate - 40 overdue_rate; D has nothing: best values.
    scores = dict(zip(table["area_id"], table["score"], strict=True))
    assert scores == pytest.approx({"A": 94.0, "B": 50.0, "C": 80.0, "D": 100.0, "E": 50.0})
    assert list(table["area_id"]) == ["D", "A", "C", "B", "E"]
    assert list(table["rank"]) == [1, 2, 3, 4, 4]
    # Last week: D 100, B 100, C 50, A 10, E 0 -> ranks D 1, B 1, C 3, A 4, E 5.
    assert list(table["previous_rank"]) == [1, 4, 3, 1, 5]
    assert list(table["rank_change"]) == [0, 2, 0, -3, 1]
    assert list(table["worst"]) == [False, False, True, True, True]  # the 3 lowest scores


def test_worst_flags_include_ties_and_weights_are_configurable() -> None:
    table = league_table(THIS, None, settings=LeagueSettings(worst_n=1))
    assert list(table.loc[table["worst"], "area_id"]) == ["B", "E"]
    assert table["rank_change"].isna().all()
    custom = LeagueSettings(weights={"overdue_per_100": -1.0, "red": -2.0}, base=0.0, worst_n=0)
    table = league_table(THIS, None, settings=custom)
    # overdue_per_100 = 100 red / (open + closed): B = 25, C = 2/14*100.
    scores = dict(zip(table["area_id"], table["score"], strict=True))
    assert scores["B"] == pytest.approx(-35.0)
    assert scores["C"] == pytest.approx(-(200 / 14) - 4, abs=1e-6)
    assert not table["worst"].any()


def test_rows_without_area_are_not_ranked() -> None:
    with_na = pd.concat([THIS, stats({"X": (1, 0, 0, 0)}).assign(area_id=pd.NA)])
    assert len(league_table(with_na)) == 5


def test_settings_validation_lists_every_problem() -> None:
    parsed = parse_league_settings({"weights": {"on_time_rate": 100}, "base": 0, "worst_n": 2})
    assert parsed == LeagueSettings(weights={"on_time_rate": 100.0}, base=0.0, worst_n=2)
    with pytest.raises(ConfigError) as info:
        parse_league_settings({"weights": {"speed": 1, "red": "high"}, "base": "x",
                               "worst_n": -1, "top": 3})
    assert len(info.value.problems) == 5


def test_league_for_a_week_from_records_and_export(tmp_path) -> None:
    issues = pd.DataFrame({
        "issue_id": ["a1", "a2", "b1", "b2"],
        "reported_at": [local("2024-02-26 09:00")] * 4,
        "deadline": [local("2024-03-01 23:59:59")] * 4,
        "closed_at": [local("2024-02-28 10:00"), local("2024-03-05 10:00"), pd.NaT,
                      local("2024-03-01 10:00")],
        "category": ["water"] * 4,
        "grid_id": ["GA", "GA", "GB", "GB"],
    })
    utc_columns(issues, "deadline", "closed_at")
    areas = pd.DataFrame({"area_id": ["GA", "GB", "GC"], "area_name": ["一", "=二", "三"]})
    no_rebounds = pd.DataFrame({"rebound": False}, index=issues.index)
    context = SupervisionContext.from_frames(issues, settings=REPORTS, timezone=SH,
                                             layers={"grid": areas}, rebounds=no_rebounds)
    table = league_for_week(context, "2024-W10", layer="grid")
    # W09 (to Sun Mar 3): GA a1 on time, a2 red -> 40 + 60 - 40 = 60; GB the same; GC 100.
    # W10: GA closed a2 late, nothing open -> 40 + 0 - 0 = 40; GB nothing closed, b1 red
    # -> 40 + 60 - 40 = 60; GC 100.
    assert list(table["area_id"]) == ["GC", "GB", "GA"]
    assert list(table["score"]) == [100.0, 60.0, 40.0]
    assert list(table["rank"]) == [1, 2, 3]
    assert list(table["previous_rank"]) == [1, 2, 2]
    assert list(table["rank_change"]) == [0, 0, -1]
    assert table["area_name"].tolist() == ["三", "=二", "一"]
    assert table["week"].unique().tolist() == ["2024-W10"]
    with pytest.raises(ConfigError, match="ISO week"):
        league_for_week(context, "2024-03", layer="grid")
    csv = write_league(table, tmp_path / "league.csv")
    back = pd.read_csv(csv, encoding="utf-8-sig")
    assert back["area_id"].tolist() == ["GC", "GB", "GA"]
    assert back["area_name"].tolist()[1] == "'=二"  # formula neutralised by the exporter
    xlsx = write_league(table, tmp_path / "league.xlsx")
    assert pd.read_excel(xlsx)["rank"].tolist() == [1, 2, 3]

import datetime as dt
import warnings

import chinese_calendar
import numpy as np
import pandas as pd
import pytest
from helpers import SH, local
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.errors import ConfigError
from gridwatch.supervision.calendar import (
    CalendarFallbackWarning,
    add_days,
    count_working_days,
    end_of_local_day,
    working_days,
)
from gridwatch.supervision.deadlines import (
    DeadlineSettings,
    derive_deadlines,
    parse_deadline_settings,
)


def day(text: str) -> np.datetime64:
    return np.datetime64(text, "D")


@pytest.mark.parametrize(("start", "n", "expected"), [
    # Spring Festival 2024: Feb 10-17 off; Sunday Feb 4 and Sunday Feb 18 are make-up workdays.
    ("2024-02-02", 1, "2024-02-04"),
    ("2024-02-09", 1, "2024-02-18"),
    ("2024-02-09", 2, "2024-02-19"),
    ("2024-02-08", 3, "2024-02-19"),
    # Spring Festival 2025: Jan 28 - Feb 4 off; Sunday Jan 26 and Saturday Feb 8 worked.
    ("2025-01-24", 1, "2025-01-26"),
    ("2025-01-27", 1, "2025-02-05"),
    ("2025-02-07", 1, "2025-02-08"),
    # National Day 2024: Oct 1-7 off; Sunday Sep 29 and Saturday Oct 12 worked.
    ("2024-09-27", 1, "2024-09-29"),
    ("2024-09-30", 1, "2024-10-08"),
    ("2024-10-11", 1, "2024-10-12"),
    # National Day 2025: Oct 1-8 off; Sunday Sep 28 and Saturday Oct 11 worked.
    ("2025-09-26", 1, "2025-09-28"),
    ("2025-09-30", 1, "2025-10-09"),
    ("2025-10-10", 1, "2025-10-11"),
    # Zero days: the day itself.
    ("2024-02-10", 0, "2024-02-10"),
])
def test_working_days_across_holidays_and_makeup_days(start: str, n: int, expected: str) -> None:
    assert add_days([start], n)[0] == day(expected)


def test_calendar_days_ignore_holidays() -> None:
    out = add_days(["2024-02-09", "2024-09-30"], [1, 3], unit="calendar")
    assert list(out) == [day("2024-02-10"), day("2024-10-03")]


def test_nat_start_stays_nat_and_bad_arguments_are_named() -> None:
    out = add_days(np.array(["2024-03-01", "NaT"], dtype="datetime64[D]"), 2)
    assert out[0] == day("2024-03-05") and np.isnat(out[1])
    with pytest.raises(ValueError, match="days must be >= 0"):
        add_days(["2024-03-01"], -1)
    with pytest.raises(ValueError, match="unit must be"):
        add_days(["2024-03-01"], 1, unit="weeks")  # type: ignore[arg-type]


def test_count_working_days_spans_the_spring_festival() -> None:
    got = count_working_days(["2024-02-08", "2024-02-19"], ["2024-02-19", "2024-02-08"])
    # Feb 9, Feb 18 (make-up Sunday) and Feb 19.
    assert list(got) == [3.0, -3.0]


def test_fallback_year_warns_exactly_once_for_many_rows() -> None:
    starts = np.full(1000, day("2026-12-31"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = add_days(starts, 1)
        assert out[0] == day("2027-01-01")  # a Friday: Monday-Friday fallback
        assert add_days(["2026-12-31"], 2)[0] == day("2027-01-04")
    fallback = [w for w in caught if issubclass(w.category, CalendarFallbackWarning)]
    assert len(fallback) == 2  # one per call, never one per row
    assert "2027" in str(fallback[0].message)


def test_derive_deadlines_warns_once_and_not_for_covered_years() -> None:
    issues = pd.DataFrame({
        "issue_id": [f"p{i}" for i in range(300)],
        "reported_at": [local("2026-12-20 10:00")] * 300,
        "task_type": ["阶段性"] * 300,
    })
    rules = parse_deadline_settings({"rules": [
        {"task_type": "阶段性", "kind": "staged", "days": 15, "milestones": [5, 10]}]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        derive_deadlines(issues, rules)
    assert sum(issubclass(w.category, CalendarFallbackWarning) for w in caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalendarFallbackWarning)
        derive_deadlines(issues.assign(reported_at=local("2026-03-02 10:00")), rules)


def test_working_days_list_matches_chinese_calendar() -> None:
    wd = set(working_days(2024, 2025).tolist())
    d = dt.date(2024, 1, 1)
    while d <= dt.date(2025, 12, 31):
        assert (d in wd) == chinese_calendar.is_workday(d), d
        d += dt.timedelta(days=1)


@settings(max_examples=60, deadline=None)
@given(start=st.dates(min_value=dt.date(2010, 1, 1), max_value=dt.date(2026, 6, 30)),
       n=st.integers(min_value=1, max_value=60))
def test_result_is_the_nth_working_day(start: dt.date, n: int) -> None:
    result = add_days([start], n)[0].astype(object)
    assert chinese_calendar.is_workday(result)
    assert count_working_days([start], [result])[0] == n
    between = [start + dt.timedelta(days=k) for k in range(1, (result - start).days)]
    assert sum(chinese_calendar.is_workday(d) for d in between) == n - 1


def test_end_of_local_day_is_235959_shanghai() -> None:
    got = end_of_local_day(np.array([day("2024-02-18")]), SH)
    assert got.iloc[0] == pd.Timestamp("2024-02-18 15:59:59", tz="UTC")


def _issues() -> pd.DataFrame:
    return pd.DataFrame({
        "issue_id": ["own", "water_hot", "water", "air", "imm", "long", "staged", "other"],
        "reported_at": [local("2024-02-08 09:00")] * 8,
        "deadline": [local("2024-02-29 18:00")] + [pd.NaT] * 7,
        "category": ["water", "water", "water", "air", "noise", "ecology", "soil", "other"],
        "source": ["hotline", "hotline", "grid_patrol", "hotline", "hotline", "inspection",
                   "inspection", "grid_patrol"],
        "severity": ["high", "high", "low", "high", None, None, None, None],
        "task_type": [None, None, None, None, "立行立改", "长期坚持", "阶段性", None],
    })


RULES = {
    "default_days": 10,
    "unit": "working",
    "rules": [
        {"category": "water", "source": "hotline", "days": 2},
        {"category": ["water", "air"], "days": 5, "unit": "calendar"},
        {"task_type": "阶段性", "kind": "staged", "days": 20, "milestones": [3, 10]},
    ],
}


def test_rules_first_match_record_wins_and_kinds() -> None:
    out = derive_deadlines(_issues(), parse_deadline_settings(RULES), timezone=SH)
    got = dict(zip(_issues()["issue_id"], out["deadline"], strict=True))
    assert got["own"] == local("2024-02-29 18:00")  # the record's own deadline
    # Rule 1: 2 working days after Thursday Feb 8 are Feb 9 and the make-up Sunday Feb 18.
    assert got["water_hot"] == local("2024-02-18 23:59:59")
    assert got["water"] == local("2024-02-13 23:59:59")  # rule 2: 5 calendar days
    assert got["air"] == local("2024-02-13 23:59:59")
    assert got["imm"] == local("2024-02-09 23:59:59")  # 立行立改: 1 working day
    assert pd.isna(got["long"])  # 长期坚持: no deadline
    assert got["other"] == local("2024-02-28 23:59:59")  # default: 10 working days
    assert list(out["deadline_source"]) == ["record", "rule", "rule", "rule", "default", "none",
                                            "rule", "default"]
    assert list(out["task_kind"]) == ["standard", "standard", "standard", "standard",
                                      "immediate", "long_term", "staged", "standard"]
    assert list(out["rule"]) == [1, 1, 2, 2, 0, 0, 3, 0]
    staged = out["milestones"].iloc[6]
    # 3, 10 and 20 working days after Feb 8 2024: Feb 19, Feb 28 and Mar 13.
    assert staged == (local("2024-02-19 23:59:59"), local("2024-02-28 23:59:59"))
    assert out["deadline"].iloc[6] == local("2024-03-13 23:59:59")
    assert str(out["deadline"].dtype) == "datetime64[ns, UTC]"


def test_long_term_ignores_a_record_deadline() -> None:
    issues = _issues().assign(deadline=local("2024-02-20 18:00"))
    out = derive_deadlines(issues, parse_deadline_settings(RULES), timezone=SH)
    assert pd.isna(out["deadline"].iloc[5]) and out["deadline_source"].iloc[5] == "none"
    assert (out["deadline"].drop(index=5) == local("2024-02-20 18:00")).all()


def test_record_deadline_can_be_overridden() -> None:
    config = dict(RULES, prefer_record=False)
    out = derive_deadlines(_issues(), parse_deadline_settings(config), timezone=SH)
    assert out["deadline"].iloc[0] == local("2024-02-18 23:59:59")
    assert out["deadline_source"].iloc[0] == "rule"


def test_defaults_without_settings() -> None:
    out = derive_deadlines(_issues().drop(columns=["deadline"]))
    assert out["deadline"].iloc[1] == local("2024-03-06 23:59:59")  # 15 working days
    assert (out["deadline_source"] != "record").all()


def test_config_reports_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_deadline_settings({
            "unit": "fortnight",
            "default_days": -1,
            "colour": "red",
            "rules": [
                {"category": "plastic", "days": 3},
                {"kind": "staged"},
                {"kind": "staged", "days": 5, "milestones": [4, 2]},
                {"kind": "eventually", "days": 1},
                "not a table",
            ],
            "task_labels": {"马上办": "now"},
        })
    problems = info.value.problems
    assert len(problems) == 9, problems
    text = str(info.value)
    for needle in ("'fortnight'", "got -1", "default_days", "'colour'", "'plastic'",
                   "days is required", "milestones [4, 2]", "'eventually'",
                   "#5 must be a table", "'now'"):
        assert needle in text


def test_defaults_are_valid_settings() -> None:
    assert parse_deadline_settings({}) == DeadlineSettings()

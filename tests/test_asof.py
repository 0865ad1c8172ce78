import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import SH, local, utc_columns
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.errors import ConfigError
from gridwatch.supervision.calendar import CalendarFallbackWarning
from gridwatch.supervision.codes import (
    AsOfSettings,
    as_of_cutoff,
    evaluate_as_of,
    parse_as_of,
    parse_asof_settings,
    status_as_of,
)
from gridwatch.supervision.deadlines import parse_deadline_settings


def frame(rows: list[dict]) -> pd.DataFrame:
    base = {"deadline": pd.NaT, "closed_at": pd.NaT, "task_type": None, "category": "water"}
    out = pd.DataFrame([{**base, **r} for r in rows])
    return utc_columns(out, "reported_at", "deadline", "closed_at")


def codes(issues: pd.DataFrame, as_of: str, **kw) -> dict[str, object]:
    out = evaluate_as_of(issues, as_of=as_of, **kw)
    return dict(zip(issues["issue_id"], out["code"].astype(object).where(out["code"].notna()),
                    strict=True))


def test_cutoff_is_the_next_local_midnight() -> None:
    assert as_of_cutoff("2024-03-01", SH) == pd.Timestamp("2024-03-01 16:00", tz="UTC")
    assert parse_as_of(pd.Timestamp("2024-03-01 10:00")).isoformat() == "2024-03-01"
    with pytest.raises(ConfigError, match="'yesterday' is not a date"):
        parse_as_of("yesterday")


@pytest.mark.parametrize("value", ["9999-12-31", dt.date(9999, 12, 31), "1600-01-01",
                                   pd.Timestamp("2300-01-01")])
def test_as_of_beyond_the_dates_a_time_can_hold_is_a_usage_error(value: object) -> None:
    with pytest.raises(ConfigError, match="outside the dates gridwatch can work with: give a "
                                          "date from 1678-01-01 to 2261-12-31"):
        parse_as_of(value)
    assert as_of_cutoff("2261-12-31", SH) == pd.Timestamp("2261-12-31 16:00", tz="UTC")


def test_status_as_of_year_9999_exits_1_with_a_clear_message(tmp_path) -> None:
    # Before: "error: unexpected OverflowError: date value out of range".
    from click.testing import CliRunner

    from gridwatch.cli import main

    (tmp_path / "gridwatch.toml").write_text('[territory]\ntimezone = "Asia/Shanghai"\n',
                                             encoding="utf-8")
    result = CliRunner().invoke(main, [
        "status", "--as-of", "9999-12-31", "--layer", "grid", "--config",
        str(tmp_path / "gridwatch.toml"), "--db", f"sqlite:///{tmp_path / 's.sqlite'}"])
    assert result.exit_code == 1
    assert "as_of 9999-12-31 is outside the dates gridwatch can work with" in result.output
    assert "unexpected" not in result.output


def test_code_boundaries() -> None:
    issues = frame([
        {"issue_id": "due_today", "reported_at": local("2024-03-01 09:00"),
         "deadline": local("2024-03-04 23:59:59")},
        {"issue_id": "due_yesterday", "reported_at": local("2024-03-01 09:00"),
         "deadline": local("2024-03-03 23:59:59")},
        {"issue_id": "closed_at_deadline", "reported_at": local("2024-03-01 09:00"),
         "deadline": local("2024-03-04 12:00"), "closed_at": local("2024-03-04 12:00")},
        {"issue_id": "closed_second_late", "reported_at": local("2024-03-01 09:00"),
         "deadline": local("2024-03-04 12:00"), "closed_at": local("2024-03-04 12:00:01")},
        {"issue_id": "closed_no_deadline", "reported_at": local("2024-03-01 09:00"),
         "closed_at": local("2024-03-02 09:00"), "task_type": "长期坚持"},
        {"issue_id": "later", "reported_at": local("2024-03-05 00:00")},
    ])
    out = evaluate_as_of(issues, as_of="2024-03-04")
    assert list(out["code"].fillna("-")) == ["yellow", "red", "closed_on_time", "closed_late",
                                             "closed_on_time", "-"]
    assert list(out["known"]) == [True] * 5 + [False]
    assert out["days_overdue"].iloc[1] == 1.0
    assert out["working_days_left"].iloc[0] == 0.0
    assert out["days_late"].iloc[3] == 0.0  # late by a second, same day
    assert out["days_to_close"].iloc[2] == pytest.approx(3 + 3 / 24)


def test_problem_closed_after_the_as_of_date_is_open_then() -> None:
    issues = frame([{"issue_id": "a", "reported_at": local("2024-03-01 09:00"),
                     "deadline": local("2024-03-05 23:59:59"),
                     "closed_at": local("2024-03-08 10:00")}])
    assert codes(issues, "2024-03-04") == {"a": "yellow"}
    assert codes(issues, "2024-03-06") == {"a": "red"}
    assert codes(issues, "2024-03-07") == {"a": "red"}
    assert codes(issues, "2024-03-08") == {"a": "closed_late"}
    assert evaluate_as_of(issues, as_of="2024-03-07")["days_overdue"].iloc[0] == 2.0


def test_times_are_compared_in_the_territory_zone() -> None:
    issues = frame([
        {"issue_id": "late_evening", "reported_at": local("2024-03-01 23:30")},
        {"issue_id": "after_midnight", "reported_at": local("2024-03-02 00:30")},
    ])
    # 2024-03-02 00:30 in Shanghai is still 2024-03-01 in UTC: it must not count on the 1st.
    assert list(evaluate_as_of(issues, as_of="2024-03-01")["known"]) == [True, False]
    utc = evaluate_as_of(issues, as_of="2024-03-01", timezone="UTC")
    assert list(utc["known"]) == [True, True]


def test_yellow_counts_working_days() -> None:
    issues = frame([
        {"issue_id": "tue", "reported_at": local("2024-02-26 09:00"),
         "deadline": local("2024-03-05 23:59:59")},
        {"issue_id": "wed", "reported_at": local("2024-02-26 09:00"),
         "deadline": local("2024-03-06 23:59:59")},
    ])
    # As of Friday Mar 1: Mar 4 and Mar 5 are 2 working days; Mar 6 makes 3.
    assert codes(issues, "2024-03-01", settings=AsOfSettings(yellow_days=2)) == {
        "tue": "yellow", "wed": "green"}
    holiday = frame([{"issue_id": "h", "reported_at": local("2024-02-01 09:00"),
                      "deadline": local("2024-02-19 23:59:59")}])
    # As of Thursday Feb 8 2024, 11 calendar days but 3 working days (Feb 9, 18, 19).
    assert codes(holiday, "2024-02-08", settings=AsOfSettings(yellow_days=3)) == {"h": "yellow"}
    assert codes(holiday, "2024-02-08", settings=AsOfSettings(yellow_days=2)) == {"h": "green"}


def test_long_term_is_never_red_and_comes_up_for_review() -> None:
    issues = frame([{"issue_id": "lt", "reported_at": local("2023-01-10 09:00"),
                     "task_type": "长期坚持"}])
    rules = parse_deadline_settings({"review_every_days": 30})
    for as_of in ("2023-01-10", "2023-06-01", "2024-12-31"):
        assert codes(issues, as_of, deadline_settings=rules) == {"lt": "green"}
    out = evaluate_as_of(issues, as_of="2023-02-08", deadline_settings=rules)
    assert out["next_review"].iloc[0] == np.datetime64("2023-02-09")
    assert bool(out["review_due"].iloc[0])
    out = evaluate_as_of(issues, as_of="2023-02-10", deadline_settings=rules)
    assert out["next_review"].iloc[0] == np.datetime64("2023-03-11")
    assert not out["review_due"].iloc[0]


def test_staged_milestones_passed_while_open() -> None:
    issues = frame([{"issue_id": "s", "reported_at": local("2024-03-01 09:00"),
                     "task_type": "阶段性"}])
    rules = parse_deadline_settings({"rules": [
        {"task_type": "阶段性", "kind": "staged", "days": 10, "milestones": [2, 5]}]})
    # Milestones: Mar 5 and Mar 8 (working days); final deadline Mar 15.
    passed = [evaluate_as_of(issues, as_of=d, deadline_settings=rules)["milestones_passed"].iloc[0]
              for d in ("2024-03-05", "2024-03-06", "2024-03-09", "2024-03-16")]
    assert passed == [0, 1, 2, 2]
    assert codes(issues, "2024-03-16", deadline_settings=rules) == {"s": "red"}



def _reopened() -> tuple[pd.DataFrame, pd.DataFrame]:
    issues = frame([
        {"issue_id": "x", "reported_at": local("2024-03-01 09:00"),
         "deadline": local("2024-03-10 23:59:59"), "closed_at": local("2024-03-12 10:00"),
         "status": "closed"},
        {"issue_id": "y", "reported_at": local("2024-03-02 09:00"),
         "deadline": local("2024-03-06 23:59:59"), "status": "rectifying"},
    ])
    history = pd.DataFrame({
        "id": [1, 2, 3, 4, 5, 6],
        "issue_id": ["x", "y", "x", "x", "y", "x"],
        "previous_status": [None, None, "reported", "closed", "reported", "rectifying"],
        "status": ["reported", "reported", "closed", "rectifying", "rectifying", "closed"],
        "changed_at": [local("2024-03-01 09:00"), local("2024-03-02 09:00"),
                       local("2024-03-05 15:00"), local("2024-03-07 08:00"),
                       local("2024-03-03 10:00"), local("2024-03-12 10:00")],
    })
    history["changed_at"] = history["changed_at"].astype("datetime64[ns, UTC]")
    return issues, history


@pytest.mark.parametrize(("as_of", "expected"), [
    ("2024-03-04", {"x": ("reported", "green"), "y": ("rectifying", "yellow")}),
    ("2024-03-05", {"x": ("closed", "closed_on_time"), "y": ("rectifying", "yellow")}),
    ("2024-03-08", {"x": ("rectifying", "yellow"), "y": ("rectifying", "red")}),
    ("2024-03-11", {"x": ("rectifying", "red"), "y": ("rectifying", "red")}),
    ("2024-03-12", {"x": ("closed", "closed_late"), "y": ("rectifying", "red")}),
])
def test_as_of_reconstruction_from_history(as_of: str, expected: dict) -> None:
    issues, history = _reopened()
    out = evaluate_as_of(issues, as_of=as_of, history=history)
    got = {i: (s, c) for i, s, c in zip(issues["issue_id"], out["status"], out["code"],
                                        strict=True)}
    assert got == expected


def test_history_closing_time_is_used_before_a_reopening() -> None:
    issues, history = _reopened()
    state = status_as_of(issues, as_of_cutoff("2024-03-06", SH), history)
    assert state["closed_at"].iloc[0] == local("2024-03-05 15:00")
    state = status_as_of(issues, as_of_cutoff("2024-03-20", SH), history)
    assert state["closed_at"].iloc[0] == local("2024-03-12 10:00")
    # Without history only the record's final closing is known.
    assert codes(issues, "2024-03-06") == {"x": "yellow", "y": "yellow"}


def test_one_warning_for_a_fallback_year() -> None:
    issues = frame([{"issue_id": f"p{i}", "reported_at": local("2026-12-28 09:00")}
                    for i in range(50)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = evaluate_as_of(issues, as_of="2026-12-31")
    assert sum(issubclass(w.category, CalendarFallbackWarning) for w in caught) == 1
    assert (out["code"] == "green").all()


def test_settings_validation_lists_every_problem() -> None:
    assert parse_asof_settings({"yellow_days": 2, "league": {}}).yellow_days == 2
    with pytest.raises(ConfigError) as info:
        parse_asof_settings({"yellow_days": -1, "count_incidents": "yes", "colours": 3})
    assert len(info.value.problems) == 3


lifecycle = st.fixed_dictionaries({
    "reported_hours": st.integers(0, 24 * 20),
    "due_days": st.integers(0, 12),
    "steps": st.lists(st.tuples(st.integers(1, 24 * 6), st.sampled_from(
        ["assigned", "rectifying", "closed", "verified"])), max_size=5),
})


@settings(max_examples=40, deadline=None)
@given(lives=st.lists(lifecycle, min_size=1, max_size=8), as_of_day=st.integers(0, 40))
def test_history_reconstruction_equals_the_records_as_they_were(lives, as_of_day) -> None:
    """Evaluating today's records + history as of D gives the codes of D's own records."""
    start = local("2024-03-01 00:00")
    as_of = (pd.Timestamp("2024-03-01") + pd.Timedelta(days=as_of_day)).date()
    cutoff = as_of_cutoff(as_of, SH)
    final, then, history = [], [], []
    for i, life in enumerate(lives):
        issue = f"q{i}"
        reported = start + pd.Timedelta(hours=life["reported_hours"])
        deadline = (reported.tz_convert(SH).normalize() + pd.Timedelta(
            days=life["due_days"], hours=23, minutes=59, seconds=59)).tz_convert("UTC")
        status, t, last_close, close_before = "reported", reported, pd.NaT, pd.NaT
        history.append((issue, None, "reported", reported))
        status_then = "reported" if reported < cutoff else None
        for hours, new in life["steps"]:
            if new == status:
                continue
            t = t + pd.Timedelta(hours=hours)
            history.append((issue, status, new, t))
            if new in ("closed", "verified") and status not in ("closed", "verified"):
                last_close = t
                if t < cutoff:
                    close_before = t
            status = new
            if t < cutoff:
                status_then = new
        closed_final = status in ("closed", "verified")
        final.append({"issue_id": issue, "reported_at": reported, "deadline": deadline,
                      "closed_at": last_close if closed_final else pd.NaT})
        closed_then = status_then in ("closed", "verified")
        then.append({"issue_id": issue, "reported_at": reported, "deadline": deadline,
                     "closed_at": close_before if closed_then else pd.NaT})
    hist = pd.DataFrame(history, columns=["issue_id", "previous_status", "status", "changed_at"])
    hist["changed_at"] = pd.to_datetime(hist["changed_at"], utc=True)
    now = evaluate_as_of(frame(final), as_of=as_of, history=hist)
    past = evaluate_as_of(frame(then), as_of=as_of)
    assert list(now["code"].fillna("-")) == list(past["code"].fillna("-"))
    assert now["closed_at"].equals(past["closed_at"])


# --- the fast path equals the simple reference ------------------------------------------------

_STATUS = st.sampled_from(["reported", "assigned", "rectifying", "closed", "verified", None])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(1, 8))
def test_status_as_of_equals_the_reference_for_any_history(data, n) -> None:
    from _reference_status import reference_status_as_of

    from gridwatch.supervision.codes import status_as_of
    from gridwatch.supervision.events import StatusEvents, status_events

    base = pd.Timestamp("2024-03-01", tz="UTC")
    hours = st.integers(0, 20).map(lambda day: 24 * day)  # whole days: many exact ties
    ids = [f"I{i}" for i in range(n)]
    issues = pd.DataFrame({
        "issue_id": ids,
        "reported_at": [base + pd.Timedelta(hours=data.draw(hours)) for _ in ids],
        "closed_at": [base + pd.Timedelta(hours=data.draw(hours))
                      if data.draw(st.booleans()) else pd.NaT for _ in ids],
    })
    for column in ("reported_at", "closed_at"):
        issues[column] = pd.to_datetime(issues[column], utc=True).astype("datetime64[ns, UTC]")
    rows = data.draw(st.lists(st.tuples(
        st.sampled_from([*ids, "GONE"]), _STATUS, _STATUS,
        st.one_of(st.none(), hours)), max_size=40))
    history = pd.DataFrame({
        "issue_id": [r[0] for r in rows],
        "previous_status": pd.Series([r[1] for r in rows], dtype="str"),
        "status": pd.Series([r[2] for r in rows], dtype="str"),
        "changed_at": pd.Series([base + pd.Timedelta(hours=r[3]) if r[3] is not None
                                 else pd.NaT for r in rows], dtype="datetime64[ns, UTC]"),
    })
    events = status_events(issues["issue_id"], history)
    kept = StatusEvents.from_frame(events.to_frame(), n=len(issues))  # as the copy keeps them
    for cutoff_hours in (0, 24 * 5, 24 * 10, 24 * 21):
        cutoff = base + pd.Timedelta(hours=cutoff_hours)
        want = reference_status_as_of(issues, cutoff, history)
        pd.testing.assert_frame_equal(status_as_of(issues, cutoff, history), want)
        pd.testing.assert_frame_equal(status_as_of(issues, cutoff, events=events), want)
        pd.testing.assert_frame_equal(status_as_of(issues, cutoff, events=kept), want)

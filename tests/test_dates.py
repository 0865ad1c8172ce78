"""Date/time parsing of the forms people type, and the time zone of naive values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from helpers import utc
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.errors import ConfigError
from gridwatch.ingest._dates import parse_datetimes

SH = "Asia/Shanghai"


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-03-15 08:00", "2024-03-15T00:00"),
    ("2024-03-15 08:00:00", "2024-03-15T00:00"),
    ("2024-03-15T08:00:00", "2024-03-15T00:00"),
    ("2024/3/15", "2024-03-14T16:00"),
    ("2024/3/15 8:05", "2024-03-15T00:05"),
    ("2024/03/15 08:05:30", "2024-03-15T00:05:30"),
    ("2024.3.15", "2024-03-14T16:00"),
    ("20240315", "2024-03-14T16:00"),
    ("2024年3月15日", "2024-03-14T16:00"),
    ("2024年3月15日 08:00", "2024-03-15T00:00"),
    ("2024年3月15日8时5分", "2024-03-15T00:05"),
    ("２０２４年３月１５日", "2024-03-14T16:00"),
    ("2024-03-15T08:00:00+08:00", "2024-03-15T00:00"),
    ("2024-03-15T00:00:00Z", "2024-03-15T00:00"),
    ("2024-03-14T20:00:00-04:00", "2024-03-15T00:00"),
    ("2024-03-15 08:00 +0800", "2024-03-15T00:00"),
    ("2024-03-15T08:00:00.250+08:00", "2024-03-15T00:00:00.250"),
    ("45366.5", "2024-03-15T04:00"),
    (45366.5, "2024-03-15T04:00"),
    (45366, "2024-03-14T16:00"),
    (dt.datetime(2024, 3, 15, 8, 0), "2024-03-15T00:00"),
    (dt.date(2024, 3, 15), "2024-03-14T16:00"),
    (pd.Timestamp("2024-03-15 08:00", tz="Asia/Shanghai"), "2024-03-15T00:00"),
    ("  2024-03-15 08:00  ", "2024-03-15T00:00"),
])
def test_forms_people_write(value: object, expected: str) -> None:
    parsed, bad, _outside = parse_datetimes([value], timezone=SH)
    assert parsed.iloc[0] == utc(expected)
    assert not bad.iloc[0]


@pytest.mark.parametrize("value", ["garbage", "2024-02-30", "2024-13-01", "15/03/2024x", "123",
                                   True, 12.5, "2024年13月1日", "99999999"])
def test_unreadable_values_are_flagged(value: object) -> None:
    parsed, bad, _outside = parse_datetimes([value], timezone=SH)
    assert pd.isna(parsed.iloc[0])
    assert bad.iloc[0]


@pytest.mark.parametrize("value", [None, "", "   ", np.nan, pd.NA])
def test_empty_values_are_missing_not_bad(value: object) -> None:
    parsed, bad, _outside = parse_datetimes([value], timezone=SH)
    assert pd.isna(parsed.iloc[0])
    assert not bad.iloc[0]


def test_naive_values_follow_the_time_zone() -> None:
    values = ["2024-03-15 08:00", "2024-01-15 08:00", "2024-03-15T08:00:00Z"]
    shanghai, *_ = parse_datetimes(values, timezone=SH)
    new_york, *_ = parse_datetimes(values, timezone="America/New_York")
    assert list(shanghai) == [utc("2024-03-15T00:00"), utc("2024-01-15T00:00"),
                              utc("2024-03-15T08:00")]
    # EDT (UTC-4) in March, EST (UTC-5) in January; the value with Z ignores the zone.
    assert list(new_york) == [utc("2024-03-15T12:00"), utc("2024-01-15T13:00"),
                              utc("2024-03-15T08:00")]


def test_dst_gaps_and_repeats_do_not_fail() -> None:
    parsed, bad, _outside = parse_datetimes(["2024-03-10 02:30", "2024-11-03 01:30"],
                                            timezone="America/New_York")
    assert not bad.any()
    assert parsed.iloc[0] == utc("2024-03-10T07:00")  # 02:30 does not exist: moved to 03:00 EDT
    assert parsed.iloc[1] == utc("2024-11-03T06:30")  # the repeated hour is read as standard time


def test_date_only_deadline_means_end_of_local_day() -> None:
    values = ["2024-03-15", "2024/3/15", "2024年3月15日", 45366, dt.date(2024, 3, 15),
              "2024-03-15 10:00", 45366.25]
    parsed, bad, _outside = parse_datetimes(values, timezone=SH, date_only_end_of_day=True)
    assert not bad.any()
    assert list(parsed[:5]) == [utc("2024-03-15T15:59:59")] * 5
    assert parsed.iloc[5] == utc("2024-03-15T02:00")
    assert parsed.iloc[6] == utc("2024-03-14T22:00")


def test_result_keeps_index_and_dtype() -> None:
    values = pd.Series(["2024-03-15 08:00", "x", None], index=[10, 20, 30], dtype="str")
    parsed, bad, _outside = parse_datetimes(values, timezone=SH)
    assert str(parsed.dtype) == "datetime64[ns, UTC]"
    assert list(parsed.index) == [10, 20, 30]
    assert list(bad) == [False, True, False]
    assert bad.dtype == bool


def test_mixed_column_each_value_read_in_its_own_form() -> None:
    values = pd.Series(["2024-03-15 08:00"] * 3 + ["2024/3/15 8:00", "2024年3月15日 08:00",
                                                   "45366.333333333", "2024-03-15T00:00Z"])
    parsed, bad, _outside = parse_datetimes(values, timezone=SH)
    assert not bad.any()
    assert (parsed == utc("2024-03-15T00:00")).all()


@pytest.mark.parametrize("value", [
    "3025-11-10", "1025-11-10", "9999-12-31", "2262-04-11 23:59", "1677-09-21", "3025年1月1日",
    "0001-01-01T00:00+08:00", "9999-12-31T23:59-08:00", dt.datetime(9999, 1, 1),
    dt.date(1000, 1, 1), pd.Timestamp("3000-01-01", tz="UTC"),
])
@pytest.mark.parametrize("end_of_day", [False, True])
def test_years_beyond_what_nanoseconds_hold_are_out_of_range_not_other_dates(
        value: object, end_of_day: bool) -> None:
    # Before: 3025-11-10 came back as 1856-10-01 and 2262-04-11 23:59 raised OutOfBoundsDatetime.
    parsed, bad, outside = parse_datetimes([value, "2024-03-15 08:00"], timezone=SH,
                                           date_only_end_of_day=end_of_day)
    assert pd.isna(parsed.iloc[0]) and outside.iloc[0] and not bad.iloc[0]
    assert parsed.iloc[1] == utc("2024-03-15T00:00") and not outside.iloc[1]


def test_out_of_range_in_a_long_column_too() -> None:
    values = ["3025-11-10"] * 10 + [f"2024-01-{d:02d} {h:02d}:00" for d in range(1, 29)
                                    for h in range(24)]
    parsed, bad, outside = parse_datetimes(pd.Series(values, dtype="str"), timezone=SH)
    assert outside[:10].all() and not outside[10:].any() and not bad.any()
    assert parsed[:10].isna().all() and parsed[10:].notna().all()


def test_bounds_are_local_days_inclusive() -> None:
    values = ["1969-12-31 23:59", "1970-01-01", "2100-12-31", "2100-12-31T15:59:59Z",
              "2100-12-31T16:00:00Z", "2101-01-01"]
    parsed, bad, outside = parse_datetimes(values, timezone=SH, date_only_end_of_day=True,
                                           bounds=(dt.date(1970, 1, 1), dt.date(2100, 12, 31)))
    assert list(outside) == [True, False, False, False, True, True]
    assert not bad.any()
    assert parsed.iloc[2] == utc("2100-12-31T15:59:59")


def test_unknown_timezone_names_the_argument() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        parse_datetimes(["2024-03-15"], timezone="Mars/Olympus")


_FORMS = [
    lambda t: t.strftime("%Y-%m-%d %H:%M"),
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S"),
    lambda t: f"{t.year}/{t.month}/{t.day} {t.hour}:{t.minute:02d}",
    lambda t: f"{t.year}年{t.month}月{t.day}日 {t.hour:02d}:{t.minute:02d}",
    lambda t: (t - dt.timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:00Z"),
    lambda t: t.strftime("%Y-%m-%dT%H:%M:00+08:00"),
]


# From 1992: China used daylight saving time until 1991, so +08:00 was not always local.
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.datetimes(min_value=dt.datetime(1992, 1, 1),
                                       max_value=dt.datetime(2100, 1, 1)),
                          st.integers(0, len(_FORMS) - 1)), min_size=1, max_size=20))
def test_round_trip_over_formats(items: list[tuple[dt.datetime, int]]) -> None:
    times = [t.replace(second=0, microsecond=0) for t, _ in items]
    values = [_FORMS[k](t) for t, (_, k) in zip(times, items, strict=True)]
    parsed, bad, _outside = parse_datetimes(values, timezone=SH)
    assert not bad.any(), values
    expected = [pd.Timestamp(t, tz=SH).tz_convert("UTC") for t in times]
    assert list(parsed) == expected


@pytest.mark.parametrize("form", [
    "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y-%m-%dT%H:%M:%S+08:00",
    "%Y.%m.%d", "%Y%m%d", "serial", "mixed",
])
def test_long_columns_take_the_vectorised_path_with_the_same_results(form: str) -> None:
    # More distinct values than the per-value path takes, so whole-column formats are used.
    date_only = form in ("%Y.%m.%d", "%Y%m%d")
    start = dt.datetime(2019, 1, 1, 0, 0 if date_only else 1)
    step = dt.timedelta(days=1) if date_only else dt.timedelta(minutes=97)
    if form == "serial":  # whole serials are dates (end of day): keep clear of midnight
        step += dt.timedelta(seconds=1)
    times = [start + i * step for i in range(2500)]
    if form == "serial":
        values = [f"{(t - dt.datetime(1899, 12, 30)).total_seconds() / 86400:.6f}" for t in times]
    elif form == "mixed":
        values = [t.strftime(f) for t, f in zip(times, ["%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M",
                                                         "%Y年%m月%d日 %H:%M"] * 834, strict=False)]
    else:
        values = [t.strftime(form) for t in times]
    values[7] = "not a date"
    parsed, bad, _outside = parse_datetimes(pd.Series(values, dtype="str"), timezone=SH,
                                  date_only_end_of_day=True)
    one_by_one = [parse_datetimes([v], timezone=SH, date_only_end_of_day=True)
                  for v in values[:40]]
    assert list(parsed[:40]) == [p.iloc[0] for p, _b, _o in one_by_one]
    assert list(bad[:40]) == [b.iloc[0] for _p, b, _o in one_by_one]
    assert bad.sum() == 1
    expected = pd.DatetimeIndex(times).tz_localize(SH).tz_convert("UTC")
    if date_only:
        expected = expected + pd.Timedelta(seconds=86399)
    ok = ~bad.to_numpy()
    assert (parsed[ok].to_numpy() == expected[ok].to_numpy()).all()


_ENDS_FORMS = [*_FORMS, lambda t: t.strftime("%Y-%m-%d"),
               lambda t: f"{t.year}年{t.month}月{t.day}日", lambda t: t.strftime("%Y%m%d"),
               lambda _t: "not a date", lambda _t: "  ", lambda t: t.strftime("1899-%m-%d")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.datetimes(min_value=dt.datetime(1980, 1, 1),
                                       max_value=dt.datetime(2100, 1, 1)),
                          st.integers(0, len(_ENDS_FORMS) - 1)), min_size=1, max_size=30),
       st.sampled_from([SH, "America/New_York"]), st.booleans())
def test_ends_from_one_parse_equal_reading_again_as_end_of_day(
        items: list[tuple[dt.datetime, int]], zone: str, long: bool) -> None:
    """parse_datetimes_and_ends: the values as parse_datetimes reads them, and as it reads
    them with date_only_end_of_day (daylight saving time included), from one parse."""
    from gridwatch.ingest._dates import parse_datetimes_and_ends

    values = [_ENDS_FORMS[k](t) for t, k in items]
    if long:  # more distinct values than the per-value path takes
        values += [f"2021-01-01 {i // 60 % 24:02d}:{i % 60:02d}:{i % 59:02d}" for i in range(2100)]
    series = pd.Series(values, dtype="str")
    bounds = (dt.date(1990, 1, 1), dt.date(2090, 12, 31))
    parsed, bad, outside, ends = parse_datetimes_and_ends(series, timezone=zone, bounds=bounds)
    want = parse_datetimes(series, timezone=zone, bounds=bounds)
    pd.testing.assert_series_equal(parsed, want[0])
    pd.testing.assert_series_equal(bad, want[1])
    pd.testing.assert_series_equal(outside, want[2])
    pd.testing.assert_series_equal(
        ends, parse_datetimes(series, timezone=zone, bounds=bounds, date_only_end_of_day=True)[0])

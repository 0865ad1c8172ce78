"""Fuzzing ingest: random encodings, headers, delimiters, quoting, dates, coordinates and ids.

Whatever the file, reading it either ends in gridwatch's own error or accounts for every row
(``rows_in = accepted + rejected``), and an accepted row carries exactly the date and the
coordinates written in the file, never another one. Bounded in time for CI.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridwatch.errors import GridwatchError
from gridwatch.ingest import read_issues

SH = "Asia/Shanghai"
HEADERS = {
    "issue_id": ["问题编号", "事件编号", "issue_id", "ID", " 问题编号 ", "ＩＤ"],
    "reported_at": ["上报时间", "发现时间", "reported_at", "Reported_At"],
    "lon": ["经度", "lon", "longitude", "LNG"],
    "lat": ["纬度", "lat", "latitude", "LAT"],
    "category": ["问题类型", "类别", "category"],
}
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M")
TEXT = st.text(alphabet=st.sampled_from(list("ab1,\"'\n \t=+-@;中文网格河道；，、「」\\")),
               max_size=12)

good_date = st.datetimes(min_value=dt.datetime(1971, 1, 2), max_value=dt.datetime(2099, 12, 30))
far_date = st.one_of(
    st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(1969, 12, 30)),
    st.datetimes(min_value=dt.datetime(2101, 1, 2), max_value=dt.datetime(9999, 12, 30)))


@st.composite
def rows(draw: st.DrawFn) -> dict:
    """One row: what is written, and what an accepted row must hold."""
    kind = draw(st.sampled_from(["good", "good", "good", "far", "garbage", "empty"]))
    fmt = draw(st.sampled_from(DATE_FORMATS))
    when = None
    if kind == "good":
        when = draw(good_date).replace(microsecond=0)
        if "%S" not in fmt:
            when = when.replace(second=0)
        written_date = when.strftime(fmt)
    elif kind == "far":
        written_date = draw(far_date).strftime("%Y-%m-%d %H:%M:%S")
    elif kind == "garbage":
        written_date = draw(TEXT)
    else:
        written_date = ""
    lon = draw(st.one_of(st.floats(120.70, 120.80, allow_nan=False), st.just(None)))
    lat = draw(st.one_of(st.floats(30.70, 30.80, allow_nan=False), st.just(None)))
    return {
        "issue_id": draw(st.one_of(st.from_regex(r"[A-Z][0-9]{1,6}", fullmatch=True), TEXT)),
        "reported_at": written_date,
        "when": when,
        "lon": "" if lon is None else repr(lon),
        "lat": "" if lat is None else repr(lat),
        "category": draw(st.sampled_from(["水", "大气", "噪声", "noise", "", "？"])),
    }


@st.composite
def exports(draw: st.DrawFn) -> tuple[bytes, str, list[dict]]:
    """A whole file: encoding, header spelling, delimiter and quoting drawn at random."""
    data = draw(st.lists(rows(), min_size=1, max_size=25))
    header = [draw(st.sampled_from(HEADERS[c])) for c in HEADERS]
    delimiter, suffix = draw(st.sampled_from([(",", ".csv"), ("\t", ".tsv")]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator="\r\n")
    writer.writerow(header)
    for row in data:
        writer.writerow([row[c] for c in HEADERS])
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
    return text.encode(encoding, errors="replace"), suffix, data


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(export=exports())
def test_every_row_accounted_for_and_nothing_stored_but_what_was_written(
        tmp_path_factory: pytest.TempPathFactory, export: tuple[bytes, str, list[dict]]) -> None:
    content, suffix, data = export
    path = Path(tmp_path_factory.mktemp("fuzz")) / f"export{suffix}"
    path.write_bytes(content)
    try:
        result = read_issues([path], timezone=SH, crs="wgs84")
    except GridwatchError:
        return  # gridwatch's own error: a clear message, nothing read
    assert result.rows_in == result.accepted + result.rejected
    assert result.rows_in == len(data)
    by_row = {int(r): record for r, record in
              zip(result.records["source_row"], result.records.to_dict("records"), strict=True)}
    for number, row in enumerate(data, start=2):
        record = by_row.get(number)
        if record is None:
            continue  # rejected, with a reason
        assert row["when"] is not None, f"row {number}: {row['reported_at']!r} was accepted"
        expected = pd.Timestamp(row["when"]).tz_localize(SH).tz_convert("UTC")
        assert record["reported_at"] == expected
        for axis in ("lon", "lat"):
            got = record[axis]
            assert (pd.isna(got) and row[axis] == "") or got == float(row[axis])

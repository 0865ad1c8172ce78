"""Fuzzing ingest: random encodings, headers, delimiters, quoting, dates, coordinates and ids,
in CSV/TSV, XLSX (text, date and number cells), JSON (an array, or an object holding one) and
GeoJSON, each as it is, gzip-compressed or in a zip (also as a .gz member).

Whatever the file, reading it either ends in gridwatch's own error or accounts for every row
(``rows_in = accepted + rejected``), and an accepted row carries exactly the date and the
coordinates written in the file, never another one. Bounded in time for CI.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import zipfile
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
        "far": draw(far_date) if kind == "far" else None,
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
    check_export(tmp_path_factory, content, suffix, data, first_row=2, blank_rows_count=False)


def check_export(tmp_path_factory: pytest.TempPathFactory, content: bytes, suffix: str,
                 data: list[dict], *, first_row: int, blank_rows_count: bool) -> None:
    """Read the file; unless gridwatch refuses it with its own error, every row is accounted
    for and an accepted row holds exactly the date and coordinates written.

    ``first_row`` is the row number of ``data[0]`` (2 below a header, 1 in JSON); a row that is
    blank in every column is not a row of a CSV or XLSX (``blank_rows_count`` False).
    """
    path = Path(tmp_path_factory.mktemp("fuzz")) / f"export{suffix}"
    path.write_bytes(content)
    try:
        result = read_issues([path], timezone=SH, crs="wgs84")
    except GridwatchError:
        return  # gridwatch's own error: a clear message, nothing read
    assert result.rows_in == result.accepted + result.rejected
    written = [r for r in data if blank_rows_count or not _blank(r)]
    assert result.rows_in == len(written)
    by_row = {int(r): record for r, record in
              zip(result.records["source_row"], result.records.to_dict("records"), strict=True)}
    for number, row in enumerate(data, start=first_row):
        record = by_row.get(number)
        if record is None:
            continue  # rejected, with a reason
        assert row["when"] is not None, f"row {number}: {row['reported_at']!r} was accepted"
        expected = pd.Timestamp(row["when"]).tz_localize(SH).tz_convert("UTC")
        assert record["reported_at"] == expected
        for axis in ("lon", "lat"):
            got = record[axis]
            assert (pd.isna(got) and row[axis] == "") or got == float(row[axis])


def _blank(row: dict) -> bool:
    return not any(str(row[c]).strip() for c in HEADERS)


# --- XLSX, JSON, GeoJSON; compressed -----------------------------------------------------------

def _xlsx(data: list[dict], header: list[str], draw: st.DrawFn) -> bytes:
    """Cells as an export writes them: text, or (drawn per file) dates as date cells or Excel
    serial numbers and coordinates as numbers."""
    import xlsxwriter

    dates = draw(st.sampled_from(["text", "date cells", "serial numbers"]))
    numbers = draw(st.booleans())
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    date_format = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for col, name in enumerate(header):
        sheet.write_string(0, col, name)
    for i, row in enumerate(data, start=1):
        for col, column in enumerate(HEADERS):
            value = row[column]
            moment = row["when"] or row["far"]
            if column == "reported_at" and dates != "text" and moment is not None \
                    and moment.year >= 1901:
                if dates == "date cells":
                    sheet.write_datetime(i, col, moment, date_format)
                else:
                    serial = (moment - dt.datetime(1899, 12, 30)) / dt.timedelta(days=1)
                    sheet.write_number(i, col, serial)
            elif column in ("lon", "lat") and numbers and value:
                # XlsxWriter writes 16 significant digits: 7 decimals (a centimetre) stay exact
                row[column] = repr(round(float(value), 7))
                sheet.write_number(i, col, float(row[column]))
            elif value:
                sheet.write_string(i, col, value)
    book.close()
    return buffer.getvalue()


def _records(data: list[dict], header: list[str], draw: st.DrawFn) -> list[dict]:
    """JSON records: coordinates as numbers or text, a missing one null, "" or left out."""
    numbers = draw(st.booleans())
    missing = draw(st.sampled_from(["null", "empty", "absent"]))
    records = []
    for row in data:
        record: dict = {}
        for name, column in zip(header, HEADERS, strict=True):
            value = row[column]
            if column in ("lon", "lat") and value:
                record[name] = float(value) if numbers else value
            elif column in ("lon", "lat") and missing != "absent":
                record[name] = None if missing == "null" else ""
            elif column not in ("lon", "lat"):
                record[name] = value
        records.append(record)
    return records


def _geojson(data: list[dict], header: list[str]) -> dict:
    """Points where a row has both coordinates (the other rows: no geometry, and no
    coordinates expected)."""
    features = []
    for row in data:
        if not (row["lon"] and row["lat"]):
            row["lon"] = row["lat"] = ""
        properties = {name: row[column] for name, column in zip(header, HEADERS, strict=True)
                      if column not in ("lon", "lat")}
        geometry = ({"type": "Point", "coordinates": [float(row["lon"]), float(row["lat"])]}
                    if row["lon"] else None)
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return {"type": "FeatureCollection", "features": features}


@st.composite
def typed_exports(draw: st.DrawFn) -> tuple[bytes, str, list[dict], int, bool]:
    """A whole file in any format but text, or a CSV/TSV, then maybe compressed: the content,
    its suffix, the rows, the number of the first row and whether blank rows are rows."""
    kind = draw(st.sampled_from(["csv", "xlsx", "json", "json object", "geojson"]))
    if kind == "csv":
        content, suffix, data = draw(exports())
        first, blank_rows_count = 2, False
    else:
        data = draw(st.lists(rows(), min_size=1, max_size=25))
        header = [draw(st.sampled_from(HEADERS[c])) for c in HEADERS]
        first, blank_rows_count = (2, False) if kind == "xlsx" else (1, True)
        if kind == "xlsx":
            content, suffix = _xlsx(data, header, draw), ".xlsx"
        elif kind == "geojson":
            doc = _geojson(data, header)
            content, suffix = json.dumps(doc, ensure_ascii=False).encode(), ".geojson"
        else:
            doc = _records(data, header, draw)
            if kind == "json object":
                doc = {"total": len(doc), "data": doc}
            content, suffix = json.dumps(doc, ensure_ascii=False).encode(), ".json"
    packing = draw(st.sampled_from(["", ".gz", ".zip", ".zip of .gz"]))
    if packing == ".gz":
        content, suffix = gzip.compress(content), suffix + ".gz"
    elif packing:
        member = f"导出/export{suffix}"
        if packing == ".zip of .gz":
            content, member = gzip.compress(content), member + ".gz"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(member, content)
        content, suffix = buffer.getvalue(), ".zip"
    return content, suffix, data, first, blank_rows_count


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(export=typed_exports())
def test_every_row_of_xlsx_json_and_compressed_files_accounted_for(
        tmp_path_factory: pytest.TempPathFactory,
        export: tuple[bytes, str, list[dict], int, bool]) -> None:
    content, suffix, data, first, blank_rows_count = export
    check_export(tmp_path_factory, content, suffix, data, first_row=first,
                 blank_rows_count=blank_rows_count)

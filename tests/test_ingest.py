"""Reading problem exports: formats, encodings, header aliases, labels, rejects and duplicates."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import utc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridwatch.config import InputSettings
from gridwatch.errors import CRSError, InputFileError, SchemaError
from gridwatch.ingest.records import map_headers, read_issues
from gridwatch.schema import CANONICAL_COLUMNS

HEADER = ["问题编号", "上报时间", "问题类型", "问题来源", "问题描述", "经度", "纬度", "状态",
          "整改期限", "办结时间"]
GOOD = ["GW-001", "2024-03-15 08:00", "水污染", "网格巡查", "河道漂浮物", "120.75", "30.76",
        "整改中", "2024-03-20", ""]


def write_csv(path: Path, header: list[str], rows: list[list[str]], *,
              encoding: str = "utf-8", sep: str = ",") -> Path:
    lines = [sep.join(header), *(sep.join(r) for r in rows)]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def one_row(tmp_path: Path, **changes: str) -> pd.DataFrame:
    """Ingest a file with the GOOD row changed by header -> value; return its records."""
    row = dict(zip(HEADER, GOOD, strict=True)) | changes
    result = read_issues(write_csv(tmp_path / "one.csv", list(row), [list(row.values())]))
    assert result.rows_in == 1
    return result.records


# --- headers -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("header", "column"), [
    ("问题编号", "issue_id"), (" 问题 编号 ", "issue_id"), ("ISSUE_ID", "issue_id"),
    ("Issue Id", "issue_id"), ("ｉｓｓｕｅ＿ｉｄ", "issue_id"), ("Service Request ID", "issue_id"),
    ("事件编号", "issue_id"), ("上报时间", "reported_at"), ("requested_datetime", "reported_at"),
    ("Reported-At", "reported_at"), ("ＬＯＮ", "lon"), ("Longitude", "lon"), ("经度", "lon"),
    ("纬 度", "lat"), ("LAT", "lat"), ("坐标系", "coord_system"), ("办理状态", "status"),
    ("整改期限", "deadline"), ("expected_datetime", "deadline"), ("办结时间", "closed_at"),
    ("责任单位", "responsible_unit"), ("所属网格", "reported_grid"), ("问题地址", "address"),
    ("问题ID", "issue_id"), ("整改时限", "deadline"), ("Case Status", "status"),
])
def test_header_variants_map_to_canonical(header: str, column: str) -> None:
    assert map_headers([header]) == {header: column}


def test_unknown_headers_are_not_mapped() -> None:
    assert map_headers(["备注", "照片", ""]) == {}


def test_higher_priority_alias_wins_and_other_stays_unmapped(tmp_path: Path) -> None:
    # "lon" comes before "经度" in the alias table; "问题编号" before "编号".
    mapping = map_headers(["编号", "经度", "问题编号", "lon"])
    assert mapping == {"问题编号": "issue_id", "lon": "lon"}
    path = write_csv(tmp_path / "two.csv", ["编号", "问题编号", "上报时间", "经度", "lon"],
                     [["X", "A1", "2024-03-15", "1", "120.5"]])
    result = read_issues(path)
    assert result.records.loc[0, "issue_id"] == "A1"
    assert result.records.loc[0, "lon"] == 120.5
    assert result.files[0].unmapped == ["编号", "经度"]


def test_config_aliases_come_first() -> None:
    aliases = {"issue_id": ("工单号",), "reported_grid": ("编号",)}
    mapping = map_headers(["工单号", "问题编号", "编号"], aliases=aliases)
    assert mapping == {"工单号": "issue_id", "编号": "reported_grid"}


def test_file_without_required_columns_names_file_headers_and_aliases(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", ["编号", "备注"], [["A1", "x"]])
    with pytest.raises(SchemaError) as info:
        read_issues(path)
    message = str(info.value)
    assert "bad.csv" in message and "'备注'" in message
    assert "reported_at" in message and "上报时间" in message and "requested_datetime" in message


# --- formats and encodings ---------------------------------------------------------------------

@pytest.mark.parametrize(("encoding", "expected"), [
    ("gbk", "gb18030"), ("gb18030", "gb18030"), ("utf-8-sig", "utf-8-sig"), ("utf-8", "utf-8-sig"),
])
def test_csv_encodings(tmp_path: Path, encoding: str, expected: str) -> None:
    path = write_csv(tmp_path / "e.csv", HEADER, [GOOD], encoding=encoding)
    result = read_issues(path)
    assert result.files[0].encoding == expected  # utf-8-sig also reads plain UTF-8
    record = result.records.iloc[0]
    assert record["description"] == "河道漂浮物"
    assert (record["category"], record["source"], record["status"]) == (
        "water", "grid_patrol", "rectifying")
    assert record["reported_at"] == utc("2024-03-15T00:00")
    assert record["deadline"] == utc("2024-03-20T15:59:59")  # end of the local day
    assert (record["lon"], record["lat"]) == (120.75, 30.76)
    assert result.files[0].mapped["问题编号"] == "issue_id"


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_large_files_are_decoded_block_by_block_with_the_same_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str) -> None:
    """Files up to _TRANSCODE_MAX_BYTES are decoded at once and read as UTF-8; larger ones go
    through pyarrow's own decoding: the same records, and the file's encoding named alike."""
    from gridwatch.ingest import _readers

    rows = [GOOD, [f"{GOOD[0]}2", *GOOD[1:]]]
    path = write_csv(tmp_path / "e.csv", HEADER, rows, encoding=encoding)
    small = read_issues(path)
    monkeypatch.setattr(_readers, "_TRANSCODE_MAX_BYTES", 0)
    large = read_issues(path)
    pd.testing.assert_frame_equal(small.records, large.records)
    assert small.files[0].encoding == large.files[0].encoding != "utf-8"


def test_configured_encoding_is_used(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", HEADER, [GOOD], encoding="gbk")
    result = read_issues(path, settings=InputSettings(encoding="gbk"))
    assert result.files[0].encoding == "gbk"
    with pytest.raises(InputFileError, match="utf-8"):
        read_issues(path, settings=InputSettings(encoding="utf-8"))


def test_tsv_and_semicolon(tmp_path: Path) -> None:
    tsv = read_issues(write_csv(tmp_path / "t.tsv", HEADER, [GOOD], sep="\t"))
    semi = read_issues(write_csv(tmp_path / "s.txt", HEADER, [GOOD], sep=";"))
    assert tsv.accepted == semi.accepted == 1


def test_xlsx_with_datetime_cells_and_serials(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["问题编号", "上报时间", "整改期限", "办结时间", "经度", "纬度", "状态", "备注"])
    sheet.append([1001, dt.datetime(2024, 3, 15, 8, 0), 45371, None, 120.75, 30.76, "已交办", "x"])
    sheet.append(["A2", 45366.5, dt.date(2024, 3, 20), dt.datetime(2024, 3, 16, 9), 120.7, 30.7,
                  "已办结", None])
    sheet.append([None] * 8)  # an empty row is not a row
    sheet.append(["A3", "2024/3/15 8:05", "2024年3月20日", None, "东经120", 30.7, None, None])
    book.create_sheet("other").append(["ignored"])
    path = tmp_path / "x.xlsx"
    book.save(path)
    result = read_issues(path, settings=InputSettings(keep_columns=("备注",)))
    assert result.files[0].format == "xlsx"
    assert result.rows_in == 3
    records = result.records.set_index("issue_id")
    assert list(records.index) == ["1001", "A2"]
    assert records.loc["1001", "reported_at"] == utc("2024-03-15T00:00")
    assert records.loc["1001", "deadline"] == utc("2024-03-20T15:59:59")  # serial 45371
    assert records.loc["A2", "reported_at"] == utc("2024-03-15T04:00")
    assert records.loc["A2", "deadline"] == utc("2024-03-20T15:59:59")
    assert records.loc["A2", "closed_at"] == utc("2024-03-16T01:00")
    assert records.loc["1001", "备注"] == "x"
    assert list(records["source_row"]) == [2, 3]
    assert result.rejects.loc[0, "row"] == 5
    assert "not a number" in result.rejects.loc[0, "reason"]


def test_title_rows_above_the_header(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["嘉兴市环境问题清单"])
    sheet.append(["导出时间：2024-03-16"])
    sheet.append([])
    sheet.append(["问题编号", "上报时间", "问题类型", None, "经度"])
    sheet.append(["T1", "2024-03-15 08:00", "噪声", "无表头的值", 120.5])
    sheet.append(["T2", "坏", "噪声"])
    path = tmp_path / "titled.xlsx"
    book.save(path)
    result = read_issues(path)
    assert result.files[0].header_row == 4
    assert result.rows_in == 2
    assert list(result.records["source_row"]) == [5]
    assert list(result.rejects["row"]) == [6]
    assert result.files[0].unmapped == ["(column 4)"]
    csv_path = write_csv(tmp_path / "titled.csv", ["问题清单", "", ""],
                         [["", "", ""], ["编号", "受理时间", "类别"], ["C1", "2024/3/15", "水"]],
                         encoding="gbk")
    from_csv = read_issues(csv_path)
    assert from_csv.files[0].header_row == 3
    assert list(from_csv.records["source_row"]) == [4]


def test_xlsx_too_big_uncompressed(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["问题编号", "上报时间", "问题描述"])
    for i in range(300):
        book.active.append([f"A{i}", "2024-03-15", "很长的描述" * 50])
    path = tmp_path / "big.xlsx"
    book.save(path)
    assert path.stat().st_size < 0.05 * 1024 * 1024
    with pytest.raises(InputFileError, match="max_file_mb"):
        read_issues(path, settings=InputSettings(max_file_mb=0.05))


def test_json_array_and_object_with_one_list(tmp_path: Path) -> None:
    records = [{"问题编号": "J1", "上报时间": "2024-03-15 08:00", "经度": 120.5, "纬度": 30.5,
                "extra": {"nested": [1]}},
               {"问题编号": 2, "上报时间": "2024-03-15T08:00:00+08:00", "经度": None}]
    (tmp_path / "a.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"count": 2, "data": records}), encoding="utf-8")
    for name in ("a.json", "b.json"):
        result = read_issues(tmp_path / name)
        assert result.files[0].format == "json"
        assert list(result.records["issue_id"]) == ["J1", "2"]
        assert list(result.records["source_row"]) == [1, 2]
        assert result.records.loc[0, "lon"] == 120.5
        assert np.isnan(result.records.loc[1, "lon"])
        assert (result.records["reported_at"] == utc("2024-03-15T00:00")).all()


def test_empty_inputs(tmp_path: Path) -> None:
    (tmp_path / "none.json").write_text("[]")
    header_only = write_csv(tmp_path / "header.csv", HEADER, [])
    for paths in ([], [tmp_path / "none.json"], [header_only]):
        result = read_issues(paths)
        assert (result.rows_in, result.accepted, result.rejected) == (0, 0, 0)
        assert str(result.records["reported_at"].dtype) == "datetime64[ns, UTC]"
        assert result.records["lon"].dtype == np.float64
        assert list(result.records.columns)[:len(CANONICAL_COLUMNS)] == list(CANONICAL_COLUMNS)


def test_json_items_that_are_not_records_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"id": "A", "reported_at": "2024-03-15"}, 5, "x"]))
    result = read_issues(path)
    assert result.accepted == 1
    assert list(result.rejects["row"]) == [2, 3]
    assert "not a record" in result.rejects.loc[0, "reason"]


def test_geojson_points(tmp_path: Path) -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "F1", "geometry": {"type": "Point", "coordinates": [120.1, 30.2]},
         "properties": {"上报时间": "2024-03-15", "经度": 999, "问题类型": "大气"}},
        {"type": "Feature", "id": "F2", "geometry": None, "properties": {"上报时间": "2024-03-15"}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []},
         "properties": {"id": "F3", "上报时间": "2024-03-15"}},
    ]}
    path = tmp_path / "p.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    result = read_issues(path)
    assert result.files[0].format == "geojson"
    first = result.records.iloc[0]
    assert (first["issue_id"], first["lon"], first["lat"], first["category"]) == (
        "F1", 120.1, 30.2, "air")
    assert np.isnan(result.records.iloc[1]["lon"])
    assert list(result.rejects["row"]) == [3]
    assert "Polygon" in result.rejects.loc[0, "reason"]


OPEN311 = [
    {"service_request_id": "638344", "status": "closed", "status_notes": "Duplicate request.",
     "service_name": "Water pollution", "service_code": "006", "description": "<b>oily</b> river",
     "agency_responsible": "Env bureau", "requested_datetime": "2010-04-14T06:37:38-08:00",
     "updated_datetime": "2010-04-14T06:37:38-08:00",
     "expected_datetime": "2010-04-15T06:37:38-08:00",
     "address": "8TH AVE and JUDAH ST", "lat": 37.762221815, "long": -122.4651145},
    {"service_request_id": "638349", "status": "open", "service_name": "Water pollution",
     "requested_datetime": "2010-04-19T06:37:38-08:00",
     "updated_datetime": "2010-04-19T06:37:38-08:00", "lat": 37.8, "long": -122.4},
]
WATER = InputSettings(labels={"category": {"Water pollution": "water"}})


def test_open311_json(tmp_path: Path) -> None:
    path = tmp_path / "requests.json"
    path.write_text(json.dumps(OPEN311), encoding="utf-8")
    result = read_issues(path, settings=WATER)
    assert result.files[0].format == "open311-json"
    closed, open_ = result.records.iloc[0], result.records.iloc[1]
    assert closed["reported_at"] == utc("2010-04-14T14:37:38")
    assert closed["deadline"] == utc("2010-04-15T14:37:38")
    assert closed["closed_at"] == utc("2010-04-14T14:37:38")  # updated_datetime, status closed
    assert pd.isna(open_["closed_at"])  # updated_datetime of an open request is not a closing
    assert (closed["status"], open_["status"]) == ("closed", "assigned")
    assert (closed["lon"], closed["lat"]) == (-122.4651145, 37.762221815)
    assert closed["description"] == "<b>oily</b> river"
    assert closed["responsible_unit"] == "Env bureau"
    assert closed["category"] == "water"
    assert "service_code" in result.files[0].unmapped


def test_open311_csv_and_unknown_service_name(tmp_path: Path) -> None:
    frame = pd.DataFrame(OPEN311)
    path = tmp_path / "requests.csv"
    frame.to_csv(path, index=False)
    result = read_issues(path, settings=WATER)
    assert result.files[0].format == "open311-csv"
    assert result.accepted == 2
    assert result.records.loc[0, "closed_at"] == utc("2010-04-14T14:37:38")
    plain = read_issues(path)  # without the label, the service name is an unknown category
    assert plain.accepted == 0
    reason = plain.rejects.loc[0, "reason"]
    assert "service_name 'Water pollution' is not a known category" in reason


def test_gzip_and_zip_inputs(tmp_path: Path) -> None:
    csv_bytes = ("\n".join([",".join(HEADER), ",".join(GOOD)]) + "\n").encode("gbk")
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(csv_bytes))
    json_bytes = json.dumps([{"id": "Z2", "reported_at": "2024-03-15"}]).encode()
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(json_bytes))
    with zipfile.ZipFile(tmp_path / "day.zip", "w") as archive:
        archive.writestr("day/a.csv", csv_bytes)
        archive.writestr("b.json", json_bytes)
        archive.writestr("readme.md", "not data")
        archive.writestr("c.json.gz", gzip.compress(
            json.dumps([{"id": "Z3", "reported_at": "bad"}]).encode()))
    result = read_issues([tmp_path / "a.csv.gz", tmp_path / "b.json.gz"])
    assert [f.format for f in result.files] == ["csv", "json"]
    assert result.accepted == 2
    zipped = read_issues(tmp_path / "day.zip")
    names = [f.path for f in zipped.files]
    assert names == [f"{tmp_path / 'day.zip'}!day/a.csv", f"{tmp_path / 'day.zip'}!b.json",
                     f"{tmp_path / 'day.zip'}!c.json.gz"]
    assert zipped.accepted == 2
    assert zipped.rejects.loc[0, "file"] == f"{tmp_path / 'day.zip'}!c.json.gz"
    assert set(zipped.records["source_file"]) == set(names[:2])


@pytest.mark.parametrize(("name", "content", "match"), [
    ("missing.csv", None, "was not found"),
    ("old.xls", b"x", r"save it from Excel as \.xlsx"),
    ("data.parquet", b"x", "unknown file type"),
    ("broken.json", b"[{", "not valid JSON"),
    ("scalar.json", b"42", "expected an array of records"),
    ("broken.xlsx", b"PK not really", "not a valid .xlsx"),
    ("broken.csv.gz", b"not gzip", "not a valid gzip"),
    ("empty.csv", b"", "empty"),
    ("nothing.zip", None, "holds no file gridwatch can read"),
])
def test_unreadable_files(tmp_path: Path, name: str, content: bytes | None, match: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    if name == "nothing.zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes.doc", "x")
    with pytest.raises(InputFileError, match=match):
        read_issues(path)


def test_xlsx_with_broken_sheet_xml(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["问题编号", "上报时间"])
    book.save(tmp_path / "ok.xlsx")
    with zipfile.ZipFile(tmp_path / "ok.xlsx") as good, \
            zipfile.ZipFile(tmp_path / "broken.xlsx", "w") as broken:
        for member in good.infolist():
            data = good.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            broken.writestr(member, data)
    with pytest.raises(InputFileError, match="cannot read the first sheet"):
        read_issues(tmp_path / "broken.xlsx")


def test_file_over_size_limit(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", HEADER, [GOOD] * 2000)
    with pytest.raises(InputFileError, match="max_file_mb"):
        read_issues(path, settings=InputSettings(max_file_mb=0.01))
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(InputFileError, match="uncompressed"):
        read_issues(tmp_path / "a.csv.gz", settings=InputSettings(max_file_mb=0.05))


def test_rows_longer_than_the_header_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("问题编号,上报时间\nA1,2024-03-15\nA2,2024-03-15,extra\nA3,2024-03-15\n",
                    encoding="utf-8")
    result = read_issues(path)
    assert list(result.records["issue_id"]) == ["A1", "A3"]
    assert list(result.rejects["row"]) == [3]
    assert "3 fields" in result.rejects.loc[0, "reason"]


def test_unquoted_comma_in_the_first_data_row_is_one_reject(tmp_path: Path) -> None:
    # Before: pandas took the first column as the index and every row was rejected with
    # "上报时间 '大气污染' is not a date"; the same comma in row 3 was one reject, as here.
    path = tmp_path / "c.csv"
    path.write_text("问题编号,上报时间,问题类型,问题描述\n"
                    "A1,2024-03-15,大气污染,油烟,扰民\n"
                    "A2,2024-03-15,水污染,漂浮物\n"
                    "A3,2024-03-16,水污染,排污口\n", encoding="utf-8")
    result = read_issues(path)
    assert (result.rows_in, result.accepted, result.rejected) == (3, 2, 1)
    assert list(result.records["issue_id"]) == ["A2", "A3"]
    assert list(result.records["category"]) == ["water", "water"]
    reject = result.rejects.iloc[0]
    assert reject["row"] == 2
    assert "has 5 fields but the header has 4" in reject["reason"]


@pytest.mark.parametrize("blank_line", [False, True])
def test_unclosed_quote_running_past_the_field_limit_is_an_input_error(
        tmp_path: Path, blank_line: bool) -> None:
    # Before: "unexpected Error: field larger than field limit (131072)" and exit 1.
    path = tmp_path / "q.csv"
    gap = "\n" if blank_line else ""
    path.write_text("问题编号,上报时间,问题描述\nA0,2024-03-15,a,b\n"
                    f'A1,2024-03-15,"{"x" * 140_000}\n{gap}A2,2024-03-15,ok\n', encoding="utf-8")
    with pytest.raises(InputFileError, match=r"q\.csv.*quote .* never closed"):
        read_issues(path)


def test_json_nested_too_deeply_is_an_input_error(tmp_path: Path) -> None:
    # Before: RecursionError, "unexpected" and exit 1.
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    with pytest.raises(InputFileError, match="nested too deeply"):
        read_issues(path)


def test_corrupt_zip_member_is_an_input_error(tmp_path: Path) -> None:
    # Before: zlib.error / BadZipFile escaped as "unexpected".
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.csv", "问题编号,上报时间\n" + "".join(
            f"A{i},2024-03-15\n" for i in range(2000)))
    data = bytearray(path.read_bytes())
    for i in range(60, 200):  # inside the compressed data of the member
        data[i] ^= 0x55
    path.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match=r"bad\.zip!a\.csv.*damaged"):
        read_issues(path)


def test_over_long_issue_id_is_one_reject(tmp_path: Path) -> None:
    # Before: stored as it was, and PostGIS failed the whole import (btree row size).
    from gridwatch.schema import ISSUE_ID_MAX_CHARS

    longest, too_long = "L" * ISSUE_ID_MAX_CHARS, "问" * (ISSUE_ID_MAX_CHARS + 1)
    path = write_csv(tmp_path / "ids.csv", HEADER, [[longest, *GOOD[1:]], [too_long, *GOOD[1:]],
                                                    GOOD])
    result = read_issues(path)
    assert list(result.records["issue_id"]) == [longest, "GW-001"]
    reject = result.rejects.iloc[0]
    assert (reject["row"], reject["column"]) == (3, "问题编号")
    assert reject["reason"].startswith(f"issue_id too long: 问题编号 has {ISSUE_ID_MAX_CHARS + 1} "
                                       "characters")


@pytest.mark.parametrize(("column", "value"), [
    ("上报时间", "3025-11-10"), ("上报时间", "1025-11-10"), ("上报时间", "2262-04-11 23:59"),
    ("上报时间", "1969-12-31"), ("整改期限", "9999-12-31"), ("整改期限", "2101-01-01"),
    ("办结时间", "3025-11-10"),
])
def test_dates_outside_the_accepted_range_are_rejected_not_shifted(
        tmp_path: Path, column: str, value: str) -> None:
    # Before: 3025-11-10 was stored as 1856-10-01, 9999-12-31 as 1816-03-29, and
    # 2262-04-11 23:59 stopped the whole ingest with OutOfBoundsDatetime.
    row = dict(zip(HEADER, GOOD, strict=True)) | {"状态": "已办结", "办结时间": "2024-03-16"}
    row[column] = value
    path = write_csv(tmp_path / "d.csv", list(row), [list(row.values()), GOOD])
    result = read_issues(path)
    assert (result.accepted, result.rejected) == (1, 1)
    reject = result.rejects.iloc[0]
    assert (reject["row"], reject["column"], reject["value"]) == (2, column, value)
    assert "a date outside the range this system accepts: 1970-01-01 to 2100-12-31" in \
        reject["reason"]
    assert result.records["reported_at"].dt.year.tolist() == [2024]


def test_accepted_date_range_is_configurable(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", HEADER, [["OLD", "1960-05-01", *GOOD[2:]], GOOD])
    assert read_issues(path).accepted == 1
    wide = InputSettings(min_date=dt.date(1949, 10, 1), max_date=dt.date(2100, 12, 31))
    records = read_issues(path, settings=wide).records
    assert records["reported_at"].tolist() == [utc("1960-04-30T16:00"), utc("2024-03-15")]


# --- values ------------------------------------------------------------------------------------

def test_output_columns_and_dtypes(tmp_path: Path) -> None:
    records = one_row(tmp_path)
    assert list(records.columns) == [*CANONICAL_COLUMNS, "source_file", "source_row"]
    assert str(records["reported_at"].dtype) == "datetime64[ns, UTC]"
    assert str(records["closed_at"].dtype) == "datetime64[ns, UTC]"
    assert records["lon"].dtype == np.float64
    assert records["issue_id"].dtype == "str"
    assert records["source_row"].tolist() == [2]


def test_missing_labels_get_defaults(tmp_path: Path) -> None:
    records = one_row(tmp_path, 问题类型="", 问题来源="", 状态="", 办结时间="")
    assert (records.loc[0, "category"], records.loc[0, "source"]) == ("other", "other")
    assert records.loc[0, "status"] == "reported"
    closed = one_row(tmp_path, 状态="", 办结时间="2024-03-16 10:00")
    assert closed.loc[0, "status"] == "closed"


@pytest.mark.parametrize(("label", "code"), [
    ("大气污染", "air"), ("扬尘", "air"), ("固体废物", "solid_waste"), ("噪声", "noise"),
    ("土壤污染", "soil"), ("生态破坏", "ecology"), ("其他", "other"), ("WATER", "water"),
    ("Solid Waste", "solid_waste"),
])
def test_category_labels(tmp_path: Path, label: str, code: str) -> None:
    assert one_row(tmp_path, 问题类型=label).loc[0, "category"] == code


def test_config_labels(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", ["工单号", "上报时间", "问题类型", "问题来源"],
                     [["A1", "2024-03-15", "河湖四乱", "无人机"]])
    custom = InputSettings(aliases={"issue_id": ("工单号",)},
                           labels={"category": {"河湖四乱": "water"},
                                   "source": {"无人机": "satellite"}})
    record = read_issues(path, settings=custom).records.iloc[0]
    assert (record["issue_id"], record["category"], record["source"]) == (
        "A1", "water", "satellite")


def test_text_stays_data_and_keep_columns_verbatim(tmp_path: Path) -> None:
    header = [*HEADER, "城市标签"]
    row = [*GOOD, "  =SUM(A1) "]
    row[4] = "  <script>alert(1)</script> =1+1 "
    path = write_csv(tmp_path / "k.csv", header, [row])
    result = read_issues(path, settings=InputSettings(keep_columns=("城市标签", "不存在")))
    record = result.records.iloc[0]
    assert record["description"] == "<script>alert(1)</script> =1+1"
    assert record["城市标签"] == "  =SUM(A1) "
    assert pd.isna(record["不存在"])


def test_full_width_coordinates_are_numbers(tmp_path: Path) -> None:
    records = one_row(tmp_path, 经度="１２０.７５", 纬度="３０．７６")
    assert (records.loc[0, "lon"], records.loc[0, "lat"]) == (120.75, 30.76)


def test_coordinate_system_per_row_argument_and_settings(tmp_path: Path) -> None:
    header = ["问题编号", "上报时间", "经度", "纬度", "坐标系"]
    rows = [["A1", "2024-03-15", "120.1", "30.1", "高德"], ["A2", "2024-03-15", "120", "30", ""],
            ["A3", "2024-03-15", "40500000", "3400000", "EPSG:4549"],
            ["A4", "2024-03-15", "120", "30", "百度坐标"]]
    path = write_csv(tmp_path / "c.csv", header, rows)
    assert list(read_issues(path).records["coord_system"]) == ["gcj02", "wgs84", "EPSG:4549",
                                                               "bd09"]
    by_setting = read_issues(path, settings=InputSettings(crs="bd09")).records
    assert by_setting.loc[1, "coord_system"] == "bd09"
    by_argument = read_issues(path, settings=InputSettings(crs="bd09"), crs="cgcs2000").records
    assert by_argument.loc[1, "coord_system"] == "cgcs2000"
    assert by_argument.loc[2, "lon"] == 40500000.0  # numbers are as in the file
    with pytest.raises(CRSError, match="'mars'"):
        read_issues(path, crs="mars")


# --- rejects -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "column", "reason"), [
    ({"问题编号": " "}, "问题编号", "issue_id missing"),
    ({"上报时间": ""}, "上报时间", "reported_at missing"),
    ({"上报时间": "昨天"}, "上报时间",
     "reported_at unreadable: 上报时间 '昨天' is not a date/time"),
    ({"整改期限": "下周"}, "整改期限", "deadline unreadable: 整改期限 '下周' is not a date/time"),
    ({"办结时间": "2024-13-45"}, "办结时间", "closed_at unreadable: 办结时间 '2024-13-45' is not"),
    ({"问题类型": "外星"}, "问题类型",
     "unknown category: 问题类型 '外星' is not a known category (allowed: water, air"),
    ({"问题来源": "梦里"}, "问题来源", "'梦里' is not a known source (allowed: grid_patrol"),
    ({"状态": "搁置"}, "状态", "'搁置' is not a known status (allowed: reported, assigned"),
    ({"经度": "120.5E"}, "经度", "coordinate not a number: 经度 '120.5E' is not a number"),
    ({"纬度": "三十"}, "纬度", "'三十' is not a number"),
    ({"纬度": "30_5"}, "纬度", "'30_5' is not a number"),
    ({"经度": "nan"}, "经度", "'nan' is not a number"),
    ({"坐标系": "mars"}, "坐标系",
     "unknown coordinate system: 坐标系 'mars' is not a known coordinate system (allowed: wgs84"),
    ({"状态": "已办结"}, "状态", "closed without closed_at: status '已办结' means closed but "
                               "there is no closed_at time (办结时间 is empty)"),
    ({"状态": "已销号"}, "状态", "means closed but there is no closed_at time"),
    ({"办结时间": "2024-03-14 23:00"}, "办结时间",
     "closed_at before reported_at: 办结时间 '2024-03-14 23:00' is before 上报时间"),
])
def test_each_reject_reason(tmp_path: Path, changes: dict[str, str], column: str,
                            reason: str) -> None:
    row = dict(zip(HEADER, GOOD, strict=True)) | {"坐标系": ""} | changes
    path = write_csv(tmp_path / "r.csv", list(row), [list(row.values()), [*GOOD, ""]])
    result = read_issues(path)
    assert (result.rows_in, result.accepted, result.rejected) == (2, 1, 1)
    reject = result.rejects.iloc[0]
    assert (reject["file"], reject["row"], reject["column"]) == (str(path), 2, column)
    assert reject["value"] == row[column].strip()
    assert reason in reject["reason"]


def test_closed_without_closed_at_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", ["问题编号", "上报时间", "状态"],
                     [["A1", "2024-03-15", "已办结"], ["A2", "2024-03-15", "整改中"]])
    result = read_issues(path)
    assert result.accepted == 1
    assert "the file has no closed_at column" in result.rejects.loc[0, "reason"]


def test_date_only_closed_at_on_the_report_day_is_not_before(tmp_path: Path) -> None:
    records = one_row(tmp_path, 状态="已办结", 办结时间="2024-03-15")
    assert records.loc[0, "closed_at"] == utc("2024-03-14T16:00")


def test_several_problems_give_one_reject_naming_all(tmp_path: Path) -> None:
    changes = {"问题类型": "外星", "经度": "x", "上报时间": ""}
    records = dict(zip(HEADER, GOOD, strict=True)) | changes
    result = read_issues(write_csv(tmp_path / "m.csv", list(records), [list(records.values())]))
    assert result.rejected == 1
    reject = result.rejects.iloc[0]
    assert reject["column"] == "上报时间"  # the first problem in column order
    assert reject["reason"].count(";") == 2
    assert "外星" in reject["reason"] and "'x' is not a number" in reject["reason"]


def test_duplicates_later_row_wins_within_and_across_files(tmp_path: Path) -> None:
    first = write_csv(tmp_path / "day1.csv", ["问题编号", "上报时间", "状态"],
                      [["A1", "2024-03-15", "已交办"], ["A2", "2024-03-15", "已交办"],
                       ["A1", "2024-03-15", "整改中"], ["A3", "2024-03-15", "已交办"]])
    second = write_csv(tmp_path / "day2.csv", ["编号", "受理时间", "状态"],
                       [["A2", "2024-03-15", "整改中"], ["A3", "bad", "已交办"]])
    result = read_issues([first, second])
    assert result.rows_in == 6
    assert result.duplicates == 2
    assert dict(zip(result.records["issue_id"], result.records["status"], strict=True)) == {
        "A1": "rectifying", "A3": "assigned", "A2": "rectifying"}
    dup = result.rejects[result.rejects["reason"].str.startswith("duplicate")]
    assert list(zip(dup["file"], dup["row"], strict=True)) == [(str(first), 2), (str(first), 3)]
    assert dup.iloc[0]["reason"] == f"duplicate issue_id: 'A1' is superseded by {first} row 4"
    assert dup.iloc[1]["reason"] == f"duplicate issue_id: 'A2' is superseded by {second} row 2"
    # A3's later row is itself rejected, so the earlier good row stays.
    assert result.records.set_index("issue_id").loc["A3", "source_file"] == str(first)
    stats = {s.path: (s.rows_in, s.accepted, s.rejected) for s in result.files}
    assert stats == {str(first): (4, 2, 2), str(second): (2, 1, 1)}


def test_files_read_side_by_side_keep_their_order_and_the_first_error(tmp_path: Path) -> None:
    files = [write_csv(tmp_path / f"d{i:02d}.csv", HEADER,
                       [[f"R{i}-{j}", *GOOD[1:]] for j in range(i + 1)]) for i in range(12)]
    result = read_issues(files)
    expected = [f"R{i}-{j}" for i in range(12) for j in range(i + 1)]
    assert result.records["issue_id"].tolist() == expected
    assert result.records["source_file"].tolist() == [str(files[i]) for i in range(12)
                                                      for _ in range(i + 1)]
    assert [s.accepted for s in result.files] == [i + 1 for i in range(12)]
    broken = [tmp_path / "x05.xlsx", tmp_path / "x09.xlsx"]
    for path in broken:
        path.write_bytes(b"not a workbook")
    mixed = [*files[:5], broken[0], *files[5:9], broken[1], *files[9:]]
    with pytest.raises(InputFileError, match=r"x05\.xlsx"):
        read_issues(mixed)


@pytest.mark.parametrize(("sep", "eol"), [(",", "\n"), ("\t", "\r\n"), (";", "\n")])
def test_a_title_line_without_separators_above_the_header(tmp_path: Path, sep: str,
                                                          eol: str) -> None:
    rows = [HEADER, GOOD, ["GW-002", *GOOD[1:]]]
    text = eol.join(["嘉兴市生态环境问题清单", "", *(sep.join(r) for r in rows)]) + eol
    path = tmp_path / "titled.csv"
    path.write_text(text, encoding="utf-8")
    result = read_issues(path)
    assert result.rejected == 0
    assert result.records["issue_id"].tolist() == ["GW-001", "GW-002"]
    assert result.records["source_row"].tolist() == [4, 5]  # as a spreadsheet numbers them
    assert result.records["lat"].tolist() == [30.76, 30.76]
    assert result.files[0].header_row == 3


def test_progress_reports_rows(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", HEADER, [GOOD] * 3)
    b = write_csv(tmp_path / "b.csv", HEADER, [GOOD] * 2)
    calls: list[tuple[int, int]] = []
    read_issues([a, b], progress=lambda done, total: calls.append((done, total)))
    # files of one layout are checked together, so progress moves once per layout
    assert calls == [(5, 5)]
    c = write_csv(tmp_path / "c.csv", [*HEADER, "备注"], [[*GOOD, "x"]] * 4)
    calls.clear()
    read_issues([a, c, b], progress=lambda done, total: calls.append((done, total)))
    # the total counts the rows of the files read so far: a batch is checked while the files
    # after it are still being read
    assert calls == [(3, 7), (7, 9), (9, 9)]


def test_records_in_issue_id_order_are_the_same_records(tmp_path: Path) -> None:
    rows = [[f"Z{9 - i}", *GOOD[1:]] for i in range(6)]
    rows[2][0] = "Z7"  # a duplicate id: the later row wins, wherever it ends up
    rows[4][1] = "不是时间"  # a rejected row
    path = write_csv(tmp_path / "a.csv", HEADER, rows)
    in_files = read_issues(path)
    by_id = read_issues(path, by_issue_id=True)
    assert by_id.records["issue_id"].tolist() == sorted(in_files.records["issue_id"])
    pd.testing.assert_frame_equal(
        by_id.records,
        in_files.records.sort_values("issue_id").reset_index(drop=True))
    pd.testing.assert_frame_equal(by_id.rejects, in_files.rejects)
    assert (by_id.rows_in, by_id.duplicates) == (in_files.rows_in, in_files.duplicates)


def test_files_of_one_layout_are_checked_in_batches_of_about_batch_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gridwatch.ingest import records as records_module

    files = [write_csv(tmp_path / f"{name}.csv", HEADER,
                       [[f"{name}{i}", *GOOD[1:]] for i in range(n)])
             for name, n in (("a", 3), ("b", 2), ("c", 3), ("d", 1))]
    whole = read_issues(files)
    monkeypatch.setattr(records_module, "BATCH_ROWS", 3)
    calls: list[tuple[int, int]] = []
    batched = read_issues(files, progress=lambda done, total: calls.append((done, total)))
    assert [done for done, _ in calls] == [3, 8, 9]  # a | b c | d: a file is never split
    assert calls[-1] == (9, 9)
    pd.testing.assert_frame_equal(batched.records, whole.records)
    pd.testing.assert_frame_equal(batched.rejects, whole.rejects)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.lists(st.tuples(st.sampled_from(["A1", "A2", "B7", "b7", "A10"]),
                                         st.booleans()), max_size=6),
                      min_size=1, max_size=4),
       batch_rows=st.sampled_from([1, 3, 200_000]), by_issue_id=st.booleans())
def test_a_later_kept_row_wins_a_repeated_id_as_a_plain_walk_through_the_rows_says(
        tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
        files: list[list[tuple[str, bool]]], batch_rows: int, by_issue_id: bool) -> None:
    """Superseded rows (one sort of the kept ids, over batches of any size) against the
    reference: walk the rows in the files' order; a readable row replaces the one kept for
    its id before it, which becomes a duplicate reject naming it."""
    from gridwatch.ingest import records as records_module

    monkeypatch.setattr(records_module, "BATCH_ROWS", batch_rows)
    folder = tmp_path_factory.mktemp("later")
    paths = [write_csv(folder / f"day{i}.csv", ["问题编号", "上报时间"],
                       [[issue_id, "2024-03-15" if good else "bad"] for issue_id, good in rows])
             for i, rows in enumerate(files)]
    kept: dict[str, tuple[str, int]] = {}
    duplicates: list[tuple[str, int, str]] = []
    for path, rows in zip(paths, files, strict=True):
        for row, (issue_id, good) in enumerate(rows, start=2):
            if good:
                if issue_id in kept:
                    duplicates.append((*kept[issue_id], issue_id))
                kept[issue_id] = (str(path), row)
    winner_of = {(f, r): kept[i] for f, r, i in duplicates}
    result = read_issues(paths, by_issue_id=by_issue_id)
    expected = sorted(kept.items()) if by_issue_id else sorted(
        kept.items(), key=lambda item: (paths.index(Path(item[1][0])), item[1][1]))
    got = list(zip(result.records["issue_id"],
                   zip(result.records["source_file"], result.records["source_row"], strict=True),
                   strict=True))
    assert got == expected
    assert result.duplicates == len(duplicates)
    dup = result.rejects[result.rejects["reason"].str.startswith("duplicate")]
    assert sorted(zip(dup["file"], dup["row"], strict=True)) == sorted(
        (f, r) for f, r, _ in duplicates)
    for file, row, reason in zip(dup["file"], dup["row"], dup["reason"], strict=True):
        won_file, won_row = winner_of[(file, row)]
        issue_id = next(i for f, r, i in duplicates if (f, r) == (file, row))
        assert reason == (f"duplicate issue_id: {issue_id!r} is superseded by {won_file} "
                          f"row {won_row}")
    assert [s.accepted for s in result.files] == [
        sum(1 for f, _ in kept.values() if f == str(path)) for path in paths]


def test_files_of_one_layout_keep_their_own_names_and_rows(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", HEADER, [GOOD] * 2)
    b = write_csv(tmp_path / "b.csv", HEADER, [GOOD])
    result = read_issues([a, b])
    pairs = list(zip(result.records["source_file"], result.records["source_row"], strict=True))
    assert (str(b), 2) in pairs and (str(a), 3) not in pairs  # duplicate id: b's row won
    assert {s.path: s.rows_in for s in result.files} == {str(a): 2, str(b): 1}


# --- row accounting over messy files -----------------------------------------------------------

HEADER_VARIANTS = {
    "issue_id": ["问题编号", "事件编号", "ISSUE_ID", "Issue Id", "ｉｄ", " 编号 "],
    "reported_at": ["上报时间", "发现时间", "Reported At", "ＲＥＰＯＲＴＥＤ＿ＡＴ"],
    "category": ["问题类型", "类别", "Category"],
    "status": ["状态", "办理状态", "STATUS"],
    "lon": ["经度", "LON", "Longitude"],
    "lat": ["纬度", "lat", "LATITUDE"],
    "closed_at": ["办结时间", "closed at"],
    "coord_system": ["坐标系", "CRS"],
}
VALUES = {
    "issue_id": st.sampled_from(["A1", "A2", "A3", "B-7", "问题9", "", " ", "A1 "]),
    "reported_at": st.sampled_from(["2024-03-15 08:00", "2024/3/15", "2024年3月15日", "45366.5",
                                    "2024-03-15T08:00:00+08:00", "", "坏", "2024-02-30"]),
    "category": st.sampled_from(["水污染", "大气", "air", "", "外星", "ＷＡＴＥＲ"]),
    "status": st.sampled_from(["整改中", "已办结", "已销号", "", "搁置", "open"]),
    "lon": st.sampled_from(["120.7", "", "abc", "1e400", "-0", "120"]),
    "lat": st.sampled_from(["30.7", "", "北纬30", "30"]),
    "closed_at": st.sampled_from(["", "2024-03-16 09:00", "2024-03-01", "不详"]),
    "coord_system": st.sampled_from(["", "GCJ-02", "百度", "mars", "EPSG:4549"]),
}


@st.composite
def messy_files(draw: st.DrawFn) -> tuple[list[str], list[list[str]], str]:
    optional = [c for c in HEADER_VARIANTS if c not in ("issue_id", "reported_at")]
    columns = ["issue_id", "reported_at", *draw(st.lists(st.sampled_from(optional),
                                                          unique=True))]
    columns = draw(st.permutations(columns))
    header = [draw(st.sampled_from(HEADER_VARIANTS[c])) for c in columns]
    rows = draw(st.lists(st.tuples(*(VALUES[c] for c in columns)).map(list), max_size=25))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk"]))
    return header, rows, encoding


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(messy_files(), min_size=1, max_size=3))
def test_every_row_is_accepted_or_rejected_exactly_once(
        tmp_path: Path, files: list[tuple[list[str], list[list[str]], str]]) -> None:
    paths = []
    for i, (header, rows, encoding) in enumerate(files):
        # A row of only blanks is not a row (like an empty spreadsheet row): make each non-blank.
        rows = [[*r[:-1], "x"] if not any(v.strip() for v in r) else r for r in rows]
        rows = [[f'"{v}"' if "," in v else v for v in r] for r in rows]
        paths.append(write_csv(tmp_path / f"messy{i}.csv", header, rows, encoding=encoding))
    result = read_issues(paths)
    expected_rows = sum(len(rows) for _h, rows, _e in files)
    assert result.rows_in == expected_rows == result.accepted + result.rejected
    seen = list(zip(result.records["source_file"], result.records["source_row"], strict=True))
    seen += list(zip(result.rejects["file"], result.rejects["row"], strict=True))
    expected = [(str(p), n) for p, (_h, rows, _e) in zip(paths, files, strict=True)
                for n in range(2, len(rows) + 2)]
    assert sorted(seen) == sorted(expected)
    assert result.records["issue_id"].is_unique
    assert result.records["issue_id"].notna().all()
    assert result.records["reported_at"].notna().all()
    closed = result.records["status"].isin(["closed", "verified"])
    assert result.records.loc[closed, "closed_at"].notna().all()
    assert (result.rejects["reason"].str.len() > 0).all()
    assert sum(f.rows_in for f in result.files) == result.rows_in
    assert sum(f.accepted for f in result.files) == result.accepted


def test_concat_rejects_orders_files_as_read_then_rows() -> None:
    from gridwatch.schema import REJECT_COLUMNS, concat_rejects, empty_rejects

    def frame(file: str, rows: list[int]) -> pd.DataFrame:
        return pd.DataFrame({"file": file, "row": rows, "column": "c", "value": "v",
                             "reason": "r", "extra": 1})

    joined = concat_rejects(frame("b", [5, 2]), None, empty_rejects(), frame("a", [3]),
                            frame("c", [1]), file_order=np.array(["c", "a"], dtype=object))
    assert list(joined.columns) == list(REJECT_COLUMNS)
    assert list(zip(joined["file"], joined["row"], strict=True)) == [
        ("c", 1), ("a", 3), ("b", 2), ("b", 5)]
    assert joined.dtypes.to_dict() == empty_rejects().dtypes.to_dict()
    assert concat_rejects().dtypes.to_dict() == empty_rejects().dtypes.to_dict()


def test_a_zip_of_gz_members_is_limited_by_what_it_unpacks_to(tmp_path: Path) -> None:
    """Declared sizes are those of the .gz members: the limit counts the unpacked bytes of all
    members together."""
    path = write_csv(tmp_path / "a.csv", HEADER, [GOOD] * 400)  # about 30 KB unpacked
    packed = gzip.compress(path.read_bytes())
    with zipfile.ZipFile(tmp_path / "day.zip", "w") as archive:
        for i in range(3):
            archive.writestr(f"part{i}.csv.gz", packed)
    limit = InputSettings(max_file_mb=len(path.read_bytes()) * 2.5 / 1048576)
    with pytest.raises(InputFileError, match="uncompressed, the max_file_mb limit"):
        read_issues(tmp_path / "day.zip", settings=limit)
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        for i in range(2):
            archive.writestr(f"part{i}.csv.gz", gzip.compress(
                path.read_bytes().replace(b"A1", f"B{i}".encode())))
    assert read_issues(tmp_path / "two.zip", settings=limit).rows_in == 800


# --- limits on rows and columns ----------------------------------------------------------------

def write_xlsx(path: Path, rows: list[list[object]], *,
               stray: tuple[int, int] | None = None) -> Path:
    """An XLSX of ``rows``; ``stray`` = (row, column) gets one more value, ``"x"``."""
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    if stray is not None:
        book.active.cell(row=stray[0], column=stray[1], value="x")
    book.save(path)
    return path


def table_rows(n: int) -> list[list[str]]:
    return [[f"R{i}", *GOOD[1:]] for i in range(n)]


def test_a_stray_cell_in_column_xfd_below_the_header_rows_is_not_read(tmp_path: Path) -> None:
    # Before: every row was widened to 16,384 cells (about 0.4 MB a row for a 21 KB file).
    from gridwatch.ingest._readers import read_tables

    path = write_xlsx(tmp_path / "xfd.xlsx", [HEADER, *table_rows(30)], stray=(25, 16384))
    (table,) = read_tables(path)
    assert table.frame.shape == (30, len(HEADER))
    result = read_issues(path)
    assert (result.rows_in, result.accepted) == (30, 30)
    assert result.files[0].unmapped == []


def test_a_stray_cell_in_column_xfd_of_the_header_rows_is_an_input_error(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "xfd.xlsx", [HEADER, *table_rows(30)], stray=(3, 16384))
    with pytest.raises(InputFileError, match=r"xfd.xlsx': it has 16,384 columns \(row 3 has a "
                       r"value in column XFD: .*max_columns limit of 200 \(raise \[input\] "
                       r"max_columns"):
        read_issues(path)
    assert read_issues(path, settings=InputSettings(max_columns=16384)).accepted == 30


def _csv(path: Path, rows: list[list[str]]) -> Path:
    return write_csv(path, HEADER, rows)


def _csv_blank_line(path: Path, rows: list[list[str]]) -> Path:  # read by pandas, not pyarrow
    write_csv(path, HEADER, rows)
    path.write_text(path.read_text(encoding="utf-8").replace("\nR1,", "\n\nR1,"),
                    encoding="utf-8")
    return path


def _csv_ragged(path: Path, rows: list[list[str]]) -> Path:  # a row with an unquoted comma
    return write_csv(path, HEADER, [[*rows[0][:4], "漂浮物,油污", *rows[0][5:]], *rows[1:]])


def _tsv_gz(path: Path, rows: list[list[str]]) -> Path:
    plain = write_csv(path.with_suffix(""), HEADER, rows, sep="\t")
    path.write_bytes(gzip.compress(plain.read_bytes()))
    return path


def _xlsx(path: Path, rows: list[list[str]]) -> Path:
    return write_xlsx(path, [HEADER, *rows])


def _json(path: Path, rows: list[list[str]]) -> Path:
    path.write_text(json.dumps([dict(zip(HEADER, r, strict=True)) for r in rows],
                               ensure_ascii=False), encoding="utf-8")
    return path


def _geojson(path: Path, rows: list[list[str]]) -> Path:
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.7, 30.7]},
                 "properties": dict(zip(HEADER, r, strict=True))} for r in rows]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                               ensure_ascii=False), encoding="utf-8")
    return path


def _zip_of_two(path: Path, rows: list[list[str]]) -> Path:  # each member under the limit
    half = len(rows) // 2
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(_csv(path.with_name("a.csv"), rows[:half]), "a.csv")
        archive.write(_xlsx(path.with_name("b.xlsx"), rows[half:]), "b.xlsx")
    return path


@pytest.mark.parametrize(("name", "write", "lines"), [
    ("day.csv", _csv, 30), ("blank.csv", _csv_blank_line, 31), ("ragged.csv", _csv_ragged, 30),
    ("day.tsv.gz", _tsv_gz, 30), ("day.xlsx", _xlsx, 30), ("day.json", _json, 30),
    ("day.geojson", _geojson, 30), ("day.zip", _zip_of_two, 30),
])
def test_more_rows_than_max_rows_is_an_input_error(tmp_path: Path, name: str, write,
                                                   lines: int) -> None:
    """30 rows (a CSV's blank line between rows counts: it is read as a row, then dropped)."""
    path = write(tmp_path / name, table_rows(30))
    with pytest.raises(InputFileError, match=rf"{name}' has more than {lines - 1} rows.*the "
                       r"max_rows limit \(raise \[input\] max_rows"):
        read_issues(path, settings=InputSettings(max_rows=lines - 1))
    assert read_issues(path, settings=InputSettings(max_rows=lines)).rows_in == 30


def test_xlsx_reading_stops_at_max_rows(tmp_path: Path) -> None:
    """Rows past the limit are never parsed: a broken cell there is not reached."""
    path = write_xlsx(tmp_path / "long.xlsx", [HEADER, *table_rows(30), ["R30", "x", 1.5]])
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path) as good, zipfile.ZipFile(broken, "w") as out:
        for item in good.infolist():
            data = good.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<v>1.5</v>", b"<v>not a number</v>")
            out.writestr(item, data)
    with pytest.raises(InputFileError, match="cannot read the first sheet"):
        read_issues(broken)
    with pytest.raises(InputFileError, match="more than 20 rows"):
        read_issues(broken, settings=InputSettings(max_rows=20))


def test_csv_reading_stops_at_max_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast reader pulls blocks only until the limit is passed."""
    import pyarrow.csv as pacsv

    path = write_csv(tmp_path / "long.csv", HEADER, table_rows(40_000))  # about 3 MB
    pulled: list[int] = []
    open_csv = pacsv.open_csv

    class Counted:
        def __init__(self, *args: object, **kwargs: object) -> None:
            self.reader = open_csv(*args, **kwargs)
            self.schema = self.reader.schema

        def __iter__(self):
            for batch in self.reader:
                pulled.append(batch.num_rows)
                yield batch

    monkeypatch.setattr(pacsv, "open_csv", Counted)
    with pytest.raises(InputFileError, match="more than 1,000 rows"):
        read_issues(path, settings=InputSettings(max_rows=1000))
    assert 1000 < sum(pulled) < 20_000
    pulled.clear()
    assert read_issues(path).rows_in == sum(pulled) == 40_000


def test_json_records_with_keys_of_their_own_are_limited_by_max_columns(tmp_path: Path) -> None:
    # Before: 300 records with a key each made a table of 300 x 302 cells (and 100,000 such
    # records, 10^10 cells).
    records = [{"问题编号": f"J{i}", "上报时间": "2024-03-15 08:00", f"备注{i}": "x"}
               for i in range(300)]
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(InputFileError, match=r"keys.json': it has 302 columns \(the keys of all "
                       r"its records together\), more than the max_columns limit of 200"):
        read_issues(path)
    assert read_issues(path, settings=InputSettings(max_columns=302)).accepted == 300


def test_a_csv_header_wider_than_max_columns_is_an_input_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "wide.csv", [*HEADER, *(f"c{i}" for i in range(300))],
                     [[*GOOD, *([""] * 300)]])
    with pytest.raises(InputFileError, match=r"wide.csv': it has 310 columns, more than the "
                       r"max_columns limit of 200"):
        read_issues(path)
    assert read_issues(path, settings=InputSettings(max_columns=310)).accepted == 1


def test_an_xlsx_with_an_empty_first_sheet_says_so_once(tmp_path: Path) -> None:
    # Before: "cannot read the first sheet of 'empty.xlsx': input file 'empty.xlsx' is empty ..."
    import openpyxl

    book = openpyxl.Workbook()
    book.create_sheet("data").append(HEADER)
    book.save(tmp_path / "empty.xlsx")
    with pytest.raises(InputFileError, match=r"^input file '[^']*empty.xlsx' is empty \(its "
                       r"first sheet has no rows\)$"):
        read_issues(tmp_path / "empty.xlsx")


def test_utf16_text_as_excel_saves_it_is_read_when_its_encoding_is_set(tmp_path: Path) -> None:
    """Excel's "Unicode text" is UTF-16 with tabs: its line ends are not the byte 0x0A."""
    path = write_csv(tmp_path / "unicode.txt", HEADER, [GOOD, ["GW-002", *GOOD[1:]]],
                     encoding="utf-16", sep="\t")
    result = read_issues(path, settings=InputSettings(encoding="utf-16"))
    assert (result.rows_in, result.accepted) == (2, 2)
    assert result.files[0].encoding == "utf-16"
    assert result.records["lon"].tolist() == [120.75, 120.75]

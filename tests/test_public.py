"""The public progress list (整改公示): names, phone and ID-card numbers fed in every text
column never reach the HTML or XLSX; the figures match a count made here."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import grid_cell_centre
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from gridwatch.access import Scope, add_user
from gridwatch.cli import main
from gridwatch.config import load_config
from gridwatch.errors import ConfigError
from gridwatch.output.public import mask_identifiers, parse_public_settings, public_list
from gridwatch.schema import TEXT_COLUMNS
from gridwatch.store import Store

NAMES = ("张三丰", "李四光", "王五", "赵六", "钱七")
PHONES = ("13812345678", "159-8765-4321", "0573-82345678", "+86 137 0000 1111")
IDS = ("330402198001011234", "11010119900307451X", "330402800101123")
SECRETS = (*NAMES, *PHONES, *IDS, "中环南路1369号")


def _hostile(i: int) -> str:
    return (f"{NAMES[i % 5]}反映，电话{PHONES[i % 4]}，身份证{IDS[i % 3]}，"
            f"地址中环南路1369号 <script>alert({i})</script> =1+{i}")


def _tokens(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def _xlsx_text(path: Path) -> str:
    book = openpyxl.load_workbook(path)
    return "\n".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows()
                     for c in row if c.value is not None)


def test_identifiers_are_masked():
    for value in (*PHONES, *IDS):
        assert mask_identifiers(f"甲{value}乙") == "甲***乙", value
    assert mask_identifiers("2026-10-31 整改完成 3 处") == "2026-10-31 整改完成 3 处"


def test_settings_refuse_unknown_columns():
    assert parse_public_settings({"columns": ["responsible_unit"]}).columns == \
        ("responsible_unit",)
    with pytest.raises(ConfigError, match="cannot be published"):
        parse_public_settings({"columns": ["photo_after"]})


@pytest.fixture
def city(small_project: Path, store_url: str, tmp_path: Path):
    """Twelve problems in the grid cells of ``small_project`` and two far away, every text
    column hostile, ingested through the CLI."""
    rows = []
    points = [grid_cell_centre(c % 3, c // 3) for c in range(9)] + [(120.95, 30.60)] * 3 \
        + [(120.52, 30.62)] * 2
    statuses = ["整改中", "已办结", "已交办", "已销号"]
    for i, (lon, lat) in enumerate(points):
        closed = statuses[i % 4] in ("已办结", "已销号")
        rows.append({"问题编号": f"JX-{i:03d}", "上报时间": "2026-09-01 09:00",
                     "问题类型": ["水污染", "大气", "固废"][i % 3], "问题来源": "群众举报",
                     "问题描述": _hostile(i), "经度": lon, "纬度": lat, "坐标系": "wgs84",
                     "地址": _hostile(i + 1), "状态": statuses[i % 4],
                     "整改期限": "2026-09-30" if i % 2 else "2026-10-15",
                     "办结时间": "2026-09-20 16:00" if closed else "",
                     "责任单位": _hostile(i + 2), "严重程度": _hostile(i + 3),
                     "任务类型": _hostile(i + 4), "整改任务编号": _hostile(i + 5),
                     "整改前照片": f"{NAMES[i % 5]}_{PHONES[0]}.jpg",
                     "整改后照片": f"{IDS[0]}.jpg",
                     "统一社会信用代码": _hostile(i + 6), "企业名称": _hostile(i + 7),
                     "交办批次": _hostile(i + 8), "专项行动": _hostile(i + 9)})
    frame = pd.DataFrame(rows)
    # every text column of the canonical record is fed (the check that the fixture does so)
    path = tmp_path / "problems.csv"
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    result = CliRunner().invoke(main, ["ingest", str(path), "--config", str(small_project),
                                       "--db", store_url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Store(store_url) as store:
        stored = store.issues()
        add_user(store, "county_a", role="supervisor", scope=Scope.parse("county:330402"),
                 password="s3cret-password", actor="test")
    fed = [c for c in TEXT_COLUMNS if c != "reported_grid"]
    for column in fed:
        assert stored[column].astype("str").str.contains("|".join(SECRETS[:5])).any() or \
            column.startswith("photo"), column
    counties = gpd.read_file(load_config(small_project).layer("county").path)
    return small_project, store_url, frame, counties


def _expected_in(frame: pd.DataFrame, counties: gpd.GeoDataFrame, adcode: str) -> int:
    """Problems inside the county, by a plain point-in-polygon in GCJ-02 (the layer's
    system): the points are WGS84, so shift them first."""
    from gridwatch.placing.coords import wgs84_to_gcj02

    shape = counties.loc[counties["adcode"].astype(str) == adcode].geometry.iloc[0]
    x, y = wgs84_to_gcj02(frame["经度"].to_numpy(float), frame["纬度"].to_numpy(float))
    return sum(shape.contains(Point(a, b)) for a, b in zip(x, y, strict=True))


def test_public_list_leaks_nothing(city, tmp_path):
    config, url, frame, counties = city
    expected = _expected_in(frame, counties, "330402")
    assert 0 < expected < len(frame)
    outputs = {}
    for user in (None, "county_a"):
        for ext in ("html", "xlsx"):
            out = tmp_path / f"{user}.{ext}"
            args = ["export", "public", "--area", "county:330402", "--as-of", "2026-10-01",
                    "--out", str(out), "--config", str(config), "--db", url]
            if user:
                args += ["--as-user", user]
            result = CliRunner().invoke(main, args, catch_exceptions=False)
            assert result.exit_code == 0, result.output
            assert f"wrote {expected} problems" in result.output
            outputs[user, ext] = out.read_text(encoding="utf-8") if ext == "html" \
                else _xlsx_text(out)
    for key, text in outputs.items():
        assert _tokens(text) == [], key
        assert "<script>" not in text and "JX-0" not in text, key
    html = outputs[None, "html"]
    assert html.count("<tr>") == expected + 1
    # overdue on 1 October: open with a deadline of 30 September
    sub = frame.assign(n=range(len(frame)))
    open_late = sum(1 for i in range(len(frame)) if i % 2 and frame["状态"][i] in
                    ("整改中", "已交办") and i < 9 and _expected_in(sub.iloc[[i]], counties,
                                                                  "330402"))
    assert html.count("已超期") == open_late
    # the county user is refused another county
    result = CliRunner().invoke(main, ["export", "public", "--area", "county:330411", "--out",
                                       str(tmp_path / "x.html"), "--config", str(config),
                                       "--db", url, "--as-user", "county_a"])
    assert result.exit_code == 1 and "no problem" in result.output


def test_allowed_columns_keep_identifiers_masked(city, tmp_path):
    config, url, _, _ = city
    text = Path(config).read_text(encoding="utf-8")
    Path(config).write_text(text + '\n[public]\ncolumns = ["description", '
                            '"responsible_unit"]\n', encoding="utf-8")
    for ext in ("html", "xlsx"):
        out = tmp_path / f"allowed.{ext}"
        result = CliRunner().invoke(main, ["export", "public", "--out", str(out), "--config",
                                           str(config), "--db", url], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        said = out.read_text(encoding="utf-8") if ext == "html" else _xlsx_text(out)
        assert [t for t in _tokens(said) if t in (*PHONES, *IDS)] == []
        assert "张三丰" in said  # a name in an allowed free-text column is published
        if ext == "html":
            assert "&lt;script&gt;" in said and "<script>" not in said
        else:
            book = openpyxl.load_workbook(out)
            values = [c.value for row in book.active.iter_rows() for c in row]
            assert not any(isinstance(v, str) and v.startswith("=") for v in values)


def test_public_list_by_hand():
    issues = pd.DataFrame({
        "category": ["water", "air", "noise"], "status": ["rectifying", "closed", "assigned"],
        "deadline": pd.to_datetime(["2026-09-30 15:59:59", "2026-09-01 00:00:00",
                                    "2026-12-01 00:00:00"], utc=True),
        "closed_at": pd.to_datetime([None, "2026-09-05 01:00", None], utc=True),
        "description": ["x", "y", "z"]})
    places = pd.Series(["新兴街道", "东栅街道", None])
    table = public_list(issues, places, timezone="Asia/Shanghai",
                        as_of=pd.Timestamp("2026-10-01", tz="Asia/Shanghai"))
    assert list(table.columns) == ["序号", "问题类别", "所在镇街", "整改期限", "整改状态",
                                   "是否超期", "办结日期"]
    rows = json.loads(table.to_json(orient="records", force_ascii=False))
    assert [r["所在镇街"] for r in rows] == ["—", "东栅街道", "新兴街道"]
    assert rows[1] == {"序号": 2, "问题类别": "大气污染", "所在镇街": "东栅街道",
                       "整改期限": "2026-09-01", "整改状态": "已办结", "是否超期": "超期办结",
                       "办结日期": "2026-09-05"}
    assert rows[2]["是否超期"] == "已超期" and rows[2]["整改期限"] == "2026-09-30"


_FILLER = st.text(alphabet="的问题河道整改镇街路号反映，。 ()abcXYZ", max_size=12)
_MOBILE = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
_ID18 = st.builds(lambda area, year, month, day, seq, check: (
    f"{area}{year}{month:02d}{day:02d}{seq:03d}{check}"),
    st.from_regex(r"[1-9][0-9]{5}", fullmatch=True), st.integers(1930, 2020),
    st.integers(1, 12), st.integers(1, 28), st.integers(0, 999),
    st.sampled_from("0123456789X"))


@settings(max_examples=200, deadline=None)
@given(before=_FILLER, after=_FILLER, secret=st.one_of(_MOBILE, _ID18))
def test_numbers_in_any_text_are_masked(before: str, after: str, secret: str) -> None:
    issues = pd.DataFrame({"category": ["water"], "status": ["rectifying"],
                           "deadline": pd.to_datetime(["2026-10-01 00:00:00"], utc=True),
                           "closed_at": pd.to_datetime([None], utc=True),
                           "description": [f"{before}{secret}{after}"],
                           "responsible_unit": [f"{secret}{after}"]})
    table = public_list(issues, pd.Series(["镇"]), timezone="Asia/Shanghai",
                        as_of=pd.Timestamp("2026-10-02", tz="UTC"),
                        allow=("description", "responsible_unit"))
    assert secret not in table.to_csv()

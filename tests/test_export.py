"""Tests of gridwatch.output.files: neutralising formulas, CSV/XLSX, GPKG/GeoJSON, Shapefile,
KML."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import defusedxml.ElementTree as DET
import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.errors import ConfigError, CRSError
from gridwatch.output.files import (
    FORMULA_PREFIXES,
    export_issues,
    neutralise_formulas,
    read_zipped_shapefile,
    write_layer,
    write_table,
    write_workbook,
)
from gridwatch.output.kml import _geometries_xml, _geometry_xml, kml_colour
from gridwatch.output.palette import BIN_COLOURS
from gridwatch.output.shapefile import FIELD_MAP_NAME, short_field_names
from gridwatch.schema import CANONICAL_COLUMNS

KML_NS = {"k": "http://www.opengis.net/kml/2.2"}
XSS = "<img src=x onerror=alert(1)>"
HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+1",
    "-cmd",
    "@SUM(A1:A9)",
    "\tcalc",
    "\rcalc",
]


@pytest.fixture
def hostile_table() -> pd.DataFrame:
    n = len(HOSTILE)
    return pd.DataFrame({
        "问题描述": HOSTILE,
        "amount": [-5, -1, 0, 2, 3, -7],
        "ratio": [-0.5, 1.25, -3.0, 0.0, 2.5, -9.75],
        "reported_at": pd.to_datetime(["2024-03-15 00:30:00Z"] * n, utc=True),
        "ok": ["正常", "plain text", "a=b", "x-y", "mail@x", "中文"],
    })


# --- neutralise_formulas -------------------------------------------------------------------


def test_neutralise_prefixes_each_hostile_text(hostile_table: pd.DataFrame) -> None:
    out = neutralise_formulas(hostile_table)
    assert out["问题描述"].tolist() == ["'" + v for v in HOSTILE]
    assert out["ok"].tolist() == hostile_table["ok"].tolist()
    pd.testing.assert_series_equal(out["amount"], hostile_table["amount"])
    pd.testing.assert_series_equal(out["ratio"], hostile_table["ratio"])
    assert hostile_table["问题描述"].iloc[0] == HOSTILE[0]  # the input is not changed


def test_neutralise_object_categorical_and_headers() -> None:
    frame = pd.DataFrame({
        "mixed": pd.Series(["=1+1", -3, None, "ok"], dtype=object),
        "cat": pd.Categorical(["@x", "y", "@x", "y"]),
        "=evil": [1, 2, 3, 4],
    })
    out = neutralise_formulas(frame)
    assert out["mixed"].tolist()[:2] == ["'=1+1", -3]
    assert out["mixed"].tolist()[3] == "ok"
    assert out["cat"].tolist() == ["'@x", "y", "'@x", "y"]
    assert list(out.columns) == ["mixed", "cat", "'=evil"]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=30))
def test_neutralise_property(text: str) -> None:
    out = neutralise_formulas(pd.DataFrame({"t": pd.Series([text], dtype="str")}))["t"].iloc[0]
    if text.startswith(FORMULA_PREFIXES):
        assert out == "'" + text
    else:
        assert out == text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=10))
def test_neutralise_leaves_numbers(values: list[float]) -> None:
    frame = pd.DataFrame({"x": values, "i": [int(v) if abs(v) < 1e15 else -1 for v in values]})
    pd.testing.assert_frame_equal(neutralise_formulas(frame), frame)


# --- write_table ---------------------------------------------------------------------------


def test_csv_has_bom_text_cells_and_local_times(hostile_table: pd.DataFrame,
                                                tmp_path: Path) -> None:
    path = write_table(hostile_table, tmp_path / "list.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(back.columns) == list(hostile_table.columns)
    assert back["问题描述"].tolist() == ["'" + v for v in HOSTILE]
    assert all(not v.startswith(FORMULA_PREFIXES) for v in back["问题描述"])
    # negative numbers stay numbers: written without a quote and parse as numbers
    assert back["amount"].tolist() == ["-5", "-1", "0", "2", "3", "-7"]
    assert pd.to_numeric(back["ratio"]).tolist() == hostile_table["ratio"].tolist()
    assert set(back["reported_at"]) == {"2024-03-15 08:30:00"}


_CELL_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"))
                     | st.sampled_from("\t\r\n=+-@'\"，"), max_size=20)


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(_CELL_TEXT, min_size=1, max_size=5))
def test_csv_round_trip_property(texts: list[str]) -> None:
    """Any text comes back from the CSV exactly as neutralised, one row per value."""
    frame = pd.DataFrame({"描述": texts, "n": range(len(texts))})
    with tempfile.TemporaryDirectory() as tmp:
        path = write_table(frame, Path(tmp) / "p.csv")
        back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["描述"].tolist() == neutralise_formulas(frame)["描述"].tolist()
    assert back["n"].tolist() == [str(i) for i in range(len(texts))]


def test_xlsx_cells_are_strings_not_formulas(hostile_table: pd.DataFrame, tmp_path: Path) -> None:
    path = write_table(hostile_table, tmp_path / "list.xlsx", sheet_name="巡查清单")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["巡查清单"]
    sheet = book["巡查清单"]
    header = [c.value for c in sheet[1]]
    assert header == list(hostile_table.columns)
    for row in range(2, len(HOSTILE) + 2):
        text = sheet.cell(row=row, column=1)
        assert text.data_type == "s"
        # XlsxWriter stores CR as the OOXML escape _x000D_ (Excel shows a CR); openpyxl keeps it
        assert text.value.replace("_x000D_", "\r") == "'" + HOSTILE[row - 2]
        amount = sheet.cell(row=row, column=2)
        assert amount.data_type == "n"
        assert amount.value == hostile_table["amount"].iloc[row - 2]
        assert sheet.cell(row=row, column=3).value == hostile_table["ratio"].iloc[row - 2]
        assert sheet.cell(row=row, column=4).value == pd.Timestamp("2024-03-15 08:30:00")
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert sheet.freeze_panes == "A2"


def test_xlsx_times_in_other_zone(tmp_path: Path) -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2024-07-01 12:00:00Z"], utc=True)})
    path = write_table(frame, tmp_path / "ny.xlsx", timezone="America/New_York")
    assert openpyxl.load_workbook(path).active["A2"].value == pd.Timestamp("2024-07-01 08:00")


def test_write_table_geodataframe_gets_wkt(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["南湖"]}, geometry=[shapely.Point(120.75, 30.75)],
                           crs="EPSG:4326")
    back = pd.read_csv(write_table(gdf, tmp_path / "g.csv"), encoding="utf-8-sig")
    assert back.to_dict("records") == [{"name": "南湖", "wkt": "POINT (120.75 30.75)"}]


@pytest.mark.parametrize("name", ["out.txt", "out", "out.xls"])
def test_write_table_unknown_extension(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.csv, \.xlsx"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / name)


def test_write_table_bad_format_and_timezone(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"format='pdf'.*csv, xlsx"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "a.csv", format="pdf")
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "a.csv", timezone="Mars/Olympus")


def test_write_table_format_overrides_extension(tmp_path: Path) -> None:
    path = write_table(pd.DataFrame({"a": [1]}), tmp_path / "a.dat", format="xlsx")
    assert zipfile.is_zipfile(path)


def test_workbook_sheet_names_are_valid_and_distinct(tmp_path: Path) -> None:
    long_name = "嘉兴市南湖区各镇街道网格环境问题月度复盘统计表格汇总第一部分按类别来源区域排列"
    sheets = {
        "a/b:c*?[d]": pd.DataFrame({"x": ["=1"]}),
        long_name: pd.DataFrame({"x": [1]}),
        long_name + "二": pd.DataFrame({"x": [2]}),
        "History": pd.DataFrame({"x": [3]}),
    }
    book = openpyxl.load_workbook(write_workbook(sheets, tmp_path / "review.xlsx"))
    names = book.sheetnames
    assert len(names) == 4 and len({n.casefold() for n in names}) == 4
    assert names[0] == "a_b_c___d_"
    assert all(len(n) <= 31 for n in names)
    assert names[1] == long_name[:31]
    assert names[2].endswith("~2")
    assert names[3] != "History"
    assert book[names[0]]["A2"].value == "'=1"
    assert book[names[0]]["A2"].data_type == "s"


def test_workbook_needs_sheets_and_xlsx(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sheets is empty"):
        write_workbook({}, tmp_path / "a.xlsx")
    with pytest.raises(ConfigError, match=r"\.xlsx"):
        write_workbook({"a": pd.DataFrame()}, tmp_path / "a.csv")


# --- layers --------------------------------------------------------------------------------


@pytest.fixture
def areas() -> gpd.GeoDataFrame:
    """Seven squares near Jiaxing, one per Gi* bin, with Chinese and hostile attributes."""
    outer = shapely.box(120.70, 30.70, 120.80, 30.80)
    holed = shapely.Polygon(outer.exterior.coords, [shapely.box(120.74, 30.74, 120.76, 30.76)
                                                    .exterior.coords])
    geoms = [holed] + [shapely.box(120.8 + i / 10, 30.7, 120.9 + i / 10, 30.8) for i in range(5)]
    geoms.append(shapely.MultiPolygon([shapely.box(121.5, 30.7, 121.55, 30.75),
                                       shapely.box(121.6, 30.7, 121.65, 30.75)]))
    return gpd.GeoDataFrame({
        "area_id": [f"33040{i}" for i in range(7)],
        "area_name": ["南湖区", "秀洲区", "嘉善县", "海盐县", "海宁市", "平湖市", "桐乡市 & 乌镇"],
        "逾期问题数": [12, 0, 3, 5, 1, 8, 2],
        "overdue_rate": [0.5, np.nan, 0.1, 0.25, -0.0, 0.4, 0.2],
        "备注": [XSS, "a & b", "=cmd", "正常", "", "<b>粗</b>", "x"],
        "bin": [3, 2, 1, 0, -1, -2, -3],
        "as_of": pd.to_datetime(["2024-03-15 16:30:00Z"] * 7, utc=True),
    }, geometry=geoms, crs="EPSG:4326")


def test_gpkg_keeps_chinese_fields_and_values(areas: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = write_layer(areas, tmp_path / "热点.gpkg")
    assert pyogrio.list_layers(path)[0][0] == "热点"
    back = gpd.read_file(path)
    assert list(back.columns) == list(areas.columns)
    assert back["area_name"].tolist() == areas["area_name"].tolist()
    assert back["备注"].tolist() == areas["备注"].tolist()
    assert back["逾期问题数"].tolist() == areas["逾期问题数"].tolist()
    assert back.crs.to_epsg() == 4326
    assert back.geometry.geom_equals(areas.geometry).all()  # GPKG makes polygons multi
    assert (back["as_of"] == areas["as_of"]).all()  # the same instant (stored as UTC)


def test_geojson_is_wgs84_with_local_offsets(areas: gpd.GeoDataFrame, tmp_path: Path) -> None:
    projected = areas.to_crs("EPSG:3857")
    path = write_layer(projected, tmp_path / "areas.geojson")
    doc = json.loads(path.read_text(encoding="utf-8"))
    first = doc["features"][0]
    assert first["properties"]["area_name"] == "南湖区"
    assert first["properties"]["as_of"].startswith("2024-03-16T00:30:00")
    assert first["properties"]["as_of"].endswith("+08:00")
    x, y = first["geometry"]["coordinates"][0][0]
    assert 120.6 < x < 120.9 and 30.6 < y < 30.9


def test_layer_without_crs_is_refused(areas: gpd.GeoDataFrame, tmp_path: Path) -> None:
    with pytest.raises(CRSError, match="no CRS"):
        write_layer(areas.set_crs(None, allow_override=True), tmp_path / "a.gpkg")


def test_layer_unknown_extension(areas: gpd.GeoDataFrame, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.gpkg.*\.kml.*\.shp\.zip"):
        write_layer(areas, tmp_path / "a.shp")


def test_short_field_names() -> None:
    names = short_field_names(["area_id", "区县名称", "overdue_rate_pct", "overdue_rate_pct2",
                               "Area_ID", "2024年", "a b-c"])
    assert names == {"area_id": "area_id", "区县名称": "f2", "overdue_rate_pct": "overdue_ra",
                     "overdue_rate_pct2": "overdue__2", "Area_ID": "Area_ID_2", "2024年": "f_2024",
                     "a b-c": "a_b_c"}
    assert all(len(v.encode("ascii")) <= 10 for v in names.values())


def test_zipped_shapefile_round_trip(areas: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = write_layer(areas, tmp_path / "hotspots.shp.zip")
    with zipfile.ZipFile(path) as zf:
        members = set(zf.namelist())
        assert {"hotspots.shp", "hotspots.shx", "hotspots.dbf", "hotspots.prj", "hotspots.cpg",
                FIELD_MAP_NAME} <= members
        assert zf.read("hotspots.cpg").decode("ascii").strip() == "UTF-8"
        field_map = pd.read_csv(io.BytesIO(zf.read(FIELD_MAP_NAME)), encoding="utf-8-sig")
    assert field_map["original"].tolist() == [c for c in areas.columns if c != "geometry"]
    assert all(s.isascii() and len(s) <= 10 for s in field_map["short"])
    # any reader: open the zip with pyogrio, then rename with fields.csv
    raw = pyogrio.read_dataframe(path)
    renamed = raw.rename(columns=dict(zip(field_map["short"], field_map["original"],
                                          strict=True)))
    assert list(renamed.columns) == list(areas.columns)
    assert renamed["逾期问题数"].tolist() == areas["逾期问题数"].tolist()
    assert renamed["area_name"].tolist() == areas["area_name"].tolist()
    assert renamed["备注"].fillna("").tolist() == areas["备注"].tolist()
    assert renamed["as_of"].tolist() == ["2024-03-16 00:30:00"] * 7
    assert renamed.crs.to_epsg() == 4326
    assert renamed.geometry.normalize().geom_equals_exact(areas.geometry.normalize(), 1e-9).all()
    # and the helper does the renaming itself
    helper = read_zipped_shapefile(path)
    assert list(helper.columns) == list(areas.columns)


def test_shapefile_plain_zip_and_long_text(tmp_path: Path) -> None:
    text = "环" * 100  # 300 bytes of UTF-8: more than a .dbf field holds
    gdf = gpd.GeoDataFrame({"描述": [text]}, geometry=[shapely.Point(120.7, 30.7)],
                           crs="EPSG:4326")
    with pytest.warns(UserWarning, match="254 bytes"):
        path = write_layer(gdf, tmp_path / "pts.zip")
    back = read_zipped_shapefile(path)
    assert back["描述"].iloc[0] == "环" * 84  # cut at a character boundary: 252 bytes


def test_shapefile_refuses_mixed_geometry(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[shapely.Point(0, 0), shapely.box(0, 0, 1, 1)],
                           crs="EPSG:4326")
    with pytest.raises(ConfigError, match=r"one geometry type.*Point, Polygon"):
        write_layer(gdf, tmp_path / "m.shp.zip")


def test_csv_layer_has_wkt_and_is_neutralised(areas: gpd.GeoDataFrame, tmp_path: Path) -> None:
    back = pd.read_csv(write_layer(areas, tmp_path / "areas.csv"), encoding="utf-8-sig",
                       dtype=str, keep_default_na=False)
    assert back.columns[-1] == "wkt"
    assert shapely.from_wkt(back["wkt"].iloc[0]).equals(areas.geometry.iloc[0])
    assert back["备注"].iloc[2] == "'=cmd"
    assert back["as_of"].iloc[0] == "2024-03-16 00:30:00"


# --- KML -----------------------------------------------------------------------------------


def _placemarks(path: Path) -> tuple[object, list[object]]:
    root = DET.parse(path).getroot()
    return root, root.findall(".//k:Placemark", KML_NS)


def test_kml_names_escaping_and_data(areas: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = write_layer(areas, tmp_path / "热点网格.kml", style_column="bin")
    raw = path.read_text(encoding="utf-8")
    assert "<img" not in raw and "<b>" not in raw
    assert "桐乡市 &amp; 乌镇" in raw
    root, marks = _placemarks(path)
    assert root.find("k:Document/k:name", KML_NS).text == "热点网格"
    assert [m.find("k:name", KML_NS).text for m in marks] == areas["area_name"].tolist()
    assert not root.findall(".//img") and not root.findall(".//k:img", KML_NS)
    first = marks[0]
    fields = {f.get("name"): f.get("type")
              for f in root.findall("k:Document/k:Schema/k:SimpleField", KML_NS)}
    assert fields == {"area_id": "string", "逾期问题数": "int", "overdue_rate": "double",
                      "备注": "string", "bin": "int", "as_of": "string"}
    data = {d.get("name"): d.text
            for d in first.findall("k:ExtendedData/k:SchemaData/k:SimpleData", KML_NS)}
    assert data["备注"] == XSS  # XML-escaped once: parses back to the literal text
    assert data["逾期问题数"] == "12"
    assert data["as_of"] == "2024-03-16 00:30:00"
    assert "area_name" not in data
    # the balloon is HTML: the user's text inside it is escaped once more, so it shows as text
    description = first.find("k:description", KML_NS).text
    assert "&lt;img src=x onerror=alert(1)&gt;" in description
    assert XSS not in description
    assert "<th>逾期问题数</th><td>12</td>" in description
    # bin 3 spelled out for the field team
    assert "<td>热点(99%置信) Hot spot (99% confidence)</td>" in description


def test_kml_opens_in_gdal_with_chinese_fields(areas: gpd.GeoDataFrame, tmp_path: Path) -> None:
    """What QGIS sees: GDAL's (LIBKML) reader keeps the Chinese field names and the types."""
    back = pyogrio.read_dataframe(write_layer(areas, tmp_path / "q.kml", style_column="bin"))
    assert len(back) == 7
    assert back["Name"].tolist() == areas["area_name"].tolist()
    assert back["逾期问题数"].tolist() == areas["逾期问题数"].tolist()
    assert back["备注"].iloc[0] == XSS
    assert back["overdue_rate"].isna().tolist() == areas["overdue_rate"].isna().tolist()
    assert back.geometry.geom_type.tolist()[:6] == ["Polygon"] * 6


def test_kml_styles_per_bin(areas: gpd.GeoDataFrame, tmp_path: Path) -> None:
    root, marks = _placemarks(write_layer(areas, tmp_path / "bins.kml", style_column="bin"))
    styles = {s.get("id"): s for s in root.findall("k:Document/k:Style", KML_NS)}
    assert len(styles) == 7
    # ArcGIS Hot Spot Analysis colours
    expected = {-3: "#4575b5", -2: "#849eba", -1: "#c0ccbe", 0: "#f7f7f2",
                1: "#fab984", 2: "#ed7551", 3: "#d62f27"}
    assert expected == BIN_COLOURS
    for mark, bin_value in zip(marks, areas["bin"], strict=True):
        style = styles[mark.find("k:styleUrl", KML_NS).text.lstrip("#")]
        fill = style.find("k:PolyStyle/k:color", KML_NS).text
        line = style.find("k:LineStyle/k:color", KML_NS).text
        rgb = expected[bin_value].lstrip("#").lower()
        assert fill[2:] == rgb[4:6] + rgb[2:4] + rgb[0:2]  # KML is aabbggrr
        assert 0x40 <= int(fill[:2], 16) < 0xFF  # semi-transparent fill
        assert line == kml_colour(expected[bin_value])  # opaque outline


def test_kml_geometries(areas: gpd.GeoDataFrame, tmp_path: Path) -> None:
    points = gpd.GeoDataFrame({"area_name": ["点"], "kind": ["x"]},
                              geometry=[shapely.Point(120.75, 30.75)], crs="EPSG:4326")
    layer = pd.concat([areas.to_crs("EPSG:3857"), points.to_crs("EPSG:3857")], ignore_index=True)
    root, marks = _placemarks(write_layer(layer, tmp_path / "g.kml"))
    holed = marks[0].find("k:Polygon", KML_NS)
    assert holed.find("k:innerBoundaryIs", KML_NS) is not None
    outer = holed.find("k:outerBoundaryIs/k:LinearRing/k:coordinates", KML_NS).text.split()
    ring = [tuple(map(float, c.split(","))) for c in outer]
    assert shapely.LinearRing(ring).is_ccw
    assert all(120.69 < x < 120.81 and 30.69 < y < 30.81 for x, y in ring)
    assert len(marks[6].findall("k:MultiGeometry/k:Polygon", KML_NS)) == 2
    lon, lat = map(float, marks[7].find("k:Point/k:coordinates", KML_NS).text.split(","))
    assert lon == pytest.approx(120.75, abs=1e-7) and lat == pytest.approx(30.75, abs=1e-7)
    assert [s.get("id") for s in root.findall("k:Document/k:Style", KML_NS)] == ["default"]


def test_kml_bulk_geometry_matches_one_by_one() -> None:
    """The vectorised geometry writer gives what the plain recursive one gives, for every type."""
    hole = shapely.Polygon(shapely.box(0, 0, 4, 4).exterior.coords,
                           [shapely.box(1, 1, 2, 2).exterior.coords[::-1]])
    geoms = np.array([
        shapely.Point(120.123456789, 30.5), shapely.LineString([(0, 0), (1, 1.5)]),
        hole, shapely.MultiPolygon([hole, shapely.box(5, 5, 6, 6)]),
        shapely.MultiPoint([(1, 2), (3, 4)]), shapely.MultiLineString([[(0, 0), (1, 1)],
                                                                      [(2, 2), (3, 3)]]),
        shapely.GeometryCollection([shapely.Point(9, 9), shapely.box(7, 7, 8, 8)]),
        None, shapely.Polygon(), shapely.Point(-0.5, -1e-8), shapely.box(10, 10, 11, 11),
    ], dtype=object)
    geoms = shapely.orient_polygons(geoms)
    bulk = _geometries_xml(geoms)
    one_by_one = ["".join(_geometry_xml(g)) for g in geoms]
    assert bulk == one_by_one
    assert bulk[7] == "" and bulk[8] == ""
    assert bulk[0] == "<Point><coordinates>120.1234568,30.5</coordinates></Point>"
    assert bulk[3].startswith("<MultiGeometry><Polygon>") and bulk[3].count("<Polygon>") == 2
    assert bulk[3].count("<innerBoundaryIs>") == 1


def test_kml_category_styles_and_bad_characters(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["甲\x00\x07乙", "丙"], "code": ["red", "green"],
                            "note": ["a\x0bb", "]]>"]},
                           geometry=[shapely.Point(120, 30), None], crs="EPSG:4326")
    root, marks = _placemarks(write_layer(gdf, tmp_path / "c.kml", name_column="name",
                                          style_column="code"))
    assert marks[0].find("k:name", KML_NS).text == "甲乙"
    assert marks[0].find("k:styleUrl", KML_NS).text == "#code_red"
    assert marks[1].find("k:Point", KML_NS) is None  # kept, without geometry
    ids = [s.get("id") for s in root.findall("k:Document/k:Style", KML_NS)]
    assert "code_red" in ids and "code_green" in ids


def test_kml_other_style_values_get_a_palette(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["a", "b", "c"], "flag": [True, False, True],
                            "trend": ["new", "intensifying", "new"]},
                           geometry=[shapely.Point(120, 30)] * 3, crs="EPSG:4326")
    for column, expected in (("flag", {"s1", "s2"}), ("trend", {"s1", "s2"})):
        root, marks = _placemarks(write_layer(gdf, tmp_path / f"{column}.kml", name_column="name",
                                              style_column=column))
        assert {s.get("id") for s in root.findall("k:Document/k:Style", KML_NS)} == expected
        used = [m.find("k:styleUrl", KML_NS).text for m in marks]
        assert used[0] == used[2] != used[1]  # bools are not mistaken for Gi* bins


def test_kml_missing_columns(areas: gpd.GeoDataFrame, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"name_column='名称'.*area_name"):
        write_layer(areas, tmp_path / "a.kml", name_column="名称")
    with pytest.raises(ConfigError, match="style_column='gi_bin'"):
        write_layer(areas, tmp_path / "a.kml", style_column="gi_bin")


# --- export_issues -------------------------------------------------------------------------


@pytest.fixture
def wide_issues() -> pd.DataFrame:
    """A hand-built frame shaped like Store.issues(): canonical + placement columns."""
    utc = pd.to_datetime(["2024-03-15 01:00:00Z", "2024-03-16 15:30:00Z", "2024-03-17 02:00:00Z"],
                         utc=True)
    frame = pd.DataFrame({
        "issue_id": ["JX-001", "JX-002", "JX-003"],
        "reported_at": utc,
        "category": ["water", "air", "solid_waste"],
        "source": ["grid_patrol", "hotline", "public_report"],
        "description": ["河道有黑臭水体", '=HYPERLINK("http://x","点我")', XSS],
        "lon": [120.755, 120.70, np.nan],
        "lat": [30.746, 30.80, np.nan],
        "coord_system": ["gcj02", "wgs84", "wgs84"],
        "address": ["南湖区 解放路 1 号", "-", None],
        "reported_grid": ["G001", None, "G003"],
        "status": ["rectifying", "closed", "reported"],
        "deadline": utc + pd.Timedelta(days=7),
        "closed_at": pd.to_datetime([None, "2024-03-18 09:00:00Z", None], utc=True),
        "responsible_unit": ["南湖区生态环境分局", "秀洲区综合执法局", None],
        "severity": [None, None, None],
        "task_type": ["立行立改", None, None],
        "ledger_ref": ["Z2-01-1", None, None],
        "photo_before": ["JX-001_整改前.jpg", None, None],
        "photo_after": [None, "http://img.intranet/JX-002.jpg", None],
        "enterprise_code": ["91330402MA2B3C4D5E", None, None],
        "enterprise_name": ["=嘉兴市绿源化工有限公司", None, None],
        "petition_batch": ["第一批", None, None],
        "petition_date": pd.to_datetime(["2024-03-14 16:00:00Z", None, None], utc=True),
        "campaign": [None, "清废行动", None],
        "location_flag": ["", "swapped", ""],
        "grid_mismatch": [False, True, False],
        "content_hash": ["h1", "h2", "h3"],
        "county_id": ["330402", "330411", None],
        "redline_id": ["RL-1", None, None],
        "in_redline": [True, False, False],
        "near_redline": [True, True, False],
        "redline_dist_m": [0.0, 312.5, np.nan],
    }, index=[10, 11, 12])
    frame["severity"] = frame["severity"].astype("str")
    return frame


EXPECTED_ISSUE_COLUMNS = [*CANONICAL_COLUMNS, "location_flag", "grid_mismatch", "county_id",
                          "redline_id", "in_redline", "near_redline", "redline_dist_m"]


def test_export_issues_csv(wide_issues: pd.DataFrame, tmp_path: Path) -> None:
    path = export_issues(wide_issues, tmp_path / "issues.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(back.columns) == EXPECTED_ISSUE_COLUMNS
    assert back["issue_id"].tolist() == ["JX-001", "JX-002", "JX-003"]
    assert back["reported_at"].tolist() == ["2024-03-15 09:00:00", "2024-03-16 23:30:00",
                                           "2024-03-17 10:00:00"]
    assert back["description"].iloc[1] == '\'=HYPERLINK("http://x","点我")'
    assert back["address"].iloc[1] == "'-"
    assert back["redline_dist_m"].tolist() == ["0.0", "312.5", ""]
    assert back["enterprise_name"].iloc[0] == "'=嘉兴市绿源化工有限公司"  # neutralised
    assert back["petition_date"].tolist() == ["2024-03-15", "", ""]  # a local date


def test_export_issues_xlsx(wide_issues: pd.DataFrame, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(export_issues(wide_issues, tmp_path / "issues.xlsx"))
    sheet = book["issues"]
    header = [c.value for c in sheet[1]]
    assert header == EXPECTED_ISSUE_COLUMNS
    col = {name: i + 1 for i, name in enumerate(header)}
    cell = sheet.cell(row=3, column=col["description"])
    assert cell.data_type == "s" and cell.value.startswith("'=")
    assert sheet.cell(row=3, column=col["closed_at"]).value == pd.Timestamp("2024-03-18 17:00")
    assert sheet.cell(row=2, column=col["lon"]).value == pytest.approx(120.755)
    assert sheet.max_row == 4


@pytest.mark.parametrize("fmt", ["geojson", "gpkg"])
def test_export_issues_layers(fmt: str, wide_issues: pd.DataFrame, tmp_path: Path) -> None:
    path = export_issues(wide_issues, tmp_path / f"issues.{fmt}")
    back = gpd.read_file(path)
    assert len(back) == 3  # the row without coordinates is kept, with no geometry
    assert back.crs.to_epsg() == 4326
    assert [c for c in back.columns if c != "geometry"] == EXPECTED_ISSUE_COLUMNS
    assert back.geometry.iloc[0].equals(shapely.Point(120.755, 30.746))
    assert back.geometry.iloc[2] is None or back.geometry.iloc[2].is_empty
    assert back["description"].iloc[2] == XSS
    assert back["responsible_unit"].iloc[0] == "南湖区生态环境分局"
    assert back["in_redline"].tolist() == [True, False, False]
    assert pd.Timestamp(back["reported_at"].iloc[1]) == pd.Timestamp("2024-03-16 15:30:00Z")


def test_export_issues_kml_and_shapefile(wide_issues: pd.DataFrame, tmp_path: Path) -> None:
    _, marks = _placemarks(export_issues(wide_issues, tmp_path / "issues.kml"))
    assert [m.find("k:name", KML_NS).text for m in marks] == ["JX-001", "JX-002", "JX-003"]
    back = read_zipped_shapefile(export_issues(wide_issues, tmp_path / "issues.dat",
                                               format="shp"))
    assert back["responsible_unit"].iloc[1] == "秀洲区综合执法局"
    assert back["reported_at"].iloc[0] == "2024-03-15 09:00:00"


@pytest.mark.parametrize("ext", ["csv", "xlsx", "geojson", "gpkg", "kml", "shp.zip"])
def test_export_issues_empty_store(ext: str, wide_issues: pd.DataFrame, tmp_path: Path) -> None:
    """An empty store still gives a valid file with the header/fields."""
    path = export_issues(wide_issues.iloc[:0], tmp_path / f"empty.{ext}")
    if ext == "csv":
        assert pd.read_csv(path, encoding="utf-8-sig").columns.tolist() == EXPECTED_ISSUE_COLUMNS
    elif ext == "xlsx":
        assert openpyxl.load_workbook(path)["issues"].max_row == 1
    elif ext == "kml":
        assert _placemarks(path)[1] == []
    elif ext == "shp.zip":
        assert len(read_zipped_shapefile(path)) == 0
    else:
        assert len(gpd.read_file(path)) == 0


def test_write_layer_needs_a_geodataframe(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GeoDataFrame, got DataFrame"):
        write_layer(pd.DataFrame({"a": [1]}), tmp_path / "a.gpkg")


def test_export_issues_errors(wide_issues: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="export_issues writes"):
        export_issues(wide_issues, tmp_path / "issues.txt")
    with pytest.raises(ConfigError, match="no lon column"):
        export_issues(wide_issues.drop(columns="lon"), tmp_path / "i.gpkg")


# --- a failed write leaves the old file -------------------------------------------------------

def _fail_midway(monkeypatch: pytest.MonkeyPatch, owner: object, name: str,
                 path_of: object) -> None:
    """Make ``owner.name`` write a few bytes where it was told to write, then run out of disk."""

    def broken(*args: object, **kwargs: object) -> None:
        where = path_of(*args, **kwargs)
        partial = b"PK\x05\x06" + b"\0" * 18  # 22 bytes, like the broken XLSX of a full disk
        if hasattr(where, "write"):  # pandas hands XlsxWriter an open file
            where.write(partial)
            where.flush()
        else:
            Path(where).write_bytes(partial)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(owner, name, broken)


@pytest.mark.parametrize("ext", ["csv", "xlsx", "geojson", "gpkg", "kml", "shp.zip"])
def test_failed_write_leaves_the_previous_file_and_no_temporary(
        ext: str, wide_issues: pd.DataFrame, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: a full disk left a truncated CSV or a 22-byte XLSX under the final name.
    import xlsxwriter.exceptions
    import xlsxwriter.workbook

    import gridwatch.output.files as files

    target = export_issues(wide_issues, tmp_path / f"issues.{ext}")
    before = target.read_bytes()
    if ext == "csv":
        _fail_midway(monkeypatch, pd.DataFrame, "to_csv", lambda _self, path, **_kw: path)
    elif ext == "xlsx":
        _fail_midway(monkeypatch, xlsxwriter.workbook.Workbook, "_store_workbook",
                     lambda book: book.filename)
    elif ext == "kml":
        _fail_midway(monkeypatch, files, "write_kml", lambda _gdf, path, **_kw: path)
    elif ext == "shp.zip":
        _fail_midway(monkeypatch, files, "write_zipped_shapefile",
                     lambda _gdf, path, **_kw: path)
    else:
        _fail_midway(monkeypatch, gpd.GeoDataFrame, "to_file", lambda _self, path, **_kw: path)
    with pytest.raises((OSError, xlsxwriter.exceptions.FileCreateError), match="No space left"):
        export_issues(wide_issues.iloc[:1], target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_failed_workbook_leaves_no_file_at_all(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import xlsxwriter.exceptions
    import xlsxwriter.workbook

    _fail_midway(monkeypatch, xlsxwriter.workbook.Workbook, "_store_workbook",
                 lambda book: book.filename)
    with pytest.raises(xlsxwriter.exceptions.FileCreateError, match="No space left"):
        write_workbook({"a": pd.DataFrame({"x": [1]})}, tmp_path / "out" / "book.xlsx")
    assert [p.name for p in (tmp_path / "out").iterdir()] == []


def test_text_longer_than_an_excel_cell_is_cut_with_a_note_and_no_warning(tmp_path: Path,
                                                                         ) -> None:
    import warnings

    import openpyxl

    long_text = "河道漂浮物" * 8000  # 40,000 characters
    frame = pd.DataFrame({"issue_id": ["A1", "A2"], "description": [long_text, "短"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = write_table(frame, tmp_path / "long.xlsx")
    cells = [row[1].value for row in openpyxl.load_workbook(path).active.iter_rows(min_row=2)]
    assert len(cells[0]) == 32_767 and cells[1] == "短"
    assert cells[0].startswith("河道漂浮物") and "[cut: 40,000 characters" in cells[0]
    csv_text = write_table(frame, tmp_path / "long.csv").read_text(encoding="utf-8-sig")
    assert long_text in csv_text  # the CSV keeps everything


def _cells(path: Path) -> dict[str, list[tuple]]:
    """Every sheet's cells as (value, number format of dates, bold) row by row."""
    book = openpyxl.load_workbook(path)
    return {sheet.title: [tuple((c.value, c.number_format if c.is_date else None, c.font.b)
                                for c in row) for row in sheet.iter_rows()]
            for sheet in book.worksheets}


def test_xlsx_cells_equal_what_pandas_to_excel_writes(tmp_path: Path) -> None:
    """The cells gridwatch writes column by column are those ``DataFrame.to_excel`` writes,
    value for value, for every kind of column a table holds."""
    import datetime as dt

    n = 7
    table = pd.DataFrame({
        "text": ["河道", None, "", "a\nb", "=1+1", "x" * 40, "尾"],
        "arrow_text": pd.Series(["一", None, "三", "四", "五", "六", "七"], dtype="str"),
        "floats": [1.5, np.nan, -2.25, 1e15, -np.inf, np.inf, 7.125],
        "ints": np.arange(n, dtype="int64") * 1000,
        "nullable_ints": pd.array([1, None, 3, 4, None, 6, 7], dtype="Int64"),
        "flags": [True, False, True, True, False, False, True],
        "nullable_flags": pd.array([True, None, False, True, None, False, True],
                                   dtype="boolean"),
        "times": pd.to_datetime(["2026-10-28 08:30:15", None, "2024-02-29 23:59:59",
                                 "2026-01-01 00:00:00", "1899-12-31 12:00:00", None,
                                 "2030-06-30 06:06:00"]),
        "zoned": pd.to_datetime(["2026-10-28 00:30"] * n).tz_localize("UTC"),
        "days": [dt.date(2026, 10, k + 1) for k in range(n - 1)] + [dt.date(1900, 2, 1)],
        "mixed": ["文本", 3, 2.5, None, True, dt.date(2026, 1, 2), "末"],
        "category": pd.Categorical(["water", "air", None, "water", "noise", "air", "air"]),
    })
    ours = write_workbook({"t": table, "empty": table.iloc[:0]}, tmp_path / "ours.xlsx",
                          timezone="Asia/Shanghai")
    reference = tmp_path / "reference.xlsx"
    with pd.ExcelWriter(reference, engine="xlsxwriter", datetime_format="yyyy-mm-dd hh:mm:ss",
                        date_format="yyyy-mm-dd", engine_kwargs={"options": {
                            "strings_to_formulas": False, "strings_to_urls": False,
                            "strings_to_numbers": False}}) as writer:
        for name, frame in (("t", table), ("empty", table.iloc[:0])):
            local = neutralise_formulas(frame.assign(
                zoned=frame["zoned"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)))
            local.to_excel(writer, sheet_name=name, index=False)
    assert _cells(ours) == _cells(reference)

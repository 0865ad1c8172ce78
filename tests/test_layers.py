"""Tests of gridwatch.placing.layers: reading every format, CRS handling, checks, territory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from helpers import code_frame
from pyproj import Transformer

from gridwatch.config import Config, LayerSpec, config_from_dict
from gridwatch.errors import CRSError, LayerError
from gridwatch.placing import coords
from gridwatch.placing.layers import (
    LAYER_COLUMNS,
    check_layers,
    in_territory,
    load_layers,
    locate_points,
    project_metric_crs,
    read_layer,
    territory,
)

# Two neighbouring 0.01° squares in Jiaxing (WGS84), with Chinese names.
SQUARES = [shapely.box(120.70, 30.70, 120.71, 30.71), shapely.box(120.71, 30.70, 120.72, 30.71)]
NAMES = ["南湖街道", "秀洲区新城"]


def _frame(**extra: Any) -> gpd.GeoDataFrame:
    data = {"code": ["A1", "A2"], "name": NAMES, **extra}
    return gpd.GeoDataFrame(data, geometry=list(SQUARES), crs="EPSG:4326")


def _config(root: Path, *layers: dict[str, Any], **territory_: Any) -> Config:
    return config_from_dict({"territory": {"name": "嘉兴市", **territory_},
                             "layers": list(layers)}, root=root)


def _layer(name: str, path: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "path": path, "id_field": "code", "name_field": "name",
            "kind": "admin", **kw}


def _read(root: Path, **kw: Any) -> gpd.GeoDataFrame:
    config = _config(root, _layer("area", **kw))
    return read_layer(config.layers[0])


def _assert_squares(layer: gpd.GeoDataFrame) -> None:
    assert list(layer.columns) == list(LAYER_COLUMNS)
    assert layer.crs.to_epsg() == 4326
    assert layer["area_id"].tolist() == ["A1", "A2"]
    assert layer["area_name"].tolist() == NAMES
    assert not layer["repaired"].any()
    for got, want in zip(layer.geometry, SQUARES, strict=True):
        assert shapely.normalize(got).equals_exact(shapely.normalize(want), 1e-9)


# ------------------------------------------------------------------------------------ formats


def test_geojson(tmp_path: Path) -> None:
    _frame().to_file(tmp_path / "a.geojson", driver="GeoJSON")
    layer = _read(tmp_path, path="a.geojson")
    _assert_squares(layer)
    assert layer["parent_id"].isna().all()
    assert str(layer["area_id"].dtype) == "str"


def test_geopackage_picks_source_layer(tmp_path: Path) -> None:
    path = tmp_path / "layers.gpkg"
    other = _frame()
    other["code"] = ["X1", "X2"]
    other.to_file(path, layer="other", driver="GPKG")
    _frame().to_file(path, layer="towns", driver="GPKG")
    _assert_squares(_read(tmp_path, path="layers.gpkg", layer="towns"))
    with pytest.raises(LayerError, match="towns"):
        _read(tmp_path, path="layers.gpkg", layer="nope")
    with pytest.raises(LayerError, match=r"2 layers \(other, towns\).*layer ="):
        _read(tmp_path, path="layers.gpkg")


def test_shapefile_gbk_without_cpg_uses_spec_encoding(tmp_path: Path) -> None:
    _frame().to_file(tmp_path / "gbk.shp", encoding="GBK")
    (tmp_path / "gbk.cpg").unlink()
    _assert_squares(_read(tmp_path, path="gbk.shp", encoding="GBK"))
    # Without the declared encoding the names come out garbled: the setting matters.
    assert _read(tmp_path, path="gbk.shp")["area_name"].tolist() != NAMES


def test_shapefile_with_cpg_follows_it(tmp_path: Path) -> None:
    _frame().to_file(tmp_path / "utf8.shp", encoding="UTF-8")
    assert (tmp_path / "utf8.cpg").read_text().strip().upper().replace("-", "") == "UTF8"
    # The .cpg wins over an encoding meant for files without one.
    _assert_squares(_read(tmp_path, path="utf8.shp", encoding="GBK"))


def test_shapefile_numeric_ids_lose_float_suffix(tmp_path: Path) -> None:
    frame = _frame()
    frame["code"] = [330402.0, 330411.0]
    frame.to_file(tmp_path / "num.shp")
    assert _read(tmp_path, path="num.shp")["area_id"].tolist() == ["330402", "330411"]


def test_kml(tmp_path: Path) -> None:
    _frame().to_file(tmp_path / "a.kml", driver="KML")
    layer = _read(tmp_path, path="a.kml", name_field="Name")
    _assert_squares(layer)


def test_missing_id_field_lists_fields(tmp_path: Path) -> None:
    _frame().to_file(tmp_path / "a.geojson", driver="GeoJSON")
    with pytest.raises(LayerError, match=r"id_field = 'adcode'.*fields in the file: code, name"):
        _read(tmp_path, path="a.geojson", id_field="adcode")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="file not found"):
        _read(tmp_path, path="nowhere.geojson")


@pytest.mark.parametrize("geometry", [[shapely.Point(120.7, 30.7)],
                                      [shapely.LineString([(120.7, 30.7), (120.8, 30.8)])]])
def test_layer_without_polygons(tmp_path: Path, geometry: list[Any]) -> None:
    gpd.GeoDataFrame({"code": ["A"], "name": ["x"]}, geometry=geometry,
                     crs="EPSG:4326").to_file(tmp_path / "p.geojson", driver="GeoJSON")
    with pytest.raises(LayerError, match="no polygons"):
        _read(tmp_path, path="p.geojson")


def test_empty_layer(tmp_path: Path) -> None:
    _frame().iloc[:0].to_file(tmp_path / "e.gpkg", driver="GPKG")
    with pytest.raises(LayerError, match="no features"):
        _read(tmp_path, path="e.gpkg")


# ---------------------------------------------------------------------------------------- CRS


@pytest.mark.parametrize(("label", "forward"), [("gcj02", coords.wgs84_to_gcj02),
                                                ("bd09", coords.wgs84_to_bd09)])
def test_shifted_layer_is_converted(tmp_path: Path, label: str, forward: Any) -> None:
    def shift(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(forward(xy[:, 0], xy[:, 1]))

    frame = _frame()
    frame.geometry = shapely.transform(np.asarray(frame.geometry.array), shift)
    # Amap exports carry a CRS84 tag although the numbers are GCJ-02: the tag is ignored.
    frame.to_file(tmp_path / "shifted.geojson", driver="GeoJSON")
    layer = _read(tmp_path, path="shifted.geojson", crs=label)
    for got, want in zip(layer.geometry, SQUARES, strict=True):
        assert shapely.normalize(got).equals_exact(shapely.normalize(want), 1e-7)  # ~1 cm
    raw = _read(tmp_path, path="shifted.geojson", crs="wgs84")
    assert not raw.geometry.iloc[0].equals_exact(SQUARES[0], 1e-4)  # shifted by hundreds of m


def test_projected_layer_declared_epsg(tmp_path: Path) -> None:
    _frame().to_crs("EPSG:4549").to_file(tmp_path / "gk.gpkg", driver="GPKG")
    layer = _read(tmp_path, path="gk.gpkg", crs="EPSG:4549")
    for got, want in zip(layer.geometry, SQUARES, strict=True):
        assert shapely.hausdorff_distance(got, want) < 1e-8


def test_projected_file_contradicting_spec(tmp_path: Path) -> None:
    _frame().to_crs("EPSG:4549").to_file(tmp_path / "gk.gpkg", driver="GPKG")
    with pytest.raises(CRSError, match=r"EPSG:4549.*crs = 'gcj02'.*Fix: set crs = \"EPSG:4549\""):
        _read(tmp_path, path="gk.gpkg", crs="gcj02")
    with pytest.raises(CRSError, match=r"EPSG:4549.*EPSG:4550"):
        _read(tmp_path, path="gk.gpkg", crs="EPSG:4550")


def test_projected_numbers_without_tag(tmp_path: Path) -> None:
    # GeoJSON has no room for a projected tag: GDAL reports CRS84 and the numbers give it away.
    frame = _frame().to_crs("EPSG:4549").set_crs("EPSG:4326", allow_override=True)
    frame.to_file(tmp_path / "gk.geojson", driver="GeoJSON")
    with pytest.raises(CRSError, match="look projected"):
        _read(tmp_path, path="gk.geojson", crs="wgs84")
    layer = _read(tmp_path, path="gk.geojson", crs="EPSG:4549")
    assert shapely.hausdorff_distance(layer.geometry.iloc[0], SQUARES[0]) < 1e-8


def test_unknown_crs_label(tmp_path: Path) -> None:
    _frame().to_file(tmp_path / "a.geojson", driver="GeoJSON")
    # The project file rejects it when it loads (test_config); a LayerSpec built in code is
    # checked again when the layer is read.
    spec = LayerSpec(name="area", path=tmp_path / "a.geojson", id_field="code", kind="admin",
                     crs="mars")
    with pytest.raises(CRSError, match=r"'mars' is not a known.*gcj02"):
        read_layer(spec)


def test_real_counties_in_wgs84(jiaxing_counties_path: Path) -> None:
    config = _config(jiaxing_counties_path.parent,
                     {"name": "county", "path": jiaxing_counties_path.name, "id_field": "adcode",
                      "name_field": "name", "kind": "admin", "crs": "gcj02"})
    county = load_layers(config)["county"]
    assert len(county) == 7
    assert county.set_index("area_id").loc["330402", "area_name"] == "南湖区"
    raw = gpd.read_file(jiaxing_counties_path)
    # GCJ-02 lies ~500 m north-east of WGS84 here: the converted layer moved back south-west.
    shift = np.asarray(raw.total_bounds) - np.asarray(county.total_bounds)
    assert 0.003 < shift[0] < 0.008 and -0.005 < shift[1] < 0.0
    assert project_metric_crs(None, layers={"county": county}) == "EPSG:4549"
    assert check_layers(config) == []


# -------------------------------------------------------------------------------------- checks


def _write(path: Path, codes: list[str], geoms: list[Any], **extra: Any) -> None:
    code_frame(codes, geoms, **extra).to_file(path, driver="GeoJSON")


def test_check_layers_findings(tmp_path: Path) -> None:
    town_a, town_b = SQUARES
    _write(tmp_path / "towns.geojson", ["T1", "T2"], [town_a, town_b])
    bow_tie = shapely.Polygon([(120.700, 30.700), (120.705, 30.705), (120.705, 30.700),
                               (120.700, 30.705)])
    inside_a = shapely.box(120.701, 30.701, 120.704, 30.704)
    overlapping = shapely.box(120.703, 30.703, 120.708, 30.708)  # overlaps inside_a, in T1
    straddling = shapely.box(120.706, 30.706, 120.714, 30.709)   # half in T1, half in T2
    far_away = shapely.box(121.5, 31.5, 121.51, 31.51)            # in no town
    grids = [bow_tie, inside_a, overlapping, straddling, far_away, shapely.Polygon()]
    _write(tmp_path / "grids.geojson", ["G0", "G1", "G2", "G3", "G4", "G1"], grids)
    config = _config(tmp_path, _layer("town", "towns.geojson"),
                     _layer("grid", "grids.geojson", kind="grid", parent="town"))

    findings = check_layers(config)
    got = {(f.layer, f.area_id, f.kind) for f in findings}
    assert ("grid", "G0", "invalid_repaired") in got
    assert ("grid", "G1", "duplicate_id") in got
    assert ("grid", "G1", "overlap") in got
    assert ("grid", "G3", "outside_parent") in got
    assert ("grid", "G4", "not_nested") in got
    assert ("grid", "G1", "empty_geometry") in got
    assert not any(f.layer == "town" for f in findings)
    assert not any(f.area_id == "G2" and f.kind == "outside_parent" for f in findings)
    detail = {(f.area_id, f.kind): f.detail for f in findings}
    assert "Self-intersection" in detail[("G0", "invalid_repaired")]
    assert "overlaps G2" in detail[("G1", "overlap")]
    share = float(detail[("G3", "outside_parent")].split("%")[0])
    assert 40 < share < 60

    grid = load_layers(config)["grid"]
    bow = grid.iloc[0]
    assert bow["repaired"] and bow.geometry.is_valid
    assert bow.geometry.geom_type == "MultiPolygon"
    assert bow.geometry.area == pytest.approx(0.005 * 0.005 / 2)
    # Parents found spatially (representative point); none for the far-away grid.
    parents = grid["parent_id"]
    assert parents.iloc[:3].tolist() == ["T1", "T1", "T1"]
    assert parents.iloc[4:].isna().all()


def test_parent_field_not_in_parent_layer(tmp_path: Path) -> None:
    _write(tmp_path / "towns.geojson", ["T1", "T2"], list(SQUARES))
    _write(tmp_path / "grids.geojson", ["G1", "G2"],
           [shapely.box(120.701, 30.701, 120.702, 30.702),
            shapely.box(120.711, 30.701, 120.712, 30.702)], town=["T1", "T9"])
    config = _config(tmp_path, _layer("town", "towns.geojson"),
                     _layer("grid", "grids.geojson", kind="grid", parent="town",
                            parent_field="town"))
    assert load_layers(config)["grid"]["parent_id"].tolist() == ["T1", "T9"]
    findings = check_layers(config)
    assert [(f.area_id, f.kind) for f in findings] == [("G2", "not_nested")]
    assert "'T9' is not an id" in findings[0].detail


def test_adjacent_areas_do_not_overlap(tmp_path: Path) -> None:
    _write(tmp_path / "towns.geojson", ["T1", "T2"], list(SQUARES))
    assert check_layers(_config(tmp_path, _layer("town", "towns.geojson"))) == []


# ----------------------------------------------------------------------------------- territory


def test_territory_margin(tmp_path: Path) -> None:
    _write(tmp_path / "towns.geojson", ["T1", "T2"], list(SQUARES))
    _write(tmp_path / "grids.geojson", ["G1"], [shapely.box(121.0, 31.0, 121.01, 31.01)])
    config = _config(tmp_path, _layer("town", "towns.geojson"),
                     _layer("grid", "grids.geojson", kind="grid"))
    layers = load_layers(config)
    area = territory(layers, config.layers, margin_m=2000)
    to_m = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
    back = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
    east_x, mid_y = to_m.transform(120.72, 30.705)
    lon, lat = back.transform(np.array([east_x + 1500, east_x + 2500, east_x - 10]),
                              np.array([mid_y] * 3))
    assert in_territory(area, lon, lat).tolist() == [True, False, True]
    # Only the admin layer makes the territory: the grid far away is not in it.
    assert not in_territory(area, [121.005], [31.005])[0]
    assert in_territory(None, [1.0, np.nan], [2.0, 3.0]).tolist() == [True, False]


# --------------------------------------------------------------------------------- metric CRS


def test_project_metric_crs_rule(tmp_path: Path) -> None:
    """Configured CRS, else the admin layers' centre, else the points; never anything else."""
    _write(tmp_path / "towns.geojson", ["T1", "T2"], list(SQUARES))  # Jiaxing, CM 120E
    # a grid layer two zones west (CM 114E) and a redline zone one zone east (CM 123E)
    _write(tmp_path / "grids.geojson", ["G1"], [shapely.box(114.0, 30.0, 114.01, 30.01)])
    _write(tmp_path / "zones.geojson", ["R1"], [shapely.box(123.0, 30.0, 123.01, 30.01)])
    config = _config(tmp_path, _layer("grid", "grids.geojson", kind="grid"),
                     _layer("town", "towns.geojson"),
                     _layer("zone", "zones.geojson", kind="redline"))
    layers = load_layers(config)
    west = ([114.0, 114.1], [30.0, 30.1])
    assert project_metric_crs("EPSG:32651", layers=layers, specs=config.layers,
                              lon=west[0], lat=west[1]) == "EPSG:32651"
    assert project_metric_crs(None, layers=layers, specs=config.layers,
                              lon=west[0], lat=west[1]) == "EPSG:4549"
    assert project_metric_crs("", layers={}, lon=west[0], lat=west[1]) == "EPSG:4547"
    assert project_metric_crs(None, layers={"zone": layers["zone"]}) == "EPSG:4550"
    with pytest.raises(CRSError, match=r"\[territory\] metric_crs"):
        project_metric_crs(None, layers={}, lon=[np.nan], lat=[np.nan])


def test_metric_crs_users_agree(tmp_path: Path) -> None:
    """Redline distances (placing) and incident distances (supervision) use one metric CRS."""
    from gridwatch.placing.assign import assign_areas
    from gridwatch.supervision.incidents import metric_xy

    _write(tmp_path / "towns.geojson", ["T1", "T2"], list(SQUARES))
    _write(tmp_path / "zones.geojson", ["R1"], [SQUARES[0]])
    specs = (_layer("town", "towns.geojson"),
             {**_layer("zone", "zones.geojson", kind="redline"), "near_m": 5000.0})
    # a configured CRS (UTM 51N) that no zone rule would pick here: every user must follow it
    config = _config(tmp_path, *specs, metric_crs="EPSG:32651")
    layers = load_layers(config)
    crs = project_metric_crs(config.territory.metric_crs, layers=layers, specs=config.layers)
    assert crs == "EPSG:32651"
    lon, lat = np.array([120.73, 120.75]), np.array([30.705, 30.705])
    x, y = metric_xy(lon, lat, crs=config.territory.metric_crs)
    expected = shapely.distance(layers["zone"].to_crs(crs).geometry.iloc[0],
                                shapely.points(x, y))
    placed = assign_areas(lon, lat, layers, config)
    np.testing.assert_allclose(placed["zone_dist_m"], expected, rtol=1e-9)
    # measured in the zone rule's CRS instead, the distances would differ by ~1e-4
    gk = shapely.distance(layers["zone"].to_crs("EPSG:4549").geometry.iloc[0],
                          shapely.points(*metric_xy(lon, lat, crs="EPSG:4549")))
    assert not np.allclose(gk, expected, rtol=1e-6)


def test_locate_points_border_rule(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame({"area_id": ["b", "a"], "area_name": ["b", "a"],
                              "parent_id": [None, None], "repaired": [False, False]},
                             geometry=list(SQUARES), crs="EPSG:4326")
    x = np.array([120.71, 120.705, 120.715, 120.8, np.nan])
    y = np.array([30.705, 30.705, 30.705, 30.705, 30.705])
    assert locate_points(x, y, frame).tolist() == [1, 0, 1, -1, -1]
    flipped = frame.iloc[::-1].reset_index(drop=True)
    assert locate_points(x, y, flipped).tolist() == [0, 1, 0, -1, -1]


# ------------------------------------------------------------------------------------ cache

def test_a_layer_is_read_from_its_cached_wgs84_form_until_the_file_changes(
        tmp_path: Path) -> None:
    import os

    from geopandas.testing import assert_geodataframe_equal

    bow_tie = shapely.Polygon([(120.70, 30.70), (120.71, 30.71), (120.71, 30.70),
                               (120.70, 30.71)])  # invalid: repaired, with its reason
    frame = gpd.GeoDataFrame({"code": ["A1", "A2"], "name": NAMES},
                             geometry=[SQUARES[0], bow_tie], crs="EPSG:4326")
    frame.to_file(tmp_path / "areas.gpkg")
    config = _config(tmp_path, _layer("area", "areas.gpkg", crs="gcj02"))
    spec = config.layers[0]
    first = read_layer(spec)
    cached = list((tmp_path / ".gridwatch-cache" / "layers").glob("areas-*.parquet"))
    assert len(cached) == 1
    again = read_layer(spec)
    assert_geodataframe_equal(again, first)
    findings = check_layers(config)
    assert [f.kind for f in findings if f.area_id == "A2"] == ["invalid_repaired"]
    # the file changes: read again, not the old cache
    frame.iloc[:1].to_file(tmp_path / "areas.gpkg", mode="w")
    stamp = (tmp_path / "areas.gpkg").stat().st_mtime_ns + 10**9
    os.utime(tmp_path / "areas.gpkg", ns=(stamp, stamp))
    assert read_layer(spec)["area_id"].tolist() == ["A1"]


def test_layer_bounds_come_from_the_cached_form_without_reading_geometry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gridwatch.placing import layers as layers_module
    from gridwatch.placing.layers import layer_bounds

    frame = gpd.GeoDataFrame({"code": ["A1", "A2"], "name": NAMES}, geometry=SQUARES[:2],
                             crs="EPSG:4326")
    frame.to_file(tmp_path / "areas.gpkg")
    spec = _config(tmp_path, _layer("area", "areas.gpkg", crs="gcj02")).layers[0]
    uncached = layer_bounds(spec)  # reads the file once, which writes the cache
    expected = read_layer(spec).total_bounds
    np.testing.assert_allclose(uncached, expected)

    def no_geometry(*args: object, **kwargs: object) -> None:
        raise AssertionError("the layer was read")

    monkeypatch.setattr(layers_module, "read_layer", no_geometry)
    np.testing.assert_allclose(layer_bounds(spec), expected)

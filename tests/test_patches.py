"""Satellite patches: reading in every format and coordinate system, areas and overlaps
against shapely in the metric CRS, computed here independently."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from helpers import grid_cell_centre
from shapely.geometry import box

from gridwatch.config import load_config
from gridwatch.errors import LayerError
from gridwatch.patches import measure_patches, patch_summary, read_patches
from gridwatch.placing.coords import wgs84_to_gcj02
from gridwatch.placing.layers import load_layers, project_metric_crs

CX, CY = grid_cell_centre(1, 1)  # the redline zone RL1 is CX, CY ± 0.001 (small_project)


def _patches() -> gpd.GeoDataFrame:
    """Three patches: one three quarters inside RL1, one wholly inside, one outside it."""
    return gpd.GeoDataFrame({
        "图斑编号": ["TB-001", "TB-002", "TB-003"],
        "图斑类型": ["固废", "生态破坏", "土壤"],
        "监测日期": ["2026-09-01", "2026-09-02", "2026-09-03"],
        "备注": ["疑似堆放", None, "疑似开挖"],
    }, geometry=[box(CX - 0.0015, CY - 0.0005, CX + 0.0005, CY + 0.0005),
                 box(CX - 0.0004, CY - 0.0004, CX + 0.0004, CY + 0.0004),
                 box(120.801, 30.721, 120.803, 30.7225)], crs="EPSG:4326")


def _expected(patches: gpd.GeoDataFrame, zone: shapely.Geometry, crs: str) -> pd.DataFrame:
    """Areas and overlaps by geopandas' own reprojection: the reference."""
    metric = patches.to_crs(crs)
    zone_m = gpd.GeoSeries([zone], crs="EPSG:4326").to_crs(crs).iloc[0]
    inside = metric.geometry.intersection(zone_m).area
    return pd.DataFrame({"area_m2": metric.area.to_numpy(), "inside_m2": inside.to_numpy()},
                        index=patches["图斑编号"])


def _gcj(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    def shift(xy: np.ndarray) -> np.ndarray:
        x, y = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])
    return gpd.GeoSeries(shapely.transform(geoms.to_numpy(), shift), crs="EPSG:4326")


@pytest.fixture
def project(small_project: Path):
    config = load_config(small_project)
    layers = load_layers(config)
    crs = project_metric_crs(config.territory.metric_crs, layers=layers, specs=config.layers)
    zone = layers["redline"].geometry.iloc[0]
    return config, layers, crs, zone


def test_areas_and_redline_overlap_match_shapely_in_the_metric_crs(project, tmp_path):
    config, layers, crs, zone = project
    assert crs == "EPSG:4549"  # CGCS2000 3-degree Gauss-Krüger, 120°E: Jiaxing
    source = _patches()
    source.to_file(tmp_path / "p.geojson")
    patches = read_patches(tmp_path / "p.geojson")
    assert patches["patch_id"].tolist() == ["TB-001", "TB-002", "TB-003"]
    assert patches["category"].tolist() == ["solid_waste", "ecology", "soil"]
    assert patches["note"].isna().tolist() == [False, True, False]
    assert patches["found_on"].tolist() == [pd.Timestamp("2026-09-01"),
                                            pd.Timestamp("2026-09-02"),
                                            pd.Timestamp("2026-09-03")]
    measured, overlaps = measure_patches(patches, layers, config.layers, metric_crs=crs)
    table = patch_summary(measured, overlaps, config.layers).set_index("patch_id")
    expected = _expected(source, zone, crs)
    np.testing.assert_allclose(table["area_ha"], expected["area_m2"] / 1e4, rtol=1e-9)
    np.testing.assert_allclose(table["redline_ha"], expected["inside_m2"] / 1e4, rtol=1e-9,
                               atol=1e-12)
    share = expected["inside_m2"] / expected["area_m2"]
    np.testing.assert_allclose(table["redline_share"], share, rtol=1e-9, atol=1e-12)
    assert table["redline_share"].round(2).tolist() == [0.75, 1.0, 0.0]
    assert table["redline_zones"].tolist()[:2] == ["RL1", "RL1"]
    assert pd.isna(table["redline_zones"].iloc[2])
    # the grid cell holding most of each patch
    assert table["grid_id"].tolist() == ["G11", "G11", "G00"]
    grid = overlaps[(overlaps["layer"] == "grid") & (overlaps["patch_id"] == "TB-001")]
    assert sorted(grid["area_id"]) == ["G11"]


def test_gcj02_file_gives_the_same_areas(project, tmp_path):
    config, layers, crs, zone = project
    source = _patches()
    shifted = source.set_geometry(_gcj(source.geometry))
    shifted.to_file(tmp_path / "gcj.geojson")
    patches = read_patches(tmp_path / "gcj.geojson", crs="gcj02")
    measured, overlaps = measure_patches(patches, layers, config.layers, metric_crs=crs)
    table = patch_summary(measured, overlaps, config.layers).set_index("patch_id")
    expected = _expected(source, zone, crs)
    # the inverse of GCJ-02 is iterated to well under a millimetre
    np.testing.assert_allclose(table["area_m2"], expected["area_m2"], rtol=1e-5)
    np.testing.assert_allclose(table["redline_share"], expected["inside_m2"]
                               / expected["area_m2"], atol=1e-4)


@pytest.mark.parametrize("suffix,driver", [(".gpkg", "GPKG"), (".shp", "ESRI Shapefile"),
                                           (".kml", "KML")])
def test_every_format_reads(tmp_path, suffix, driver):
    source = _patches()
    if driver == "ESRI Shapefile":  # short ASCII field names
        source = source.rename(columns={"图斑编号": "code", "图斑类型": "type",
                                        "监测日期": "date", "备注": "note"})
    if driver == "KML":
        source = source.rename(columns={"图斑编号": "Name"})[["Name", "geometry"]]
    path = tmp_path / f"p{suffix}"
    source.to_file(path, driver=driver)
    patches = read_patches(path, id_field="Name" if driver == "KML" else None)
    assert patches["patch_id"].tolist() == ["TB-001", "TB-002", "TB-003"]
    assert patches.crs.to_epsg() == 4326
    np.testing.assert_allclose(shapely.area(patches.geometry.to_numpy()),
                               shapely.area(source.geometry.to_numpy()), rtol=1e-9)


def test_projected_file_is_read_in_its_own_crs(project, tmp_path):
    config, layers, crs, zone = project
    source = _patches()
    source.to_crs("EPSG:4549").to_file(tmp_path / "cgcs.gpkg")
    from gridwatch.patches.read import file_crs

    assert file_crs(tmp_path / "cgcs.gpkg") == "EPSG:4549"
    patches = read_patches(tmp_path / "cgcs.gpkg", crs="EPSG:4549")
    measured, _ = measure_patches(patches, layers, config.layers, metric_crs=crs)
    np.testing.assert_allclose(measured["area_m2"], _expected(source, zone, crs)["area_m2"],
                               rtol=1e-7)


def test_file_without_ids_numbers_its_features(tmp_path):
    _patches()[["geometry"]].to_file(tmp_path / "卫星.geojson")
    patches = read_patches(tmp_path / "卫星.geojson")
    assert patches["patch_id"].tolist() == ["卫星-1", "卫星-2", "卫星-3"]


def test_repeated_ids_and_points_are_refused(tmp_path):
    source = _patches()
    source["图斑编号"] = ["A", "A", "B"]
    source.to_file(tmp_path / "dup.geojson")
    with pytest.raises(LayerError, match="repeat"):
        read_patches(tmp_path / "dup.geojson")
    points = gpd.GeoDataFrame({"图斑编号": ["A"]}, geometry=[shapely.Point(120.8, 30.7)],
                              crs="EPSG:4326")
    points.to_file(tmp_path / "pts.geojson")
    with pytest.raises(LayerError, match="polygon"):
        read_patches(tmp_path / "pts.geojson")

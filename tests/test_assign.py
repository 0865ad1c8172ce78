"""Tests of gridwatch.placing.assign: placing records, rejects, areas per layer, redlines, grid
checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from helpers import code_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from gridwatch.config import Config, LayerSpec, config_from_dict
from gridwatch.placing import coords
from gridwatch.placing.assign import assign_areas, place_records, unassigned_counts
from gridwatch.placing.layers import load_layers, representative_xy, territory
from gridwatch.schema import REJECT_COLUMNS

TO_GK = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
FROM_GK = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
HANGZHOU_WEST_LAKE = (120.148, 30.245)  # WGS84, ~50 km west of Jiaxing's border


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, jiaxing_counties_path: Path
            ) -> tuple[Config, dict[str, gpd.GeoDataFrame]]:
    """Real counties (GCJ-02 file) plus two grids and two micro-grids made inside 南湖区."""
    root = tmp_path_factory.mktemp("assign")
    counties = config_from_dict({"layers": [{
        "name": "county", "path": str(jiaxing_counties_path), "id_field": "adcode",
        "kind": "admin", "crs": "gcj02"}]}, root=root)
    nanhu = load_layers(counties)["county"].set_index("area_id").loc["330402", "geometry"]
    p = nanhu.representative_point()
    g1 = shapely.box(p.x - 0.004, p.y - 0.002, p.x, p.y + 0.002)
    g2 = shapely.box(p.x, p.y - 0.002, p.x + 0.004, p.y + 0.002)
    code_frame(["G1", "G2"], [g1, g2]).to_file(root / "grids.geojson", driver="GeoJSON")
    m1 = shapely.box(p.x - 0.004, p.y - 0.002, p.x - 0.002, p.y + 0.002)
    m2 = shapely.box(p.x - 0.002, p.y - 0.002, p.x, p.y + 0.002)
    code_frame(["M1", "M2"], [m1, m2]).to_file(root / "micro.geojson", driver="GeoJSON")
    config = config_from_dict({
        "territory": {"name": "嘉兴市", "margin_m": 2000},
        "input": {"crs": "gcj02"},
        "layers": [
            {"name": "county", "path": str(jiaxing_counties_path), "id_field": "adcode",
             "name_field": "name", "kind": "admin", "crs": "gcj02"},
            {"name": "grid", "path": "grids.geojson", "id_field": "code", "kind": "grid",
             "parent": "county"},
            {"name": "microgrid", "path": "micro.geojson", "id_field": "code",
             "kind": "microgrid", "parent": "grid"},
        ]}, root=root)
    return config, load_layers(config)


@pytest.fixture(scope="module")
def area(project: tuple[Config, dict[str, gpd.GeoDataFrame]]) -> Any:
    config, layers = project
    return territory(layers, config.layers, margin_m=config.territory.margin_m)


def _records(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in ("lon", "lat"):
        if column not in frame:
            frame[column] = np.nan
        frame[column] = frame[column].astype(float)
    for column in ("coord_system", "reported_grid"):
        if column not in frame:
            frame[column] = None
        frame[column] = frame[column].astype("str")
    frame["issue_id"] = [f"P{i}" for i in range(len(frame))]
    frame["source_file"] = "export.csv"
    frame["source_row"] = np.arange(2, len(frame) + 2)
    frame.index = pd.RangeIndex(100, 100 + len(frame))  # placed rows keep the records' index
    return frame


def _gcj(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    return coords.wgs84_to_gcj02(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))


def _county_points(layers: dict[str, gpd.GeoDataFrame]) -> tuple[np.ndarray, np.ndarray,
                                                                   list[str]]:
    county = layers["county"]
    x, y = representative_xy(county)
    return x, y, county["area_id"].tolist()


# ------------------------------------------------------------------------------ real counties


def test_county_points_land_in_their_county(project: Any) -> None:
    config, layers = project
    x, y, ids = _county_points(layers)
    gx, gy = _gcj(x, y)
    bx, by = coords.wgs84_to_bd09(x, y)
    kx, ky = TO_GK.transform(x, y)
    rows = ([{"lon": a, "lat": b, "coord_system": "gcj02"} for a, b in zip(gx, gy, strict=True)]
            + [{"lon": a, "lat": b, "coord_system": "bd09"} for a, b in zip(bx, by, strict=True)]
            + [{"lon": a, "lat": b, "coord_system": "EPSG:4549"}
               for a, b in zip(kx, ky, strict=True)])
    placed, rejects = place_records(_records(rows), layers, config)
    assert rejects.empty
    assert placed["county_id"].tolist() == ids * 3
    assert np.allclose(placed["lon"], np.tile(x, 3), atol=1e-7)  # ~1 cm
    assert np.allclose(placed["lat"], np.tile(y, 3), atol=1e-7)
    assert (placed["location_flag"] == "").all()
    assert not placed["grid_mismatch"].any()
    assert list(placed.index) == list(range(100, 100 + len(rows)))
    # Away from the demo grids: outside every grid, so counted as unassigned there.
    assert unassigned_counts(placed, ["county", "grid", "microgrid"]) == {
        "county": 0, "grid": len(rows) - int(placed["grid_id"].notna().sum()),
        "microgrid": len(rows) - int(placed["microgrid_id"].notna().sum())}


def test_point_in_hangzhou_is_rejected(project: Any, area: Any) -> None:
    config, layers = project
    lon, lat = HANGZHOU_WEST_LAKE
    records = _records([{"lon": lon, "lat": lat, "coord_system": "wgs84"}])
    placed, rejects = place_records(records, layers, config, area=area)
    assert placed.empty
    assert list(rejects.columns) == list(REJECT_COLUMNS)
    reject = rejects.iloc[0]
    assert (reject["file"], reject["row"], reject["column"]) == ("export.csv", 2, "lon/lat")
    assert reject["value"] == "120.148, 30.245"
    assert "outside the territory" in reject["reason"]
    assert "嘉兴市" in reject["reason"] and "2,000 m" in reject["reason"]
    assert "120.148" in reject["reason"]


def test_swapped_lat_lon_is_repaired_and_flagged(project: Any, area: Any) -> None:
    config, layers = project
    x, y, ids = _county_points(layers)
    gx, gy = _gcj(x, y)
    rows = [{"lon": b, "lat": a} for a, b in zip(gx, gy, strict=True)]  # crs from [input]
    placed, rejects = place_records(_records(rows), layers, config, area=area)
    assert rejects.empty
    assert (placed["location_flag"] == "swapped").all()
    assert placed["county_id"].tolist() == ids
    assert np.allclose(placed["lon"], x, atol=1e-7)
    assert np.allclose(placed["lat"], y, atol=1e-7)


def test_swap_only_when_it_lands_inside(project: Any, area: Any) -> None:
    config, layers = project
    # Hangzhou swapped is still not in Jiaxing: rejected, not "repaired".
    lon, lat = HANGZHOU_WEST_LAKE
    placed, rejects = place_records(_records([{"lon": lat, "lat": lon, "coord_system": "wgs84"}]),
                                    layers, config, area=area)
    assert placed.empty and "also with lon and lat swapped" in rejects["reason"].iloc[0]


def test_missing_and_zero_coordinates_rejected(project: Any, area: Any) -> None:
    config, layers = project
    rows = [{"lon": 0.0, "lat": 0.0}, {"lon": 120.7, "lat": 0.0}, {"lon": np.nan, "lat": 30.7},
            {}, {"lon": 120.75, "lat": 30.75, "coord_system": "火星坐标系统X"}]
    placed, rejects = place_records(_records(rows), layers, config, area=area)
    assert placed.empty
    assert rejects["row"].tolist() == [2, 3, 4, 5, 6]
    reasons = rejects["reason"].tolist()
    assert reasons[0].startswith("coordinates are zero (0, 0)")
    assert reasons[1].startswith("coordinates are zero (120.7, 0)")
    assert reasons[2].startswith("coordinates missing") and reasons[3].startswith(
        "coordinates missing")
    assert all("no reported grid" in r for r in reasons[:4])
    assert rejects["column"].iloc[4] == "coord_system"
    assert "unknown coordinate system" in reasons[4]


# ------------------------------------------------------------------------------ grid fallback


def test_grid_fallback(project: Any, area: Any) -> None:
    config, layers = project
    rows = [{"reported_grid": "G1"}, {"reported_grid": " M2 ", "lon": 0.0, "lat": 0.0},
            {"reported_grid": "G9"}]
    placed, rejects = place_records(_records(rows), layers, config, area=area)
    assert placed["location_flag"].tolist() == ["grid_point", "grid_point"]
    assert placed["grid_id"].tolist() == ["G1", "G1"]
    assert placed["microgrid_id"].iloc[1] == "M2"
    assert placed["county_id"].tolist() == ["330402", "330402"]
    assert not placed["grid_mismatch"].any()
    g1 = layers["grid"].geometry.iloc[0]
    assert g1.contains(shapely.Point(placed["lon"].iloc[0], placed["lat"].iloc[0]))
    assert rejects["row"].tolist() == [4]
    assert "'G9' is not an id" in rejects["reason"].iloc[0]


def test_grid_fallback_switched_off(project: Any, area: Any) -> None:
    config, layers = project
    off = config_from_dict({"territory": {"name": "嘉兴市"},
                            "input": {"crs": "gcj02", "grid_fallback": False},
                            "layers": [{"name": s.name, "path": str(s.path),
                                        "id_field": s.id_field, "kind": s.kind, "crs": s.crs}
                                       for s in config.layers]}, root=config.root)
    placed, rejects = place_records(_records([{"reported_grid": "G1"}]), layers, off, area=area)
    assert placed.empty
    assert "grid_fallback = false" in rejects["reason"].iloc[0]


def test_grid_mismatch(project: Any) -> None:
    config, layers = project
    m1, m2 = (layers["microgrid"].geometry.iloc[i].representative_point() for i in (0, 1))
    g2 = layers["grid"].geometry.iloc[1].representative_point()
    cases = [(m1, "G1", False), (m1, "G2", True), (m1, None, False), (m1, "", False),
             (m1, "M1", False), (m2, "M1", True), (m2, "M2", False), (g2, "G2", False),
             (g2, "M1", True), (m1, "XYZ", True)]
    lon = pd.Series([c[0].x for c in cases])
    lat = pd.Series([c[0].y for c in cases])
    out = assign_areas(lon, lat, layers, config, reported_grid=[c[1] for c in cases])
    assert out["grid_mismatch"].tolist() == [c[2] for c in cases]
    # Without reported grids there is nothing to contradict.
    assert not assign_areas(lon, lat, layers, config)["grid_mismatch"].any()


# --------------------------------------------------------------------------- shared borders


def _layer(ids: list[str], geoms: list[Any]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"area_id": pd.array(ids, dtype="str"), "area_name": ids,
                             "parent_id": pd.array([None] * len(ids), dtype="str"),
                             "repaired": False}, geometry=geoms, crs="EPSG:4326")


def _spec(name: str, kind: str = "zone", **kw: Any) -> LayerSpec:
    return LayerSpec(name=name, path=Path("unused"), id_field="id", kind=kind, **kw)


def test_shared_edge_goes_to_one_area() -> None:
    left, right = shapely.box(120.70, 30.70, 120.71, 30.71), shapely.box(120.71, 30.70,
                                                                           120.72, 30.71)
    lon = np.array([120.71, 120.71, 120.705, 120.715, 120.71])
    lat = np.array([30.705, 30.71, 30.705, 30.705, 30.70])
    for geoms, ids in (([left, right], ["b", "a"]), ([right, left], ["a", "b"])):
        out = assign_areas(lon, lat, {"zone": _layer(ids, geoms)}, [_spec("zone")])
        assert out["zone_id"].tolist() == ["a", "a", "b", "a", "a"]


@settings(max_examples=40, deadline=None)
@given(ids=st.permutations([f"Z{i:02d}" for i in range(9)]),
       cells=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1,
                      max_size=30))
def test_border_rule_is_smallest_covering_id(ids: list[str],
                                              cells: list[tuple[int, int]]) -> None:
    # A 3 x 3 block of squares; points on a half-step lattice hit edges and corners. Steps
    # are powers of two so that the lattice and the corners are exact in binary.
    step = 2.0**-7
    squares = [shapely.box(120.5 + step * (k % 3), 30.5 + step * (k // 3),
                           120.5 + step * (k % 3 + 1), 30.5 + step * (k // 3 + 1))
               for k in range(9)]
    lon = np.array([120.5 + step / 2 * i for i, _ in cells])
    lat = np.array([30.5 + step / 2 * j for _, j in cells])
    out = assign_areas(lon, lat, {"zone": _layer(ids, squares)}, [_spec("zone")])
    for k, (x, y) in enumerate(zip(lon, lat, strict=True)):
        covering = [i for i, sq in zip(ids, squares, strict=True)
                    if sq.covers(shapely.Point(x, y))]
        assert out["zone_id"].iloc[k] == min(covering)


# ---------------------------------------------------------------------------------- redlines


def test_redline_inside_near_and_distance() -> None:
    # A 1 km square in the metric CRS (CGCS2000 GK, 120°E), so distances are exact there.
    x0, y0 = TO_GK.transform(120.75, 30.75)
    ring = np.array([(x0, y0), (x0 + 1000, y0), (x0 + 1000, y0 + 1000), (x0, y0 + 1000)])
    lon_ring, lat_ring = FROM_GK.transform(ring[:, 0], ring[:, 1])
    zone = shapely.Polygon(np.column_stack([lon_ring, lat_ring]))
    offsets = [(500, 500, 0.0), (1200, 500, 200.0), (1800, 500, 800.0),
               (1300, 1300, float(np.hypot(300, 300))), (-450, 500, 450.0),
               (11_000, 500, np.nan)]
    mx = np.array([x0 + dx for dx, _, _ in offsets])
    my = np.array([y0 + dy for _, dy, _ in offsets])
    lon, lat = FROM_GK.transform(mx, my)
    layers = {"redline": _layer(["R1"], [zone])}
    out = assign_areas(pd.Series(lon, index=list("abcdef")), pd.Series(lat), layers,
                       [_spec("redline", "redline", near_m=500.0)], metric_crs="EPSG:4549")
    assert list(out.index) == list("abcdef")
    assert out["in_redline"].tolist() == [True, False, False, False, False, False]
    assert out["near_redline"].tolist() == [True, True, False, True, True, False]
    assert out["redline_id"].iloc[0] == "R1" and out["redline_id"].iloc[1:].isna().all()
    expected = np.array([d for _, _, d in offsets])
    np.testing.assert_allclose(out["redline_dist_m"], expected, atol=0.01)
    # The same distance measured on the ellipsoid agrees to the scale error of the projection.
    foot_lon, foot_lat = FROM_GK.transform(x0 + 1000, y0 + 500)
    _, _, geodesic = Geod(ellps="WGS84").inv(lon[1], lat[1], foot_lon, foot_lat)
    assert out["redline_dist_m"].iloc[1] == pytest.approx(geodesic, rel=1e-3)


def test_redline_metric_crs_from_layers() -> None:
    zone = shapely.box(120.75, 30.75, 120.76, 30.76)
    out = assign_areas([120.765], [30.755], {"redline": _layer(["R1"], [zone])},
                       [_spec("redline", "redline", near_m=1000.0)])
    _, _, metres = Geod(ellps="WGS84").inv(120.765, 30.755, 120.76, 30.755)
    assert out["redline_dist_m"].iloc[0] == pytest.approx(metres, rel=1e-3)
    assert bool(out["near_redline"].iloc[0])


# ------------------------------------------------------------------------------ accounting


_KINDS = st.sampled_from(["inside", "swapped", "outside", "zero", "missing", "grid", "badgrid"])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(_KINDS, max_size=25))
def test_every_row_is_placed_or_rejected(project: Any, area: Any, kinds: list[str]) -> None:
    config, layers = project
    x, y, _ = _county_points(layers)
    gx, gy = _gcj(x, y)
    make = {
        "inside": {"lon": gx[0], "lat": gy[0]},
        "swapped": {"lon": gy[1], "lat": gx[1]},
        "outside": {"lon": 116.4, "lat": 39.9},
        "zero": {"lon": 0.0, "lat": 0.0},
        "missing": {},
        "grid": {"reported_grid": "G2"},
        "badgrid": {"reported_grid": "nope"},
    }
    records = _records([make[k] for k in kinds]) if kinds else _records([{}]).iloc[:0]
    placed, rejects = place_records(records, layers, config, area=area)
    assert len(placed) + len(rejects) == len(records)
    assert set(rejects["row"]).isdisjoint(set(placed["source_row"]))
    placed_kinds = {"inside", "swapped", "grid"}
    assert len(placed) == sum(k in placed_kinds for k in kinds)
    assert placed["county_id"].notna().all()
    assert rejects["reason"].str.len().gt(20).all()

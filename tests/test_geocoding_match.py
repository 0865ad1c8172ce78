"""Addresses placed against the gazetteer: gridwatch.geocoding.gazetteer and .match."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from gridwatch.config import load_config
from gridwatch.geocoding.gazetteer import build_gazetteer
from gridwatch.geocoding.match import geocode_addresses
from gridwatch.placing import coords
from gridwatch.placing.layers import load_layers, locate_points
from tests._geocoding_project import write_project
from tests.helpers import lonlat_from_metres

# Where the address points and earlier problems are, in metres (see tests/_geocoding_project).
POINTS = {"嘉善县魏塘街道体育南路88号": (4500.0, 500.0),
          "嘉善县魏塘街道体育南路120号": (5500.0, 500.0)}
HISTORY = {"南湖区凤桥镇三星村工业路6号": (2300.0, 300.0),
           "南湖区凤桥镇三星村工业路6号 ": (2340.0, 300.0)}  # seen twice, 40 m apart
_GEOD = Geod(ellps="WGS84")


def _metres(lon1, lat1, lon2, lat2) -> float:
    return float(_GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.fixture
def project(tmp_path: Path):
    """The project with a points CSV in GCJ-02 (as traced on a Chinese web map)."""
    x, y = zip(*POINTS.values(), strict=True)
    lon, lat = lonlat_from_metres(x, y)
    glon, glat = coords.wgs84_to_gcj02(np.asarray(lon), np.asarray(lat))
    pd.DataFrame({"地址": list(POINTS), "经度": glon, "纬度": glat}).to_csv(
        tmp_path / "门牌.csv", index=False, encoding="utf-8-sig")
    path = write_project(tmp_path, """
[geocoding.points]
path = "门牌.csv"
address_field = "地址"
lon_field = "经度"
lat_field = "纬度"
crs = "gcj02"
""")
    config = load_config(path)
    layers = load_layers(config)
    hx, hy = zip(*HISTORY.values(), strict=True)
    hlon, hlat = lonlat_from_metres(hx, hy)
    history = pd.DataFrame({"address": list(HISTORY), "lon": hlon, "lat": hlat})
    return config, layers, build_gazetteer(config, layers, history=history)


def _geocode(project, *texts: str, **options) -> pd.DataFrame:
    _config, _layers, gazetteer = project
    return geocode_addresses(pd.Series(list(texts)), gazetteer, **options)


def _area_of(project, layer: str, lon: float, lat: float) -> str:
    _config, layers, _g = project
    pos = locate_points(np.array([lon]), np.array([lat]), layers[layer])[0]
    return str(layers[layer]["area_id"].iloc[pos]) if pos >= 0 else ""


def test_gazetteer_sizes_per_source(project) -> None:
    _config, _layers, gazetteer = project
    assert gazetteer.sizes() == {"area:county": 2, "area:town": 4, "area:village": 8,
                                 "address_point": 2, "history": 2}
    assert gazetteer.levels == ("county", "town", "village")


def test_address_point_is_exact_after_its_gcj02_is_undone(project) -> None:
    found = _geocode(project, "嘉善县 魏塘街道 体育南路 ８８ 號")
    row = found.iloc[0]
    assert row["geocode_source"] == "address_point" and row["precision_m"] == 30.0
    lon, lat = lonlat_from_metres(*POINTS["嘉善县魏塘街道体育南路88号"])
    assert _metres(row["lon"], row["lat"], lon, lat) < 0.01


def test_history_precision_is_its_spread(project) -> None:
    row = _geocode(project, "南湖区凤桥镇三星村工业路6号").iloc[0]
    assert row["geocode_source"] == "history"
    # two sightings 40 m apart: the median is between them, each 20 m away
    assert row["precision_m"] == 30.0
    lon, lat = lonlat_from_metres(2320.0, 300.0)
    assert _metres(row["lon"], row["lat"], lon, lat) < 0.5


def test_road_with_the_nearest_house_number(project) -> None:
    found = _geocode(project, "嘉善县魏塘街道体育南路90号", "嘉善县魏塘街道体育南路116号",
                     "嘉善县魏塘街道体育南路")
    assert found["geocode_source"].tolist() == ["road"] * 3
    # near a house number: 300 m; the middle of the road: the spread of its points (two
    # points 1,000 m apart, each 500 m from their median)
    assert found["precision_m"].tolist()[:2] == [300.0, 300.0]
    assert found["precision_m"].iloc[2] == pytest.approx(500.0, rel=0.01)
    near88 = lonlat_from_metres(*POINTS["嘉善县魏塘街道体育南路88号"])
    near120 = lonlat_from_metres(*POINTS["嘉善县魏塘街道体育南路120号"])
    assert _metres(found["lon"].iloc[0], found["lat"].iloc[0], *near88) < 0.01
    assert _metres(found["lon"].iloc[1], found["lat"].iloc[1], *near120) < 0.01
    # without a number: the middle (median) of the road's points
    middle = lonlat_from_metres(5000.0, 500.0)
    assert _metres(found["lon"].iloc[2], found["lat"].iloc[2], *middle) < 1.0


def test_a_number_far_between_known_ones_is_as_imprecise_as_the_gap(project) -> None:
    """104 lies between 88 and 120 (1,000 m apart), half way by its number: placed at the
    nearer (88, the first of equals) with a radius of half the gap."""
    found = _geocode(project, "嘉善县魏塘街道体育南路104号", "嘉善县魏塘街道体育南路112号")
    assert found["geocode_source"].tolist() == ["road", "road"]
    assert found["precision_m"].iloc[0] == pytest.approx(1000.0 * 16 / 32, rel=0.01)
    # 112: 8 from 120, 24 from 88: a quarter of the gap, 250 m, under a road's 300 m
    assert found["precision_m"].iloc[1] == 300.0
    near88 = lonlat_from_metres(*POINTS["嘉善县魏塘街道体育南路88号"])
    assert _metres(found["lon"].iloc[0], found["lat"].iloc[0], *near88) < 0.01


def test_a_road_is_not_taken_for_its_east_or_second_section(project) -> None:
    """中山路 and 中山东路, 永安路 and 永安二路 are different roads however alike (ratio 86):
    the direction and section words must agree."""
    config, layers, _gazetteer = project
    lon, lat = lonlat_from_metres([2300.0, 2500.0], [600.0, 3500.0])
    history = pd.DataFrame({"address": ["南湖区凤桥镇中山东路5号", "南湖区凤桥镇永安二路9号"],
                            "lon": lon, "lat": lat})
    gazetteer = build_gazetteer(config, layers, history=history)
    found = geocode_addresses(pd.Series(["南湖区凤桥镇中山路5号", "南湖区凤桥镇永安路9号",
                                         "南湖区凤桥镇永安二路7号"]), gazetteer)
    assert found["geocode_source"].tolist() == ["town", "town", "road"]
    assert _metres(found["lon"].iloc[2], found["lat"].iloc[2], lon[1], lat[1]) < 0.01


def test_village_town_and_county_precision_is_their_size(project) -> None:
    found = _geocode(project, "南湖区长虹镇新丰村三组东侧河道", "南湖区凤桥镇某处", "嘉善县")
    assert found["geocode_source"].tolist() == ["village", "town", "county"]
    # equal-area radii of 2 x 2 km, 2 x 4 km and 4 x 4 km rectangles
    expected = [math.sqrt(4e6 / math.pi), math.sqrt(8e6 / math.pi), math.sqrt(16e6 / math.pi)]
    assert found["precision_m"].to_numpy() == pytest.approx(expected, rel=1e-3)
    areas = [_area_of(project, layer, lon, lat) for layer, lon, lat in zip(
        ["village", "town", "county"], found["lon"], found["lat"], strict=True)]
    assert areas == ["V1", "T2", "330421"]


def test_namesakes_in_other_towns_are_never_taken(project) -> None:
    found = _geocode(project, "长虹镇新丰村", "魏塘街道新丰村", "南湖区新丰村", "嘉善县新丰村5组",
                     "新丰村")
    villages = [_area_of(project, "village", lon, lat) if np.isfinite(lon) else ""
                for lon, lat in zip(found["lon"], found["lat"], strict=True)]
    assert villages == ["V1", "V5", "V1", "V5", ""]
    reason = found["reason"].iloc[4]
    assert "新丰村 in 长虹镇 (100)" in reason and "新丰村 in 魏塘街道 (100)" in reason
    assert found["reason"].iloc[:4].isna().all()


def test_too_coarse_or_too_unlike_is_rejected_with_candidates(project) -> None:
    found = _geocode(project, "嘉善县", "嘉善县魏塘街道体育路92号", max_precision_m=1500.0,
                     min_score=90.0)
    assert found["lon"].isna().all() and (found["geocode_source"] == "").all()
    assert found["reason"].iloc[0].startswith(
        "address '嘉善县' is placed only at county '嘉善县' (radius 2,257 m, coarser than "
        "[geocoding] max_precision_m = 1,500 m); best candidates: ")
    # 体育路 is like 体育南路 (rapidfuzz ratio 85.7) but below 90: named, not taken; the
    # town (radius 1,596 m) is too coarse
    assert found["reason"].iloc[1].startswith(
        "address '嘉善县魏塘街道体育路92号' is placed only at town '魏塘街道' (radius 1,596 m")
    assert "road 体育南路 (86)" in found["reason"].iloc[1]
    # ... and not taken at the default threshold either: 南 makes it another road (体育路
    # and 体育南路 are two roads); the town places it
    assert _geocode(project, "嘉善县魏塘街道体育路92号").iloc[0]["geocode_source"] == "town"
    # a typo is taken at a threshold it reaches, with its score (休育南路: ratio 75)
    taken = _geocode(project, "嘉善县魏塘街道休育南路92号", min_score=70.0).iloc[0]
    assert taken["geocode_source"] == "road"
    assert taken["geocode_score"] == pytest.approx(75.0)


def test_result_keeps_the_index(project) -> None:
    _config, _layers, gazetteer = project
    found = geocode_addresses(pd.Series(["嘉善县", None], index=[10, 3]), gazetteer)
    assert list(found.index) == [10, 3]
    assert found["geocode_source"].tolist() == ["county", ""]


_CHARS = "新丰村镇路街道一二三网格长虹体育南北12ab"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.text(_CHARS, min_size=1, max_size=14), min_size=1, max_size=25),
       names=st.lists(st.text(_CHARS, min_size=1, max_size=9), min_size=1, max_size=12),
       min_score=st.sampled_from([40.0, 60.0, 75.0, 85.0, 90.0, 100.0]),
       block=st.integers(1, 30))
def test_prefiltered_fuzzy_names_equal_comparing_every_pair(texts, names, min_score,
                                                            block) -> None:
    """best_partial skips pairs that cannot reach the score: the answer is that of the full
    rapidfuzz matrix (best score, first of equals)."""
    from rapidfuzz import fuzz, process

    from gridwatch.geocoding.match import best_partial

    best, score = best_partial(texts, names, min_score, block=block)
    matrix = process.cdist(texts, names, scorer=fuzz.partial_ratio)
    top = matrix.argmax(axis=1)
    top_score = matrix[np.arange(len(texts)), top]
    good = top_score >= min_score
    assert best.tolist() == np.where(good, top, -1).tolist()
    assert score[good] == pytest.approx(top_score[good])
    assert np.isnan(score[~good]).all()


def test_each_distinct_address_is_matched_once(project, monkeypatch) -> None:
    """Repeated addresses (and postcodes) are matched once; every row gets its answer."""
    import gridwatch.geocoding.match as match

    calls = []
    original = match.address_keys
    monkeypatch.setattr(match, "address_keys", lambda texts: calls.append(len(texts))
                        or original(texts))
    texts = ["嘉善县魏塘街道体育南路90号", "南湖区长虹镇新丰村", "嘉善县魏塘街道体育南路90号",
             "嘉兴市新丰村", "南湖区长虹镇新丰村"]
    found = _geocode(project, *texts)
    assert calls == [3]
    single = pd.concat([_geocode(project, t) for t in texts], ignore_index=True)
    pd.testing.assert_frame_equal(found.reset_index(drop=True), single)

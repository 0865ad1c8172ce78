"""Offline maps: no URL leaves the machine, and user text never becomes markup or script."""

from __future__ import annotations

import re
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridwatch.output.palette import CODE_COLOURS
from gridwatch.ui import maps as mapping

HOSTILE = "<img src=x onerror=alert(1)>${alert(document.cookie)}`\\"
URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


@pytest.fixture(scope="module")
def counties(jiaxing_counties_path: Path) -> gpd.GeoDataFrame:
    frame = gpd.read_file(jiaxing_counties_path)
    frame["overdue"] = range(len(frame))
    frame["label"] = frame["name"] + HOSTILE
    return frame


def _full_map(counties: gpd.GeoDataFrame, base_url: str = "app/static/gridwatch") -> folium.Map:
    fmap = mapping.make_map(counties.total_bounds, base_url=base_url)
    mapping.add_areas(fmap, counties, value_column="overdue", name="县区" + HOSTILE,
                      fields={"label": "名称", "overdue": "超期"},
                      highlight=counties["overdue"] >= 5)
    points = pd.DataFrame({"lon": [120.75, 120.8, 120.9], "lat": [30.7, 30.75, 30.8],
                           "code": ["red", "yellow", "green"],
                           "description": [HOSTILE, "正常", None]})
    mapping.add_points(fmap, points, base_url=base_url, popup_columns={"description": "描述"})
    mapping.add_heat(fmap, points["lon"], points["lat"], base_url=base_url)
    mapping.add_overlay(fmap, counties, name="红线", label_column="label", colour="#c00")
    mapping.add_legend(fmap, "超期问题" + HOSTILE, {"0": "#fff", "5+": "#a50f15"})
    folium.LayerControl().add_to(fmap)
    return fmap


def test_map_page_names_no_remote_url(counties: gpd.GeoDataFrame) -> None:
    page = mapping.map_html(_full_map(counties))
    assert URL.findall(page) == []
    for asset in ("leaflet/leaflet.js", "leaflet/leaflet.css", "jquery/jquery.min.js",
                  "markercluster/leaflet.markercluster.js", "heat/leaflet_heat.min.js"):
        assert f"app/static/gridwatch/{asset}" in page


def test_the_scale_bar_is_metric_only(counties: gpd.GeoDataFrame) -> None:
    page = mapping.map_html(_full_map(counties))
    assert page.count("L.control.scale(") == 1
    assert "L.control.scale({metric: true, imperial: false})" in page


def test_hostile_text_is_escaped_everywhere(counties: gpd.GeoDataFrame) -> None:
    page = mapping.map_html(_full_map(counties))
    assert "<img src=x" not in page
    assert "${alert" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;&#36;{alert(document.cookie)}&#96;&#92;" in page


def test_inline_page_is_self_contained(counties: gpd.GeoDataFrame) -> None:
    page = mapping.map_html(_full_map(counties, base_url="assets"), inline_assets=True)
    assert 'src="assets/' not in page and 'href="assets/' not in page
    assert "L.Map" in page or "L.map" in page  # Leaflet itself is inside


def test_install_assets_copies_every_file(tmp_path: Path) -> None:
    root = mapping.install_assets(tmp_path / "static")
    for relative, source in mapping.asset_files().items():
        assert (root / relative).read_bytes() == source.read_bytes()
    assert (root / "leaflet/images/layers.png").is_file()


def test_hotspot_bins_use_arcgis_colours(counties: gpd.GeoDataFrame) -> None:
    frame = counties.assign(bin=[-3, -2, -1, 0, 1, 2, 3])
    fmap = mapping.make_map(frame.total_bounds)
    layer = mapping.add_areas(fmap, frame, value_column="bin", by_bin=True, name="Gi*",
                              fields={"name": "名称", "bin": "置信区间"})
    fills = [layer.style_function(f)["fillColor"] for f in layer.data["features"]]
    # ArcGIS Hot Spot Analysis: cold 99/95/90 %, not significant, hot 90/95/99 %
    assert fills == ["#4575b5", "#849eba", "#c0ccbe", "#f7f7f2", "#fab984", "#ed7551", "#d62f27"]


@given(st.text(max_size=40))
def test_escape_text_leaves_no_active_character(text: str) -> None:
    escaped = mapping.escape_text(text)
    for char in "<>\"'`$\\":
        assert char not in escaped
    assert escaped.replace("&#36;", "$").replace("&#96;", "`").replace("&#92;", "\\") \
        .replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"') \
        .replace("&#x27;", "'").replace("&amp;", "&") == text


def test_points_red_on_top_clusters_take_the_worst_code(counties: gpd.GeoDataFrame) -> None:
    fmap = mapping.make_map(counties.total_bounds, prefer_canvas=False)
    points = pd.DataFrame({"lon": [120.75, 120.8, 120.9], "lat": [30.7, 30.75, 30.8],
                           "code": ["red", "green", "yellow"]})
    mapping.add_points(fmap, points, limit=2)
    page = mapping.map_html(fmap)
    assert "preferCanvas" not in page or '"preferCanvas": false' in page
    colours = re.findall(r'"color": "(#[0-9a-f]{6})"', page)
    red, yellow, green = (CODE_COLOURS[c] for c in ("red", "yellow", "green"))
    assert colours[-2:] == [yellow, red]  # green cut by the limit, red drawn last
    assert green not in colours
    assert "iconCreateFunction" in page and f'indexOf("{red}")' in page

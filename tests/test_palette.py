"""One palette: the map, its legend and the KML file show the same colours and words.

Each user is read from what it writes (the map's HTML page, the legend's HTML, the KML file), and
the users are compared with each other, so a colour or label that drifts in any one fails here.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import defusedxml.ElementTree as DET
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridwatch.hotspots import gi_star
from gridwatch.output.files import write_layer
from gridwatch.supervision.codes import CODES
from gridwatch.ui import maps as mapping
from gridwatch.ui.i18n import code_label

KML_NS = {"k": "http://www.opengis.net/kml/2.2"}
BINS = (-3, -2, -1, 0, 1, 2, 3)
LEGEND_ROW = re.compile(r'background:(#[0-9a-fA-F]{6});[^>]*></span>([^<]*)</div>')
STYLER = re.compile(r'_styler\(feature\) \{(.*?)\n        \}', re.S)
STYLER_PART = re.compile(r'case (.+?):|(default):|return (\{.*?\});')
MARKER = re.compile(r'L\.circleMarker\(\s*\[([-\d.]+), ([-\d.]+)\],\s*(\{.*?\})\s*\)')


def _bin_areas() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"area_id": [f"a{b + 3}" for b in BINS], "area_name": [f"区{b + 3}" for b in BINS],
         "bin": list(BINS)},
        geometry=[shapely.box(120.7 + i / 10, 30.7, 120.79 + i / 10, 30.79)
                  for i in range(len(BINS))], crs="EPSG:4326")


def _code_points() -> gpd.GeoDataFrame:
    lat = 30.70 + np.arange(len(CODES)) / 100
    return gpd.GeoDataFrame({"issue_id": [f"p{i}" for i in range(len(CODES))],
                             "code": list(CODES), "lon": 120.75, "lat": lat},
                            geometry=gpd.points_from_xy(np.full(len(CODES), 120.75), lat),
                            crs="EPSG:4326")


def _hex(value: str) -> str:
    return value.lower()


def _kml_colours(path: Path, *, polygon: bool) -> dict[str, str]:
    """Placemark name → the #rrggbb its style draws (fill for polygons, icon for points)."""
    root = DET.parse(path).getroot()
    styles = {s.get("id"): s for s in root.findall("k:Document/k:Style", KML_NS)}
    out = {}
    for mark in root.findall(".//k:Placemark", KML_NS):
        style = styles[mark.find("k:styleUrl", KML_NS).text.lstrip("#")]
        abgr = style.find("k:PolyStyle/k:color" if polygon else "k:IconStyle/k:color",
                          KML_NS).text
        out[mark.find("k:name", KML_NS).text] = f"#{abgr[6:8]}{abgr[4:6]}{abgr[2:4]}".lower()
    return out


def _legend(page: str) -> dict[str, str]:
    """Label → colour of every row of the legends on a map page."""
    return {html.unescape(label): _hex(colour) for colour, label in LEGEND_ROW.findall(page)}


def _map_bin_fills(areas: gpd.GeoDataFrame) -> dict[int, str]:
    """Bin → the fill colour the folium page gives the area holding it."""
    fmap = mapping.make_map(areas.total_bounds, prefer_canvas=False)
    # the tooltip field comes first, so the page's style switch is keyed by the bin itself
    mapping.add_areas(fmap, areas, value_column="bin", by_bin=True, name="Gi*",
                      fields={"bin": "bin"})
    page = mapping.map_html(fmap)
    assert "switch(feature.properties.bin)" in page
    # folium writes `case v: ... return {style};` per style and the commonest as `default:`
    styles: dict[object, str] = {}
    pending: list[object] = []
    for case, _default, style in STYLER_PART.findall(STYLER.search(page).group(1)):
        if style:
            styles.update(dict.fromkeys(pending, _hex(json.loads(style)["fillColor"])))
            pending = []
        else:
            pending.append(int(json.loads(case)) if case else "default")
    return {b: styles.get(b, styles.get("default", "")) for b in areas["bin"]}


def _map_code_colours(points: pd.DataFrame) -> dict[str, str]:
    """Code → the colour of the circle the folium page draws for a problem with that code."""
    fmap = mapping.make_map([120.7, 30.6, 120.8, 30.8], prefer_canvas=False)
    mapping.add_points(fmap, points)
    by_lat = dict(zip(points["lat"].round(6), points["code"], strict=True))
    found = {}
    for lat, _lon, options in MARKER.findall(mapping.map_html(fmap)):
        style = json.loads(options)
        assert style["color"] == style["fillColor"]
        found[by_lat[round(float(lat), 6)]] = _hex(style["color"])
    return found


def test_bins_look_the_same_on_the_map_in_its_legend_and_in_kml(tmp_path: Path) -> None:
    areas = _bin_areas()
    on_map = _map_bin_fills(areas)
    names = dict(zip(areas["area_name"], areas["bin"], strict=True))
    in_kml = {names[name]: colour for name, colour in
              _kml_colours(write_layer(areas, tmp_path / "bins.kml", style_column="bin"),
                           polygon=True).items()}
    fmap = mapping.make_map(areas.total_bounds)
    mapping.add_legend(fmap, "zh", mapping.bin_legend("zh"))
    mapping.add_legend(fmap, "en", mapping.bin_legend("en"))
    legend = _legend(mapping.map_html(fmap))
    kml_text = (tmp_path / "bins.kml").read_text(encoding="utf-8")
    for lang in ("zh", "en"):
        labels = {b: label for label, b in
                  zip(mapping.bin_legend(lang), sorted(BINS, reverse=True), strict=True)}
        in_legend = {b: legend[label] for b, label in labels.items()}
        assert in_legend == on_map
        assert len(set(labels.values())) == len(BINS)
        for label in labels.values():  # the KML balloon spells out the legend's words
            assert label in kml_text
    assert set(on_map) == set(BINS)
    assert in_kml == on_map
    assert len(set(on_map.values())) == len(BINS)


def test_codes_look_the_same_on_the_map_in_its_legend_and_in_kml(tmp_path: Path) -> None:
    points = _code_points()
    on_map = _map_code_colours(points)
    names = dict(zip(points["issue_id"], points["code"], strict=True))
    in_kml = {names[name]: colour for name, colour in _kml_colours(
        write_layer(points.drop(columns=["lon", "lat"]), tmp_path / "codes.kml",
                    name_column="issue_id", style_column="code"), polygon=False).items()}
    fmap = mapping.make_map(points.total_bounds)
    mapping.add_legend(fmap, "codes", mapping.code_legend(CODES))
    legend = _legend(mapping.map_html(fmap))
    in_legend = {code: legend[code_label(code)] for code in CODES}
    assert set(on_map) == set(CODES)
    assert in_kml == on_map
    assert in_legend == on_map
    assert len(set(on_map.values())) == len(CODES)


def test_results_label_bins_as_the_legend_does() -> None:
    """The ``label`` column of a Gi* result reads like the map's legend for the same bin."""
    grid = [shapely.box(120.7 + i / 100, 30.7 + j / 100, 120.71 + i / 100, 30.71 + j / 100)
            for i in range(6) for j in range(6)]
    areas = gpd.GeoDataFrame({"area_id": [f"g{k}" for k in range(36)],
                              "area_name": [f"格{k}" for k in range(36)]},
                             geometry=grid, crs="EPSG:4326")
    values = np.zeros(36)
    values[:8] = 30.0  # one strong cluster in a corner
    result = gi_star(areas, values, permutations=99, seed=1)
    legend = {colour: label for label, colour in mapping.bin_legend("zh").items()}
    fills = _map_bin_fills(_bin_areas())
    seen = result.drop_duplicates("bin")
    assert len(seen) >= 2
    for bin_value, label in zip(seen["bin"], seen["label"], strict=True):
        assert legend[fills[int(bin_value)]] == label

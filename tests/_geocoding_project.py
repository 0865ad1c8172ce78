"""A small project for the geocoding tests: two counties, four towns, villages with a namesake.

Layout (metres east/north of a point in Nanhu, see ``tests.helpers.lonlat_from_metres``):
county 南湖区 (330402) is x 0..4000, 嘉善县 (330421) x 4000..8000, both y 0..4000; each county
has two towns (west/east halves), each town two villages (south/north halves). The village
新丰村 exists in 长虹镇 (南湖区) and in 魏塘街道 (嘉善县): a namesake.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.geometry import Polygon

from tests.helpers import lonlat_from_metres

COUNTIES = (("330402", "南湖区", 0.0), ("330421", "嘉善县", 4000.0))
#: town id, name, county id, x0 (metres); each town is 2000 m wide and 4000 m tall
TOWNS = (("T1", "长虹镇", "330402", 0.0), ("T2", "凤桥镇", "330402", 2000.0),
         ("T3", "魏塘街道", "330421", 4000.0), ("T4", "西塘镇", "330421", 6000.0))
#: village id, name, town id, south (0) or north (1) half
VILLAGES = (("V1", "新丰村", "T1", 0), ("V2", "永红村", "T1", 1),
            ("V3", "三星村", "T2", 0), ("V4", "联丰村", "T2", 1),
            ("V5", "新丰村", "T3", 0), ("V6", "体育社区", "T3", 1),
            ("V7", "荷花村", "T4", 0), ("V8", "南栅社区", "T4", 1))


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """A WGS84 polygon of a rectangle given in metres (edges densified, so it stays exact)."""
    import numpy as np

    steps = np.linspace(0.0, 1.0, 9)
    xs = np.concatenate([x0 + (x1 - x0) * steps, np.full(9, x1), x1 - (x1 - x0) * steps,
                         np.full(9, x0)])
    ys = np.concatenate([np.full(9, y0), y0 + (y1 - y0) * steps, np.full(9, y1),
                         y1 - (y1 - y0) * steps])
    lon, lat = lonlat_from_metres(xs, ys)
    return Polygon(list(zip(lon, lat, strict=True)))


def town_x0(town: str) -> float:
    return next(t[3] for t in TOWNS if t[0] == town)


def write_project(root: Path, extra_toml: str = "") -> Path:
    """Write the layers and a gridwatch.toml with ``[geocoding] enabled``; return its path."""
    gpd.GeoDataFrame([{"code": c, "name": n, "geometry": rect(x, 0, x + 4000, 4000)}
                      for c, n, x in COUNTIES], crs="EPSG:4326").to_file(root / "county.geojson")
    gpd.GeoDataFrame([{"code": c, "name": n, "county": p, "geometry": rect(x, 0, x + 2000, 4000)}
                      for c, n, p, x in TOWNS], crs="EPSG:4326").to_file(root / "town.geojson")
    gpd.GeoDataFrame([{"code": c, "name": n, "town": t,
                       "geometry": rect(town_x0(t), h * 2000, town_x0(t) + 2000, h * 2000 + 2000)}
                      for c, n, t, h in VILLAGES], crs="EPSG:4326").to_file(
        root / "village.geojson")
    toml = """
[territory]
name = "测试市"
margin_m = 500
metric_crs = "EPSG:4549"

[input]
crs = "wgs84"

[geocoding]
enabled = true

[[layers]]
name = "county"
path = "county.geojson"
id_field = "code"
name_field = "name"
kind = "admin"

[[layers]]
name = "town"
path = "town.geojson"
id_field = "code"
name_field = "name"
kind = "admin"
parent = "county"
parent_field = "county"

[[layers]]
name = "village"
path = "village.geojson"
id_field = "code"
name_field = "name"
kind = "admin"
parent = "town"
parent_field = "town"
""" + extra_toml
    path = root / "gridwatch.toml"
    path.write_text(toml, encoding="utf-8")
    return path

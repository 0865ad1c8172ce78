"""A small project for the app tests: six nested layers built in code and ~150 problems.

Used by tests/test_app.py, tests/test_views.py and tests/test_browser.py (not a test module).
Layout (WGS84): two counties side by side, each split into two towns (south/north), each town
into two grids (west/east), each grid into two micro-grids (south/north); two river basins
(west/east of 120.78°E) and one redline zone inside grid G111 with its 500 m belt. Overdue
problems are concentrated in grid G111 so it is an overdue hotspot.
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from helpers import sqlite_url
from shapely.geometry import box

HOSTILE = "<img src=x onerror=alert(1)>${alert(document.cookie)}"
FORMULA = '=HYPERLINK("x","click")'
AS_OF = "2026-10-31"
WEST, EAST, SOUTH, NORTH = 120.70, 120.90, 30.70, 30.78
REDLINE_BOX = (120.705, 30.705, 120.715, 30.715)
CATEGORY_ZH = {"water": "水污染", "air": "大气污染", "solid_waste": "固废", "noise": "噪声"}
STATUS_ZH = {"reported": "待交办", "assigned": "已交办", "rectifying": "整改中",
             "closed": "已办结"}


def _layers() -> dict[str, gpd.GeoDataFrame]:
    counties, towns, grids, micro = [], [], [], []
    for c, (x0, x1) in enumerate(((120.70, 120.80), (120.80, 120.90)), start=1):
        counties.append({"code": f"C{c}", "name": f"测试县{c}", "parent": None,
                         "geometry": box(x0, SOUTH, x1, NORTH)})
        for t, (y0, y1) in enumerate(((30.70, 30.74), (30.74, 30.78)), start=1):
            town = f"T{c}{t}"
            towns.append({"code": town, "name": f"测试镇{c}{t}", "parent": f"C{c}",
                          "geometry": box(x0, y0, x1, y1)})
            xm = (x0 + x1) / 2
            for g, (gx0, gx1) in enumerate(((x0, xm), (xm, x1)), start=1):
                grid = f"G{c}{t}{g}"
                grids.append({"code": grid, "name": f"网格{c}{t}{g}", "parent": town,
                              "geometry": box(gx0, y0, gx1, y1)})
                ym = (y0 + y1) / 2
                for m, (my0, my1) in enumerate(((y0, ym), (ym, y1)), start=1):
                    micro.append({"code": f"{grid}M{m}", "name": f"微网格{c}{t}{g}{m}",
                                  "parent": grid, "geometry": box(gx0, my0, gx1, my1)})
    basins = [{"code": "B1", "name": "运河流域", "parent": None,
               "geometry": box(WEST, SOUTH, 120.78, NORTH)},
              {"code": "B2", "name": "太浦河流域", "parent": None,
               "geometry": box(120.78, SOUTH, EAST, NORTH)}]
    redlines = [{"code": "RL1", "name": "湘家荡水源保护区", "parent": None,
                 "geometry": box(*REDLINE_BOX)}]
    return {name: gpd.GeoDataFrame(rows, crs="EPSG:4326") for name, rows in (
        ("county", counties), ("town", towns), ("grid", grids), ("microgrid", micro),
        ("basin", basins), ("redline", redlines))}


_KINDS = {"county": ("admin", None), "town": ("admin", "county"), "grid": ("grid", "town"),
          "microgrid": ("microgrid", "grid"), "basin": ("basin", None),
          "redline": ("redline", None)}


def _config(folder: Path) -> Path:
    parts = ['[territory]', 'name = "测试市"', 'timezone = "Asia/Shanghai"', "margin_m = 500",
             "", "[input]", 'crs = "wgs84"', "max_file_mb = 1", "",
             "[deadlines]", 'unit = "calendar"', "default_days = 10", "",
             "[hotspots]", "rule_min_overdue = 20", "rule_min_rate = 0.95",
             "rule_min_problems = 30"]
    for name, (kind, parent) in _KINDS.items():
        parts += ["", "[[layers]]", f'name = "{name}"', f'path = "{name}.geojson"',
                  'id_field = "code"', 'name_field = "name"', f'kind = "{kind}"',
                  'crs = "wgs84"']
        if parent:
            parts += [f'parent = "{parent}"', 'parent_field = "parent"']
        if kind == "redline":
            parts.append("near_m = 500")
    path = folder / "gridwatch.toml"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


def problem_rows(n: int = 150, *, seed: int = 7) -> pd.DataFrame:
    """Problems as a platform export shows them (Chinese headers), deterministic for a seed."""
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(AS_OF)
    hot = np.arange(n) < n // 4  # a quarter of the problems sit in grid G111, mostly overdue
    lon = np.where(hot, rng.uniform(120.702, 120.748, n), rng.uniform(120.702, 120.898, n))
    lat = np.where(hot, rng.uniform(30.702, 30.738, n), rng.uniform(30.702, 30.778, n))
    age = np.where(hot, rng.integers(15, 60, n), rng.integers(0, 30, n))
    reported = [end - pd.Timedelta(days=int(a)) + pd.Timedelta(hours=9) for a in age]
    closed_flag = np.where(hot, rng.random(n) < 0.1, rng.random(n) < 0.6)
    categories = list(CATEGORY_ZH)
    rows = []
    for i in range(n):
        status = "closed" if closed_flag[i] else ("reported", "assigned", "rectifying")[i % 3]
        closed_at = (reported[i] + pd.Timedelta(days=int(rng.integers(2, 14))))
        if closed_at > end:
            closed_at = end - pd.Timedelta(hours=1)
        rows.append({
            "问题编号": f"P{i:04d}",
            "上报时间": reported[i].strftime("%Y-%m-%d %H:%M:%S"),
            "问题类型": CATEGORY_ZH[categories[i % len(categories)]],
            "问题来源": ("网格巡查", "群众举报", "12345热线")[i % 3],
            "问题描述": HOSTILE if i == 1 else f"问题{i}：河道漂浮物",
            "经度": f"{lon[i]:.6f}",
            "纬度": f"{lat[i]:.6f}",
            "状态": STATUS_ZH[status],
            "整改期限": (reported[i] + pd.Timedelta(days=10)).strftime("%Y-%m-%d"),
            "办结时间": closed_at.strftime("%Y-%m-%d %H:%M:%S") if status == "closed" else "",
            "责任单位": FORMULA if i == 1 else f"责任单位{i % 5}",
        })
    # a few problems inside the redline zone and in its belt
    for j, (x, y) in enumerate(((120.710, 30.710), (120.712, 30.708), (120.718, 30.710))):
        rows[2 + j]["经度"], rows[2 + j]["纬度"] = f"{x:.6f}", f"{y:.6f}"
    return pd.DataFrame(rows)


def write_problems(path: Path, rows: pd.DataFrame) -> Path:
    """Write rows as a UTF-8 CSV export."""
    rows.to_csv(path, index=False, encoding="utf-8", quoting=csv.QUOTE_MINIMAL)
    return path


#: The app's users of the test project: name -> (role, scope); every password is PASSWORD.
APP_USERS = {"admin": ("admin", "*"), "c1": ("supervisor", "county:C1"),
             "t21": ("supervisor", "town:T21"), "viewer": ("viewer", "county:C2")}
PASSWORD = "app-test-password"


def sign_in(at, name: str = "admin"):
    """Start an AppTest signed in as ``name``: the session holds the user's name, as the
    sign-in form leaves it (the app reads the user from the store on every run)."""
    at.session_state["gw_user"] = name
    return at


def build_app_project(folder: Path, *, n: int = 150) -> tuple[Path, str]:
    """Write the layers, the project file and a store with the problems ingested and the
    users of :data:`APP_USERS`.

    Returns the project file and the store URL.
    """
    from gridwatch.access import Scope, add_user
    from gridwatch.config import load_config
    from gridwatch.pipeline import run_ingest
    from gridwatch.store.transactional import Store

    folder.mkdir(parents=True, exist_ok=True)
    for name, layer in _layers().items():
        layer.to_file(folder / f"{name}.geojson", driver="GeoJSON", engine="pyogrio")
    config_path = _config(folder)
    export = write_problems(folder / "export_20261031.csv", problem_rows(n))
    url = sqlite_url(folder / "gridwatch.sqlite")
    with Store(url) as store:
        run_ingest([export], config=load_config(config_path), store=store,
                   observed_at=pd.Timestamp(f"{AS_OF} 23:59:59", tz="Asia/Shanghai")
                   .to_pydatetime())
        for name, (role, scope) in APP_USERS.items():
            add_user(store, name, role=role, scope=Scope.parse(scope), password=PASSWORD,
                     actor="test")
    return config_path, url

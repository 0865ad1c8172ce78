"""The field package of each team-day: an offline map, KML and GPX, and an XLSX checklist.

One folder per team-day (``team1-day1/`` ...), or one zip of it each, under the output folder:

- ``map.html``: one file with Leaflet and the data inlined (nothing is fetched from the
  internet): the route from the base through the sites, numbered in visit order, each site's
  problems in its popup (user text escaped) with their photos when a photos folder is given;
- ``route.kml`` and ``route.gpx``: the base, the numbered sites and the route, for phone map
  apps. Coordinates are WGS84 (GPS) unless ``coordinates="gcj02"``: Chinese map apps (高德,
  腾讯, 奥维 in its GCJ-02 mode) draw WGS84 points a few hundred metres off, and want GCJ-02;
- ``checklist.xlsx``: one row per problem in visit order with what to check, and blank
  columns for the result (已整改 / 未整改 / 反弹 / 未找到, a drop-down), remarks, photos, the
  time and the inspector; text that could run as a formula is neutralised. Filled in, it is
  read back by ``gridwatch plan results`` (:mod:`gridwatch.planning.results`).

Beside them ``plan.xlsx`` (team-day routes of the plan and of the naive plan, the sites offered
to the search with their score and why, and their problems) and ``plan.json`` (the figures).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.output._atomic import replacing

if TYPE_CHECKING:
    import folium

    from gridwatch.planning.plan import FieldPlan

__all__ = ["CHECKLIST_COLUMNS", "PHOTOS_PER_PROBLEM", "PHOTO_MAX_BYTES", "RESULT_LABELS",
           "plan_map", "problem_photos", "team_days", "write_packages"]

#: The result of a field check, by the label written in the checklist.
RESULT_LABELS: dict[str, str] = {"已整改": "rectified", "未整改": "not_rectified",
                                 "反弹": "rebound", "未找到": "not_found"}
#: Checklist headers (Chinese, as written) and the field each holds.
CHECKLIST_COLUMNS: dict[str, str] = {
    "团队": "team", "日": "day", "序号": "stop", "预计到达": "arrive", "站点": "site_id",
    "问题编号": "issue_id",
    "类别": "category", "问题描述": "description", "地址": "address",
    "责任单位": "responsible_unit",
    "码色": "code", "超期天数": "days_overdue", "优先分": "priority", "为何": "why",
    "检查要点": "check", "检查结果": "result", "备注": "remarks", "照片": "photos",
    "检查时间": "checked_at", "检查人": "inspector",
}
#: What a team checks on site, by category.
_CHECKS: dict[str, str] = {
    "water": "排口是否仍有排放，水体颜色气味，整改设施是否运行",
    "air": "是否仍有废气/扬尘/异味，治理设施是否运行，台账",
    "soil": "污染范围是否清理，堆放物是否移除",
    "solid_waste": "垃圾/固废是否清运，是否有新倾倒",
    "noise": "噪声源是否停止或降噪，作业时间",
    "ecology": "破坏是否恢复，是否有新的占用",
    "other": "问题是否消除，整改是否到位",
}
_CATEGORY_ZH = {"water": "水", "air": "大气", "soil": "土壤", "solid_waste": "固废",
                "noise": "噪声", "ecology": "生态", "other": "其他"}
_CODE_ZH = {"red": "红", "yellow": "黄", "green": "绿"}
_ROUTE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
                  "#8c564b", "#e377c2")


def team_days(plan: FieldPlan) -> Iterator[tuple[int, int, pd.DataFrame]]:
    """``(team, day, sites in visit order)`` of every team-day of the optimised plan."""
    for route in plan.routes.itertuples(index=False):
        sites = plan.sites[(plan.sites["team"] == route.team) & (plan.sites["day"] == route.day)]
        yield int(route.team), int(route.day), sites.sort_values("stop")


def _shift(lon: np.ndarray, lat: np.ndarray, coordinates: str) -> tuple[np.ndarray, np.ndarray]:
    if coordinates == "wgs84":
        return lon, lat
    from gridwatch.placing.coords import from_wgs84

    x, y = from_wgs84(lon, lat, coordinates)
    return np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")


def _site_problems(plan: FieldPlan, site_id: str) -> pd.DataFrame:
    frame = plan.problems[plan.problems["site_id"] == site_id]
    return frame.sort_values(["priority", "issue_id"], ascending=[False, True])


#: Photos embedded in the offline map: per problem at most this many, each at most this big.
PHOTOS_PER_PROBLEM = 3
PHOTO_MAX_BYTES = 1_000_000
_PHOTO_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                ".gif": "image/gif", ".webp": "image/webp"}


def problem_photos(folder: str | Path | None, issue_id: str) -> list[Path]:
    """Photos of a problem in ``folder``: files named ``<issue_id>.<ext>`` or
    ``<issue_id>_<anything>.<ext>`` (jpg, jpeg, png, gif, webp), sorted by name."""
    if folder is None:
        return []
    import glob

    root = Path(folder)
    stem = glob.escape(str(issue_id))
    found = {*root.glob(f"{stem}.*"), *root.glob(f"{stem}_*")}
    return sorted(p for p in found if p.suffix.lower() in _PHOTO_TYPES and p.is_file())


def _photo_html(path: Path) -> str:
    """An ``<img>`` with the photo inlined (a data URI), or its name when it is too big."""
    import base64

    from gridwatch.ui.maps import escape_text

    if path.stat().st_size > PHOTO_MAX_BYTES:
        return f"<br>照片 {escape_text(path.name)}（过大，未嵌入）"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<br><img class="gw-photo" alt="{escape_text(path.name)}" '
            f'src="data:{_PHOTO_TYPES[path.suffix.lower()]};base64,{data}" '
            'style="max-width:300px;max-height:220px">')


def _popup(plan: FieldPlan, site: Any, photos_dir: str | Path | None = None) -> str:
    from gridwatch.ui.maps import escape_text

    rows = []
    for problem in _site_problems(plan, site.site_id).itertuples(index=False):
        late = problem.days_overdue
        photos = problem_photos(photos_dir, problem.issue_id)[:PHOTOS_PER_PROBLEM]
        rows.append(
            f"<li><b>{escape_text(problem.issue_id)}</b> "
            f"{escape_text(_CATEGORY_ZH.get(str(problem.category), problem.category))} "
            f"{escape_text(_CODE_ZH.get(str(problem.code), ''))}"
            + (f" 超期{float(late):g}天" if pd.notna(late) and late > 0 else "")
            + f"<br>{escape_text(problem.description)}<br><i>{escape_text(problem.address)}</i>"
            f"<br>优先分 {float(problem.priority):g}：{escape_text(problem.why)}"
            + "".join(_photo_html(p) for p in photos) + "</li>")
    from gridwatch.planning.settings import clock_time

    arrive = clock_time(plan.settings.day_start, float(site.arrive_minutes))
    return (f"<b>{int(site.stop)}. {escape_text(site.site_id)}</b> 预计 {arrive} 到达，优先分 "
            f"{float(site.priority):g}<br>{escape_text(site.why)}<ol>{''.join(rows)}</ol>")


def plan_map(plan: FieldPlan, *, team: int | None = None, day: int | None = None,
             base_url: str = "assets", photos_dir: str | Path | None = None) -> folium.Map:
    """The routes (all, or one team-day) on an offline map: the bases, the sites numbered in
    visit order with their problems in the popup (and their photos from ``photos_dir``,
    inlined: see :func:`problem_photos`), and the route lines."""
    import folium

    from gridwatch.ui.maps import escape_text, make_map

    chosen = [(t, d, s) for t, d, s in team_days(plan)
              if (team is None or t == team) and (day is None or d == day)]
    lon = np.r_[plan.bases["lon"].to_numpy(dtype="float64"),
                *(s["lon"].to_numpy(dtype="float64") for _, _, s in chosen)]
    lat = np.r_[plan.bases["lat"].to_numpy(dtype="float64"),
                *(s["lat"].to_numpy(dtype="float64") for _, _, s in chosen)]
    pad = 0.005
    fmap = make_map([lon.min() - pad, lat.min() - pad, lon.max() + pad, lat.max() + pad],
                    base_url=base_url, prefer_canvas=False)
    for base in plan.bases.drop_duplicates(["lon", "lat"]).itertuples(index=False):
        folium.Marker([base.lat, base.lon], tooltip=escape_text(base.name),
                      icon=folium.DivIcon(html='<div class="gw-base">&#9873;</div>',
                                          icon_size=(22, 22), icon_anchor=(11, 11)),
                      ).add_to(fmap)
    style = ("<style>.gw-stop{background:#fff;border:2px solid %s;border-radius:50%%;"
             "width:22px;height:22px;line-height:18px;text-align:center;"
             "font:bold 12px sans-serif}.gw-base{font-size:20px;color:#333}</style>")
    for t, d, sites in chosen:
        colour = _ROUTE_COLOURS[(t - 1) % len(_ROUTE_COLOURS)]
        base = plan.bases[plan.bases["team"] == t].iloc[0]
        line = [[float(base.lat), float(base.lon)],
                *([float(s.lat), float(s.lon)] for s in sites.itertuples(index=False)),
                [float(base.lat), float(base.lon)]]
        folium.PolyLine(line, color=colour, weight=3, opacity=0.8,
                        tooltip=f"队{t} 第{d}天").add_to(fmap)
        for site in sites.itertuples(index=False):
            folium.Marker(
                [float(site.lat), float(site.lon)],
                icon=folium.DivIcon(
                    html=f'<div class="gw-stop" data-team="{t}" data-day="{d}" '
                         f'style="border-color:{colour}">{int(site.stop)}</div>',
                    icon_size=(22, 22), icon_anchor=(11, 11)),
                popup=folium.Popup(_popup(plan, site, photos_dir), max_width=360),
            ).add_to(fmap)
    root: Any = fmap.get_root()
    root.header.add_child(folium.Element(style % "#333"))
    return fmap


def _kml(plan: FieldPlan, team: int, day: int, sites: pd.DataFrame, path: Path,
         coordinates: str) -> None:
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    from gridwatch.output.kml import write_kml

    base = plan.bases[plan.bases["team"] == team].iloc[0]
    lon = np.r_[float(base.lon), sites["lon"].to_numpy(dtype="float64")]
    lat = np.r_[float(base.lat), sites["lat"].to_numpy(dtype="float64")]
    lon, lat = _shift(lon, lat, coordinates)
    rows: list[dict[str, Any]] = [{"名称": f"基地 {base['name']}", "类型": "base", "序号": 0,
                                   "优先分": 0.0, "问题": "", "为何": "",
                                   "geometry": Point(lon[0], lat[0])}]
    for k, site in enumerate(sites.itertuples(index=False), start=1):
        problems = _site_problems(plan, site.site_id)
        rows.append({"名称": f"{int(site.stop)}. {site.site_id}", "类型": "site",
                     "序号": int(site.stop), "优先分": float(site.priority),
                     "问题": "；".join(f"{p.issue_id} {p.description}"
                                     for p in problems.itertuples(index=False)),
                     "为何": site.why, "geometry": Point(lon[k], lat[k])})
    if len(sites):
        rows.append({"名称": f"队{team} 第{day}天路线", "类型": "route", "序号": 0,
                     "优先分": float(sites["priority"].sum()), "问题": "", "为何": "",
                     "geometry": LineString([*zip(lon, lat, strict=True), (lon[0], lat[0])])})
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    write_kml(frame, path, name_column="名称", style_column="类型",
              document_name=f"队{team} 第{day}天")


def _gpx(plan: FieldPlan, team: int, day: int, sites: pd.DataFrame, path: Path,
         coordinates: str) -> None:
    base = plan.bases[plan.bases["team"] == team].iloc[0]
    lon = np.r_[float(base.lon), sites["lon"].to_numpy(dtype="float64")]
    lat = np.r_[float(base.lat), sites["lat"].to_numpy(dtype="float64")]
    lon, lat = _shift(lon, lat, coordinates)
    names = [f"基地 {base['name']}", *(f"{int(s.stop)}. {s.site_id}"
                                      for s in sites.itertuples(index=False))]
    descs = ["", *(f"优先分 {float(s.priority):g}; {s.why}; 问题 {s.issue_ids}"
                   for s in sites.itertuples(index=False))]
    def point(tag: str, k: int) -> str:
        return (f"<{tag} lat=\"{lat[k]:.7f}\" lon=\"{lon[k]:.7f}\"><name>{escape(names[k])}"
                f"</name><desc>{escape(descs[k])}</desc></{tag}>")

    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n',
             '<gpx version="1.1" creator="gridwatch" xmlns="http://www.topografix.com/GPX/1/1">\n',
             f"<metadata><name>{escape(f'队{team} 第{day}天')}</name>"
             f"<desc>{escape('坐标系 ' + coordinates.upper())}</desc></metadata>\n"]
    parts += [point("wpt", k) + "\n" for k in range(len(names))]
    parts.append(f"<rte><name>{escape(f'队{team} 第{day}天路线')}</name>")
    parts += [point("rtept", k) for k in [*range(len(names)), 0]]
    parts.append("</rte>\n</gpx>\n")
    with replacing(path) as tmp:
        tmp.write_text("".join(parts), encoding="utf-8")


def checklist(plan: FieldPlan, team: int, day: int, sites: pd.DataFrame) -> pd.DataFrame:
    """The checklist rows of one team-day, in visit order (Chinese headers,
    :data:`CHECKLIST_COLUMNS`; 预计到达 is the arrival time from ``[plan] day_start``), result
    columns blank."""
    from gridwatch.planning.settings import clock_time

    rows = []
    for site in sites.itertuples(index=False):
        arrive = clock_time(plan.settings.day_start, float(site.arrive_minutes))
        for p in _site_problems(plan, site.site_id).itertuples(index=False):
            rows.append({
                "团队": team, "日": day, "序号": int(site.stop), "预计到达": arrive,
                "站点": site.site_id,
                "问题编号": p.issue_id, "类别": _CATEGORY_ZH.get(str(p.category), p.category),
                "问题描述": p.description, "地址": p.address,
                "责任单位": p.responsible_unit, "码色": _CODE_ZH.get(str(p.code), ""),
                "超期天数": float(p.days_overdue) if pd.notna(p.days_overdue) else None,
                "优先分": float(p.priority), "为何": p.why,
                "检查要点": _CHECKS.get(str(p.category), _CHECKS["other"]),
                "检查结果": "", "备注": "", "照片": "", "检查时间": "", "检查人": "",
            })
    return pd.DataFrame(rows, columns=list(CHECKLIST_COLUMNS))


def _write_checklist(frame: pd.DataFrame, path: Path) -> None:
    from gridwatch.output import neutralise_formulas

    table = neutralise_formulas(frame)
    options = {"strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False}  # text stays text, whatever a cell holds
    with replacing(path) as tmp, pd.ExcelWriter(
            tmp, engine="xlsxwriter", engine_kwargs={"options": options}) as writer:
        table.to_excel(writer, sheet_name="检查清单", index=False)
        sheet = writer.sheets["检查清单"]
        sheet.freeze_panes(1, 0)
        result = list(CHECKLIST_COLUMNS).index("检查结果")
        last = max(len(table), 1)
        sheet.data_validation(1, result, last + 200, result, {
            "validate": "list", "source": list(RESULT_LABELS),
            "error_message": "已整改 / 未整改 / 反弹 / 未找到"})
        widths = {"问题描述": 40, "地址": 30, "为何": 40, "检查要点": 36, "备注": 30,
                  "照片": 20}
        for i, column in enumerate(table.columns):
            sheet.set_column(i, i, widths.get(str(column), 12))


def _write_html(plan: FieldPlan, team: int, day: int, path: Path,
                photos_dir: str | Path | None) -> None:
    from gridwatch.ui.maps import map_html

    page = map_html(plan_map(plan, team=team, day=day, photos_dir=photos_dir),
                    inline_assets=True)
    with replacing(path) as tmp:
        tmp.write_text(page, encoding="utf-8")


def write_packages(plan: FieldPlan, out_dir: str | Path, *, coordinates: str = "wgs84",
                   zip_packages: bool = False,
                   photos_dir: str | Path | None = None) -> list[Path]:
    """Write the field package of every team-day, ``plan.xlsx`` and ``plan.json``.

    Parameters
    ----------
    plan
        The plan (:func:`gridwatch.planning.plan.make_plan`).
    out_dir
        The folder to write into (created).
    coordinates
        ``wgs84`` (GPS; default) or ``gcj02`` (Chinese map apps) for KML and GPX; the HTML
        map is always WGS84 (it has no tiles to match).
    zip_packages
        Write ``team1-day1.zip`` ... instead of folders.
    photos_dir
        A folder of the problems' photos (``<issue_id>.jpg``, ``<issue_id>_2.png``...): they
        are inlined in the map's popups (at most :data:`PHOTOS_PER_PROBLEM` a problem, each at
        most :data:`PHOTO_MAX_BYTES`; a bigger one is named only).

    Returns
    -------
    list of Path
        The package of each team-day (folder or zip), in team-day order.
    """
    from gridwatch.output import write_workbook
    from gridwatch.planning.plan import plan_summary

    if photos_dir is not None and not Path(photos_dir).is_dir():
        raise ConfigError(f"photos folder {str(photos_dir)!r} is not a folder")
    if coordinates not in ("wgs84", "gcj02"):
        raise ConfigError(f"coordinates must be 'wgs84' or 'gcj02', got {coordinates!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for team, day, sites in team_days(plan):
        name = f"team{team}-day{day}"
        folder = out / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        _write_html(plan, team, day, folder / "map.html", photos_dir)
        _kml(plan, team, day, sites, folder / "route.kml", coordinates)
        _gpx(plan, team, day, sites, folder / "route.gpx", coordinates)
        _write_checklist(checklist(plan, team, day, sites), folder / "checklist.xlsx")
        readme = (f"队{team} 第{day}天 — {len(sites)} 个点位, 计划日期 {plan.as_of}\n"
                  "map.html: 离线地图（无需联网）; route.kml / route.gpx: 手机地图 "
                  f"(坐标系 {coordinates.upper()}); checklist.xlsx: 检查清单, 填写后用 "
                  "`gridwatch plan results checklist.xlsx` 导入\n")
        (folder / "README.txt").write_text(readme, encoding="utf-8")
        if zip_packages:
            target = out / f"{name}.zip"
            with replacing(target) as tmp, zipfile.ZipFile(tmp, "w",
                                                           zipfile.ZIP_DEFLATED) as archive:
                for file in sorted(folder.iterdir()):
                    archive.write(file, f"{name}/{file.name}")
            shutil.rmtree(folder)
            written.append(target)
        else:
            written.append(folder)
    sites = plan.sites.drop(columns=["x", "y"])
    # the problems of the sites the search was offered (all open problems can be 100,000s)
    problems = plan.problems[plan.problems["site_id"].isin(sites["site_id"])]
    write_workbook({"routes": plan.routes, "naive": plan.naive, "sites": sites,
                    "problems": problems}, out / "plan.xlsx")
    with replacing(out / "plan.json") as tmp:
        tmp.write_text(json.dumps(plan_summary(plan), ensure_ascii=False, indent=2),
                       encoding="utf-8")
    return written


"""Write the demo as users have it: layer GeoPackages, GBK daily exports, one XLSX, snapshots.

The history (every day but the last 7) is one file per report day, statuses as of the end of the
first snapshot's eve; then one "active list" export per day for the last 7 days (problems
reported that day, still open, or whose status changed that day), so a daily upsert changes
statuses. Headers and labels are the Chinese ones of :data:`gridwatch.schema.HEADER_ALIASES`.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from gridwatch.demo._city import City
from gridwatch.demo._problems import CATEGORY_ZH, status_at
from gridwatch.errors import ConfigError

__all__ = [
    "EXPORT_HEADERS",
    "STATUS_ZH",
    "BadRows",
    "config_text",
    "export_frame",
    "write_layers",
    "write_problem_files",
]

#: Export columns, in the order of a typical platform export.
EXPORT_HEADERS: tuple[str, ...] = ("问题编号", "上报时间", "问题类型", "问题来源", "问题描述",
                                   "经度", "纬度", "地址", "所属网格", "状态", "整改期限",
                                   "办结时间", "责任单位", "严重程度", "任务类型", "整改任务编号",
                                   # issue 16 (gridwatch.demo._enterprises)
                                   "统一社会信用代码", "企业名称", "交办批次", "交办日期",
                                   "专项行动")
STATUS_ZH: dict[str, str] = {"reported": "待交办", "assigned": "已交办", "rectifying": "整改中",
                             "closed": "已办结", "verified": "已销号"}
_TIME = "%Y-%m-%d %H:%M:%S"
_EXPORT_CLOCK = np.timedelta64(86399, "s")  # exports are taken at 23:59:59 local time

BadRows = list[dict[str, object]]


def write_layers(city: City, folder: Path) -> dict[str, Path]:
    """Write each layer as its own GeoPackage (GCJ-02 numbers, like the county file)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, layer in city.layers().items():
        path = folder / f"{name}.gpkg"
        out = layer.copy()
        for column in ("urban", "industrial"):
            if column in out:
                out[column] = out[column].astype("int32")
        if path.exists():
            path.unlink()
        out.to_file(path, driver="GPKG", layer=name, engine="pyogrio")
        paths[name] = path
    return paths


def export_frame(problems: pd.DataFrame, when: np.datetime64) -> pd.DataFrame:
    """The rows as a platform export taken at local time ``when`` shows them."""
    status = status_at(problems, when)
    closed = problems["closed_at"].dt.strftime(_TIME).fillna("")
    show_closed = np.isin(status, ("closed", "verified"))
    deadline = pd.to_datetime(problems["deadline"]).dt.strftime("%Y-%m-%d").fillna("")
    address_only = (problems["address_only"].to_numpy(dtype=bool) if "address_only" in problems
                    else np.zeros(len(problems), dtype=bool))
    lon = np.where(address_only, "", [f"{v:.6f}" for v in problems["lon"]])
    lat = np.where(address_only, "", [f"{v:.6f}" for v in problems["lat"]])
    grid = np.where(address_only, "", problems["reported_grid"].to_numpy(dtype=object))
    return pd.DataFrame({
        "问题编号": problems["issue_id"].to_numpy(dtype=object),
        "上报时间": problems["reported_at"].dt.strftime(_TIME).to_numpy(dtype=object),
        "问题类型": problems["category"].map(CATEGORY_ZH).to_numpy(dtype=object),
        "问题来源": problems["source_label"].to_numpy(dtype=object),
        "问题描述": problems["description"].to_numpy(dtype=object),
        "经度": lon.astype(object),
        "纬度": lat.astype(object),
        "地址": problems["address"].to_numpy(dtype=object),
        "所属网格": grid.astype(object),
        "状态": pd.Series(status).map(STATUS_ZH).to_numpy(dtype=object),
        "整改期限": deadline.to_numpy(dtype=object),
        "办结时间": np.where(show_closed, closed.to_numpy(dtype=object), ""),
        "责任单位": problems["responsible_unit"].to_numpy(dtype=object),
        "严重程度": problems["severity"].to_numpy(dtype=object),
        "任务类型": problems["task_type"].to_numpy(dtype=object),
        "整改任务编号": (problems["ledger_ref"].to_numpy(dtype=object) if "ledger_ref" in problems
                   else np.full(len(problems), "", dtype=object)),
        **{header: (problems[column].to_numpy(dtype=object) if column in problems
                    else np.full(len(problems), "", dtype=object))
           for header, column in _ENTERPRISE_HEADERS.items()},
    }, index=problems.index)


#: Export headers of the issue-16 columns (gridwatch.demo._enterprises).
_ENTERPRISE_HEADERS = {"统一社会信用代码": "enterprise_code", "企业名称": "enterprise_name",
                       "交办批次": "petition_batch", "交办日期": "petition_date",
                       "专项行动": "campaign"}


_COL = {h: i for i, h in enumerate(EXPORT_HEADERS)}


def _bad_rows(day_rows: dict[str, list[list[object]]], tags: pd.Series, days: list[str],
              rng: np.random.Generator) -> BadRows:
    """Put three rows of each defect into chosen daily files; return what was planted.

    Rows are taken from ordinary problems (``tags`` == "") that no snapshot shows again, so a
    later export does not overwrite what the defect did.
    """
    kinds = ("missing_coords", "swapped_lat_lon", "unknown_category", "bad_date",
             "duplicate_id")
    lon_i, lat_i, id_i = _COL["经度"], _COL["纬度"], _COL["问题编号"]
    # Only days with an ordinary row to copy: a small demo (1,000 problems) has many days
    # with none, and drawing from such a day failed ("high <= 0").
    days = [d for d in days
            if (tags.reindex([r[id_i] for r in day_rows[d]]).to_numpy() == "").any()]
    if len(days) < 3 * len(kinds):
        raise ConfigError(f"too few problems to plant the bad rows: {3 * len(kinds)} days with "
                          f"an ordinary problem are needed, found {len(days)}; use more "
                          "problems")
    picked = rng.choice(len(days), size=3 * len(kinds), replace=False)
    planted: BadRows = []
    for j, kind in enumerate(np.repeat(kinds, 3)):
        day = days[int(picked[j])]
        rows = day_rows[day]
        ids = [r[id_i] for r in rows]
        plain = np.flatnonzero(tags.reindex(ids).to_numpy() == "")
        pos = int(plain[rng.integers(0, len(plain))])
        row = list(rows[pos])
        k = j % 3
        entry: dict[str, object] = {"kind": str(kind)}
        if kind == "swapped_lat_lon":
            rows[pos][lon_i], rows[pos][lat_i] = row[lat_i], row[lon_i]
            entry.update(expected="accepted", location_flag="swapped",
                         reason="经度/纬度 swapped; repaired because the swapped point lies in "
                                "the territory",  # cells are the export's text, as 经度 "120.75"
                         lon=float(str(row[lon_i])), lat=float(str(row[lat_i])),
                         issue_id=row[id_i], day=day, position=pos)
            planted.append(entry)
            continue
        if kind == "duplicate_id":
            entry.update(expected="rejected", reason_column="问题编号",
                         reason="the same 问题编号 appears twice in the file: this (earlier) "
                                "row is superseded by the later one")
        else:
            row[id_i] = f"JX{day}9{j:04d}"
            if kind == "missing_coords":
                row[lon_i], row[lat_i], row[_COL["所属网格"]] = "", "", ""
                row[_COL["地址"]] = ""
                entry.update(expected="rejected", reason_column="经度/纬度",
                             reason="no coordinates, no reported grid and no address")
            elif kind == "unknown_category":
                row[_COL["问题类型"]] = ("光污染", "电磁辐射", "不明类型")[k]
                entry.update(expected="rejected", reason_column="问题类型",
                             reason=f"unknown category label {row[_COL['问题类型']]!r}")
            else:
                row[_COL["上报时间"]] = ("2026-02-30 09:15:00", "2026/13/05 10:00", "不详")[k]
                entry.update(expected="rejected", reason_column="上报时间",
                             reason=f"bad date {row[_COL['上报时间']]!r}")
        at = int(rng.integers(pos + 1, len(rows) + 1))
        rows.insert(at, row)
        if kind == "duplicate_id":
            entry.update(issue_id=row[id_i], day=day, position=pos, later_row=at + 2)
        else:
            entry.update(issue_id=row[id_i], day=day, position=at)
        planted.append(entry)
    return planted


def _write_csv(path: Path, rows: list[list[object]]) -> None:
    """GBK CSV with the Chinese header row, as Chinese platforms export it."""
    with path.open("w", encoding="gbk", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(EXPORT_HEADERS)
        writer.writerows(rows)


def write_problem_files(problems: pd.DataFrame, folder: Path, *, end: np.datetime64,
                        snapshot_days: int, xlsx_day: str, rng: np.random.Generator,
                        progress: Callable[[int], None] | None = None
                        ) -> tuple[list[tuple[list[Path], np.datetime64]], BadRows]:
    """Write the daily history, the XLSX day and the snapshots.

    ``problems`` must be sorted by report time. Returns the ingest runs (files, local export
    time) in order, and the bad rows planted (with their file and the row number a person
    sees: header = row 1).
    """
    history_dir = folder / "daily"
    snap_dir = folder / "snapshots"
    for sub in (history_dir, snap_dir):
        if sub.exists():
            for old in sorted(sub.iterdir()):
                old.unlink()
        sub.mkdir(parents=True, exist_ok=True)
    end_day = end.astype("datetime64[D]")
    cut_day = end_day - snapshot_days
    cut = cut_day.astype("datetime64[s]") + _EXPORT_CLOCK
    report_day = problems["reported_at"].to_numpy(dtype="datetime64[s]").astype("datetime64[D]")
    in_history = report_day <= cut_day
    table = export_frame(problems[in_history], cut).to_numpy(dtype=object)
    hist_days = report_day[in_history]
    starts = np.flatnonzero(np.r_[True, hist_days[1:] != hist_days[:-1]])
    bounds = np.r_[starts, len(hist_days)]
    day_rows = {str(hist_days[a]).replace("-", ""): table[a:b].tolist()
                for a, b in itertools.pairwise(bounds)}
    days = sorted(day_rows)
    final = status_at(problems, end_day.astype("datetime64[s]") + _EXPORT_CLOCK)
    settled = (status_at(problems, cut) == final) & np.isin(final, ("closed", "verified"))
    tags = problems["tag"].where(settled, "unsettled")
    if "address_only" in problems:  # their coordinates are not there to swap or blank
        tags = tags.mask(problems["address_only"].to_numpy(dtype=bool), "address_only")
    for column in ("enterprise_name", "petition_batch", "campaign"):  # planted (_enterprises)
        if column in problems:
            tags = tags.mask(problems[column].to_numpy(dtype=object) != "", "enterprise")
    tags.index = problems["issue_id"]
    bad = _bad_rows(day_rows, tags, [d for d in days if d != xlsx_day], rng)
    files: list[Path] = []
    for day in days:
        if day == xlsx_day:
            path = history_dir / f"export_{day}.xlsx"
            data = pd.DataFrame(day_rows[day], columns=list(EXPORT_HEADERS))
            with pd.ExcelWriter(path, engine="xlsxwriter",
                                engine_kwargs={"options": {"strings_to_formulas": False,
                                                           "strings_to_urls": False}}) as xw:
                data.to_excel(xw, index=False, sheet_name="问题清单")
        else:
            path = history_dir / f"export_{day}.csv"
            _write_csv(path, day_rows[day])
        files.append(path)
        if progress is not None:
            progress(1)
    for entry in bad:
        entry["file"] = f"daily/export_{entry['day']}.csv"
        entry["row"] = int(entry.pop("position")) + 2  # type: ignore[call-overload]
    runs: list[tuple[list[Path], np.datetime64]] = [(files, cut)]
    reported = problems["reported_at"].to_numpy(dtype="datetime64[s]")
    before = status_at(problems, cut)
    for k in range(1, snapshot_days + 1):
        day = cut_day + k
        when = day.astype("datetime64[s]") + _EXPORT_CLOCK
        now = status_at(problems, when)
        seen = reported <= when
        active = seen & ((report_day >= day - 6) | np.isin(now, ("reported", "assigned",
                                                                 "rectifying"))
                         | (now != before))
        path = snap_dir / f"snapshot_{str(day).replace('-', '')}.csv"
        _write_csv(path, export_frame(problems[active], when).to_numpy(dtype=object).tolist())
        runs.append(([path], when))
        before = now
        if progress is not None:
            progress(1)
    return runs, bad


#: Bases of the field teams in the demo city: the city bureau and its county branches.
_BASES: tuple[tuple[str, float, float], ...] = (
    ("市局", 120.755, 30.746), ("南湖分局", 120.783, 30.747), ("秀洲分局", 120.709, 30.765),
    ("嘉善分局", 120.926, 30.830), ("平湖分局", 121.015, 30.676), ("海盐分局", 120.946, 30.526),
    ("海宁分局", 120.681, 30.511), ("桐乡分局", 120.565, 30.630),
)


def territory_lines(name: str) -> list[str]:
    """The ``[territory]`` and ``[input]`` sections of a demo's ``gridwatch.toml``."""
    return ["[territory]", f'name = "{name}"', 'timezone = "Asia/Shanghai"', "margin_m = 2000",
            "", "[input]", 'crs = "gcj02"', ""]


def config_text(prefix: str) -> str:
    """The demo's ``gridwatch.toml``, with layer paths under ``prefix`` (e.g. ``generated/``)."""
    layers = [
        ("county", "admin", None, None, "县（市、区）：真实边界，GCJ-02"),
        ("town", "admin", "county", "county_code", "乡镇/街道：生成"),
        ("grid", "grid", "town", "town_code", "网格：生成"),
        ("microgrid", "microgrid", "grid", "grid_code", "微网格：生成"),
        ("basin", "basin", None, None, "流域：生成"),
        ("redline", "redline", None, None, "生态保护红线：生成"),
    ]
    parts = [
        "# The demo city of Jiaxing (嘉兴市). Written by `gridwatch demo generate`; see README.md.",
        "# Counties are real (data/boundaries/SOURCE.txt); every other layer is generated.",
        "",
        *territory_lines("嘉兴市"),
        "[deadlines]",
        'unit = "working"',
        "default_days = 10",
        "immediate_days = 1",
        "",
        "[[deadlines.rules]]",
        'task_type = ["立行立改"]',
        'kind = "immediate"',
        "",
        "[[deadlines.rules]]",
        'task_type = ["阶段性"]',
        'kind = "staged"',
        "days = 60",
        'unit = "calendar"',
        "milestones = [20, 40]",
        "",
        "[[deadlines.rules]]",
        'task_type = ["长期坚持"]',
        'kind = "long_term"',
        "",
        "[[deadlines.rules]]",
        'task_type = ["常规"]',
        'severity = ["较重"]',
        "days = 7",
        "",
        "[[deadlines.rules]]",
        'task_type = ["常规"]',
        'severity = ["严重"]',
        "days = 5",
        "",
        "[supervision.rebound]",
        "radius_m = 100",
        "days = 60",
        "",
        "[supervision.duplicates]",
        "radius_m = 50",
        "hours = 24",
        "",
        "# Enterprises, petitions and campaigns (docs/enterprises.md).",
        "[enterprises]",
        "window_days = 365",
        "min_problems = 3",
        "min_rebounds = 3",
        "",
        "[petitions]",
        "days = 30",
        "radius_m = 50",
        "description_radius_m = 200",
        "",
        "[[campaigns.rules]]",
        'name = "绿剑2026"',
        'categories = ["water"]',
        'sources = ["inspection", "grid_patrol"]',
        "start = 2026-06-01",
        "end = 2026-08-31",
        "",
        "# Hotline calls with an address only are placed from it (docs/geocoding.md).",
        "[geocoding]",
        "enabled = true",
        "",
        "[plan]  # the field plan: gridwatch plan --teams 3 --days 2 --start 市局",
        "site_radius_m = 200",
        "visit_minutes = 30",
        "day_minutes = 480",
        "speed_kmh = 30",
        "detour_factor = 1.3",
    ]
    parts += ["", "# Photos before/after rectification, named by problem id (docs/patches.md).",
              "[evidence]", f'folder = "{prefix}photos"', "require_after_photo = true"]
    # the bureaus' offices, near each seat of government (approximate, GCJ-02)
    for name, lon, lat in _BASES:
        parts += ["", "[[plan.bases]]", f'name = "{name}"', f"lon = {lon}", f"lat = {lat}",
                  'crs = "gcj02"']
    for name, kind, parent, parent_field, comment in layers:
        parts += ["", f"[[layers]]  # {comment}", f'name = "{name}"',
                  f'path = "{prefix}{name}.gpkg"', 'id_field = "code"', 'name_field = "name"',
                  f'kind = "{kind}"', 'crs = "gcj02"']
        if parent:
            parts += [f'parent = "{parent}"', f'parent_field = "{parent_field}"']
        if kind == "redline":
            parts.append("near_m = 500")
    return "\n".join(parts) + "\n"

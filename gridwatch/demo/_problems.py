"""A year of generated problems: where, when, what, who reported it, and how it was handled.

Everything is vectorised numpy driven by one seeded Generator. A problem is one row of a
:class:`pandas.DataFrame` holding its whole life: ``reported_at``, ``assigned_at``,
``rectifying_at``, ``closed_at``, ``verified_at`` (naive local times, NaT when it never
happens) and its ``deadline`` (a local date, NaT for long-term tasks); the status shown in an
export taken at time ``T`` is the last step reached by ``T`` (:func:`status_at`).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridwatch.supervision.calendar import add_days

__all__ = [
    "ADDRESS_ONLY_EVERY",
    "CATEGORY_CODES",
    "CATEGORY_ZH",
    "HOTLINE_LABELS",
    "SOURCE_LABELS",
    "Sampler",
    "background_problems",
    "finish_problems",
    "lifecycle",
    "problems_at",
    "road_names",
    "status_at",
]

CATEGORY_CODES: tuple[str, ...] = ("water", "air", "solid_waste", "noise", "soil", "ecology")
CATEGORY_ZH: dict[str, str] = {"water": "水污染", "air": "大气污染", "solid_waste": "固废",
                               "noise": "噪声", "soil": "土壤", "ecology": "生态"}
_CATEGORY_SHARE = np.array([0.27, 0.30, 0.22, 0.11, 0.04, 0.06])
SOURCE_LABELS: tuple[str, ...] = ("网格巡查", "群众举报", "12345热线", "12369热线", "执法检查",
                                  "在线监测", "卫星遥感")
# Source mix per category (rows follow CATEGORY_CODES, columns SOURCE_LABELS).
_SOURCE_MIX = np.array([
    [0.52, 0.10, 0.08, 0.08, 0.09, 0.10, 0.03],   # water: monitoring stations on rivers
    [0.48, 0.12, 0.10, 0.10, 0.08, 0.08, 0.04],   # air
    [0.60, 0.10, 0.10, 0.04, 0.08, 0.00, 0.08],   # solid waste: satellite patches of dumping
    [0.30, 0.25, 0.30, 0.10, 0.05, 0.00, 0.00],   # noise: mostly complaints
    [0.50, 0.06, 0.04, 0.05, 0.15, 0.05, 0.15],   # soil
    [0.50, 0.06, 0.04, 0.05, 0.12, 0.00, 0.23],   # ecology: satellite patches
])
TASK_TYPES: tuple[str, ...] = ("立行立改", "常规", "阶段性", "长期坚持")
_TASK_SHARE = np.array([0.50, 0.38, 0.09, 0.03])
SEVERITIES: tuple[str, ...] = ("一般", "较重", "严重")
_SEVERITY_SHARE = np.array([0.72, 0.22, 0.06])
#: Working days of a standard task by severity (一般, 较重, 严重); see the [deadlines] rules.
STANDARD_DAYS: tuple[int, int, int] = (10, 7, 5)
STAGED_DAYS = 60  # calendar days

_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "water": ("河道水体发黑发臭", "排污口疑似偷排废水", "河面漂浮物较多", "养殖尾水直排河道",
              "雨污管网混接，污水溢流", "沿河生活污水直排"),
    "air": ("企业废气异味扰民", "工地扬尘未覆盖", "餐饮油烟直排", "露天焚烧垃圾",
            "锅炉冒黑烟", "喷涂作业无组织排放"),
    "solid_waste": ("建筑垃圾随意倾倒", "生活垃圾堆放未清运", "工业固废露天堆放",
                    "危险废物贮存不规范", "河岸堆放废弃物"),
    "noise": ("夜间施工噪声扰民", "工厂设备噪声超标", "商铺外放音响扰民", "货车装卸噪声"),
    "soil": ("农田疑似受污染", "污泥违规填埋", "废弃厂区土壤异味"),
    "ecology": ("湿地被违规占用", "河岸绿化带被破坏", "违规填埋水塘", "林地被开垦"),
}
_STRAW = "秸秆露天焚烧"
_ODOUR = "夏季异味扰民"
_ROADS = ("中山路", "解放路", "建设路", "人民路", "文昌路", "南湖路", "工业路", "新华路",
          "长水路", "环城路", "富民路", "港口路", "东方路", "兴业路", "振兴路", "河滨路")


@dataclass
class Sampler:
    """Places random points inside micro-grids, away from their edges."""

    micro: gpd.GeoDataFrame
    rng: np.random.Generator
    #: Minimal distance of a point from its micro-grid's edge, in degrees (about 1.5 m).
    margin: float = 1.5e-5

    def __post_init__(self) -> None:
        self.geoms = self.micro.geometry.to_numpy()
        shapely.prepare(self.geoms)
        self.bounds = shapely.bounds(self.geoms)
        self.boundaries = shapely.boundary(self.geoms)

    def points(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One point (GCJ-02, rounded to 6 decimals) inside each micro-grid ``idx``."""
        lon = np.full(len(idx), np.nan)
        lat = np.full(len(idx), np.nan)
        todo = np.arange(len(idx))
        for _ in range(200):
            if not todo.size:
                break
            b = self.bounds[idx[todo]]
            x = np.round(self.rng.uniform(b[:, 0], b[:, 2]), 6)
            y = np.round(self.rng.uniform(b[:, 1], b[:, 3]), 6)
            g = self.geoms[idx[todo]]
            ok = shapely.contains_xy(g, x, y)
            ok[ok] = shapely.distance(self.boundaries[idx[todo][ok]],
                                      shapely.points(x[ok], y[ok])) > self.margin
            lon[todo[ok]], lat[todo[ok]] = x[ok], y[ok]
            todo = todo[~ok]
        if todo.size:  # slivers: fall back to a point on the surface
            p = shapely.point_on_surface(self.geoms[idx[todo]])
            lon[todo], lat[todo] = shapely.get_x(p), shapely.get_y(p)
        return lon, lat


def _day_weights(days: pd.DatetimeIndex) -> np.ndarray:
    """Relative daily volume per category: (days, categories)."""
    month = days.month.to_numpy()
    weekday = days.day_of_week.to_numpy()
    summer = np.isin(month, (6, 7, 8)).astype(float)
    straw = np.isin(month, (6, 10)).astype(float)
    w = np.tile(_CATEGORY_SHARE, (len(days), 1))
    w[:, 0] *= 1 + 0.4 * summer
    w[:, 1] *= 1 + 1.6 * straw + 0.5 * summer
    w[:, 3] *= 1 + 0.25 * summer
    w *= np.where(weekday >= 5, 0.7, 1.0)[:, None]
    return w


def background_problems(n: int, *, micro_weight: np.ndarray, days: pd.DatetimeIndex,
                        rng: np.random.Generator, sampler: Sampler) -> pd.DataFrame:
    """``n`` ordinary problems: seasonal categories, weighted places, random handling."""
    dw = _day_weights(days)
    flat = rng.choice(dw.size, size=n, p=(dw / dw.sum()).ravel())
    day_idx, cat_idx = np.divmod(flat, dw.shape[1])
    micro = rng.choice(len(micro_weight), size=n, p=micro_weight / micro_weight.sum())
    frame = _base_frame(days.to_numpy()[day_idx], cat_idx, micro, rng, sampler)
    month = days.month.to_numpy()[day_idx]
    straw = (cat_idx == 1) & np.isin(month, (6, 10)) & (rng.random(n) < 0.6)
    odour = (cat_idx == 1) & np.isin(month, (6, 7, 8)) & ~straw & (rng.random(n) < 0.3)
    frame.loc[straw, "description"] = _STRAW
    frame.loc[odour, "description"] = _ODOUR
    return frame


def _base_frame(day: np.ndarray, cat_idx: np.ndarray, micro: np.ndarray,
                rng: np.random.Generator, sampler: Sampler) -> pd.DataFrame:
    """Problems on given days, categories and micro-grids, with times, sources and texts."""
    n = len(day)
    hours = rng.normal(11.0, 3.2, n)
    odd = (hours < 6.5) | (hours > 22.0)
    hours[odd] = rng.uniform(7.0, 20.0, int(odd.sum()))
    reported = (day.astype("datetime64[s]")
                + (hours * 3600).astype("timedelta64[s]")
                + rng.integers(0, 60, n).astype("timedelta64[s]"))
    cum = np.cumsum(_SOURCE_MIX / _SOURCE_MIX.sum(axis=1, keepdims=True), axis=1)
    source_idx = (rng.random(n)[:, None] > cum[cat_idx]).sum(axis=1).clip(0, 6)
    lon, lat = sampler.points(micro)
    cats = np.array(CATEGORY_CODES)[cat_idx]
    desc = np.empty(n, dtype=object)
    for c, texts in _DESCRIPTIONS.items():
        rows = cats == c
        desc[rows] = np.array(texts, dtype=object)[rng.integers(0, len(texts), int(rows.sum()))]
    return pd.DataFrame({
        "reported_at": reported,
        "category": cats,
        "source_label": np.array(SOURCE_LABELS, dtype=object)[source_idx],
        "description": desc,
        "micro": micro,
        "lon": lon,
        "lat": lat,
        "task_type": np.array(TASK_TYPES, dtype=object)[
            rng.choice(len(TASK_TYPES), size=n, p=_TASK_SHARE)],
        "severity": np.array(SEVERITIES, dtype=object)[
            rng.choice(len(SEVERITIES), size=n, p=_SEVERITY_SHARE)],
        "road": rng.integers(0, len(_ROADS), n),
        "house": rng.integers(1, 400, n),
    })


def problems_at(day: np.ndarray, category: np.ndarray, micro: np.ndarray, *,
                rng: np.random.Generator, sampler: Sampler) -> pd.DataFrame:
    """Problems on given days (datetime64[D]) in given micro-grids and category codes."""
    position = {c: i for i, c in enumerate(CATEGORY_CODES)}
    cat_idx = np.array([position[c] for c in category], dtype=np.int64)
    return _base_frame(np.asarray(day, dtype="datetime64[D]"), cat_idx, np.asarray(micro),
                       rng, sampler)


def lifecycle(frame: pd.DataFrame, *, rng: np.random.Generator, stuck_share: float = 0.02,
              late_share: float = 0.08) -> pd.DataFrame:
    """Add deadline and the times of each status step (NaT when the step never happens)."""
    n = len(frame)
    reported = frame["reported_at"].to_numpy(dtype="datetime64[s]")
    report_day = reported.astype("datetime64[D]")
    task = frame["task_type"].to_numpy(dtype=object)
    severity = frame["severity"].to_numpy(dtype=object)
    sev_days = np.select([severity == s for s in SEVERITIES], STANDARD_DAYS, 10)
    deadline = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    imm = task == "立行立改"
    std = task == "常规"
    stg = task == "阶段性"
    lng = task == "长期坚持"
    deadline[imm] = add_days(report_day[imm], 1)
    deadline[std] = add_days(report_day[std], sev_days[std])
    deadline[stg] = report_day[stg] + np.timedelta64(STAGED_DAYS, "D")
    hour = np.timedelta64(3600, "s")
    assigned = reported + (rng.lognormal(np.log(4.0), 0.8, n) * 3600).astype("timedelta64[s]")
    rectifying = assigned + (rng.lognormal(np.log(12.0), 0.8, n) * 3600).astype("timedelta64[s]")
    end_of_deadline = deadline.astype("datetime64[s]") + 18 * hour
    span = (end_of_deadline - rectifying).astype(float)
    span = np.where(np.isfinite(span), np.maximum(span, 3600.0), np.nan)
    on_time = rectifying + (rng.beta(2.0, 2.5, n) * np.nan_to_num(span)).astype("timedelta64[s]")
    late = end_of_deadline + (rng.exponential(5.0, n) * 86400 + 3600).astype("timedelta64[s]")
    is_late = rng.random(n) < late_share
    closed = np.where(is_late, late, on_time)
    # Long-term tasks are closed in a minority of cases, months later.
    long_close = rectifying + (rng.uniform(60, 240, n) * 86400).astype("timedelta64[s]")
    closed = np.where(lng, np.where(rng.random(n) < 0.2, long_close, np.datetime64("NaT")),
                      closed)
    stuck = (rng.random(n) < stuck_share) & ~lng
    closed = np.where(stuck, np.datetime64("NaT"), closed)
    verified = closed + (rng.lognormal(np.log(3.0), 0.6, n) * 86400).astype("timedelta64[s]")
    verified = np.where(rng.random(n) < 0.9, verified, np.datetime64("NaT"))
    out = frame.copy()
    out["deadline"] = deadline
    out["assigned_at"] = assigned
    out["rectifying_at"] = rectifying
    out["closed_at"] = closed.astype("datetime64[s]")
    out["verified_at"] = verified.astype("datetime64[s]")
    return out


def status_at(frame: pd.DataFrame, when: np.datetime64) -> np.ndarray:
    """Status code of each problem in an export taken at local time ``when``."""
    status = np.full(len(frame), "reported", dtype=object)
    for step, column in (("assigned", "assigned_at"), ("rectifying", "rectifying_at"),
                         ("closed", "closed_at"), ("verified", "verified_at")):
        reached = frame[column].to_numpy(dtype="datetime64[s]") <= when
        status[reached] = step
    return status


#: Hotline sources (a share of their calls have an address only).
HOTLINE_LABELS: tuple[str, ...] = ("12345热线", "12369热线")
#: One ordinary hotline problem in this many (by its number of the day) has no coordinates.
ADDRESS_ONLY_EVERY = 4


def road_names() -> tuple[str, ...]:
    """Road names of the grids of a town: the base names, then their 东/西/南/北 and
    一…九 variants (中山路, …, 中山东路, …, 中山一路, …), so each of a town's first 224 grids
    (the largest town of the full city has 197) has its own road."""
    variants = [r[:-1] + d + "路" for d in "东西南北一二三四五六七八九" for r in _ROADS]
    return (*_ROADS, *variants)


def finish_problems(frame: pd.DataFrame, city_micro: gpd.GeoDataFrame, grid_town: pd.Series,
                    towns: gpd.GeoDataFrame) -> pd.DataFrame:
    """Sort by report time, number them, and add grid, address and responsible unit."""
    out = frame.sort_values(["reported_at", "tiebreak"], kind="stable", ignore_index=True)
    day = out["reported_at"].dt.strftime("%Y%m%d").to_numpy(dtype=object)
    seq = out.groupby(day, sort=False).cumcount().to_numpy() + 1
    out["issue_id"] = [f"JX{d}{s:05d}" for d, s in zip(day, seq, strict=True)]
    micro_code = city_micro["code"].to_numpy(dtype=object)[out["micro"].to_numpy()]
    grid_code = city_micro["grid_code"].to_numpy(dtype=object)[out["micro"].to_numpy()]
    town_code = grid_town.reindex(grid_code).to_numpy(dtype=object)
    t = towns.set_index("code")
    out["micro_code"] = micro_code
    out["grid_code"] = grid_code
    out["town_code"] = town_code
    if "reported_grid" not in out:
        out["reported_grid"] = micro_code
    town_name = t["name"].reindex(town_code).to_numpy(dtype=object)
    county_name = t["county_name"].reindex(town_code).to_numpy(dtype=object)
    # The address follows the place, so it can be geocoded: each grid of a town lies on its own
    # road, each micro-grid of a grid at its own house number (codes: town, grid 3 digits,
    # micro-grid 2-3 digits).
    grid_no = pd.Series(grid_code, dtype="str").str[-3:].astype("int64").to_numpy()
    micro_no = np.fromiter((int(m[len(g):]) for m, g in zip(micro_code, grid_code, strict=True)),
                           dtype=np.int64, count=len(micro_code))
    roads = np.array(road_names(), dtype=object)[(grid_no - 1) % len(road_names())]
    houses = 2 * micro_no - 1
    out["address"] = [f"嘉兴市{c}{tn}{r}{h}号附近" for c, tn, r, h in
                      zip(county_name, town_name, roads, houses, strict=True)]
    # Some hotline calls come with the address only: no coordinates, no grid.
    hotline = np.isin(out["source_label"].to_numpy(dtype=object), HOTLINE_LABELS)
    out["address_only"] = hotline & (out["tag"].to_numpy(dtype=object) == "") & \
        (seq % ADDRESS_ONLY_EVERY == 0)
    unit_kind = np.where(np.isin(out["category"], ("water", "air", "soil")), "生态环境分局",
                         "综合行政执法队")
    out["responsible_unit"] = [f"{tn}{u}" if u == "综合行政执法队" else f"{c}{u}"
                               for tn, c, u in zip(town_name, county_name, unit_kind,
                                                   strict=True)]
    return out

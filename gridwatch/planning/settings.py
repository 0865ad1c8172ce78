"""``[plan]``: the weights of the priority score, how sites are grouped, and the field day.

Every weight is visible in the project file and in each row's explanation. Defaults::

    [plan]
    site_radius_m = 200        # problems within this distance (chained) are one site
    enterprise_column = ""     # problems with the same non-empty value here are one site
    visit_minutes = 30         # time on site for a site of one problem
    minutes_per_problem = 10   # and for each further problem of the site
    day_minutes = 480          # working time of a team-day, base to base
    speed_kmh = 30             # travel speed
    detour_factor = 1.3        # road distance / straight-line distance (no road network)
    solver_seconds = 10        # time limit of the route search (per plan)
    max_sites = 300            # sites considered by the search, highest priority first
    hotspot_layer = ""         # layer of the Gi* bin and emerging category (default: grid)
    day_start = "08:30"        # when the teams leave their base (arrival times in the package)

    [plan.weights]
    overdue_day = 1.0          # per day past the deadline, up to overdue_days_cap
    overdue_days_cap = 60
    red = 20.0
    yellow = 5.0
    hot_bin = 5.0              # per Gi* confidence level of a hot spot (bin 1, 2, 3)
    emerging = 10.0            # new, consecutive, intensifying or persistent hot spot
    rebound = 15.0             # the problem repeats one closed nearby (回头看)
    repeat_complaint = 10.0    # reported more than once (duplicate incident)
    inside_zone = 15.0         # inside a redline / drinking-water zone
    zone_belt = 5.0            # within its belt (near_m) but outside
    petition = 3.0             # per citizen complaint (public report, hotline)
    field_not_rectified = 20.0 # per earlier field check that found it not rectified
    field_rebound = 20.0       # per earlier field check that found it back

    [plan.weights.severity]
    "一般" = 0.0
    "较重" = 5.0
    "严重" = 10.0

    [[plan.bases]]
    name = "县局"
    lon = 120.755
    lat = 30.746
    crs = "gcj02"              # of lon/lat; default [input] crs
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gridwatch.errors import ConfigError
from gridwatch.settings import type_name, unknown_keys

__all__ = ["Base", "PlanSettings", "PlanWeights", "clock_time", "parse_plan_settings"]


@dataclass(frozen=True)
class PlanWeights:
    """``[plan.weights]``: points of each term of the priority score."""

    overdue_day: float = 1.0
    overdue_days_cap: float = 60.0
    red: float = 20.0
    yellow: float = 5.0
    hot_bin: float = 5.0
    emerging: float = 10.0
    rebound: float = 15.0
    repeat_complaint: float = 10.0
    inside_zone: float = 15.0
    zone_belt: float = 5.0
    petition: float = 3.0
    field_not_rectified: float = 20.0
    field_rebound: float = 20.0
    severity: Mapping[str, float] = field(
        default_factory=lambda: {"一般": 0.0, "较重": 5.0, "严重": 10.0})


@dataclass(frozen=True)
class Base:
    """A team's base (``[[plan.bases]]``): where its routes start and end."""

    name: str
    lon: float
    lat: float
    crs: str | None = None


@dataclass(frozen=True)
class PlanSettings:
    """``[plan]``: see the module docstring for every key and its default."""

    site_radius_m: float = 200.0
    enterprise_column: str = ""
    visit_minutes: float = 30.0
    minutes_per_problem: float = 10.0
    day_minutes: float = 480.0
    speed_kmh: float = 30.0
    detour_factor: float = 1.3
    solver_seconds: float = 10.0
    max_sites: int = 300
    hotspot_layer: str = ""
    day_start: str = "08:30"
    weights: PlanWeights = field(default_factory=PlanWeights)
    bases: tuple[Base, ...] = ()


_POSITIVE = ("site_radius_m", "visit_minutes", "day_minutes", "speed_kmh", "solver_seconds",
             "max_sites")
_NON_NEGATIVE = ("minutes_per_problem",)
_TEXT = ("enterprise_column", "hotspot_layer", "day_start")


def _number(raw: Mapping[str, Any], key: str, where: str, problems: list[str], *,
            low: float, strict: bool) -> float | None:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{where} {key} must be a number, got {type_name(value)} ({value!r})")
        return None
    if value < low or (strict and value == low):
        problems.append(f"{where} {key} must be {'>' if strict else '>='} {low:g}, "
                        f"got {value!r}")
        return None
    return float(value)


def _weights(raw: Any, problems: list[str]) -> PlanWeights:
    where = "[plan.weights]"
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a table, got {type_name(raw)}")
        return PlanWeights()
    names = [f.name for f in dataclasses.fields(PlanWeights)]
    problems += unknown_keys(raw, names, where)
    values: dict[str, Any] = {}
    for key in names:
        if key not in raw or key == "severity":
            continue
        number = _number(raw, key, where, problems, low=0.0, strict=False)
        if number is not None:
            values[key] = number
    if "severity" in raw:
        table = raw["severity"]
        if not isinstance(table, dict):
            problems.append(f"{where} severity must be a table of label = points, "
                            f"got {type_name(table)}")
        else:
            severity = {}
            for label in table:
                number = _number(table, label, f"{where} severity", problems, low=0.0,
                                 strict=False)
                if number is not None:
                    severity[str(label)] = number
            values["severity"] = severity
    return PlanWeights(**values)


def _bases(raw: Any, problems: list[str]) -> tuple[Base, ...]:
    if not isinstance(raw, list):
        problems.append(f"[[plan.bases]] must be an array of tables, got {type_name(raw)}")
        return ()
    bases = []
    for n, item in enumerate(raw, start=1):
        where = f"[[plan.bases]] #{n}"
        if not isinstance(item, dict):
            problems.append(f"{where} must be a table, got {type_name(item)}")
            continue
        problems += unknown_keys(item, ("name", "lon", "lat", "crs"), where)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where} name must be a non-empty string, got {name!r}")
            continue
        lon = _number(item, "lon", where, problems, low=-180.0, strict=False) \
            if "lon" in item else None
        lat = _number(item, "lat", where, problems, low=-90.0, strict=False) \
            if "lat" in item else None
        if lon is None or lat is None:
            if "lon" not in item or "lat" not in item:
                problems.append(f"{where} ({name}) needs lon and lat")
            continue
        crs = item.get("crs")
        if crs is not None:
            from gridwatch.placing.coords import parse_crs

            if not isinstance(crs, str) or parse_crs(crs) is None:
                problems.append(f"{where} ({name}) crs {crs!r} is not a coordinate system "
                                "gridwatch knows (wgs84, cgcs2000, gcj02, bd09, EPSG:n)")
                continue
            crs = parse_crs(crs)
        bases.append(Base(name=name.strip(), lon=lon, lat=lat, crs=crs))
    seen: set[str] = set()
    for base in bases:
        if base.name in seen:
            problems.append(f"[[plan.bases]] name {base.name!r} is declared twice")
        seen.add(base.name)
    return tuple(bases)


def _clock(text: str) -> bool:
    parts = text.split(":")
    return (len(parts) == 2 and all(p.isdigit() for p in parts)
            and 0 <= int(parts[0]) < 24 and 0 <= int(parts[1]) < 60)


def clock_time(day_start: str, minutes: float) -> str:
    """The time of day ``minutes`` after ``day_start`` (``"08:30"``), as ``"HH:MM"``.

    Examples
    --------
    >>> clock_time("08:30", 95.4)
    '10:05'
    """
    hours, mins = (int(p) for p in day_start.split(":"))
    total = hours * 60 + mins + round(minutes)
    return f"{total // 60 % 24:02d}:{total % 60:02d}"


def parse_plan_settings(section: Mapping[str, Any]) -> PlanSettings:
    """Validate ``[plan]`` (with ``[plan.weights]`` and ``[[plan.bases]]``).

    Raises
    ------
    ConfigError
        Listing every problem: unknown keys (with the nearest valid one), wrong types, values
        out of range.

    Examples
    --------
    >>> parse_plan_settings({"site_radius_m": 100}).site_radius_m
    100.0
    """
    raw = dict(section or {})
    where = "[plan]"
    allowed = [f.name for f in dataclasses.fields(PlanSettings)]
    problems = unknown_keys(raw, allowed, where)
    values: dict[str, Any] = {}
    for key in _POSITIVE + _NON_NEGATIVE:
        if key in raw:
            number = _number(raw, key, where, problems, low=0.0, strict=key in _POSITIVE)
            if number is not None:
                values[key] = int(number) if key == "max_sites" else number
    if "detour_factor" in raw:
        number = _number(raw, "detour_factor", where, problems, low=1.0, strict=False)
        if number is not None:
            values["detour_factor"] = number
    for key in _TEXT:
        if key in raw:
            if isinstance(raw[key], str):
                values[key] = raw[key].strip()
            else:
                problems.append(f"{where} {key} must be a string, got {type_name(raw[key])}")
    start = values.get("day_start")
    if start is not None and not _clock(start):
        problems.append(f"{where} day_start must be a time of day HH:MM, got {start!r}")
        del values["day_start"]
    if "weights" in raw:
        values["weights"] = _weights(raw["weights"], problems)
    if "bases" in raw:
        values["bases"] = _bases(raw["bases"], problems)
    if problems:
        raise ConfigError(f"{where} has {len(problems)} problem(s):", problems)
    return PlanSettings(**values)

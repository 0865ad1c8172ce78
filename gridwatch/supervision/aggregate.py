"""Area statistics per layer and period: the figures behind 日提醒, 周亮晒 and 月复盘.

For a period ``[start, end]`` of local dates, evaluated as of the end of ``end``:

* ``new``: problems reported in the period; ``closed``: closed in the period, split into
  ``closed_on_time`` and ``closed_late``; ``median_days_to_close`` over those;
* ``open``, ``red``, ``yellow``, ``green``: the state at the end of the period;
* ``overdue_rate`` = red / open; ``on_time_rate`` = closed_on_time / closed (NaN when the
  denominator is 0); ``rebounds``: new problems flagged as rebounds.

Without ``start`` the period is everything up to ``end`` (a status snapshot). When the incident
grouping is given, only the first report of each incident is counted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.schema import DEFAULT_TIMEZONE
from gridwatch.supervision.calendar import local_dates
from gridwatch.supervision.codes import parse_as_of
from gridwatch.supervision.incidents import incident_primary

if TYPE_CHECKING:
    import geopandas as gpd

    from gridwatch.supervision.context import SupervisionContext

__all__ = [
    "STAT_COLUMNS",
    "area_statistics",
    "area_statistics_gdf",
    "period_bounds",
    "period_statistics",
    "previous_period",
    "reported_between",
]

STAT_COLUMNS: tuple[str, ...] = (
    "new", "closed", "closed_on_time", "closed_late", "open", "red", "yellow", "green",
    "overdue_rate", "on_time_rate", "median_days_to_close", "rebounds",
)
_COUNTS = ("new", "closed", "closed_on_time", "closed_late", "open", "red", "yellow", "green",
           "rebounds")


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    """First and last local date of ``"YYYY-MM-DD"``, ISO week ``"YYYY-Www"`` or ``"YYYY-MM"``.

    Examples
    --------
    >>> period_bounds("2025-W01")
    (datetime.date(2024, 12, 30), datetime.date(2025, 1, 5))
    """
    text = str(period).strip()
    try:
        if "W" in text.upper():
            year, week = text.upper().split("-W")
            first = dt.date.fromisocalendar(int(year), int(week), 1)
            return first, first + dt.timedelta(days=6)
        parts = text.split("-")
        if len(parts) == 2:
            first = dt.date(int(parts[0]), int(parts[1]), 1)
            nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return first, nxt - dt.timedelta(days=1)
        day = dt.date.fromisoformat(text)
        return day, day
    except ValueError:
        raise ConfigError(f"period {period!r} is not a day (YYYY-MM-DD), an ISO week (YYYY-Www) "
                          "or a month (YYYY-MM)") from None


def previous_period(period: str) -> str:
    """The period just before ``period``, in the same notation.

    Examples
    --------
    >>> previous_period("2025-W01"), previous_period("2025-03"), previous_period("2025-03-01")
    ('2024-W52', '2025-02', '2025-02-28')
    """
    first, last = period_bounds(period)
    before = first - dt.timedelta(days=1)
    text = str(period).strip().upper()
    if "W" in text:
        year, week, _ = before.isocalendar()
        return f"{year}-W{week:02d}"
    if first != last:
        return f"{before.year}-{before.month:02d}"
    return before.isoformat()


def reported_between(issues: pd.DataFrame, start: Any = None, end: Any = None, *,
                     timezone: str = DEFAULT_TIMEZONE) -> np.ndarray:
    """Mask of problems whose local report date lies in ``[start, end]`` (None: unbounded)."""
    return _between(local_dates(issues["reported_at"], timezone), start, end)


def _between(days: np.ndarray, start: Any, end: Any) -> np.ndarray:
    mask: np.ndarray = ~np.isnat(days)
    if start is not None:
        mask &= days >= np.datetime64(parse_as_of(start), "D")
    if end is not None:
        mask &= days <= np.datetime64(parse_as_of(end), "D")
    return mask


def area_factors(issues: pd.DataFrame, layer: str) -> tuple[np.ndarray, np.ndarray]:
    """Each problem's area of ``layer`` as an integer code (-1: outside every area) and the
    area ids in code order (``pandas.factorize``)."""
    codes, uniques = pd.factorize(issues[f"{layer}_id"].astype("str"), use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def area_statistics(issues: pd.DataFrame, evaluated: pd.DataFrame, *, layer: str,
                    start: Any = None, end: Any = None, rebounds: pd.DataFrame | None = None,
                    incidents: pd.DataFrame | None = None,
                    areas: Iterable[str] | pd.DataFrame | None = None,
                    timezone: str = DEFAULT_TIMEZONE,
                    area_codes: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """Statistics per area of ``layer`` for one period.

    Parameters
    ----------
    issues
        The wide issues frame with ``<layer>_id``.
    evaluated
        :func:`gridwatch.supervision.codes.evaluate_as_of` of ``issues`` as of ``end``.
    layer
        Layer name; problems outside every area of it form a row with area_id NA.
    start, end
        Local dates of the period (``end`` only bounds ``new``/``closed``; the state comes from
        ``evaluated``).
    rebounds, incidents
        Outputs of :func:`gridwatch.supervision.rebound.find_rebounds` and
        :func:`gridwatch.supervision.incidents.group_incidents`; with ``incidents`` only the first
        report of each incident is counted.
    areas
        Area ids (or a layer frame with ``area_id`` and optionally ``area_name``) to list even
        with no problem.
    timezone
        The territory's time zone.
    area_codes
        ``pandas.factorize`` of ``issues["<layer>_id"]`` when already at hand (the context keeps
        it per layer).

    Returns
    -------
    pandas.DataFrame
        ``area_id`` (then ``area_name`` when ``areas`` has names) and :data:`STAT_COLUMNS`,
        sorted by area_id.
    """
    column = f"{layer}_id"
    if column not in issues:
        have = ", ".join(c[:-3] for c in issues.columns if c.endswith("_id") and c != "issue_id")
        raise ConfigError(f"layer {layer!r}: the issues have no column {column!r}; "
                          f"layers present: {have or '(none)'}")
    counted = evaluated["known"].to_numpy(dtype=bool)
    if incidents is not None:
        counted = counted & incident_primary(incidents)
    code_column = evaluated["code"]

    def code_is(name: str) -> np.ndarray:
        result: np.ndarray = (code_column == name).to_numpy(dtype=bool, na_value=False)
        return result
    new = reported_between(issues, start, end, timezone=timezone)
    closed_in = _between(local_dates(evaluated["closed_at"], timezone), start, end)
    flags = {
        "new": new,
        "closed": closed_in,
        "closed_on_time": closed_in & code_is("closed_on_time"),
        "closed_late": closed_in & code_is("closed_late"),
        "open": evaluated["is_open"].to_numpy(dtype=bool),
        "red": code_is("red"),
        "yellow": code_is("yellow"),
        "green": code_is("green"),
        "rebounds": new & (rebounds["rebound"].to_numpy(dtype=bool) if rebounds is not None
                           else False),
    }
    # areas as integer codes (missing area: the last code), counts by bincount
    codes, uniques = area_codes if area_codes is not None else area_factors(issues, layer)
    k = len(uniques) + 1
    group = np.where(codes < 0, k - 1, codes)[counted]
    present = np.bincount(group, minlength=k) > 0
    sums = {name: np.bincount(group[flag[counted]], minlength=k).astype("int64")
            for name, flag in flags.items()}
    days = evaluated["days_to_close"].to_numpy(dtype="float64")[counted]
    closing = closed_in[counted] & ~np.isnan(days)
    median = np.full(k, np.nan)
    if closing.any():
        found = pd.Series(days[closing]).groupby(group[closing]).median()
        median[found.index.to_numpy()] = found.to_numpy()
    labels = pd.Index([*np.asarray(uniques, dtype=object), None], dtype="str")
    stats = pd.DataFrame({name: sums[name][present] for name in _COUNTS},
                         index=labels[present])
    stats["median_days_to_close"] = median[present]
    return statistics_table(stats, areas)


def statistics_table(stats: pd.DataFrame,
                     areas: Iterable[str] | pd.DataFrame | None = None) -> pd.DataFrame:
    """The per-area statistics table from counts indexed by area id (``_COUNTS`` and
    ``median_days_to_close``): every area of ``areas`` listed, the rates, ordered by area id,
    with the area names when ``areas`` has them."""
    if areas is not None:
        ids = areas["area_id"] if isinstance(areas, pd.DataFrame) else pd.Series(list(areas))
        extra = pd.Index(ids.astype("str")).difference(stats.index.dropna())
        stats = pd.concat([stats, pd.DataFrame(index=extra, columns=stats.columns)])
        stats[list(_COUNTS)] = stats[list(_COUNTS)].fillna(0)
    stats[list(_COUNTS)] = stats[list(_COUNTS)].astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        stats["overdue_rate"] = np.where(stats["open"] > 0, stats["red"] / stats["open"], np.nan)
        stats["on_time_rate"] = np.where(stats["closed"] > 0,
                                         stats["closed_on_time"] / stats["closed"], np.nan)
    stats["median_days_to_close"] = stats["median_days_to_close"].astype("float64")
    stats = stats.rename_axis("area_id").reset_index()
    stats["area_id"] = stats["area_id"].astype("str")
    stats = (stats[["area_id", *STAT_COLUMNS]]
             .sort_values("area_id", kind="stable", na_position="last").reset_index(drop=True))
    if isinstance(areas, pd.DataFrame) and "area_name" in areas:
        names = pd.Series(areas["area_name"].to_numpy(), index=areas["area_id"].astype("str"))
        stats.insert(1, "area_name", stats["area_id"].map(names).astype("str"))
    return stats


def period_statistics(context: SupervisionContext, periods: Iterable[str], *, layer: str,
                      areas: Iterable[str] | pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`area_statistics` for several periods (days, ISO weeks or months), stacked.

    Parameters
    ----------
    context
        The supervision context (problems, history, settings, rebounds, incidents).
    periods
        Periods such as ``"2024-03-15"``, ``"2024-W10"`` or ``"2024-03"``.
    layer
        Layer whose areas are counted.
    areas
        Areas to list even with no problem; default the layer's areas in the project.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``start``, ``end``, ``area_id`` and :data:`STAT_COLUMNS`.
    """
    if areas is None:
        areas = context.area_table(layer)
    parts = []
    for period in periods:
        first, last = period_bounds(period)
        stats = area_statistics(context.issues, context.evaluate(last), layer=layer,
                                start=first, end=last, rebounds=context.rebounds,
                                incidents=context.incidents, areas=areas,
                                timezone=context.timezone,
                                area_codes=context.area_codes(layer))
        stats.insert(0, "end", last)
        stats.insert(0, "start", first)
        stats.insert(0, "period", str(period))
        parts.append(stats)
    if not parts:
        raise ConfigError("periods is empty; give at least one period such as '2024-W10'")
    return pd.concat(parts, ignore_index=True)


def area_statistics_gdf(stats: pd.DataFrame, areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Join statistics onto the layer's areas by ``area_id``; areas with no row get zero counts."""
    if "area_id" not in areas:
        raise ConfigError("areas has no column 'area_id'; pass a layer from load_layers()")
    keep = [c for c in ("area_id", "area_name", "parent_id", "geometry") if c in areas]
    base = areas[keep].assign(area_id=areas["area_id"].astype("str"))
    merged = base.merge(stats, on="area_id", how="left")
    counts = [c for c in _COUNTS if c in merged]
    merged[counts] = merged[counts].fillna(0).astype("int64")
    import geopandas as gpd

    return gpd.GeoDataFrame(merged, geometry="geometry", crs=areas.crs)

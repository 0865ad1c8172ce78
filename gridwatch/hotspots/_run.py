"""From stored problems to a hotspot layer: the variable per area as of a date, then one method.

The variables come from the area statistics of :mod:`gridwatch.supervision.aggregate`:
``overdue`` = red problems as of the date, ``open`` = open problems, ``new`` = problems
reported in the period (week or month) ending on the date, ``overdue_rate`` = red / open for
areas with at least ``rate_min_problems`` open problems (0 below it, so a single late problem
is no hotspot). Emerging analyses count ``new`` problems per period directly from ``reported_at``
(or, for the other variables, the state at the end of each period via
:func:`gridwatch.supervision.aggregate.period_statistics`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridwatch.errors import ConfigError
from gridwatch.hotspots._settings import HotspotSettings

if TYPE_CHECKING:
    from gridwatch.hotspots.gistar import Inference
    from gridwatch.supervision.context import SupervisionContext

__all__ = [
    "HOTSPOT_METHODS",
    "HOTSPOT_VARIABLES",
    "iso_label",
    "new_per_period",
    "period_count_ids",
    "period_counts",
    "period_labels",
    "run_hotspots",
    "statistics_per_period",
    "summarise",
]

HOTSPOT_METHODS: tuple[str, ...] = ("rule", "gistar", "hex", "emerging")
HOTSPOT_VARIABLES: tuple[str, ...] = ("overdue", "open", "new", "overdue_rate")


#: The counts per area each variable (or the rule) is made of.
_COUNTS_OF: dict[str, tuple[str, ...]] = {
    "rule": ("red", "open"), "overdue": ("red",), "open": ("open",), "new": ("new",),
    "overdue_rate": ("red", "open"),
}


class _WeightOptions(TypedDict):
    """The spatial-weights keywords shared by :func:`gi_star` and :func:`emerging_hotspots`."""

    weights_kind: str
    k: int
    distance_m: float | None
    cache_dir: str | Path | None


def run_hotspots(
    context: SupervisionContext,
    *,
    layer: str | None,
    method: str,
    as_of: Any = None,
    variable: str | None = None,
    period: str | None = None,
) -> gpd.GeoDataFrame:
    """Run one hotspot method on stored problems as of a local date.

    Parameters
    ----------
    context
        The supervision context: problems (WGS84 ``lon``/``lat``, ``<layer>_id``), history,
        settings (``[hotspots]`` among them), the project's layers and the weights cache.
    layer
        Layer whose areas are analysed; for ``hex`` optional, its union then bounds the
        hexagons.
    method
        ``rule``, ``gistar``, ``hex`` or ``emerging``.
    as_of
        Local date (``YYYY-MM-DD``); default the last day on which a problem was reported.
    variable
        ``overdue`` (default; ``new`` for emerging), ``open``, ``new`` or ``overdue_rate``.
    period
        ``week`` or ``month``: the period of ``new`` and the time step of ``emerging``;
        default ``[hotspots] period``.

    Returns
    -------
    GeoDataFrame
        The method's result; ``attrs`` adds ``layer``, ``as_of``, ``variable``, ``period``.
    """
    from gridwatch.supervision.codes import parse_as_of

    settings = context.settings.hotspots
    if method not in HOTSPOT_METHODS:
        raise ConfigError(f"method {method!r} is not allowed; use one of "
                          f"{', '.join(HOTSPOT_METHODS)}")
    variable = variable or ("new" if method == "emerging" else "overdue")
    if variable not in HOTSPOT_VARIABLES:
        raise ConfigError(f"variable {variable!r} is not allowed; use one of "
                          f"{', '.join(HOTSPOT_VARIABLES)}")
    if method == "rule" and variable != "overdue":
        raise ConfigError(f"the rule method counts overdue problems; variable {variable!r} "
                          "does not apply (leave --variable out)")
    period = period or settings.period
    if period not in ("week", "month"):
        raise ConfigError(f"period {period!r} is not allowed; use 'week' or 'month'")
    if layer is None and method != "hex":
        names = ", ".join(s.name for s in context.config.layers) if context.config else ""
        raise ConfigError(f"--layer is required for --method {method}: it needs the areas of a "
                          f"layer; layers: {names or '(none)'}")
    areas = None
    if layer is not None:
        if context.config is None:
            raise ConfigError(f"layer {layer!r}: a project file is needed for its areas")
        context.config.layer(layer)  # a clear error naming the layers when it is unknown
        areas = context.areas(layer)
    if context.issues.empty:
        raise ConfigError("the store has no problems yet: run gridwatch ingest first")
    if as_of is None:
        as_of = context.last_report_date()
    if settings.max_precision_m is not None:  # places found from addresses too coarsely
        from gridwatch.geocoding.records import placement_mask

        context = context.restrict(placement_mask(context.issues,
                                                  max_precision_m=settings.max_precision_m))
    day = parse_as_of(as_of)
    kwargs: _WeightOptions = {"weights_kind": settings.weights, "k": settings.knn_k,
                              "distance_m": settings.distance_m, "cache_dir": context.cache_dir}
    # each method's module is imported when it runs (emerging and hex need more of scipy)
    if method == "emerging":
        from gridwatch.hotspots.emerging import emerging_hotspots

        counts = period_counts(context, layer=str(layer), as_of=day, period=period,
                               periods=settings.periods or (52 if period == "week" else 12),
                               variable=variable, areas=areas)
        result = emerging_hotspots(areas, counts, time_lag=settings.time_lag, scope=settings.scope,
                                   alpha=settings.alpha, trend_alpha=settings.trend_alpha,
                                   fdr=settings.fdr, **kwargs)
    else:
        issues, evaluated = context.issues, context.evaluate(day)
        if method == "hex":
            result = _hex(issues, evaluated, areas, variable=variable, day=day, period=period,
                          settings=settings, timezone=context.timezone)
        else:
            stats = _area_counts(context, evaluated, layer=str(layer), areas=areas, day=day,
                                 period=period,
                                 names=_COUNTS_OF["rule" if method == "rule" else variable])
            if method == "rule":
                from gridwatch.hotspots.rule import rule_hotspots

                result = rule_hotspots(areas, stats["red"], stats["open"],
                                       min_overdue=settings.rule_min_overdue,
                                       min_rate=settings.rule_min_rate,
                                       min_problems=settings.rule_min_problems)
            else:
                from gridwatch.hotspots.gistar import gi_star

                values = _variable(stats, variable, settings.rate_min_problems)
                result = gi_star(areas, values, permutations=settings.permutations,
                                 seed=settings.seed, inference=_inference(settings),
                                 fdr=settings.fdr, **kwargs)
    result.attrs.update({"layer": layer, "as_of": day.isoformat(), "variable": variable,
                         "period": period})
    return result


def summarise(result: gpd.GeoDataFrame) -> dict[str, Any]:
    """Counts per bin (Gi*, hex) or per category (rule, emerging), plus the run's settings."""
    method = result.attrs.get("method", "")
    by = "bin" if method in ("gistar", "hex") else "category"
    counts = result[by].value_counts(dropna=False).sort_index()
    summary: dict[str, Any] = {k: v for k, v in result.attrs.items()
                               if isinstance(v, str | int | float | list)}
    summary["areas"] = len(result)
    summary["counts_by"] = by
    summary["counts"] = {str(k): int(v) for k, v in counts.items()}
    return summary


def period_counts(
    context: SupervisionContext,
    *,
    layer: str,
    as_of: Any,
    period: str,
    periods: int,
    variable: str = "new",
    areas: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Counts per area (rows) and period (columns, oldest first) for the emerging analysis.

    The last period is the week (Monday–Sunday) or month holding ``as_of``. ``new`` counts
    reports by local report date; the other variables are the state at each period's end.
    Periods before the first reported problem are left out (an empty start would read as a
    trend), keeping at least 3. ``areas`` lists the rows (default: every area with a problem).
    """
    from gridwatch.supervision.calendar import local_dates
    from gridwatch.supervision.codes import parse_as_of

    issues = context.issues
    day = parse_as_of(as_of)
    reported = local_dates(issues["reported_at"], context.timezone)
    labels = period_labels(reported, day=day, period=period, periods=periods)
    ids = period_count_ids(issues, layer, areas)
    if variable == "new":
        return new_per_period(context.area_codes(layer), reported, ids=ids, labels=labels,
                               day=day, period=period)
    from gridwatch.supervision.aggregate import period_statistics

    names = [iso_label(p, period) for p in labels]
    stats = period_statistics(context, names, layer=layer, areas=ids)
    return statistics_per_period(stats, labels, ids=ids, variable=variable, period=period)


def period_labels(reported: np.ndarray, *, day: dt.date, period: str,
                  periods: int) -> pd.PeriodIndex:
    """The periods of :func:`period_counts`, oldest first: ``periods`` weeks or months
    ending with the one holding ``day``, without those before the first local report date
    in ``reported`` (keeping at least 3)."""
    freq = "W-SUN" if period == "week" else "M"
    last = pd.Period(day, freq=freq)
    labels = pd.period_range(end=last, periods=periods, freq=freq)
    if (~np.isnat(reported)).any():
        first = pd.Period(pd.Timestamp(reported[~np.isnat(reported)].min()), freq=freq)
        labels = labels[(labels >= first) | (np.arange(len(labels)) >= len(labels) - 3)]
    return labels


def period_count_ids(issues: pd.DataFrame, layer: str,
                     areas: gpd.GeoDataFrame | None) -> list[str]:
    """The rows of :func:`period_counts`: the areas' ids, default every area with a problem."""
    column = f"{layer}_id"
    if column not in issues.columns:
        raise ConfigError(f"layer {layer!r}: the issues have no column {column!r}")
    return (areas["area_id"].astype(str).tolist() if areas is not None
            else sorted(issues[column].dropna().astype(str).unique()))


def statistics_per_period(stats: pd.DataFrame, labels: pd.PeriodIndex, *, ids: list[str],
                          variable: str, period: str) -> pd.DataFrame:
    """:func:`period_counts` of a variable other than ``new`` from the area statistics of
    each period (``period`` column: :func:`iso_label` of ``labels``)."""
    names = [iso_label(p, period) for p in labels]
    stats = stats[stats["area_id"].notna()]
    stats["value"] = _variable(stats, variable, 1).to_numpy()
    table = stats.pivot_table(index="area_id", columns="period", values="value", aggfunc="sum")
    table.columns = [labels[names.index(c)] for c in table.columns]
    table = table.reindex(index=pd.Index(ids, name="area_id"), columns=labels).fillna(0)
    return table.astype(float)


def new_per_period(area_codes: tuple[np.ndarray, np.ndarray], reported: np.ndarray, *,
                    ids: list[str], labels: pd.PeriodIndex, day: dt.date,
                    period: str) -> pd.DataFrame:
    """Problems reported per area (rows: ``ids``) and period (columns: ``labels``) up to
    ``day``, by local report date; problems of other areas or none are left out."""
    rows = pd.Index(ids)
    unique = rows.unique()  # a repeated id (refused later by the weights) gets the same counts
    row = _positions(area_codes, unique)
    days = reported.astype("datetime64[D]")
    ok = (row >= 0) & ~np.isnat(days) & (days <= np.datetime64(day, "D"))
    first = labels[0].start_time.to_datetime64()
    if period == "week":  # labels are weeks Monday–Sunday: whole weeks since the first Monday
        column = (days[ok] - first.astype("datetime64[D]")).astype(np.int64) // 7
    else:
        column = (days[ok].astype("datetime64[M]") - first.astype("datetime64[M]")).astype(np.int64)
    keep = column >= 0  # the last period holds ``day``, so no later column is reached
    cells = row[ok][keep] * len(labels) + column[keep]
    counts = np.bincount(cells, minlength=len(unique) * len(labels)).reshape(len(unique), -1)
    if len(unique) < len(rows):
        counts = counts[unique.get_indexer(rows)]
    return pd.DataFrame(counts.astype(float), index=pd.Index(ids, name="area_id"), columns=labels)


def _positions(area_codes: tuple[np.ndarray, np.ndarray], ids: pd.Index) -> np.ndarray:
    """Position in ``ids`` (unique) of each problem's area, -1 for none or another area, from
    :meth:`SupervisionContext.area_codes` (only the distinct area ids are looked up)."""
    codes, uniques = area_codes
    lookup = np.append(ids.get_indexer(uniques), -1)
    return lookup[codes]  # code -1 (no area) reads the appended -1


def iso_label(p: pd.Period, period: str) -> str:
    """``YYYY-Www`` or ``YYYY-MM`` of a week or month."""
    if period == "week":
        year, week, _ = p.start_time.date().isocalendar()
        return f"{year}-W{week:02d}"
    return f"{p.year}-{p.month:02d}"


def _area_counts(context: SupervisionContext, evaluated: pd.DataFrame, *, layer: str,
                 areas: gpd.GeoDataFrame, day: dt.date, period: str,
                 names: tuple[str, ...]) -> pd.DataFrame:
    """The counts ``names`` (among ``red``, ``open``, ``new``) per area, indexed by the areas'
    ids: the figures of :meth:`SupervisionContext.status` (problems counted the same way, see
    :func:`gridwatch.supervision.aggregate.area_statistics`), with ``new`` over the period
    ending on ``day``; only the asked ones are computed."""
    from gridwatch.supervision.aggregate import reported_between

    column = f"{layer}_id"
    issues = context.issues
    if column not in issues:
        raise ConfigError(f"layer {layer!r}: the issues have no column {column!r}")
    ids = pd.Index(areas["area_id"].astype("str"))
    unique = ids.unique()  # a repeated id (refused later by the weights) gets the same counts
    row = _positions(context.area_codes(layer), unique)
    counted = evaluated["known"].to_numpy(dtype=bool) & context.counted().to_numpy(dtype=bool)
    counted &= row >= 0
    flags = {
        "red": lambda: (evaluated["code"] == "red").to_numpy(dtype=bool, na_value=False),
        "open": lambda: evaluated["is_open"].to_numpy(dtype=bool),
        "new": lambda: reported_between(issues, _period_start(day, period), day,
                                        timezone=context.timezone),
    }
    slot = unique.get_indexer(ids)
    out = {name: np.bincount(row[counted & flags[name]()], minlength=len(unique))[slot]
           for name in names}
    return pd.DataFrame(out, index=ids.rename("area_id"), dtype="int64")


def _period_start(day: dt.date, period: str) -> dt.date:
    """First day of the week or month of problems counted as ``new``, ending on ``day``."""
    if period == "week":
        return day - dt.timedelta(days=6)
    return (pd.Timestamp(day) - pd.DateOffset(months=1) + pd.Timedelta(days=1)).date()


def _variable(stats: pd.DataFrame, variable: str, rate_min: int) -> pd.Series:
    if variable == "overdue":
        return stats["red"].astype(float)
    if variable == "open":
        return stats["open"].astype(float)
    if variable == "new":
        return stats["new"].astype(float)
    rate = stats["red"] / stats["open"].where(stats["open"] > 0)
    return rate.where(stats["open"] >= rate_min, 0.0).fillna(0.0).astype(float)


def _inference(settings: HotspotSettings) -> Inference:
    if settings.permutations <= 0 or settings.inference == "analytical":
        return "analytical"
    if settings.inference == "permutation":
        return "permutation"
    # the message of gi_star, which this value would otherwise reach
    raise ConfigError(f"inference {settings.inference!r} is not allowed; use 'permutation' or "
                      "'analytical'")


def _hex(issues: pd.DataFrame, evaluated: pd.DataFrame, areas: gpd.GeoDataFrame | None, *,
         variable: str, day: dt.date, period: str, settings: HotspotSettings,
         timezone: str) -> gpd.GeoDataFrame:
    from gridwatch.hotspots.hexbin import hex_hotspots
    from gridwatch.supervision.aggregate import reported_between

    known = evaluated["known"].to_numpy(dtype=bool)
    code = evaluated["code"].fillna("").to_numpy(dtype=object)
    is_open = evaluated["is_open"].to_numpy(dtype=bool)
    if variable == "overdue":
        flag = code == "red"
    elif variable == "open":
        flag = is_open
    elif variable == "new":
        flag = reported_between(issues, _period_start(day, period), day, timezone=timezone)
    else:
        raise ConfigError("variable 'overdue_rate' is not available for hexagons; use overdue, "
                          "open or new")
    # hexagons count the open problems (and those new in the period) that carry the flag
    keep = known & (is_open | flag)
    study = None
    if areas is not None and len(areas):
        study = shapely.union_all(shapely.simplify(np.asarray(areas.geometry.values), 0.0005))
    return hex_hotspots(issues["lon"].to_numpy(dtype=float)[keep],
                        issues["lat"].to_numpy(dtype=float)[keep],
                        resolution=settings.hex_resolution, overdue=flag[keep],
                        variable="overdue", study_area=study,
                        permutations=settings.permutations, seed=settings.seed,
                        inference=_inference(settings), fdr=settings.fdr)

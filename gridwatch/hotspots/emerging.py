"""Space-time emerging hot spots, following ArcGIS's Emerging Hot Spot Analysis.

Counts per area and period form a space-time cube. Each bin gets a Gi* z-score whose
neighbourhood is the area and its spatial neighbours in the same period and in the
``time_lag`` periods before it (binary weights), computed period by period against the bins of
that period's time window (or, with ``scope="cube"``, against the whole cube). A Mann–Kendall
test on each area's series of z-scores gives the trend, and each area
falls in one of 17 categories (see :data:`EMERGING_CATEGORIES` and ``docs/hotspots.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtr  # norm.sf(x) == ndtr(-x), as scipy.stats computes it

from gridwatch.errors import ConfigError, LayerError
from gridwatch.hotspots._output import result_frame
from gridwatch.hotspots._trend import mann_kendall
from gridwatch.hotspots._weights import SpatialWeights, build_weights, space_time_weights
from gridwatch.hotspots.gistar import confidence_bins, fdr_bh

__all__ = [
    "EMERGING_CATEGORIES",
    "EMERGING_LABELS",
    "check_space_time",
    "classify_emerging",
    "emerging_frame",
    "emerging_hotspots",
    "space_time_gi_star",
    "space_time_moments",
    "space_time_z",
]

_PATTERNS = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic",
             "oscillating", "historical")
#: The 17 categories: 8 hot, their 8 cold twins, and no pattern.
EMERGING_CATEGORIES: tuple[str, ...] = (
    *(f"{p}_hot_spot" for p in _PATTERNS), *(f"{p}_cold_spot" for p in _PATTERNS), "no_pattern",
)
_ZH = {"new": "新增", "consecutive": "连续", "intensifying": "加剧", "persistent": "持续",
       "diminishing": "减弱", "sporadic": "零星", "oscillating": "振荡", "historical": "历史"}
EMERGING_LABELS: dict[str, str] = {
    **{f"{p}_hot_spot": f"{_ZH[p]}热点" for p in _PATTERNS},
    **{f"{p}_cold_spot": f"{_ZH[p]}冷点" for p in _PATTERNS},
    "no_pattern": "无明显模式",
}


def space_time_gi_star(counts: np.ndarray, spatial: sp.csr_matrix, *, time_lag: int = 1,
                       scope: str = "period") -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and two-sided normal p-values of every bin of a space-time cube.

    Parameters
    ----------
    counts
        Areas × periods (periods in time order).
    spatial
        Binary spatial weights of the areas (no diagonal).
    time_lag
        Periods before each one whose bins are neighbours too (ArcGIS's neighbourhood time
        step minus one: ``time_lag=1`` means this period and the previous one).
    scope
        The population each bin is compared with. ``period`` (default): the bins of its own
        time window (the period and the ``time_lag`` before it), so a city-wide rise or season
        does not make every area hot. ``cube``: every bin of the cube.

    Returns
    -------
    z, p
        Arrays shaped like ``counts``.
    """
    cube = np.asarray(counts, dtype=float)
    check_space_time(cube.shape[1], time_lag=time_lag, scope=scope)
    weights = space_time_weights(spatial, cube.shape[1], time_lag=time_lag)
    z = space_time_z(weights, cube, time_lag=time_lag, scope=scope)
    return z, 2.0 * ndtr(-np.abs(z))


def check_space_time(periods: int, *, time_lag: int, scope: str) -> None:
    """Refuse a ``time_lag`` or ``scope`` that does not fit a cube of ``periods`` periods."""
    if time_lag < 0 or time_lag >= max(periods, 1):
        raise ConfigError(f"time_lag must be between 0 and the number of periods - 1 "
                          f"({periods - 1}), got {time_lag}")
    if scope not in ("period", "cube"):
        raise ConfigError(f"scope {scope!r} is not allowed; use 'period' or 'cube'")


#: ``(sum, mean, variance, n)`` of a population of bins: the moments of Gi*.
Moments = tuple[Any, Any, Any, int]


def space_time_moments(cube: np.ndarray, *, time_lag: int, scope: str) -> list[Moments]:
    """The moments of each period's population (``scope="period"``: the bins of its time
    window; one for the whole cube with ``scope="cube"``), in the order
    :func:`space_time_z` sums them."""
    if scope == "cube":
        return [_moments(cube.T.ravel())]
    return [_moments(cube[:, max(0, t - time_lag):t + 1].T.ravel())
            for t in range(cube.shape[1])]


def space_time_z(weights: sp.csr_matrix, cube: np.ndarray, *, time_lag: int, scope: str,
                 rows: np.ndarray | None = None,
                 moments: list[Moments] | None = None) -> np.ndarray:
    """Gi* z of the bins of a space-time cube (areas × periods) with its space-time weights
    (:func:`~gridwatch.hotspots._weights.space_time_weights`).

    ``rows`` picks the areas whose bins are computed (default all: a part of a territory is
    its areas then its halo, the neighbours of those areas, with the weights of that part);
    ``moments`` are those of the whole territory (:func:`space_time_moments`; default
    computed from ``cube``). Returns ``len(rows)`` × periods.
    """
    n, periods = cube.shape
    picked = n if rows is None else len(rows)
    if moments is None:
        moments = space_time_moments(cube, time_lag=time_lag, scope=scope)
    if scope == "cube":
        block = weights if rows is None else \
            weights[(np.arange(periods)[:, None] * n + rows[None, :]).ravel()]
        # period-major: bin (i, t) is t * n + i
        return _gi_star_rows(block, cube.T.ravel(), moments[0]).reshape(periods, picked).T
    z = np.empty((picked, periods))
    for t in range(periods):
        first = max(0, t - time_lag)
        block = weights[t * n:(t + 1) * n, first * n:(t + 1) * n]
        if rows is not None:
            block = block[rows]
        z[:, t] = _gi_star_rows(block, cube[:, first:t + 1].T.ravel(), moments[t])
    return z


def _moments(y: np.ndarray) -> Moments:
    n = y.size
    total = y.sum()
    mean = total / n
    variance = (y * y).sum() / n - mean * mean
    return total, mean, variance, n


def _gi_star_rows(rows: sp.csr_matrix, y: np.ndarray, moments: Moments) -> np.ndarray:
    """Gi* z of the observations whose weight rows (self-weight included) are ``rows``, with
    ``moments`` those of the whole population (esda's moments for binary weights)."""
    total, mean, variance, n = moments
    if total == 0 or variance <= 0:
        return np.zeros(rows.shape[0])
    card = np.asarray(rows.sum(axis=1)).ravel()
    statistic = (rows @ y) / total
    var_g = card * (n - card) / (n - 1) / n**2 * variance / mean**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (statistic - card / n) / np.sqrt(var_g)
    return np.where(var_g > 0, z, 0.0)


def classify_emerging(
    z: np.ndarray,
    p: np.ndarray,
    *,
    alpha: float = 0.05,
    trend_alpha: float = 0.05,
    fdr: bool = False,
    trend: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classify each area's series of Gi* results into the 17 emerging categories.

    A bin is a hot (cold) spot when ``z > 0`` (``z < 0``) and it is significant: ``p < alpha``,
    or with ``fdr`` the Benjamini–Hochberg adjusted p over the whole cube ``<= alpha``.
    The Mann–Kendall trend of the area's z-scores is significant when its p ``< trend_alpha``;
    ``trend``: its ``(z, p)`` per area when already computed (on a cluster).

    Returns
    -------
    categories, trend_z, trend_p
        One entry per area (row).
    """
    z = np.atleast_2d(np.asarray(z, dtype=float))
    p = np.atleast_2d(np.asarray(p, dtype=float))
    if z.shape != p.shape:
        raise ConfigError(f"z and p must have the same shape, got {z.shape} and {p.shape}")
    if not 0 < alpha < 1 or not 0 < trend_alpha < 1:
        raise ConfigError(f"alpha and trend_alpha must be between 0 and 1, got {alpha!r} and "
                          f"{trend_alpha!r}")
    significant = (fdr_bh(p.ravel()).reshape(p.shape) <= alpha) if fdr else (p < alpha)
    hot = significant & (z > 0)
    cold = significant & (z < 0)
    trend_z, trend_p = trend if trend is not None else mann_kendall(z)[1:]
    rising = (trend_p < trend_alpha) & (trend_z > 0)
    falling = (trend_p < trend_alpha) & (trend_z < 0)
    out = np.empty(z.shape[0], dtype=object)
    for row in range(z.shape[0]):
        out[row] = _classify_row(hot[row], cold[row], rising[row], falling[row])
    return out, trend_z, trend_p


def _classify_row(hot: np.ndarray, cold: np.ndarray, rising: bool, falling: bool) -> str:
    # The final period picks the family; with neither, only a historical pattern can remain.
    if hot[-1]:
        return _pattern(hot, cold, intensifying=rising, diminishing=falling) + "_hot_spot"
    if cold[-1]:
        return _pattern(cold, hot, intensifying=falling, diminishing=rising) + "_cold_spot"
    if _at_least_90(hot):
        return "historical_hot_spot"
    if _at_least_90(cold):
        return "historical_cold_spot"
    return "no_pattern"


def _pattern(same: np.ndarray, other: np.ndarray, *, intensifying: bool,
             diminishing: bool) -> str:
    """Pattern of a series whose final period is significant in the family ``same``."""
    periods = same.size
    if not same[:-1].any():
        return "new"
    if _at_least_90(same):
        if intensifying:
            return "intensifying"
        if diminishing:
            return "diminishing"
        return "persistent"
    # length of the final uninterrupted run
    breaks = np.flatnonzero(~same)
    run = periods - (breaks[-1] + 1) if breaks.size else periods
    if run >= 2 and not same[:periods - run].any():
        return "consecutive"
    if other[:-1].any():
        return "oscillating"
    return "sporadic"


def _at_least_90(flags: np.ndarray) -> bool:
    return 10 * int(flags.sum()) >= 9 * flags.size  # exact: no float rounding at 90 %


def emerging_hotspots(
    areas: gpd.GeoDataFrame,
    counts: pd.DataFrame,
    *,
    weights: SpatialWeights | None = None,
    weights_kind: str = "queen",
    k: int = 8,
    distance_m: float | None = None,
    time_lag: int = 1,
    scope: str = "period",
    alpha: float = 0.05,
    trend_alpha: float = 0.05,
    fdr: bool = False,
    cache_dir: str | Path | None = None,
) -> gpd.GeoDataFrame:
    """Emerging hot and cold spots of per-period counts.

    Parameters
    ----------
    areas
        Areas with ``area_id``, ``area_name`` and ``geometry`` (EPSG:4326, WGS84).
    counts
        Index: area id; columns: periods, sorted into time order; values: counts (areas
        missing from the index count 0 in every period).
    weights, weights_kind, k, distance_m, cache_dir
        Spatial weights, as for :func:`~gridwatch.hotspots.gi_star`.
    time_lag
        Previous periods in each bin's neighbourhood (default 1).
    scope
        Population of each bin's Gi*: ``period`` (its time window) or ``cube``; see
        :func:`space_time_gi_star`.
    alpha, trend_alpha, fdr
        Significance of a bin and of the trend; see :func:`classify_emerging`.

    Returns
    -------
    GeoDataFrame
        :data:`~gridwatch.hotspots.OUTPUT_COLUMNS` where ``value``, ``z``, ``p``, ``p_fdr``
        and ``bin`` are the final period's, ``category``/``label`` the pattern and
        ``trend_z``/``trend_p`` the Mann–Kendall trend of the z series; plus ``total``,
        ``hot_periods``, ``cold_periods``.
    """
    cube, periods = _aligned_cube(areas, counts)
    if cube.shape[1] < 3:
        raise ConfigError(f"emerging hot spots need at least 3 periods, got {cube.shape[1]}")
    if weights is None:
        weights = build_weights(areas, kind=weights_kind, k=k, distance_m=distance_m,
                                cache_dir=cache_dir)
    z, p = space_time_gi_star(cube, weights.matrix, time_lag=time_lag, scope=scope)
    categories, trend_z, trend_p = classify_emerging(z, p, alpha=alpha,
                                                     trend_alpha=trend_alpha, fdr=fdr)
    return emerging_frame(areas, cube, periods, z, p, categories, (trend_z, trend_p),
                          weights=weights, time_lag=time_lag, scope=scope, alpha=alpha,
                          trend_alpha=trend_alpha, fdr=fdr)


def emerging_frame(areas: gpd.GeoDataFrame, cube: np.ndarray, periods: list, z: np.ndarray,
                   p: np.ndarray, categories: np.ndarray, trend: tuple[np.ndarray, np.ndarray],
                   *, weights: SpatialWeights, time_lag: int, scope: str, alpha: float,
                   trend_alpha: float, fdr: bool) -> gpd.GeoDataFrame:
    """The result of :func:`emerging_hotspots` from its cube (areas × ``periods``), the
    z-scores and p-values of its bins, the categories and the trend ``(z, p)`` per area."""
    trend_z, trend_p = trend
    p_fdr = fdr_bh(p.ravel()).reshape(p.shape)
    significant = (p_fdr <= alpha) if fdr else (p < alpha)
    final_bins = confidence_bins(z[:, -1], p[:, -1])
    attrs = {"method": "emerging", "weights": weights.description,
             "joined_islands": [list(pair) for pair in weights.joined_islands],
             "periods": [str(c) for c in periods], "time_lag": time_lag, "scope": scope,
             "alpha": alpha, "trend_alpha": trend_alpha, "fdr": fdr}
    extra = {"total": cube.sum(axis=1),
             "hot_periods": (significant & (z > 0)).sum(axis=1),
             "cold_periods": (significant & (z < 0)).sum(axis=1)}
    return result_frame(areas, value=cube[:, -1], z=z[:, -1], p=p[:, -1], p_fdr=p_fdr[:, -1],
                        bins=final_bins, category=categories.tolist(),
                        label=[EMERGING_LABELS[c] for c in categories],
                        trend_z=trend_z, trend_p=trend_p, extra=extra, attrs=attrs)


def _aligned_cube(areas: gpd.GeoDataFrame, counts: pd.DataFrame) -> tuple[np.ndarray, list]:
    if not isinstance(counts, pd.DataFrame):
        raise ConfigError(f"counts must be a DataFrame (area id × period), got "
                          f"{type(counts).__name__}")
    frame = counts.copy()
    frame.index = frame.index.astype(str)
    try:
        frame = frame[sorted(frame.columns)]
    except TypeError as exc:
        raise ConfigError("counts columns must be periods of one kind that sort in time order "
                          "(e.g. pandas Periods)") from exc
    ids = pd.Index(areas["area_id"].astype(str))
    unknown = frame.index.difference(ids)
    if len(unknown):
        raise LayerError(f"counts has {len(unknown)} area id(s) that are not areas of the layer, "
                         f"e.g. {list(unknown[:3])}")
    cube = frame.reindex(ids).fillna(0).to_numpy(dtype=float)
    if not np.isfinite(cube).all() or (cube < 0).any():
        raise LayerError("counts must be finite numbers >= 0")
    return cube, list(frame.columns)

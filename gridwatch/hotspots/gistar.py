"""Getis-Ord Gi* hot and cold spots with confidence bins as in ArcGIS's Hot Spot Analysis.

The statistic is esda's ``G_Local(y, w, transform="B", star=True)``: binary weights with the
area itself included. Two engines give the same numbers:

- ``engine="fast"`` (default) computes esda's analytical z from the sparse weights matrix and
  esda's conditional permutations vectorised over areas, drawing the very same permutations
  (``esda.crand.vec_permutations`` with the seed), so ``p_sim`` matches esda's exactly;
- ``engine="esda"`` calls ``esda.G_Local`` itself (slow on large layers: a Python loop that copies
  the data once per area).

p-values are two-sided: analytical ``p = 2 * sf(|z|)``; permutation ``p = min(1, 2 * p_sim)``
where ``p_sim`` is esda's one-sided ("directed") pseudo p-value.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
from scipy.special import ndtr  # norm.sf(x) == ndtr(-x), as scipy.stats computes it

from gridwatch.errors import ConfigError
from gridwatch.hotspots._output import aligned_values, result_frame
from gridwatch.hotspots._weights import SpatialWeights, build_weights

__all__ = [
    "BIN_LEVELS",
    "Inference",
    "confidence_bins",
    "fdr_bh",
    "gi_star",
    "gi_star_pseudo_p",
    "gi_star_z",
]

#: (bin magnitude, significance level) from the strictest down, as ArcGIS's Gi_Bin.
BIN_LEVELS: tuple[tuple[int, float], ...] = ((3, 0.01), (2, 0.05), (1, 0.10))
#: How bins get their p-values: conditional permutations (esda's p_sim) or the normal z-test.
Inference = Literal["permutation", "analytical"]
_BLOCK = 256  # areas evaluated together in the permutation count


def gi_star_z(values: np.ndarray, matrix: sp.csr_matrix) -> np.ndarray:
    """Analytical Gi* z-scores (esda's ``G_Local(..., transform="B", star=True).Zs``).

    ``matrix`` holds binary neighbour weights without the diagonal; the self-weight 1 is added
    here. When the values do not vary (or sum to zero) there is no evidence of clustering and
    every z is 0.
    """
    y = np.asarray(values, dtype=float)
    n = y.shape[0]
    total = y.sum()
    mean = total / n
    variance = (y * y).sum() / n - mean * mean
    card = np.diff(matrix.indptr).astype(float) + 1.0
    if total == 0 or variance <= 0 or n < 2:
        return np.zeros(n)
    statistic = (matrix @ y + y) / total
    expected = card / n
    var_g = card * (n - card) / (n - 1) / n**2 * variance / mean**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (statistic - expected) / np.sqrt(var_g)
    # an area whose neighbourhood is the whole territory carries no local information
    return np.where(var_g > 0, z, 0.0)


@functools.lru_cache(maxsize=1)
def _vec_permutations() -> Any:
    """esda's permutation sampler, compiled once per machine instead of once per process.

    With numba installed esda compiles ``vec_permutations`` at its first call in every process
    (about 10 s); the same Python function compiled with the same flags and ``cache=True``
    draws the very same ids and is loaded from numba's cache afterwards. Without numba,
    esda's own (pure Python) function is used.
    """
    from esda.crand import vec_permutations  # heavy import, only when permutations are asked

    python = getattr(vec_permutations, "py_func", None)
    if python is None:
        return vec_permutations
    import numba

    return numba.njit(fastmath=True, cache=True)(python)


def gi_star_pseudo_p(values: np.ndarray, matrix: sp.csr_matrix, *, permutations: int = 999,
                     seed: int) -> np.ndarray:
    """esda's conditional-permutation pseudo p-value (``p_sim``, one-sided "directed") for Gi*.

    Uses ``esda.crand.vec_permutations`` with the same seed as ``esda.G_Local(..., seed=seed)``
    and evaluates all areas with one cardinality together, so the draws and the counts are
    esda's, at a fraction of the time.
    """
    vec_permutations = _vec_permutations()
    if permutations < 1:
        raise ConfigError(f"permutations must be >= 1 for permutation inference, "
                          f"got {permutations}")
    y = np.asarray(values, dtype=float)
    n = y.shape[0]
    card = np.diff(matrix.indptr)
    max_card = max(int(card.max()), 1)
    pid = vec_permutations(max_card, n, permutations, int(seed))  # ids drawn from n - 1
    # A permuted id v refers to the data without area i: y[v] when v < i, else y[v + 1].
    # A draw beats the observed Gi* when its neighbour sum is >= the observed one (same
    # scaling and the same self value on both sides). For one cardinality c, walking the areas
    # by increasing i, each drawn id switches once from y[v + 1] to y[v]: the draw sums are
    # updated by these P * c events, in blocks of areas, instead of recomputed per area.
    neighbour_sum = matrix @ y
    drawn = y[pid]
    shift = y[pid + 1] - drawn
    larger = np.zeros(n)
    for c in np.unique(card):
        members = np.flatnonzero(card == c)
        if c == 0:  # esda draws 0 for an island (island_weight=0, no self-weight either)
            larger[members] = (y[members] <= 0.0).astype(float) * permutations
            continue
        sums = (drawn[:, :c] + shift[:, :c]).sum(axis=1)  # every draw shifted: i = 0
        rows = np.searchsorted(members, pid[:, :c].ravel(), side="right")
        perm = np.repeat(np.arange(permutations), c)
        ev_shift = shift[:, :c].ravel()
        keep = rows < members.size
        rows, perm, ev_shift = rows[keep], perm[keep], ev_shift[keep]
        order = np.argsort(rows, kind="stable")
        rows, perm, ev_shift = rows[order], perm[order], ev_shift[order]
        bounds = np.searchsorted(rows, np.arange(0, members.size + _BLOCK, _BLOCK))
        for b, start in enumerate(range(0, members.size, _BLOCK)):
            block = members[start:start + _BLOCK]
            target = neighbour_sum[block]
            lo, hi = bounds[b], bounds[b + 1]
            touched = np.unique(perm[lo:hi])
            # draws no event touches in this block keep their sum: count them by bisection
            still = np.ones(permutations, dtype=bool)
            still[touched] = False
            steady = np.sort(sums[still])
            count = steady.size - np.searchsorted(steady, target, side="left")
            if touched.size:
                delta = np.zeros((block.size, touched.size))
                np.add.at(delta, (rows[lo:hi] - start, np.searchsorted(touched, perm[lo:hi])),
                          ev_shift[lo:hi])
                moving = sums[touched][None, :] - np.cumsum(delta, axis=0)
                count += np.count_nonzero(moving >= target[:, None], axis=1)
                sums[touched] = moving[-1]
            larger[block] = count
    low = (permutations - larger) < larger
    larger[low] = permutations - larger[low]
    return (larger + 1.0) / (permutations + 1.0)


def fdr_bh(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values: ``min over j >= i of n * p_(j) / j``, capped at 1.

    ``p_fdr <= alpha`` exactly when BH at level ``alpha`` rejects the hypothesis.

    Examples
    --------
    >>> fdr_bh(np.array([0.01, 0.04, 0.03, 0.2])).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    """
    p = np.asarray(p, dtype=float)
    n = p.size
    if n == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def confidence_bins(z: np.ndarray, p: np.ndarray, *, fdr: bool = False) -> np.ndarray:
    """ArcGIS Gi_Bin: ±3 (99 %), ±2 (95 %), ±1 (90 %) by the sign of z, else 0.

    Without FDR a level counts when ``p < alpha`` (0.01, 0.05, 0.10). With FDR, as ArcGIS
    does, each level's critical p-value is lowered to the Benjamini–Hochberg one (the largest
    sorted ``p_(k) <= k * alpha / n``) and a feature counts when ``p`` is at most it, which is
    ``p_fdr <= alpha``.

    Examples
    --------
    >>> z = np.array([3.0, -2.1, 1.0, 2.0])
    >>> p = np.array([0.001, 0.03, 0.3, 0.08])
    >>> confidence_bins(z, p).tolist()
    [3, -2, 0, 1]
    """
    z = np.asarray(z, dtype=float)
    p = np.asarray(p, dtype=float)
    test = fdr_bh(p) if fdr else p
    magnitude = np.zeros(z.shape, dtype=np.int64)
    for level, alpha in reversed(BIN_LEVELS):
        hit = (test <= alpha) if fdr else (test < alpha)
        magnitude[hit] = level
    sign = np.sign(np.nan_to_num(z)).astype(np.int64)
    return magnitude * sign


def gi_star(
    areas: gpd.GeoDataFrame,
    values: Any,
    *,
    weights: SpatialWeights | None = None,
    weights_kind: str = "queen",
    k: int = 8,
    distance_m: float | None = None,
    permutations: int = 999,
    seed: int = 20240101,
    inference: Inference = "permutation",
    fdr: bool = False,
    engine: Literal["fast", "esda"] = "fast",
    cache_dir: str | Path | None = None,
) -> gpd.GeoDataFrame:
    """Gi* hot and cold spots of one value per area.

    Parameters
    ----------
    areas
        Areas with ``area_id``, ``area_name`` and polygon ``geometry`` (EPSG:4326, WGS84).
    values
        The variable: a Series indexed by area id (missing areas count 0) or a sequence in
        the order of ``areas``.
    weights
        Ready weights (from :func:`~gridwatch.hotspots.build_weights`); built from
        ``weights_kind``, ``k``, ``distance_m`` and cached otherwise.
    permutations, seed
        Conditional permutations (default 999) and their seed.
    inference
        Which p-value feeds ``p``, ``p_fdr`` and the bins: ``permutation`` (default when
        ``permutations > 0``) or ``analytical`` (normal approximation of z, as ArcGIS).
    fdr
        Bin by Benjamini–Hochberg corrected significance (``p_fdr``) instead of ``p``.
    engine
        ``fast`` (vectorised, same numbers as esda) or ``esda`` (calls ``esda.G_Local``).
    cache_dir
        Folder for the weights cache.

    Returns
    -------
    GeoDataFrame
        :data:`~gridwatch.hotspots.OUTPUT_COLUMNS` plus ``n_neighbours``; ``attrs`` holds
        ``weights`` (a description) and ``joined_islands`` (pairs of area ids).

    Raises
    ------
    ConfigError
        For an unknown ``inference``/``engine`` or weights that do not match the areas.
    LayerError
        For values that are missing or do not line up with the areas.
    """
    if inference not in ("permutation", "analytical"):
        raise ConfigError(f"inference {inference!r} is not allowed; use 'permutation' or "
                          "'analytical'")
    if engine not in ("fast", "esda"):
        raise ConfigError(f"engine {engine!r} is not allowed; use 'fast' or 'esda'")
    if inference == "permutation" and permutations < 1:
        raise ConfigError(f"permutations must be >= 1 with permutation inference, got "
                          f"{permutations} (or use inference='analytical')")
    y = aligned_values(areas, values)
    if weights is None:
        weights = build_weights(areas, kind=weights_kind, k=k, distance_m=distance_m,
                                cache_dir=cache_dir)
    if list(weights.ids) != areas["area_id"].astype(str).tolist():
        raise ConfigError("weights were built for other areas (ids differ); build them from "
                          "the same layer")
    z, p_sim = _compute(y, weights, permutations=permutations if inference == "permutation" else 0,
                        seed=seed, engine=engine)
    two_sided = 2.0 * ndtr(-np.abs(z))  # the normal approximation's p-value
    p = np.minimum(1.0, 2.0 * p_sim) if inference == "permutation" else two_sided
    p_fdr = fdr_bh(p)
    bins = confidence_bins(z, p, fdr=fdr)
    attrs = {"method": "gistar", "weights": weights.description,
             "joined_islands": [list(pair) for pair in weights.joined_islands],
             "inference": inference, "permutations": permutations, "seed": seed, "fdr": fdr}
    return result_frame(areas, value=y, z=z, p=p, p_fdr=p_fdr, bins=bins,
                        extra={"n_neighbours": weights.cardinalities()}, attrs=attrs)


def _compute(y: np.ndarray, weights: SpatialWeights, *, permutations: int, seed: int,
             engine: str) -> tuple[np.ndarray, np.ndarray]:
    if engine == "esda":
        import esda

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # esda's future 'alternative'
            res = esda.G_Local(y, weights.to_graph(), transform="B", star=True,
                               permutations=permutations, seed=seed, keep_simulations=False,
                               n_jobs=1)
        if permutations:  # esda stores p_sim as float32: recover the exact count fraction
            counts = np.rint(np.asarray(res.p_sim, dtype=float) * (permutations + 1))
            p_sim = counts / (permutations + 1)
        else:
            p_sim = np.full(len(y), np.nan)
        return np.asarray(res.Zs, dtype=float), p_sim
    z = gi_star_z(y, weights.matrix)
    if permutations:
        if y.sum() == 0 or np.ptp(y) == 0:  # nothing varies: no evidence either way
            return z, np.ones(len(y))
        return z, gi_star_pseudo_p(y, weights.matrix, permutations=permutations, seed=seed)
    return z, np.full(len(y), np.nan)

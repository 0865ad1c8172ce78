"""Mann–Kendall trend test, vectorised over many series (one per location).

S = sum over i < j of sign(x_j - x_i); Var(S) = [n(n-1)(2n+5) - sum_t t(t-1)(2t+5)] / 18 with
t the sizes of tied groups; z = (S - 1)/sqrt(Var) for S > 0, (S + 1)/sqrt(Var) for S < 0,
0 otherwise (continuity correction); p two-sided from the normal distribution.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr  # norm.sf(x) == ndtr(-x), as scipy.stats computes it

from gridwatch.errors import ConfigError

__all__ = ["mann_kendall"]


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann–Kendall test on each row of ``series`` (locations × periods).

    Parameters
    ----------
    series
        2-D array, one row per location, periods in time order (1-D is one location).

    Returns
    -------
    s, z, p
        The S statistic, its z-score and the two-sided p-value per row (z 0 and p 1 when a
        row is constant).

    Raises
    ------
    ConfigError
        When there are fewer than 3 periods or values are missing.

    Examples
    --------
    >>> s, z, p = mann_kendall([1, 2, 3, 5, 8])  # rising every period: S = 5 * 4 / 2
    >>> s.tolist(), z.round(3).tolist(), p.round(4).tolist()
    ([10.0], [2.205], [0.0275])
    """
    x = np.atleast_2d(np.asarray(series, dtype=float))
    rows, n = x.shape
    if n < 3:
        raise ConfigError(f"the Mann–Kendall test needs at least 3 periods, got {n}")
    if not np.isfinite(x).all():
        raise ConfigError("the Mann–Kendall test needs a value in every period (found NaN/inf)")
    i, j = np.triu_indices(n, k=1)
    s = np.zeros(rows)
    step = max(1, 4_000_000 // max(i.size, 1))  # bound the (rows × pairs) temporary
    for start in range(0, rows, step):
        block = x[start:start + step]
        s[start:start + step] = np.sign(block[:, j] - block[:, i]).sum(axis=1)
    ties = _tie_term(x)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    z = np.where(var > 0, z, 0.0)
    p = 2.0 * ndtr(-np.abs(z))
    return s, z, p


def _tie_term(x: np.ndarray) -> np.ndarray:
    """sum over tied groups of t(t-1)(2t+5), per row."""
    ordered = np.sort(x, axis=1)
    rows, n = ordered.shape
    same = ordered[:, 1:] == ordered[:, :-1]
    out = np.zeros(rows)
    if not same.any():
        return out
    # run lengths of equal values: a new group starts wherever the value changes
    starts = np.concatenate([np.ones((rows, 1), dtype=bool), ~same], axis=1)
    group = np.cumsum(starts, axis=1) - 1
    row_index = np.repeat(np.arange(rows), n)
    sizes = np.zeros((rows, n))
    np.add.at(sizes, (row_index, group.ravel()), 1.0)
    return (sizes * (sizes - 1) * (2 * sizes + 5)).sum(axis=1)

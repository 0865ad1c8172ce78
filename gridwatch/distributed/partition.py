"""Spatial partitions: problems along a Hilbert curve, stored problems by county."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["balanced_groups", "hilbert_keys", "hilbert_partitions"]

_ORDER = 16  # cells per axis: 2**16


def hilbert_keys(x: np.ndarray, y: np.ndarray, *, order: int = _ORDER) -> np.ndarray:
    """Position of each point along a Hilbert curve over the points' bounding box.

    Points without both coordinates get the largest key (they go last).

    Examples
    --------
    >>> hilbert_keys(np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.0, 1.0, 1.0, 0.0]), order=1)
    array([0, 1, 2, 3])
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = 1 << order
    keys = np.full(len(x), np.iinfo(np.int64).max, dtype=np.int64)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return keys
    fx, fy = x[finite], y[finite]
    span_x = max(float(fx.max() - fx.min()), 1e-12)
    span_y = max(float(fy.max() - fy.min()), 1e-12)
    ix = np.minimum(((fx - fx.min()) / span_x * n).astype(np.int64), n - 1)
    iy = np.minimum(((fy - fy.min()) / span_y * n).astype(np.int64), n - 1)
    d = np.zeros(len(ix), dtype=np.int64)
    s = n // 2
    while s > 0:  # the classic xy -> d walk, one bit level at a time for all points
        rx = (ix & s) > 0
        ry = (iy & s) > 0
        d += s * s * ((3 * rx.astype(np.int64)) ^ ry.astype(np.int64))
        flip = ~ry & rx
        ix = np.where(flip, s - 1 - ix, ix)
        iy = np.where(flip, s - 1 - iy, iy)
        swap = ~ry
        ix, iy = np.where(swap, iy, ix), np.where(swap, ix, iy)
        s //= 2
    keys[finite] = d
    return keys


def hilbert_partitions(x: np.ndarray, y: np.ndarray, parts: int) -> list[np.ndarray]:
    """Row positions split into ``parts`` runs of the Hilbert order of equal size (each
    partition a compact patch of the territory), each in increasing position order; empty
    partitions are left out.

    Examples
    --------
    >>> [p.tolist() for p in hilbert_partitions(np.array([0.0, 9, 0, 9]),
    ...                                          np.array([0.0, 9, 1, 8]), 2)]
    [[0, 2], [1, 3]]
    """
    order = np.argsort(hilbert_keys(x, y), kind="stable")
    return [np.sort(chunk) for chunk in np.array_split(order, max(1, parts)) if len(chunk)]


def balanced_groups(keys: pd.Series, parts: int) -> list[list[str | None]]:
    """Whole groups (e.g. counties) dealt to ``parts`` partitions of about equal rows: the
    largest group first, each to the partition with the fewest rows so far. A missing key
    (``None``) is a group too. Empty partitions are left out.

    Examples
    --------
    >>> balanced_groups(pd.Series(["a", "a", "a", "b", "c", None]), 2)
    [['a'], ['b', 'c', None]]
    """
    counts = keys.astype("str").value_counts(dropna=False)
    groups = sorted(((int(c), None if pd.isna(k) else str(k)) for k, c in counts.items()),
                    key=lambda t: (-t[0], t[1] is None, t[1] or ""))
    loads = [0] * max(1, parts)
    members: list[list[str | None]] = [[] for _ in loads]
    for count, key in groups:
        slot = loads.index(min(loads))
        loads[slot] += count
        members[slot].append(key)
    return [m for m in members if m]

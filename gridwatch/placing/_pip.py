"""Compiled point-in-polygon placement behind :func:`gridwatch.placing.layers.locate_points`.

The answer is exactly what GEOS gives for ``shapely.intersects_xy(prepared_polygon, x, y)``
followed by the border rule (the covering area with the smallest ``area_id`` in string order,
then the earliest in the layer):

- a point is *covered* by an area when it lies inside or on its boundary. The test is GEOS's
  ray-crossing count (``RayCrossingCounter``) over every ring of the area (shells and holes of
  every part, even-odd), with the same conventions for vertices and horizontal edges, and an
  exact orientation sign (a floating-point filter, then an exact expansion, after Shewchuk's
  ``orient2d``), so points exactly on a border or a vertex are found as GEOS finds them;
- the areas are indexed once per layer: edges of each area in horizontal strips (a point only
  looks at the edges of its strip), and a uniform grid of cells over the layer, each listing the
  areas whose bounding box reaches it, in border-rule order, so the first covering area is the
  answer;
- a cell that no edge reaches lies wholly inside or outside each area: its answer is computed
  once and its points need no test. The cell of a coordinate is a monotone function of it
  (subtract, multiply, floor, clip), so an edge's bounding box maps onto every cell any point
  of the edge can fall in, and "no edge reaches the cell" is exact, not approximate;
- points are bucketed by cell (a counting sort) so neighbouring points are tested one after
  another with their areas in the CPU cache, and the buckets are shared between threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numba import njit

__all__ = ["CACHE", "IndexCache", "PipIndex", "build_index", "locate"]

_SPLITTER = 134217729.0  # 2**27 + 1, Dekker's split
_EPS = 2.0**-53
_CCW_ERRBOUND = (3.0 + 16.0 * _EPS) * _EPS
#: Cells in the grid, per edge of the layer (bounded below and above).
_CELLS_PER_EDGE = 4.0
_MIN_CELLS = 1024
_MAX_CELLS = 1 << 22
#: Edges per horizontal strip of an area, on average.
_EDGES_PER_STRIP = 3
_NEEDS_TEST = -2
#: Points to test are sorted by blocks of cells, at most 2**_BUCKET_BITS blocks.
_BUCKET_BITS = 16
#: Threads for placing points, and the fewest points worth a thread of their own.
_THREADS = min(os.cpu_count() or 1, 8)
_MIN_PER_THREAD = 20_000


# --------------------------------------------------------------------------------------------
# exact orientation


@njit(cache=True, nogil=True, inline="always")
def _two_sum(a: float, b: float) -> tuple[float, float]:
    x = a + b
    bv = x - a
    av = x - bv
    return x, (a - av) + (b - bv)


@njit(cache=True, nogil=True, inline="always")
def _two_diff(a: float, b: float) -> tuple[float, float]:
    x = a - b
    bv = a - x
    av = x + bv
    return x, (a - av) + (bv - b)


@njit(cache=True, nogil=True, inline="always")
def _two_product(a: float, b: float) -> tuple[float, float]:
    x = a * b
    c = _SPLITTER * a
    ahi = c - (c - a)
    alo = a - ahi
    c = _SPLITTER * b
    bhi = c - (c - b)
    blo = b - bhi
    err = x - ahi * bhi
    err -= alo * bhi
    err -= ahi * blo
    return x, alo * blo - err


@njit(cache=True, nogil=True)
def _orient_exact(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> int:
    """Exact sign of (a - c) x (b - c): every term as an exact expansion, summed exactly."""
    acx1, acx0 = _two_diff(ax, cx)
    bcy1, bcy0 = _two_diff(by, cy)
    acy1, acy0 = _two_diff(ay, cy)
    bcx1, bcx0 = _two_diff(bx, cx)
    terms = np.empty(16)
    k = 0
    for u in (acx1, acx0):
        for v in (bcy1, bcy0):
            hi, lo = _two_product(u, v)
            terms[k] = hi
            terms[k + 1] = lo
            k += 2
    for u in (acy1, acy0):
        for v in (bcx1, bcx0):
            hi, lo = _two_product(u, v)
            terms[k] = -hi
            terms[k + 1] = -lo
            k += 2
    # Shewchuk's Grow-Expansion: the non-zero components stay non-overlapping and in order of
    # magnitude, so the sign of the sum is the sign of the last non-zero component.
    e = np.zeros(16)
    m = 0
    for i in range(16):
        q = terms[i]
        for j in range(m):
            q, h = _two_sum(q, e[j])
            e[j] = h
        e[m] = q
        m += 1
    for j in range(m - 1, -1, -1):
        if e[j] > 0.0:
            return 1
        if e[j] < 0.0:
            return -1
    return 0


@njit(cache=True, nogil=True)
def _orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> int:
    """Sign of the turn a -> b -> c: 1 counter-clockwise (c left of ab), -1 clockwise, 0 on."""
    detleft = (ax - cx) * (by - cy)
    detright = (ay - cy) * (bx - cx)
    det = detleft - detright
    if detleft > 0.0:
        if detright <= 0.0:
            return 1 if det > 0.0 else (-1 if det < 0.0 else 0)
        detsum = detleft + detright
    elif detleft < 0.0:
        if detright >= 0.0:
            return 1 if det > 0.0 else (-1 if det < 0.0 else 0)
        detsum = -detleft - detright
    else:
        return 1 if det > 0.0 else (-1 if det < 0.0 else 0)
    bound = _CCW_ERRBOUND * detsum
    if det >= bound:
        return 1
    if -det >= bound:
        return -1
    return _orient_exact(ax, ay, bx, by, cx, cy)


# --------------------------------------------------------------------------------------------
# the point-in-area test

# Columns of the per-area table ``meta`` (one cache line per area).
_BX0, _BY0, _BX1, _BY1, _Y0, _SY, _STRIP, _NSTRIP = range(8)


@njit(cache=True, nogil=True)
def _covers(q: int, px: float, py: float, meta: np.ndarray, strip_ptr: np.ndarray,
            strip_xy: np.ndarray) -> bool:
    """Area q covers (px, py): GEOS's RayCrossingCounter over the edges of the point's strip."""
    ns = int(meta[q, _NSTRIP])
    s = int(np.floor((py - meta[q, _Y0]) * meta[q, _SY]))
    s = min(max(s, 0), ns - 1) + int(meta[q, _STRIP])
    crossings = 0
    for t in range(strip_ptr[s], strip_ptr[s + 1]):
        x1 = strip_xy[t, 0]
        y1 = strip_xy[t, 1]
        x2 = strip_xy[t, 2]
        y2 = strip_xy[t, 3]
        if x1 < px and x2 < px:
            continue
        if px == x2 and py == y2:
            return True
        if y1 == py and y2 == py:
            if min(x1, x2) <= px <= max(x1, x2):
                return True
            continue
        if (y1 > py and y2 <= py) or (y2 > py and y1 <= py):
            if x1 > px and x2 > px:
                # Wholly right of the point: it crosses the ray, and the turn is non-zero.
                crossings += 1
                continue
            sign = _orient(x1, y1, x2, y2, px, py)
            if sign == 0:
                return True
            if y2 < y1:
                sign = -sign
            if sign > 0:
                crossings += 1
    return crossings % 2 == 1


@njit(cache=True, nogil=True)
def _first_cover(c: int, px: float, py: float, cell_ptr: np.ndarray, cell_poly: np.ndarray,
                 meta: np.ndarray, strip_ptr: np.ndarray, strip_xy: np.ndarray,
                 poly_orig: np.ndarray) -> int:
    """The first area of cell c (border-rule order) covering the point (its layer position),
    or -1."""
    for t in range(cell_ptr[c], cell_ptr[c + 1]):
        q = cell_poly[t]
        if (px < meta[q, _BX0] or px > meta[q, _BX1] or py < meta[q, _BY0]
                or py > meta[q, _BY1]):
            continue
        if _covers(q, px, py, meta, strip_ptr, strip_xy):
            return poly_orig[q]
    return -1


@njit(cache=True, nogil=True, inline="always")
def _spread(v: int) -> int:
    """The 16 low bits of v on the even bit positions."""
    v &= 0xFFFF
    v = (v | (v << 8)) & 0x00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F
    v = (v | (v << 2)) & 0x33333333
    return (v | (v << 1)) & 0x55555555


@njit(cache=True, nogil=True, inline="always")
def _morton(i: int, j: int, bx: int, by: int) -> int:
    """Z-order number of cell (i, j) in a 2**bx by 2**by grid (no gaps: the longer side's
    extra bits go on top)."""
    m = min(bx, by)
    low = (1 << m) - 1
    key = _spread(i & low) | (_spread(j & low) << 1)
    if bx > by:
        key |= (i >> m) << (2 * m)
    else:
        key |= (j >> m) << (2 * m)
    return key


@njit(cache=True, nogil=True, inline="always")
def _axis(v: float, g0: float, scale: float, n: int) -> int:
    """Cell column (or row) of a coordinate: monotone in v (subtract, multiply, floor, clip)."""
    return min(max(int(np.floor((v - g0) * scale)), 0), n - 1)


@njit(cache=True, nogil=True, inline="always")
def _cell_of(px: float, py: float, gx0: float, gy0: float, gx1: float, gy1: float, sx: float,
             sy: float, bx: int, by: int) -> int:
    """Cell of a point, or -1 outside the layer's bounds (or NaN)."""
    if not (gx0 <= px <= gx1 and gy0 <= py <= gy1):
        return -1
    return _morton(_axis(px, gx0, sx, 1 << bx), _axis(py, gy0, sy, 1 << by), bx, by)


# --------------------------------------------------------------------------------------------
# building the index


@njit(cache=True, nogil=True)
def _z_keys(x: np.ndarray, y: np.ndarray, gx0: float, gy0: float, sx: float, sy: float,
            bx: int, by: int) -> np.ndarray:
    out = np.empty(len(x), dtype=np.int64)
    for p in range(len(x)):
        out[p] = _morton(_axis(x[p], gx0, sx, 1 << bx), _axis(y[p], gy0, sy, 1 << by), bx, by)
    return out


@njit(cache=True, nogil=True)
def _build_strips(edge_q: np.ndarray, ex0: np.ndarray, ey0: np.ndarray, ex1: np.ndarray,
                  ey1: np.ndarray, meta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges of each area copied into its strips (an edge goes to every strip it spans)."""
    n_poly = len(meta)
    total = 0
    for q in range(n_poly):
        meta[q, _STRIP] = total
        total += int(meta[q, _NSTRIP])
    counts = np.zeros(total + 1, dtype=np.int64)
    n_edge = len(edge_q)
    lo = np.empty(n_edge, dtype=np.int64)
    hi = np.empty(n_edge, dtype=np.int64)
    for e in range(n_edge):
        q = edge_q[e]
        ns = int(meta[q, _NSTRIP])
        first = int(meta[q, _STRIP])
        lo[e] = first + _axis(min(ey0[e], ey1[e]), meta[q, _Y0], meta[q, _SY], ns)
        hi[e] = first + _axis(max(ey0[e], ey1[e]), meta[q, _Y0], meta[q, _SY], ns)
        for s in range(lo[e], hi[e] + 1):
            counts[s + 1] += 1
    strip_ptr = np.cumsum(counts)
    fill = strip_ptr[:-1].copy()
    strip_xy = np.empty((strip_ptr[-1], 4))
    for e in range(n_edge):
        for s in range(lo[e], hi[e] + 1):
            t = fill[s]
            strip_xy[t, 0] = ex0[e]
            strip_xy[t, 1] = ey0[e]
            strip_xy[t, 2] = ex1[e]
            strip_xy[t, 3] = ey1[e]
            fill[s] += 1
    return strip_ptr, strip_xy


@njit(cache=True, nogil=True)
def _cell_span(meta: np.ndarray, q: int, gx0: float, gy0: float, sx: float, sy: float,
               nx: int, ny: int) -> tuple[int, int, int, int]:
    """First and last grid column and row the bounding box of area ``q`` reaches."""
    return (_axis(meta[q, _BX0], gx0, sx, nx), _axis(meta[q, _BX1], gx0, sx, nx),
            _axis(meta[q, _BY0], gy0, sy, ny), _axis(meta[q, _BY1], gy0, sy, ny))


@njit(cache=True, nogil=True)
def _build_cells(order: np.ndarray, meta: np.ndarray, ex0: np.ndarray, ey0: np.ndarray,
                 ex1: np.ndarray, ey1: np.ndarray, gx0: float, gy0: float, sx: float,
                 sy: float, bx: int, by: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Areas reaching each cell (bounding boxes), listed in ``order``; cells reached by an
    edge (its bounding box)."""
    nx = 1 << bx
    ny = 1 << by
    counts = np.zeros(nx * ny + 1, dtype=np.int64)
    for q in order:
        i0, i1, j0, j1 = _cell_span(meta, q, gx0, gy0, sx, sy, nx, ny)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                counts[_morton(i, j, bx, by) + 1] += 1
    cell_ptr = np.cumsum(counts)
    fill = cell_ptr[:-1].copy()
    cell_poly = np.empty(cell_ptr[-1], dtype=np.int32)
    for q in order:
        i0, i1, j0, j1 = _cell_span(meta, q, gx0, gy0, sx, sy, nx, ny)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                c = _morton(i, j, bx, by)
                cell_poly[fill[c]] = q
                fill[c] += 1
    edged = np.zeros(nx * ny, dtype=np.bool_)
    for e in range(len(ex0)):
        i0 = _axis(min(ex0[e], ex1[e]), gx0, sx, nx)
        i1 = _axis(max(ex0[e], ex1[e]), gx0, sx, nx)
        j0 = _axis(min(ey0[e], ey1[e]), gy0, sy, ny)
        j1 = _axis(max(ey0[e], ey1[e]), gy0, sy, ny)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                edged[_morton(i, j, bx, by)] = True
    return cell_ptr, cell_poly, edged


@njit(cache=True, nogil=True)
def _cell_answers(edged: np.ndarray, cell_ptr: np.ndarray, cell_poly: np.ndarray,
                  meta: np.ndarray, strip_ptr: np.ndarray, strip_xy: np.ndarray,
                  poly_orig: np.ndarray, gx0: float, gy0: float, gx1: float, gy1: float,
                  sx: float, sy: float, bx: int, by: int) -> np.ndarray:
    """Answer of each cell no edge reaches (-1 or an area), -2 for cells that need a test."""
    nx = 1 << bx
    ny = 1 << by
    answer = np.full(nx * ny, _NEEDS_TEST, dtype=np.int32)
    for j in range(ny):
        for i in range(nx):
            c = _morton(i, j, bx, by)
            if cell_ptr[c] == cell_ptr[c + 1]:
                answer[c] = -1
                continue
            if edged[c]:
                continue
            # Any point of the cell will do; take one the cell function maps to this cell.
            px = gx0 + (i + 0.5) / sx if sx > 0 else gx0
            py = gy0 + (j + 0.5) / sy if sy > 0 else gy0
            if _cell_of(px, py, gx0, gy0, gx1, gy1, sx, sy, bx, by) != c:
                continue
            answer[c] = _first_cover(c, px, py, cell_ptr, cell_poly, meta, strip_ptr,
                                     strip_xy, poly_orig)
    return answer


# --------------------------------------------------------------------------------------------
# placing points


@njit(cache=True, nogil=True)
def _lookup(x: np.ndarray, y: np.ndarray, answer: np.ndarray, out: np.ndarray,
            cells: np.ndarray, start: int, stop: int, gx0: float, gy0: float, gx1: float,
            gy1: float, sx: float, sy: float, bx: int, by: int) -> None:
    """First pass, in input order: each point's cell and, where the cell has one, its answer
    (-1 outside the layer's bounds); -2 where the point needs a test."""
    for p in range(start, stop):
        c = _cell_of(x[p], y[p], gx0, gy0, gx1, gy1, sx, sy, bx, by)
        cells[p] = c
        out[p] = -1 if c < 0 else answer[c]


@njit(cache=True, nogil=True)
def _bucket(out: np.ndarray, cells: np.ndarray, x: np.ndarray, y: np.ndarray,
            shift: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The points that need a test in Z-order of their cells, by blocks of ``2**shift``
    cells (a stable counting sort on ``cell >> shift``): their positions, cells and
    coordinates, in contiguous arrays."""
    n_block = (cells.max() >> shift) + 1 if len(cells) else 0
    counts = np.zeros(n_block + 1, dtype=np.int64)
    for p in range(len(out)):
        if out[p] == _NEEDS_TEST:
            counts[(cells[p] >> shift) + 1] += 1
    start = np.cumsum(counts)
    m = start[-1]
    pos = np.empty(m, dtype=np.int64)
    for p in range(len(out)):
        if out[p] == _NEEDS_TEST:
            b = cells[p] >> shift
            pos[start[b]] = p
            start[b] += 1
    cs = np.empty(m, dtype=np.int64)
    xs = np.empty(m)
    ys = np.empty(m)
    for t in range(m):
        p = pos[t]
        cs[t] = cells[p]
        xs[t] = x[p]
        ys[t] = y[p]
    return pos, cs, xs, ys


@njit(cache=True, nogil=True)
def _test(xs: np.ndarray, ys: np.ndarray, cs: np.ndarray, res: np.ndarray, start: int,
          stop: int, cell_ptr: np.ndarray, cell_poly: np.ndarray, meta: np.ndarray,
          strip_ptr: np.ndarray, strip_xy: np.ndarray, poly_orig: np.ndarray) -> None:
    """Second pass over the points in cell order (a thread takes a contiguous run)."""
    for t in range(start, stop):
        res[t] = _first_cover(cs[t], xs[t], ys[t], cell_ptr, cell_poly, meta, strip_ptr,
                              strip_xy, poly_orig)


# --------------------------------------------------------------------------------------------
# Python side


@dataclass(frozen=True, eq=False)
class PipIndex:
    """A layer prepared for :func:`locate` (see the module docstring).

    Areas are stored in Z-order of their bounding-box centres (``poly_orig`` maps back to the
    layer position), with one row of ``meta`` each; edges are copied into per-area horizontal
    strips (``strip_xy``, ``strip_ptr``); cells are numbered in Z-order (``grid`` holds the
    bounds, scales and bit widths), list their areas in border-rule order (``cell_ptr``,
    ``cell_poly``) and hold a precomputed ``answer`` where no edge reaches them.
    """

    n_areas: int
    meta: np.ndarray
    poly_orig: np.ndarray
    strip_ptr: np.ndarray
    strip_xy: np.ndarray
    grid: tuple[float, float, float, float, float, float, int, int]
    cell_ptr: np.ndarray
    cell_poly: np.ndarray
    answer: np.ndarray

    @property
    def n_cells(self) -> int:
        return 1 << (self.grid[6] + self.grid[7])


def build_index(geoms: np.ndarray, rank: np.ndarray) -> PipIndex:
    """Prepare polygons (shapely, any of Polygon/MultiPolygon/empty/None) for :func:`locate`.

    ``rank`` orders the areas for the border rule: among the areas covering a point, the one
    with the smallest rank wins.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    start = np.flatnonzero(ring_of[1:] == ring_of[:-1])
    edge_poly = part_of[ring_part[ring_of[start]]].astype(np.int64)
    ex0, ey0 = xy[start, 0].copy(), xy[start, 1].copy()
    ex1, ey1 = xy[start + 1, 0].copy(), xy[start + 1, 1].copy()

    n_edges = np.bincount(edge_poly, minlength=n)
    has = np.flatnonzero(n_edges > 0)
    bounds = shapely.bounds(geoms[has]).reshape(-1, 4)
    if len(has):
        gx0, gy0 = float(bounds[:, 0].min()), float(bounds[:, 1].min())
        gx1, gy1 = float(bounds[:, 2].max()), float(bounds[:, 3].max())
    else:
        gx0 = gy0 = gx1 = gy1 = 0.0
    bx, by, sx, sy = _grid_shape(len(ex0), gx0, gy0, gx1, gy1)

    # Areas with edges, in Z-order of their bounding-box centres: neighbours sit together in
    # memory, as the points are tested in Z-order of their cells.
    z = _z_keys((bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2,
                gx0, gy0, sx, sy, bx, by)
    zorder = np.argsort(z, kind="stable")
    poly_orig = has[zorder].astype(np.int64)
    internal = np.full(n, -1, dtype=np.int64)
    internal[poly_orig] = np.arange(len(poly_orig))

    meta = np.zeros((len(poly_orig), 8))
    meta[:, _BX0:_BY1 + 1] = bounds[zorder]
    nstrip = np.maximum(n_edges[poly_orig] // _EDGES_PER_STRIP, 1)
    span = meta[:, _BY1] - meta[:, _BY0]
    meta[:, _Y0] = meta[:, _BY0]
    with np.errstate(divide="ignore", invalid="ignore"):
        meta[:, _SY] = np.where(span > 0, nstrip / np.where(span > 0, span, 1.0), 0.0)
    meta[:, _NSTRIP] = np.where(span > 0, nstrip, 1)
    edge_q = internal[edge_poly]
    strip_ptr, strip_xy = _build_strips(edge_q, ex0, ey0, ex1, ey1, meta)

    order = np.argsort(np.asarray(rank)[poly_orig], kind="stable").astype(np.int64)
    cell_ptr, cell_poly, edged = _build_cells(order, meta, ex0, ey0, ex1, ey1, gx0, gy0, sx,
                                              sy, bx, by)
    grid = (gx0, gy0, gx1, gy1, sx, sy, bx, by)
    answer = _cell_answers(edged, cell_ptr, cell_poly, meta, strip_ptr, strip_xy, poly_orig,
                           *grid)
    return PipIndex(n, meta, poly_orig, strip_ptr, strip_xy, grid, cell_ptr, cell_poly, answer)


def _grid_shape(n_edges: int, gx0: float, gy0: float, gx1: float,
                gy1: float) -> tuple[int, int, float, float]:
    """Bit widths and scales of a grid of about ``_CELLS_PER_EDGE`` cells per edge, cells
    roughly square."""
    target = min(max(n_edges * _CELLS_PER_EDGE, _MIN_CELLS), _MAX_CELLS)
    wx, wy = gx1 - gx0, gy1 - gy0
    bits = max(int(np.round(np.log2(target))), 0)
    if wx > 0 and wy > 0:
        bx = min(max(int(np.round((bits + np.log2(wx / wy)) / 2)), 0), bits)
    else:
        bx = bits if wx > 0 else 0
    by = bits - bx if wy > 0 else 0
    bx, by = min(bx, 16), min(by, 16)
    sx = (1 << bx) / wx if wx > 0 else 0.0
    sy = (1 << by) / wy if wy > 0 else 0.0
    return bx, by, sx, sy


def locate(index: PipIndex, x: np.ndarray, y: np.ndarray, *,
           threads: int | None = None) -> np.ndarray:
    """Position of the area covering each point by the border rule, -1 outside all (and NaN).

    Runs on ``threads`` threads (default: the number of CPUs) and releases the GIL.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if index.n_areas == 0 or len(x) == 0:
        return np.full(len(x), -1, dtype=np.int64)
    n = len(x)
    out = np.empty(n, dtype=np.int64)
    cells = np.empty(n, dtype=np.int64)
    workers = max(int(threads or _THREADS), 1)
    _in_threads(workers, n, lambda a, b: _lookup(x, y, index.answer, out, cells, a, b,
                                                 *index.grid))
    bits = index.grid[6] + index.grid[7]
    pos, cs, xs, ys = _bucket(out, cells, x, y, max(bits - _BUCKET_BITS, 0))
    if len(pos):
        res = np.empty(len(pos), dtype=np.int64)
        _in_threads(workers, len(pos), lambda a, b: _test(
            xs, ys, cs, res, a, b, index.cell_ptr, index.cell_poly, index.meta,
            index.strip_ptr, index.strip_xy, index.poly_orig))
        out[pos] = res
    return out


def compile_kernels() -> None:
    """Build and query the index of two squares sharing an edge, with points inside, on the
    shared edge and outside: numba compiles every kernel placing uses the first time it runs
    after installing (about 5 s), or loads it from its cache, here instead of in the first
    placing."""
    squares = np.array([shapely.box(0.0, 0.0, 1.0, 1.0), shapely.box(1.0, 0.0, 2.0, 1.0)],
                       dtype=object)
    index = build_index(squares, np.arange(2, dtype=np.int64))
    locate(index, np.array([0.5, 1.0, 1.5, 3.0, np.nan]), np.array([0.5, 0.5, 1.0, 0.5, 0.5]))


def _in_threads(workers: int, n: int, run: Callable[[int, int], None]) -> None:
    """Call ``run(start, stop)`` on ``workers`` contiguous slices of range(n), in threads (the
    kernels release the GIL); small jobs run in the calling thread."""
    if workers == 1 or n < _MIN_PER_THREAD * 2:
        run(0, n)
        return
    bounds = [n * k // workers for k in range(workers + 1)]
    with ThreadPoolExecutor(max_workers=workers - 1) as pool:
        futures = [pool.submit(run, bounds[k], bounds[k + 1]) for k in range(1, workers)]
        run(bounds[0], bounds[1])
        for future in futures:
            future.result()


# --------------------------------------------------------------------------------------------
# cache of prepared layers


class IndexCache:
    """Prepared indexes of the last few layers, found again by the identity of their contents.

    A layer is recognised by the very geometry objects it holds (shapely geometries are
    immutable, and the cache keeps them alive so their ids cannot be reused) and by the same
    border-rule ranks, so a layer edited in place or rebuilt is prepared again.

    Indexes (of layers of ``disk_min_areas`` areas or more) are also kept on disk, named
    after a hash of the geometries (WKB) and ranks, so the next process (tomorrow's import)
    loads the 92,600 micro-grids' index instead of building it again (and, when every
    layer's is kept, never loads the compiled index builder).
    """

    def __init__(self, size: int = 8, *, folder: Path | None = None,
                 disk_min_areas: int = 1) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, int, int], tuple[np.ndarray, np.ndarray,
                                                                 PipIndex]] = OrderedDict()
        self._lock = threading.Lock()
        self._folder = folder
        self.disk_min_areas = disk_min_areas

    @property
    def folder(self) -> Path:
        """Where indexes are kept on disk: ``$XDG_CACHE_HOME/gridwatch/pip`` (``~/.cache``)."""
        if self._folder is not None:
            return self._folder
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".cache")
        return Path(base) / "gridwatch" / "pip"

    def get(self, geoms: np.ndarray, rank: np.ndarray) -> PipIndex:
        n = len(geoms)
        key = (n, id(geoms[0]) if n else 0, id(geoms[-1]) if n else 0)
        with self._lock:
            hit = self._entries.get(key)
            if (hit is not None and _same_objects(hit[0], geoms)
                    and np.array_equal(hit[1], rank)):
                self._entries.move_to_end(key)
                return hit[2]
        index = self._from_disk(geoms, rank)
        with self._lock:
            self._entries[key] = (geoms.copy(), rank.copy(), index)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return index

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _from_disk(self, geoms: np.ndarray, rank: np.ndarray) -> PipIndex:
        """Load the index kept on disk for these contents, or build (and keep) it."""
        if len(geoms) < self.disk_min_areas:
            return build_index(geoms, rank)
        path = self.folder / f"{_content_key(geoms, rank)}.npz"
        try:
            with np.load(path, allow_pickle=False) as kept:
                return _index_from_arrays(kept)
        except (OSError, ValueError, KeyError):  # none yet, or damaged: build it again
            pass
        index = build_index(geoms, rank)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "wb") as handle:
                np.savez(handle, **_index_arrays(index))  # type: ignore[arg-type]
            os.replace(partial, path)
            _prune(path.parent, keep=_DISK_KEPT)
        except OSError:  # a read-only or full disk only costs the next process the build
            with contextlib.suppress(OSError):
                partial.unlink()
        return index


#: Bumped when the index layout or the kernel's meaning changes: older files are not read.
_DISK_VERSION = 1
#: Indexes kept on disk (the oldest are removed).
_DISK_KEPT = 32
_GRID_INTS = 2


def _content_key(geoms: np.ndarray, rank: np.ndarray) -> str:
    """A hash of the geometries (WKB, empty for missing) and border-rule ranks."""
    wkb = [w or b"" for w in shapely.to_wkb(geoms).tolist()]
    digest = hashlib.sha256(f"pip-{_DISK_VERSION}-{len(wkb)}".encode())
    digest.update(np.fromiter(map(len, wkb), dtype=np.int64, count=len(wkb)).tobytes())
    digest.update(b"".join(wkb))
    digest.update(np.ascontiguousarray(rank, dtype=np.int64).tobytes())
    return digest.hexdigest()[:40]


def _index_arrays(index: PipIndex) -> dict[str, np.ndarray]:
    grid = index.grid
    return {"n_areas": np.array([index.n_areas], dtype=np.int64), "meta": index.meta,
            "poly_orig": index.poly_orig, "strip_ptr": index.strip_ptr,
            "strip_xy": index.strip_xy, "grid_f": np.array(grid[:6], dtype=np.float64),
            "grid_i": np.array(grid[6:], dtype=np.int64), "cell_ptr": index.cell_ptr,
            "cell_poly": index.cell_poly, "answer": index.answer}


def _index_from_arrays(kept: Any) -> PipIndex:
    grid_f, grid_i = kept["grid_f"], kept["grid_i"]
    if grid_f.shape != (6,) or grid_i.shape != (_GRID_INTS,):
        raise ValueError("not an index of this layout")
    grid = (*(float(v) for v in grid_f), int(grid_i[0]), int(grid_i[1]))
    return PipIndex(int(kept["n_areas"][0]), kept["meta"], kept["poly_orig"],
                    kept["strip_ptr"], kept["strip_xy"], grid,  # type: ignore[arg-type]
                    kept["cell_ptr"], kept["cell_poly"], kept["answer"])


def _prune(folder: Path, *, keep: int) -> None:
    """Remove all but the ``keep`` most recently written indexes."""
    files = sorted(folder.glob("*.npz"), key=lambda f: f.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()


def _same_objects(a: np.ndarray, b: np.ndarray) -> bool:
    if len(a) != len(b):
        return False
    ida = np.fromiter(map(id, a), dtype=np.int64, count=len(a))
    idb = np.fromiter(map(id, b), dtype=np.int64, count=len(b))
    return bool(np.array_equal(ida, idb))


#: The process-wide cache used by :func:`gridwatch.placing.layers.locate_points`.
CACHE = IndexCache()

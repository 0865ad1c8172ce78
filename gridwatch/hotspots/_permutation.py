"""Compiled kernels of the Gi* conditional permutation test behind
:func:`gridwatch.hotspots.gistar.gi_star_pseudo_p`.

- :func:`permutation_ids` draws esda's permuted ids (``esda.crand.vec_permutations``): with the
  seed ``s``, row ``k`` is the first ``max_card`` entries of the ``k``-th
  ``numpy.random.RandomState(s).permutation(n - 1)`` (numba's ``np.random.choice`` without
  replacement is that permutation, drawn from the same Mersenne Twister with the same bounded
  integers). Written out here (MT19937 with NumPy's legacy seeding, ``random_interval`` and the
  Fisher–Yates shuffle of ``RandomState.shuffle``) so that neither esda nor libpysal is imported
  and the draws cost a third of numba's generic ``np.random`` calls;
- :func:`count_larger` counts, for every area, the draws whose neighbour sum is at least the
  observed one. Areas with the same number of neighbours share the draws: walking them by
  increasing position, a draw's sum changes only when one of its ids crosses the area's
  position (``v < i`` reads ``y[v]``, else ``y[v + 1]``), so only those draws are summed again.
  Every sum is taken afresh in the order of the ids, as the area-by-area reference does.

The ids depend only on ``(max_card, n, permutations, seed)``, not on the data: they are kept in
memory and, with a cache folder, on disk, so a layer's later runs do not draw them again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
from numba import njit

__all__ = ["cached_permutation_ids", "count_larger", "permutation_ids"]

#: Bumped whenever the draws could change: a cached file of another format is never read.
_CACHE_FORMAT = 1
_MEMORY: OrderedDict[tuple[int, int, int, int], np.ndarray] = OrderedDict()
_MEMORY_SIZE = 4

_N = 624
_M = 397
_MATRIX_A = 0x9908B0DF
_UPPER = 0x80000000
_LOWER = 0x7FFFFFFF
_WORD = 0xFFFFFFFF


@njit(cache=True, nogil=True)
def _seed(key: np.ndarray, seed: int) -> None:
    """NumPy's legacy ``RandomState(seed)`` initialisation (Knuth's linear recurrence)."""
    value = seed & _WORD
    for pos in range(_N):
        key[pos] = value
        value = (1812433253 * (value ^ (value >> 30)) + pos + 1) & _WORD


@njit(cache=True, nogil=True)
def _twist(key: np.ndarray) -> None:
    """The next 624 untempered words of MT19937, in place."""
    for i in range(_N - _M):
        y = (key[i] & _UPPER) | (key[i + 1] & _LOWER)
        key[i] = key[i + _M] ^ (y >> 1) ^ (_MATRIX_A * (y & 1))
    for i in range(_N - _M, _N - 1):
        y = (key[i] & _UPPER) | (key[i + 1] & _LOWER)
        key[i] = key[i + _M - _N] ^ (y >> 1) ^ (_MATRIX_A * (y & 1))
    y = (key[_N - 1] & _UPPER) | (key[0] & _LOWER)
    key[_N - 1] = key[_M - 1] ^ (y >> 1) ^ (_MATRIX_A * (y & 1))


@njit(cache=True, nogil=True, inline="always")
def _temper(key: np.ndarray, words: np.ndarray) -> None:
    for k in range(_N):
        y = key[k]
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        words[k] = y


@njit(cache=True, nogil=True)
def _permutation_ids(max_card: int, n: int, permutations: int, seed: int) -> np.ndarray:
    key = np.empty(_N, dtype=np.int64)  # words < 2**32: int64 arithmetic never overflows
    words = np.empty(_N, dtype=np.int64)
    _seed(key, seed)
    pos = _N
    size = n - 1
    out = np.empty((permutations, max_card), dtype=np.int64)
    work = np.empty(size, dtype=np.int32)
    for k in range(permutations):
        for i in range(size):
            work[i] = i
        # Fisher-Yates from the top, j = random_interval(i): masked words until one is <= i.
        # A rejected word swaps a[i] with itself and keeps i: no branch to mispredict.
        i = size - 1
        mask = 1
        while mask < i:
            mask = (mask << 1) | 1  # the smallest 2**b - 1 that is >= i
        while i > 0:
            if pos == _N:
                _twist(key)
                _temper(key, words)
                pos = 0
            j = words[pos] & mask
            pos += 1
            accept = j <= i
            j = j if accept else i
            swap = work[i]
            work[i] = work[j]
            work[j] = swap
            i -= accept
            if (mask >> 1) >= i:  # i falls by one at most: one bit at most
                mask >>= 1
        for c in range(max_card):
            out[k, c] = work[c]
    return out


def permutation_ids(max_card: int, n: int, permutations: int, seed: int) -> np.ndarray:
    """esda's ``vec_permutations(max_card, n, permutations, seed)``: ids drawn from ``n - 1``.

    Parameters
    ----------
    max_card
        Ids per draw (at most ``n - 1``).
    n
        Number of areas; ids are drawn from ``0 .. n - 2`` without replacement.
    permutations
        Number of draws (rows).
    seed
        Seed of the Mersenne Twister, ``0 <= seed < 2**32``.

    Returns
    -------
    numpy.ndarray
        ``(permutations, max_card)`` int64 ids.
    """
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be between 0 and 2**32 - 1, got {seed}")
    if not 0 <= max_card <= n - 1:
        raise ValueError(f"max_card must be between 0 and n - 1 ({n - 1}), got {max_card}")
    return _permutation_ids(int(max_card), int(n), int(permutations), int(seed))


def cached_permutation_ids(max_card: int, n: int, permutations: int, seed: int, *,
                           cache_dir: str | Path | None = None) -> np.ndarray:
    """:func:`permutation_ids`, kept in memory and, with ``cache_dir``, in a file there.

    The file name is a hash of the format and the four arguments, which are also stored and
    checked on reading; a file that does not match or cannot be read is drawn again.
    """
    args = (int(max_card), int(n), int(permutations), int(seed))
    hit = _MEMORY.get(args)
    if hit is not None:
        _MEMORY.move_to_end(args)
        return hit
    meta = json.dumps({"format": _CACHE_FORMAT, "args": args})
    path = None
    ids = None
    if cache_dir is not None:
        digest = hashlib.sha256(meta.encode()).hexdigest()[:40]
        path = Path(cache_dir) / f"permutations-{digest}.npz"
        ids = _read(path, meta, args)
    if ids is None:
        ids = permutation_ids(*args)
        if path is not None:
            _write(path, meta, ids)
    ids.setflags(write=False)  # shared between callers
    _MEMORY[args] = ids
    while len(_MEMORY) > _MEMORY_SIZE:
        _MEMORY.popitem(last=False)
    return ids


def _read(path: Path, meta: str, args: tuple[int, int, int, int]) -> np.ndarray | None:
    if not path.is_file():
        return None
    max_card, n, permutations, _ = args
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["meta"]) != meta:
                return None
            ids = np.asarray(data["ids"])
    except (OSError, ValueError, KeyError):
        return None  # a damaged file is drawn again, never trusted
    if ids.dtype != np.int64 or ids.shape != (permutations, max_card):
        return None
    if ids.size and (ids.min() < 0 or ids.max() >= n - 1):
        return None
    return ids


def _write(path: Path, meta: str, ids: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, ids=ids, meta=np.asarray(meta))
        tmp.replace(path)  # atomic: a reader never sees half a file
    except OSError:
        pass  # a read-only cache folder costs time, not answers


@njit(cache=True, nogil=True)
def _draw_sum(y: np.ndarray, ids: np.ndarray, c: int, i: int) -> float:
    """The sum of one draw's ``c`` values for area ``i`` (the ids leave area ``i`` out)."""
    total = 0.0
    for k in range(c):
        v = ids[k]
        total += y[v] if v < i else y[v + 1]
    return total


@njit(cache=True, nogil=True)
def _count_group(y: np.ndarray, observed: np.ndarray, pid: np.ndarray, members: np.ndarray,
                 c: int, event_id: np.ndarray, event_draw: np.ndarray,
                 larger: np.ndarray) -> None:
    """Count for the areas ``members`` (increasing, all with ``c`` neighbours); ``event_id``
    lists every id of the draws' first ``c`` columns in increasing order, ``event_draw`` its
    draw."""
    permutations = pid.shape[0]
    sums = np.empty(permutations)
    for p in range(permutations):
        sums[p] = _draw_sum(y, pid[p], c, 0)  # before the first area every id reads v + 1
    ptr = 0
    events = event_id.size
    for i in members:
        while ptr < events and event_id[ptr] < i:  # this draw now reads y[v] for that id
            p = event_draw[ptr]
            sums[p] = _draw_sum(y, pid[p], c, i)
            ptr += 1
        target = observed[i]
        count = 0
        for p in range(permutations):
            if sums[p] >= target:
                count += 1
        larger[i] = count


def count_larger(y: np.ndarray, observed: np.ndarray, card: np.ndarray,
                 pid: np.ndarray) -> np.ndarray:
    """Per area, the draws whose neighbour sum is ``>=`` the observed one.

    Parameters
    ----------
    y
        The values (float64).
    observed
        Each area's neighbour sum (self not included).
    card
        Each area's number of neighbours, at most ``pid.shape[1]``.
    pid
        :func:`permutation_ids`: the draw for area ``i`` is ``pid[p, :card[i]]``, where an id
        ``v`` stands for area ``v`` when ``v < i``, else ``v + 1``.

    Returns
    -------
    numpy.ndarray
        int64 counts; areas without neighbours get 0 (the caller decides for them).
    """
    y = np.ascontiguousarray(y, dtype=np.float64)
    observed = np.ascontiguousarray(observed, dtype=np.float64)
    pid = np.ascontiguousarray(pid, dtype=np.int64)
    larger = np.zeros(y.size, dtype=np.int64)
    for c in np.unique(card):
        if c == 0:
            continue
        flat = pid[:, :c].ravel()
        order = np.argsort(flat, kind="stable")
        _count_group(y, observed, pid, np.flatnonzero(card == c), int(c), flat[order],
                     order // c, larger)
    return larger

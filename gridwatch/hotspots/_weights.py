"""Spatial weights for the hotspot statistics: contiguity, distance band, k-nearest, H3 rings.

Weights are kept as a binary ``scipy.sparse`` CSR matrix without the diagonal, rows in the order
of the areas. Gi* adds the self-weight itself. Building Queen weights for ~92,600 micro-grids
takes seconds, so weights are cached per layer version: the key is a hash of the area ids, their
geometry (WKB) and the weights options, kept in memory and, when a cache folder is given, on disk.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
import shapely

from gridwatch.errors import ConfigError, LayerError
from gridwatch.hotspots._settings import WEIGHT_KINDS

__all__ = [
    "WEIGHT_KINDS",
    "SpatialWeights",
    "build_weights",
    "clear_weights_cache",
    "space_time_weights",
    "weights_from_neighbours",
]

WeightKind = Literal["queen", "rook", "distance", "knn"]
_MEMORY_CACHE: OrderedDict[str, SpatialWeights] = OrderedDict()
_MEMORY_CACHE_SIZE = 8
_CACHE_FORMAT = 2


@dataclass(frozen=True)
class SpatialWeights:
    """Binary spatial weights over a fixed list of areas.

    ``matrix[i, j] == 1`` when area ``j`` is a neighbour of area ``i`` (no self-weights).
    ``joined_islands`` lists ``(island_id, neighbour_id)`` pairs that were added because the
    island had no neighbour of its own.
    """

    ids: tuple[str, ...]
    matrix: sp.csr_matrix
    kind: str
    joined_islands: tuple[tuple[str, str], ...] = ()
    description: str = ""

    @property
    def n(self) -> int:
        """Number of areas."""
        return len(self.ids)

    def cardinalities(self) -> np.ndarray:
        """Number of neighbours of each area (self not counted)."""
        return np.diff(self.matrix.indptr)

    def to_graph(self):  # -> libpysal.graph.Graph; lazy import keeps module import cheap
        """Return the weights as a :class:`libpysal.graph.Graph` (for calling esda directly)."""
        from libpysal.graph import Graph

        return Graph.from_sparse(self.matrix.astype(float), ids=np.asarray(self.ids, dtype=object))


def clear_weights_cache() -> None:
    """Forget the weights kept in memory (the disk cache is left alone)."""
    _MEMORY_CACHE.clear()


def build_weights(
    areas: gpd.GeoDataFrame,
    *,
    kind: str = "queen",
    k: int = 8,
    distance_m: float | None = None,
    join_islands: bool = True,
    cache_dir: str | Path | None = None,
) -> SpatialWeights:
    """Build binary spatial weights for the areas of one layer.

    Parameters
    ----------
    areas
        Areas with ``area_id`` and polygon ``geometry`` in EPSG:4326 (WGS84 numbers).
    kind
        ``queen`` (shared edge or corner, the default), ``rook`` (shared edge), ``distance``
        (centroids within ``distance_m`` metres) or ``knn`` (the ``k`` nearest centroids).
    k
        Neighbours per area for ``knn``.
    distance_m
        Band width in metres for ``distance``.
    join_islands
        Join every area without neighbours to its nearest area (by geometry distance in
        metres), both ways, and report the pairs in ``joined_islands``.
    cache_dir
        Folder for the on-disk cache; weights are always cached in memory too.

    Returns
    -------
    SpatialWeights

    Raises
    ------
    ConfigError
        When ``kind``, ``k`` or ``distance_m`` is not allowed.
    LayerError
        When the areas lack ``area_id``, have duplicate ids, or are fewer than 3.
    """
    _check_options(kind, k, distance_m)
    ids = _area_ids(areas)
    geoms = np.asarray(areas.geometry.values)
    params = {"kind": kind, "k": int(k) if kind == "knn" else None,
              "distance_m": (float(distance_m) if kind == "distance" and distance_m is not None
                             else None),
              "join_islands": bool(join_islands)}
    key = _cache_key(ids, geoms, params)
    cached = _MEMORY_CACHE.get(key)
    if cached is not None:
        _MEMORY_CACHE.move_to_end(key)
        return cached
    weights = _read_disk_cache(cache_dir, key, ids, kind) if cache_dir is not None else None
    if weights is None:
        weights = _compute(areas, ids, kind=kind, k=k, distance_m=distance_m,
                           join_islands=join_islands)
        if cache_dir is not None:
            _write_disk_cache(cache_dir, key, weights)
    _MEMORY_CACHE[key] = weights
    while len(_MEMORY_CACHE) > _MEMORY_CACHE_SIZE:
        _MEMORY_CACHE.popitem(last=False)
    return weights


def weights_from_neighbours(
    ids: Sequence[str],
    neighbours: Iterable[Iterable[int]],
    *,
    kind: str,
    description: str = "",
) -> SpatialWeights:
    """Build binary weights from each area's neighbour positions (used for H3 rings).

    Self-references are dropped; the result is not symmetrised.
    """
    rows: list[int] = []
    cols: list[int] = []
    for i, nbrs in enumerate(neighbours):
        for j in nbrs:
            if j != i:
                rows.append(i)
                cols.append(int(j))
    n = len(ids)
    matrix = _binary_csr(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), n)
    return SpatialWeights(ids=tuple(ids), matrix=matrix, kind=kind, description=description)


def space_time_weights(spatial: sp.csr_matrix, n_periods: int, *, time_lag: int) -> sp.csr_matrix:
    """Space-time weights of a cube with ``n_periods`` slices, self-weights included.

    Observations are ordered period by period (index ``t * n + i``). Bin ``(i, t)`` has as
    neighbours the bins ``(j, s)`` where ``j`` is ``i`` or a spatial neighbour of ``i`` and
    ``t - time_lag <= s <= t``: the same period and the ``time_lag`` periods before it, as
    ArcGIS's Emerging Hot Spot Analysis defines the neighbourhood time step.
    """
    n = spatial.shape[0]
    with_self = (spatial + sp.identity(n, format="csr")).tocsr()
    with_self.data[:] = 1.0
    total = None
    for lag in range(time_lag + 1):
        shift = sp.eye(n_periods, k=-lag, format="csr")  # row t has a one at column t - lag
        block = sp.kron(shift, with_self, format="csr")
        total = block if total is None else total + block
    assert total is not None
    total.data[:] = 1.0
    return total.tocsr()


def _check_options(kind: str, k: int, distance_m: float | None) -> None:
    if kind not in WEIGHT_KINDS:
        raise ConfigError(f"weights kind {kind!r} is not allowed; use one of "
                          f"{', '.join(WEIGHT_KINDS)}")
    if kind == "knn" and (not isinstance(k, int | np.integer) or k < 1):
        raise ConfigError(f"k for knn weights must be a whole number >= 1, got {k!r}")
    if kind == "distance" and (distance_m is None or not distance_m > 0):
        raise ConfigError(f"distance_m for distance-band weights must be a number of metres > 0, "
                          f"got {distance_m!r}")


def _area_ids(areas: gpd.GeoDataFrame) -> tuple[str, ...]:
    if "area_id" not in areas.columns:
        raise LayerError(f"areas need an 'area_id' column; columns are: {', '.join(areas.columns)}")
    ids = tuple(str(v) for v in areas["area_id"].tolist())
    if len(set(ids)) != len(ids):
        dups = sorted(i for i, count in Counter(ids).items() if count > 1)
        raise LayerError(f"area_id values must be unique; {len(dups)} are repeated, e.g. "
                         f"{dups[:5]}")
    if len(ids) < 3:
        raise LayerError(f"hotspot statistics need at least 3 areas, got {len(ids)}")
    return ids


def _cache_key(ids: Sequence[str], geoms: np.ndarray, params: Mapping[str, object]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"format": _CACHE_FORMAT, **params}, sort_keys=True).encode())
    digest.update("\0".join(ids).encode("utf-8"))
    blobs = [b"" if wkb is None else wkb for wkb in shapely.to_wkb(geoms, hex=False)]
    # the lengths delimit the geometries (an empty one for none), then one update for all
    digest.update(np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)).tobytes())
    digest.update(b"".join(blobs))
    return digest.hexdigest()


def _compute(areas: gpd.GeoDataFrame, ids: tuple[str, ...], *, kind: str, k: int,
             distance_m: float | None, join_islands: bool) -> SpatialWeights:
    from libpysal.graph import Graph  # heavy import, only when weights are really built

    n = len(ids)
    geoms = gpd.GeoSeries(np.asarray(areas.geometry.values), crs=areas.crs)
    geoms.index = np.arange(n)
    metric = None
    if kind in ("queen", "rook"):
        graph = Graph.build_contiguity(geoms, rook=kind == "rook")
        description = f"{kind} contiguity"
    else:
        metric = geoms.to_crs(geoms.estimate_utm_crs()) if geoms.crs else geoms
        cent = metric.centroid
        coords = np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()])
        if kind == "knn":
            if k >= n:
                raise ConfigError(f"k for knn weights must be smaller than the number of areas "
                                  f"({n}), got {k}")
            graph = Graph.build_knn(coords, k=k)
            description = f"{k} nearest neighbours (centroids)"
        else:
            graph = Graph.build_distance_band(coords, distance_m, binary=True)
            description = f"distance band {distance_m:g} m (centroids)"
    matrix = graph.sparse.tocsr()
    matrix.eliminate_zeros()
    coo = matrix.tocoo()
    keep = coo.row != coo.col
    matrix = _binary_csr(coo.row[keep], coo.col[keep], n)
    joined: list[tuple[str, str]] = []
    islands = np.flatnonzero(np.diff(matrix.indptr) == 0)
    if join_islands and islands.size:
        if metric is None:
            metric = geoms.to_crs(geoms.estimate_utm_crs()) if geoms.crs else geoms
        tree = shapely.STRtree(np.asarray(metric.values))
        pairs = tree.query_nearest(np.asarray(metric.values)[islands], exclusive=True,
                                   all_matches=False)
        island_pos = islands[pairs[0]]
        nearest = pairs[1]
        coo = matrix.tocoo()
        rows = np.concatenate([coo.row, island_pos, nearest])
        cols = np.concatenate([coo.col, nearest, island_pos])
        matrix = _binary_csr(rows, cols, n)
        joined = [(ids[i], ids[j]) for i, j in zip(island_pos.tolist(), nearest.tolist(),
                                                    strict=True)]
        description += f"; {len(joined)} island(s) joined to their nearest area"
    return SpatialWeights(ids=ids, matrix=matrix, kind=kind, joined_islands=tuple(joined),
                          description=description)


def _binary_csr(rows: np.ndarray, cols: np.ndarray, n: int) -> sp.csr_matrix:
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    matrix.sort_indices()
    return matrix


def _read_disk_cache(cache_dir: str | Path, key: str, ids: tuple[str, ...],
                     kind: str) -> SpatialWeights | None:
    path = Path(cache_dir) / f"weights-{key[:40]}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("key") != key or meta.get("n") != len(ids):
                return None
            matrix = sp.csr_matrix((data["data"], data["indices"], data["indptr"]),
                                   shape=(len(ids), len(ids)))
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache file is rebuilt, never trusted
    joined = tuple((str(a), str(b)) for a, b in meta.get("joined_islands", []))
    return SpatialWeights(ids=ids, matrix=matrix, kind=kind, joined_islands=joined,
                          description=str(meta.get("description", "")))


def _write_disk_cache(cache_dir: str | Path, key: str, weights: SpatialWeights) -> None:
    folder = Path(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"key": key, "n": weights.n, "joined_islands": [list(p) for p in weights.joined_islands],
            "description": weights.description}
    path = folder / f"weights-{key[:40]}.npz"
    tmp = folder / f".weights-{key[:40]}.tmp.npz"
    np.savez(tmp, data=weights.matrix.data, indices=weights.matrix.indices,
             indptr=weights.matrix.indptr, meta=np.asarray(json.dumps(meta)))
    tmp.replace(path)  # atomic: a reader never sees half a file

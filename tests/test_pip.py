"""The compiled point-in-polygon kernel gives what shapely gives, border rule included.

The reference is the shapely implementation ``locate_points`` had before the kernel
(``tests/_reference.py``): STRtree candidates, ``shapely.intersects_xy`` on prepared polygons,
then the smallest ``area_id``.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _reference import assign_areas_reference, locate_points_reference
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.config import load_config
from gridwatch.placing import _pip
from gridwatch.placing.assign import assign_areas
from gridwatch.placing.layers import load_layers, locate_points

BOSTON = Path(__file__).resolve().parents[1] / "examples" / "boston311"
STEP = 2.0**-8  # lattice step: corners, edges and midpoints are exact in binary
X0, Y0 = 120.5, 30.5


def _layer(ids: list[str], geoms: list[Any], parent_ids: list[str | None] | None = None
           ) -> gpd.GeoDataFrame:
    parents = parent_ids if parent_ids is not None else [None] * len(ids)
    return gpd.GeoDataFrame({"area_id": pd.array(ids, dtype="str"), "area_name": ids,
                             "parent_id": pd.array(parents, dtype="str"),
                             "repaired": False}, geometry=geoms, crs="EPSG:4326")


def _box(i0: float, j0: float, i1: float, j1: float) -> shapely.Polygon:
    return shapely.box(X0 + i0 * STEP, Y0 + j0 * STEP, X0 + i1 * STEP, Y0 + j1 * STEP)


def _tricky_geoms() -> list[Any]:
    """Neighbours sharing edges and vertices, a hole with an island area inside it, a
    multipolygon whose parts touch at a corner, a diagonal edge, an overlap, an empty area."""
    ring = shapely.Polygon(
        [(X0, Y0 + 4 * STEP), (X0 + 4 * STEP, Y0 + 4 * STEP), (X0 + 4 * STEP, Y0 + 8 * STEP),
         (X0, Y0 + 8 * STEP)],
        holes=[[(X0 + STEP, Y0 + 5 * STEP), (X0 + 3 * STEP, Y0 + 5 * STEP),
                (X0 + 3 * STEP, Y0 + 7 * STEP), (X0 + STEP, Y0 + 7 * STEP)]])
    triangle = shapely.Polygon([(X0 + 4 * STEP, Y0), (X0 + 8 * STEP, Y0),
                                (X0 + 4 * STEP, Y0 + 4 * STEP)])
    other_half = shapely.Polygon([(X0 + 8 * STEP, Y0), (X0 + 8 * STEP, Y0 + 4 * STEP),
                                  (X0 + 4 * STEP, Y0 + 4 * STEP)])
    return [
        _box(0, 0, 2, 4), _box(2, 0, 4, 4),                      # shared edge
        ring, _box(1.5, 5.5, 2.5, 6.5),                          # hole with an island
        shapely.MultiPolygon([_box(4, 4, 6, 6), _box(6, 6, 8, 8)]),  # parts touch at a corner
        _box(6, 4, 8, 6),                                        # touches both parts
        triangle, other_half,                                    # diagonal shared edge
        _box(1, 1, 3, 3),                                        # overlaps the first two
        shapely.Polygon(),                                       # empty
    ]


_LATTICE = st.tuples(st.integers(-2, 34), st.integers(-2, 34)).map(
    lambda ij: (X0 + ij[0] * STEP / 4, Y0 + ij[1] * STEP / 4))
_ANYWHERE = st.tuples(st.floats(X0 - STEP, X0 + 9 * STEP), st.floats(Y0 - STEP, Y0 + 9 * STEP))
_POINTS = st.lists(st.one_of(_LATTICE, _ANYWHERE, st.just((np.nan, Y0))), min_size=1,
                   max_size=60)


@settings(max_examples=150, deadline=None)
@given(points=_POINTS, ids=st.permutations([f"A{i}" for i in range(10)]))
def test_kernel_equals_shapely_on_borders_vertices_holes_and_multipolygons(
        points: list[tuple[float, float]], ids: list[str]) -> None:
    layer = _layer(ids, _tricky_geoms())
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    got = locate_points(x, y, layer)
    np.testing.assert_array_equal(got, locate_points_reference(x, y, layer))
    # Spelled out: the covering area (shapely.covers) with the smallest id, else -1.
    for k in range(len(x)):
        covering = [i for i, g in enumerate(layer.geometry)
                    if np.isfinite(x[k]) and g.covers(shapely.Point(x[k], y[k]))]
        want = min(covering, key=lambda i: (ids[i], i)) if covering else -1
        assert got[k] == want


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_areas=st.integers(2, 40))
def test_kernel_equals_shapely_on_irregular_cells(seed: int, n_areas: int) -> None:
    """Voronoi cells (shared edges at any angle): random points, every vertex, and edge
    midpoints (rounded, so they fall a hair either side of the edge or on it)."""
    rng = np.random.default_rng(seed)
    seeds = shapely.multipoints(rng.uniform([121.0, 31.0], [121.1, 31.07], (n_areas, 2)))
    frame = shapely.box(121.0, 31.0, 121.1, 31.07)
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(
        seeds, extend_to=frame)), frame)
    layer = _layer([f"C{i:02d}" for i in rng.permutation(len(cells))], list(cells))
    xy = shapely.get_coordinates(cells)
    mid = (xy[1:] + xy[:-1]) / 2
    rand = rng.uniform([120.99, 30.99], [121.11, 31.08], (500, 2))
    pts = np.vstack([xy, mid, rand])
    got = locate_points(pts[:, 0], pts[:, 1], layer)
    np.testing.assert_array_equal(got, locate_points_reference(pts[:, 0], pts[:, 1], layer))


def _exact_sign(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> int:
    ax, ay, bx, by, cx, cy = (Fraction(v) for v in (*a, *b, *c))
    det = (ax - cx) * (by - cy) - (ay - cy) * (bx - cx)
    return (det > 0) - (det < 0)


# Degrees: zero or at least 1e-6 in size. (Expansion arithmetic is exact while no product
# underflows, which coordinates of 1e-300 could make happen; no map has them.)
_COORD = st.one_of(st.just(0.0), st.floats(1e-6, 200.0), st.floats(-200.0, -1e-6))


@settings(max_examples=300, deadline=None)
@given(a=st.tuples(_COORD, _COORD), b=st.tuples(_COORD, _COORD), t=st.floats(0.0, 1.0),
       nudge=st.integers(-2, 2))
def test_orientation_is_exact(a: tuple[float, float], b: tuple[float, float], t: float,
                              nudge: int) -> None:
    # c on (or a few ulps off) the line ab, where the floating-point filter cannot decide.
    cx = a[0] + t * (b[0] - a[0])
    cy = a[1] + t * (b[1] - a[1])
    for _ in range(abs(nudge) if abs(cy) >= 1e-6 else 0):
        cy = np.nextafter(cy, np.inf if nudge > 0 else -np.inf)
    # c lies on a map too: a coordinate that cancelled to a subnormal (1e-308) is 0
    c = tuple(0.0 if abs(v) < 1e-100 else float(v) for v in (cx, cy))
    assert _pip._orient(*a, *b, *c) == _exact_sign(a, b, c)
    assert _pip._orient_exact(*a, *b, *c) == _exact_sign(a, b, c)


def test_cache_notices_a_changed_layer() -> None:
    layer = _layer(["a", "b"], [_box(0, 0, 1, 1), _box(1, 0, 2, 1)])
    x, y = np.array([X0 + 0.5 * STEP, X0 + 1.5 * STEP]), np.array([Y0 + 0.5 * STEP] * 2)
    assert locate_points(x, y, layer).tolist() == [0, 1]
    assert locate_points(x, y, layer).tolist() == [0, 1]  # from the cache
    moved = layer.copy()
    moved.loc[0, "geometry"] = _box(5, 5, 6, 6)
    assert locate_points(x, y, moved).tolist() == [-1, 1]
    renamed = layer.copy()
    renamed["area_id"] = pd.array(["z", "b"], dtype="str")
    x2, y2 = np.array([X0 + STEP]), np.array([Y0 + 0.5 * STEP])  # on the shared edge
    assert locate_points(x2, y2, layer).tolist() == [0]
    assert locate_points(x2, y2, renamed).tolist() == [1]


def test_a_large_layers_index_is_kept_on_disk_for_the_next_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = [_box(i, j, i + 1, j + 1) for i in range(40) for j in range(30)]  # 1,200 areas
    geoms = np.array([*cells, None], dtype=object)
    rank = np.arange(len(geoms))[::-1].copy()
    rng = np.random.default_rng(3)
    x = X0 + rng.uniform(-1, 41, 5000) * STEP
    y = Y0 + rng.uniform(-1, 31, 5000) * STEP
    built = _pip.IndexCache(folder=tmp_path).get(geoms, rank)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    expected = _pip.locate(built, x, y)
    layer = _layer([f"{k:05d}" for k in range(len(cells))], cells)
    assert (_pip.locate(_pip.build_index(geoms[:-1], np.arange(len(cells))), x, y)
            == locate_points_reference(x, y, layer)).all()

    def never(*_args: object) -> None:
        raise AssertionError("built again although it was kept on disk")

    with monkeypatch.context() as patched:
        patched.setattr(_pip, "build_index", never)
        loaded = _pip.IndexCache(folder=tmp_path).get(geoms, rank)  # as a new process would
    assert (_pip.locate(loaded, x, y) == expected).all()
    # other ranks (the border rule) or other geometries are another index
    _pip.IndexCache(folder=tmp_path).get(geoms, np.arange(len(geoms)))
    assert len(list(tmp_path.glob("*.npz"))) == 2
    # a damaged file is built again and replaced
    for path in tmp_path.glob("*.npz"):
        path.write_bytes(b"not an index")
    again = _pip.IndexCache(folder=tmp_path).get(geoms, rank)
    assert (_pip.locate(again, x, y) == expected).all()
    # below disk_min_areas, no file
    _pip.IndexCache(folder=tmp_path / "small", disk_min_areas=100).get(geoms[:10], rank[:10])
    assert not (tmp_path / "small").exists()


def test_empty_layer_and_no_points() -> None:
    layer = _layer(["a"], [shapely.Polygon()])
    assert locate_points(np.array([X0]), np.array([Y0]), layer).tolist() == [-1]
    assert locate_points(np.array([]), np.array([]), _layer(["a"], [_box(0, 0, 1, 1)])
                         ).tolist() == []


# ------------------------------------------------------------------ whole assign_areas


def _points_for(layers: dict[str, gpd.GeoDataFrame], n: int, seed: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Random and clustered points over the layers, plus vertices and edge midpoints of
    every layer (exactly on borders, or a rounding away from them)."""
    rng = np.random.default_rng(seed)
    bounds = np.array([g.total_bounds for g in layers.values()])
    x0, y0 = bounds[:, 0].min(), bounds[:, 1].min()
    x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
    centres = rng.uniform([x0, y0], [x1, y1], (20, 2))
    near = centres[rng.integers(0, 20, n // 2)] + rng.normal(0, (x1 - x0) / 100, (n // 2, 2))
    spread = rng.uniform([x0, y0], [x1, y1], (n - n // 2, 2))
    border = []
    for layer in layers.values():
        xy = shapely.get_coordinates(np.asarray(layer.geometry.array))
        pick = rng.choice(len(xy) - 1, size=min(2_000, len(xy) - 1), replace=False)
        border += [xy[pick], (xy[pick] + xy[pick + 1]) / 2]
    pts = np.vstack([near, spread, *border])
    return pts[:, 0], pts[:, 1]


@pytest.fixture(scope="module")
def demo_city(tmp_path_factory: pytest.TempPathFactory):
    from gridwatch.demo import generate

    paths = generate(tmp_path_factory.mktemp("demo_pip"), problems=5_000, scale=0.02, seed=7)
    config = load_config(paths.config)
    return config, load_layers(config)


def test_assign_areas_unchanged_on_the_demo_city(demo_city: Any) -> None:
    config, layers = demo_city
    x, y = _points_for(layers, 40_000, seed=1)
    reported = np.where(np.arange(len(x)) % 3 == 0, layers["grid"]["area_id"].iloc[0], None)
    new = assign_areas(x, y, layers, config, reported_grid=reported)
    old = assign_areas_reference(x, y, layers, config, reported_grid=reported)
    pd.testing.assert_frame_equal(new, old)
    assert new["microgrid_id"].notna().mean() > 0.3


def test_assign_areas_unchanged_on_boston() -> None:
    config = load_config(BOSTON / "gridwatch.toml")
    layers = load_layers(config)
    requests = pd.read_csv(BOSTON / "data" / "requests_animal_pest_2013_2019.csv.gz",
                           usecols=["latitude", "longitude"])
    rx, ry = _points_for(layers, 20_000, seed=2)
    x = np.concatenate([requests["longitude"].to_numpy(float), rx])
    y = np.concatenate([requests["latitude"].to_numpy(float), ry])
    new = assign_areas(x, y, layers, config)
    old = assign_areas_reference(x, y, layers, config)
    pd.testing.assert_frame_equal(new, old)


def test_demo_layers_do_not_nest_exactly_so_every_layer_is_placed(demo_city: Any) -> None:
    """Why assign_areas places the grid, town and county layers instead of looking them up
    through the micro-grid's parent_id: in WGS84 the demo's children are not exactly inside
    their parents (each vertex is converted from GCJ-02 on its own), and at border points the
    lookup would give another area than placing the point does."""
    _config, layers = demo_city
    for child_name, parent_name in (("microgrid", "grid"), ("grid", "town")):
        child, parent = layers[child_name], layers[parent_name]
        parent_pos = pd.Index(parent["area_id"]).get_indexer(child["parent_id"])
        assert (parent_pos >= 0).all()
        covered = shapely.covers(parent.geometry.to_numpy()[parent_pos],
                                 child.geometry.to_numpy())
        assert not covered.all()
        xy = shapely.get_coordinates(child.geometry.to_numpy())
        child_pos = locate_points(xy[:, 0], xy[:, 1], child)
        via_parent_id = parent_pos[child_pos]
        placed = locate_points(xy[:, 0], xy[:, 1], parent)
        assert (child_pos >= 0).all()
        assert (via_parent_id != placed).any()
        out = assign_areas(xy[:, 0], xy[:, 1], layers, [s for s in _config.layers
                                                         if s.name in (child_name,
                                                                       parent_name)])
        ids = pd.array(parent["area_id"], dtype="str").take(placed, allow_fill=True)
        pd.testing.assert_extension_array_equal(out[f"{parent_name}_id"].array, ids)

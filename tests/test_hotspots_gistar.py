"""Gi*: equality with esda, ArcGIS confidence bins, Benjamini–Hochberg FDR, weights and islands."""

from __future__ import annotations

import warnings

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from libpysal import weights as lps_weights

from gridwatch.errors import ConfigError, LayerError
from gridwatch.hotspots import (
    OUTPUT_COLUMNS,
    build_weights,
    clear_weights_cache,
    confidence_bins,
    fdr_bh,
    gi_star,
    gi_star_pseudo_p,
    gi_star_z,
)


def lattice(rows: int, cols: int, *, offset: float = 0.0) -> gpd.GeoDataFrame:
    """Unit squares (0.01° wide) numbered row by row, like libpysal.weights.lat2W."""
    boxes, ids = [], []
    xs = [round(120.0 + offset + c * 0.01, 6) for c in range(cols + 1)]
    ys = [round(30.0 + r * 0.01, 6) for r in range(rows + 1)]
    for r in range(rows):
        for c in range(cols):
            boxes.append(shapely.box(xs[c], ys[r], xs[c + 1], ys[r + 1]))
            ids.append(f"a{r * cols + c:03d}")
    return gpd.GeoDataFrame({"area_id": ids, "area_name": [f"区{i}" for i in ids]},
                            geometry=boxes, crs="EPSG:4326")


def esda_gstar(y: np.ndarray, w, *, permutations: int = 999, seed: int = 7):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return esda.G_Local(y, w, transform="B", star=True, permutations=permutations,
                            seed=seed, keep_simulations=False, n_jobs=1)


@pytest.fixture
def planted() -> tuple[gpd.GeoDataFrame, np.ndarray]:
    areas = lattice(10, 10)
    rng = np.random.default_rng(11)
    y = rng.poisson(2.0, 100).astype(float)
    for r in range(6, 9):  # a 3×3 block of high counts
        for c in range(6, 9):
            y[r * 10 + c] += 12
    return areas, y


def test_queen_weights_match_libpysal_lattice(planted):
    areas, _ = planted
    w = build_weights(areas)
    expected = lps_weights.lat2W(10, 10, rook=False).sparse.toarray()
    assert (w.matrix.toarray() == (expected > 0)).all()
    assert w.joined_islands == ()


def test_gi_star_equals_esda_called_directly(planted):
    areas, y = planted
    result = gi_star(areas, y, permutations=999, seed=7)
    ref = esda_gstar(y, lps_weights.lat2W(10, 10, rook=False), seed=7)
    np.testing.assert_allclose(result["z"].to_numpy(), ref.Zs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result["p"].to_numpy(),
                               np.minimum(1.0, 2.0 * ref.p_sim.astype(float)), rtol=1e-6)
    analytical = gi_star(areas, y, inference="analytical")
    np.testing.assert_allclose(analytical["p"].to_numpy(), 2.0 * ref.p_norm, rtol=1e-12)
    assert list(result.columns[: len(OUTPUT_COLUMNS) - 1]) == list(OUTPUT_COLUMNS[:-1])
    assert result.geometry.name == "geometry"
    bins = result.set_index("area_id")["bin"]
    block = [f"a0{r}{c}" for r in range(6, 9) for c in range(6, 9)]
    assert bins["a077"] == 3  # the block's centre
    assert (bins[block] >= 2).all()
    assert (bins.drop(block) <= 1).sum() >= 80  # nowhere else is a strong hot spot
    assert (result.loc[result["area_id"] == "a077", "label"] == "热点(99%置信)").all()


def test_esda_engine_gives_the_same_numbers(planted):
    areas, y = planted
    fast = gi_star(areas, y, permutations=199, seed=3)
    slow = gi_star(areas, y, permutations=199, seed=3, engine="esda")
    np.testing.assert_allclose(fast["z"], slow["z"], atol=1e-12)
    np.testing.assert_allclose(fast["p"], slow["p"], rtol=1e-6)
    assert (fast["bin"] == slow["bin"]).all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.integers(3, 7), cols=st.integers(3, 7), seed=st.integers(0, 2**31 - 1),
       rook=st.booleans(), data=st.data())
def test_pseudo_p_equals_esda_for_any_lattice(rows, cols, seed, rook, data):
    n = rows * cols
    y = np.asarray(data.draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)), dtype=float)
    if y.sum() == 0:
        y[0] = 1.0
    w = lps_weights.lat2W(rows, cols, rook=rook)
    matrix = w.sparse.tocsr()
    matrix.data[:] = 1.0
    ref = esda_gstar(y, w, permutations=99, seed=seed)
    z = gi_star_z(y, matrix)
    # esda gives NaN where an area's neighbourhood is every area (no local information): 0 here
    undefined = ~np.isfinite(ref.Zs)
    np.testing.assert_allclose(z[~undefined], ref.Zs[~undefined], atol=1e-9)
    assert (z[undefined] == 0).all()
    got = gi_star_pseudo_p(y, matrix, permutations=99, seed=seed)
    simple, ties = _pseudo_p_area_by_area(y, matrix, permutations=99, seed=seed)
    np.testing.assert_array_equal(got, simple)
    # esda sums the draws with numba's fastmath when numba is installed: a draw whose sum
    # equals the observed one exactly may then fall on either side. Elsewhere: identical.
    np.testing.assert_array_equal(got[~ties].astype(np.float32),
                                  ref.p_sim[~ties].astype(np.float32))


def _pseudo_p_area_by_area(y: np.ndarray, matrix, *, permutations: int,
                           seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference: esda's conditional permutation written out one area at a time, in exact
    arithmetic; also which areas have a draw that ties with the observed neighbour sum."""
    from esda.crand import vec_permutations

    n = y.size
    card = np.diff(matrix.indptr)
    pid = vec_permutations(max(int(card.max()), 1), n, permutations, seed)
    observed = matrix @ y
    p = np.empty(n)
    ties = np.zeros(n, dtype=bool)
    for i in range(n):
        ids = pid[:, : card[i]]
        ids = np.where(ids < i, ids, ids + 1)  # the draws leave area i out
        sums = y[ids].sum(axis=1)
        larger = int((sums >= observed[i]).sum()) if card[i] else \
            (permutations if y[i] <= 0 else 0)
        ties[i] = bool((sums == observed[i]).any()) and card[i] > 0
        p[i] = (min(larger, permutations - larger) + 1) / (permutations + 1)
    return p, ties


def test_continuous_values_and_series_by_area_id(planted):
    areas, y = planted
    values = pd.Series(y + 0.37 * np.arange(100) / 100, index=areas["area_id"])[::-1]
    result = gi_star(areas, values, permutations=99, seed=5)
    ref = esda_gstar(values.sort_index().to_numpy(), lps_weights.lat2W(10, 10, rook=False),
                     permutations=99, seed=5)
    np.testing.assert_allclose(result["z"], ref.Zs, atol=1e-12)
    np.testing.assert_allclose(result["p"], np.minimum(1, 2 * ref.p_sim.astype(float)),
                               rtol=1e-6)


def test_missing_areas_in_a_series_count_zero():
    areas = lattice(3, 3)
    result = gi_star(areas, pd.Series({"a004": 5.0, "a000": 1.0}), inference="analytical")
    assert result["value"].tolist() == [1, 0, 0, 0, 5, 0, 0, 0, 0]


@pytest.mark.parametrize(("p", "z", "expected"), [
    (0.0099999, 2.6, 3), (0.01, 2.6, 2), (0.0499999, 2.0, 2), (0.05, 2.0, 1),
    (0.0999999, 1.7, 1), (0.10, 1.7, 0), (0.5, 0.3, 0),
    (0.0099999, -2.6, -3), (0.01, -2.6, -2), (0.05, -2.0, -1), (0.10, -1.7, 0),
    (0.001, 0.0, 0),
])
def test_bins_at_their_thresholds(p, z, expected):
    assert confidence_bins(np.array([z]), np.array([p])).tolist() == [expected]


def test_fdr_hand_made_case():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(fdr_bh(p), [0.02, 0.04, 0.04, 0.02])
    np.testing.assert_allclose(fdr_bh(np.array([0.2, 0.5, 0.01])), [0.3, 0.5, 0.03])
    np.testing.assert_allclose(fdr_bh(np.array([0.9, 0.8])), [0.9, 0.9])
    assert fdr_bh(np.array([])).size == 0


def test_fdr_bins_use_the_benjamini_hochberg_critical_values():
    # sorted p: 0.005 0.01 0.03 0.04 → BH critical value for alpha 0.05 is 0.04 (0.04 <= 4/4*.05)
    # and for alpha 0.01 is none (0.005 > 1/4*0.01), so nothing reaches ±3.
    p = np.array([0.01, 0.04, 0.03, 0.005])
    z = np.array([2.5, -2.1, 2.2, 2.8])
    assert confidence_bins(z, p).tolist() == [2, -2, 2, 3]
    assert confidence_bins(z, p, fdr=True).tolist() == [2, -2, 2, 2]
    # with more tests the same p-values lose significance
    many = np.concatenate([p, np.full(16, 0.9)])
    zs = np.concatenate([z, np.full(16, 0.1)])
    # alpha .10: k * .005 admits 0.005 and 0.01 only; alpha .05: k * .0025 admits none
    assert confidence_bins(zs, many, fdr=True)[:4].tolist() == [1, 0, 0, 1]
    # boundary: BH-adjusted exactly at alpha is significant (p <= k * alpha / n)
    assert confidence_bins(np.array([1.0, 1.0]), np.array([0.05, 0.025]), fdr=True).tolist() \
        == [2, 2]


def test_islands_are_joined_to_their_nearest_area_and_reported():
    areas = lattice(3, 3)
    far = gpd.GeoDataFrame({"area_id": ["island"], "area_name": ["孤岛"]},
                           geometry=[shapely.box(120.05, 29.95, 120.06, 29.96)], crs="EPSG:4326")
    areas = pd.concat([areas, far], ignore_index=True)
    clear_weights_cache()
    w = build_weights(areas)
    assert w.joined_islands == (("island", "a002"),)  # a002: the south-east corner square
    dense = w.matrix.toarray()
    assert dense[9, 2] == dense[2, 9] == 1
    assert (w.cardinalities() > 0).all()
    result = gi_star(areas, np.arange(10.0), weights=w, inference="analytical")
    assert result.attrs["joined_islands"] == [["island", "a002"]]
    assert "island(s) joined" in result.attrs["weights"]


def test_knn_and_distance_band_weights():
    areas = lattice(4, 4)
    knn = build_weights(areas, kind="knn", k=3)
    assert (knn.cardinalities() == 3).all()
    # squares 0.01° apart: ~960 m east-west and ~1,110 m north-south at 30°N
    band = build_weights(areas, kind="distance", distance_m=1200)
    assert band.cardinalities().tolist()[:4] == [2, 3, 3, 2]
    rook = build_weights(areas, kind="rook")
    assert rook.cardinalities().sum() == 2 * 2 * 4 * 3


def test_weights_disk_cache_round_trip(tmp_path):
    areas = lattice(4, 4)
    clear_weights_cache()
    first = build_weights(areas, cache_dir=tmp_path)
    files = list(tmp_path.glob("weights-*.npz"))
    assert len(files) == 1
    clear_weights_cache()
    again = build_weights(areas, cache_dir=tmp_path)
    assert (again.matrix != first.matrix).nnz == 0
    moved = areas.copy()
    moved.geometry = moved.geometry.translate(0.001, 0)
    build_weights(moved, cache_dir=tmp_path)  # another layer version: another key
    assert len(list(tmp_path.glob("weights-*.npz"))) == 2


def test_constant_values_give_no_hotspots():
    areas = lattice(3, 3)
    result = gi_star(areas, np.full(9, 4.0), permutations=99, seed=1)
    assert (result["z"] == 0).all() and (result["p"] == 1).all() and (result["bin"] == 0).all()


def test_errors_name_the_argument_and_value():
    areas = lattice(3, 3)
    with pytest.raises(ConfigError, match="weights kind 'hexagon'"):
        build_weights(areas, kind="hexagon")
    with pytest.raises(ConfigError, match="distance_m"):
        build_weights(areas, kind="distance")
    with pytest.raises(LayerError, match="8 values but there are 9 areas"):
        gi_star(areas, np.ones(8))
    with pytest.raises(LayerError, match="missing or infinite"):
        gi_star(areas, np.r_[np.ones(8), np.nan])
    with pytest.raises(LayerError, match="not areas of the layer"):
        gi_star(areas, pd.Series({"nowhere": 1.0}))
    with pytest.raises(ConfigError, match="inference 'bayes'"):
        gi_star(areas, np.ones(9), inference="bayes")
    with pytest.raises(LayerError, match="at least 3 areas"):
        build_weights(areas.iloc[:2])


def test_duplicate_area_ids_are_named():
    areas = lattice(2, 2)
    areas.loc[1, "area_id"] = "a000"
    with pytest.raises(LayerError, match=r"1 are repeated, e.g. \['a000'\]"):
        build_weights(areas)

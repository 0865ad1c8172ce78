"""Emerging hot spots: Mann–Kendall, space-time Gi*, and each of the 17 categories."""

from __future__ import annotations

import warnings

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from libpysal.weights import WSP

from gridwatch.errors import ConfigError, LayerError
from gridwatch.hotspots import (
    EMERGING_CATEGORIES,
    EMERGING_LABELS,
    build_weights,
    classify_emerging,
    emerging_hotspots,
    mann_kendall,
    space_time_gi_star,
    space_time_weights,
)

SIG, NOT = 0.001, 0.6


def series(pattern: str, z: list[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """'H' hot, 'C' cold, '.' not significant; optional explicit z values (signs must agree)."""
    zs = np.array(z if z is not None else
                  [3.0 if c == "H" else -3.0 if c == "C" else 0.5 for c in pattern])
    ps = np.array([SIG if c in "HC" else NOT for c in pattern])
    return zs, ps


def rising(start: float, step: float, n: int = 10) -> list[float]:
    return [start + step * i for i in range(n)]


CASES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "new_hot_spot": series(".........H"),
    "consecutive_hot_spot": series("......HHHH"),
    "intensifying_hot_spot": series("HHHHHHHHHH", rising(2.0, 0.4)),
    "persistent_hot_spot": series("HHHHHHHHHH", [3.0, 3.2] * 5),
    "diminishing_hot_spot": series("HHHHHHHHHH", rising(6.0, -0.4)),
    "sporadic_hot_spot": series("..H...H..H"),
    "oscillating_hot_spot": series("C..H..C..H"),
    "historical_hot_spot": series("HHHHHHHHH."),
    "new_cold_spot": series(".........C"),
    "consecutive_cold_spot": series(".......CCC"),
    "intensifying_cold_spot": series("CCCCCCCCCC", rising(-2.0, -0.4)),
    "persistent_cold_spot": series("CCCCCCCCCC", [-3.0, -3.2] * 5),
    "diminishing_cold_spot": series("CCCCCCCCCC", rising(-6.0, 0.4)),
    "sporadic_cold_spot": series("C...C...CC"),
    "oscillating_cold_spot": series("H...C..H.C"),
    "historical_cold_spot": series("CCCCCCCCC."),
    "no_pattern": series("..H..C...."),
}


def test_every_category_has_a_case_and_a_label():
    assert set(CASES) == set(EMERGING_CATEGORIES)
    assert len(EMERGING_CATEGORIES) == 17
    assert EMERGING_LABELS["intensifying_hot_spot"] == "加剧热点"


@pytest.mark.parametrize("expected", list(CASES))
def test_each_category_on_a_hand_built_series(expected):
    z, p = CASES[expected]
    categories, _, _ = classify_emerging(z[None, :], p[None, :])
    assert categories.tolist() == [expected]


def test_all_series_together_keep_their_rows():
    z = np.vstack([c[0] for c in CASES.values()])
    p = np.vstack([c[1] for c in CASES.values()])
    categories, trend_z, trend_p = classify_emerging(z, p)
    assert categories.tolist() == list(CASES)
    assert trend_z[list(CASES).index("intensifying_hot_spot")] > 0
    assert trend_p[list(CASES).index("intensifying_hot_spot")] < 0.05


def test_the_90_percent_rule_boundary():
    flat = [3.0, 3.2] * 5
    nine = series("H.HHHHHHHH", [*flat[:1], 0.5, *flat[2:]])  # 9 of 10 hot: 90 %
    eight = series("H..HHHHHHH", [*flat[:1], 0.5, 0.5, *flat[3:]])  # 80 %
    cats, _, _ = classify_emerging(np.vstack([nine[0], eight[0]]),
                                   np.vstack([nine[1], eight[1]]))
    assert cats.tolist() == ["persistent_hot_spot", "sporadic_hot_spot"]


def test_significance_threshold_and_fdr():
    z, p = series("......HHHH")
    p = np.where(p == SIG, 0.05, p)  # exactly alpha: not significant without FDR
    cats, _, _ = classify_emerging(z[None, :], p[None, :], alpha=0.05)
    assert cats.tolist() == ["no_pattern"]
    cats, _, _ = classify_emerging(z[None, :], np.where(p == 0.05, 0.049, p)[None, :])
    assert cats.tolist() == ["consecutive_hot_spot"]


def test_mann_kendall_hand_values():
    s, z, p = mann_kendall(np.array([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1], [2, 2, 2, 2, 2]]))
    assert s.tolist() == [10, -10, 0]
    np.testing.assert_allclose(z[:2], [9 / np.sqrt(50 / 3), -9 / np.sqrt(50 / 3)])
    np.testing.assert_allclose(p[0], 0.027486, atol=1e-6)
    assert z[2] == 0 and p[2] == 1
    s, z, _ = mann_kendall(np.array([1, 1, 2, 3]))  # one tie of two: var = (156 - 18) / 18
    assert s.tolist() == [5]
    np.testing.assert_allclose(z, [4 / np.sqrt(138 / 18)])
    with pytest.raises(ConfigError, match="at least 3 periods, got 2"):
        mann_kendall(np.array([1.0, 2.0]))


def lattice(rows: int, cols: int) -> gpd.GeoDataFrame:
    xs = [round(120 + 0.01 * c, 6) for c in range(cols + 1)]
    ys = [round(30 + 0.01 * r, 6) for r in range(rows + 1)]
    geoms = [shapely.box(xs[c], ys[r], xs[c + 1], ys[r + 1])
             for r in range(rows) for c in range(cols)]
    ids = [f"a{i:02d}" for i in range(rows * cols)]
    return gpd.GeoDataFrame({"area_id": ids, "area_name": ids}, geometry=geoms, crs="EPSG:4326")


def test_space_time_neighbourhood_is_this_and_previous_periods():
    spatial = build_weights(lattice(3, 3)).matrix
    st = space_time_weights(spatial, 4, time_lag=1).toarray()
    row = st[2 * 9 + 0]  # area 0 in period 2
    expected = {t * 9 + i for t in (1, 2) for i in (0, 1, 3, 4)}
    assert set(np.flatnonzero(row)) == expected
    first = st[0]  # period 0 has no previous period
    assert set(np.flatnonzero(first)) == {0, 1, 3, 4}


def test_space_time_gi_star_equals_esda_on_the_cube():
    spatial = build_weights(lattice(3, 3)).matrix
    rng = np.random.default_rng(8)
    counts = rng.poisson(4, (9, 5)).astype(float)
    z, p = space_time_gi_star(counts, spatial, time_lag=1, scope="cube")
    st = space_time_weights(spatial, 5, time_lag=1)
    st.setdiag(0)
    st.eliminate_zeros()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.G_Local(counts.T.ravel(), WSP(st).to_W(silence_warnings=True), transform="B",
                           star=True, permutations=0)
    np.testing.assert_allclose(z.T.ravel(), ref.Zs, atol=1e-12)
    np.testing.assert_allclose(p.T.ravel(), 2 * ref.p_norm, atol=1e-12)


def test_period_scope_equals_esda_on_each_time_window():
    spatial = build_weights(lattice(4, 4)).matrix
    rng = np.random.default_rng(9)
    counts = rng.poisson(4, (16, 6)).astype(float)
    counts[:, 3:] *= 3  # a city-wide rise: the period scope compares like with like
    z, _ = space_time_gi_star(counts, spatial, time_lag=2)
    st = space_time_weights(spatial, 6, time_lag=2)
    for t in (0, 1, 4):
        first = max(0, t - 2)
        window = st[first * 16:(t + 1) * 16, first * 16:(t + 1) * 16].tolil()
        window.setdiag(0)
        window = window.tocsr()
        window.eliminate_zeros()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = esda.G_Local(counts[:, first:t + 1].T.ravel(),
                               WSP(window).to_W(silence_warnings=True), transform="B",
                               star=True, permutations=0)
        np.testing.assert_allclose(z[:, t], ref.Zs[(t - first) * 16:], atol=1e-12)
    with pytest.raises(ConfigError, match="scope 'global'"):
        space_time_gi_star(counts, spatial, scope="global")


def test_emerging_end_to_end_on_planted_blocks():
    areas = lattice(10, 10)
    rng = np.random.default_rng(21)
    periods = pd.period_range("2024-01", periods=12, freq="M")
    counts = rng.poisson(3, (100, 12)).astype(float)
    t = np.arange(12)

    def block(r0, c0):
        return [(r0 + r) * 10 + c0 + c for r in range(3) for c in range(3)]

    counts[block(0, 0)] = 20 + 3 * t  # always high and rising
    counts[block(0, 7)] = 60 - 3 * t  # always high and falling
    counts[block(7, 0)] = 30  # always high, flat
    counts[block(7, 7), -1] = 80  # only the last month
    frame = pd.DataFrame(counts, index=areas["area_id"], columns=periods)
    result = emerging_hotspots(areas, frame.iloc[:, ::-1])  # columns are sorted in time order
    cat = result.set_index("area_id")["category"]
    assert cat["a11"] == "intensifying_hot_spot"
    assert cat["a18"] == "diminishing_hot_spot"
    assert cat["a81"] == "persistent_hot_spot"
    assert cat["a88"] == "new_hot_spot"
    assert result["value"].iloc[11] == counts[11, -1]
    assert result.attrs["periods"][0] == "2024-01"
    assert result.set_index("area_id").loc["a11", "hot_periods"] >= 11  # 90 % or more
    background = cat.drop([f"a{i:02d}" for b in (block(0, 0), block(0, 7), block(7, 0),
                                                  block(7, 7)) for i in b])
    assert (background.str.endswith("hot_spot")).mean() < 0.3


def test_emerging_errors():
    areas = lattice(3, 3)
    with pytest.raises(ConfigError, match="at least 3 periods"):
        emerging_hotspots(areas, pd.DataFrame({"2024-01": [1] * 9}, index=areas["area_id"]))
    with pytest.raises(LayerError, match="not areas of the layer"):
        emerging_hotspots(areas, pd.DataFrame({1: [1], 2: [2], 3: [3]}, index=["zz"]))
    with pytest.raises(ConfigError, match="time_lag must be between 0"):
        space_time_gi_star(np.ones((9, 3)), build_weights(areas).matrix, time_lag=3)

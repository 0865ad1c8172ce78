"""Rule-based hotspots: at least k overdue, or an overdue rate >= r among >= m problems."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridwatch.errors import ConfigError, LayerError
from gridwatch.hotspots import OUTPUT_COLUMNS, rule_hotspots


@pytest.fixture
def areas() -> gpd.GeoDataFrame:
    ids = [f"g{i}" for i in range(6)]
    return gpd.GeoDataFrame({"area_id": ids, "area_name": [f"网格{i}" for i in range(6)]},
                            geometry=[shapely.box(i, 0, i + 1, 1) for i in range(6)],
                            crs="EPSG:4326")


def test_thresholds_are_inclusive(areas):
    overdue = [5, 4, 3, 3, 2, 0]
    problems = [50, 40, 10, 9, 20, 0]
    result = rule_hotspots(areas, overdue, problems, min_overdue=5, min_rate=0.3,
                           min_problems=10)
    # g0: 5 overdue (count); g1: 4/40 no; g2: 3/10 = 0.3 with 10 problems (rate);
    # g3: 3/9 rate but only 9 problems; g4: 0.1; g5: nothing
    assert result["category"].tolist() == ["rule_hot_spot", "none", "rule_hot_spot", "none",
                                           "none", "none"]
    assert result["reason"].tolist()[0] == "overdue >= 5"
    assert result["reason"].tolist()[2] == "overdue rate >= 0.3 with >= 10 problems"
    assert result["label"].tolist()[0] == "规则热点"
    np.testing.assert_allclose(result["overdue_rate"], [0.1, 0.1, 0.3, 3 / 9, 0.1, 0.0])
    assert result["value"].tolist() == overdue
    assert list(result.columns[:len(OUTPUT_COLUMNS) - 1]) == list(OUTPUT_COLUMNS[:-1])
    assert result["bin"].isna().all()


def test_both_parts_of_the_rule_are_reported(areas):
    result = rule_hotspots(areas, [6, 0, 0, 0, 0, 0], [10, 0, 0, 0, 0, 0], min_overdue=5,
                           min_rate=0.5, min_problems=10)
    assert result["reason"].iloc[0] == "overdue >= 5; overdue rate >= 0.5 with >= 10 problems"


def test_series_by_area_id(areas):
    result = rule_hotspots(areas, pd.Series({"g3": 7}), pd.Series({"g3": 9, "g1": 2}))
    assert result.loc[result["category"] == "rule_hot_spot", "area_id"].tolist() == ["g3"]


def test_bad_thresholds_and_inputs(areas):
    with pytest.raises(ConfigError, match="min_rate must be in"):
        rule_hotspots(areas, [0] * 6, [0] * 6, min_rate=1.5)
    with pytest.raises(ConfigError, match="min_overdue must be >= 1, got 0"):
        rule_hotspots(areas, [0] * 6, [0] * 6, min_overdue=0)
    with pytest.raises(ConfigError, match="exceed problem counts at areas \\['g0'\\]"):
        rule_hotspots(areas, [2, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0])
    with pytest.raises(LayerError, match="overdue has 2 values"):
        rule_hotspots(areas, [1, 2], [0] * 6)


def test_hotspot_settings_report_every_problem():
    from gridwatch.hotspots import HotspotSettings, hotspot_settings

    assert hotspot_settings({}) == HotspotSettings()
    parsed = hotspot_settings({"rule_min_overdue": 3, "rule_min_rate": 1, "weights": "knn",
                               "fdr": True, "distance_m": 800})
    assert parsed.rule_min_overdue == 3 and parsed.rule_min_rate == 1.0 and parsed.fdr
    with pytest.raises(ConfigError) as info:
        hotspot_settings({"colour": "red", "permutations": "many", "weights": "hexagon",
                          "period": "day", "rule_min_rate": 2.0})
    problems = "\n".join(info.value.problems)
    assert "unknown key 'colour'" in problems
    assert "permutations = 'many' has the wrong type" in problems
    assert "weights must be one of queen, rook, distance, knn, got 'hexagon'" in problems
    assert "period must be 'week' or 'month', got 'day'" in problems
    assert "rule_min_rate must be in (0, 1], got 2.0" in problems
    with pytest.raises(ConfigError, match="distance_m"):
        hotspot_settings({"weights": "distance"})

"""Rule-based hotspots (热点网格 by rule): enough overdue problems, or a high overdue rate."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np

from gridwatch.errors import ConfigError
from gridwatch.hotspots._output import aligned_values, result_frame

__all__ = ["RULE_LABELS", "rule_hotspots"]

RULE_LABELS: dict[str, str] = {"rule_hot_spot": "规则热点", "none": "非热点"}


def rule_hotspots(
    areas: gpd.GeoDataFrame,
    overdue: Any,
    problems: Any,
    *,
    min_overdue: int = 5,
    min_rate: float = 0.3,
    min_problems: int = 10,
) -> gpd.GeoDataFrame:
    """Flag areas with at least ``min_overdue`` overdue problems, or an overdue rate of at
    least ``min_rate`` among at least ``min_problems`` problems.

    Parameters
    ----------
    areas
        Areas with ``area_id``, ``area_name`` and ``geometry``.
    overdue, problems
        Overdue (red) and all counted problems per area: Series indexed by area id (missing
        areas count 0) or sequences in the order of ``areas``.
    min_overdue, min_rate, min_problems
        The rule (config ``[hotspots] rule_min_overdue``, ``rule_min_rate``,
        ``rule_min_problems``).

    Returns
    -------
    GeoDataFrame
        :data:`~gridwatch.hotspots.OUTPUT_COLUMNS` with ``value`` = overdue count,
        ``category`` ``rule_hot_spot`` or ``none``, ``bin`` NA, plus ``problems``,
        ``overdue_rate`` and ``reason`` (which part of the rule fired).

    Raises
    ------
    ConfigError
        When a threshold is out of range or overdue exceeds problems.
    """
    if min_overdue < 1:
        raise ConfigError(f"min_overdue must be >= 1, got {min_overdue!r}")
    if not 0 < min_rate <= 1:
        raise ConfigError(f"min_rate must be in (0, 1], got {min_rate!r}")
    if min_problems < 1:
        raise ConfigError(f"min_problems must be >= 1, got {min_problems!r}")
    red = aligned_values(areas, overdue, name="overdue")
    total = aligned_values(areas, problems, name="problems")
    if (red > total).any():
        where = areas["area_id"].astype(str).to_numpy()[red > total][:3].tolist()
        raise ConfigError(f"overdue counts exceed problem counts at areas {where}")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(total > 0, red / total, 0.0)
    by_count = red >= min_overdue
    by_rate = (total >= min_problems) & (rate >= min_rate)
    hot = by_count | by_rate
    reason = np.full(len(areas), "", dtype=object)
    reason[by_rate] = f"overdue rate >= {min_rate:g} with >= {min_problems} problems"
    reason[by_count] = f"overdue >= {min_overdue}"
    reason[by_count & by_rate] = (f"overdue >= {min_overdue}; overdue rate >= {min_rate:g} "
                                  f"with >= {min_problems} problems")
    category = np.where(hot, "rule_hot_spot", "none")
    attrs = {"method": "rule", "min_overdue": min_overdue, "min_rate": min_rate,
             "min_problems": min_problems}
    return result_frame(areas, value=red, category=category.tolist(),
                        label=[RULE_LABELS[c] for c in category],
                        extra={"problems": total, "overdue_rate": rate,
                               "reason": reason.astype(str)},
                        attrs=attrs)

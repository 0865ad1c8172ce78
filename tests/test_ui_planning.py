"""The planning page's view-model: rebound and repeat-complaint points, the grid-mismatch
audit, the emerging legend, and the map escaping user text."""

from __future__ import annotations

import numpy as np
import pandas as pd
from helpers import local

from gridwatch.output.palette import EMERGING_COLOURS
from gridwatch.supervision.context import SupervisionContext
from gridwatch.ui.planning import (
    attention_points,
    emerging_legend,
    grid_mismatch_audit,
    planning_map,
)

HOSTILE = "<img src=x onerror=alert(1)>${x}`"


def _context() -> tuple[SupervisionContext, pd.DataFrame]:
    n = 4
    issues = pd.DataFrame({
        "issue_id": ["A", "B", "C", "D"],
        "reported_at": [local("2026-10-01 09:00")] * n,
        "lon": [120.80, 120.81, 120.82, 120.83], "lat": [30.74] * n,
        "description": [HOSTILE, "b", "c", "d"], "reported_grid": ["G1", "G2", "G3", "G4"],
        "grid_mismatch": [False, True, False, True], "grid_id": ["G1", "G9", "G3", "G8"],
        "responsible_unit": "某单位",
    })
    rebounds = pd.DataFrame({"rebound": [True, False, True, False],
                             "rebound_of": ["Z", None, "Y", None],
                             "rebound_distance_m": np.nan, "rebound_days": np.nan})
    incidents = pd.DataFrame({"incident_id": ["A", "B", "C", "D"],
                              "incident_size": [1, 3, 2, 1], "is_primary": True})
    ctx = SupervisionContext.from_frames(issues, rebounds=rebounds, incidents=incidents)
    evaluated = pd.DataFrame({"is_open": [True, True, True, False],
                              "days_overdue": [1.0, 5.0, np.nan, 9.0],
                              "code": ["red", "red", "green", "closed_late"]})
    return ctx, evaluated


def test_attention_points_are_open_rebounds_and_repeats_most_overdue_first() -> None:
    ctx, evaluated = _context()
    points = attention_points(ctx, evaluated)
    assert points["issue_id"].tolist() == ["B", "A", "C"]  # D is closed
    assert points["kind"].tolist() == ["repeat", "rebound", "both"]
    assert points["reports"].tolist() == [3, 1, 2]
    only = attention_points(ctx, evaluated, keep=np.array([True, False, True, True]))
    assert only["issue_id"].tolist() == ["A", "C"]


def test_grid_mismatch_audit_lists_the_mismatches() -> None:
    ctx, _ = _context()
    table = grid_mismatch_audit(ctx)
    assert sorted(table["issue_id"]) == ["B", "D"]
    assert {"reported_grid", "description"} <= set(table.columns)


def test_emerging_legend_follows_the_palette() -> None:
    legend = emerging_legend(pd.Series(["new_hot_spot", "no_pattern", "new_hot_spot"]))
    assert legend == {"新增热点": EMERGING_COLOURS["new_hot_spot"],
                      "无明显模式": EMERGING_COLOURS["no_pattern"]}
    assert len(emerging_legend()) == 17


def test_the_map_escapes_user_text() -> None:
    ctx, evaluated = _context()
    page = planning_map(None, context=ctx, points=attention_points(ctx, evaluated)) \
        .get_root().render()
    assert HOSTILE not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;&#36;{x}&#96;" in page

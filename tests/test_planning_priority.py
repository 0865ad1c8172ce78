"""The priority score: each term on a hand-built case, the sum and the explanation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridwatch.errors import ConfigError
from gridwatch.planning.priority import TERMS, priority_terms
from gridwatch.planning.settings import PlanWeights, parse_plan_settings

# distinct weights, so each term's points say which term gave them
WEIGHTS = PlanWeights(overdue_day=1.5, overdue_days_cap=10, red=20, yellow=7, hot_bin=3,
                      emerging=11, rebound=13, repeat_complaint=17, inside_zone=19,
                      zone_belt=23, petition=29, field_not_rectified=31, field_rebound=37,
                      severity={"一般": 0, "较重": 41, "严重": 43})


def _case() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """One problem per term (plus a plain one and one with everything)."""
    names = ["plain", "late", "very_late", "yellow", "hot", "emerging", "rebound", "repeat",
             "inside", "belt", "severe", "petition", "field", "all"]
    n = len(names)
    issues = pd.DataFrame({
        "issue_id": names,
        "source": ["grid_patrol"] * n,
        "severity": ["一般"] * n,
        "grid_id": ["g0"] * n,
        "in_redline": [False] * n,
        "near_redline": [False] * n,
    })
    evaluated = pd.DataFrame({"code": ["green"] * n, "days_overdue": [np.nan] * n})
    rebounds = pd.DataFrame({"rebound": [False] * n})
    incidents = pd.DataFrame({"incident_size": [1] * n})
    at = {name: i for i, name in enumerate(names)}
    evaluated.loc[at["late"], ["code", "days_overdue"]] = ["red", 4.0]
    evaluated.loc[at["very_late"], ["code", "days_overdue"]] = ["red", 25.0]  # capped at 10
    evaluated.loc[at["yellow"], "code"] = "yellow"
    issues.loc[at["hot"], "grid_id"] = "g_hot"
    issues.loc[at["emerging"], "grid_id"] = "g_new"
    rebounds.loc[at["rebound"], "rebound"] = True
    incidents.loc[at["repeat"], "incident_size"] = 3
    issues.loc[at["inside"], ["in_redline", "near_redline"]] = [True, True]
    issues.loc[at["belt"], "near_redline"] = True
    issues.loc[at["severe"], "severity"] = "严重"
    issues.loc[at["petition"], "source"] = "hotline"
    all_ = at["all"]
    evaluated.loc[all_, ["code", "days_overdue"]] = ["red", 2.0]
    issues.loc[all_, ["grid_id", "in_redline", "near_redline", "severity", "source"]] = \
        ["g_both", True, True, "较重", "public_report"]
    rebounds.loc[all_, "rebound"] = True
    incidents.loc[all_, "incident_size"] = 2
    field = pd.DataFrame({"not_rectified": [2, 1], "rebound": [1, 1]}, index=["field", "all"])
    extra = {"rebounds": rebounds, "incidents": incidents, "zones": ["redline"],
             "hotspot_layer": "grid",
             "hot_bins": pd.Series({"g0": 0, "g_hot": 2, "g_new": -1, "g_both": 3}),
             "emerging": pd.Series({"g0": "no_pattern", "g_hot": "sporadic_hot_spot",
                                    "g_new": "new_hot_spot", "g_both": "persistent_hot_spot"}),
             "field_counts": field}
    return issues, evaluated, extra


def test_each_term_on_a_hand_built_case() -> None:
    issues, evaluated, extra = _case()
    out = priority_terms(issues, evaluated, weights=WEIGHTS, **extra).set_index(
        issues["issue_id"])
    w = WEIGHTS
    expected = {
        "plain": {},
        "late": {"overdue_days": 4 * 1.5, "colour": w.red},
        "very_late": {"overdue_days": 10 * 1.5, "colour": w.red},
        "yellow": {"colour": w.yellow},
        "hot": {"hot_bin": 2 * w.hot_bin},
        "emerging": {"emerging": w.emerging},
        "rebound": {"rebound": w.rebound},
        "repeat": {"repeat_complaint": w.repeat_complaint},
        "inside": {"zone": w.inside_zone},
        "belt": {"zone": w.zone_belt},
        "severe": {"severity": 43},
        "petition": {"petition": w.petition},
        "field": {"field_not_rectified": 2 * w.field_not_rectified,
                  "field_rebound": w.field_rebound},
        "all": {"overdue_days": 2 * 1.5, "colour": w.red, "hot_bin": 3 * w.hot_bin,
                "emerging": w.emerging, "rebound": w.rebound,
                "repeat_complaint": w.repeat_complaint, "zone": w.inside_zone,
                "severity": 41, "petition": w.petition,
                "field_not_rectified": w.field_not_rectified, "field_rebound": w.field_rebound},
    }
    for name, terms in expected.items():
        row = out.loc[name]
        for term in TERMS:
            assert row[term] == pytest.approx(terms.get(term, 0.0)), (name, term)
        assert row["priority"] == pytest.approx(sum(terms.values())), name
    assert out.loc["plain", "why"] == ""
    assert out.loc["late", "why"] == "红码 +20; 超期4天 +6"
    assert out.loc["belt", "why"] == "红线缓冲带 +23"
    assert out.loc["hot", "why"] == "Gi*热点(95%) +6"
    assert out.loc["field", "why"] == "现场未整改2次 +62; 现场反弹1次 +37"
    # every non-zero term of the all-terms row is named, largest first
    why = out.loc["all", "why"].split("; ")
    assert len(why) == len(expected["all"])
    points = [float(part.rsplit("+", 1)[1]) for part in why]
    assert points == sorted(points, reverse=True)


def test_without_context_frames_the_terms_are_zero() -> None:
    issues, evaluated, _ = _case()
    out = priority_terms(issues, evaluated, weights=WEIGHTS)
    for term in ("hot_bin", "emerging", "rebound", "repeat_complaint", "zone",
                 "field_not_rectified", "field_rebound"):
        assert (out[term] == 0).all(), term


@given(st.lists(st.tuples(st.sampled_from(["red", "yellow", "green"]),
                          st.floats(0, 400), st.sampled_from(["一般", "较重", "严重", "x"]),
                          st.booleans()), min_size=1, max_size=30),
       st.floats(0, 5), st.floats(0, 100))
def test_priority_is_the_sum_of_the_terms_and_grows_with_a_weight(rows, per_day, red) -> None:
    issues = pd.DataFrame({"issue_id": [str(i) for i in range(len(rows))],
                           "severity": [r[2] for r in rows],
                           "source": ["hotline" if r[3] else "grid_patrol" for r in rows]})
    evaluated = pd.DataFrame({"code": [r[0] for r in rows], "days_overdue": [r[1] for r in rows]})
    weights = dataclasses.replace(PlanWeights(), overdue_day=per_day, red=red)
    out = priority_terms(issues, evaluated, weights=weights)
    assert np.allclose(out["priority"], out[list(TERMS)].sum(axis=1))
    more = priority_terms(issues, evaluated,
                          weights=dataclasses.replace(weights, red=red + 1))
    assert (more["priority"] >= out["priority"]).all()
    assert (more["priority"] - out["priority"]).sum() == pytest.approx(
        sum(r[0] == "red" for r in rows))


def test_plan_settings_report_every_problem() -> None:
    with pytest.raises(ConfigError) as info:
        parse_plan_settings({"site_radius": 3, "speed_kmh": 0, "detour_factor": 0.5,
                             "weights": {"red": -1, "sevrity": {}},
                             "bases": [{"name": "A", "lon": 120.0}], "day_start": "8h30"})
    problems = info.value.problems
    assert any("site_radius" in p and "site_radius_m" in p for p in problems)
    assert any("speed_kmh must be > 0" in p for p in problems)
    assert any("detour_factor must be >= 1" in p for p in problems)
    assert any("red must be >= 0" in p for p in problems)
    assert any("'sevrity'" in p and "'severity'" in p for p in problems)
    assert any("needs lon and lat" in p for p in problems)
    assert any("day_start must be a time of day HH:MM" in p for p in problems)
    assert len(problems) == 7

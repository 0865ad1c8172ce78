"""Sites: problems within R metres (chained) or of one enterprise are one stop."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.planning.priority import TERMS
from gridwatch.planning.settings import PlanSettings
from gridwatch.planning.sites import group_sites, site_table


def test_sites_open_around_the_most_urgent_points_without_chaining() -> None:
    x = np.array([0.0, 150.0, 300.0, 1000.0, 1199.0, 5000.0])
    label = group_sites(x, np.zeros_like(x), radius_m=200)
    assert label.tolist() == [0, 0, 1, 2, 2, 3]
    # the point at 150 is the most urgent: it takes both its neighbours
    label = group_sites(x, np.zeros_like(x), radius_m=200,
                        priority=np.array([1.0, 9.0, 1.0, 1.0, 1.0, 1.0]))
    assert label.tolist() == [0, 0, 0, 1, 1, 2]


def test_the_same_enterprise_is_one_site_however_far() -> None:
    x = np.array([0.0, 10_000.0, 20_000.0])
    label = group_sites(x, np.zeros(3), radius_m=200,
                        enterprise=pd.Series(["嘉兴某化工", "", "嘉兴某化工"]))
    assert label.tolist() == [0, 1, 0]
    # an empty or missing enterprise joins nothing
    label = group_sites(x, np.zeros(3), radius_m=200, enterprise=pd.Series(["", None, ""]))
    assert label.tolist() == [0, 1, 2]


def test_points_without_coordinates_are_sites_of_their_own() -> None:
    label = group_sites(np.array([0.0, np.nan, 10.0]), np.array([0.0, np.nan, 0.0]),
                        radius_m=200)
    assert label.tolist() == [0, 1, 0]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 3000), st.floats(0, 3000), st.integers(0, 5)),
                min_size=1, max_size=40),
       st.floats(10, 500))
def test_sites_are_the_leaders_neighbourhoods(points, radius) -> None:
    xy = np.array([p[:2] for p in points])
    priority = np.array([p[2] for p in points], dtype=float)
    label = group_sites(xy[:, 0], xy[:, 1], radius_m=radius, priority=priority)
    # independently: the leader algorithm, one point at a time
    n = len(points)
    expected = [-1] * n
    site = 0
    for leader in sorted(range(n), key=lambda i: (-priority[i], i)):
        if expected[leader] >= 0:
            continue
        for j in range(n):
            if expected[j] < 0 and np.hypot(*(xy[leader] - xy[j])) <= radius:
                expected[j] = site
        site += 1
    for i in range(n):
        for j in range(n):
            assert (label[i] == label[j]) == (expected[i] == expected[j])
    # a site never spans more than twice the radius
    for s in set(label):
        members = xy[label == s]
        span = np.hypot(*(members[:, None, :] - members[None, :, :]).transpose(2, 0, 1))
        assert span.max() <= 2 * radius + 1e-6


def test_site_table_sums_priorities_and_times() -> None:
    problems = pd.DataFrame({"issue_id": ["b", "a", "c"]})
    terms = pd.DataFrame({t: [0.0, 0.0, 0.0] for t in TERMS})
    terms["colour"] = [20.0, 5.0, 20.0]
    terms["overdue_days"] = [3.0, 0.0, 0.0]
    terms["priority"] = terms[list(TERMS)].sum(axis=1)
    x = np.array([0.0, 100.0, 900.0])
    settings = PlanSettings(site_radius_m=200, visit_minutes=30, minutes_per_problem=10)
    sites, site_of = site_table(problems, terms, x, np.zeros(3), settings=settings)
    assert sites["site_id"].tolist() == ["S-a", "S-c"]  # highest priority first
    assert sites["priority"].tolist() == [28.0, 20.0]
    assert sites["visit_minutes"].tolist() == [40.0, 30.0]
    assert sites["problems"].tolist() == [2, 1]
    assert sites["issue_ids"].tolist() == ["a,b", "c"]
    assert sites["x"].tolist() == [50.0, 900.0]
    assert site_of.tolist() == ["S-a", "S-a", "S-c"]
    assert sites.loc[0, "why"] == "码色 +25; 超期 +3"

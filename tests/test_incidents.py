import numpy as np
import pandas as pd
import pytest
from helpers import local, lonlat_from_metres
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.errors import ConfigError
from gridwatch.supervision.incidents import (
    DuplicateSettings,
    group_incidents,
    incident_primary,
    metric_xy,
    parse_duplicate_settings,
)

# Points are placed in metres in CGCS2000 / 3-degree GK CM 120E (the zone metric_crs picks for
# Jiaxing) around a point in Nanhu, so distances are exact (helpers.lonlat_from_metres).


def reports(rows: list[tuple[str, float, float, float, str]]) -> pd.DataFrame:
    """rows: (issue_id, x metres, y metres, hours after the start, category)."""
    ids, xs, ys, hours, cats = zip(*rows, strict=True)
    lon, lat = lonlat_from_metres(xs, ys)
    start = local("2024-03-01 08:00")
    return pd.DataFrame({
        "issue_id": list(ids),
        "reported_at": [start + pd.Timedelta(hours=h) for h in hours],
        "category": list(cats), "lon": lon, "lat": lat,
    })


def test_metric_projection_is_the_local_zone() -> None:
    issues = reports([("a", 0, 0, 0, "air"), ("b", 30, 40, 0, "air")])
    x, y = metric_xy(issues["lon"], issues["lat"])
    assert np.hypot(x[1] - x[0], y[1] - y[0]) == pytest.approx(50.0, abs=1e-6)


def test_transitive_chain_is_one_incident_with_a_stable_id() -> None:
    issues = reports([
        ("c", 80, 0, 2, "water"),    # 40 m from b, 80 m from a
        ("a", 0, 0, 0, "water"),
        ("b", 40, 0, 1, "water"),
        ("d", 129.5, 0, 3, "water"),  # 49.5 m from c: within
        ("e", 180.5, 0, 4, "water"),  # 51 m from d: outside
        ("f", 0, 0, 30, "water"),    # same place as a, 30 h later: outside 24 h
        ("g", 1, 0, 0.5, "air"),     # other category
    ])
    out = group_incidents(issues, DuplicateSettings(radius_m=50, hours=24))
    assert list(out["incident_id"]) == ["a", "a", "a", "a", "e", "f", "g"]
    assert list(out["incident_size"]) == [4, 4, 4, 4, 1, 1, 1]
    assert list(out["is_primary"]) == [False, True, False, False, True, True, True]
    shuffled = issues.sample(frac=1, random_state=3)
    again = group_incidents(shuffled, DuplicateSettings(radius_m=50, hours=24))
    assert again.sort_index().equals(out)
    assert list(incident_primary(out)) == list(out["is_primary"])


def test_time_chain_and_missing_coordinates() -> None:
    issues = reports([("a", 0, 0, 0, "noise"), ("b", 0, 0, 20, "noise"),
                      ("c", 0, 0, 40, "noise"), ("z", 0, 0, 1, "noise")])
    issues.loc[3, ["lon", "lat"]] = np.nan
    out = group_incidents(issues, DuplicateSettings(radius_m=10, hours=24))
    assert list(out["incident_id"]) == ["a", "a", "a", "z"]


def test_equal_times_break_ties_by_issue_id() -> None:
    issues = reports([("k2", 0, 0, 0, "air"), ("k1", 5, 0, 0, "air")])
    assert list(group_incidents(issues)["incident_id"]) == ["k1", "k1"]


def brute_force(issues: pd.DataFrame, radius: float, hours: float) -> list[str]:
    x, y = metric_xy(issues["lon"], issues["lat"])
    n = len(issues)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    t = issues["reported_at"].tolist()
    cat = issues["category"].tolist()
    names = issues["issue_id"].tolist()
    for i in range(n):
        for j in range(i + 1, n):
            if (cat[i] == cat[j]
                    and np.hypot(x[i] - x[j], y[i] - y[j]) <= radius
                    and abs((t[i] - t[j]).total_seconds()) <= hours * 3600):
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    ids = [""] * n
    for members in groups.values():
        first = min(members, key=lambda i: (t[i], names[i]))
        for i in members:
            ids[i] = names[first]
    return ids


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 300), st.integers(0, 72),
                          st.sampled_from(["air", "water"])), min_size=1, max_size=30))
def test_matches_an_all_pairs_union_find(points) -> None:
    issues = reports([(f"r{i:02d}", x, y, h, c) for i, (x, y, h, c) in enumerate(points)])
    got = group_incidents(issues, DuplicateSettings(radius_m=60.5, hours=12))
    assert list(got["incident_id"]) == brute_force(issues, 60.5, 12)


def test_settings_validation() -> None:
    assert parse_duplicate_settings({"radius_m": 30}) == DuplicateSettings(radius_m=30.0)
    with pytest.raises(ConfigError) as info:
        parse_duplicate_settings({"radius_m": 0, "hours": "a day", "days": 1})
    assert len(info.value.problems) == 3

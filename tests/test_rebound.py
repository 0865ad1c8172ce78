import numpy as np
import pandas as pd
import pytest
from helpers import local, lonlat_from_metres, utc_columns
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.errors import ConfigError
from gridwatch.supervision.incidents import metric_xy
from gridwatch.supervision.rebound import (
    ReboundSettings,
    find_rebounds,
    parse_rebound_settings,
    rebound_counts,
)

T0 = local("2024-03-01 08:00")


def problems(rows: list[tuple]) -> pd.DataFrame:
    """rows: (issue_id, x m, y m, reported day, closed day or None, category, grid)."""
    ids, xs, ys, rep, clo, cats, grids = zip(*rows, strict=True)
    lon, lat = lonlat_from_metres(xs, ys)
    out = pd.DataFrame({
        "issue_id": list(ids),
        "reported_at": [T0 + pd.Timedelta(days=d) for d in rep],
        "closed_at": [T0 + pd.Timedelta(days=d) if d is not None else pd.NaT for d in clo],
        "category": list(cats), "lon": lon, "lat": lat, "grid_id": list(grids),
    })
    return utc_columns(out, "closed_at")


def plain(series: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in series]


CASES = problems([
    ("old", 0, 0, 0, 10, "water", "G1"),
    ("within", 60, 79.9, 40, None, "water", "G1"),      # 99.9 m, 30 days after closing
    ("too_far", 101, 0, 40, None, "water", "G1"),       # 101 m
    ("too_late", 10, 0, 41, None, "water", "G2"),       # 31 days after closing
    ("other_cat", 5, 0, 20, None, "air", "G1"),
    ("before_close", 5, 0, 5, None, "water", "G2"),     # reported while still open
    ("old2", 500, 0, 0, 30, "noise", "G2"),
    ("newer_close", 520, 0, 0, 35, "noise", "G2"),      # 20 m from old2, closed later
    ("back", 510, 0, 50, None, "noise", "G2"),          # both within: links to newer_close
])


def test_rules_within_and_outside_radius_days_and_category() -> None:
    out = find_rebounds(CASES, ReboundSettings(radius_m=100, days=30))
    got = dict(zip(CASES["issue_id"], plain(out["rebound_of"]), strict=True))
    assert got == {"old": None, "within": "old", "too_far": None, "too_late": None,
                   "other_cat": None, "before_close": None, "old2": None,
                   "newer_close": None, "back": "newer_close"}
    row = out.iloc[1]
    assert bool(row["rebound"])
    assert row["rebound_distance_m"] == pytest.approx(np.hypot(60, 79.9), abs=1e-3)
    assert row["rebound_days"] == pytest.approx(30)
    assert out["rebound"].sum() == 2


def test_counts_per_area() -> None:
    out = find_rebounds(CASES, ReboundSettings(radius_m=100, days=30))
    counts = rebound_counts(CASES, out, layer="grid")
    assert counts.to_dict("list") == {"area_id": ["G1", "G2"], "rebounds": [1, 1]}
    counts = rebound_counts(CASES, out, layer="grid", start="2024-04-15", end="2024-04-30")
    assert counts.to_dict("list") == {"area_id": ["G2"], "rebounds": [1]}
    with pytest.raises(ConfigError, match="'town'"):
        rebound_counts(CASES, out, layer="town")


def brute_force(frame: pd.DataFrame, radius: float, days: float) -> list:
    x, y = metric_xy(frame["lon"], frame["lat"])
    rep, clo = frame["reported_at"].tolist(), frame["closed_at"].tolist()
    cat, ids = frame["category"].tolist(), frame["issue_id"].tolist()
    out = []
    for b in range(len(frame)):
        best = None
        for a in range(len(frame)):
            if a == b or pd.isna(clo[a]) or cat[a] != cat[b]:
                continue
            gap = (rep[b] - clo[a]).total_seconds() / 86400
            dist = float(np.hypot(x[a] - x[b], y[a] - y[b]))
            if 0 < gap <= days and dist <= radius:
                key = (gap, dist, ids[a])
                best = key if best is None or key < best else best
        out.append(None if best is None else best[2])
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400), st.integers(0, 60),
                          st.one_of(st.none(), st.integers(0, 20)),
                          st.sampled_from(["air", "water"])), min_size=1, max_size=25))
def test_matches_an_all_pairs_search(rows) -> None:
    frame = problems([(f"r{i:02d}", x, y, d, None if c is None else d + c, cat, "G")
                      for i, (x, y, d, c, cat) in enumerate(rows)])
    got = find_rebounds(frame, ReboundSettings(radius_m=120.5, days=15))
    assert plain(got["rebound_of"]) == brute_force(frame, 120.5, 15)


def test_settings_validation() -> None:
    assert parse_rebound_settings({"radius_m": 50, "days": 60}) == ReboundSettings(50.0, 60.0)
    with pytest.raises(ConfigError) as info:
        parse_rebound_settings({"radius_m": -1, "days": True, "metres": 5})
    assert len(info.value.problems) == 3

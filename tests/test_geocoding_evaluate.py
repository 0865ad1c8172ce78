"""Held-out evaluation (gridwatch.geocoding.evaluate) on Boston's real 311 records, and the
``gridwatch gazetteer`` / ``gridwatch geocode`` commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridwatch.cli import main
from gridwatch.config import load_config
from gridwatch.geocoding.evaluate import PERCENTILES, baseline_places, evaluate_holdout
from gridwatch.ingest.records import read_issues
from gridwatch.placing.layers import load_layers
from tests._geocoding_project import write_project
from tests.helpers import invoke, lonlat_from_metres

BOSTON = Path(__file__).resolve().parents[1] / "examples" / "boston311"
REQUESTS = BOSTON / "data" / "requests_animal_pest_2013_2019.csv.gz"


@pytest.fixture(scope="module")
def boston_evaluation():
    config = load_config(BOSTON / "gridwatch.toml")
    records = read_issues([REQUESTS], settings=config.input,
                          timezone=config.territory.timezone).records
    return evaluate_holdout(records, load_layers(config), config, holdout=0.05, seed=1)


def test_boston_matcher_beats_the_baseline_on_every_figure(boston_evaluation) -> None:
    report = boston_evaluation
    assert report.rows_with_both == 46_514
    assert report.matcher.held_out == report.baseline.held_out == round(46_514 * 0.05)
    assert all(report.not_worse().values()), report.not_worse()
    m = report.matcher
    # thresholds the example's README states
    assert m.match_rate >= 0.97
    assert m.error_m[50] is not None and m.error_m[50] <= 10
    assert m.error_m[90] is not None and m.error_m[90] <= 150
    assert m.area_agreement["ward"] >= 0.95 and m.area_agreement["police"] >= 0.95
    assert set(m.by_source) <= {"history", "road"}
    assert sum(m.by_source.values()) == m.placed


def test_baseline_by_hand() -> None:
    history = pd.DataFrame({"address": ["5 Main St", "5 Main St", "9 Main St", "1 Elm St"],
                            "lon": [0.0, 2.0, 10.0, 50.0], "lat": [0.0, 0.0, 0.0, 50.0]})
    codes = pd.Series(["02119", "02119", "02119", "02120"])
    rows = pd.Series(["5 MAIN STREET", "7 Main St", "3 Elm St", "3 Elm St"])
    row_codes = pd.Series(["02119", "02119", "02120", "02119"])
    base = baseline_places(rows, history, postcodes=row_codes, history_postcodes=codes)
    # exact address: median of its two sightings; else the street's median in the postcode
    assert base["lon"].tolist()[:3] == [1.0, 2.0, 50.0]
    assert base["source"].tolist() == ["exact", "street", "street", ""]
    assert np.isnan(base["lon"].iloc[3])  # Elm St is not known in 02119


def test_evaluate_cli(tmp_path: Path) -> None:
    sample = tmp_path / "sample.csv"
    pd.read_csv(REQUESTS, dtype=str, nrows=3000).to_csv(sample, index=False)
    result = invoke(["geocode", "evaluate", str(sample), "--config",
                     str(BOSTON / "gridwatch.toml"), "--holdout", "0.1", "--seed", "3",
                     "--json"], main)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["matcher"]["held_out"] == payload["baseline"]["held_out"] > 250
    assert set(payload["matcher"]["error_m"]) == {str(p) for p in PERCENTILES}
    text = invoke(["geocode", "evaluate", str(sample), "--config",
                   str(BOSTON / "gridwatch.toml"), "--holdout", "0.1", "--seed", "3"], main)
    assert "matcher" in text.output and "baseline" in text.output
    bad = invoke(["geocode", "evaluate", str(sample), "--config",
                  str(BOSTON / "gridwatch.toml"), "--holdout", "1.5"], main)
    assert bad.exit_code != 0 and "--holdout" in bad.output


def test_gazetteer_build_is_kept_until_a_source_changes(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    lon, lat = lonlat_from_metres([4500.0, 4600.0], [500.0, 600.0])
    history = tmp_path / "old.csv"
    pd.DataFrame({"问题编号": ["H1", "H2"], "上报时间": ["2026-01-05 10:00"] * 2,
                  "问题地址": ["嘉善县魏塘街道体育南路88号", "嘉善县魏塘街道体育南路90号"],
                  "经度": lon, "纬度": lat}).to_csv(history, index=False)
    db = f"sqlite:///{(tmp_path / 'empty.sqlite').as_posix()}"
    args = ["gazetteer", "build", str(history), "--config", str(config), "--db", db, "--json"]
    first = json.loads(invoke(args, main).stdout)
    assert first["rebuilt"] is True
    assert first["sizes"] == {"area:county": 2, "area:town": 4, "area:village": 8,
                              "history": 2}
    again = json.loads(invoke(args, main).stdout)
    assert again["rebuilt"] is False and again["folder"] == first["folder"]
    # a layer file changes: built again, and the old build is gone
    village = tmp_path / "village.geojson"
    os.utime(village, ns=(village.stat().st_atime_ns, village.stat().st_mtime_ns + 10**9))
    third = json.loads(invoke(args, main).stdout)
    assert third["rebuilt"] is True and third["folder"] != first["folder"]
    assert not Path(first["folder"]).exists()
    text = invoke(args[:-1], main).output
    assert "up to date" in text and "history: 2" in text
    # an import matches against the saved build (its history), not only its own rows
    from gridwatch.geocoding.records import geocode_records

    project = load_config(config)
    records = pd.DataFrame({"issue_id": ["N1"], "address": ["嘉善县魏塘街道体育南路88号"],
                            "lon": [np.nan], "lat": [np.nan]})
    out, _ = geocode_records(records, load_layers(project), project)
    assert out["geocode_source"].tolist() == ["history"]
    assert out["lon"].iloc[0] == pytest.approx(lon[0], abs=1e-7)

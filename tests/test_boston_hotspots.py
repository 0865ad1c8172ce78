"""Hotspots on real data: Boston's overdue 311 requests per precinct, and their trend by month."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner
from helpers import sqlite_url

from gridwatch.cli import main

BOSTON = Path(__file__).resolve().parents[1] / "examples" / "boston311"
REQUESTS = BOSTON / "data" / "requests_animal_pest_2013_2019.csv.gz"
CONFIG = BOSTON / "gridwatch.toml"


@pytest.fixture(scope="module")
def boston_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = sqlite_url(tmp_path_factory.mktemp("boston") / "boston.sqlite")
    result = CliRunner().invoke(main, ["ingest", str(REQUESTS), "--config", str(CONFIG),
                                       "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows_in"] == 46_638 == summary["accepted"] + summary["rejected"]
    return url


def _hotspots(db: str, out: Path, *extra: str) -> dict:
    result = CliRunner().invoke(main, ["hotspots", "--layer", "precinct", "--as-of",
                                       "2019-12-31", "--config", str(CONFIG), "--db", db,
                                       "--out", str(out), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_overdue_hotspot_in_downtown_precincts(boston_db: str, tmp_path: Path) -> None:
    summary = _hotspots(boston_db, tmp_path / "gistar.gpkg", "--method", "gistar")
    assert summary["areas"] == 255 and summary["permutations"] == 999
    result = gpd.read_file(tmp_path / "gistar.gpkg").set_index("area_id")
    hot = set(result.index[result["bin"] >= 2])
    # ward 3 (North End, West End, Downtown) carries the city's overdue requests
    assert {"0306", "0308"} <= hot
    assert all(area.startswith(("03", "05", "08")) for area in result.index[result["bin"] == 3])
    assert (result["bin"] <= -2).sum() >= 5
    _hotspots(boston_db, tmp_path / "gistar.kml", "--method", "gistar")
    kml = gpd.read_file(tmp_path / "gistar.kml")
    assert len(kml) == 255


def test_emerging_by_month_over_seven_years(boston_db: str, tmp_path: Path) -> None:
    summary = _hotspots(boston_db, tmp_path / "emerging.gpkg", "--method", "emerging")
    assert len(summary["periods"]) == 84
    assert summary["periods"][0] == "2013-01" and summary["periods"][-1] == "2019-12"
    result = gpd.read_file(tmp_path / "emerging.gpkg").set_index("area_id")
    hot = result[result["category"].str.endswith("hot_spot")]
    assert len(hot) >= 20
    # the downtown precincts were hot in most months and rising
    assert (result.loc[["0306", "0308", "0801"], "trend_z"] > 2).all()


def test_layers_check_reports_the_invalid_polygons_the_source_lists() -> None:
    # SOURCE.txt: "Some polygons are not valid per GEOS (wards 3, precincts 2, neighborhoods 1)"
    result = CliRunner().invoke(main, ["layers", "check", "--config", str(CONFIG), "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)["counts"]
    assert counts["ward:invalid_repaired"] == 3
    assert counts["precinct:invalid_repaired"] == 2
    assert counts["neighborhood:invalid_repaired"] == 1

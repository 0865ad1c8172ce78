"""Tests of ``gridwatch export issues`` against a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import invoke, sqlite_url

from gridwatch.cli import main
from gridwatch.cli.export import export
from gridwatch.store.transactional import Store

LAYERS = [("county", "admin"), ("redline", "redline")]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A store holding three placed problems (one without coordinates)."""
    utc = pd.to_datetime(["2024-03-15 01:00:00Z", "2024-03-16 15:30:00Z",
                          "2024-03-17 02:00:00Z"], utc=True)
    placed = pd.DataFrame({
        "issue_id": ["JX-001", "JX-002", "JX-003"],
        "reported_at": utc,
        "category": ["water", "air", "noise"],
        "source": ["grid_patrol", "hotline", "public_report"],
        "description": ["河道黑臭", '=HYPERLINK("http://x","y")', "<img src=x onerror=alert(1)>"],
        "lon": [120.755, 120.70, np.nan],
        "lat": [30.746, 30.80, np.nan],
        "coord_system": ["gcj02", "wgs84", "wgs84"],
        "status": ["rectifying", "closed", "reported"],
        "deadline": utc + pd.Timedelta(days=5),
        "closed_at": pd.to_datetime([None, "2024-03-18 09:00:00Z", None], utc=True),
        "responsible_unit": ["南湖区生态环境分局", "-1", None],
        "location_flag": ["", "swapped", "grid_point"],
        "grid_mismatch": [False, True, False],
        "county_id": ["330402", "330411", None],
        "redline_id": ["RL-1", None, None],
        "in_redline": [True, False, False],
        "near_redline": [True, True, False],
        "redline_dist_m": [0.0, 312.5, np.nan],
    })
    url = sqlite_url(tmp_path / "store.sqlite")
    with Store(url) as store:
        store.import_records(placed, layers=LAYERS, files=["day.csv"], rows_in=3, rejected=0)
    return url


def test_export_issues_csv(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "issues.csv"
    result = invoke(["issues", "--db", store_url, "--out", str(out)], export)
    assert result.exit_code == 0, result.output
    assert "wrote 3 problems to" in result.output and str(out) in result.output
    back = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["issue_id"].tolist() == ["JX-001", "JX-002", "JX-003"]
    assert back.columns[:2].tolist() == ["issue_id", "reported_at"]
    assert {"county_id", "redline_id", "in_redline", "near_redline",
            "redline_dist_m"} <= set(back.columns)
    assert back["reported_at"].iloc[1] == "2024-03-16 23:30:00"  # Asia/Shanghai by default
    assert back["description"].iloc[1].startswith("'=")
    assert back["responsible_unit"].iloc[1] == "'-1"  # text, even when it looks like a number
    assert "content_hash" not in back.columns


def test_export_issues_xlsx_with_config_timezone(store_url: str, tmp_path: Path) -> None:
    config = tmp_path / "gridwatch.toml"
    config.write_text('[territory]\nname = "测试"\ntimezone = "Asia/Tokyo"\n\n'
                      f'[store]\nurl = "{store_url}"\n', encoding="utf-8")
    out = tmp_path / "issues.xlsx"
    result = invoke(["issues", "--config", str(config), "--out", str(out)], export)
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(out)["issues"]
    header = [c.value for c in sheet[1]]
    reported = sheet.cell(row=2, column=header.index("reported_at") + 1).value
    assert reported == pd.Timestamp("2024-03-15 10:00")  # UTC 01:00 in Tokyo
    description = sheet.cell(row=3, column=header.index("description") + 1)
    assert description.data_type == "s" and description.value.startswith("'=")


@pytest.mark.parametrize("fmt", ["geojson", "gpkg"])
def test_export_issues_layers(fmt: str, store_url: str, tmp_path: Path) -> None:
    out = tmp_path / f"issues.{fmt}"
    result = invoke(["issues", "--db", store_url, "--out", str(out), "--format", fmt], export)
    assert result.exit_code == 0, result.output
    if fmt == "geojson":
        doc = json.loads(out.read_text(encoding="utf-8"))
        assert doc["features"][0]["geometry"]["coordinates"] == [120.755, 30.746]
        assert doc["features"][2]["geometry"] is None
    back = gpd.read_file(out)
    assert len(back) == 3
    assert back["responsible_unit"].iloc[0] == "南湖区生态环境分局"
    assert back["near_redline"].tolist() == [True, True, False]


def test_export_issues_format_option_wins(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "issues.txt"
    result = invoke(["issues", "--db", store_url, "--out", str(out), "--format", "csv"], export)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbfissue_id,")


def test_export_issues_needs_out(store_url: str) -> None:
    result = CliRunner().invoke(export, ["issues", "--db", store_url])
    assert result.exit_code == 1
    assert "--out PATH is required" in result.output


def test_export_issues_bad_format(store_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(export, ["issues", "--db", store_url, "--out",
                                         str(tmp_path / "x.pdf")])
    assert result.exit_code == 1
    assert "export_issues writes" in result.output and ".xlsx" in result.output
    result = CliRunner().invoke(export, ["issues", "--db", store_url, "--out",
                                         str(tmp_path / "x.csv"), "--format", "pdf"])
    assert result.exit_code == 1 and "format='pdf'" in result.output


def test_export_issues_missing_store_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.sqlite"
    result = CliRunner().invoke(export, ["issues", "--db", sqlite_url(missing),
                                         "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 1
    assert "no store at" in result.output and "gridwatch ingest" in result.output
    assert "Traceback" not in result.output
    assert not missing.exists() and not (tmp_path / "x.csv").exists()


def test_export_issues_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "gridwatch.toml"
    config.write_text('[territory]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    result = CliRunner().invoke(export, ["issues", "--config", str(config), "--out",
                                         str(tmp_path / "x.csv")])
    assert result.exit_code == 1 and "Mars/Olympus" in result.output


def test_export_is_registered_with_help() -> None:
    result = CliRunner().invoke(main, ["export", "--help"])
    assert result.exit_code == 0 and "issues" in result.output
    result = CliRunner().invoke(main, ["export", "issues", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--db", "--config", "--format"):
        assert option in result.output


@pytest.mark.parametrize("command", ["issues", "open311"])
def test_out_path_that_cannot_be_written_is_a_usage_error(store_url: str, command: str) -> None:
    # Before: "unexpected FileNotFoundError" after the store had been read.
    result = CliRunner().invoke(main, ["export", command, "--db", store_url, "--out",
                                       "/proc/x.csv"])
    assert result.exit_code == 1
    assert "--out '/proc/x.csv': cannot create a file in /proc" in result.output
    assert "unexpected" not in result.output

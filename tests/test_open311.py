"""Open311 GeoReport v2 both ways: requests in, stored problems out, and back in again."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import grid_cell_centre, sqlite_url

from gridwatch.cli import main
from gridwatch.config import load_config
from gridwatch.output.open311 import to_open311
from gridwatch.pipeline import run_ingest
from gridwatch.store.transactional import Store


def _requests() -> list[dict]:
    lon, lat = grid_cell_centre(0, 0)
    lon2, lat2 = grid_cell_centre(2, 1)
    return [
        {"service_request_id": "311-1", "status": "open", "service_name": "noise",
         "description": "夜间施工 <b>", "agency_responsible": "秀洲区执法局",
         "requested_datetime": "2024-03-15T08:00:00+08:00",
         "expected_datetime": "2024-03-20T18:00:00+08:00",
         "updated_datetime": "2024-03-16T09:00:00+08:00", "address": "某路 1 号",
         "lat": lat, "long": lon},
        {"service_request_id": "311-2", "status": "closed", "service_name": "water",
         "description": "=1+1", "agency_responsible": None,
         "requested_datetime": "2024-03-14T23:30:00Z",
         "expected_datetime": None, "updated_datetime": "2024-03-18T10:15:00+08:00",
         "address": None, "lat": lat2, "long": lon2},
    ]


def test_open311_round_trip(small_project: Path, tmp_path: Path) -> None:
    source = tmp_path / "requests.json"
    source.write_text(json.dumps(_requests(), ensure_ascii=False), encoding="utf-8")
    config = load_config(small_project)
    first_db = sqlite_url(tmp_path / "a.sqlite")
    with Store(first_db) as store:
        summary, _ = run_ingest([source], config=config, store=store, crs="wgs84")
    assert (summary.accepted, summary.rejected) == (2, 0)

    out = tmp_path / "out.json"
    result = CliRunner().invoke(main, ["export", "open311", "--out", str(out), "--db", first_db,
                                       "--config", str(small_project)])
    assert result.exit_code == 0, result.output
    exported = {r["service_request_id"]: r for r in json.loads(out.read_text("utf-8"))}
    assert exported["311-1"]["status"] == "open"
    assert exported["311-1"]["requested_datetime"] == "2024-03-15T08:00:00+08:00"
    assert exported["311-1"]["updated_datetime"] == "2024-03-15T08:00:00+08:00"
    assert exported["311-2"]["status"] == "closed"
    assert exported["311-2"]["requested_datetime"] == "2024-03-15T07:30:00+08:00"
    assert exported["311-2"]["updated_datetime"] == "2024-03-18T10:15:00+08:00"
    assert exported["311-2"]["expected_datetime"] is None
    assert exported["311-1"]["description"] == "夜间施工 <b>"

    second_db = sqlite_url(tmp_path / "b.sqlite")
    with Store(second_db) as store:
        again, _ = run_ingest([out], config=config, store=store, crs="wgs84")
        back = store.issues().set_index("issue_id").sort_index()
    with Store(first_db) as store:
        before = store.issues().set_index("issue_id").sort_index()
    assert again.accepted == 2
    columns = ["reported_at", "deadline", "closed_at", "category", "description",
               "responsible_unit", "address", "grid_id"]
    pd.testing.assert_frame_equal(back[columns], before[columns])
    assert (back["lon"] - before["lon"]).abs().max() < 1e-9
    assert (back["status"] == before["status"]).all()


def test_to_open311_of_nothing() -> None:
    assert to_open311(pd.DataFrame(columns=["issue_id", "status"])) == []


def test_failed_write_leaves_the_previous_file(tmp_path: Path, monkeypatch) -> None:
    # Before: the JSON was written in place, so a full disk left half an array.
    import gridwatch.output.open311 as open311

    issues = pd.DataFrame({"issue_id": ["A1"], "status": ["closed"],
                           "reported_at": [pd.Timestamp("2024-03-15", tz="UTC")]})
    target = open311.write_open311(issues, tmp_path / "requests.json")
    before = target.read_bytes()

    def broken(obj, stream, **kwargs):
        stream.write("[{")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(open311.json, "dump", broken)
    with pytest.raises(OSError, match="No space left"):
        open311.write_open311(issues, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["requests.json"]

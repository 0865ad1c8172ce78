"""Placement checked against the city's own labels on Boston's real 311 records."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from gridwatch.cli import main
from gridwatch.config import load_config
from gridwatch.errors import ConfigError
from gridwatch.pipeline import run_validate
from gridwatch.placing.agreement import label_rules, normalise_labels

BOSTON = Path(__file__).resolve().parents[1] / "examples" / "boston311"
REQUESTS = BOSTON / "data" / "requests_animal_pest_2013_2019.csv.gz"


@pytest.mark.parametrize(
    ("values", "steps", "expected"),
    [
        (["Ward 8", "08", "8", "", None], ["digits", "strip_zeros"], ["8", "8", "8", None, None]),
        (["B-3", "b3", "E-18"], ["remove:-", "upper"], ["B3", "B3", "E18"]),
        (["807", "0807", "1406"], ["digits", "zfill:4"], ["0807", "0807", "1406"]),
        (["0", "00"], ["strip_zeros"], ["0", "0"]),
    ],
)
def test_normalise_labels(values, steps, expected) -> None:
    out = normalise_labels(pd.Series(values, dtype=object), steps)
    assert [None if pd.isna(v) else v for v in out] == expected


def test_unknown_steps_are_all_reported() -> None:
    with pytest.raises(ConfigError) as info:
        label_rules({"normalise": {"ward": ["digits", "shout"], "x": "zfill:abc"}})
    assert len(info.value.problems) == 2


@pytest.fixture(scope="module")
def boston_checks():
    config = load_config(BOSTON / "gridwatch.toml")
    return run_validate([REQUESTS], config=config,
                        against=[("ward", "ward"), ("police_district", "police")])


def test_boston_ward_and_police_agree_with_the_city(boston_checks) -> None:
    checks, disagreements, rejects, geocoding = boston_checks
    ward, police = checks
    # the source measured 99.13 % (ward) and 99.32 % (police district) by point in polygon
    assert ward.agreement >= 0.99, ward
    assert police.agreement >= 0.99, police
    assert ward.compared > 46_000 and police.compared > 46_000
    # most disagreements are points just across a border the two maps draw differently
    assert police.share_within_50m > 0.8
    assert (disagreements["distance_m"].dropna() >= 0).all()
    assert set(disagreements["column"]) == {"ward", "police_district"}
    # the 70 rows without coordinates are placed from their address or say why not
    no_coords = rejects["reason"].str.contains("coordinates", case=False)
    assert geocoding is not None and geocoding.placed_rows > 0
    assert no_coords.sum() + geocoding.placed_rows >= 70
    by_address = rejects["column"] == "address"
    assert by_address.sum() == geocoding.rejected
    assert rejects.loc[by_address, "reason"].str.contains("best candidates").all()
    # every row with an address and coordinates was checked against its address
    assert geocoding.checked > 46_000


def test_validate_cli_json(tmp_path: Path) -> None:
    small = tmp_path / "sample.csv"
    frame = pd.read_csv(REQUESTS, dtype=str, nrows=400)
    frame.to_csv(small, index=False)
    out = tmp_path / "disagree.csv"
    result = CliRunner().invoke(main, ["validate", str(small), "--config",
                                       str(BOSTON / "gridwatch.toml"), "--against", "ward=ward",
                                       "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["checks"][0]["column"] == "ward"
    assert payload["checks"][0]["agreement"] >= 0.97
    assert out.is_file()
    bad = CliRunner().invoke(main, ["validate", str(small), "--config",
                                    str(BOSTON / "gridwatch.toml"), "--against", "ward"])
    assert bad.exit_code != 0 and "COLUMN=LAYER" in bad.output


def test_boston_on_time_verdict_equals_the_citys() -> None:
    """Closed requests with a due date: gridwatch's on time / late equals the city's on_time."""
    from gridwatch.ingest.records import read_issues
    from gridwatch.supervision.codes import evaluate_as_of

    config = load_config(BOSTON / "gridwatch.toml")
    result = read_issues([REQUESTS], settings=config.input, timezone=config.territory.timezone)
    records = result.records
    last_close = records["closed_at"].max().tz_convert(config.territory.timezone).date()
    evaluated = evaluate_as_of(records, as_of=last_close, timezone=config.territory.timezone)
    judged = records["status"].isin(["closed", "verified"]) & records["deadline"].notna()
    ours = evaluated.loc[judged, "code"]
    assert set(ours) <= {"closed_on_time", "closed_late"}
    city_on_time = records.loc[judged, "on_time"].eq("ONTIME")
    assert judged.sum() > 24_000
    assert (ours.eq("closed_on_time") == city_on_time).all()
    # the ten requests the city closed before it opened them are rejected, not judged
    backwards = result.rejects["reason"].str.startswith("closed_at before reported_at")
    assert backwards.sum() == 10


def test_validate_says_what_geocoding_would_do(tmp_path: Path) -> None:
    """Without --against: rows placed from their address per source and precision, the
    rejected one with its candidates, the row whose address disagrees with its coordinates
    in --out; nothing is stored."""
    from tests._geocoding_project import write_project
    from tests.helpers import lonlat_from_metres

    project = write_project(tmp_path)

    def at(x: float, y: float) -> str:
        lon, lat = lonlat_from_metres(x, y)
        return f"{float(lon):.7f},{float(lat):.7f}"

    rows = tmp_path / "p.csv"
    rows.write_text("问题编号,上报时间,问题来源,问题地址,经度,纬度\n" + "\n".join([
        f"A1,2026-03-02 09:00,网格巡查,嘉善县魏塘街道体育南路100号,{at(4600, 500)}",
        "A2,2026-03-02 09:10,12345热线,嘉善县魏塘街道体育南路98号,,",
        "A3,2026-03-02 09:20,12369热线,南湖区长虹镇新丰村三组东侧河道,,",
        "A4,2026-03-02 09:30,12345热线,嘉兴市新丰村,,",
        f"A5,2026-03-02 09:40,网格巡查,南湖区长虹镇永红村,{at(7000, 3500)}"]) + "\n",
        encoding="utf-8")
    out, rejected = tmp_path / "disagree.csv", tmp_path / "rejects.csv"
    args = ["validate", str(rows), "--config", str(project), "--out", str(out),
            "--rejects", str(rejected)]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["geocoding"]
    assert [(p["source"], p["rows"]) for p in report["placed"]] == [("road", 1), ("village", 1)]
    assert report["placed"][0]["max_precision_m"] == 300.0
    assert (report["addresses"], report["rejected"]) == (3, 1)
    # A1 and A5 have coordinates; A5 lies in 西塘镇, 5 km east of the 永红村 its address names
    assert (report["checked"], report["disagree"]) == (2, 1)
    table = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    assert table["issue_id"].tolist() == ["A5"] and table["column"].tolist() == ["address"]
    assert float(table["distance_m"].iloc[0]) == pytest.approx(5000, abs=2)
    written = pd.read_csv(rejected, dtype=str, encoding="utf-8-sig")
    assert "village 新丰村 in 长虹镇 (100)" in written["reason"].iloc[0]
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0, text.output
    assert "placed at road: 1 (precision median 300 m, at most 300 m)" in text.output
    assert "p.csv row 5: address not placed" in text.output
    assert not (tmp_path / "gridwatch.sqlite").exists()  # nothing stored
    # without geocoding there is nothing to validate unless --against is given
    project.write_text(project.read_text(encoding="utf-8").replace("enabled = true", ""),
                       encoding="utf-8")
    bare = CliRunner().invoke(main, ["validate", str(rows), "--config", str(project)])
    assert bare.exit_code != 0 and "nothing to validate" in bare.output

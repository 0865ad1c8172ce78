"""``gridwatch hotspots``: every method from the command line on a small stored project."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from helpers import SH, demo_city, grid_cells, invoke, sqlite_url, write_grid_project

from gridwatch.cli import main
from gridwatch.store.transactional import Store

AS_OF = "2024-06-30"
CELLS = grid_cells(120.70, 30.70, 0.01, rows=8, cols=8)


def problems() -> pd.DataFrame:
    """Background problems everywhere, an overdue cluster in G11–G33 and a new burst at G66."""
    rng = np.random.default_rng(5)
    rows = []
    end = pd.Timestamp(f"{AS_OF} 12:00", tz=SH)
    for cell in CELLS:
        r, c = int(cell["code"][1]), int(cell["code"][2])
        in_cluster = 1 <= r <= 3 and 1 <= c <= 3
        burst = 5 <= r <= 7 and 5 <= c <= 7
        n = 12 if in_cluster else int(rng.integers(1, 4))
        for k in range(n):
            age = int(rng.integers(40, 80)) if in_cluster else int(rng.integers(1, 120))
            reported = end - pd.Timedelta(days=age)
            overdue = in_cluster or rng.random() < 0.1
            deadline = reported + pd.Timedelta(days=5 if overdue else 400)
            rows.append((f"{cell['code']}-{k}", reported, deadline, cell["code"], r, c))
        for k in range(15 if burst else 0):
            reported = end - pd.Timedelta(days=int(rng.integers(0, 6)))
            rows.append((f"{cell['code']}-b{k}", reported, reported + pd.Timedelta(days=30),
                         cell["code"], r, c))
    frame = pd.DataFrame(rows, columns=["issue_id", "reported_at", "deadline", "grid_id", "r",
                                        "c"])
    frame["lon"] = 120.705 + 0.01 * frame["c"] + rng.uniform(-0.004, 0.004, len(frame))
    frame["lat"] = 30.705 + 0.01 * frame["r"] + rng.uniform(-0.004, 0.004, len(frame))
    frame = frame.drop(columns=["r", "c"])
    for col in ("reported_at", "deadline"):
        frame[col] = frame[col].dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    frame["closed_at"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    frame["status"] = "assigned"
    frame["category"] = "water"
    frame["source"] = "grid_patrol"
    frame["coord_system"] = "wgs84"
    frame["location_flag"] = ""
    frame["grid_mismatch"] = False
    return frame


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("hotspots")
    config = write_grid_project(root, CELLS, """
[hotspots]
permutations = 499
rule_min_overdue = 10
periods = 10
hex_resolution = 8
""")
    url = sqlite_url(root / "store.sqlite")
    placed = problems()
    with Store(url) as store:
        store.import_records(placed, layers=[("grid", "grid")], files=["day.csv"],
                             rows_in=len(placed), rejected=0)
    return config, url


def run(project, *args: str) -> dict:
    config, url = project
    result = invoke(["hotspots", "--config", str(config), "--db", url, "--as-of", AS_OF,
                     "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_gistar_finds_the_overdue_cluster_and_writes_gpkg(project, tmp_path):
    out = tmp_path / "gi.gpkg"
    summary = run(project, "--layer", "grid", "--method", "gistar", "--out", str(out))
    assert summary["counts_by"] == "bin" and summary["areas"] == 64
    assert summary["variable"] == "overdue" and summary["permutations"] == 499
    layer = gpd.read_file(out)
    bins = layer.set_index("area_id")["bin"]
    assert bins["G22"] >= 2
    assert bins[["G11", "G12", "G21", "G22", "G23", "G32"]].min() >= 1
    assert layer.loc[layer["area_id"] == "G22", "area_name"].item() == "网格22"
    assert sum(summary["counts"].values()) == 64


def test_rule_writes_a_zipped_shapefile(project, tmp_path):
    out = tmp_path / "rule.shp.zip"
    summary = run(project, "--layer", "grid", "--method", "rule", "--out", str(out))
    hot = summary["counts"]["rule_hot_spot"]
    assert hot == 9  # the 12-problem cluster cells, every problem overdue
    with zipfile.ZipFile(out) as zf:
        assert any(n.endswith(".cpg") for n in zf.namelist())


def test_emerging_finds_the_new_burst_and_writes_kml(project, tmp_path):
    out = tmp_path / "emerging.kml"
    summary = run(project, "--layer", "grid", "--method", "emerging", "--period", "week",
                  "--out", str(out))
    assert summary["counts_by"] == "category" and summary["variable"] == "new"
    assert len(summary["periods"]) == 10
    text = out.read_text(encoding="utf-8")
    assert "网格66" in text
    layer = pyogrio.read_dataframe(out)
    assert len(layer) == 64
    assert summary["counts"].get("new_hot_spot", 0) >= 1


def test_hex_writes_csv(project, tmp_path):
    out = tmp_path / "hex.csv"
    summary = run(project, "--method", "hex", "--out", str(out))
    assert summary["method"] == "hex" and summary["resolution"] == 8
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert table["overdue"].sum() > 0
    assert summary["counts"].get("3", 0) + summary["counts"].get("2", 0) >= 1


def test_text_output_and_errors(project):
    config, url = project
    runner = CliRunner()
    ok = runner.invoke(main, ["hotspots", "--config", str(config), "--db", url, "--layer",
                              "grid", "--method", "gistar", "--variable", "overdue_rate"])
    assert ok.exit_code == 0, ok.output
    assert "gistar on grid as of" in ok.output
    bad = runner.invoke(main, ["hotspots", "--config", str(config), "--db", url,
                               "--method", "gistar"])
    assert bad.exit_code == 1 and "--layer is required" in bad.output
    bad = runner.invoke(main, ["hotspots", "--config", str(config), "--db", url, "--layer",
                               "town"])
    assert bad.exit_code == 1 and "no layer named 'town'" in bad.output
    bad = runner.invoke(main, ["hotspots", "--config", str(config), "--db", url, "--layer",
                               "grid", "--method", "rule", "--variable", "new"])
    assert bad.exit_code == 1 and "rule method counts overdue" in bad.output


# --- the demo city (gridwatch.demo): the planted patterns are found ----------------------------
# A small city (5 % of the grids, 8,000 problems over 180 days) generated and ingested once for
# these tests; ingesting its 180 daily files takes most of the ~1.5 minutes.


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    city = demo_city(tmp_path_factory.mktemp("demo"), problems=8_000, scale=0.05, days=180)
    planted = city["planted"]
    clusters = {name: c["grids"] for name, c in planted["clusters"].items()}
    return {"config": city["config"], "url": city["url"], "areas": city["layers"]["grid"],
            "issues": city["issues"], "history": city["history"], "clusters": clusters,
            "end": planted["end_date"]}


def demo_run(demo, method: str, **kwargs) -> pd.DataFrame:
    from gridwatch.hotspots import run_hotspots
    from gridwatch.supervision.context import SupervisionContext

    context = SupervisionContext.from_frames(demo["issues"], demo["history"],
                                             config=demo["config"],
                                             layers={"grid": demo["areas"]})
    result = run_hotspots(context, layer="grid", method=method, as_of=demo["end"], **kwargs)
    return result.set_index("area_id")


@pytest.mark.slow
def test_demo_overdue_hotspot_found_from_the_cli(demo, tmp_path):
    out = tmp_path / "demo.kml"
    result = CliRunner().invoke(main, ["hotspots", "--config", str(demo["config"].path),
                                       "--db", demo["url"], "--layer", "grid", "--method",
                                       "gistar", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["as_of"] == demo["end"]  # default: last reported day
    layer = pyogrio.read_dataframe(out)
    assert len(layer) == len(demo["areas"])
    gi = demo_run(demo, "gistar")
    planted = demo["clusters"]["overdue_hotspot"]
    assert (gi.loc[planted, "bin"] >= 2).all()
    assert (gi["bin"] >= 2).sum() <= 3 * len(planted)  # and not much else


@pytest.mark.slow
def test_demo_cold_spot_found(demo):
    gi = demo_run(demo, "gistar", variable="new", period="month")
    planted = demo["clusters"]["cold_spot"]
    assert (gi.loc[planted, "bin"] <= -2).sum() >= 4
    assert (gi.loc[planted, "bin"] > 0).sum() == 0


@pytest.mark.slow
def test_demo_new_hotspot_found(demo):
    em = demo_run(demo, "emerging", period="month")
    planted = demo["clusters"]["new_hotspot"]
    assert (em.loc[planted, "category"] == "new_hot_spot").sum() >= 3
    assert not em.loc[planted, "category"].str.endswith("cold_spot").any()
    others = em.drop(index=[g for grids in demo["clusters"].values() for g in grids])
    assert (others["category"] == "new_hot_spot").mean() < 0.05


@pytest.mark.slow
def test_demo_intensifying_and_diminishing_trends_found(demo):
    em = demo_run(demo, "emerging", period="week")
    rising = em.loc[demo["clusters"]["emerging_intensifying"]]
    falling = em.loc[demo["clusters"]["diminishing"]]
    assert ((rising["trend_z"] > 1.96) & (rising["trend_p"] < 0.05)).sum() >= 5
    assert ((falling["trend_z"] < -1.96) & (falling["trend_p"] < 0.05)).all()
    # hot in the recent weeks, while the diminishing cluster was hot in the past
    assert rising["category"].str.endswith("hot_spot").sum() >= 3
    assert (falling["hot_periods"] >= 5).sum() >= 4
    # the planted trends stand out: few other grids trend as strongly
    planted = [g for grids in demo["clusters"].values() for g in grids]
    others = em.drop(index=planted)
    assert (others["trend_z"].abs() > rising["trend_z"].min()).mean() < 0.2


def test_emerging_on_the_overdue_state_per_period(project):
    summary = run(project, "--layer", "grid", "--method", "emerging", "--period", "month",
                  "--variable", "overdue")
    assert summary["variable"] == "overdue"
    assert summary["periods"][-1] == "2024-06"
    # the overdue cluster (reported 40-80 days before, 5-day deadlines) is hot at the end
    assert sum(v for k, v in summary["counts"].items() if k.endswith("hot_spot")) >= 1

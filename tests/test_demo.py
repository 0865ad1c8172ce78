"""The demo city generator: layers nest, codes read well, planted truths are really there,
files look like users' exports, and the same seed gives the same demo."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from helpers import sqlite_url
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.demo import FULL_COUNTS, count_plan, generate
from gridwatch.demo._city import to_metric, xy_to_metric
from gridwatch.demo._exports import EXPORT_HEADERS
from gridwatch.errors import ConfigError
from gridwatch.placing.layers import LAYER_CACHE_DIR
from gridwatch.schema import (
    CATEGORY_LABELS,
    HEADER_ALIASES,
    SOURCE_LABELS,
    STATUS_LABELS,
    header_key,
    normalise_label,
)

SMALL = {"problems": 5_000, "scale": 0.02, "seed": 7}
END = pd.Timestamp("2026-10-31 23:59:59")
OPEN = ("待交办", "已交办", "整改中")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    return generate(tmp_path_factory.mktemp("demo"), **SMALL)


@pytest.fixture(scope="module")
def planted(demo) -> dict:
    return json.loads(demo.planted.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def layers(demo) -> dict[str, gpd.GeoDataFrame]:
    return {name: gpd.read_file(path) for name, path in demo.layers.items()}


@pytest.fixture(scope="module")
def rows(demo) -> pd.DataFrame:
    """Every history row (as exported), then the final snapshot's view of each problem."""
    frames = []
    for path in demo.runs[0][0]:
        if path.suffix == ".csv":
            frame = pd.read_csv(path, encoding="gbk", dtype=str, keep_default_na=False)
        else:
            frame = pd.read_excel(path, dtype=str).fillna("")
        frame["file"] = f"daily/{path.name}"
        frame["row"] = np.arange(len(frame)) + 2
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def final(demo, rows, planted) -> pd.DataFrame:
    """The latest state of every problem: history overwritten by each snapshot in turn.

    The bad rows that are not problems (no coordinates, unknown category, bad date) are left
    out.
    """
    extra = [b["issue_id"] for b in planted["bad_rows"]
             if b["kind"] in ("missing_coords", "unknown_category", "bad_date")]
    latest = rows[~rows["问题编号"].isin(extra)].drop(columns=["file", "row"])
    latest = latest.drop_duplicates("问题编号", keep="last")
    latest = latest.set_index("问题编号")
    for files, _when in demo.runs[1:]:
        snap = pd.read_csv(files[0], encoding="gbk", dtype=str, keep_default_na=False)
        snap = snap.set_index("问题编号")
        latest = pd.concat([latest[~latest.index.isin(snap.index)], snap])
    assert len(latest) == planted["problems"]
    return latest


# --- counts and layers ------------------------------------------------------------------------

def test_full_density_counts_without_building_grids():
    plan = count_plan(scale=1.0)
    assert (int(plan.towns_per_county.sum()), int(plan.grids_per_town.sum()),
            int(plan.micro_per_grid.sum())) == FULL_COUNTS == (73, 4649, 92600)
    assert len(plan.towns_per_county) == 7 and plan.towns_per_county.min() >= 5
    assert plan.grids_per_town.max() <= 999 and plan.micro_per_grid.min() >= 3
    assert plan.micro_per_grid.max() <= 99  # two-digit micro-grid sequence


def test_layers_nest_exactly_by_code_and_geometry(layers):
    chain = (("town", "county", "county_code"), ("grid", "town", "town_code"),
             ("microgrid", "grid", "grid_code"))
    for child_name, parent_name, field in chain:
        child, parent = layers[child_name], layers[parent_name]
        assert child[field].isin(parent["code"]).all()
        assert parent["code"].isin(child[field]).all(), f"a {parent_name} has no {child_name}"
        assert (child["code"].str[: len(parent["code"].iloc[0])] == child[field]).all()
        parent_geom = to_metric(parent.set_index("code").geometry.reindex(child[field])
                                .to_numpy())
        child_geom = to_metric(child.geometry.to_numpy())
        outside = shapely.area(shapely.difference(child_geom, parent_geom))
        assert outside.max() < 1.0, f"{child_name} sticks out of its {parent_name}"
        # The children tile their parent: areas add up, and no two children overlap.
        sums = pd.Series(shapely.area(child_geom)).groupby(child[field].to_numpy()).sum()
        areas = pd.Series(shapely.area(to_metric(parent.geometry.to_numpy())),
                          index=parent["code"].to_numpy())
        np.testing.assert_allclose(sums.reindex(areas.index), areas, rtol=1e-6)
        tree = shapely.STRtree(child_geom)
        a, b = tree.query(child_geom, predicate="intersects")
        a, b = a[a < b], b[a < b]
        assert shapely.area(shapely.intersection(child_geom[a], child_geom[b])).max() < 1.0
    for geoms in layers.values():
        assert geoms.geometry.is_valid.all()


def test_basins_and_redlines_cover_the_city(layers):
    city = shapely.union_all(to_metric(layers["county"].geometry.to_numpy()))
    basins = shapely.union_all(to_metric(layers["basin"].geometry.to_numpy()))
    assert abs(basins.area - city.area) / city.area < 1e-6
    assert 3 <= len(layers["basin"]) <= 8
    redline = layers["redline"]
    assert len(redline) >= 5 and redline["name"].str.contains("南湖|湘家荡|长水塘").sum() == 3
    assert shapely.within(to_metric(redline.geometry.to_numpy()), city.buffer(1.0)).all()


def test_check_layers_finds_nothing_but_basin_repairs(demo):
    from gridwatch.config import load_config
    from gridwatch.placing.layers import check_layers

    findings = check_layers(load_config(demo.config))
    serious = [f for f in findings if not (f.layer == "basin" and f.kind == "invalid_repaired")]
    assert serious == []


def test_codes_unique_and_readable(layers):
    patterns = {"county": r"3304\d\d", "town": r"3304\d\d\d{3}", "grid": r"3304\d\d\d{6}",
                "microgrid": r"3304\d\d\d{8}"}
    for name, pattern in patterns.items():
        codes = layers[name]["code"]
        assert codes.is_unique
        assert codes.str.fullmatch(pattern).all(), name
    assert layers["town"]["name"].str.fullmatch(r"[\u4e00-\u9fff]+(镇|街道)").all()
    assert layers["town"]["name"].is_unique
    assert layers["grid"]["name"].str.endswith("网格").all()
    assert layers["microgrid"]["name"].str.endswith("微网格").all()


def test_rejects_bad_arguments_naming_them(tmp_path):
    with pytest.raises(ConfigError, match=r"problems must be .* got 10"):
        generate(tmp_path, problems=10)
    with pytest.raises(ConfigError, match=r"scale must be .* got 0"):
        generate(tmp_path, scale=0)


# --- determinism --------------------------------------------------------------------------------

def _digest(out: Path) -> str:
    """Hash of everything the demo wrote, by content (GeoPackage/XLSX carry write times); the
    layer cache that reading the layers leaves (``.gridwatch-cache``) is not the demo's."""
    h = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file()
                       and LAYER_CACHE_DIR not in p.relative_to(out).parts):
        h.update(path.relative_to(out).as_posix().encode())
        if path.suffix == ".gpkg":
            frame = gpd.read_file(path)
            h.update(pd.util.hash_pandas_object(frame.drop(columns="geometry")).values)
            h.update(b"".join(shapely.to_wkb(frame.geometry.to_numpy())))
        elif path.suffix == ".xlsx":
            h.update(pd.read_excel(path, dtype=str).to_csv().encode())
        else:
            h.update(path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_files_via_the_cli(demo, tmp_path):
    from gridwatch.cli import main

    result = CliRunner().invoke(main, [
        "demo", "generate", "--out", str(tmp_path), "--problems", str(SMALL["problems"]),
        "--seed", str(SMALL["seed"]), "--scale", str(SMALL["scale"])])
    assert result.exit_code == 0, result.output
    assert "planted patterns" in result.output
    assert _digest(tmp_path) == _digest(demo.out_dir)


def test_cli_help_and_usage_errors():
    from gridwatch.cli import main

    runner = CliRunner()
    assert "Build the demo city" in runner.invoke(main, ["demo", "--help"]).output
    assert "--problems" in runner.invoke(main, ["demo", "generate", "--help"]).output
    bad = runner.invoke(main, ["demo", "generate", "--problems", "5"])
    assert bad.exit_code == 1 and "--problems" in bad.output  # 1: usage error


# --- files as users have them -----------------------------------------------------------------

def test_exports_are_gbk_with_chinese_headers_that_ingest_understands(demo):
    alias = {header_key(h): col for col, hs in HEADER_ALIASES.items() for h in hs}
    assert [alias[header_key(h)] for h in EXPORT_HEADERS] == [
        "issue_id", "reported_at", "category", "source", "description", "lon", "lat", "address",
        "reported_grid", "status", "deadline", "closed_at", "responsible_unit", "severity",
        "task_type", "ledger_ref",
        "enterprise_code", "enterprise_name", "petition_batch", "petition_date", "campaign"]
    csvs = [p for p in demo.exports if p.suffix == ".csv"]
    xlsx = [p for p in demo.exports if p.suffix == ".xlsx"]
    assert len(xlsx) == 1 and len(csvs) == len(demo.exports) - 1
    for path in csvs[::25] + csvs[-7:]:
        text = path.read_bytes().decode("gbk")  # strict: raises on anything else
        assert text.splitlines()[0] == ",".join(EXPORT_HEADERS)
    assert list(pd.read_excel(xlsx[0]).columns) == list(EXPORT_HEADERS)


def test_labels_map_to_codes(rows, planted):
    unknown = {b["issue_id"] for b in planted["bad_rows"] if b["kind"] == "unknown_category"}
    known = rows[~rows["问题编号"].isin(unknown)]
    for column, table in (("问题类型", CATEGORY_LABELS), ("问题来源", SOURCE_LABELS),
                          ("状态", STATUS_LABELS)):
        labels = {normalise_label(k) for k in table}
        assert known[column].map(normalise_label).isin(labels).all(), column
    assert set(rows["问题类型"]) >= {"水污染", "大气污染", "固废", "噪声", "土壤", "生态"}
    sources = rows["问题来源"].value_counts(normalize=True)
    assert sources.index[0] == "网格巡查" and sources.iloc[0] > 0.4
    assert set(sources.index) == {"网格巡查", "群众举报", "12345热线", "12369热线", "执法检查",
                                  "在线监测", "卫星遥感",
                                  "督察交办"}  # the petition batch (demo._enterprises)


def test_seasons_and_handling_look_real(final, planted):
    month = pd.to_datetime(final["上报时间"], errors="coerce").dt.month
    straw = final["问题描述"].str.contains("秸秆")
    assert straw.sum() > 0 and month[straw].isin([6, 10]).all()
    closed = final[final["办结时间"] != ""]
    late = pd.to_datetime(closed["办结时间"]) > pd.to_datetime(closed["整改期限"]) + pd.Timedelta(
        hours=23, minutes=59, seconds=59)
    assert 0.03 < late.mean() < 0.3
    deadline = pd.to_datetime(final["整改期限"], errors="coerce")
    overdue = final["状态"].isin(OPEN) & (deadline + pd.Timedelta(days=1) <= END)
    assert overdue.sum() == planted["overdue_at_end"]["overdue"]
    assert set(final["任务类型"]) == {"立行立改", "常规", "阶段性", "长期坚持"}
    assert (final.loc[final["任务类型"] == "长期坚持", "整改期限"] == "").all()


def test_snapshots_show_status_changes(demo):
    previous = None
    changed = 0
    for files, _when in demo.runs[1:]:
        snap = pd.read_csv(files[0], encoding="gbk", dtype=str, keep_default_na=False)
        snap = snap.set_index("问题编号")["状态"]
        if previous is not None:
            both = snap.index.intersection(previous.index)
            changed += int((snap[both] != previous[both]).sum())
        previous = snap
    assert changed > 0
    assert [when.isoformat()[:10] for _f, when in demo.runs[1:]] == [
        f"2026-10-{d}" for d in range(25, 32)]


# --- planted truths -----------------------------------------------------------------------------

def test_bad_rows_are_where_planted_json_says(demo, rows, planted):
    snapshot_ids = pd.concat([pd.read_csv(files[0], encoding="gbk", dtype=str)["问题编号"]
                              for files, _when in demo.runs[1:]])
    assert not snapshot_ids.isin([b["issue_id"] for b in planted["bad_rows"]]).any()
    kinds = pd.Series([b["kind"] for b in planted["bad_rows"]]).value_counts()
    assert kinds.to_dict() == {k: 3 for k in ("missing_coords", "swapped_lat_lon",
                                              "unknown_category", "bad_date", "duplicate_id")}
    for bad in planted["bad_rows"]:
        row = rows[(rows["file"] == bad["file"]) & (rows["row"] == bad["row"])].iloc[0]
        assert row["问题编号"] == bad["issue_id"]
        if bad["kind"] == "missing_coords":
            assert row["经度"] == row["纬度"] == row["所属网格"] == ""
        elif bad["kind"] == "swapped_lat_lon":
            assert float(row["经度"]) < 40 < float(row["纬度"])
        elif bad["kind"] == "unknown_category":
            assert row["问题类型"] not in CATEGORY_LABELS
        elif bad["kind"] == "bad_date":
            assert pd.isna(pd.to_datetime(row["上报时间"], errors="coerce"))
        else:
            same = rows[(rows["file"] == bad["file"]) & (rows["问题编号"] == bad["issue_id"])]
            assert len(same) == 2 and int(same["row"].max()) == bad["later_row"]


def test_rebounds_share_place_and_category_within_60_days(final, planted):
    assert len(planted["rebounds"]) >= 5
    for pair in planted["rebounds"]:
        a, b = final.loc[pair["original"]], final.loc[pair["repeat"]]
        assert a["状态"] in ("已办结", "已销号")
        assert (a["经度"], a["纬度"], a["问题类型"]) == (b["经度"], b["纬度"], b["问题类型"])
        gap = pd.Timestamp(b["上报时间"]) - pd.Timestamp(a["办结时间"])
        assert pd.Timedelta(0) < gap <= pd.Timedelta(days=60)


def test_duplicates_are_one_incident_from_several_sources(final, planted):
    assert len(planted["duplicates"]) >= 5
    for incident in planted["duplicates"]:
        reports = final.loc[incident["issue_ids"]]
        assert len(reports) >= 2 and reports["问题来源"].is_unique
        assert reports["问题类型"].nunique() == 1
        times = pd.to_datetime(reports["上报时间"])
        assert times.max() - times.min() <= pd.Timedelta(hours=24)
        x, y = xy_to_metric(reports["经度"].astype(float), reports["纬度"].astype(float))
        assert np.hypot(x - x[0], y - y[0]).max() <= 50


def test_grid_mismatches_point_elsewhere(final, planted, layers):
    micro = layers["microgrid"].set_index("code")
    assert len(planted["grid_mismatches"]) >= 5
    for m in planted["grid_mismatches"]:
        row = final.loc[m["issue_id"]]
        assert row["所属网格"] == m["reported_grid"] != m["true_microgrid"]
        assert micro.loc[m["reported_grid"], "grid_code"] != m["true_grid"]
        point = shapely.Point(float(row["经度"]), float(row["纬度"]))
        assert micro.geometry[m["true_microgrid"]].contains(point)


def test_redline_problems_inside_and_near(final, planted, layers):
    zones = layers["redline"].set_index("code").geometry
    for key, low, high in (("redline_inside", 0.0, 0.0), ("redline_near", 50.0, 500.0)):
        entries = planted["redline"][key]
        assert len(entries) >= 5
        for e in entries:
            row = final.loc[e["issue_id"]]
            x, y = xy_to_metric(float(row["经度"]), float(row["纬度"]))
            d = to_metric(np.array([zones[e["zone"]]]))[0].distance(shapely.Point(x, y))
            assert low <= d <= high, (key, e)


def _grid_of(final: pd.DataFrame) -> pd.Series:
    return final["所属网格"].str[:12]


def test_clusters_are_adjacent_grids(planted, layers):
    grids = layers["grid"].set_index("code").geometry
    for name, cluster in planted["clusters"].items():
        geoms = grids.reindex(cluster["grids"]).to_numpy()
        assert len(geoms) == 6
        merged = shapely.union_all(to_metric(geoms)).buffer(0.5)
        assert merged.geom_type == "Polygon", f"{name} is not one connected group"


def test_overdue_hotspot_cold_spot_and_trends(final, planted):
    clusters = planted["clusters"]
    hot = final.loc[clusters["overdue_hotspot"]["issue_ids"]]
    assert hot["状态"].isin(OPEN).all()
    assert (pd.to_datetime(hot["整改期限"]) + pd.Timedelta(days=1) <= END).all()
    grid = _grid_of(final)
    per_grid = grid.value_counts()
    deadline = pd.to_datetime(final["整改期限"], errors="coerce")
    overdue = final["状态"].isin(OPEN) & (deadline + pd.Timedelta(days=1) <= END)
    overdue_per_grid = grid[overdue].value_counts()
    hot_grids = clusters["overdue_hotspot"]["grids"]
    assert overdue_per_grid.reindex(hot_grids).min() > 3 * overdue_per_grid.median()
    cold = per_grid.reindex(clusters["cold_spot"]["grids"]).fillna(0)
    assert cold.max() < per_grid.median() / 3
    month = pd.to_datetime(final["上报时间"]).dt.to_period("M")

    def monthly(name: str) -> np.ndarray:
        inside = grid.isin(clusters[name]["grids"])
        counts = month[inside].value_counts().sort_index()
        return counts.reindex(pd.period_range("2025-11", "2026-10", freq="M"),
                              fill_value=0).to_numpy()

    rising, falling = monthly("emerging_intensifying"), monthly("diminishing")
    assert rising[-1] > 2 * rising[0] and rising[-3:].sum() > rising[-6:-3].sum()
    assert falling[0] > 2 * falling[-1] and falling[:3].sum() > falling[3:6].sum()
    new = monthly("new_hotspot")
    assert new[-1] > 3 * new[:-1].mean()
    new_ids = pd.to_datetime(final.loc[clusters["new_hotspot"]["issue_ids"], "上报时间"])
    assert (new_ids >= END - pd.Timedelta(days=30)).all()


def test_planted_ids_do_not_depend_on_anything_but_the_seed(planted, tmp_path):
    assert re.fullmatch(r"JX\d{13}", planted["rebounds"][0]["original"])
    assert planted["seed"] == SMALL["seed"] and planted["problems"] == planted["rows"] == 5_000


# --- ingest: bad rows rejected for the right reason ------------------------------------------

def test_bad_rows_rejected_for_the_right_reason(demo, planted, tmp_path):
    pipeline = pytest.importorskip("gridwatch.pipeline")
    from gridwatch.config import load_config
    from gridwatch.store.transactional import Store

    files = sorted({demo.out_dir / b["file"] for b in planted["bad_rows"]})
    with Store(sqlite_url(tmp_path / "gw.sqlite")) as store:
        summary, rejects = pipeline.run_ingest(files, config=load_config(demo.config),
                                               store=store)
    by_row = {(Path(f).name, int(r)): (c, reason) for f, r, c, reason in
              rejects[["file", "row", "column", "reason"]].itertuples(index=False)}
    expected_column = {"missing_coords": "lon/lat", "unknown_category": "问题类型",
                       "bad_date": "上报时间", "duplicate_id": "问题编号"}
    for bad in planted["bad_rows"]:
        if bad["kind"] == "swapped_lat_lon":
            continue
        column, reason = by_row[(Path(bad["file"]).name, bad["row"])]
        assert column == expected_column[bad["kind"]], (bad, reason)
    assert summary.rejected == 12 and summary.swapped_fixed == 3


# --- the project file and reuse of a built demo ----------------------------------------------

def test_project_file_declares_the_layers(demo, repo_root):
    from gridwatch.config import load_config
    from gridwatch.demo._exports import config_text
    from gridwatch.supervision.deadlines import parse_deadline_settings

    committed = repo_root / "data" / "demo" / "gridwatch.toml"
    assert committed.read_text(encoding="utf-8") == config_text("generated/")
    config = load_config(demo.config)
    assert [(s.name, s.kind, s.parent, s.parent_field, s.crs) for s in config.layers] == [
        ("county", "admin", None, None, "gcj02"),
        ("town", "admin", "county", "county_code", "gcj02"),
        ("grid", "grid", "town", "town_code", "gcj02"),
        ("microgrid", "microgrid", "grid", "grid_code", "gcj02"),
        ("basin", "basin", None, None, "gcj02"),
        ("redline", "redline", None, None, "gcj02"),
    ]
    assert config.layer("redline").near_m == 500
    assert all(s.path == demo.layers[s.name] for s in config.layers)
    assert config.input.crs == "gcj02"
    assert len(parse_deadline_settings(config.section("deadlines")).rules) == 5


def test_load_demo_reuses_only_a_matching_build(demo):
    from gridwatch.demo import load_demo

    again = load_demo(demo.out_dir, problems=SMALL["problems"], seed=SMALL["seed"],
                      scale=SMALL["scale"])
    assert again == demo
    assert load_demo(demo.out_dir, problems=SMALL["problems"], seed=8, scale=None) is None
    assert load_demo(demo.out_dir, problems=SMALL["problems"], seed=SMALL["seed"]) is None


# --- the splitting machinery, for any seed -------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(weights=st.lists(st.floats(0.01, 100.0), min_size=1, max_size=40),
       extra=st.integers(0, 500), minimum=st.integers(0, 3))
def test_largest_remainder_sums_exactly(weights, extra, minimum):
    from gridwatch.demo._city import _largest_remainder

    total = len(weights) * minimum + extra
    parts = _largest_remainder(np.array(weights), total, minimum)
    assert parts.sum() == total and parts.min() >= minimum


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 25))
def test_split_tiles_a_concave_parent(seed, n):
    from gridwatch.demo._city import _split

    parent = shapely.Polygon([(0, 0), (3000, 0), (3000, 2000), (1500, 800), (0, 2000)])
    cells, seeds = _split(parent, n, np.random.default_rng(seed))
    assert len(cells) == len(seeds) == n
    assert not shapely.is_empty(cells).any() and shapely.is_valid(cells).all()
    assert abs(shapely.area(cells).sum() - parent.area) < 1e-6 * parent.area
    assert shapely.area(shapely.difference(cells, parent)).max() < 1e-6
    assert shapely.contains_xy(cells, seeds[:, 0], seeds[:, 1]).all()
    tree = shapely.STRtree(cells)
    a, b = tree.query(cells, predicate="intersects")
    a, b = a[a < b], b[a < b]
    assert len(a) == 0 or shapely.area(shapely.intersection(cells[a], cells[b])).max() < 1e-6


# --- the documented minimum, and never a half-written folder ---------------------------------

@pytest.mark.parametrize("seed", [1, 7])
def test_the_documented_minimum_of_problems_generates(tmp_path: Path, seed: int) -> None:
    # Before: "unexpected ValueError: high <= 0" for every seed, and no gridwatch.toml.
    from gridwatch.cli import main
    from gridwatch.demo import load_demo

    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "generate", "--out", str(out), "--problems",
                                       "1000", "--seed", str(seed), "--scale", "0.02"])
    assert result.exit_code == 0, result.output
    assert (out / "gridwatch.toml").is_file()
    planted = json.loads((out / "planted.json").read_text(encoding="utf-8"))
    assert len(planted["bad_rows"]) == 15
    assert load_demo(out, problems=1000, seed=seed, scale=0.02) is not None
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


def test_a_failed_generation_leaves_no_half_folder(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import gridwatch.demo as demo_module

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(demo_module, "write_problem_files", broken)
    with pytest.raises(OSError):
        generate(tmp_path / "new", problems=1000, scale=0.02, seed=7)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temporary
    old = tmp_path / "old"
    old.mkdir()
    (old / "planted.json").write_text("{}", encoding="utf-8")
    (old / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OSError):
        generate(old, problems=1000, scale=0.02, seed=7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]
    assert sorted(p.name for p in old.iterdir()) == ["notes.txt", "planted.json"]


# --- the rectification ledger -------------------------------------------------------------------

def test_the_demo_ledger_reads_cleanly_and_has_what_the_app_shows(demo, planted, final):
    from gridwatch.ledger.progress import progress_report
    from gridwatch.ledger.read import read_ledger, read_ledger_records

    ledger = read_ledger(demo.ledger)
    assert (ledger.rows_in, ledger.rejected) == (planted["ledger"]["tasks"], 0)
    tasks = ledger.tasks
    assert tasks["round"].nunique() == 2
    assert set(tasks["task_type"]) == {"immediate", "staged", "long_term"}
    assert tasks["leader"].notna().all() and tasks["unit"].notna().all()
    assert len(ledger.milestones) > 0
    register = read_ledger_records(demo.ledger_records)
    assert len(register.rejects) == 0
    assert set(register.records["kind"]) == {"accept", "extend", "milestone_done"}
    assert set(register.records["task_id"]) <= set(tasks["task_id"])
    # problems hang under tasks of their own town's items, and the exports carry the link
    linked = final["整改任务编号"][final["整改任务编号"] != ""]
    assert 0 < len(linked) <= planted["ledger"]["linked_problems"]
    assert set(linked) <= set(tasks["task_id"])
    events = register.records.rename(columns={"task_id": "subject_id"}).assign(
        subject="task", id=np.arange(len(register.records)), old_value=None)
    report = progress_report(tasks, ledger.milestones, events, "2026-10-31")
    states = report["tasks"]["state"].value_counts()
    # a ledger worth showing: every state occurs, and most tasks are not overdue
    assert set(states.index) >= {"overdue", "on_schedule", "awaiting_acceptance", "closed_off"}
    assert states["overdue"] < len(tasks) / 3


def test_gridwatch_demo_imports_the_ledger_and_issues_letters(demo, tmp_path):
    from gridwatch.cli.demo import _import_ledger
    from gridwatch.config import load_config
    from gridwatch.ledger.letters import unanswered
    from gridwatch.pipeline import run_ingest
    from gridwatch.placing.layers import load_layers
    from gridwatch.store.ledger import ledger_events, ledger_tasks, letter_register
    from gridwatch.store.transactional import Store

    config = load_config(demo.config)
    layers = load_layers(config)
    with Store(sqlite_url(tmp_path / "s.sqlite")) as store:
        for files, when in demo.runs:
            run_ingest(files, config=config, store=store, layers=layers, observed_at=when)
        _import_ledger(demo, config, store)
        tasks, events = ledger_tasks(store), ledger_events(store)
        letters, items = letter_register(store)
        assert store.issues()["ledger_ref"].notna().any()
        _import_ledger(demo, config, store)  # a second run adds nothing
        assert len(letter_register(store)[0]) == len(letters)
        assert len(ledger_events(store)) == len(events)
    assert len(tasks) == json.loads(demo.planted.read_text(encoding="utf-8"))["ledger"]["tasks"]
    assert set(events["kind"]) >= {"accept", "extend", "milestone_done"}
    assert len(letters) and len(items)
    assert letters["replied_on"].notna().any() and letters["escalated_to"].notna().any()
    assert len(unanswered(letters, END.date())) > 0

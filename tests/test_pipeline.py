"""End to end: a messy Chinese export (GBK, GCJ-02, bad rows) through ingest → place → store."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import grid_cell_centre, sqlite_url

from gridwatch.cli import main
from gridwatch.config import load_config
from gridwatch.pipeline import run_ingest
from gridwatch.placing.coords import wgs84_to_gcj02
from gridwatch.store.transactional import Store

HEADERS = ["问题编号", "上报时间", "问题类型", "问题来源", "问题描述", "经度", "纬度", "地址",
           "所属网格", "状态", "整改期限", "办结时间", "责任单位"]


def _gcj(col: int, row: int, dx: float = 0.0) -> tuple[float, float]:
    lon, lat = grid_cell_centre(col, row)
    glon, glat = wgs84_to_gcj02(lon + dx, lat)
    return round(float(glon), 7), round(float(glat), 7)


def messy_rows(status_of_a1: str = "整改中") -> list[list[str]]:
    """Rows of a day's export; the comment on each says what must become of it."""
    lon, lat = _gcj(1, 0)
    slon, slat = _gcj(2, 2)
    nlon, nlat = _gcj(1, 1, dx=0.004)  # ~ 290 m east of the zone's edge
    ilon, ilat = _gcj(1, 1)
    return [
        # accepted, grid G01
        ["A1", "2024-03-15 08:00", "水污染", "网格巡查", "河道排污", str(lon), str(lat), "",
         "G01", status_of_a1, "2024-03-22", "", "南湖区生态环境分局"],
        # accepted after repairing swapped lat/lon, grid G22
        ["A2", "2024/3/15", "废气", "12345热线", "烟囱冒黑烟", str(slat), str(slon), "", "",
         "已交办", "", "", "某街道"],
        # no coordinates, placed at its reported grid G20
        ["A3", "2024年3月15日", "垃圾", "群众举报", "倾倒垃圾", "", "", "某路口", "G20",
         "待交办", "", "", ""],
        # rejected: no coordinates and no known grid
        ["A4", "2024-03-15 09:00", "噪声", "网格巡查", "夜间施工", "", "", "", "G99", "待交办",
         "", "", ""],
        # rejected: unknown category
        ["A5", "2024-03-15 09:00", "外星污染", "网格巡查", "?", str(lon), str(lat), "", "",
         "待交办", "", "", ""],
        # rejected: bad date
        ["A6", "2024-13-45", "水", "网格巡查", "", str(lon), str(lat), "", "", "待交办", "", "",
         ""],
        # rejected: zero coordinates
        ["A7", "2024-03-15 09:00", "水", "网格巡查", "", "0", "0", "", "", "待交办", "", "", ""],
        # rejected: in Hangzhou, far outside Jiaxing
        ["A8", "2024-03-15 09:00", "水", "网格巡查", "", "120.16", "30.27", "", "", "待交办", "",
         "", ""],
        # accepted: hostile text is data; inside the redline zone; reported grid G00 mismatches G11
        ["A9", "2024-03-15 10:00", "生态", "卫星图斑", '=HYPERLINK("http://x","y")<img src=x '
         'onerror=alert(1)>', str(ilon), str(ilat), "", "G00", "已办结", "2024-03-20",
         "2024-03-18 17:00", "=cmd|' /C calc'!A0"],
        # superseded by the next row (same id): rejected as a duplicate
        ["A10", "2024-03-15 11:00", "水", "网格巡查", "first version", str(nlon), str(nlat), "",
         "", "待交办", "", "", ""],
        # accepted: near the redline, within 500 m
        ["A10", "2024-03-15 11:00", "水", "网格巡查", "second version", str(nlon), str(nlat), "",
         "", "已交办", "", "", ""],
    ]


def write_gbk_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="gbk", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADERS)
        writer.writerows(rows)
    return path


def test_messy_export_end_to_end(small_project: Path, store_url: str, tmp_path: Path) -> None:
    export = write_gbk_csv(tmp_path / "导出_20240315.csv", messy_rows())
    rejects_csv = tmp_path / "rejects.csv"
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(export), "--config", str(small_project),
                                  "--db", store_url, "--rejects", str(rejects_csv), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows_in"] == 11
    assert summary["accepted"] == 5
    assert summary["rejected"] == 6
    assert summary["rows_in"] == summary["accepted"] + summary["rejected"]
    assert summary["inserted"] == 5 and summary["updated"] == 0
    assert summary["swapped_fixed"] == 1
    assert summary["grid_placed"] == 1
    assert summary["duplicates"] == 1
    assert summary["unassigned"]["redline"] == 4  # only A9 lies inside a zone

    rejects = pd.read_csv(rejects_csv, encoding="utf-8-sig", dtype=str)
    assert list(rejects.columns) == ["file", "row", "column", "value", "reason"]
    by_row = dict(zip(rejects["row"].astype(int), rejects["reason"], strict=True))
    # row numbers as a person sees them in Excel: header is row 1
    assert set(by_row) == {5, 6, 7, 8, 9, 11}
    assert "外星污染" in rejects.loc[rejects["row"] == "6", "value"].iloc[0]
    assert "duplicate" in by_row[11].lower()

    with Store(store_url) as store:
        issues = store.issues().set_index("issue_id")
        runs = store.runs()
    assert sorted(issues.index) == ["A1", "A10", "A2", "A3", "A9"]
    assert issues.loc["A1", "grid_id"] == "G01"
    assert issues.loc["A1", "county_id"] == "330402"
    assert issues.loc["A2", "grid_id"] == "G22" and issues.loc["A2", "location_flag"] == "swapped"
    assert issues.loc["A3", "grid_id"] == "G20"
    assert issues.loc["A3", "location_flag"] == "grid_point"
    assert issues.loc["A9", "description"].startswith("=HYPERLINK")
    assert bool(issues.loc["A9", "in_redline"]) and issues.loc["A9", "redline_dist_m"] == 0
    assert bool(issues.loc["A9", "grid_mismatch"])
    assert not bool(issues.loc["A10", "in_redline"]) and bool(issues.loc["A10", "near_redline"])
    assert 150 < issues.loc["A10", "redline_dist_m"] < 450
    assert issues.loc["A10", "description"] == "second version"
    assert issues.loc["A9", "status"] == "closed"
    # stored positions are WGS84: the GCJ-02 input was shifted back
    lon, lat = grid_cell_centre(1, 0)
    assert issues.loc["A1", "lon"] == pytest.approx(lon, abs=1e-6)
    assert issues.loc["A1", "lat"] == pytest.approx(lat, abs=1e-6)
    assert set(issues["coord_system"]) == {"wgs84"}  # the numbers were converted once
    assert runs["rows_in"].tolist() == [11]

    # the same file again changes nothing
    again = runner.invoke(main, ["ingest", str(export), "--config", str(small_project),
                                 "--db", store_url, "--json"])
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert (second["inserted"], second["updated"], second["unchanged"]) == (0, 0, 5)
    assert second["status_changes"] == 0

    # the next day's export: A1 closed
    rows = messy_rows(status_of_a1="已办结")
    rows[0][11] = "2024-03-16 10:00"
    nextday = write_gbk_csv(tmp_path / "导出_20240316.csv", rows)
    third = runner.invoke(main, ["ingest", str(nextday), "--config", str(small_project),
                                 "--db", store_url, "--json"])
    assert third.exit_code == 0, third.output
    counts = json.loads(third.stdout)
    assert (counts["inserted"], counts["updated"], counts["status_changes"]) == (0, 1, 1)
    with Store(store_url) as store:
        history = store.history()
    a1 = history[history["issue_id"] == "A1"].sort_values("run_id")
    assert a1["status"].tolist() == ["rectifying", "closed"]
    assert a1["previous_status"].iloc[1] == "rectifying"


def test_library_call_matches_row_accounting(small_project: Path, tmp_path: Path) -> None:
    export = write_gbk_csv(tmp_path / "day.csv", messy_rows())
    config = load_config(small_project)
    with Store(sqlite_url(tmp_path / "s.sqlite")) as store:
        summary, rejects = run_ingest([export], config=config, store=store)
    assert summary.rows_in == summary.accepted + summary.rejected == 11
    assert len(rejects) == summary.rejected
    assert sum(summary.reject_reasons.values()) == summary.rejected


def test_layers_loaded_while_reading_fail_as_if_loaded_after(small_project: Path,
                                                               tmp_path: Path) -> None:
    """The layers load on a thread while the files are read: a bad file is still the error
    raised when a layer is bad too, a bad layer fails the run before anything is stored, and
    the stages are reported in the same order."""
    from gridwatch.errors import LayerError, SchemaError

    export = write_gbk_csv(tmp_path / "day.csv", messy_rows())
    config = load_config(small_project)
    said: list[str] = []
    with Store(sqlite_url(tmp_path / "s.sqlite")) as store:
        run_ingest([export], config=config, store=store, progress=said.append)
        assert [m.split(" ", 1)[0] for m in said[:3]] == ["reading", "loading", "placing"]
        (small_project.parent / "grids.geojson").write_text("not a layer", encoding="utf-8")
        no_id = tmp_path / "noid.csv"
        no_id.write_text("foo,bar\n1,2\n", encoding="utf-8")
        with pytest.raises(SchemaError, match="issue_id"):
            run_ingest([no_id], config=config, store=store)
        with pytest.raises(LayerError):
            run_ingest([export], config=config, store=store)
        assert store.runs()["run_id"].tolist() == [1]


def _kernel_signatures() -> dict[str, set[object]]:
    from numba.core.dispatcher import Dispatcher

    from gridwatch.placing import _pip
    from gridwatch.store import _bulk, _hashing

    return {f"{module.__name__}.{name}": set(kernel.signatures)
            for module in (_pip, _bulk, _hashing)
            for name, kernel in vars(module).items() if isinstance(kernel, Dispatcher)}


def test_the_kernels_made_ready_beside_the_reading_are_those_the_import_runs(
        small_project: Path, tmp_path: Path) -> None:
    """What ``run_ingest`` compiles (or loads from numba's cache) while the files are read
    covers every kernel signature placing and storing then use: none is compiled later."""
    from gridwatch.pipeline import _compile_kernels

    _compile_kernels()
    ready = _kernel_signatures()
    assert all(ready[f"gridwatch.placing._pip.{name}"] for name in ("_lookup", "_test"))
    assert ready["gridwatch.store._hashing._siphash_all"]
    assert ready["gridwatch.store._bulk._format_times"]
    export = write_gbk_csv(tmp_path / "day.csv", messy_rows())
    with Store(sqlite_url(tmp_path / "s.sqlite")) as store:
        run_ingest([export], config=load_config(small_project), store=store)
    assert _kernel_signatures() == ready


def test_rejects_of_every_stage_share_one_shape_and_order(small_project: Path,
                                                         tmp_path: Path) -> None:
    """Ingest, placing and the pipeline return rejects alike; files keep the order given."""
    from gridwatch.ingest import read_issues
    from gridwatch.placing import load_layers, place_records

    config = load_config(small_project)
    files = [write_gbk_csv(tmp_path / name, messy_rows()) for name in ("b_first.csv",
                                                                       "a_second.csv")]
    read = read_issues(files, settings=config.input, timezone=config.territory.timezone)
    _, placing = place_records(read.records, load_layers(config), config)
    with Store(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        _, rejects = run_ingest(files, config=config, store=store)
    assert not read.rejects.empty and not placing.empty
    assert read.rejects.dtypes.to_dict() == placing.dtypes.to_dict() == rejects.dtypes.to_dict()
    assert len(rejects) == len(read.rejects) + len(placing)
    assert list(dict.fromkeys(rejects["file"])) == [str(f) for f in files]
    for _file, rows in rejects.groupby("file", sort=False)["row"]:
        assert rows.is_monotonic_increasing


def test_cli_errors_are_one_clear_line(small_project: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    db = sqlite_url(tmp_path / "s.sqlite")
    missing = runner.invoke(main, ["ingest", str(tmp_path / "nope.csv"), "--config",
                                   str(small_project), "--db", db])
    assert missing.exit_code == 2
    assert "Traceback" not in missing.output and "nope.csv" in missing.output
    bad_crs = runner.invoke(main, ["ingest", str(tmp_path / "x.csv"), "--config",
                                   str(small_project), "--db", db, "--crs", "martian"])
    assert bad_crs.exit_code == 1 and "martian" in bad_crs.output
    no_config = runner.invoke(main, ["ingest", "x.csv", "--config", str(tmp_path / "no.toml")])
    assert no_config.exit_code == 1 and "not found" in no_config.output
    usage = runner.invoke(main, ["ingest"])
    assert usage.exit_code == 1 and "Missing argument" in usage.output
    (tmp_path / "noid.csv").write_text("foo,bar\n1,2\n", encoding="utf-8")
    no_id = runner.invoke(main, ["ingest", str(tmp_path / "noid.csv"), "--config",
                                 str(small_project), "--db", db])
    assert no_id.exit_code == 2 and "issue_id" in no_id.output

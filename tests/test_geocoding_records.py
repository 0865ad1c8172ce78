"""The import's call into geocoding: gridwatch.geocoding.records and its effect on placing,
the store and the run summary."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridwatch.config import load_config
from gridwatch.errors import ConfigError
from gridwatch.geocoding.records import geocode_records
from gridwatch.pipeline import run_ingest
from gridwatch.placing.assign import place_records
from gridwatch.placing.layers import load_layers
from gridwatch.schema import concat_rejects
from gridwatch.store.transactional import Store
from tests._geocoding_project import write_project
from tests.helpers import grid_cell_centre, lonlat_from_metres

HEADER = "问题编号,上报时间,问题来源,问题地址,经度,纬度,所属网格\n"


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _lonlat(x: float, y: float) -> str:
    lon, lat = lonlat_from_metres(x, y)
    return f"{float(lon):.7f},{float(lat):.7f}"


def test_import_places_address_only_rows_and_names_candidates(tmp_path: Path,
                                                              store_url: str) -> None:
    config = load_config(write_project(tmp_path))
    rows = _write(tmp_path / "p.csv", [
        f"A1,2026-03-02 09:00,网格巡查,嘉善县魏塘街道体育南路100号,{_lonlat(4600, 500)},",
        "A2,2026-03-02 09:10,12345热线,嘉善县魏塘街道体育南路98号,,,",
        "A3,2026-03-02 09:20,12369热线,南湖区长虹镇新丰村三组东侧河道,,,",
        "A4,2026-03-02 09:30,12345热线,嘉兴市新丰村,,,",
        "A5,2026-03-02 09:40,12345热线,,,,",
    ])
    with Store(store_url) as store:
        summary, rejects = run_ingest([rows], config=config, store=store, derive=False)
        issues = store.issues().set_index("issue_id")
    assert (summary.rows_in, summary.accepted, summary.rejected) == (5, 3, 2)
    assert summary.geocoded == 2
    assert issues["location_flag"].to_dict() == {"A1": "", "A2": "geocoded", "A3": "geocoded"}
    # A2 sits where A1 (the import's own row with coordinates) is: same road, nearest number
    assert issues.loc["A2", ["lon", "lat"]].tolist() == pytest.approx(
        issues.loc["A1", ["lon", "lat"]].tolist(), abs=1e-9)
    assert issues.loc["A3", "village_id"] == "V1"
    # the precision is stored: the road's, the village's (a 2 x 2 km square), none for A1
    assert issues.loc["A2", "location_precision_m"] == 300.0
    assert issues.loc["A3", "location_precision_m"] == pytest.approx(
        (4e6 / np.pi) ** 0.5, rel=1e-3)
    assert np.isnan(issues.loc["A1", "location_precision_m"])
    by_id = rejects.set_index("row")
    assert by_id.loc[5, "column"] == "address"
    assert by_id.loc[5, "reason"].startswith(
        "address not placed (no coordinates, no reported grid): address '嘉兴市新丰村'")
    assert "新丰村 in 长虹镇 (100), village 新丰村 in 魏塘街道 (100)" in by_id.loc[5, "reason"]
    assert "no reported grid" in by_id.loc[6, "reason"]  # no address either: as before


def test_coordinates_win_and_disagreement_is_flagged(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "enabled = true", "enabled = true\ncheck_coordinates = true"), encoding="utf-8")
    config = load_config(path)
    layers = load_layers(config)
    lon, lat = lonlat_from_metres([900.0, 7000.0, 900.0], [900.0, 3500.0, 500.0])
    records = pd.DataFrame({
        "issue_id": ["B1", "B2", "B3"],
        "address": ["南湖区长虹镇新丰村", "南湖区长虹镇新丰村", "嘉善县魏塘街道体育南路7号"],
        "lon": lon, "lat": lat, "coord_system": ["wgs84"] * 3,
        "source_file": "f.csv", "source_row": [2, 3, 4]})
    out, rejects = geocode_records(records, layers, config)
    assert rejects.empty
    # the coordinates are kept as given
    assert out["lon"].tolist() == records["lon"].tolist()
    assert (out["geocode_source"] == "").all()
    # B1 lies in 新丰村 (V1: x 0..2000, y 0..2000); B2 in 西塘镇, 6 km from it; B3's address
    # is checked against the others, not against itself: 魏塘街道 (x 4000..6000), 3.6 km away
    assert out["address_mismatch"].tolist() == [False, True, True]
    placed, _ = place_records(out, layers, config)
    assert placed["grid_mismatch"].tolist() == [False, True, True]
    assert placed["location_flag"].tolist() == ["", "", ""]


def test_a_known_reported_grid_is_used_before_the_address(small_project: Path) -> None:
    text = small_project.read_text(encoding="utf-8") + "\n[geocoding]\nenabled = true\n"
    small_project.write_text(text, encoding="utf-8")
    config = load_config(small_project)
    layers = load_layers(config)
    records = pd.DataFrame({
        "issue_id": ["G1", "G2"], "address": ["南湖区网格11", "南湖区网格11"],
        "reported_grid": ["G11", "nope"], "lon": [np.nan, np.nan], "lat": [np.nan, np.nan],
        "coord_system": [None, None], "source_file": "f.csv", "source_row": [2, 3]})
    out, rejects = geocode_records(records, layers, config)
    assert rejects.empty and out["geocode_source"].tolist() == ["", "grid"]
    placed, _ = place_records(out, layers, config)
    assert placed["location_flag"].tolist() == ["grid_point", "geocoded"]
    assert placed["grid_id"].tolist() == ["G11", "G11"]
    assert placed["lon"].iloc[1] == pytest.approx(grid_cell_centre(1, 1)[0], abs=0.005)


def test_geocoding_is_off_unless_enabled(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("enabled = true", ""),
                    encoding="utf-8")
    config = load_config(path)
    records = pd.DataFrame({"issue_id": ["C1"], "address": ["嘉善县"], "lon": [np.nan],
                            "lat": [np.nan]})
    out, rejects = geocode_records(records, load_layers(config), config)
    assert out is records and rejects.empty


def test_settings_are_checked(tmp_path: Path) -> None:
    path = write_project(tmp_path, "[geocoding.points]\naddress_field = 3\n")
    path.write_text(path.read_text(encoding="utf-8").replace(
        "enabled = true", "enabled = true\nmin_scor = 80\nmax_precision_m = -1"),
        encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = "\n".join(info.value.problems)
    assert "[geocoding] unknown key 'min_scor': did you mean 'min_score'?" in problems
    assert "[geocoding] max_precision_m must be a number from 1 to 1e+07, got -1" in problems
    assert "[geocoding.points] path is required (a string), got None" in problems
    assert "[geocoding.points] address_field must be a string, got 3" in problems


def test_a_store_made_before_the_precision_column_gains_it(tmp_path: Path) -> None:
    import sqlalchemy as sa

    path = write_project(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("enabled = true", "enabled = false"), encoding="utf-8")
    rows = _write(tmp_path / "p.csv", [
        f"A1,2026-03-02 09:00,网格巡查,嘉善县魏塘街道体育南路100号,{_lonlat(4600, 500)},",
        "A2,2026-03-02 09:10,12345热线,嘉善县魏塘街道体育南路98号,,,"])
    url = f"sqlite:///{(tmp_path / 'old.sqlite').as_posix()}"
    with Store(url) as store:  # an older gridwatch: no geocoding, A2 rejected
        first, _ = run_ingest([rows], config=load_config(path), store=store, derive=False)
    assert first.accepted == 1
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # as an older gridwatch left it
        conn.exec_driver_sql("ALTER TABLE issues DROP COLUMN location_precision_m")
    engine.dispose()
    with Store(url) as store:
        issues = store.issues().set_index("issue_id")
        assert issues["location_precision_m"].isna().all()
        summary, _ = run_ingest([rows], config=config, store=store, derive=False)
        assert store.issues().set_index("issue_id").loc["A2", "location_precision_m"] == 300.0
    # A1 (no precision) kept its content hash: unchanged; A2 is placed now
    assert (summary.unchanged, summary.inserted, summary.updated) == (1, 1, 0)


@pytest.fixture
def stored(tmp_path: Path):
    """The project's store after one import: A1 by coordinates, A2 on a road (300 m), A3 in
    a village (1,128 m)."""
    path = write_project(tmp_path)
    rows = _write(tmp_path / "p.csv", [
        f"A1,2026-03-02 09:00,网格巡查,嘉善县魏塘街道体育南路100号,{_lonlat(4600, 500)},",
        "A2,2026-03-02 09:10,12345热线,嘉善县魏塘街道体育南路98号,,,",
        "A3,2026-03-02 09:20,12369热线,南湖区长虹镇新丰村三组东侧河道,,,"])
    url = f"sqlite:///{(tmp_path / 's.sqlite').as_posix()}"
    with Store(url) as store:
        run_ingest([rows], config=load_config(path), store=store, derive=False)
    return path, url


def test_exports_and_the_app_filter_by_how_problems_were_placed(stored, tmp_path: Path) -> None:
    from gridwatch.cli import main
    from gridwatch.supervision.context import open_context
    from gridwatch.ui import views
    from tests.helpers import invoke

    path, url = stored
    for extra, expected in ((["--placed-by", "by_address"], ["A2", "A3"]),
                            (["--placed-by", "by_coordinates"], ["A1"]),
                            (["--max-precision-m", "500"], ["A1", "A2"])):
        out = tmp_path / "out.csv"
        result = invoke(["export", "issues", "--out", str(out), "--config", str(path),
                         "--db", url, *extra], main)
        assert result.exit_code == 0, result.output
        written = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
        assert sorted(written["issue_id"]) == expected, extra
    assert "location_precision_m" in written.columns
    filters = views.filters_from_query({"placed_by": "by_address,bogus"})
    assert filters.placed_by == ("by_address",) and filters.ignored == ("placed_by=bogus",)
    assert views.filters_to_query(filters) == {"placed_by": "by_address"}
    context = open_context(load_config(path), url)
    evaluated = context.evaluate(context.last_report_date())
    keep = views.filter_problems(context, evaluated, filters)
    assert sorted(context.issues.loc[keep.to_numpy(), "issue_id"]) == ["A2", "A3"]


def test_hotspots_can_leave_out_imprecise_places(stored) -> None:
    from gridwatch.hotspots import run_hotspots
    from gridwatch.supervision.context import open_context

    path, url = stored
    counts = {}
    for limit in (None, 500):
        text = path.read_text(encoding="utf-8").split("\n[hotspots]")[0]
        if limit is not None:
            text += f"\n[hotspots]\nmax_precision_m = {limit}\npermutations = 0\n"
        path.write_text(text, encoding="utf-8")
        context = open_context(load_config(path), url)
        result = run_hotspots(context, layer=None, method="hex", variable="new",
                              as_of="2026-03-02")
        counts[limit] = int(result["problems"].sum())
    assert counts == {None: 3, 500: 2}  # A3 (village, 1,128 m) is left out


def test_hotspot_precision_setting_is_checked() -> None:
    from gridwatch.hotspots._settings import hotspot_settings

    assert hotspot_settings({"max_precision_m": 800}).max_precision_m == 800.0
    with pytest.raises(ConfigError, match="max_precision_m must be > 0"):
        hotspot_settings({"max_precision_m": 0})
    with pytest.raises(ConfigError, match="wrong type"):
        hotspot_settings({"max_precision_m": "800"})


def test_an_import_learns_from_the_problems_already_stored(tmp_path: Path,
                                                           store_url: str) -> None:
    config = load_config(write_project(tmp_path))
    first = _write(tmp_path / "day1.csv", [
        f"A1,2026-03-02 09:00,网格巡查,嘉善县魏塘街道体育南路100号,{_lonlat(4600, 500)},"])
    second = _write(tmp_path / "day2.csv", [
        "A2,2026-03-03 09:10,12345热线,嘉善县魏塘街道体育南路98号,,,"])
    with Store(store_url) as store:
        run_ingest([first], config=config, store=store, derive=False)
        summary, rejects = run_ingest([second], config=config, store=store, derive=False)
        issues = store.issues().set_index("issue_id")
    assert rejects.empty and summary.geocoded == 1
    # only the store knew 体育南路: A2 is placed at A1, its nearest house number
    assert issues.loc["A2", "location_flag"] == "geocoded"
    assert issues.loc["A2", "location_precision_m"] == 300.0
    assert issues.loc["A2", ["lon", "lat"]].tolist() == pytest.approx(
        issues.loc["A1", ["lon", "lat"]].tolist(), abs=1e-9)


def test_the_match_is_stored_and_an_older_store_gains_its_columns(tmp_path: Path,
                                                                  store_url: str) -> None:
    """Source and score are stored with the precision; a store made before these columns
    gets them on open (both backends), and rows without them keep their content hash."""
    config = load_config(write_project(tmp_path))
    rows = _write(tmp_path / "p.csv", [
        f"A1,2026-03-02 09:00,网格巡查,嘉善县魏塘街道体育南路100号,{_lonlat(4600, 500)},",
        "A2,2026-03-02 09:10,12345热线,嘉善县魏塘街道体育南路98号,,,",
        "A3,2026-03-02 09:20,12369热线,南湖区长虹镇新丰村三组东侧河道,,,"])
    with Store(store_url) as store:
        run_ingest([rows], config=config, store=store, derive=False)
        issues = store.issues().set_index("issue_id")
        qualified = store.engine.dialect.identifier_preparer.format_table(store.table("issues"))
        with store.engine.begin() as conn:  # as a gridwatch before these columns left it
            for name in ("geocode_source", "geocode_score", "address_offset_m"):
                conn.exec_driver_sql(f"ALTER TABLE {qualified} DROP COLUMN {name}")
    assert issues.loc["A2", "geocode_source"] == "road"
    assert issues.loc["A3", "geocode_source"] == "village"
    assert issues.loc["A2", "geocode_score"] == 100.0 == issues.loc["A3", "geocode_score"]
    assert pd.isna(issues.loc["A1", "geocode_source"]) and np.isnan(issues.loc["A1",
                                                                               "geocode_score"])
    with Store(store_url) as store:
        reopened = store.issues().set_index("issue_id")
        assert reopened[["geocode_source", "geocode_score",
                         "address_offset_m"]].isna().all().all()
        assert reopened.loc["A2", "location_precision_m"] == 300.0
        # a changed problem is written with its match again
        changed = _write(tmp_path / "q.csv", [
            "A2,2026-03-02 09:10,12345热线,嘉善县魏塘街道体育南路99号,,,"])
        summary, _ = run_ingest([changed], config=config, store=store, derive=False)
        again = store.issues().set_index("issue_id")
    assert summary.updated == 1
    assert again.loc["A2", "geocode_source"] == "road" and again.loc["A2", "geocode_score"] == 100


def test_rows_without_a_match_keep_the_hash_they_had_before_the_match_columns() -> None:
    """A store written before the source and score columns: its rows without them hash as
    before (nothing is rewritten), a geocoded row hashes differently (so an import writes
    its match)."""
    from gridwatch.store._tables import prepare

    base = pd.DataFrame({"issue_id": ["A", "B"], "reported_at": pd.to_datetime(
        ["2026-03-02 01:00", "2026-03-02 02:00"], utc=True), "lon": [120.7, 120.8],
        "lat": [30.7, 30.8], "location_flag": ["", "geocoded"], "grid_mismatch": False,
        "location_precision_m": [np.nan, 300.0]})
    before = prepare(base, ["town"]).hashes
    empty = prepare(base.assign(geocode_source=["", ""], geocode_score=np.nan,
                                address_offset_m=np.nan), ["town"]).hashes
    assert list(empty) == list(before)
    matched = prepare(base.assign(geocode_source=["", "road"], geocode_score=[np.nan, 100.0],
                                  address_offset_m=np.nan), ["town"]).hashes
    assert matched[0] == before[0] and matched[1] != before[1]
    # equal numbers in two columns do not cancel out
    both = prepare(base.assign(geocode_score=[np.nan, 300.0], address_offset_m=[np.nan, 300.0]),
                   ["town"]).hashes
    assert both[1] != before[1]


def test_an_address_far_from_its_coordinates_is_in_the_grid_mismatch_audit(
        tmp_path: Path, store_url: str) -> None:
    """On by default: a row whose address names a road 4 km from its coordinates is flagged,
    its distance stored, and it is listed by the app's grid-mismatch audit; a row whose
    address agrees is not."""
    from gridwatch.supervision.context import open_context
    from gridwatch.ui.planning import grid_mismatch_audit

    path = write_project(tmp_path)
    config = load_config(path)
    assert config.settings.geocoding.check_coordinates  # the default
    day1 = _write(tmp_path / "day1.csv", [
        f"A1,2026-03-02 09:00,网格巡查,嘉善县魏塘街道体育南路100号,{_lonlat(4600, 500)},"])
    day2 = _write(tmp_path / "day2.csv", [
        f"B1,2026-03-03 09:00,网格巡查,嘉善县魏塘街道体育南路100号,{_lonlat(4650, 520)},",
        f"B2,2026-03-03 09:10,网格巡查,嘉善县魏塘街道体育南路100号,{_lonlat(600, 3500)},"])
    with Store(store_url) as store:
        run_ingest([day1], config=config, store=store, derive=False)
        summary, _ = run_ingest([day2], config=config, store=store, derive=False)
        issues = store.issues().set_index("issue_id")
    assert summary.grid_mismatch == 1
    assert issues["grid_mismatch"].to_dict() == {"A1": False, "B1": False, "B2": True}
    # B2's address is A1's place (precision 30 m): reference distance on the ellipsoid
    from pyproj import Geod

    a1 = issues.loc["A1", ["lon", "lat"]].to_numpy(dtype=float)
    b2 = issues.loc["B2", ["lon", "lat"]].to_numpy(dtype=float)
    expected = Geod(ellps="WGS84").inv(a1[0], a1[1], b2[0], b2[1])[2]
    assert issues.loc["B2", "address_offset_m"] == pytest.approx(expected, abs=0.1)
    assert issues.loc[["A1", "B1"], "address_offset_m"].isna().all()
    assert issues.loc["B2", "location_flag"] == ""  # its coordinates win
    audit = grid_mismatch_audit(open_context(config, store_url))
    assert audit["issue_id"].tolist() == ["B2"]
    assert audit.loc[0, "address_offset_m"] == pytest.approx(expected, abs=0.1)


def test_a_problem_is_not_checked_against_its_own_earlier_coordinates(tmp_path: Path) -> None:
    """Stored with a wrong point, a problem imported again stays flagged: its own earlier
    sighting in the store does not vouch for it."""
    config = load_config(write_project(tmp_path))
    day1 = _write(tmp_path / "day1.csv", [
        f"A1,2026-03-02 09:00,网格巡查,嘉善县魏塘街道体育南路100号,{_lonlat(4600, 500)},",
        f"B2,2026-03-02 09:10,网格巡查,嘉善县魏塘街道体育南路100号,{_lonlat(600, 3500)},"])
    url = f"sqlite:///{(tmp_path / 's.sqlite').as_posix()}"
    with Store(url) as store:
        first, _ = run_ingest([day1], config=config, store=store, derive=False)
        second, _ = run_ingest([day1], config=config, store=store, derive=False)
        issues = store.issues().set_index("issue_id")
    # in the first import each is checked against the gazetteer only (the import's own rows
    # never count): the address names 魏塘街道 (x 4,000-6,000 m), B2 lies 3.4 km west of it
    assert first.grid_mismatch == 1 and second.grid_mismatch == 1
    assert (second.unchanged, second.updated) == (2, 0)
    assert issues["grid_mismatch"].to_dict() == {"A1": False, "B2": True}
    assert issues.loc["B2", "address_offset_m"] == pytest.approx(3400, abs=2)


def test_filters_by_match_source_and_score(stored, tmp_path: Path) -> None:
    from gridwatch.cli import main
    from gridwatch.supervision.context import open_context
    from gridwatch.ui import views
    from tests.helpers import invoke

    path, url = stored
    for extra, expected in ((["--matched-at", "road"], ["A2"]),
                            (["--matched-at", "area"], ["A3"]),
                            (["--matched-at", "history", "--matched-at", "area"], ["A3"]),
                            (["--min-score", "90"], ["A1", "A2", "A3"])):
        out = tmp_path / "out.csv"
        result = invoke(["export", "issues", "--out", str(out), "--config", str(path),
                         "--db", url, *extra], main)
        assert result.exit_code == 0, result.output
        written = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
        assert sorted(written["issue_id"]) == expected, extra
    assert {"geocode_source", "geocode_score", "location_precision_m"} <= set(written.columns)
    assert written.set_index("issue_id").loc["A3", "geocode_source"] == "village"
    filters = views.filters_from_query({"matched_at": "area,bogus", "min_score": "95",
                                        "max_precision_m": "500", "placed_by": "by_address"})
    assert filters.matched_at == ("area",) and filters.min_score == 95.0
    assert filters.max_precision_m == 500.0 and filters.ignored == ("matched_at=bogus",)
    assert views.filters_to_query(filters) == {"placed_by": "by_address", "matched_at": "area",
                                               "min_score": "95", "max_precision_m": "500"}
    assert views.filters_from_query({"min_score": "120"}).ignored == ("min_score=120",)
    context = open_context(load_config(path), url)
    evaluated = context.evaluate(context.last_report_date())
    for query, expected in (({"matched_at": "road"}, ["A2"]),
                            ({"max_precision_m": "500"}, ["A1", "A2"]),
                            ({"placed_by": "by_address", "max_precision_m": "500"}, ["A2"])):
        keep = views.filter_problems(context, evaluated, views.filters_from_query(query))
        assert sorted(context.issues.loc[keep.to_numpy(), "issue_id"]) == expected, query
    # the problems table shows how each was placed
    rows = views.inspection_rows(context.issues, evaluated, np.arange(len(context.issues)))
    assert {"location_flag", "geocode_source", "geocode_score",
            "location_precision_m"} <= set(rows.columns)


def _mixed_rows() -> list[str]:
    """Rows with coordinates, with an address only, with both that disagree, and rejects."""
    return [
        f"A1,2026-03-02 09:00,网格巡查,嘉善县魏塘街道体育南路100号,{_lonlat(4600, 500)},",
        "A2,2026-03-02 09:10,12345热线,嘉善县魏塘街道体育南路98号,,,",
        "A3,2026-03-02 09:20,12345热线,嘉兴市新丰村,,,",  # not placed: rejected
        f"A4,2026-03-02 09:30,网格巡查,嘉善县魏塘街道体育南路100号,{_lonlat(600, 3500)},",
        f"A5,2026-03-02 09:40,网格巡查,南湖区长虹镇新丰村,{_lonlat(900, 900)},",
        "A6,2026-03-02 09:50,网格巡查,南湖区长虹镇新丰村,121.9,31.9,",  # outside: rejected
    ]


@pytest.mark.parametrize("grid_fallback", [True, False])
def test_geocoding_while_placing_equals_geocoding_first(tmp_path: Path,
                                                         grid_fallback: bool) -> None:
    """An import places the rows with coordinates while another thread places the others from
    their address and checks every address against its row's coordinates
    (gridwatch.pipeline._geocode_and_place): the same placed rows, columns, flags, distances
    and rejects as geocoding and checking first, then placing."""
    from gridwatch.ingest.records import read_issues
    from gridwatch.pipeline import _geocode_and_place

    config = load_config(write_project(tmp_path))
    config = replace(config, input=replace(config.input, grid_fallback=grid_fallback))
    export = _write(tmp_path / "mixed.csv", [*_mixed_rows(),
        "A7,2026-03-02 10:00,网格巡查,南湖区长虹镇新丰村,,,",  # placed from its address
        "A8,2026-03-02 10:10,网格巡查,,,,",  # neither: rejected by placing
        "A9,2026-03-02 10:20,网格巡查,嘉善县魏塘街道体育南路98号,0,0,",  # zero: its address
    ])
    records = read_issues(export, settings=config.input).records
    layers = load_layers(config)
    first, first_rejects = geocode_records(records, layers, config)
    placed, place_rejects = place_records(first, layers, config)
    beside, address_rejects, beside_rejects = _geocode_and_place(
        None, records, layers, config, None, lambda _message: None)
    pd.testing.assert_frame_equal(beside, placed)
    pd.testing.assert_frame_equal(concat_rejects(beside_rejects), concat_rejects(place_rejects))
    pd.testing.assert_frame_equal(address_rejects, first_rejects)
    assert placed["issue_id"].tolist() == ["A1", "A2", "A4", "A5", "A7", "A9"]
    assert placed["location_flag"].tolist() == ["", "geocoded", "", "", "geocoded", "geocoded"]
    assert placed["address_mismatch"].tolist() == [False, False, True, False, False, False]
    assert placed["grid_mismatch"].tolist() == [False, False, True, False, False, False]
    assert sorted(first_rejects["row"]) == [4]
    assert sorted(place_rejects["row"]) == [7, 9]


def test_checking_addresses_while_placing_equals_checking_first(tmp_path: Path) -> None:
    """A placer of one's own gets the rows geocoded first; the check of addresses against
    coordinates runs on another thread meanwhile (gridwatch.pipeline._place): the same placed
    rows, flags, distances and rejects as checking first and placing after."""
    from gridwatch.geocoding.records import geocode_records_later
    from gridwatch.ingest.records import read_issues
    from gridwatch.pipeline import _place

    config = load_config(write_project(tmp_path))
    export = _write(tmp_path / "mixed.csv", _mixed_rows())
    records = read_issues(export, settings=config.input).records
    layers = load_layers(config)
    first, first_rejects = geocode_records(records, layers, config)
    placed, place_rejects = place_records(first, layers, config)
    later, later_rejects, check = geocode_records_later(records, layers, config)
    assert check is not None
    beside, beside_rejects = _place(None, later, layers, config, check)
    pd.testing.assert_frame_equal(beside, placed)
    pd.testing.assert_frame_equal(beside_rejects, place_rejects)
    pd.testing.assert_frame_equal(later_rejects, first_rejects)
    assert placed["address_mismatch"].tolist() == [False, False, True, False]
    assert placed["grid_mismatch"].tolist() == [False, False, True, False]

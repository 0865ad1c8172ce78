"""What the app shows, without Streamlit: filters in the URL, levels, masks, figures, lists."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from gridwatch.config import LayerSpec, load_config
from gridwatch.errors import ConfigError
from gridwatch.schema import CATEGORIES, SOURCES, STATUSES
from gridwatch.supervision.context import SupervisionContext
from gridwatch.ui import views

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _app_project import AS_OF, FORMULA, HOSTILE, build_app_project

SPECS = [
    LayerSpec("county", Path("c"), "code", "admin"),
    LayerSpec("town", Path("t"), "code", "admin", parent="county"),
    LayerSpec("microgrid", Path("m"), "code", "microgrid", parent="grid"),
    LayerSpec("grid", Path("g"), "code", "grid", parent="town"),
    LayerSpec("basin", Path("b"), "code", "basin"),
    LayerSpec("redline", Path("r"), "code", "redline", near_m=500.0),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from gridwatch.placing.layers import load_layers
    from gridwatch.store.transactional import Store
    from gridwatch.supervision.codes import evaluate_as_of

    config_path, url = build_app_project(tmp_path_factory.mktemp("views-project"))
    config = load_config(config_path)
    with Store(url) as store:
        issues, history = store.issues(), store.history()
    evaluated = evaluate_as_of(issues, as_of=AS_OF, history=history)
    layers = load_layers(config)
    context = SupervisionContext.from_frames(issues, history, config=config, layers=layers)
    return {"config": config, "issues": issues, "history": history, "evaluated": evaluated,
            "layers": layers, "context": context}


def _keep(data: dict, filters: views.Filters, plan: views.ViewPlan | None = None) -> np.ndarray:
    assert data["context"].metric_crs == "EPSG:4549"
    return views.filter_problems(data["context"], data["evaluated"], filters,
                                 plan=plan).to_numpy()


# --- URL ------------------------------------------------------------------------------------

_filters = st.builds(
    views.Filters,
    level=st.sampled_from([None, "county", "grid"]),
    area=st.one_of(st.none(), st.text("ABC123网格", min_size=1, max_size=8)),
    basin=st.sampled_from([None, "B1"]),
    redline_mode=st.sampled_from(views.REDLINE_MODES),
    categories=st.lists(st.sampled_from(CATEGORIES), unique=True).map(tuple),
    sources=st.lists(st.sampled_from(SOURCES), unique=True).map(tuple),
    statuses=st.lists(st.sampled_from(STATUSES), unique=True).map(tuple),
    codes=st.lists(st.sampled_from(views.CODE_FILTERS), unique=True).map(tuple),
    start=st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2030, 1, 1))),
    as_of=st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2030, 1, 1))),
    colour=st.sampled_from(views.COLOUR_BY),
    heat=st.booleans(),
    lang=st.sampled_from(["zh", "en"]),
)


@given(_filters)
@settings(max_examples=60, deadline=None)
def test_filters_survive_the_url(filters: views.Filters) -> None:
    query = views.filters_to_query(filters)
    assert all(isinstance(v, str) for v in query.values())
    assert views.filters_from_query(query) == filters


def test_url_values_not_understood_are_dropped_and_named() -> None:
    filters = views.filters_from_query({"codes": ["red,purple"], "as_of": "yesterday",
                                        "colour": "rainbow", "heat": "1", "area": "G1"})
    assert filters.codes == ("red",)
    assert filters.as_of is None and filters.colour == "red" and filters.heat
    assert set(filters.ignored) == {"codes=purple", "as_of=yesterday", "colour=rainbow"}
    assert views.filters_to_query(views.Filters()) == {}


# --- levels ---------------------------------------------------------------------------------

def test_levels_follow_the_parent_chain() -> None:
    assert views.area_levels(SPECS) == ["county", "town", "grid", "microgrid"]
    assert views.city_levels(SPECS) == ["county", "town", "grid"]


def test_view_plan_drills_down_one_level_and_shows_points_from_grids() -> None:
    city = views.view_plan(SPECS, None, None)
    assert (city.layer, city.within, city.show_points) == ("county", None, False)
    town = views.view_plan(SPECS, "county", "C1")
    assert (town.layer, town.within, town.show_points) == ("town", ("county", "C1"), False)
    grid = views.view_plan(SPECS, "grid", "G111")
    assert (grid.layer, grid.show_points) == ("microgrid", True)
    finest = views.view_plan(SPECS, "microgrid", "G111M1")
    assert (finest.layer, finest.show_points) == ("microgrid", True)
    with pytest.raises(ConfigError, match="only inside a chosen area"):
        views.view_plan(SPECS, "microgrid", None)
    with pytest.raises(ConfigError, match="basin"):
        views.view_plan(SPECS, "basin", None)


def test_area_options_label_name_and_code(data: dict) -> None:
    options = views.area_options(data["layers"]["county"])
    assert options == {"C1": "测试县1（C1）", "C2": "测试县2（C2）"}


# --- geometry -------------------------------------------------------------------------------

def test_simplify_keeps_every_area_and_rounds_coordinates() -> None:
    circle = Point(120.8, 30.7).buffer(0.01, quad_segs=64)
    layer = gpd.GeoDataFrame({"area_id": ["a", "b"]},
                             geometry=[circle, box(120.9, 30.7, 120.90001, 30.70001)], crs=4326)
    out = views.simplify_layer(layer, 50.0)
    assert not out.geometry.is_empty.any() and out.geometry.is_valid.all()
    assert shapely.get_num_coordinates(out.geometry.iloc[0]) < \
        shapely.get_num_coordinates(circle) / 3
    xy = shapely.get_coordinates(out.geometry.to_numpy())
    assert np.allclose(xy, np.round(xy, 5))
    assert out.geometry.iloc[0].symmetric_difference(circle).area < 0.05 * circle.area
    with pytest.raises(ConfigError, match="tolerance_m"):
        views.simplify_layer(layer, -1)


def test_belt_is_the_ring_around_a_zone(data: dict) -> None:
    zones = data["layers"]["redline"]
    belt = views.belt_shapes(zones, 500.0, metric_crs="EPSG:4549")
    ring = belt.to_crs(4549).geometry.iloc[0]
    zone = zones.to_crs(4549).geometry.iloc[0]
    assert ring.intersection(zone).area < 1.0
    expected = zone.buffer(500).area - zone.area
    assert ring.area == pytest.approx(expected, rel=0.02)


# --- filtering and figures ------------------------------------------------------------------

def test_filters_select_the_right_problems(data: dict) -> None:
    issues, ev = data["issues"], data["evaluated"]
    every = _keep(data, views.Filters())
    assert every.all()
    water = _keep(data, views.Filters(categories=("water",)))
    assert (issues.loc[water, "category"] == "water").all() and 0 < water.sum() < len(issues)
    basin = _keep(data, views.Filters(basin="B2"))
    assert (issues.loc[basin, "basin_id"] == "B2").all() and basin.sum() > 0
    red = _keep(data, views.Filters(codes=("red",)))
    assert (ev.loc[red, "code"] == "red").all()
    closed = _keep(data, views.Filters(codes=("closed",)))
    assert ev.loc[closed, "code"].isin(["closed_on_time", "closed_late"]).all()
    assert closed.sum() + red.sum() + _keep(data, views.Filters(codes=("yellow", "green"))).sum() \
        == len(issues)
    plan = views.view_plan(data["config"].layers, "grid", "G111")
    inside = _keep(data, views.Filters(), plan)
    assert set(issues.loc[inside, "grid_id"]) == {"G111"}
    day = pd.to_datetime(issues["reported_at"]).dt.tz_convert("Asia/Shanghai").dt.date
    span = _keep(data, views.Filters(start=dt.date(2026, 10, 20), end=dt.date(2026, 10, 25)))
    assert span.sum() == ((day >= dt.date(2026, 10, 20)) & (day <= dt.date(2026, 10, 25))).sum()


def test_redline_inside_belt_and_near(data: dict) -> None:
    issues = data["issues"]
    inside = _keep(data, views.Filters(redline_mode="inside"))
    belt = _keep(data, views.Filters(redline_mode="belt"))
    near = _keep(data, views.Filters(redline_mode="near"))
    assert set(issues.loc[inside, "issue_id"]) >= {"P0002", "P0003"}
    assert "P0004" in set(issues.loc[belt, "issue_id"])  # 300 m east of the zone
    assert not (inside & belt).any() and (near == (inside | belt)).all()
    zone_belt = _keep(data, views.Filters(redline="RL1", redline_mode="belt"))
    assert (zone_belt == belt).all()  # one zone only: the same problems
    assert not _keep(data, views.Filters(redline="RL9", redline_mode="near")).any()


def test_headline_figures_count_codes(data: dict) -> None:
    from gridwatch.supervision.codes import evaluate_as_of

    ev = data["evaluated"]
    before = evaluate_as_of(data["issues"], as_of="2026-10-24", history=data["history"])
    keep = pd.Series(True, index=ev.index)
    figures = views.headline_figures(ev, before, keep)
    assert figures["red"] == int((ev["code"] == "red").sum())
    assert figures["open"] == int(ev["is_open"].sum())
    assert figures["red_change"] == figures["red"] - int((before["code"] == "red").sum())
    assert figures["closure_rate"] == pytest.approx(figures["closed"] / figures["problems"])
    none = views.headline_figures(ev, before, pd.Series(False, index=ev.index))
    assert none["problems"] == 0 and np.isnan(none["closure_rate"])


def test_inspection_list_is_urgent_first_and_exports_safely(data: dict, tmp_path: Path) -> None:
    from gridwatch.output.files import write_table

    names = {"grid": dict(zip(data["layers"]["grid"]["area_id"], data["layers"]["grid"]
                              ["area_name"], strict=True))}
    keep = pd.Series(True, index=data["issues"].index)
    table = views.inspection_list(data["issues"], data["evaluated"], keep, area_names=names)
    assert set(table["code"]) <= {"red", "yellow", "green"}
    red = table[table["code"] == "red"]
    assert table["code"].iloc[: len(red)].eq("red").all()
    assert red["days_overdue"].is_monotonic_decreasing
    assert table.loc[table["grid_id"] == "G111", "grid_name"].eq("网格111").all()
    csv = write_table(table, tmp_path / "list.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf")
    text = csv.decode("utf-8-sig")
    assert "'" + FORMULA.replace('"', '""') in text and HOSTILE in text


def test_weekly_trend_counts_new_problems(data: dict) -> None:
    keep = pd.Series(True, index=data["issues"].index)
    as_of = dt.date.fromisoformat(AS_OF)
    context = SupervisionContext.from_frames(data["issues"], data["history"])
    trend = views.weekly_trend(context.restrict(keep), as_of=as_of, weeks=3)
    assert trend["week"].nunique() == 3
    first = dt.date.fromisoformat(str(trend["week_end"].min())) - dt.timedelta(days=6)
    day = pd.to_datetime(data["issues"]["reported_at"]).dt.tz_convert("Asia/Shanghai").dt.date
    assert trend["new"].sum() == ((day >= first) & (day <= as_of)).sum()
    assert trend.groupby("week")["overdue"].sum().iloc[-1] == \
        int((data["evaluated"]["code"] == "red").sum())
    with pytest.raises(ConfigError, match="weeks"):
        views.weekly_trend(context, as_of=as_of, weeks=0)


# --- what the exports are made of -----------------------------------------------------------

def test_area_figures_flag_the_hot_grid_and_export_in_every_format(data: dict,
                                                                   tmp_path: Path) -> None:
    import zipfile

    import pyogrio

    from gridwatch.output.files import write_layer

    keep = pd.Series(True, index=data["issues"].index)
    shapes = data["layers"]["grid"]
    figures = views.area_figures(data["issues"], data["evaluated"], keep, shapes, layer="grid",
                                 as_of=dt.date.fromisoformat(AS_OF), min_overdue=20)
    assert len(figures) == len(shapes) == 8
    assert figures["red"].sum() == int((data["evaluated"]["code"] == "red").sum())
    assert figures.loc[figures["hotspot"], "area_id"].tolist() == ["G111"]
    assert (figures["red"] <= figures["open"]).all()
    water = views.area_figures(data["issues"], data["evaluated"],
                               data["issues"]["category"] == "water", shapes, layer="grid",
                               as_of=dt.date.fromisoformat(AS_OF))
    assert water["open"].sum() < figures["open"].sum()
    layer = figures.drop(columns=["parent_id"]).assign(bin=0)
    for name in ("hot.gpkg", "hot.geojson"):
        back = pyogrio.read_dataframe(write_layer(layer, tmp_path / name))
        assert sorted(back["area_id"]) == sorted(layer["area_id"])
        assert set(back.loc[back["hotspot"].astype(bool), "area_name"]) == {"网格111"}
    shp = write_layer(layer, tmp_path / "hot.shp.zip")
    with zipfile.ZipFile(shp) as archive:
        assert any(n.endswith(".cpg") for n in archive.namelist())
    kml = write_layer(layer, tmp_path / "hot.kml", style_column="bin").read_text("utf-8")
    assert kml.count("<Placemark") == 8 and "网格111" in kml


def test_monthly_review_workbook_of_the_level(data: dict, tmp_path: Path) -> None:
    import openpyxl

    from gridwatch.output.files import write_workbook
    from gridwatch.supervision.review import monthly_review

    context = SupervisionContext.from_frames(data["issues"], data["history"],
                                             layers=data["layers"])
    tables = monthly_review(context, "2026-10", layer="grid")
    book = openpyxl.load_workbook(write_workbook(tables, tmp_path / "review.xlsx"))
    assert "summary" in book.sheetnames and "by_area" in book.sheetnames

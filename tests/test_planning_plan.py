"""The field plan on the demo city: feasible routes, at least the naive plan's priority,
deterministic; the CLI; results flowing back into the next plan."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import invoke, sqlite_url
from pyproj import Transformer

from gridwatch.cli import main
from gridwatch.planning.plan import make_plan, plan_summary
from gridwatch.supervision.context import open_context


@pytest.fixture(scope="module")
def context(plan_city):
    return open_context(plan_city["config"], plan_city["url"])


@pytest.fixture(scope="module")
def plan(context):
    return make_plan(context, teams=3, days=2, starts=["市局"])


def _metric(context, lon, lat):
    xy = Transformer.from_crs("EPSG:4326", context.metric_crs, always_xy=True)
    x, y = xy.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x), np.asarray(y)


def _check_routes(plan, context, routes: pd.DataFrame) -> None:
    """Every team-day starts and ends at its team's base and fits the working day, computed
    here from the sites' coordinates and the settings, not from the plan's own figures."""
    s = plan.settings
    speed = s.speed_kmh * 1000 / 60
    sites = plan.sites.set_index("site_id")
    seen: list[str] = []
    for route in routes.itertuples(index=False):
        base = plan.bases[plan.bases["team"] == route.team].iloc[0]
        ids = route.site_ids.split(",") if route.site_ids else []
        seen += ids
        lon = [base.lon, *sites.loc[ids, "lon"], base.lon]
        lat = [base.lat, *sites.loc[ids, "lat"], base.lat]
        x, y = _metric(context, lon, lat)
        metres = float(np.hypot(np.diff(x), np.diff(y)).sum()) * s.detour_factor
        minutes = metres / speed + float(sites.loc[ids, "visit_minutes"].sum())
        assert minutes <= s.day_minutes + 1e-6, (route.team, route.day, minutes)
        assert route.km == pytest.approx(metres / 1000, rel=1e-6, abs=1e-3)
        assert route.minutes == pytest.approx(minutes, rel=1e-6, abs=1e-3)
        assert route.priority == pytest.approx(float(sites.loc[ids, "priority"].sum()))
    assert len(seen) == len(set(seen)), "a site is visited twice"


def test_every_route_is_feasible_and_covers_at_least_the_naive_plan(plan, context) -> None:
    _check_routes(plan, context, plan.routes)
    _check_routes(plan, context, plan.naive)
    summary = plan_summary(plan)
    ours, naive = summary["optimised"], summary["naive"]
    print(f"\ndemo city, 3 teams x 2 days: priority OR-Tools {ours['priority']} vs naive "
          f"{naive['priority']}; km {ours['km']} vs {naive['km']}; sites {ours['sites']} vs "
          f"{naive['sites']}")
    assert ours["priority"] >= naive["priority"]
    assert ours["sites"] > 0
    assert len(plan.routes) == 6 and set(plan.routes["base"]) == {"市局"}
    # the sites' visit order and arrival times agree with the routes
    for route in plan.routes.itertuples(index=False):
        mine = plan.sites[(plan.sites["team"] == route.team) & (plan.sites["day"] == route.day)]
        ordered = mine.sort_values("stop")
        assert ",".join(ordered["site_id"]) == route.site_ids
        assert ordered["stop"].tolist() == list(range(1, len(ordered) + 1))
        assert ordered["arrive_minutes"].is_monotonic_increasing


def test_the_plan_is_deterministic(plan, context) -> None:
    again = make_plan(context, teams=3, days=2, starts=["市局"])
    pd.testing.assert_frame_equal(again.routes, plan.routes)
    pd.testing.assert_frame_equal(again.naive, plan.naive)


def test_sites_hold_open_problems_and_their_scores(plan, context) -> None:
    problems = plan.problems
    assert set(problems["code"]) <= {"red", "yellow", "green"}
    by_site = problems.groupby("site_id")["priority"].sum()
    sites = plan.sites.set_index("site_id")
    assert np.allclose(sites["priority"], by_site.reindex(sites.index))
    # the red problems carry their code's points, and their why says so
    red = problems[problems["code"] == "red"]
    assert (red["colour_points"] == plan.settings.weights.red).all()
    assert red["why"].str.contains("红码").all()


def test_area_restricts_the_plan(context) -> None:
    county = context.issues["county_id"].dropna().astype("str").value_counts().index[0]
    one = make_plan(context, teams=1, days=1, starts=["市局"], layer="county", area=county,
                    hotspots=False)
    ids = set(one.problems["issue_id"])
    placed = context.issues.set_index("issue_id").loc[list(ids), "county_id"]
    assert (placed == county).all()


def test_cli_prints_both_plans_and_writes_packages(plan_city, tmp_path: Path) -> None:
    out = tmp_path / "packages"
    args = ["plan", "--teams", "3", "--days", "2", "--start", "市局", "--config",
            str(plan_city["config_path"]), "--db", plan_city["url"], "--out", str(out),
            "--no-hotspots"]
    result = invoke(args)
    assert result.exit_code == 0, result.output
    assert "OR-Tools" in result.output and "naive" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "plan.json", "plan.xlsx", "team1-day1", "team1-day2", "team2-day1", "team2-day2",
        "team3-day1", "team3-day2"]
    summary = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert summary["optimised"]["priority"] >= summary["naive"]["priority"]
    result = invoke([*args[:-3], "--json", "--no-hotspots"])
    payload = json.loads(result.output)
    assert payload["optimised"]["priority"] == summary["optimised"]["priority"]
    assert len(payload["routes"]) == 6


@pytest.mark.parametrize(("args", "message"), [
    (["--start", "火星"], "--start '火星' is not a base"),
    ([], "--start is required"),
    (["--start", "市局", "--area", "x"], "--area needs --layer"),
    (["--start", "市局", "--layer", "county", "--area", "nowhere"], "--area 'nowhere'"),
])
def test_cli_errors_name_the_option(plan_city, args, message) -> None:
    result = invoke(["plan", *args, "--config", str(plan_city["config_path"]), "--db",
                     plan_city["url"], "--no-hotspots"])
    assert result.exit_code == 1
    assert message in result.output


def test_results_flow_back_into_the_next_plan(plan_city, tmp_path: Path) -> None:
    """A team finds one problem rectified and one not: the first leaves the plan (its code
    changes), the second is escalated and scores its field result next time."""
    from gridwatch.planning.package import checklist, team_days

    store = tmp_path / "store.sqlite"
    shutil.copyfile(Path(plan_city["url"].removeprefix("sqlite:///")), store)
    url = sqlite_url(store)
    config = str(plan_city["config_path"])
    before_ctx = open_context(plan_city["config"], url)
    before = make_plan(before_ctx, teams=1, days=1, starts=["市局"], hotspots=False)
    team, day, sites = next(team_days(before))
    sheet = checklist(before, team, day, sites)
    assert len(sheet) >= 2
    sheet["检查结果"] = ""
    sheet.loc[0, "检查结果"] = "已整改"
    sheet.loc[1, "检查结果"] = "未整改"
    sheet["检查时间"] = str(before.as_of) + " 16:00"
    filled = tmp_path / "filled.xlsx"
    sheet.to_excel(filled, index=False)
    done, failed = sheet.loc[0, "问题编号"], sheet.loc[1, "问题编号"]
    result = invoke(["plan", "results", str(filled), "--config", config, "--db", url])
    assert result.exit_code == 0, result.output
    assert "closed 1" in result.output and "escalated 1" in result.output
    after_ctx = open_context(plan_city["config"], url)
    evaluated = after_ctx.evaluate(before.as_of).set_axis(after_ctx.issues["issue_id"])
    assert evaluated.loc[done, "code"] in ("closed_on_time", "closed_late")
    after = make_plan(after_ctx, teams=1, days=1, starts=["市局"], hotspots=False,
                      field_counts=_counts(url))
    problems = after.problems.set_index("issue_id")
    assert done not in problems.index
    weights = before.settings.weights
    assert problems.loc[failed, "field_not_rectified_points"] == weights.field_not_rectified
    old = before.problems.set_index("issue_id")
    assert problems.loc[failed, "priority"] > old.loc[failed, "priority"]
    assert "现场未整改1次" in problems.loc[failed, "why"]


def _counts(url: str) -> pd.DataFrame:
    from gridwatch.planning.results import field_counts
    from gridwatch.store import Store

    with Store(url) as store:
        return field_counts(store.field_results())


def test_a_road_network_gives_distances_along_the_roads(plan_city, context,
                                                        tmp_path: Path) -> None:
    """A lattice of roads every 2 km: distances are at least the straight line and the routes
    fit the day along the roads."""
    import geopandas as gpd
    from shapely.geometry import LineString

    from gridwatch.planning.plan import road_distances

    lon, lat = context.issues["lon"], context.issues["lat"]
    x, y = _metric(context, [lon.min() - 0.05, lon.max() + 0.05],
                   [lat.min() - 0.05, lat.max() + 0.05])
    lines = [LineString([(gx, y[0]), (gx, y[1])]) for gx in np.arange(x[0], x[1], 2000)]
    lines += [LineString([(x[0], gy), (x[1], gy)]) for gy in np.arange(y[0], y[1], 2000)]
    roads = tmp_path / "roads.gpkg"
    gpd.GeoDataFrame(geometry=lines, crs=context.metric_crs).to_file(roads, driver="GPKG")
    px, py = x[0] + np.array([3000.0, 9100.0, 20_500.0]), y[0] + np.array([4000.0, 100.0,
                                                                            15_000.0])
    along = road_distances(roads, px, py, metric_crs=context.metric_crs)
    straight = np.hypot(px[:, None] - px[None, :], py[:, None] - py[None, :])
    assert (along >= straight - 1e-6).all()
    # on a lattice the way between two points is at most their Manhattan distance plus the
    # steps to the nearest crossings (each within 1 km along both axes)
    manhattan = np.abs(px[:, None] - px[None, :]) + np.abs(py[:, None] - py[None, :])
    assert (along <= manhattan + 4 * 1415).all()
    routed = make_plan(context, teams=1, days=1, starts=["市局"], road_network=roads,
                       hotspots=False)
    assert routed.routes["minutes"].max() <= routed.settings.day_minutes + 1e-6
    assert routed.routes["sites"].sum() > 0


def test_cli_zip_gcj02_and_an_out_that_is_a_file(plan_city, tmp_path: Path) -> None:
    common = ["plan", "--teams", "1", "--days", "1", "--start", "南湖分局", "--config",
              str(plan_city["config_path"]), "--db", plan_city["url"], "--no-hotspots"]
    a_file = tmp_path / "plan.txt"
    a_file.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(main, [*common, "--out", str(a_file)])
    assert result.exit_code != 0 and "is a file; give a folder" in result.output
    out = tmp_path / "zips"
    result = invoke([*common, "--out", str(out), "--zip", "--coordinates", "gcj02"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["plan.json", "plan.xlsx", "team1-day1.zip"]
    import zipfile

    with zipfile.ZipFile(out / "team1-day1.zip") as archive:
        gpx = archive.read("team1-day1/route.gpx").decode("utf-8")
    assert "坐标系 GCJ02" in gpx

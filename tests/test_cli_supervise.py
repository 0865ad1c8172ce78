import datetime as dt
import json
import math
from pathlib import Path

import chinese_calendar
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import (
    SH,
    demo_city,
    grid_cells,
    invoke,
    local,
    sqlite_url,
    utc_columns,
    write_grid_project,
)
from pyproj import Transformer

from gridwatch.cli import main
from gridwatch.store.transactional import Store
from gridwatch.supervision.incidents import group_incidents, parse_duplicate_settings
from gridwatch.supervision.rebound import find_rebounds, parse_rebound_settings
from gridwatch.ui.i18n import column_labels

COMMANDS = ("status", "league", "remind", "review")


def placed(statuses: dict[str, str], closed: dict[str, str]) -> pd.DataFrame:
    ids = ["p1", "p2", "p3", "p4", "p5"]
    frame = pd.DataFrame({
        "issue_id": ids,
        "reported_at": [local("2024-03-01 09:00"), local("2024-03-01 10:00"),
                        local("2024-03-04 09:00"), local("2024-03-05 09:00"),
                        local("2024-03-05 09:00")],
        "category": ["water", "water", "air", "noise", "water"],
        "source": ["hotline"] * 5,
        "lon": [120.801, 120.8011, 120.815, 120.825, 120.83],
        "lat": [30.725, 30.725, 30.725, 30.735, 30.735],
        "coord_system": ["wgs84"] * 5,
        "status": [statuses.get(i, "assigned") for i in ids],
        "deadline": [local("2024-03-06 23:59:59")] * 5,
        "closed_at": [local(closed[i]) if i in closed else pd.NaT for i in ids],
        "responsible_unit": ["南湖区", "南湖区", "秀洲区", "秀洲区", None],
        "grid_id": ["G00", "G00", "G01", "G11", "G11"],
        "location_flag": [""] * 5,
        "grid_mismatch": [False] * 5,
    })
    return utc_columns(frame, "deadline", "closed_at")


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str]:
    cells = grid_cells(120.8, 30.72, 0.01, rows=2, cols=2)
    config = write_grid_project(tmp_path, cells, """
[supervision]
yellow_days = 2

[supervision.escalation]
reminder_letter = 1
assignment_sheet = 2
supervision_order = 5
""")
    url = sqlite_url(tmp_path / "store.sqlite")
    with Store(url) as store:
        first = placed({}, {})
        store.import_records(first, layers=[("grid", "grid")], files=["day1.csv"], rows_in=5,
                             rejected=0, observed_at=local("2024-03-05 18:00").to_pydatetime())
        # Day 2: p1 closed on time, p2 closed late (after the deadline), duplicates p1/p2.
        second = placed({"p1": "closed", "p2": "closed"},
                        {"p1": "2024-03-06 10:00", "p2": "2024-03-08 10:00"})
        store.import_records(second, layers=[("grid", "grid")], files=["day2.csv"], rows_in=5,
                             rejected=0, observed_at=local("2024-03-08 18:00").to_pydatetime())
    return config, url


def test_every_command_has_help() -> None:
    for name in COMMANDS:
        result = invoke([name, "--help"])
        assert result.exit_code == 0 and len(main.commands[name].help or "") > 20


def test_status_json_figures(project) -> None:
    config, url = project
    result = invoke(["status", "--as-of", "2024-03-07", "--layer", "grid", "--json",
                  "--config", str(config), "--db", url])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    rows = {r["area_id"]: r for r in payload["areas"]}
    assert set(rows) == {"G00", "G01", "G10", "G11"}
    # p1 and p2 are one incident (3.6 m, 1 h apart, same category): counted once, via p1.
    assert {k: rows["G00"][k] for k in ("open", "closed_on_time", "closed_late", "red")} == {
        "open": 0, "closed_on_time": 1, "closed_late": 0, "red": 0}
    assert (rows["G01"]["open"], rows["G01"]["red"], rows["G01"]["overdue_rate"]) == (1, 1, 1.0)
    assert (rows["G11"]["red"], rows["G11"]["open"]) == (2, 2)
    assert rows["G10"]["open"] == 0 and rows["G10"]["overdue_rate"] is None
    for key in ("area_id", "open", "red", "yellow", "green", "closed_on_time", "closed_late",
                "overdue_rate"):
        assert key in rows["G00"]
    # As of Mar 5 everything is open; p1..p5 due Mar 6 is 1 working day away: yellow.
    early = json.loads(invoke(["status", "--as-of", "2024-03-05", "--layer", "grid", "--json",
                            "--config", str(config), "--db", url]).output)
    assert sum(r["yellow"] for r in early["areas"]) == 4


def test_league_remind_review_files(project, tmp_path) -> None:
    config, url = project
    common = ["--config", str(config), "--db", url]
    result = invoke(["league", "--week", "2024-W10", "--layer", "grid", "--out",
                  str(tmp_path / "league.csv"), *common])
    assert result.exit_code == 0, result.output
    league = pd.read_csv(tmp_path / "league.csv", encoding="utf-8-sig")
    assert league["area_id"].tolist()[0] in {"G00", "G10"}  # the areas with nothing overdue
    assert set(league["area_id"]) == {"G00", "G01", "G10", "G11"}
    result = invoke(["remind", "--as-of", "2024-03-09", "--out", str(tmp_path / "r.xlsx"), *common])
    assert result.exit_code == 0, result.output
    sheet = pd.read_excel(tmp_path / "r.xlsx", sheet_name="all")
    # Mar 9: p3, p4, p5 are 3 days overdue -> 交办单 (assignment_sheet from 2 days).
    assert sorted(sheet["issue_id"]) == ["p3", "p4", "p5"]
    assert set(sheet["escalation"]) == {"assignment_sheet"}
    result = invoke(["review", "--month", "2024-03", "--out", str(tmp_path / "rev.xlsx"), *common])
    assert result.exit_code == 0, result.output
    assert openpyxl.load_workbook(tmp_path / "rev.xlsx").sheetnames[0] == "summary"
    assert (tmp_path / "rev.md").is_file() and (tmp_path / "rev.html").is_file()


def test_bad_settings_are_reported_together(project, tmp_path, monkeypatch) -> None:
    config, url = project
    monkeypatch.chdir(tmp_path / "..")  # no gridwatch.toml in the working folder
    text = config.read_text(encoding="utf-8")
    config.write_text(text + "\n[supervision.rebound]\nradius_m = -5\n\n[deadlines]\nunit = 'x'\n",
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["status", "--as-of", "2024-03-07", "--layer", "grid",
                                       "--config", str(config), "--db", url])
    assert result.exit_code == 1
    assert "radius_m" in result.output and "'x'" in result.output
    result = CliRunner().invoke(main, ["status", "--as-of", "March", "--layer", "grid",
                                       "--db", url])
    assert result.exit_code == 1 and "YYYY-MM-DD" in result.output


# --- the demo city: planted truths and an independent row-by-row recomputation -----------

AS_OF = dt.date(2026, 10, 28)  # inside the snapshot days, so the status history matters
CLOSED = ("closed", "verified")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return demo_city(tmp_path_factory.mktemp("demo"), problems=3000, scale=0.02, days=120)


@pytest.mark.slow
def test_planted_rebounds_and_duplicates_are_found(city) -> None:
    issues, planted = city["issues"], city["planted"]
    section = city["config"].section("supervision")
    rebounds = find_rebounds(issues, parse_rebound_settings(section["rebound"]))
    linked = dict(zip(issues["issue_id"], rebounds["rebound_of"], strict=True))
    assert planted["rebounds"]
    for case in planted["rebounds"]:
        assert linked[case["repeat"]] == case["original"], case
    incidents = group_incidents(issues, parse_duplicate_settings(section["duplicates"]))
    incident_of = dict(zip(issues["issue_id"], incidents["incident_id"], strict=True))
    assert planted["duplicates"]
    for case in planted["duplicates"]:
        assert {incident_of[i] for i in case["issue_ids"]} == {case["incident"]}, case


def _by_hand(city: dict, as_of: dt.date) -> pd.DataFrame:
    """Per stored record: known, open, code, close date, recomputed with plain Python."""
    issues, history = city["issues"], city["history"]
    cutoff = pd.Timestamp(as_of + dt.timedelta(days=1), tz=SH).tz_convert("UTC")
    rows = history[history["changed_at"] < cutoff].sort_values(["changed_at", "id"])
    last = {r.issue_id: r for r in rows.itertuples()}
    closings: dict[str, pd.Timestamp] = {}
    for r in rows.itertuples():
        if r.status in CLOSED and r.previous_status not in CLOSED:
            closings[r.issue_id] = r.changed_at
    out = []
    for r in issues.itertuples():
        reported = r.reported_at.tz_convert(SH).date()
        if reported > as_of:
            out.append({"known": False, "code": None, "closed_on": None})
            continue
        if r.issue_id in last:
            closed = last[r.issue_id].status in CLOSED
            when = (r.closed_at if pd.notna(r.closed_at) and r.closed_at < cutoff
                    else closings.get(r.issue_id)) if closed else None
        else:
            closed = pd.notna(r.closed_at) and r.closed_at < cutoff
            when = r.closed_at if closed else None
        if closed:
            late = pd.notna(r.deadline) and when is not None and when > r.deadline
            out.append({"known": True, "code": "closed_late" if late else "closed_on_time",
                        "closed_on": when.tz_convert(SH).date() if when is not None else None})
            continue
        code = "green"
        if pd.notna(r.deadline):
            due = r.deadline.tz_convert(SH).date()
            if due < as_of:
                code = "red"
            else:
                left = sum(chinese_calendar.is_workday(as_of + dt.timedelta(days=k))
                           for k in range(1, (due - as_of).days + 1))
                code = "yellow" if left <= 3 else "green"
        out.append({"known": True, "code": code, "closed_on": None})
    return pd.DataFrame(out, index=issues.index)


def _first_reports(city: dict) -> pd.Series:
    """Rows counted as incidents, found with a plain time sweep and union-find: reports of one
    category within 50 m and 24 h are linked; each group counts by its earliest report."""
    issues = city["issues"]
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True).transform(
        issues["lon"].to_numpy(), issues["lat"].to_numpy())
    t = issues["reported_at"].tolist()
    ids, cats = issues["issue_id"].tolist(), issues["category"].tolist()
    order = sorted(range(len(issues)), key=lambda i: t[i])
    parent = list(range(len(issues)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for k, i in enumerate(order):
        for j in order[k + 1:]:
            if (t[j] - t[i]).total_seconds() > 24 * 3600:
                break
            if cats[i] == cats[j] and math.hypot(x[i] - x[j], y[i] - y[j]) <= 50:
                parent[find(i)] = find(j)
    first: dict[int, int] = {}
    for i in range(len(issues)):
        root = find(i)
        if root not in first or (t[i], ids[i]) < (t[first[root]], ids[first[root]]):
            first[root] = i
    keep = set(first.values())
    return pd.Series([i in keep for i in range(len(issues))], index=issues.index)


@pytest.mark.slow
def test_status_equals_an_independent_recomputation(city) -> None:
    result = CliRunner().invoke(main, ["status", "--as-of", AS_OF.isoformat(), "--layer", "town",
                                       "--json", "--config", str(city["config_path"]),
                                       "--db", city["url"]], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    got = {r["area_id"]: r for r in json.loads(result.output)["areas"]}
    hand = _by_hand(city, AS_OF)[_first_reports(city)]
    hand["area"] = city["issues"]["town_id"]
    assert hand["code"].isin(["red", "yellow", "green"]).sum() > 50
    for area, part in hand[hand["known"]].groupby("area"):
        counts = part["code"].value_counts()
        want = {c: int(counts.get(c, 0)) for c in ("red", "yellow", "green", "closed_on_time",
                                                   "closed_late")}
        want["open"] = want["red"] + want["yellow"] + want["green"]
        have = {k: got[area][k] for k in want}
        assert have == want, area
        if want["open"]:
            assert got[area]["overdue_rate"] == pytest.approx(want["red"] / want["open"])


@pytest.mark.slow
def test_remind_and_review_equal_the_recomputation(city, tmp_path: Path) -> None:
    common = ["--config", str(city["config_path"]), "--db", city["url"]]
    result = CliRunner().invoke(main, ["remind", "--as-of", AS_OF.isoformat(), "--out",
                                       str(tmp_path / "r.csv"), *common],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    reminders = pd.read_csv(tmp_path / "r.csv", encoding="utf-8-sig")
    hand = _by_hand(city, AS_OF)
    # Reminders go to every report's unit (duplicates included).
    assert (reminders["bucket"] == "overdue").sum() == (hand["code"] == "red").sum()
    result = CliRunner().invoke(main, ["review", "--month", "2026-09", "--layer", "town",
                                       "--out", str(tmp_path / "rev.xlsx"), *common],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = pd.read_excel(tmp_path / "rev.xlsx", sheet_name="summary").set_index("metric")
    month_end = _by_hand(city, dt.date(2026, 9, 30))[_first_reports(city)]
    reported = city["issues"]["reported_at"].dt.tz_convert(SH).dt.strftime("%Y-%m")
    new = int((reported[_first_reports(city)] == "2026-09").sum())
    closed = sum(1 for d in month_end["closed_on"] if d is not None and d.month == 9
                 and d.year == 2026)
    assert summary.loc["new", "2026-09"] == new
    assert summary.loc["closed", "2026-09"] == closed
    assert summary.loc["red", "2026-09"] == (month_end["code"] == "red").sum()


def _week_by_hand(city: dict, week: str) -> pd.DataFrame:
    """Per-town league inputs for ISO ``week`` from the raw records, counting first reports."""
    year, number = (int(p) for p in week.split("-W"))
    first = dt.date.fromisocalendar(year, number, 1)
    last = first + dt.timedelta(days=6)
    keep = _first_reports(city)
    hand = _by_hand(city, last)[keep]
    reported = city["issues"]["reported_at"].dt.tz_convert(SH).dt.date[keep]
    in_week = hand["closed_on"].map(lambda d: d is not None and first <= d <= last)
    frame = pd.DataFrame({
        "area_id": city["issues"]["town_id"][keep],
        "new": reported.between(first, last) & hand["known"],
        "closed": in_week,
        "closed_on_time": in_week & (hand["code"] == "closed_on_time"),
        "closed_late": in_week & (hand["code"] == "closed_late"),
        "open": hand["code"].isin(["red", "yellow", "green"]),
        "red": hand["code"] == "red",
    })
    frame = frame[frame["area_id"].notna()]
    return frame.groupby("area_id").sum().astype("int64")


def _scored(counts: pd.DataFrame, league: dict) -> pd.DataFrame:
    """Score and rank as docs/supervision.md defines them; unmeasurable rates take their best."""
    weights = league.get("weights", {"on_time_rate": 60, "overdue_rate": -40})
    assert set(weights) <= {"on_time_rate", "overdue_rate"}, weights  # all this test computes
    metric = {
        "on_time_rate": [c["closed_on_time"] / c["closed"] if c["closed"] else 1.0
                         for _, c in counts.iterrows()],
        "overdue_rate": [c["red"] / c["open"] if c["open"] else 0.0
                         for _, c in counts.iterrows()],
    }
    score = [league.get("base", 40) + sum(w * metric[name][i] for name, w in weights.items())
             for i in range(len(counts))]
    out = counts.assign(score=[round(s, 6) for s in score])
    # Ties share the best rank: 1 + the number of strictly better scores.
    out["rank"] = [1 + sum(o > s for o in out["score"]) for s in out["score"]]
    return out


@pytest.mark.slow
def test_league_equals_an_independent_recomputation(city, tmp_path: Path) -> None:
    week, before = "2026-W43", "2026-W42"
    result = CliRunner().invoke(main, ["league", "--week", week, "--layer", "town", "--out",
                                       str(tmp_path / "league.csv"), "--config",
                                       str(city["config_path"]), "--db", city["url"]],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    got = pd.read_csv(tmp_path / "league.csv", encoding="utf-8-sig", dtype={"area_id": "str"})
    assert got["area_id"].notna().all() and got["area_id"].is_unique
    ids = pd.Index(got["area_id"])
    settings = city["config"].section("supervision").get("league", {})
    columns = ["new", "closed", "closed_on_time", "closed_late", "open", "red"]
    now_counts, then_counts = _week_by_hand(city, week), _week_by_hand(city, before)
    assert set(now_counts.index) <= set(ids) and set(then_counts.index) <= set(ids)
    # Towns of the layer with no problem are listed with zeros.
    now = _scored(now_counts.reindex(ids, fill_value=0), settings)
    then = _scored(then_counts.reindex(ids, fill_value=0), settings)
    assert (now["red"] > 0).sum() >= 3 and now["closed"].sum() > 20  # a week with problems
    assert now["score"].nunique() >= 3
    mine = got.set_index("area_id")
    assert mine[columns].astype("int64").equals(now[columns])
    assert mine["score"].to_numpy() == pytest.approx(now["score"].to_numpy(), abs=1e-6)
    assert mine["rank"].tolist() == now["rank"].tolist()
    # Best first, ties by area_id.
    order = sorted(ids, key=lambda a: (-now.loc[a, "score"], a))
    assert got["area_id"].tolist() == order
    assert mine["previous_rank"].tolist() == then["rank"].tolist()
    assert mine["rank_change"].tolist() == (then["rank"] - now["rank"]).tolist()
    cut = sorted(now["score"])[min(settings.get("worst_n", 3), len(now)) - 1]
    assert mine["worst"].tolist() == (now["score"] <= cut).tolist()


# --- the app and the CLI give the same answers (one supervision context) -------------------

def _app_test(city: dict, monkeypatch: pytest.MonkeyPatch, page: str, **query: str):
    """Run one app page on the demo store (AppTest) and return it."""
    pytest.importorskip("streamlit_folium")
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("GRIDWATCH_CONFIG", str(city["config_path"]))
    monkeypatch.setenv("GRIDWATCH_DB", city["url"])
    from _app_project import sign_in

    from gridwatch.access import first_admin

    with Store(city["url"]) as store:  # the demo's administrator, who sees every area
        first_admin(store, actor="test")
    at = sign_in(AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"),
                                   default_timeout=180), "admin")
    at.query_params.update(query)
    at.run()
    if page != "app_pages/overview.py":
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _cli(city: dict, *args: str) -> str:
    common = ["--config", str(city["config_path"]), "--db", city["url"]]
    result = CliRunner().invoke(main, [*args, *common], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_app_and_cli_give_the_same_status_league_reminders_and_review(
        city, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a week that ends before the as-of date: the app lists the problems known by then
    as_of, week, layer = AS_OF.isoformat(), "2026-W43", "town"
    # status: the overview's figures are the CLI's totals
    status = json.loads(_cli(city, "status", "--as-of", as_of, "--layer", layer, "--json"))
    overview = _app_test(city, monkeypatch, "app_pages/overview.py", as_of=as_of, level=layer,
                         lang="en")
    figures = {m.label: int(str(m.value).replace(",", "")) for m in overview.metric
               if str(m.value).replace(",", "").isdigit()}
    totals = pd.DataFrame(status["areas"])[["open", "red", "yellow"]].sum()
    assert [figures[k] for k in ("Open", "Red (overdue)", "Yellow (due soon)")] == \
        totals.tolist()
    # league and reminders: the league page's tables are the CLI's files
    _cli(city, "league", "--week", week, "--layer", layer, "--out", str(tmp_path / "l.csv"))
    _cli(city, "remind", "--as-of", as_of, "--out", str(tmp_path / "r.csv"))
    page = _app_test(city, monkeypatch, "app_pages/league.py", as_of=as_of, level=layer,
                     lang="en")
    page.selectbox(key="l_week").set_value(week).run()
    assert not page.exception, [e.message for e in page.exception]
    league_cli = pd.read_csv(tmp_path / "l.csv", encoding="utf-8-sig", dtype={"area_id": str})
    reminders_cli = pd.read_csv(tmp_path / "r.csv", encoding="utf-8-sig", dtype=str)
    # the app shows translated headers: back to the CLI's column names
    back = {label: name for name, label in column_labels(
        [*league_cli.columns, *reminders_cli.columns, "overdue"], "en").items()}
    league_app, summary_app, reminders_app = (d.value.rename(columns=back)
                                              for d in page.dataframe)
    assert "Rank" in page.dataframe[0].value.columns  # translated
    assert league_app["week"].iloc[0] == week
    columns = ["area_id", "rank", "score", "previous_rank", "red", "open", "closed",
               "rebounds", "worst"]
    pd.testing.assert_frame_equal(
        league_app[columns].reset_index(drop=True).astype("float64", errors="ignore"),
        league_cli[columns].astype("float64", errors="ignore"), check_dtype=False)
    assert league_app["rebounds"].sum() > 0  # rebounds reach the app's league now
    assert sorted(reminders_app["issue_id"].astype(str)) == sorted(reminders_cli["issue_id"])
    assert len(summary_app) >= 1
    # review: the app's workbook is the CLI's, sheet by sheet
    from types import SimpleNamespace

    from app_pages import _maps
    from app_pages._shared import stamp, supervision

    sup = supervision(str(city["config_path"]), city["url"], stamp(city["url"]))
    ctx = SimpleNamespace(supervision=sup, timezone=sup.timezone,
                          plan=SimpleNamespace(layer=layer))
    app_book = _maps._review(ctx, "2026-09", tmp_path / "app.xlsx")
    _cli(city, "review", "--month", "2026-09", "--layer", layer, "--out",
         str(tmp_path / "cli.xlsx"))
    for sheet in ("summary", "by_category", "by_source", "by_area", "worst_areas", "rebounds"):
        app_sheet = pd.read_excel(app_book, sheet_name=sheet)
        cli_sheet = pd.read_excel(tmp_path / "cli.xlsx", sheet_name=sheet)
        pd.testing.assert_frame_equal(app_sheet, cli_sheet, check_dtype=False)
    rebounds = pd.read_excel(app_book, sheet_name="summary").set_index("metric")
    assert rebounds.loc["rebounds", "2026-09"] > 0


def test_a_calendar_warning_is_one_plain_line(tmp_path: Path) -> None:
    """A deadline in a year chinese_calendar does not know: one line, no Python source line."""
    cells = grid_cells(120.8, 30.72, 0.01, rows=2, cols=2)
    config = write_grid_project(tmp_path, cells)
    url = sqlite_url(tmp_path / "store.sqlite")
    frame = placed({}, {}).assign(
        reported_at=local("2035-06-01 09:00"),
        deadline=pd.Series(pd.NaT, index=range(5), dtype="datetime64[ns, UTC]"))
    with Store(url) as store:
        store.import_records(frame, layers=[("grid", "grid")], files=["d.csv"], rows_in=5,
                             rejected=0)
    result = invoke(["status", "--as-of", "2035-06-10", "--layer", "grid", "--config",
                     str(config), "--db", url])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "chinese_calendar" in line]
    assert lines and all(line.startswith("warning: chinese_calendar has no holidays for 2035")
                         for line in lines)
    assert "CalendarFallbackWarning" not in result.output
    assert "warnings.warn" not in result.output


def test_status_and_league_read_no_outline(city, tmp_path: Path) -> None:
    """A warm status or league needs area ids and names, not outlines: neither imports
    geopandas (nor reads a layer's geometry) once the layers' cached forms exist."""
    import subprocess
    import sys

    as_of = AS_OF.isoformat()
    week = f"{AS_OF.isocalendar()[0]}-W{AS_OF.isocalendar()[1]:02d}"
    common = ["--config", str(city["config_path"]), "--db", city["url"]]
    script = ("import sys; from gridwatch.cli import main\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              "print('geopandas' in sys.modules, file=sys.stderr)")
    for args in (["status", "--as-of", as_of, "--layer", "town"],
                 ["league", "--week", week, "--layer", "town"]):
        _cli(city, *args)  # the first question may read the layers once (and cache them)
        done = subprocess.run([sys.executable, "-c", script, *args, *common],
                              capture_output=True, text=True, check=True, cwd=tmp_path)
        assert done.stderr.strip().splitlines()[-1] == "False", done.stderr

"""The field package: KML and GPX that standard readers open, a checklist with formulas
neutralised, and an HTML map that works in headless Chromium with nothing from the internet."""

from __future__ import annotations

import base64
import dataclasses
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from gridwatch.placing.coords import from_wgs84
from gridwatch.planning.package import (
    CHECKLIST_COLUMNS,
    PHOTO_MAX_BYTES,
    problem_photos,
    team_days,
    write_packages,
)
from gridwatch.planning.plan import make_plan
from gridwatch.supervision.context import open_context

KML = {"k": "http://www.opengis.net/kml/2.2"}
GPX = {"g": "http://www.topografix.com/GPX/1/1"}
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">${document.title='pwned2'}`"
FORMULA = "=HYPERLINK(\"http://evil\",\"点击\")"


@pytest.fixture(scope="module")
def plan(plan_city):
    context = open_context(plan_city["config"], plan_city["url"])
    made = make_plan(context, teams=2, days=1, starts=["市局", "南湖分局"], hotspots=False)
    # user text as it may come: markup and script in one description, a formula in another
    problems = made.problems.copy()
    first = made.sites.sort_values(["team", "day", "stop"]).query("stop > 0").iloc[0]
    rows = problems.index[problems["site_id"] == first["site_id"]]
    problems.loc[rows[0], "description"] = HOSTILE
    problems.loc[rows[0], "address"] = FORMULA
    return dataclasses.replace(made, problems=problems)


# a 1x1 PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGA"
                       "hKmMIQAAAABJRU5ErkJggg==")


def _hostile_issue(plan) -> str:
    return plan.problems.loc[plan.problems["description"] == HOSTILE, "issue_id"].iloc[0]


@pytest.fixture(scope="module")
def packages(plan, tmp_path_factory):
    out = tmp_path_factory.mktemp("packages")
    photos = tmp_path_factory.mktemp("photos")
    issue = _hostile_issue(plan)
    (photos / f"{issue}.png").write_bytes(PNG)
    (photos / f"{issue}_2.jpg").write_bytes(b"x" * (PHOTO_MAX_BYTES + 1))  # too big: named
    (photos / "other.png").write_bytes(PNG)
    return out, write_packages(plan, out, photos_dir=photos)


def test_photos_are_found_by_issue_id(tmp_path: Path) -> None:
    for name in ("A1.jpg", "A1_2.PNG", "A10.jpg", "A1.txt", "B1.png"):
        (tmp_path / name).write_bytes(PNG)
    assert [p.name for p in problem_photos(tmp_path, "A1")] == ["A1.jpg", "A1_2.PNG"]
    assert problem_photos(tmp_path, "A[1]") == [] and problem_photos(None, "A1") == []


def test_one_package_per_team_day(plan, packages) -> None:
    out, written = packages
    assert [p.name for p in written] == ["team1-day1", "team2-day1"]
    for folder in written:
        assert sorted(p.name for p in folder.iterdir()) == [
            "README.txt", "checklist.xlsx", "map.html", "route.gpx", "route.kml"]
    assert (out / "plan.xlsx").is_file() and (out / "plan.json").is_file()
    assert list(plan.bases["name"]) == ["市局", "南湖分局"]


def test_kml_has_the_base_the_numbered_sites_and_the_route(plan, packages) -> None:
    import pyogrio

    _, written = packages
    for (team, _day, sites), folder in zip(team_days(plan), written, strict=True):
        root = ET.parse(folder / "route.kml").getroot()
        names = [p.find("k:name", KML).text for p in root.iterfind(".//k:Placemark", KML)]
        base = plan.bases.loc[plan.bases["team"] == team, "name"].iloc[0]
        expected = [f"基地 {base}", *(f"{int(s.stop)}. {s.site_id}"
                                      for s in sites.itertuples(index=False))]
        if len(sites):
            expected.append(f"队{team} 第1天路线")
        assert names == expected
        # the same way the hotspot KML is opened (GDAL, Chinese field names kept)
        layer = pyogrio.read_dataframe(folder / "route.kml")
        assert list(layer["Name"]) == expected and "为何" in layer.columns
        points = layer[layer.geom_type == "Point"]
        assert np.allclose(points.geometry.x.iloc[1:], sites["lon"])
        assert np.allclose(points.geometry.y.iloc[1:], sites["lat"])


def test_gpx_parses_and_the_gcj02_option_shifts_it(plan, packages, tmp_path: Path) -> None:
    _, written = packages
    (team, _day, sites), folder = next(zip(team_days(plan), written, strict=True))
    root = ET.parse(folder / "route.gpx").getroot()
    waypoints = root.findall("g:wpt", GPX)
    route = root.findall("g:rte/g:rtept", GPX)
    assert len(waypoints) == len(sites) + 1 and len(route) == len(sites) + 2
    base = plan.bases[plan.bases["team"] == team].iloc[0]
    for point in (route[0], route[-1]):  # from the base and back
        assert float(point.get("lon")) == pytest.approx(base.lon, abs=1e-7)
        assert float(point.get("lat")) == pytest.approx(base.lat, abs=1e-7)
    lon = np.array([float(w.get("lon")) for w in waypoints[1:]])
    assert np.allclose(lon, sites["lon"], atol=1e-7)
    shifted = write_packages(plan, tmp_path / "gcj", coordinates="gcj02")[0]
    again = ET.parse(shifted / "route.gpx").getroot().findall("g:wpt", GPX)
    gx, gy = from_wgs84(sites["lon"].to_numpy(), sites["lat"].to_numpy(), "gcj02")
    assert np.allclose([float(w.get("lon")) for w in again[1:]], gx, atol=1e-7)
    assert np.allclose([float(w.get("lat")) for w in again[1:]], gy, atol=1e-7)
    assert "GCJ02" in ET.parse(shifted / "route.gpx").getroot().find(
        "g:metadata/g:desc", GPX).text


def test_checklist_rows_and_neutralised_formulas(plan, packages) -> None:
    _, written = packages
    for (team, _day, sites), folder in zip(team_days(plan), written, strict=True):
        book = openpyxl.load_workbook(folder / "checklist.xlsx")
        sheet = book.active
        rows = list(sheet.iter_rows(values_only=True))
        assert list(rows[0]) == list(CHECKLIST_COLUMNS)
        expected = plan.problems[plan.problems["site_id"].isin(sites["site_id"])]
        assert len(rows) - 1 == len(expected)
        stops = [r[2] for r in rows[1:]]
        assert stops == sorted(stops) and all(r[0] == team for r in rows[1:])
        result = list(CHECKLIST_COLUMNS).index("检查结果")
        assert all(r[result] is None for r in rows[1:])  # the result is left blank
        # arrival times from [plan] day_start, in visit order
        arrive = [r[list(CHECKLIST_COLUMNS).index("预计到达")] for r in rows[1:]]
        assert arrive == sorted(arrive) and all(a >= plan.settings.day_start for a in arrive)
        assert sheet.data_validations.dataValidation, "the result column has a drop-down"
        for cell in sheet.iter_rows(min_row=2):
            for c in cell:
                assert c.data_type != "f", f"a formula in {c.coordinate}"
    first = openpyxl.load_workbook(written[0] / "checklist.xlsx").active
    values = [c for row in first.iter_rows(values_only=True) for c in row]
    assert "'" + FORMULA in values and HOSTILE in values


def test_zip_packages(plan, tmp_path: Path) -> None:
    written = write_packages(plan, tmp_path, zip_packages=True)
    assert [p.name for p in written] == ["team1-day1.zip", "team2-day1.zip"]
    with zipfile.ZipFile(written[0]) as archive:
        assert sorted(archive.namelist()) == sorted(
            f"team1-day1/{n}" for n in ("README.txt", "checklist.xlsx", "map.html",
                                        "route.gpx", "route.kml"))
    assert not (tmp_path / "team1-day1").exists()


@pytest.mark.browser
def test_html_map_loads_offline_and_shows_the_numbered_sites(plan, packages) -> None:
    from test_browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium")
    from playwright.sync_api import sync_playwright

    _, written = packages
    (_, _, sites), folder = next(zip(team_days(plan), written, strict=True))
    html = (folder / "map.html").read_text(encoding="utf-8")
    assert "<script src=" not in html and '<link rel="stylesheet" href=' not in html
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto((folder / "map.html").as_uri())
        page.wait_for_selector(".gw-stop", timeout=20_000)
        numbers = page.eval_on_selector_all(".gw-stop", "els => els.map(e => e.textContent)")
        lines = page.locator("path.leaflet-interactive").count()
        # open the popup of the first site, which holds the hostile description
        page.locator(".gw-stop", has_text="1").first.click()
        page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
        popup = page.inner_text(".leaflet-popup-content")
        injected = page.locator(".leaflet-popup-content img:not(.gw-photo)").count()
        photos = page.eval_on_selector_all(
            ".leaflet-popup-content img.gw-photo", "els => els.map(e => e.naturalWidth)")
        title = page.title()
        browser.close()
    outside = [u for u in requests if not u.startswith(("file:", "data:", "blob:"))]
    assert outside == []
    assert sorted(map(int, numbers)) == list(range(1, len(sites) + 1))
    assert lines >= 1  # the route
    assert "onerror" in popup and "${document.title" in popup  # shown as text
    assert injected == 0 and "pwned" not in title and dialogs == []
    assert photos == [1]  # the photo shows, from inside the file
    assert f"照片 {_hostile_issue(plan)}_2.jpg（过大，未嵌入）" in popup

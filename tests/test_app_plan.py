"""The planning page with AppTest: a plan from the form, both plans side by side, the map
offline and escaped, the packages offered; a filled checklist imported from the page."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit_folium")
from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _app_project import HOSTILE, build_app_project, sign_in
from helpers import component_instances

APP = str(Path(__file__).resolve().parents[1] / "app.py")
URL = re.compile(r"(?:https?:)?//[^\s\"'<>)]+")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return build_app_project(tmp_path_factory.mktemp("plan-project"))


def _page(project, monkeypatch) -> AppTest:
    config_path, db_url = project
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(config_path))
    monkeypatch.setenv("GRIDWATCH_DB", db_url)
    at = sign_in(AppTest.from_file(APP, default_timeout=180))  # the administrator
    at.run()
    at.switch_page("app_pages/plan.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _map_json(at: AppTest) -> str:
    (component,) = component_instances(at)
    return component.proto.json_args


def test_the_page_plans_routes_and_offers_the_packages(project, monkeypatch) -> None:
    at = _page(project, monkeypatch)
    raw = _map_json(at)  # before a plan: emerging areas, rebound/repeat points
    at.text_input[0].set_value("120.80,30.74")  # the base, lon,lat
    at.number_input[0].set_value(2)
    at.number_input[1].set_value(1)
    at.button[0].click()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    side = at.dataframe[0].value
    assert list(side.columns) == ["", "OR-Tools", "简单排序"]
    figures = dict(zip(side[""], side["OR-Tools"], strict=True))
    naive = dict(zip(side[""], side["简单排序"], strict=True))
    assert figures["priority"] >= naive["priority"] and figures["sites"] > 0
    assert len(at.dataframe[1].value) == 2  # two team-days
    raw = _map_json(at)
    args = json.loads(raw)
    for link in [*args["js_links"], *args["css_links"]]:
        assert link.startswith("/app/static/gridwatch/"), link
    assert "gw-stop" in raw
    assert HOSTILE not in raw and "<img src=x" not in raw
    assert any(b.label.startswith("下载外业包") for b in at.get("download_button"))

"""The Streamlit app with AppTest: every page runs, filters change the figures and the URL, the
map names no remote URL and carries no raw user text, and an upload is ingested."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("streamlit_folium")
from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _app_project import HOSTILE, build_app_project, problem_rows, sign_in
from helpers import component_instances

APP = str(Path(__file__).resolve().parents[1] / "app.py")
URL = re.compile(r"(?:https?:)?//[^\s\"'<>)]+")
CITY_PAYLOAD_LIMIT = 3_000_000  # bytes of the map component's arguments


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return build_app_project(tmp_path_factory.mktemp("app-project"))


@pytest.fixture
def app_env(project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    config_path, db_url = project
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(config_path))
    monkeypatch.setenv("GRIDWATCH_DB", db_url)
    yield


def _run(page: str | None = None, **query: str) -> AppTest:
    at = sign_in(AppTest.from_file(APP, default_timeout=120))
    at.query_params.update(query)
    at.run()
    if page is not None:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _map_args(at: AppTest) -> tuple[dict, str]:
    (component,) = component_instances(at)
    raw = component.proto.json_args
    return json.loads(raw), raw


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_city_view_is_offline_small_and_shows_figures(app_env: None) -> None:
    at = _run()
    args, raw = _map_args(at)
    assert args["js_links"] and args["css_links"]
    for link in [*args["js_links"], *args["css_links"]]:
        assert link.startswith("/app/static/gridwatch/"), link
    assert not URL.findall(" ".join([*args["js_links"], *args["css_links"]]))
    assert len(raw.encode()) < CITY_PAYLOAD_LIMIT
    figures = _metrics(at)
    assert int(figures["在办"]) > int(figures["红码（超期）"]) > 0
    assert at.query_params["level"] == "county"
    assert any("超期热点" in w.value for w in at.warning)  # the hot grid's county is flagged
    labels = [b.proto.label for b in at.get("download_button")]
    assert any("热点图层" in label for label in labels)
    assert sum(label.endswith(("CSV", "XLSX")) for label in labels) == 2
    assert any("月复盘" in label for label in labels)


def test_drill_into_grid_shows_points_with_escaped_text(app_env: None) -> None:
    at = _run(level="grid", area="G111")
    args, raw = _map_args(at)
    assert "markercluster/leaflet.markercluster.js" in " ".join(args["js_links"])
    assert "<img src=x" not in raw
    # folium's own tooltip template uses ${...}; the user's must arrive as entities
    assert "${alert(document.cookie)}" not in raw
    assert "&#36;{alert(document.cookie)}" in raw
    assert "&lt;img src=x onerror=alert(1)&gt;" in raw
    assert "G111M1" in raw and "G112M1" not in raw  # the grid's micro-grids only


def test_filters_change_figures_and_url(app_env: None) -> None:
    at = _run()
    everything = int(_metrics(at)["在办"])
    at.sidebar.multiselect(key="f_categories").select("water").run()
    water = int(_metrics(at)["在办"])
    assert 0 < water < everything
    assert at.query_params["categories"] == "water"
    at.sidebar.selectbox(key="f_basin").select("B2").run()
    assert int(_metrics(at)["在办"]) < water
    assert at.query_params["basin"] == "B2"


def test_shared_link_restores_view_and_english(app_env: None) -> None:
    at = _run(level="grid", area="G111", lang="en", codes="red,nonsense")
    assert "Open" in _metrics(at)
    assert at.sidebar.selectbox(key="f_level").value == "grid"
    assert at.sidebar.multiselect(key="f_codes").value == ["red"]
    assert any("codes=nonsense" in w.value for w in at.sidebar.warning)
    figures = _metrics(at)
    assert figures["Open"] == figures["Red (overdue)"]


@pytest.mark.parametrize("page", ["app_pages/league.py", "app_pages/trends.py",
                                  "app_pages/problems.py", "app_pages/upload.py"])
def test_every_page_runs(app_env: None, page: str) -> None:
    at = _run(page)
    if page.endswith("problems.py"):
        table = at.dataframe[0].value
        assert HOSTILE in set(table["description"])
    if page.endswith("league.py"):
        assert len(at.dataframe[0].value) == 2  # the two counties
        headers = [set(d.value.columns) for d in at.dataframe]
        assert {"排名", "名称", "得分", "上周排名"} <= headers[0]  # headers in the user's language
        assert all({"rank", "score", "responsible_unit"}.isdisjoint(h) for h in headers)


def test_upload_ingests_and_offers_rejects(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    config_path, db_url = build_app_project(tmp_path / "project", n=20)
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(config_path))
    monkeypatch.setenv("GRIDWATCH_DB", db_url)
    rows = problem_rows(25, seed=11).iloc[20:].copy()
    rows["问题编号"] = [f"U{i}" for i in range(len(rows))]
    rows.iloc[0, rows.columns.get_loc("经度")] = ""
    rows.iloc[0, rows.columns.get_loc("纬度")] = ""
    at = _run("app_pages/upload.py")
    at.get("file_uploader")[0].upload("export 2026-11-01.csv",
                                      rows.to_csv(index=False).encode("utf-8"), "text/csv")
    at.run()
    at.button(key="u_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    figures = _metrics(at)
    assert (int(figures["接收"]), int(figures["拒绝"])) == (4, 1)
    assert at.get("download_button")


def test_no_streamlit_pages_folder_beside_the_app() -> None:
    # With a folder named pages/ next to app.py, Streamlit runs a directly linked page without
    # app.py (no navigation, no map assets): shared links to /trends etc. would break.
    assert not (Path(APP).parent / "pages").exists()
    assert (Path(APP).parent / "app_pages" / "overview.py").is_file()


def test_an_unexpected_failure_shows_a_message_not_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tomllib

    config_path, db_url = build_app_project(tmp_path / "project", n=20)
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(config_path))
    monkeypatch.setenv("GRIDWATCH_DB", db_url)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("gridwatch.pipeline.run_ingest", broken)
    at = _run("app_pages/upload.py")
    rows = problem_rows(25, seed=2).iloc[20:]
    at.get("file_uploader")[0].upload("day.csv", rows.to_csv(index=False).encode(), "text/csv")
    at.run()
    at.button(key="u_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("disk full" in e.value for e in at.error)
    # and whatever else fails, Streamlit is told to show no details
    settings = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["showErrorDetails"] == "none"


def test_ledger_page_answers_as_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from _ledger_fixture import CENTRAL, write_ledger
    from helpers import invoke

    config_path, db_url = build_app_project(tmp_path / "project", n=20)
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(config_path))
    monkeypatch.setenv("GRIDWATCH_DB", db_url)
    at = _run("app_pages/ledger.py")
    assert "整改台账" in at.info[0].value  # nothing imported yet: says how
    invoke(["ledger", "import", str(write_ledger(tmp_path)), "--db", db_url])
    invoke(["ledger", "accept", "Z2-01-2", "--on", "2024-03-05", "--unit", "市整改办",
            "--conclusion", "pass", "--db", db_url])
    at = _run("app_pages/ledger.py", as_of="2024-05-01")
    cli = invoke(["progress", "--as-of", "2024-05-01", "--config", str(config_path),
                  "--db", db_url]).output
    sentences = [m.value.strip("*") for m in at.markdown if CENTRAL in m.value]
    assert sentences and sentences[0] in cli
    items = at.dataframe[0].value
    assert "反馈问题编号" in items.columns and len(items) == 5
    at.multiselect(key="g_units").set_value(["市住建局"]).run()
    assert not at.exception
    units_only = at.dataframe[0].value
    assert set(units_only["反馈问题编号"]) == {"S1-01"}
    assert len(at.get("download_button")) == 1
    assert any("未回复" in h.value for h in at.subheader)
    league = _run("app_pages/league.py", as_of="2024-05-01")
    league.radio(key="l_by").set_value("unit").run()
    assert not league.exception
    assert "责任单位" in [c.value for c in league.caption]


def test_many_areas_are_drawn_on_one_canvas(app_env: None, monkeypatch: pytest.MonkeyPatch,
                                            ) -> None:
    import app_pages._maps as page_maps

    drawn = _map_args(_run(level="grid"))[1]
    assert '\\"preferCanvas\\": false' in drawn  # a few grids: SVG paths, one per area
    monkeypatch.setattr(page_maps, "CANVAS_FROM", 2)
    drawn = _map_args(_run(level="grid"))[1]
    assert '\\"preferCanvas\\": true' in drawn

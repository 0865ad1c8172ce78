"""The satellite-patch page and the evidence photos in the app (AppTest): counts, the map
layer offline with escaped labels, the scope; thumbnails in the problem table and the map."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from PIL import Image
from shapely.geometry import box

pytest.importorskip("streamlit_folium")
from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _app_project import AS_OF, HOSTILE, build_app_project, sign_in
from helpers import component_instances

APP = str(Path(__file__).resolve().parents[1] / "app.py")
URL = re.compile(r"https?://[^\s\"'<>)]+")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("app-patches")
    config_path, url = build_app_project(folder)
    photos = folder / "photos"
    photos.mkdir()
    for name in ("P0005_整改前.jpg", "P0005_整改后.jpg", "P0003_整改前.jpg"):
        Image.new("RGB", (200, 150), "blue").save(photos / name)
    # the photos are named by problem id: a second import of the same export attaches them
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text + '\n[evidence]\nfolder = "photos"\nrequire_after_photo = '
                           "true\n", encoding="utf-8")
    from gridwatch.config import load_config
    from gridwatch.patches import import_patch_file
    from gridwatch.pipeline import run_ingest
    from gridwatch.store import Store

    config = load_config(config_path)
    patches = gpd.GeoDataFrame({
        "图斑编号": ["TB1", "TB2", "TB3"], "图斑名称": [HOSTILE, "堆土", "开挖"],
    }, geometry=[box(120.708, 30.708, 120.712, 30.712),   # inside redline RL1 (county C1)
                 box(120.85, 30.75, 120.852, 30.752),      # county C2
                 box(120.75, 30.72, 120.752, 30.722)],     # county C1
        crs="EPSG:4326")
    patches.to_file(folder / "patches.geojson")
    with Store(url) as store:
        run_ingest([folder / "export_20261031.csv"], config=config, store=store,
                   observed_at=pd.Timestamp(f"{AS_OF} 23:59:59", tz="Asia/Shanghai")
                   .to_pydatetime())
        import_patch_file(folder / "patches.geojson", config=config, store=store)
    return config_path, url


@pytest.fixture
def app_env(project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(project[0]))
    monkeypatch.setenv("GRIDWATCH_DB", project[1])
    yield


def _run(page: str, user: str = "admin", **query: str) -> AppTest:
    at = sign_in(AppTest.from_file(APP, default_timeout=120), user)
    at.query_params.update(query)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_patch_page_counts_and_map(app_env: None) -> None:
    at = _run("app_pages/patches.py")
    figures = {m.label: m.value for m in at.metric}
    assert figures["图斑"] == "3" and figures["待核查"] == "3"
    assert figures["涉及红线/水源地"] == "1"
    (component,) = component_instances(at)
    raw = component.proto.json_args
    args = json.loads(raw)
    assert [u for u in URL.findall(json.dumps(args.get("js_links", [])))] == []
    # the label is escaped (and then JSON-encoded: & is \u0026)
    assert HOSTILE not in raw and "u0026lt;img src=x onerror=alert(1)" in raw
    table = at.dataframe[-1].value
    assert sorted(table["图斑编号"]) == ["TB1", "TB2", "TB3"]
    assert round(float(table.loc[table["图斑编号"] == "TB1", "redline_share"].iloc[0]), 2) \
        == 1.0


def test_patch_page_shows_only_the_users_areas(app_env: None) -> None:
    at = _run("app_pages/patches.py", user="c1")
    table = at.dataframe[-1].value
    assert sorted(table["图斑编号"]) == ["TB1", "TB3"]


def test_problem_table_has_thumbnails_and_the_after_photo_flag(app_env: None) -> None:
    at = _run("app_pages/problems.py")
    table = at.dataframe[0].value.set_index("issue_id")
    assert table.loc["P0005", "photo_after"] == "P0005_整改后.jpg"
    assert str(table.loc["P0005", "thumb_before"]).startswith("data:image/jpeg;base64,")
    assert pd.isna(table.loc["P0001", "thumb_before"])
    closed = table["status"].isin(["已办结", "Closed"])
    assert bool(table.loc["P0005", "missing_after_photo"]) is False
    assert table.loc[closed & table.index.isin(["P0005"]), "missing_after_photo"].sum() == 0
    assert table.loc[closed, "missing_after_photo"].sum() == closed.sum() - \
        int(closed.get("P0005", False))


def test_map_popups_carry_thumbnails(app_env: None, project: tuple[Path, str]) -> None:
    from gridwatch.store import Store

    with Store(project[1]) as store:
        issues = store.issues(layers=["county", "town", "grid"]).set_index("issue_id")
    grid = issues.loc["P0005", "grid_id"]
    at = _run("app_pages/overview.py", level="grid", area=grid,
              codes="red,yellow,green,closed")
    (component,) = component_instances(at)
    raw = component.proto.json_args
    assert "data:image/jpeg;base64," in raw
    assert "P0005_整改前.jpg" in raw or "P0005_\\u6574" in raw

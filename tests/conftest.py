"""Fixtures shared by every test module: paths to real data and the store backends."""

from __future__ import annotations

import os
from pathlib import Path

import hypothesis
import pytest
from helpers import (
    GRID_ORIGIN,
    GRID_STEP,
    grid_cell_centre,
    grid_cells,
    postgis_schema,
    sqlite_url,
)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
JIAXING_COUNTIES = REPO / "data" / "boundaries" / "jiaxing_counties.geojson"
TEST_DATA = Path(__file__).resolve().parent / "data"

# Property tests judge results, not speed: on a busy 2-core machine a slow example is not a
# failure of the code (hypothesis's deadline and too-slow check are off; examples unchanged).
hypothesis.settings.register_profile(
    "gridwatch", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.load_profile("gridwatch")

POSTGIS_URL = os.environ.get("GRIDWATCH_TEST_POSTGIS", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session", autouse=True)
def _user_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """What gridwatch keeps in the user's cache folder (prepared layer indexes, PostGIS
    stores' analytical copies) goes to a temporary folder, also for the commands tests run."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("user-cache")))
        yield


@pytest.fixture(autouse=True)
def _no_app_work_left_behind():
    """The app prepares outlines in a background thread after a first view; stop it at the
    end of each test, so it never runs during the next one (it reads layers, and
    ``warnings.catch_warnings`` in another thread undoes the CLI's plain warning lines)."""
    yield
    import sys

    shared = sys.modules.get("app_pages._shared")
    if shared is not None:
        shared.stop_warming()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"../shared/data is missing beside the checkout ({SHARED_DATA}); "
                    "CI runs with shared/ beside the project")
    return SHARED_DATA


@pytest.fixture(scope="session")
def jiaxing_counties_path() -> Path:
    return JIAXING_COUNTIES


# --- store backends -------------------------------------------------------------------------

def _postgis_reachable() -> str | None:
    """Return None when PostGIS answers, else the reason it does not."""
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(POSTGIS_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
            conn.commit()
        engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(params=["sqlite", "postgis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh, empty store on each backend: a temp SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "gridwatch.sqlite")
        return
    reason = _postgis_reachable()
    if reason is not None:
        message = f"PostGIS at {POSTGIS_URL} is not usable: {reason}"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI a skipped backend would hide a broken store
        pytest.skip(message)
    with postgis_schema(POSTGIS_URL) as url:
        yield url


# --- a small project on the real Jiaxing counties -------------------------------------------

@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """Write a project: real counties (GCJ-02), a 3x3 WGS84 grid layer and one redline zone.

    Returns the path of its gridwatch.toml. Grid ids are ``G{row}{col}``; the redline zone
    ``RL1`` covers the middle third of cell G11's width.
    """
    import geopandas as gpd
    from shapely.geometry import box

    cells = grid_cells(*GRID_ORIGIN, GRID_STEP, rows=3, cols=3)
    gpd.GeoDataFrame(cells, crs="EPSG:4326").to_file(tmp_path / "grids.geojson")
    cx, cy = grid_cell_centre(1, 1)
    zone = box(cx - 0.001, cy - 0.001, cx + 0.001, cy + 0.001)
    gpd.GeoDataFrame([{"code": "RL1", "name": "南湖饮用水源保护区", "geometry": zone}],
                     crs="EPSG:4326").to_file(tmp_path / "redlines.gpkg", driver="GPKG")
    toml = f"""
[territory]
name = "嘉兴市"
timezone = "Asia/Shanghai"
margin_m = 2000

[input]
crs = "gcj02"

[[layers]]
name = "county"
path = "{JIAXING_COUNTIES.as_posix()}"
id_field = "adcode"
name_field = "name"
kind = "admin"
crs = "gcj02"

[[layers]]
name = "grid"
path = "grids.geojson"
id_field = "code"
name_field = "name"
kind = "grid"
parent = "county"
crs = "wgs84"

[[layers]]
name = "redline"
path = "redlines.gpkg"
id_field = "code"
name_field = "name"
kind = "redline"
crs = "wgs84"
near_m = 500
"""
    path = tmp_path / "gridwatch.toml"
    path.write_text(toml, encoding="utf-8")
    return path


# --- the demo city for the field plan ---------------------------------------------------------

@pytest.fixture(scope="session")
def plan_city(tmp_path_factory: pytest.TempPathFactory):
    """A small demo city, ingested day by day (see helpers.demo_city); do not write to its
    store (copy it first)."""
    from helpers import demo_city

    return demo_city(tmp_path_factory.mktemp("plan_city"), problems=3000, scale=0.02, days=90)

"""Fixtures shared by every test module: paths to real data and the store backends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
JIAXING_COUNTIES = REPO / "data" / "boundaries" / "jiaxing_counties.geojson"
TEST_DATA = Path(__file__).resolve().parent / "data"

POSTGIS_URL = os.environ.get("GRIDWATCH_TEST_POSTGIS", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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

"""The demo city's hotline calls that come with an address only are placed from it."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from gridwatch.config import load_config
from gridwatch.demo import generate
from gridwatch.pipeline import run_ingest
from gridwatch.store.transactional import Store
from tests.helpers import sqlite_url


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("geodemo")
    paths = generate(folder / "city", problems=5_000, scale=0.02, seed=11)
    config = load_config(paths.config)
    files = paths.runs[0][0]
    rows = pd.concat([pd.read_csv(f, dtype=str, encoding="gbk") if f.suffix == ".csv"
                      else pd.read_excel(f, dtype=str) for f in files], ignore_index=True)
    with Store(sqlite_url(folder / "s.sqlite")) as store:
        summary, rejects = run_ingest(files, config=config, store=store, derive=False)
        issues = store.issues()
    return rows, summary, rejects, issues, config


def test_a_share_of_hotline_rows_has_the_address_only(demo_run) -> None:
    rows, *_ = demo_run
    address_only = rows["经度"].isna() & rows["所属网格"].isna() & rows["地址"].notna()
    assert 0.02 < address_only.mean() < 0.08
    assert rows.loc[address_only, "问题来源"].isin(["12345热线", "12369热线"]).all()


def test_most_address_only_rows_are_placed_in_the_town_they_name(demo_run) -> None:
    rows, summary, rejects, issues, config = demo_run
    address_only = rows["经度"].isna() & rows["所属网格"].isna() & rows["地址"].notna()
    ids = set(rows.loc[address_only, "问题编号"])
    geocoded = issues[issues["location_flag"] == "geocoded"]
    assert set(geocoded["issue_id"]) <= ids
    assert len(geocoded) >= 0.95 * len(ids) and summary.geocoded == len(geocoded)
    # every one not placed is rejected with its candidates named
    missing = ids - set(geocoded["issue_id"])
    reasons = rejects[rejects["column"] == "address"]["reason"]
    assert len(reasons) == len(missing)
    assert reasons.str.contains("best candidates").all()
    # the town the address names is the town the point lies in (town names repeat between
    # counties, so compare the county too)
    town = gpd.read_file(config.layer("town").path)
    name_of = dict(zip(town["code"], town["county_name"] + town["name"], strict=True))
    placed = geocoded["town_id"].map(name_of)
    written = geocoded["address"].str.extract(r"嘉兴市(.+?(?:镇|街道))", expand=False)
    assert (placed == written).mean() >= 0.99


def test_the_coordinate_check_flags_few_honest_rows(demo_run) -> None:
    """The demo's addresses follow their places (no wrong address is planted): the check,
    on by default, puts almost none of the rows with coordinates on the audit list."""
    _rows, _summary, _rejects, issues, config = demo_run
    assert config.settings.geocoding.check_coordinates
    own = issues["location_flag"].isin(["", "swapped"]) & issues["address"].notna()
    flagged = issues["address_offset_m"].notna()
    assert own.sum() > 1000
    assert (flagged & own).sum() <= 0.005 * own.sum()
    assert not (flagged & ~own).any()  # only rows with coordinates are checked
    assert issues.loc[flagged, "grid_mismatch"].all()

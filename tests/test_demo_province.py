"""The province demo: Zhejiang's real counties with generated towns, grids and micro-grids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gridwatch.demo._city import read_counties, to_metric
from gridwatch.demo.province import (
    build_province,
    generate_province,
    province_config_text,
    province_counties_path,
    province_plan,
    province_problems,
)
from gridwatch.errors import ConfigError


@pytest.fixture(scope="module")
def counties() -> gpd.GeoDataFrame:
    raw = gpd.read_file(province_counties_path())
    found = read_counties(province_counties_path())
    return found.merge(pd.DataFrame({"code": raw["adcode"].astype(str),
                                     "city": raw["city"].astype(str)}), on="code")


@pytest.fixture(scope="module")
def small(counties):
    # three small counties of Jiaxing and Hangzhou, at a twentieth of Jiaxing's density
    some = counties[counties["code"].isin(["330402", "330411", "330102"])].reset_index(drop=True)
    return some, build_province(some, seed=3, density=0.05)


def test_the_shipped_file_has_the_90_counties_of_11_cities(counties):
    assert len(counties) == 90 and counties["code"].is_unique
    assert counties["city"].nunique() == 11
    assert counties["code"].str.startswith("33").all()


def test_the_plan_follows_jiaxings_density(counties):
    from gridwatch.demo import counties_path
    from gridwatch.demo._city import FULL_COUNTS

    jiaxing_km2 = shapely.area(to_metric(read_counties(counties_path()).geometry.to_numpy()))
    per_km2 = FULL_COUNTS[2] / (jiaxing_km2.sum() / 1e6)
    plan = province_plan(counties, density=1.0)
    expected = np.maximum(np.round(plan["km2"] * per_km2), 3 * plan["grids"])
    assert (plan["micro"] == expected).all()
    assert 1_500_000 < plan["micro"].sum() < 3_000_000  # 105,000 km² at Jiaxing's density
    jiaxing = plan[plan["code"].str.startswith("3304")]
    assert abs(int(jiaxing["micro"].sum()) - FULL_COUNTS[2]) < 100
    with pytest.raises(ConfigError):
        province_plan(counties, density=0)


def test_children_tile_their_parents(small):
    some, layers = small
    plan = province_plan(some, density=0.05)
    assert len(layers["county"]) == 3
    assert len(layers["microgrid"]) == int(plan["micro"].sum())
    assert len(layers["grid"]) == int(plan["grids"].sum())
    for child, parent, field in (("town", "county", "county_code"),
                                 ("grid", "town", "town_code"),
                                 ("microgrid", "grid", "grid_code")):
        kids, mums = layers[child], layers[parent].set_index("code")
        assert kids["code"].is_unique
        assert all(c.startswith(p) for c, p in zip(kids["code"], kids[field], strict=True))
        inside = shapely.contains(mums.geometry.reindex(kids[field]).to_numpy(),
                                  shapely.point_on_surface(kids.geometry.to_numpy()))
        assert inside.all()
        # the children cover their parent: areas add up (GCJ-02 degrees, same projection)
        total = kids.assign(a=shapely.area(kids.geometry.to_numpy())).groupby(field)["a"].sum()
        parents = shapely.area(mums.geometry.reindex(total.index).to_numpy())
        np.testing.assert_allclose(total.to_numpy(), parents, rtol=1e-3)


def test_the_same_seed_gives_the_same_province(small):
    some, layers = small
    one = some.iloc[:1]  # the first county's areas depend on the seed and that county only
    again = build_province(one, seed=3, density=0.05)
    first = layers["microgrid"]["code"].str.startswith(one["code"].iloc[0]).to_numpy()
    assert shapely.equals_exact(layers["microgrid"].geometry.to_numpy()[first],
                                again["microgrid"].geometry.to_numpy(), 0.0).all()
    other = build_province(one, seed=4, density=0.05)
    assert not shapely.equals_exact(layers["microgrid"].geometry.to_numpy()[:50],
                                    other["microgrid"].geometry.to_numpy()[:50], 0.0).all()


def test_problems_lie_in_their_micro_grid(small):
    _, layers = small
    days = pd.date_range("2026-01-01", periods=90, freq="D")
    frame = province_problems(layers, 4000, seed=1, days=days)
    assert len(frame) == 4000 and frame["issue_id"].is_unique
    assert frame["issue_id"].str.startswith("ZJ").all()
    micro = layers["microgrid"].set_index("code")
    geoms = micro.geometry.reindex(frame["micro_code"]).to_numpy()
    assert shapely.contains_xy(geoms, frame["lon"].to_numpy(), frame["lat"].to_numpy()).all()
    city = layers["town"].set_index("code")["city"].reindex(frame["town_code"])
    assert all(a.startswith(c) for a, c in zip(frame["address"], city, strict=True))
    assert not frame["address_only"].any()


def test_generate_checks_its_arguments(tmp_path):
    with pytest.raises(ConfigError, match="problems"):
        generate_province(tmp_path / "p", problems=10)
    assert not (tmp_path / "p").exists()


def test_the_project_file_declares_the_four_layers(tmp_path):
    from gridwatch.config import load_config

    path = tmp_path / "gridwatch.toml"
    path.write_text(province_config_text(), encoding="utf-8")
    for name in ("county", "town", "grid", "microgrid"):
        (tmp_path / f"{name}.gpkg").touch()
    config = load_config(path)
    assert [s.name for s in config.layers] == ["county", "town", "grid", "microgrid"]
    assert config.territory.name == "浙江省"
    assert config.settings.deadlines == load_config_demo_deadlines()


def load_config_demo_deadlines():
    """The demo city's deadline rules, read from its own project file."""
    import tempfile
    from pathlib import Path

    from gridwatch.config import load_config
    from gridwatch.demo._exports import config_text

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gridwatch.toml"
        path.write_text(config_text(""), encoding="utf-8")
        for name in ("county", "town", "grid", "microgrid", "basin", "redline"):
            (Path(folder) / f"{name}.gpkg").touch()
        return load_config(path).settings.deadlines


def test_cli_province_needs_out():
    from gridwatch.cli import main

    result = CliRunner().invoke(main, ["demo", "generate", "--province", "--problems", "5000"])
    assert result.exit_code == 1
    assert "--out" in result.output

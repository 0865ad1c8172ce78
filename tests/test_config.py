from pathlib import Path

import pytest

from gridwatch.config import config_from_dict, load_config
from gridwatch.errors import ConfigError


def _layer(**kw):
    base = {"name": "county", "path": "c.geojson", "id_field": "adcode", "kind": "admin"}
    base.update(kw)
    return base


def test_design_card_example_loads(tmp_path: Path) -> None:
    (tmp_path / "gridwatch.toml").write_text(
        """
[territory]
name = "嘉兴市"
timezone = "Asia/Shanghai"
margin_m = 2000

[input]
crs = "gcj02"

[[layers]]
name = "county"
path = "boundaries/jiaxing_counties.geojson"
id_field = "adcode"
name_field = "name"
kind = "admin"
crs = "gcj02"

[[layers]]
name = "redline"
path = "redlines.gpkg"
id_field = "code"
name_field = "name"
kind = "redline"
crs = "wgs84"
near_m = 500
""", encoding="utf-8")
    config = load_config(tmp_path / "gridwatch.toml")
    assert config.territory.name == "嘉兴市"
    assert config.input.crs == "gcj02"
    assert [s.name for s in config.layers] == ["county", "redline"]
    assert config.layer("county").path == tmp_path / "boundaries/jiaxing_counties.geojson"
    assert config.layer("redline").near_m == 500


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    data = {
        "territory": {"timezone": "Mars/Olympus", "margin_m": -1},
        "layers": [_layer(kind="county"), _layer(name="grid", parent="town")],
        "input": {"aliases": {"nonsense": ["x"]}, "labels": {"category": {"黑臭水体": "sewage"}}},
    }
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, root=tmp_path)
    problems = info.value.problems
    assert len(problems) == 6, problems
    text = str(info.value)
    for fragment in ("Mars/Olympus", "margin_m", "'county'", "'town'", "nonsense", "sewage"):
        assert fragment in text


def test_redline_gets_default_belt_and_missing_file_is_clear(tmp_path: Path) -> None:
    config = config_from_dict({"layers": [_layer(name="rl", kind="redline")]}, root=tmp_path)
    assert config.layer("rl").near_m == 500
    with pytest.raises(ConfigError, match="no layer named 'x'"):
        config.layer("x")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_parent_cycle_is_reported(tmp_path: Path) -> None:
    layers = [_layer(name="a", parent="b"), _layer(name="b", parent="a")]
    with pytest.raises(ConfigError, match="loops"):
        config_from_dict({"layers": layers}, root=tmp_path)


def test_input_date_range_keys(tmp_path: Path) -> None:
    import datetime as dt

    config = config_from_dict({"input": {"min_date": dt.date(1949, 10, 1),
                                         "max_date": "2200-12-31"}}, root=tmp_path)
    assert (config.input.min_date, config.input.max_date) == (dt.date(1949, 10, 1),
                                                              dt.date(2200, 12, 31))
    default = config_from_dict({}, root=tmp_path).input
    assert (default.min_date, default.max_date) == (dt.date(1970, 1, 1), dt.date(2100, 12, 31))
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"input": {"min_date": "3000-01-01", "max_date": "soon"}},
                         root=tmp_path)
    assert "[input] min_date must be a date from 1678-01-01 to 2261-12-31" in str(caught.value)
    assert "[input] max_date must be a date" in str(caught.value)
    with pytest.raises(ConfigError, match="min_date 2020-01-01 is after max_date 2010-01-01"):
        config_from_dict({"input": {"min_date": "2020-01-01", "max_date": "2010-01-01"}},
                         root=tmp_path)

import re
import string
import tomllib
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gridwatch.config import config_from_dict, load_config
from gridwatch.demo._exports import config_text
from gridwatch.errors import ConfigError
from gridwatch.settings import AppSettings


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


# --- every section and key checked when the file loads -------------------------------------

TYPOS = """
[territory]
name = "嘉兴市"
margn_m = 2000

[inptu]
crs = "gcj02"

[[layer]]
name = "county"

[[layers]]
name = "county"
path = "c.geojson"
id_field = "adcode"
kind = "admin"
nme_field = "name"

[hotspots]
permutatons = 99

[supervision.league]
worstn = 5
"""


def test_typos_in_every_section_are_all_reported_with_suggestions(tmp_path: Path) -> None:
    (tmp_path / "gridwatch.toml").write_text(TYPOS, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "gridwatch.toml")
    assert sorted(info.value.problems) == sorted([
        "unknown section [inptu]: did you mean [input]?",
        "unknown section [[layer]]: did you mean [[layers]]?",
        "[territory] unknown key 'margn_m': did you mean 'margin_m'?",
        "layer 'county' unknown key 'nme_field': did you mean 'name_field'?",
        "[hotspots] unknown key 'permutatons': did you mean 'permutations'?",
        "[supervision.league] unknown key 'worstn': did you mean 'worst_n'?",
    ])
    assert "6 problem(s)" in str(info.value)


def test_unknown_names_with_nothing_close_list_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"territory": {"zzzzzz": 1}, "qqqqqq": {}, "oops": 3}, root=tmp_path)
    assert info.value.problems == [
        "unknown section [qqqqqq]; allowed: [access], [app], [campaigns], [deadlines], "
        "[enterprises], [evidence], [geocoding], [hotspots], [input], [[layers]], [ledger], "
        "[petitions], [plan], [public], [store], [supervision], [territory], [validate]",
        "unknown top-level key 'oops' = 3: keys belong in a section; allowed: [access], [app], "
        "[campaigns], [deadlines], [enterprises], [evidence], [geocoding], [hotspots], [input], "
        "[[layers]], [ledger], [petitions], [plan], [public], [store], [supervision], "
        "[territory], [validate]",
        "[territory] unknown key 'zzzzzz'; allowed: 'margin_m', 'metric_crs', 'name', "
        "'timezone'",
    ]


@pytest.mark.parametrize(("data", "message"), [
    ({"input": {"encodng": "gbk"}}, "[input] unknown key 'encodng': did you mean 'encoding'?"),
    ({"store": {"uri": "sqlite://"}}, "[store] unknown key 'uri': did you mean 'url'?"),
    ({"app": {"tile": "http://t/{z}/{x}/{y}.png"}},
     "[app] unknown key 'tile': did you mean 'tiles'?"),
    ({"validate": {"normalize": {"ward": ["digits"]}}},
     "[validate] unknown key 'normalize': did you mean 'normalise'?"),
    ({"supervision": {"review": {"worst_n": 5}}},
     "[supervision.review] unknown key 'worst_n'; nothing is allowed here"),
    ({"supervision": {"rebund": {"days": 5}}},
     "[supervision] unknown key 'rebund': did you mean 'rebound'?"),
    ({"supervision": {"escalation": {"reminder": 1}}},
     "[supervision.escalation] unknown key 'reminder': did you mean 'reminder_letter'?"),
    ({"supervision": {"rebound": {"radius": 5}}},
     "[supervision.rebound] unknown key 'radius': did you mean 'radius_m'?"),
    ({"supervision": {"duplicates": {"hour": 5}}},
     "[supervision.duplicates] unknown key 'hour': did you mean 'hours'?"),
    ({"deadlines": {"default_day": 5}},
     "[deadlines] unknown key 'default_day': did you mean 'default_days'?"),
    ({"deadlines": {"rules": [{"kind": "long_term", "day": 5}]}},
     "[[deadlines.rules]] #1 unknown key 'day': did you mean 'days'?"),
    ({"layers": [_layer(kind="admn")]},
     "layer 'county': kind 'admn' is not a layer kind: did you mean 'admin'?"),
    ({"layers": [_layer(), _layer(name="grid", kind="grid", parent="countyy")]},
     "layer 'grid': parent 'countyy' is not a declared layer: did you mean 'county'?"),
    ({"input": {"aliases": {"isue_id": "工单号"}}},
     "[input.aliases] 'isue_id' is not a canonical column: did you mean 'issue_id'?"),
], ids=["input", "store", "app", "validate", "supervision.review", "supervision",
        "supervision.escalation", "supervision.rebound", "supervision.duplicates", "deadlines",
        "deadlines.rules", "layer-kind", "layer-parent", "input.aliases"])
def test_unknown_keys_are_rejected_at_every_level(tmp_path: Path, data, message) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, root=tmp_path)
    assert info.value.problems == [message]


def test_types_are_checked_and_all_reported(tmp_path: Path) -> None:
    data = {
        "territory": {"margin_m": "2000", "timezone": 8, "metric_crs": "wgs84"},
        "input": {"grid_fallback": "yes", "max_file_mb": True, "keep_columns": 5,
                  "aliases": ["issue_id"], "encoding": "gbkk", "crs": "mars"},
        "store": {"url": "data/gridwatch.sqlite"},
        "layers": [_layer(near_m=True, crs=4326, encoding="nope")],
        "deadlines": 5,
        "supervision": {"league": [1, 2], "yellow_days": "3"},
        "hotspots": {"permutations": "many"},
        "validate": {"normalise": {"ward": 3}},
        "app": {"tiles": 1, "tiles_attribution": ["x"]},
    }
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, root=tmp_path)
    problems = info.value.problems
    expected = [
        "[territory] margin_m must be a number of metres >= 0, got '2000' (a string)",
        "[territory] timezone must be a non-empty string such as 'Asia/Shanghai', "
        "got an integer (8)",
        "[territory] metric_crs 'wgs84' is not a projected coordinate system in metres",
        "[input] grid_fallback must be true or false (without quotes), got a string ('yes')",
        "[input] max_file_mb must be a number of megabytes > 0, got True (a boolean)",
        "[input] keep_columns must be a string or an array of strings, got an integer (5)",
        "[input.aliases] must be a table, got an array (['issue_id'])",
        "[input] encoding 'gbkk' is not a known text encoding",
        "[input] crs 'mars' is not a known coordinate system",
        "[store] url 'data/gridwatch.sqlite' is not a database URL",
        "layer 'county' near_m must be a number of metres >= 0, got True (a boolean)",
        "layer 'county' crs must be a non-empty string such as 'gcj02', got an integer (4326)",
        "layer 'county' encoding 'nope' is not a known text encoding",
        "[deadlines] must be a table, got an integer (5)",
        "[supervision.league] must be a table, got an array ([1, 2])",
        "[supervision] yellow_days must be a whole number >= 0, got '3'",
        "[hotspots] permutations = 'many' has the wrong type",
        "[validate.normalise] ward must be a step or an array of steps",
        "[app] tiles must be a string, got an integer (1)",
        "[app] tiles_attribution must be a string, got an array (['x'])",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert len(problems) == len(expected), problems


_VALID_KEYS = {
    "territory": {"name": "x", "timezone": "Asia/Shanghai", "margin_m": 10,
                  "metric_crs": "EPSG:4549"},
    "input": {"crs": "gcj02", "encoding": "gbk", "aliases": {}, "labels": {},
              "keep_columns": [], "grid_fallback": True, "max_file_mb": 10},
}


@st.composite
def _typo(draw: st.DrawFn) -> tuple[str, str, str]:
    section = draw(st.sampled_from(sorted(_VALID_KEYS)))
    key = draw(st.sampled_from(sorted(_VALID_KEYS[section])))
    i = draw(st.integers(0, len(key) - 1))
    char = draw(st.sampled_from(string.ascii_lowercase + string.digits + "_-"))
    kind = draw(st.sampled_from(["delete", "insert", "replace", "swap"]))
    if kind == "delete":
        typo = key[:i] + key[i + 1:]
    elif kind == "insert":
        typo = key[:i] + char + key[i:]
    elif kind == "replace":
        typo = key[:i] + char + key[i + 1:]
    else:
        j = min(i + 1, len(key) - 1)
        typo = key[:i] + key[j] + key[i] + key[j + 1:] if j > i else key
    return section, key, typo


@given(_typo())
@settings(max_examples=300, deadline=None)
def test_any_one_character_typo_of_a_key_is_reported_with_that_key(
        case: tuple[str, str, str]) -> None:
    section, key, typo = case
    assume(typo != key and typo not in _VALID_KEYS[section])
    table = {typo if k == key else k: v for k, v in _VALID_KEYS[section].items()}
    with pytest.raises(ConfigError) as info:
        config_from_dict({section: table}, root=Path("."))
    assert info.value.problems == [
        f"[{section}] unknown key {typo!r}: did you mean {key!r}?"]


def test_app_settings_are_typed(tmp_path: Path) -> None:
    plain = config_from_dict({}, root=tmp_path).settings.app
    assert plain == AppSettings() and plain.tiles is None and plain.tiles_attribution == ""
    url = "http://tiles.intranet/DataServer?T=vec_w&X={x}&Y={y}&L={z}"
    app = config_from_dict({"app": {"tiles": url, "tiles_attribution": "天地图"}},
                           root=tmp_path).settings.app
    assert app == AppSettings(tiles=url, tiles_attribution="天地图")
    assert config_from_dict({"app": {"tiles": ""}}, root=tmp_path).settings.app.tiles is None
    with pytest.raises(ConfigError, match=r"\[app\] tiles must be the URL template"):
        config_from_dict({"app": {"tiles": "OpenStreetMap"}}, root=tmp_path)


def test_core_values_are_typed_when_valid(tmp_path: Path) -> None:
    config = config_from_dict({
        "territory": {"metric_crs": "epsg 4549", "margin_m": 0},
        "input": {"keep_columns": "ward", "encoding": "GB18030", "max_file_mb": 1},
        "store": {"url": "postgresql+psycopg://user@host:5432/db"},
        "layers": [_layer(name="rl", kind="redline", near_m=0, layer="lines")],
    }, root=tmp_path)
    assert config.territory.metric_crs == "EPSG:4549"
    assert config.territory.margin_m == 0.0
    assert config.input.keep_columns == ("ward",)
    assert config.store_url == "postgresql+psycopg://user@host:5432/db"
    assert config.layer("rl").near_m == 0.0 and config.layer("rl").source_layer == "lines"
    # An empty value of an optional setting means "not set", as the docs say.
    unset = config_from_dict({"territory": {"name": "", "metric_crs": ""},
                              "input": {"encoding": ""}}, root=tmp_path)
    assert unset.territory.metric_crs is None and unset.input.encoding is None


def _toml_blocks(path: Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def test_shipped_project_files_load(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    for name in ("data/demo/gridwatch.toml", "examples/boston311/gridwatch.toml"):
        load_config(repo / name)
    demo = tmp_path / "gridwatch.toml"
    demo.write_text(config_text("generated/"), encoding="utf-8")
    assert load_config(demo).layer("redline").near_m == 500
    blocks = [b for doc in ("README.md", *sorted(p.relative_to(repo).as_posix()
                                                 for p in (repo / "docs").glob("*.md")))
              for b in _toml_blocks(repo / doc)]
    assert len(blocks) >= 5
    for block in blocks:
        config_from_dict(tomllib.loads(block), root=tmp_path)


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


def test_input_row_and_column_limits(tmp_path: Path) -> None:
    default = config_from_dict({}, root=tmp_path).input
    assert (default.max_rows, default.max_columns) == (2_000_000, 200)
    config = config_from_dict({"input": {"max_rows": 5_000_000, "max_columns": 16384}},
                              root=tmp_path)
    assert (config.input.max_rows, config.input.max_columns) == (5_000_000, 16384)
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"input": {"max_rows": 0, "max_columns": "many"}}, root=tmp_path)
    assert caught.value.problems == [
        "[input] max_rows must be a whole number of rows >= 1 such as 2000000, got 0",
        "[input] max_columns must be a whole number of columns >= 1 such as 200, got 'many' "
        "(a string)",
    ]
    for bad in (1.5, True):
        with pytest.raises(ConfigError, match="max_rows must be a whole number"):
            config_from_dict({"input": {"max_rows": bad}}, root=tmp_path)

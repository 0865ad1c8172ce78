"""Address text folded and split: gridwatch.geocoding.normalise and gridwatch.geocoding.parse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridwatch.geocoding.gazetteer import address_keys, normalise_postcode
from gridwatch.geocoding.normalise import has_chinese, normalise_address, normalise_english
from gridwatch.geocoding.parse import local_part, parse_english, road_and_number, split_division


def _one(text: str) -> str:
    return str(normalise_address(pd.Series([text])).iloc[0])


@pytest.mark.parametrize(("written", "folded"), [
    ("嘉善县魏塘街道体育南路８８号", "嘉善县魏塘街道体育南路88号"),   # full-width digits
    ("嘉善县 魏塘街道  体育南路 88 号", "嘉善县魏塘街道体育南路88号"),  # spaces
    ("体育南路88號", "体育南路88号"),                                  # 號 -> 号
    ("体育南路88#", "体育南路88号"),
    ("中山路12衖", "中山路12弄"),                                     # 衖 -> 弄
    ("新丰村三組", "新丰村3组"),                                      # 組 -> 组, 三 -> 3
    ("新丰村第三村民小组", "新丰村第3组"),
    ("新丰村十二组", "新丰村12组"),
    ("新丰村二十组", "新丰村20组"),
    ("新丰村三组东侧", "新丰村3组"),                                  # where near: dropped
    ("中山路5号附近", "中山路5号"),
    ("中山路5号东南侧50米处", "中山路5号"),
    ("ＡＢＣ工业园区", "ABC工业园区"),                               # full-width letters
    ("魏塘街道办事处", "魏塘街道"),
    ("新丰村村委会", "新丰村"),
])
def test_chinese_addresses_fold_to_one_form(written: str, folded: str) -> None:
    assert _one(written) == folded


def test_missing_and_blank_addresses_stay_missing() -> None:
    out = normalise_address(pd.Series([None, "  ", "　"], index=[5, 6, 7]))
    assert out.isna().all() and list(out.index) == [5, 6, 7]


@given(st.lists(st.sampled_from(list("0123456789")), min_size=1, max_size=4),
       st.sampled_from(["号", "弄", "组"]))
def test_full_width_and_half_width_digits_fold_alike(digits: list[str], word: str) -> None:
    half = "".join(digits)
    full = "".join(chr(ord(d) + 0xFEE0) for d in digits)
    assert _one(f"中山路{full} {word}") == _one(f"中山路{half}{word}") == f"中山路{half}{word}"


@given(st.text(alphabet="新丰村中山路南湖区长虹镇0123456789 号弄组東西侧附近三十", max_size=30))
def test_folding_twice_changes_nothing(text: str) -> None:
    once = normalise_address(pd.Series([text]))
    twice = normalise_address(once)
    assert once.fillna("\x00").tolist() == twice.fillna("\x00").tolist()


def test_division_prefix_and_missing_levels() -> None:
    parts = split_division(pd.Series(["嘉兴市南湖区长虹镇新丰村3组", "南湖区长虹镇",
                                      "长虹镇新丰村"]))
    assert parts["county"].tolist()[:2] == ["南湖区", "南湖区"]
    assert parts["adcode"].tolist()[:2] == ["330402", "330402"]
    assert parts["rest"].iloc[0] == "长虹镇新丰村3组"
    # no province/city/county written: cpca finds none and the text is kept whole
    assert pd.isna(parts["county"].iloc[2]) and parts["rest"].iloc[2] == "长虹镇新丰村"


def test_local_part_road_and_number() -> None:
    local = local_part(pd.Series(["嘉兴市南湖区长虹镇新丰村3组", "嘉善县魏塘街道体育南路88号",
                                  "中山路5号", "镇东路7号", "南湖区长虹镇"]))
    assert local.tolist()[:4] == ["新丰村3组", "体育南路88号", "中山路5号", "镇东路7号"]
    assert pd.isna(local.iloc[4])  # only divisions: nothing inside the town
    road = road_and_number(pd.Series(["体育南路88号", "新丰村3组东侧河道", "中山路", "中山路12弄"]))
    assert road["road"].tolist()[0] == "体育南路" and road["number"].iloc[0] == 88
    assert pd.isna(road["road"].iloc[1])  # 河道 is a river, not a road
    assert road["road"].iloc[2] == "中山路" and np.isnan(road["number"].iloc[2])
    assert road["number"].iloc[3] == 12


def test_english_addresses() -> None:
    parsed = parse_english(pd.Series(["20-26 Foster St", "22 Wolcott Street",
                                      "INTERSECTION Cheney St & Blue Hill Ave", "Foster St",
                                      None]))
    assert parsed["number"].tolist()[:2] == [20.0, 22.0]
    assert parsed["street"].tolist()[:4] == ["foster st", "wolcott st", "cheney st",
                                             "foster st"]
    assert parsed["key"].tolist()[:4] == ["20 foster st", "22 wolcott st",
                                          "blue hill ave & cheney st", "foster st"]
    assert parsed["cross_street"].iloc[2] == "blue hill ave"
    assert parsed["street"].isna().iloc[4]
    assert normalise_english(pd.Series(["WOLCOTT  Street."])).iloc[0] == "wolcott st"


def test_english_parse_falls_back_to_the_simple_rule() -> None:
    # usaddress raises RepeatedLabelError on this text: leading number, then the street
    parsed = parse_english(pd.Series(["12 Main St 14 Main St"]))
    assert parsed["number"].iloc[0] == 12.0
    assert parsed["street"].iloc[0] == "main st 14 main st"


def test_language_is_chosen_per_row() -> None:
    text = pd.Series(["中山路5号", "5 Main St"])
    assert has_chinese(text).tolist() == [True, False]
    keys = address_keys(text)
    assert keys["key"].tolist() == ["中山路5号", "5 main st"]
    assert keys["street"].tolist() == ["中山路", "main st"]


def test_postcodes() -> None:
    assert normalise_postcode(pd.Series(["2119.0", "02119", "314000", "x", None])).fillna(
        "-").tolist() == ["02119", "02119", "314000", "-", "-"]


def test_the_geocoding_stage_exports_its_names() -> None:
    import gridwatch
    import gridwatch.geocoding as stage

    assert list(stage.__all__) == sorted(stage.__all__)
    for name in stage.__all__:
        assert getattr(stage, name) is not None, name
    for name in ("build_gazetteer", "evaluate_holdout", "geocode_addresses"):
        assert getattr(gridwatch, name) is getattr(stage, name)

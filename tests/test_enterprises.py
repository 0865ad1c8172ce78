"""Enterprises: names normalised into one key, rebounds at the enterprise or within R metres,
the repeat-offender rule, on a hand-built fixture in Chinese with a simple reference."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from _enterprise_fixture import context, frame
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.enterprises._settings import EnterpriseSettings, parse_enterprise_settings
from gridwatch.enterprises.names import enterprise_keys, normalise_code, normalise_name
from gridwatch.enterprises.offenders import enterprise_rebounds, enterprise_table
from gridwatch.errors import ConfigError

CODE_A = "91330402MA2B3C4D5E"
# (id, x, y, reported, closed, deadline, category, source, code, name, description,
#  batch, petition date, campaign, unit, town, truth)
ROWS = [
    ("A1", 0, 0, 0, 10, 7, "water", "grid_patrol", CODE_A, "嘉兴市绿源化工有限公司",
     "排污口冒黑水", None, None, None, "南湖分局", "T1", "A"),
    # 10 days after A1 closed, 5 km away: a rebound at the enterprise only
    ("A2", 5000, 0, 20, 25, 30, "water", "hotline", None, "嘉兴市 绿源化工（有限责任公司）",
     "河水发黑", None, None, None, "南湖分局", "T1", "A"),
    ("A3", 0, 50, 30, None, 35, "air", "grid_patrol", "９１３３０４０２ＭＡ２Ｂ３Ｃ４Ｄ５Ｅ",
     "嘉兴市绿源化工有限公司", "异味", None, None, None, "南湖分局", "T1", "A"),
    # 25 days after A2 closed: a rebound at the enterprise; name only (full-width letters)
    ("A4", 300, 0, 50, None, 70, "water", "grid_patrol", None, "嘉兴市绿源化工　有限公司",
     "排污", None, None, None, "南湖分局", "T1", "A"),
    # B: name only; the second problem comes 32 days after the first closed: no rebound
    ("B1", 9000, 0, 5, 8, 20, "noise", "hotline", None, "南湖印染厂", "夜间噪声", None, None,
     None, "秀洲分局", "T2", "B"),
    ("B2", 9000, 10, 40, None, 60, "noise", "hotline", None, "南湖 印染厂", "夜间噪声", None,
     None, None, "秀洲分局", "T2", "B"),
    # an unnamed problem closed on day 40; C's problem 60 m away 5 days later: a nearby rebound
    ("U1", 20000, 0, 30, 40, 45, "solid_waste", "grid_patrol", None, None, "堆放垃圾", None,
     None, None, "秀洲分局", "T2", None),
    ("C1", 20060, 0, 45, None, 90, "solid_waste", "public_report", "91330411MA2X0000YY",
     "嘉兴市清源再生资源有限公司", "垃圾", None, None, None, "秀洲分局", "T2", "C"),
    # same category 60 m away from C1 but 31 days after U1 closed: not a rebound
    ("D1", 20000, 60, 71, None, 90, "solid_waste", "grid_patrol", None, "嘉兴德力五金", "垃圾",
     None, None, None, "秀洲分局", "T2", "D"),
]


def fixture() -> pd.DataFrame:
    return frame(ROWS)


def reference_rebounds(rows: list[tuple], *, radius: float, days: float) -> dict[str, bool]:
    """The definition, pair by pair: a later problem of the same category within ``days`` of
    a closing, at the same (true) enterprise or within ``radius`` metres."""
    out = {}
    for b in rows:
        if b[16] is None:
            continue
        hit = False
        for a in rows:
            if a is b or a[4] is None or a[6] != b[6]:
                continue
            gap = b[3] - a[4]
            near = np.hypot(a[1] - b[1], a[2] - b[2]) <= radius
            if 0 < gap <= days and (a[16] == b[16] or near):
                hit = True
        out[b[0]] = hit
    return out


def test_keys_join_codes_full_width_and_name_variants() -> None:
    issues = fixture()
    keys = enterprise_keys(issues)
    by_truth = {}
    for truth, key in zip(issues["truth"], keys, strict=True):
        if isinstance(truth, str):
            by_truth.setdefault(truth, set()).add(key)
        else:
            assert pd.isna(key)
    assert {t: len(k) for t, k in by_truth.items()} == {"A": 1, "B": 1, "C": 1, "D": 1}
    assert by_truth["A"] == {f"code:{CODE_A}"}  # the name-only rows borrow the code
    assert len(set.union(*by_truth.values())) == 4


def test_rebounds_at_the_enterprise_or_nearby_match_the_reference() -> None:
    issues = fixture()
    ctx = context(issues)
    keys = enterprise_keys(issues)
    out = enterprise_rebounds(issues, keys, days=30, nearby=ctx.rebounds)
    got = dict(zip(issues["issue_id"], out["enterprise_rebound"], strict=True))
    expected = reference_rebounds(ROWS, radius=100, days=30)
    assert {k: bool(v) for k, v in got.items() if k in expected} == expected
    assert expected == {"A1": False, "A2": True, "A3": False, "A4": True, "B1": False,
                        "B2": False, "C1": True, "D1": False}
    assert not out.loc[issues["issue_id"] == "U1", "enterprise_rebound"].iloc[0]
    of = dict(zip(issues["issue_id"], out["enterprise_rebound_of"], strict=True))
    assert (of["A2"], of["A4"], of["C1"]) == ("A1", "A2", "U1")
    by = dict(zip(issues["issue_id"], out["rebound_by"], strict=True))
    assert (by["A2"], by["C1"]) == ("enterprise", "nearby")


def test_enterprise_table_counts_and_the_repeat_offender_rule() -> None:
    issues = fixture()
    ctx = context(issues, enterprises=EnterpriseSettings(min_problems=4, min_rebounds=2))
    table = enterprise_table(ctx, "2026-05-10", layer="town").set_index("enterprise_key")
    as_of_end = pd.Timestamp("2026-05-10 23:59:59", tz="Asia/Shanghai")
    expected_rebounds = reference_rebounds(ROWS, radius=100, days=30)
    for truth in ("A", "B", "C", "D"):
        mine = issues[issues["truth"] == truth]
        key = enterprise_keys(issues)[mine.index[0]]
        known = mine["reported_at"] <= as_of_end
        if not known.any():  # D1 is reported the day after
            assert key not in table.index
            continue
        row = table.loc[key]
        closed = mine["closed_at"].notna() & (mine["closed_at"] <= as_of_end)
        overdue = known & ~closed & (mine["deadline"].dt.tz_convert("Asia/Shanghai").dt.date
                                     < dt.date(2026, 5, 10))
        rebounds = sum(expected_rebounds[i] for i in mine["issue_id"][known])
        assert (row["problems"], row["closed"], row["open"], row["overdue"],
                row["rebounds"]) == (known.sum(), closed.sum(), (known & ~closed).sum(),
                                     overdue.sum(), rebounds), truth
    assert table.loc[f"code:{CODE_A}", "enterprise_name"] == "嘉兴市绿源化工有限公司"
    assert table.loc[f"code:{CODE_A}", "name_variants"] == 3
    assert table.loc[f"code:{CODE_A}", "area_id"] == "T1"
    flagged = set(table.index[table["repeat_offender"]])
    assert flagged == {f"code:{CODE_A}"}  # 4 problems and 2 rebounds
    assert "4 problems" in table.loc[f"code:{CODE_A}", "reason"]
    # one rebound is enough with min_rebounds = 1: C too
    ctx = context(issues, enterprises=EnterpriseSettings(min_problems=0, min_rebounds=1))
    table = enterprise_table(ctx, "2026-05-10").set_index("enterprise_key")
    assert set(table.index[table["repeat_offender"]]) == {f"code:{CODE_A}",
                                                           "code:91330411MA2X0000YY"}


def test_the_table_is_as_of_a_date_and_the_window_counts() -> None:
    issues = fixture()
    ctx = context(issues, enterprises=EnterpriseSettings(window_days=20, min_problems=2,
                                                         min_rebounds=0))
    # as of day 31 (2026-04-01): A has A1..A3 known; in the last 20 days only A2 and A3
    table = enterprise_table(ctx, "2026-04-01").set_index("enterprise_key")
    row = table.loc[f"code:{CODE_A}"]
    assert (row["problems"], row["problems_window"]) == (3, 2)
    assert bool(row["repeat_offender"])
    assert "B1" not in set(table.index)  # keys, not ids
    assert not bool(table.loc["name:南湖印染厂", "repeat_offender"])  # B2 not known yet


def test_a_scope_sees_only_its_enterprises_problems() -> None:
    issues = fixture()
    ctx = context(issues)
    sub = ctx.restrict(issues["town_id"] == "T2")
    table = enterprise_table(sub, "2026-06-30")
    assert f"code:{CODE_A}" not in set(table["enterprise_key"])
    assert set(table["enterprise_key"]) == {"name:南湖印染厂", "code:91330411MA2X0000YY",
                                            "name:嘉兴德力五金"}


def test_no_enterprise_column_gives_an_empty_table() -> None:
    issues = fixture().drop(columns=["enterprise_code", "enterprise_name"])
    table = enterprise_table(context(issues), "2026-06-30")
    assert table.empty and "repeat_offender" in table


# --- names ------------------------------------------------------------------------------

_FULL = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
_FORMS = ("有限公司", "有限责任公司", "（有限公司）", "(有限责任公司)", "股份有限公司", "")
_HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
_STEMS = st.text(alphabet=st.one_of(_HAN, st.sampled_from("0123456789ABCXYZ")),
                 min_size=2, max_size=10).filter(lambda s: not s.endswith("公司"))


@settings(max_examples=200, deadline=None)
@given(stem=_STEMS, forms=st.lists(st.sampled_from(_FORMS), min_size=2, max_size=4),
       spaces=st.lists(st.integers(0, 12), max_size=4), width=st.booleans())
def test_spellings_of_one_name_normalise_alike(stem: str, forms: list[str],
                                               spaces: list[int], width: bool) -> None:
    seen = set()
    for k, form in enumerate(forms):
        text = stem + form
        for cut in spaces:  # spaces anywhere, ideographic or not
            cut = min(cut, len(text))
            text = text[:cut] + (" " if k % 2 else "\u3000") + text[cut:]
        if width and k % 2:
            text = "".join(_FULL.get(ch, ch) for ch in text)
        seen.add(normalise_name(text))
    assert seen == {normalise_name(stem)}
    assert normalise_name(stem) == stem.casefold()


@settings(max_examples=200, deadline=None)
@given(a=_STEMS, b=_STEMS, form=st.sampled_from(_FORMS))
def test_different_names_stay_different(a: str, b: str, form: str) -> None:
    if a.casefold() != b.casefold():
        assert normalise_name(a + form) != normalise_name(b + "有限公司")


@settings(max_examples=100, deadline=None)
@given(code=st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=18, max_size=18),
       cuts=st.lists(st.integers(0, 18), max_size=3), width=st.booleans())
def test_codes_normalise_across_width_case_and_spaces(code: str, cuts: list[int],
                                                      width: bool) -> None:
    text = code.lower() if cuts else code
    for cut in cuts:
        text = text[:cut] + " - " + text[cut:]
    if width:
        text = "".join(_FULL.get(ch, ch) for ch in text)
    assert normalise_code(text) == code


def test_enterprise_settings_are_validated() -> None:
    assert parse_enterprise_settings({}) == EnterpriseSettings()
    with pytest.raises(ConfigError) as caught:
        parse_enterprise_settings({"min_problem": 3, "window_days": 0, "radius_m": "far",
                                   "min_rebounds": -1})
    text = "\n".join(caught.value.problems)
    assert "'min_problem'" in text and "window_days" in text and "radius_m" in text
    assert "min_rebounds" in text
    with pytest.raises(ConfigError, match="both 0"):
        parse_enterprise_settings({"min_problems": 0, "min_rebounds": 0})

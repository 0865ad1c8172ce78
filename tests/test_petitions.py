"""Petition batches: received, closed, closed on time and the repeat-complaint rate, on a
hand-built case in Chinese with the expected figures from a pair-by-pair reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _enterprise_fixture import context, frame

from gridwatch.enterprises._settings import PetitionSettings, parse_petition_settings
from gridwatch.enterprises.petitions import ALL_BATCHES, batch_table, repeat_complaints
from gridwatch.errors import ConfigError

B1, B2 = "第一批", "第二批"
E = "91330402MA2PET001X"
# (id, x, y, reported, closed, deadline, category, source, code, name, description,
#  batch, petition date, campaign, unit, town, truth)
ROWS = [
    # batch 1, handed over on day 0
    ("P1", 0, 0, 1, 5, 10, "water", "inspection", None, None, "河道漂浮物", B1, 0, None,
     "南湖分局", "T1", None),
    ("P2", 1000, 0, 1, 15, 10, "air", "inspection", E, "嘉兴市远达化工有限公司", "废气",
     B1, 0, None, "南湖分局", "T1", "E"),
    ("P3", 2000, 0, 2, None, 40, "water", "inspection", None, None, "河道有黑臭水体", B1, 0,
     None, "南湖分局", "T1", None),
    ("P4", 5000, 0, 2, 8, 9, "noise", "inspection", None, None, "工地噪声", B1, 0, None,
     "秀洲分局", "T2", None),
    ("P5", 7000, 0, 3, None, 6, "solid_waste", "inspection", None, None, "垃圾", B1, 0, None,
     "秀洲分局", "T2", None),
    # batch 2, handed over on day 2
    ("P6", 9000, 0, 3, None, 30, "air", "inspection", None, None, "烧垃圾", B2, 2, None,
     "秀洲分局", "T2", None),
    ("P7", 9020, 0, 10, None, 30, "air", "inspection", None, None, "焚烧", B2, 2, None,
     "秀洲分局", "T2", None),
    # what follows
    ("H1", 30, 0, 10, None, 20, "water", "hotline", None, None, "又有漂浮物", None, None,
     None, "南湖分局", "T1", None),                       # 30 m from P1, day 10: place
    ("H2", 3000, 0, 20, None, 30, "air", "public_report", "９１３３０４０２ＭＡ２ＰＥＴ００１Ｘ",
     None, "气味", None, None, None, "南湖分局", "T1", "E"),  # 2 km, same enterprise
    ("H3", 2150, 0, 15, None, 30, "water", "hotline", None, None, "河道有 黑臭水体", None,
     None, None, "南湖分局", "T1", None),                 # 150 m, same description
    ("H4", 5010, 0, 40, None, 50, "noise", "hotline", None, None, "工地噪声", None, None,
     None, "秀洲分局", "T2", None),                       # 10 m, but 40 days later
    ("G5", 7000, 0, 5, None, 30, "solid_waste", "grid_patrol", None, None, "垃圾", None,
     None, None, "秀洲分局", "T2", None),                 # same place, not a complaint
    ("H6", 2400, 0, 12, None, 30, "water", "hotline", None, None, "河道有黑臭水体", None,
     None, None, "南湖分局", "T1", None),                 # same text as P3 but 400 m away
]


def reference(rows: list[tuple], s: PetitionSettings, as_of_day: float) -> dict[str, bool]:
    """Pair by pair: a later complaint within s.days of the petition's date, at most
    s.radius_m away, of the same true enterprise, or of the same description (spaces
    aside) at most s.description_radius_m away."""
    out = {}
    for p in rows:
        if p[11] is None:
            continue
        start = max(p[12], p[3]) if p[12] is not None else p[3]
        hit = False
        for q in rows:
            complaint = q[7] in s.sources or q[11] is not None
            if q is p or not complaint or q[3] > as_of_day:
                continue
            if not 0 < q[3] - start <= s.days:
                continue
            dist = np.hypot(p[1] - q[1], p[2] - q[2])
            same_text = (p[10] or "").replace(" ", "") == (q[10] or "").replace(" ", "")
            if dist <= s.radius_m or (p[16] is not None and p[16] == q[16]) or (
                    same_text and dist <= s.description_radius_m):
                hit = True
        out[p[0]] = hit
    return out


def test_repeat_complaints_by_place_enterprise_and_description() -> None:
    issues = frame(ROWS)
    s = PetitionSettings()
    out = repeat_complaints(issues, s)
    got = {i: bool(r) for i, r, b in zip(issues["issue_id"], out["repeated"],
                                          issues["petition_batch"], strict=True) if pd.notna(b)}
    assert got == reference(ROWS, s, as_of_day=1000)
    # P7 (day 10) follows P6 (day 3) at 20 m; P6 was recorded before P7 was
    assert got == {"P1": True, "P2": True, "P3": True, "P4": False, "P5": False, "P6": True,
                   "P7": False}
    by = dict(zip(issues["issue_id"], zip(out["repeated_by"], out["repeat_by"], strict=True),
                  strict=True))
    assert by["P1"] == ("H1", "place")
    assert by["P2"] == ("H2", "enterprise")
    assert by["P3"] == ("H3", "description")
    assert by["P6"] == ("P7", "place")  # another petition is a complaint too
    assert not out.loc[issues["petition_batch"].isna(), "repeated"].any()


def test_batch_table_figures_and_the_rate() -> None:
    issues = frame(ROWS)
    ctx = context(issues, petitions=PetitionSettings())
    table = batch_table(ctx, "2026-05-31").set_index("petition_batch")
    repeated = reference(ROWS, PetitionSettings(), as_of_day=1000)
    end = pd.Timestamp("2026-05-31 23:59:59", tz="Asia/Shanghai")
    for batch in (B1, B2):
        mine = issues[issues["petition_batch"] == batch]
        closed = mine["closed_at"].notna() & (mine["closed_at"] <= end)
        on_time = closed & (mine["closed_at"].dt.tz_convert("Asia/Shanghai").dt.normalize()
                            <= mine["deadline"].dt.tz_convert("Asia/Shanghai").dt.normalize())
        n_repeated = sum(repeated[i] for i in mine["issue_id"])
        row = table.loc[batch]
        assert (row["received"], row["closed"], row["closed_on_time"], row["repeated"]) == (
            len(mine), closed.sum(), on_time.sum(), n_repeated)
        assert row["closure_rate"] == pytest.approx(closed.sum() / len(mine))
        assert row["repeat_rate"] == pytest.approx(n_repeated / len(mine))
    assert table.loc[B1, "repeat_rate"] == pytest.approx(3 / 5)
    assert table.loc[B2, "repeat_rate"] == pytest.approx(1 / 2)
    total = table.loc[ALL_BATCHES]
    assert (total["received"], total["repeated"]) == (7, 4)
    assert total["repeat_rate"] == pytest.approx(4 / 7)
    assert str(table.loc[B1, "petition_date"]) == "2026-03-01"
    assert list(table.index) == [B1, B2, ALL_BATCHES]


def test_only_complaints_known_by_the_date_repeat() -> None:
    issues = frame(ROWS)
    ctx = context(issues, petitions=PetitionSettings())
    # as of day 12 (2026-03-13): H1 (day 10) and P7 (day 10) are known, H2/H3 not yet
    table = batch_table(ctx, "2026-03-13").set_index("petition_batch")
    expected = reference(ROWS, PetitionSettings(), as_of_day=12)
    assert table.loc[B1, "repeated"] == sum(expected[p] for p in ("P1", "P2", "P3", "P4", "P5"))
    assert table.loc[B1, "repeated"] == 1


def test_a_longer_window_and_other_sources() -> None:
    issues = frame(ROWS)
    s = PetitionSettings(days=45, sources=("hotline", "grid_patrol"))
    out = repeat_complaints(issues, s)
    got = {i: bool(r) for i, r, b in zip(issues["issue_id"], out["repeated"],
                                          issues["petition_batch"], strict=True) if pd.notna(b)}
    assert got == reference(ROWS, s, as_of_day=1000)
    assert got["P4"] and got["P5"] and not got["P2"]  # H2 is a public report: not counted


def test_no_batch_column_gives_an_empty_table() -> None:
    issues = frame(ROWS).drop(columns=["petition_batch"])
    assert batch_table(context(issues), "2026-05-31").empty


def test_petition_settings_are_validated() -> None:
    assert parse_petition_settings({"sources": ["hotline"]}).sources == ("hotline",)
    with pytest.raises(ConfigError) as caught:
        parse_petition_settings({"days": -1, "sources": ["热线"], "radius": 5})
    text = "\n".join(caught.value.problems)
    assert "days" in text and "'热线'" in text and "'radius'" in text


def test_the_monthly_review_has_the_sections() -> None:
    from gridwatch.enterprises._settings import EnterpriseSettings
    from gridwatch.supervision.review import REVIEW_TABLES, monthly_review, review_markdown

    issues = frame(ROWS)
    ctx = context(issues, petitions=PetitionSettings(),
                  enterprises=EnterpriseSettings(min_problems=2, min_rebounds=0))
    tables = monthly_review(ctx, "2026-03", layer="town")
    assert list(tables) == [*REVIEW_TABLES, "petitions", "repeat_offenders"]
    pd.testing.assert_frame_equal(tables["petitions"], batch_table(ctx, "2026-03-31"))
    # the enterprise E has the petition P2 and the complaint H2: two problems
    assert tables["repeat_offenders"]["enterprise_code"].tolist() == [E]
    assert "第一批" in review_markdown(tables)

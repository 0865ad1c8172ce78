"""Campaigns (专项行动): from the column or a rule over category, source and dates; found,
closed, remaining and overdue per campaign, by area and unit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from _enterprise_fixture import context, frame

from gridwatch.config import config_from_dict
from gridwatch.enterprises._settings import (
    CampaignRule,
    CampaignSettings,
    parse_campaign_settings,
)
from gridwatch.enterprises.campaigns import campaign_table, campaign_tags
from gridwatch.errors import ConfigError

# (id, x, y, reported, closed, deadline, category, source, code, name, description,
#  batch, petition date, campaign, unit, town, truth)
ROWS = [
    ("W1", 0, 0, 1, 5, 10, "solid_waste", "grid_patrol", None, None, "垃圾", None, None,
     "清废行动", "南湖执法队", "T1", None),
    ("W2", 0, 0, 2, None, 10, "solid_waste", "grid_patrol", None, None, "垃圾", None, None,
     "清废行动", "秀洲执法队", "T2", None),
    ("W3", 0, 0, 3, None, 60, "air", "hotline", None, None, "废气", None, None, " 清废行动 ",
     "秀洲执法队", "T2", None),
    # the rule 绿剑: water from inspections, days 0..30 (2026-03-01 .. 2026-03-31)
    ("R1", 0, 0, 0, 20, 10, "water", "inspection", None, None, "排污", None, None, None,
     "南湖分局", "T1", None),
    ("R2", 0, 0, 29, None, 35, "water", "inspection", None, None, "排污", None, None, None,
     "南湖分局", "T1", None),
    ("R3", 0, 0, 31, None, 60, "water", "inspection", None, None, "排污", None, None, None,
     "南湖分局", "T1", None),                         # after the rule's end
    ("R4", 0, 0, 10, None, 20, "water", "hotline", None, None, "排污", None, None, None,
     "南湖分局", "T1", None),                         # another source
    ("R5", 0, 0, 10, None, 20, "water", "inspection", None, None, "排污", None, None,
     "举一反三", "南湖分局", "T1", None),               # its own column wins
]
RULE = CampaignRule("绿剑", categories=("water",), sources=("inspection",),
                    start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))


def test_tags_from_the_column_then_the_rules() -> None:
    issues = frame(ROWS)
    tags = campaign_tags(issues, CampaignSettings((RULE,)), timezone="Asia/Shanghai")
    got = {i: None if pd.isna(t) else t for i, t in zip(issues["issue_id"], tags, strict=True)}
    assert got == {"W1": "清废行动", "W2": "清废行动", "W3": "清废行动", "R1": "绿剑",
                   "R2": "绿剑", "R3": None, "R4": None, "R5": "举一反三"}


def _reference(issues: pd.DataFrame, tags: pd.Series, as_of: str, group: str | None):
    end = pd.Timestamp(f"{as_of} 23:59:59", tz="Asia/Shanghai")
    day = dt.date.fromisoformat(as_of)
    rows = {}
    for k in range(len(issues)):
        if pd.isna(tags.iloc[k]) or issues["reported_at"].iloc[k] > end:
            continue
        closed = pd.notna(issues["closed_at"].iloc[k]) and issues["closed_at"].iloc[k] <= end
        due = issues["deadline"].iloc[k].tz_convert("Asia/Shanghai").date()
        key = (tags.iloc[k], *([issues[group].iloc[k]] if group else []))
        r = rows.setdefault(key, [0, 0, 0, 0])
        r[0] += 1
        r[1] += closed
        r[2] += not closed
        r[3] += (not closed) and due < day
    return rows


@pytest.mark.parametrize("by", [None, "unit", "town"])
def test_campaign_table_by_campaign_unit_and_area(by: str | None) -> None:
    issues = frame(ROWS)
    ctx = context(issues, campaigns=CampaignSettings((RULE,)))
    table = campaign_table(ctx, "2026-03-20", by=by)
    group = {"unit": "responsible_unit", "town": "area_id"}.get(by or "")
    tags = campaign_tags(issues, CampaignSettings((RULE,)), timezone="Asia/Shanghai")
    source = {"unit": "responsible_unit", "town": "town_id"}.get(by or "")
    expected = _reference(issues, tags, "2026-03-20", source)
    got = {tuple(r[: 1 + bool(group)]): list(r[1 + bool(group): 5 + bool(group)])
           for r in table.itertuples(index=False)}
    assert got == {k: v for k, v in expected.items()}
    assert (table["closure_rate"] == table["closed"] / table["found"]).all()


def test_an_unknown_layer_is_named() -> None:
    ctx = context(frame(ROWS), campaigns=CampaignSettings((RULE,)))
    with pytest.raises(ConfigError, match="'county'"):
        campaign_table(ctx, "2026-03-20", by="county")


def test_campaign_rules_from_the_project_file(tmp_path: Path) -> None:
    config = config_from_dict({"territory": {"timezone": "Asia/Shanghai"}, "campaigns": {
        "rules": [{"name": "绿剑", "categories": ["water"], "start": dt.date(2026, 3, 1),
                   "end": "2026-03-31", "sources": ["inspection"]}]}}, root=tmp_path)
    assert config.settings.campaigns == CampaignSettings((RULE,))
    with pytest.raises(ConfigError) as caught:
        parse_campaign_settings({"rules": [{"name": "", "categories": ["水"]},
                                           {"name": "x", "start": "2026-05-01",
                                            "end": "2026-04-01", "colour": 1}]})
    text = "\n".join(caught.value.problems)
    assert "name must be" in text and "before start" in text and "'colour'" in text

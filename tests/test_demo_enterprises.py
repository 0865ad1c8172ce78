"""The demo city's planted enterprises, petition batch and campaigns are found, from the
library and from the command line (gridwatch enterprises | petitions | campaigns)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import demo_city

from gridwatch.cli import main
from gridwatch.enterprises import (
    batch_table,
    campaign_table,
    enterprise_keys,
    enterprise_table,
    repeat_complaints,
)
from gridwatch.supervision.context import open_context

END = "2026-10-31"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return demo_city(tmp_path_factory.mktemp("demo-enterprises"), problems=6000, scale=0.05,
                     days=180)


@pytest.fixture(scope="module")
def ctx(demo: dict[str, Any]) -> Any:
    return open_context(demo["config"], demo["url"])


def _cli(demo: dict[str, Any], *args: str) -> Any:
    result = CliRunner().invoke(main, [*args, "--config", str(demo["config_path"]), "--db",
                                       demo["url"], "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_planted_offenders_are_one_enterprise_each_and_flagged(demo: dict[str, Any],
                                                               ctx: Any) -> None:
    planted = demo["planted"]["enterprises"]["offenders"]
    assert len(planted) >= 3
    keys = enterprise_keys(ctx.issues).set_axis(ctx.issues["issue_id"])
    table = enterprise_table(ctx, END).set_index("enterprise_key")
    for offender in planted:
        mine = keys.reindex(offender["issue_ids"])
        assert set(mine) == {f"code:{offender['enterprise_code']}"}, offender  # one key
        row = table.loc[f"code:{offender['enterprise_code']}"]
        assert row["name_variants"] == len(offender["issue_ids"])  # spelled that many ways
        assert row["problems"] == len(offender["issue_ids"])
        assert row["rebounds"] >= offender["rebounds"] >= 2
        assert bool(row["repeat_offender"])
    flagged = set(table.index[table["repeat_offender"]])
    assert flagged == {f"code:{o['enterprise_code']}" for o in planted}
    ordinary = demo["planted"]["enterprises"]["ordinary"]
    assert len(table) == len(planted) + ordinary["enterprises"] + len(
        demo["planted"]["enterprises"]["petitions"]["repeated"])
    printed = _cli(demo, "enterprises", "--as-of", END, "--offenders")["enterprises"]
    assert {r["enterprise_code"] for r in printed} == {o["enterprise_code"] for o in planted}


def test_the_petition_batch_and_its_planted_repeats(demo: dict[str, Any], ctx: Any) -> None:
    planted = demo["planted"]["enterprises"]["petitions"]
    table = batch_table(ctx, END).set_index("petition_batch")
    row = table.loc[planted["batch"]]
    assert row["received"] == len(planted["issue_ids"])
    assert str(row["petition_date"]) == planted["date"]
    repeats = repeat_complaints(ctx.issues, ctx.settings.petitions,
                                metric_crs=ctx.metric_crs).set_axis(ctx.issues["issue_id"])
    for pair in planted["repeated"]:
        assert bool(repeats.loc[pair["petition"], "repeated"]), pair
    assert row["repeated"] >= len(planted["repeated"])
    assert row["repeat_rate"] == pytest.approx(row["repeated"] / row["received"])
    evaluated = ctx.evaluate(END).set_axis(ctx.issues["issue_id"])
    mine = evaluated.loc[planted["issue_ids"]]
    assert row["closed"] == int((~mine["is_open"]).sum())
    assert row["closed_on_time"] == int((mine["code"] == "closed_on_time").sum())
    printed = _cli(demo, "petitions", "--as-of", END)["petitions"]
    assert printed[0]["petition_batch"] == planted["batch"]
    assert printed[0]["received"] == len(planted["issue_ids"])


def test_the_campaign_column_and_the_rule(demo: dict[str, Any], ctx: Any) -> None:
    planted = demo["planted"]["enterprises"]["campaign"]
    table = campaign_table(ctx, END).set_index("campaign")
    assert table.loc[planted["name"], "found"] == len(planted["issue_ids"])
    # the rule 绿剑2026 of the demo's project file, counted by hand
    issues = ctx.issues
    day = issues["reported_at"].dt.tz_convert("Asia/Shanghai").dt.date
    rule = (issues["category"].eq("water") & issues["source"].isin(["inspection",
                                                                     "grid_patrol"])
            & (day >= dt.date(2026, 6, 1)) & (day <= dt.date(2026, 8, 31))
            & issues["campaign"].isna())
    counted = ctx.counted().to_numpy(dtype=bool)
    assert table.loc["绿剑2026", "found"] == int((rule.to_numpy() & counted).sum()) > 0
    evaluated = ctx.evaluate(END)
    remaining = rule.to_numpy() & counted & evaluated["is_open"].to_numpy(dtype=bool)
    assert table.loc["绿剑2026", "remaining"] == int(remaining.sum())
    printed = _cli(demo, "campaigns", "--as-of", END, "--by", "county")["campaigns"]
    by_county = pd.DataFrame(printed)
    assert by_county.groupby("campaign")["found"].sum().to_dict() == \
        table["found"].to_dict()


def test_the_exports_carry_the_columns_under_chinese_headers(demo: dict[str, Any]) -> None:
    planted = demo["planted"]["enterprises"]
    offender = planted["offenders"][0]
    issues = demo["issues"].set_index("issue_id")
    names = issues.loc[offender["issue_ids"], "enterprise_name"].tolist()
    assert len(set(names)) == len(names) > 2  # written differently on each row
    assert issues.loc[offender["issue_ids"][0], "enterprise_code"] == offender["enterprise_code"]
    assert issues.loc[offender["issue_ids"][1:], "enterprise_code"].isna().all()
    petitions = issues.loc[planted["petitions"]["issue_ids"]]
    assert (petitions["source"] == "inspection").all()
    dates = petitions["petition_date"].dt.tz_convert("Asia/Shanghai").dt.date.unique()
    assert [str(d) for d in dates] == [planted["petitions"]["date"]]
    assert np.all(petitions["reported_at"] >= petitions["petition_date"])


def test_a_review_of_the_demo_has_the_sheets(demo: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "review.xlsx"
    result = CliRunner().invoke(main, ["review", "--month", "2026-09", "--out", str(out),
                                       "--config", str(demo["config_path"]), "--db",
                                       demo["url"]], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    import openpyxl

    sheets = openpyxl.load_workbook(out).sheetnames
    assert {"petitions", "repeat_offenders", "campaigns"} <= set(sheets)

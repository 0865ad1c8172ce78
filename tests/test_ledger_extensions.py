"""Deadline extensions of single problems (延期): the code changes from the day of approval on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
from helpers import grid_cell_centre, invoke

from gridwatch.supervision.extensions import apply_extensions, extension_key, extensions_as_of


def _export(tmp_path: Path) -> Path:
    """E1 in G00 and E2 in G01, both open since 1 Feb with the deadline 20 Feb."""
    lines = ["问题编号,上报时间,经度,纬度,坐标系,问题类型,状态,整改期限,责任单位"]
    for k, issue in enumerate(("E1", "E2")):
        x, y = grid_cell_centre(k, 0)
        lines.append(f"{issue},2026-02-01 09:00,{x},{y},wgs84,水污染,整改中,2026-02-20,甲局")
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _red(db: list[str], day: str) -> dict[str, int]:
    result = invoke(["status", "--as-of", day, "--layer", "grid", "--json", *db])
    assert result.exit_code == 0, result.output
    return {a["area_id"]: int(a["red"]) for a in json.loads(result.output)["areas"]
            if a["area_id"] in ("G00", "G01")}


def test_an_extension_changes_the_code_from_the_day_of_approval_only(
        tmp_path: Path, small_project: Path, store_url: str) -> None:
    db = ["--db", store_url, "--config", str(small_project)]
    # observed on 5 March: the import keeps the evaluation as of that day beside the copy
    assert invoke(["ingest", str(_export(tmp_path)), "--observed-at", "2026-03-05 18:00:00",
                   *db]).exit_code == 0
    before = {day: _red(db, day) for day in ("2026-03-04", "2026-03-05", "2026-04-01")}
    assert all(v == {"G00": 1, "G01": 1} for v in before.values())
    extended = invoke(["ledger", "extend", "E1", "--problem", "--to", "2026-03-31", "--reason",
                       "汛期无法施工", "--approved-by", "市整改办", "--on", "2026-03-05", *db])
    assert extended.exit_code == 0, extended.output
    assert _red(db, "2026-03-04") == {"G00": 1, "G01": 1}  # before approval: as it was
    assert _red(db, "2026-03-05") == {"G00": 0, "G01": 1}  # from the approval day: not red
    assert _red(db, "2026-03-31") == {"G00": 0, "G01": 1}  # due that day
    assert _red(db, "2026-04-01") == {"G00": 1, "G01": 1}  # past the new deadline
    history = json.loads(invoke(["ledger", "history", "E1", "--problem", "--json",
                                 *db]).output)["events"]
    ext = [e for e in history if e["kind"] == "extend"]
    assert [(e["old_value"], e["new_value"], e["reason"], e["unit"]) for e in ext] == [
        ("2026-02-20", "2026-03-31", "汛期无法施工", "市整改办")]
    unknown = invoke(["ledger", "extend", "E9", "--problem", "--to", "2026-03-31",
                      "--reason", "x", "--approved-by", "y", "--on", "2026-03-05", *db])
    assert unknown.exit_code != 0 and "E9" in unknown.output


def test_reminders_and_the_evaluation_use_the_extension(tmp_path: Path,
                                                        small_project: Path) -> None:
    from gridwatch.config import load_config
    from gridwatch.supervision.context import open_context

    db_url = f"sqlite:///{(tmp_path / 's.sqlite').as_posix()}"
    db = ["--db", db_url, "--config", str(small_project)]
    assert invoke(["ingest", str(_export(tmp_path)), *db]).exit_code == 0
    assert invoke(["ledger", "extend", "E1", "--problem", "--to", "2026-03-31", "--reason",
                   "r", "--approved-by", "u", "--on", "2026-03-05", *db]).exit_code == 0
    ctx = open_context(load_config(small_project), db_url)
    ids = ctx.issues["issue_id"].tolist()
    e1 = ids.index("E1")
    on = ctx.evaluate("2026-03-10")
    assert on["code"].iloc[e1] == "green" and on["code"].iloc[1 - e1] == "red"
    assert str(on["deadline"].iloc[e1].tz_convert("Asia/Shanghai")) == \
        "2026-03-31 23:59:59+08:00"
    assert ctx.evaluate("2026-03-04")["code"].iloc[e1] == "red"
    assert ctx.open_overdue("2026-03-10")[2].tolist() == [i != "E1" for i in ids]
    reminded = set(ctx.reminders("2026-03-10")["issue_id"])
    assert "E1" not in reminded and "E2" in reminded


def test_the_last_approved_extension_holds() -> None:
    ext = pd.DataFrame({
        "issue_id": ["A", "A", "B", "A"],
        "approved_on": pd.to_datetime(["2026-03-01", "2026-03-10", "2026-03-02",
                                       "2026-03-10"]).astype("datetime64[s]"),
        "new_deadline": pd.to_datetime(["2026-03-20", "2026-04-30", "2026-03-15",
                                        "2026-05-31"]).astype("datetime64[s]"),
        "id": [1, 2, 3, 4]})
    as_of = extensions_as_of(ext, dt.date(2026, 3, 5)).set_index("issue_id")
    assert str(as_of.loc["A", "new_deadline"])[:10] == "2026-03-20"
    later = extensions_as_of(ext, dt.date(2026, 3, 10)).set_index("issue_id")
    assert str(later.loc["A", "new_deadline"])[:10] == "2026-05-31"  # recorded last that day
    assert extensions_as_of(ext, dt.date(2026, 2, 28)).empty
    deadlines = pd.DataFrame({"deadline": pd.to_datetime(["2026-03-01", "2026-03-01",
                                                          "2026-03-01"], utc=True)})
    due = np.array(["2026-03-01"] * 3, dtype="datetime64[D]")
    out, days, extended = apply_extensions(np.array([0, 0, -1, 0]), ext, dt.date(2026, 3, 12),
                                           deadlines, due, timezone="Asia/Shanghai")
    assert str(out["deadline"].iloc[0].tz_convert("Asia/Shanghai")) == \
        "2026-05-31 23:59:59+08:00"
    assert out["deadline"].iloc[1] == deadlines["deadline"].iloc[1]
    assert extended.tolist() == [True, False, False]  # B is not among these problems
    assert days.astype(str).tolist() == ["2026-05-31", "2026-03-01", "2026-03-01"]
    assert due.astype(str).tolist() == ["2026-03-01"] * 3  # the input is not changed
    assert extension_key(ext) != extension_key(ext.iloc[:3]) and extension_key(None) == ""
    same, same_days, none = apply_extensions(np.array([0, 0, -1, 0]), ext,
                                             dt.date(2026, 2, 1), deadlines, due,
                                             timezone="Asia/Shanghai")
    assert same is deadlines and same_days is due and not none.any()


def test_the_app_reloads_its_context_after_an_extension(tmp_path: Path,
                                                        small_project: Path) -> None:
    from app_pages._shared import stamp

    db_url = f"sqlite:///{(tmp_path / 's.sqlite').as_posix()}"
    db = ["--db", db_url, "--config", str(small_project)]
    assert invoke(["ingest", str(_export(tmp_path)), *db]).exit_code == 0
    before = stamp(db_url)
    assert before == 1  # the run id while no problem is extended
    assert invoke(["ledger", "extend", "E1", "--problem", "--to", "2026-03-31", "--reason",
                   "r", "--approved-by", "u", "--on", "2026-03-05", *db]).exit_code == 0
    after = stamp(db_url)
    assert after != before and after >> 32 == 1  # the same run, another extension state
    assert invoke(["ledger", "extend", "E2", "--problem", "--to", "2026-03-31", "--reason",
                   "r", "--approved-by", "u", "--on", "2026-03-06", *db]).exit_code == 0
    assert stamp(db_url) not in (before, after)

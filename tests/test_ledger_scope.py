"""A user with a scope sees the ledger's tasks their own problems hang under."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from _ledger_fixture import write_ledger
from helpers import grid_cell_centre, invoke, sqlite_url

from gridwatch.ledger.scope import ledger_in_scope


def test_ledger_in_scope_keeps_the_tasks_of_the_problems_in_scope() -> None:
    tasks = pd.DataFrame({"task_id": ["A-1", "A-2", "B-1", "C-1"],
                          "item_id": ["A", "A", "B", "C"]})
    ms = pd.DataFrame({"task_id": ["A-1", "B-1", "C-1"], "seq": [1, 1, 1]})
    events = pd.DataFrame({"subject": ["task", "task", "issue", "issue"],
                           "subject_id": ["A-2", "C-1", "P1", "P9"]})
    issues = pd.DataFrame({"issue_id": ["P1", "P2"], "ledger_ref": ["A", "B-1"]})
    kept, kept_ms, kept_events = ledger_in_scope(tasks, ms, events, issues)
    assert kept["task_id"].tolist() == ["A-1", "A-2", "B-1"]  # item A: both its tasks
    assert kept_ms["task_id"].tolist() == ["A-1", "B-1"]
    assert kept_events["subject_id"].tolist() == ["A-2", "P1"]
    none = ledger_in_scope(tasks, ms, events, None)
    assert all(len(frame) == 0 for frame in none)


def test_progress_and_backlog_for_a_scoped_user(tmp_path: Path, small_project: Path) -> None:
    from gridwatch.access import Scope, add_user
    from gridwatch.store import Store

    url = sqlite_url(tmp_path / "s.sqlite")
    db = ["--db", url, "--config", str(small_project)]
    assert invoke(["ledger", "import", str(write_ledger(tmp_path)), *db]).exit_code == 0
    lines = ["问题编号,上报时间,经度,纬度,坐标系,状态,整改期限,办结时间,整改任务编号,责任单位"]
    rows = [("P1", 0, "Z2-01-1", "整改中", ""), ("P2", 4, "S1-02-1", "整改中", ""),
            ("P3", 0, "", "已办结", "2024-03-05 10:00"),
            ("P4", 4, "", "已办结", "2024-03-05 10:00")]
    for issue, cell, ref, status, closed in rows:
        x, y = grid_cell_centre(cell % 3, cell // 3)
        lines.append(f"{issue},2024-03-01 09:00,{x},{y},wgs84,{status},2024-03-10,{closed},"
                     f"{ref},甲局")
    export = tmp_path / "p.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert invoke(["ingest", str(export), *db]).exit_code == 0
    with Store(url) as store:
        add_user(store, "g00", role="supervisor", scope=Scope.parse("grid:G00"),
                 password="a-long-password-1", actor="test")
    whole = json.loads(invoke(["progress", "--as-of", "2024-05-01", "--json", *db]).output)
    mine = invoke(["progress", "--as-of", "2024-05-01", "--json", "--as-user", "g00", *db])
    assert mine.exit_code == 0, mine.output
    items = json.loads(mine.output)["items"]
    assert [i["item_id"] for i in items] == ["Z2-01"]  # only P1's task's item
    assert len(whole["items"]) > 1
    assert items[0]["tasks"] == 1 and items[0]["problems"] == 1
    backlog = invoke(["ledger", "backlog", "--as-of", "2024-05-01", "--json", "--as-user",
                      "g00", *db])
    assert backlog.exit_code == 0, backlog.output
    problems = json.loads(backlog.output)["problems"]
    assert [(p["responsible_unit"], p["waiting"]) for p in problems] == [("甲局", 1)]  # P3
    everyone = json.loads(invoke(["ledger", "backlog", "--as-of", "2024-05-01", "--json",
                                  *db]).output)["problems"]
    assert [(p["responsible_unit"], p["waiting"]) for p in everyone] == [("甲局", 2)]
    refused = invoke(["letters", "list", "--as-of", "2024-05-01", "--as-user", "g00", *db])
    assert refused.exit_code == 1 and "whole territory" in refused.output

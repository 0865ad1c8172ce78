"""A problem's history keeps every change of deadline and responsible unit, not only status."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from helpers import grid_cell_centre, invoke

HEADER = "问题编号,上报时间,经度,纬度,坐标系,问题类型,状态,整改期限,办结时间,责任单位"


def _write(path: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    """(issue_id, status, deadline, closed_at, unit) rows in grid cell G00."""
    x, y = grid_cell_centre(0, 0)
    lines = [HEADER] + [f"{i},2026-02-01 09:00,{x},{y},wgs84,水污染,{s},{d},{c},{u}"
                        for i, s, d, c, u in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reimports_keep_old_and_new_deadline_and_unit(tmp_path: Path, small_project: Path,
                                                      store_url: str) -> None:
    db = ["--db", store_url, "--config", str(small_project)]
    first = _write(tmp_path / "d1.csv", [("H1", "整改中", "2026-02-20", "", "甲局"),
                                         ("H2", "整改中", "2026-02-20", "", "甲局")])
    assert invoke(["ingest", str(first), "--observed-at", "2026-02-02 18:00:00",
                   *db]).exit_code == 0
    second = _write(tmp_path / "d2.csv", [("H1", "整改中", "2026-03-10", "", "乙局"),
                                          ("H2", "整改中", "2026-02-20", "", "甲局")])
    assert invoke(["ingest", str(second), "--observed-at", "2026-02-15 18:00:00",
                   *db]).exit_code == 0
    third = _write(tmp_path / "d3.csv", [("H1", "已办结", "2026-03-10", "2026-03-01 10:00",
                                          "乙局"),
                                         ("H2", "整改中", "2026-02-20", "", "甲局")])
    assert invoke(["ingest", str(third), "--observed-at", "2026-03-02 18:00:00",
                   *db]).exit_code == 0
    shown = invoke(["ledger", "history", "H1", "--problem", "--json", *db])
    assert shown.exit_code == 0, shown.output
    events = json.loads(shown.output)["events"]
    got = [(e["on_date"], e["kind"], e["field"], e["old_value"], e["new_value"])
           for e in events]
    assert got == [
        ("2026-02-01", "status", "status", None, "rectifying"),
        ("2026-02-15", "change", "deadline", "2026-02-20 23:59:59", "2026-03-10 23:59:59"),
        ("2026-02-15", "change", "responsible_unit", "甲局", "乙局"),
        ("2026-03-01", "status", "status", "rectifying", "closed"),
    ]
    # H2 never changed: its history is its first status only, and no change row was stored
    h2 = json.loads(invoke(["ledger", "history", "H2", "--problem", "--json",
                            *db]).output)["events"]
    assert [e["kind"] for e in h2] == ["status"]
    from gridwatch.store import Store

    with Store(store_url) as store:
        table = store.table("issue_changes")
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(table.c.issue_id, table.c.field)
                                .order_by(table.c.id)).all()
    assert [tuple(r) for r in rows] == [("H1", "deadline"), ("H1", "responsible_unit")]
    text = invoke(["ledger", "history", "H1", "--problem", *db]).output
    assert "乙局" in text and "2026-03-10 23:59:59" in text
    missing = invoke(["ledger", "history", "H9", "--problem", *db])
    assert missing.exit_code != 0 and "H9" in missing.output

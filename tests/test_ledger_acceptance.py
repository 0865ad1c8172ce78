"""Acceptance as statuses of problem exports: 验收通过 (accepted, closed off) and 验收不通过
(not_accepted: rejected at acceptance, open again), in old stores too."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from helpers import grid_cell_centre, invoke

from gridwatch.ledger.recheck import acceptance_state, status_acceptances
from gridwatch.schema import CLOSED_STATUSES, OPEN_STATUSES, STATUS_LABELS, STATUSES, header_key

HEADER = "问题编号,上报时间,经度,纬度,坐标系,问题类型,状态,整改期限,办结时间,责任单位"


def _write(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    """(issue_id, status, closed_at, unit) rows, the k-th in grid cell G0k, deadline 20 Feb."""
    lines = [HEADER]
    for k, (i, s, c, u) in enumerate(rows):
        x, y = grid_cell_centre(k, 0)
        lines.append(f"{i},2026-02-01 09:00,{x},{y},wgs84,水污染,{s},2026-02-20,{c},{u}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_labels_and_which_statuses_are_open() -> None:
    assert {"accepted", "not_accepted"} <= set(STATUSES)
    assert "accepted" in CLOSED_STATUSES and "not_accepted" in OPEN_STATUSES
    assert set(OPEN_STATUSES) | set(CLOSED_STATUSES) == set(STATUSES)
    for label, code in (("验收通过", "accepted"), ("验收不通过", "not_accepted"),
                        ("Rejected at acceptance", "not_accepted"), ("rejected", "not_accepted")):
        assert STATUS_LABELS[header_key(label)] == code


def _age(store_url: str) -> None:
    """Give the store the status check of a store made before accepted/not_accepted."""
    from gridwatch.store import Store

    old = "'reported', 'assigned', 'rectifying', 'closed', 'verified'"
    with Store(store_url) as store:
        issues = store.table("issues")
        with store.engine.begin() as conn:
            if store.postgis:
                table = conn.dialect.identifier_preparer.format_table(issues)
                conn.exec_driver_sql(
                    f"ALTER TABLE {table} DROP CONSTRAINT ck_issues_status, ADD CONSTRAINT "
                    f"ck_issues_status CHECK (status IS NULL OR status IN ({old}))")
            else:
                sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = "
                                           "'issues'").scalar()
                version = conn.exec_driver_sql("PRAGMA schema_version").scalar()
                conn.exec_driver_sql("PRAGMA writable_schema = ON")
                allowed = ", ".join(f"'{s}'" for s in STATUSES)
                conn.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE name = 'issues'",
                                     (sql.replace(allowed, old),))
                conn.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
                conn.exec_driver_sql("PRAGMA writable_schema = OFF")
        with store.engine.begin() as conn:  # the old check refuses the new statuses
            try:
                conn.execute(issues.insert().values(issue_id="X", status="accepted",
                                                    category="water", source="other"))
                refused = False
            except sa.exc.IntegrityError:
                refused = True
            assert refused


def test_acceptance_statuses_close_off_or_reopen(tmp_path: Path, small_project: Path,
                                                 store_url: str) -> None:
    db = ["--db", store_url, "--config", str(small_project)]
    first = _write(tmp_path / "d1.csv", [("A1", "已办结", "2026-02-10 10:00", "甲局"),
                                         ("A2", "已办结", "2026-02-10 10:00", "甲局"),
                                         ("A3", "已办结", "2026-02-10 10:00", "乙局")])
    assert invoke(["ingest", str(first), "--observed-at", "2026-02-11 18:00:00",
                   *db]).exit_code == 0
    _age(store_url)  # a store made before the statuses: opening it widens the check
    second = _write(tmp_path / "d2.csv", [("A1", "验收通过", "2026-02-10 10:00", "甲局"),
                                          ("A2", "验收不通过", "", "甲局"),
                                          ("A3", "已办结", "2026-02-10 10:00", "乙局")])
    done = invoke(["ingest", str(second), "--observed-at", "2026-02-25 18:00:00", *db])
    assert done.exit_code == 0, done.output
    codes = json.loads(invoke(["status", "--as-of", "2026-02-26", "--layer", "grid", "--json",
                               *db]).output)["areas"]
    got_codes = {a["area_id"]: (a["open"], a["red"]) for a in codes
                 if a["area_id"] in ("G00", "G01", "G02")}
    # A2 (G01) rejected at acceptance is open again and past its deadline; A1, A3 closed
    assert got_codes == {"G00": (0, 0), "G01": (1, 1), "G02": (0, 0)}
    backlog = json.loads(invoke(["ledger", "backlog", "--as-of", "2026-02-26", "--json",
                                 *db]).output)["problems"]
    got = {b["responsible_unit"]: (b["waiting"], b["reopened"], b["rejected"])
           for b in backlog}
    assert got == {"甲局": (0, 0, 1), "乙局": (1, 0, 0)}  # A1 closed off; A3 waits
    third = _write(tmp_path / "d3.csv", [("A1", "验收通过", "2026-02-10 10:00", "甲局"),
                                         ("A2", "验收通过", "2026-03-01 10:00", "甲局"),
                                         ("A3", "accepted", "2026-02-10 10:00", "乙局")])
    assert invoke(["ingest", str(third), "--observed-at", "2026-03-02 18:00:00",
                   *db]).exit_code == 0
    after = json.loads(invoke(["ledger", "backlog", "--as-of", "2026-03-02", "--json",
                               *db]).output)["problems"]
    assert after == []
    history = json.loads(invoke(["ledger", "history", "A2", "--problem", "--json",
                                 *db]).output)["events"]
    assert [(e["kind"], e["new_value"]) for e in history if e["kind"] == "status"] == [
        ("status", "closed"), ("status", "not_accepted"), ("status", "accepted")]


def test_status_acceptances_are_dated_acceptances() -> None:
    history = pd.DataFrame({
        "issue_id": ["P1", "P1", "P2", "P3"],
        "status": ["closed", "accepted", "not_accepted", "rectifying"],
        "changed_at": pd.to_datetime(["2026-02-10 02:00", "2026-02-25 10:00",
                                      "2026-02-24 17:00", "2026-02-01 01:00"], utc=True)})
    stated = status_acceptances(history, timezone="Asia/Shanghai")
    assert stated[["subject_id", "conclusion"]].values.tolist() == [["P1", "pass"],
                                                                  ["P2", "fail"]]
    # 17:00 UTC on 24 Feb is 01:00 on 25 Feb in Shanghai
    assert pd.Series(stated["on_date"]).astype(str).tolist() == ["2026-02-25", "2026-02-25"]
    ids = pd.Series(["P1", "P2", "P3"])
    state = acceptance_state(ids, stated, dt.date(2026, 2, 25))
    assert state["accepted"].tolist() == [True, False, False]
    assert state["failed"].tolist() == [False, True, False]
    assert str(state["accepted_on"].iloc[0])[:10] == "2026-02-25"
    before = acceptance_state(ids, stated, dt.date(2026, 2, 24))
    assert not before["accepted"].any() and not before["failed"].any()

"""Acceptance of problems and spot re-checks (抽查复核): the stratified draw and the loop."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from helpers import grid_cell_centre, invoke, sqlite_url

from gridwatch.ledger.recheck import acceptance_backlog, acceptance_state, draw_recheck

DAY = dt.date(2026, 3, 31)


def _events(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """(issue_id, kind, conclusion, day) -> ledger events of problems."""
    frame = pd.DataFrame({
        "id": np.arange(1, len(rows) + 1), "subject": "issue",
        "subject_id": [r[0] for r in rows], "kind": [r[1] for r in rows],
        "conclusion": [r[2] for r in rows],
        "on_date": pd.to_datetime([r[3] for r in rows]).astype("datetime64[s]")})
    return frame


def _problems(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "issue_id": [f"P{i:04d}" for i in range(n)],
        "town_id": rng.choice(["T1", "T2", "T3"], n),
        "category": rng.choice(["water", "air", "noise"], n),
        "responsible_unit": rng.choice(["甲局", "乙局"], n),
        "known": True, "is_open": rng.random(n) < 0.2,
        "status_as_of": rng.choice(["closed", "verified"], n)})


def test_the_draw_is_stratified_reproducible_and_only_of_accepted() -> None:
    problems = _problems()
    # every closed problem with an even number accepted here; 已销号 ones count as accepted
    events = _events([(i, "accept", "pass", "2026-03-10") for i in problems["issue_id"][::2]])
    state = acceptance_state(problems["issue_id"], events, DAY,
                             verified=(problems["status_as_of"] == "verified").to_numpy())
    pool = problems[state["accepted"].to_numpy()]
    sample = draw_recheck(problems, events, DAY, rate=0.1, seed=7, stratum="town_id")
    assert set(sample["issue_id"]) <= set(pool["issue_id"])
    sizes = pool.groupby(["town_id", "category"]).size()
    drawn = sample.groupby(["stratum", "category"]).size()
    for (town, category), size in sizes.items():
        assert drawn[(town, category)] == max(1, math.ceil(0.1 * size))
    again = draw_recheck(problems, events, DAY, rate=0.1, seed=7, stratum="town_id")
    pd.testing.assert_frame_equal(sample, again)
    other = draw_recheck(problems, events, DAY, rate=0.1, seed=8, stratum="town_id")
    assert set(other["issue_id"]) != set(sample["issue_id"])


def test_a_failed_recheck_reopens_until_accepted_again() -> None:
    problems = _problems(4).assign(is_open=False, status_as_of="closed",
                                   responsible_unit=["甲局", "甲局", "乙局", "乙局"])
    events = _events([("P0000", "accept", "pass", "2026-03-01"),
                      ("P0001", "accept", "pass", "2026-03-01"),
                      ("P0001", "recheck", "fail", "2026-03-20"),
                      ("P0002", "accept", "pass", "2026-03-01"),
                      ("P0002", "recheck", "fail", "2026-03-05"),
                      ("P0002", "accept", "pass", "2026-03-25")])
    state = acceptance_state(problems["issue_id"], events, DAY)
    assert state["accepted"].tolist() == [True, False, True, False]
    assert state["rebound"].tolist() == [False, True, False, False]
    before = acceptance_state(problems["issue_id"], events, dt.date(2026, 3, 10))
    assert before["rebound"].tolist() == [False, False, True, False]  # P2 reopened on 5 March
    backlog = acceptance_backlog(problems, events, DAY).set_index("responsible_unit")
    assert backlog.loc["甲局"].tolist() == [0, 1, 0]  # waiting, reopened, rejected
    assert backlog.loc["乙局"].tolist() == [1, 0, 0]  # P3 never accepted


def test_the_cli_loop(tmp_path: Path, small_project: Path) -> None:
    db = ["--db", sqlite_url(tmp_path / "s.sqlite"), "--config", str(small_project)]
    lines = ["问题编号,上报时间,经度,纬度,坐标系,问题类型,状态,整改期限,办结时间,责任单位"]
    for k in range(6):
        x, y = grid_cell_centre(k % 3, k // 3)
        status = "已销号" if k < 4 else "已办结"
        lines.append(f"R{k},2026-02-01 09:00,{x},{y},wgs84,水污染,{status},2026-02-20,"
                     f"2026-02-10 10:00,{'甲局' if k % 2 else '乙局'}")
    export = tmp_path / "p.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert invoke(["ingest", str(export), *db]).exit_code == 0
    assert invoke(["ledger", "accept", "R4", "--problem", "--on", "2026-03-01", "--unit",
                   "市督察办", "--conclusion", "pass", *db]).exit_code == 0
    sample_path = tmp_path / "sample.csv"
    drawn = json.loads(invoke(["recheck", "draw", "--as-of", "2026-03-31", "--rate", "1",
                               "--seed", "1", "--layer", "grid", "--json", "--out",
                               str(sample_path), *db]).output.split("\n", 1)[1])
    assert sorted(p["issue_id"] for p in drawn["problems"]) == ["R0", "R1", "R2", "R3", "R4"]
    sheet = pd.read_csv(sample_path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert {"复核结果", "复核日期", "复核单位"} <= set(sheet.columns)
    results = tmp_path / "results.csv"
    results.write_text("问题编号,复核结果,复核日期,复核单位,复核意见\n"
                       "R1,不通过,2026-04-02,市督察办,又见排污\nR0,通过,2026-04-02,市督察办,\n"
                       "R9,通过,2026-04-02,市督察办,\nR2,也许,2026-04-02,市督察办,\n",
                       encoding="utf-8")
    imported = json.loads(invoke(["recheck", "import", str(results), "--json", *db]).output)
    assert (imported["rows_in"], imported["accepted"], imported["rejected"]) == (4, 2, 2)
    summary = json.loads(invoke(["recheck", "summary", "--as-of", "2026-04-05", "--json",
                                 *db]).output)["units"]
    assert {u["responsible_unit"]: (u["rechecked"], u["rebounds"]) for u in summary} == {
        "甲局": (1, 1), "乙局": (1, 0)}
    backlog = json.loads(invoke(["ledger", "backlog", "--as-of", "2026-04-05", "--json",
                                 *db]).output)["problems"]
    got = {b["responsible_unit"]: (b["waiting"], b["reopened"]) for b in backlog}
    assert got == {"甲局": (1, 1)}  # R5 closed, never accepted; R1 reopened by the re-check

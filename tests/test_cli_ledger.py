"""``gridwatch ledger …`` and ``gridwatch progress`` end to end on the Chinese fixture ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from _ledger_fixture import BAD, CENTRAL, GOOD, write_ledger
from helpers import invoke, sqlite_url


def _db(tmp_path: Path) -> list[str]:
    return ["--db", sqlite_url(tmp_path / "s.sqlite")]


def test_import_accounts_for_every_row(tmp_path: Path) -> None:
    path = write_ledger(tmp_path)
    rejects = tmp_path / "rejects.csv"
    result = invoke(["ledger", "import", str(path), "--rejects", str(rejects), "--json",
                     *_db(tmp_path)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["rows_in"] == len(GOOD) + len(BAD)
    assert (payload["accepted"], payload["rejected"]) == (len(GOOD), len(BAD))
    assert payload["inserted"] == len(GOOD)
    written = pd.read_csv(rejects, encoding="utf-8-sig")
    assert written["row"].tolist() == [3 + len(GOOD) + i for i in range(len(BAD))]
    again = invoke(["ledger", "import", str(path), *_db(tmp_path)])
    assert f"{len(GOOD)} unchanged" in again.output


def test_unreadable_ledgers_exit_2(tmp_path: Path) -> None:
    missing = invoke(["ledger", "import", str(tmp_path / "none.csv"), *_db(tmp_path)])
    assert missing.exit_code == 2 and "was not found" in missing.output
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("问题编号,上报时间\n1,2024-01-01\n", encoding="utf-8")
    result = invoke(["ledger", "import", str(wrong), *_db(tmp_path)])
    assert result.exit_code == 2 and "督察轮次" in result.output


def test_the_supervisor_questions(tmp_path: Path) -> None:
    db = _db(tmp_path)
    invoke(["ledger", "import", str(write_ledger(tmp_path)), *db])
    ok = [
        ["ledger", "accept", "Z2-01-2", "--on", "2024-03-05", "--unit", "市督察办",
         "--conclusion", "通过"],
        ["ledger", "accept", "Z2-03-1", "--on", "2024-04-20", "--unit", "市督察办",
         "--conclusion", "fail", "--note", "粪污仍有外溢"],
        ["ledger", "extend", "Z2-02-2", "--to", "2024-06-30", "--reason", "汛期无法施工",
         "--approved-by", "市整改办", "--on", "2024-03-01"],
        ["ledger", "milestone", "Z2-01-1", "1", "--done", "2024-03-28"],
    ]
    for args in ok:
        result = invoke([*args, *db])
        assert result.exit_code == 0, result.output
    result = invoke(["progress", "--round", CENTRAL, "--as-of", "2024-05-01", "--json", *db])
    payload = json.loads(result.output)
    (central,) = payload["rounds"]
    # Z2-01: on schedule (milestone 1 marked, Z2-01-2 closed off); Z2-02: on schedule
    # (extended); Z2-03: behind (failed acceptance, milestone 04-30 past)
    assert (central["items"], central["items_rectified"], central["items_on_schedule"],
            central["items_behind"], central["items_overdue"]) == (3, 0, 2, 1, 0)
    text = invoke(["progress", "--round", CENTRAL, "--as-of", "2024-05-01", *db]).output
    assert f"{CENTRAL}: 3 feedback items, 0 rectified (0 accepted), 2 on schedule" in text
    units = json.loads(invoke(["progress", "--as-of", "2024-05-01", "--by", "unit", "--json",
                               *db]).output)["units"]
    assert sum(u["tasks"] for u in units) == len(GOOD)
    backlog = json.loads(invoke(["ledger", "backlog", "--as-of", "2024-05-01", "--json",
                                 *db]).output)["tasks"]
    assert [t["task_id"] for t in backlog] == ["S1-01-2"]  # rectified 03-15, not accepted
    history = json.loads(invoke(["ledger", "history", "Z2-02-2", "--json", *db]).output)
    (event,) = history["events"]
    assert (event["kind"], event["old_value"], event["new_value"], event["reason"],
            event["unit"]) == ("extend", "2024-01-31", "2024-06-30", "汛期无法施工", "市整改办")
    out = tmp_path / "progress.xlsx"
    assert invoke(["progress", "--as-of", "2024-05-01", "--out", str(out), *db]).exit_code == 0
    assert len(pd.read_excel(out, sheet_name=None)) == 7


def test_bad_options_name_the_problem(tmp_path: Path) -> None:
    db = _db(tmp_path)
    invoke(["ledger", "import", str(write_ledger(tmp_path)), *db])
    cases = [
        (["progress", "--as-of", "2024-13-01"], "--as-of '2024-13-01' is not a date"),
        (["progress", "--as-of", "2024-05-01", "--round", "第九轮"], "its rounds"),
        (["ledger", "accept", "Z9", "--on", "2024-03-05", "--unit", "x", "--conclusion",
          "pass"], "no task 'Z9'"),
        (["ledger", "milestone", "Z2-01-1", "7", "--done", "2024-03-01"], "no milestone 7"),
    ]
    for args, message in cases:
        result = invoke([*args, *db])
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output


def test_the_project_file_can_close_off_without_acceptance(tmp_path: Path) -> None:
    db = _db(tmp_path)
    invoke(["ledger", "import", str(write_ledger(tmp_path)), *db])
    relaxed = tmp_path / "gridwatch.toml"
    relaxed.write_text("[ledger]\nrequire_acceptance = false\n", encoding="utf-8")
    strict = json.loads(invoke(["progress", "--as-of", "2024-05-01", "--json", "--by", "unit",
                                *db]).output)["units"]
    loose = json.loads(invoke(["progress", "--as-of", "2024-05-01", "--json", "--by", "unit",
                               "--config", str(relaxed), *db]).output)["units"]
    rectified = sum(1 for row in GOOD if row[10] == "已完成")
    assert sum(u["closed_off"] for u in strict) == 0
    assert sum(u["awaiting_acceptance"] for u in strict) == rectified
    assert sum(u["closed_off"] for u in loose) == rectified
    bad = tmp_path / "bad.toml"
    bad.write_text('[ledger]\nrequire_acceptance = "no"\n', encoding="utf-8")
    result = invoke(["progress", "--as-of", "2024-05-01", "--config", str(bad), *db])
    assert result.exit_code == 1 and "require_acceptance must be true or false" in result.output


def test_problems_under_tasks_and_items(tmp_path: Path, small_project: Path) -> None:
    from helpers import grid_cell_centre

    db = _db(tmp_path)
    config = ["--config", str(small_project)]
    invoke(["ledger", "import", str(write_ledger(tmp_path)), *db, *config])
    rows = [  # id, reported, deadline, status, closed, ref
        ("P1", "2024-03-01 09:00", "2024-03-10", "整改中", "", "Z2-01-1"),    # open, red by 05-01
        ("P2", "2024-03-01 09:00", "2024-06-10", "整改中", "", "Z2-01-1"),    # open, not red
        ("P3", "2024-03-01 09:00", "2024-03-10", "已办结", "2024-03-05 10:00", "Z2-01"),  # item
        ("P4", "2024-03-01 09:00", "2024-03-10", "整改中", "", "S1-02-1"),
        ("P5", "2024-03-01 09:00", "2024-03-10", "整改中", "", "X-99"),      # in no task
        ("P6", "2024-03-01 09:00", "2024-03-10", "整改中", "", ""),          # stands alone
        ("P7", "2024-06-01 09:00", "2024-06-10", "整改中", "", "Z2-01-1"),    # not yet reported
    ]
    export = tmp_path / "problems.csv"
    lines = ["问题编号,上报时间,经度,纬度,坐标系,状态,整改期限,办结时间,整改任务编号"]
    # each problem in its own grid cell: no two are one incident
    cells = [grid_cell_centre(k % 3, k // 3) for k in range(len(rows))]
    lines += [f"{i},{r},{x},{y},wgs84,{s},{d},{c},{ref}"
              for (i, r, d, s, c, ref), (x, y) in zip(rows, cells, strict=True)]
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke(["ingest", str(export), *db, *config])
    assert result.exit_code == 0, result.output
    payload = json.loads(invoke(["progress", "--as-of", "2024-05-01", "--json", *db,
                                 *config]).output)
    items = {i["item_id"]: i for i in payload["items"]}
    assert (items["Z2-01"]["problems"], items["Z2-01"]["problems_open"],
            items["Z2-01"]["problems_overdue"], items["Z2-01"]["problems_closed"]) == (3, 2, 1, 1)
    assert (items["S1-02"]["problems"], items["S1-02"]["problems_open"]) == (1, 1)
    assert items["Z2-02"]["problems"] == 0
    rounds = {r["round"]: r for r in payload["rounds"]}
    assert rounds[CENTRAL]["problems"] == 3
    out = tmp_path / "p.xlsx"
    invoke(["progress", "--as-of", "2024-05-01", "--out", str(out), *db, *config])
    book = pd.read_excel(out, sheet_name=None)
    tasks = next(v for k, v in book.items() if k.startswith("整改任务")).set_index("task_id")
    assert tasks.loc["Z2-01-1", "problems"] == 2  # P3 hangs under the item, not the task
    unlinked = next(v for k, v in book.items() if k.startswith("未匹配"))
    assert unlinked.values.tolist() == [["X-99", 1]]
    # by leader: P1-P3 hang under 张副市长's task Z2-01-1 or its item, P4 under 王副市长's
    status = json.loads(invoke(["status", "--as-of", "2024-05-01", "--by", "leader", "--json",
                                *db, *config]).output)["areas"]
    got = {a["area_id"]: (a["open"], a["red"]) for a in status if a["area_id"]}
    assert got["张副市长"] == (2, 1) and got["王副市长"] == (1, 1)
    league = invoke(["league", "--week", "2024-W18", "--by", "unit", *db, *config])
    assert league.exit_code == 0 and "市生态环境局" in league.output
    # reminders by leader: overdue on 1 May are P1 (张副市长), P4 (王副市长), P5 and P6 (no
    # task, no unit: no leader)
    reminded = tmp_path / "remind.csv"
    done = invoke(["remind", "--as-of", "2024-05-01", "--by", "leader", "--out", str(reminded),
                   *db, *config])
    assert done.exit_code == 0, done.output
    summary = pd.read_csv(tmp_path / "remind_summary.csv", encoding="utf-8-sig")
    assert dict(zip(summary["responsible_leader"], summary["overdue"], strict=True)) == {
        "张副市长": 1, "王副市长": 1, "（未指定责任领导）": 2}
    listed = pd.read_csv(reminded, encoding="utf-8-sig").set_index("issue_id")
    assert listed.loc["P1", "responsible_leader"] == "张副市长"
    by_unit = invoke(["remind", "--as-of", "2024-05-01", "--by", "unit", *db, *config])
    assert by_unit.exit_code == 0 and "responsible_unit" in by_unit.output
    both = invoke(["status", "--as-of", "2024-05-01", "--by", "unit", "--layer", "grid", *db,
                   *config])
    assert both.exit_code == 1 and "exclude each other" in both.output
    neither = invoke(["status", "--as-of", "2024-05-01", *db, *config])
    assert neither.exit_code == 1 and "--layer is required" in neither.output


def test_a_register_of_records_is_imported_once(tmp_path: Path) -> None:
    db = _db(tmp_path)
    invoke(["ledger", "import", str(write_ledger(tmp_path)), *db])
    register = tmp_path / "整改记录.csv"
    register.write_text(
        "整改任务编号,事项,日期,单位,结论,延期至,原因,节点\n"
        "Z2-01-2,验收,2024-03-05,市整改办,通过,,,\n"
        "Z2-02-2,延期,2024-03-01,市整改办,,2024-06-30,汛期,\n"
        "Z2-01-1,节点完成,2024-03-28,,,,,1\n"
        "Z2-01-1,节点完成,2024-03-28,,,,,9\n"
        "ZZ,验收,2024-03-05,市整改办,通过,,,\n"
        "Z2-01-2,验收,2024-03-05,市整改办,,,,\n"
        "Z2-01-2,作废,2024-03-05,市整改办,,,,\n", encoding="gb18030")
    first = json.loads(invoke(["ledger", "records", str(register), "--json", *db]).output)
    assert (first["rows_in"], first["accepted"], first["rejected"], first["inserted"]) == \
        (7, 3, 4, 3)
    assert first["rows_in"] == first["accepted"] + first["rejected"]
    again = json.loads(invoke(["ledger", "records", str(register), "--json", *db]).output)
    assert (again["inserted"], again["unchanged"]) == (0, 3)
    # the records count as if typed one by one: same figures as test_the_supervisor_questions
    payload = json.loads(invoke(["progress", "--as-of", "2024-05-01", "--round", CENTRAL,
                                 "--json", *db]).output)
    tasks = {i["item_id"]: i for i in payload["items"]}
    assert tasks["Z2-01"]["closed_off"] == 1 and tasks["Z2-02"]["overdue"] == 0


def test_a_second_extension_names_the_deadline_it_replaces(tmp_path: Path) -> None:
    db = _db(tmp_path)
    invoke(["ledger", "import", str(write_ledger(tmp_path)), *db])
    for to, on in (("2024-06-30", "2024-03-01"), ("2024-09-30", "2024-06-20")):
        assert invoke(["ledger", "extend", "Z2-02-2", "--to", to, "--reason", "汛期",
                       "--approved-by", "市整改办", "--on", on, *db]).exit_code == 0
    events = json.loads(invoke(["ledger", "history", "Z2-02-2", "--json", *db]).output)["events"]
    assert [(e["old_value"], e["new_value"]) for e in events] == [
        ("2024-01-31", "2024-06-30"), ("2024-06-30", "2024-09-30")]
    states = {d: json.loads(invoke(["progress", "--as-of", d, "--json", *db]).output)
              for d in ("2024-06-25", "2024-07-05")}
    z2 = {d: next(i for i in s["items"] if i["item_id"] == "Z2-02") for d, s in states.items()}
    assert z2["2024-06-25"]["overdue"] == 0 and z2["2024-07-05"]["overdue"] == 0

"""The register of 一函两单: numbering, one letter per unit and kind, escalation when unanswered."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pandas as pd
from helpers import grid_cell_centre, invoke, sqlite_url

from gridwatch.ledger.letters import letter_counts, letter_html, plan_letters, unanswered

HOSTILE = "<script>alert(1)</script>${x}"


def reminders(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """(issue_id, unit, escalation, days overdue) -> a reminder list's columns."""
    return pd.DataFrame({
        "responsible_unit": [r[1] for r in rows], "issue_id": [r[0] for r in rows],
        "deadline": [pd.Timestamp("2026-02-20", tz="UTC")] * len(rows),
        "bucket": "overdue", "days_overdue": [float(r[3]) for r in rows],
        "escalation": pd.Series([r[2] for r in rows], dtype="str"),
        "address": "某路", "description": HOSTILE,
    })


def empty_register() -> tuple[pd.DataFrame, pd.DataFrame]:
    letters = pd.DataFrame(columns=["letter_no", "kind", "year", "seq", "unit", "issued_on",
                                    "reply_due", "replied_on", "reply", "escalated_from",
                                    "escalated_to"])
    items = pd.DataFrame(columns=["letter_no", "issue_id", "deadline", "days_overdue"])
    return letters, items


def add(register: tuple[pd.DataFrame, pd.DataFrame], plan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The register after a plan is recorded (what issue_letters does in the store)."""
    letters, items = register
    new = plan.letters.assign(replied_on=pd.NaT, reply=None, escalated_to=None)
    letters = pd.concat([letters, new], ignore_index=True)
    for old, to in plan.escalated.items():
        letters.loc[letters["letter_no"] == old, "escalated_to"] = to
    for column in ("issued_on", "reply_due", "replied_on"):
        letters[column] = pd.to_datetime(letters[column])
    return letters, pd.concat([items, plan.items], ignore_index=True)


def test_numbering_escalation_and_replies() -> None:
    day1 = dt.date(2026, 3, 2)  # a Monday: 5 working days later is Monday 9 March
    first = reminders([("P1", "甲局", "reminder_letter", 1), ("P2", "甲局", "reminder_letter", 2),
                       ("P3", "乙局", "supervision_order", 9)])
    plan = plan_letters(first, *empty_register(), day1)
    assert plan.letters[["letter_no", "unit", "kind"]].values.tolist() == [
        ["督提〔2026〕1号", "甲局", "reminder_letter"],
        ["督办〔2026〕1号", "乙局", "supervision_order"]]
    assert set(plan.letters["reply_due"]) == {dt.date(2026, 3, 9)}
    assert plan.items.groupby("letter_no")["issue_id"].apply(list).to_dict() == {
        "督提〔2026〕1号": ["P1", "P2"], "督办〔2026〕1号": ["P3"]}
    register = add(empty_register(), plan)
    # the same day again: every problem is named already
    assert plan_letters(first, *register, day1).letters.empty
    # a new problem next day: a second 提醒函 naming only it
    day2 = dt.date(2026, 3, 3)
    second = reminders([("P1", "甲局", "reminder_letter", 2), ("P2", "甲局", "reminder_letter", 3),
                        ("P3", "乙局", "supervision_order", 10),
                        ("P4", "甲局", "reminder_letter", 1)])
    plan = plan_letters(second, *register, day2)
    assert plan.letters["letter_no"].tolist() == ["督提〔2026〕2号"]
    assert plan.items["issue_id"].tolist() == ["P4"]
    register = add(register, plan)
    # 10 March: letter 1 unanswered past 9 March escalates (P2 was closed meanwhile); letter 2
    # is due 10 March, not yet past
    day3 = dt.date(2026, 3, 10)
    third = reminders([("P1", "甲局", "reminder_letter", 9),
                       ("P3", "乙局", "supervision_order", 17),
                       ("P4", "甲局", "reminder_letter", 8)])
    plan = plan_letters(third, *register, day3)
    assert plan.letters[["letter_no", "escalated_from"]].values.tolist() == [
        ["督交〔2026〕1号", "督提〔2026〕1号"]]
    assert plan.items["issue_id"].tolist() == ["P1"]
    assert plan.escalated == {"督提〔2026〕1号": "督交〔2026〕1号"}
    register = add(register, plan)
    letters, _items = register
    still = unanswered(letters, day3)
    # most days past due first: both letters of 2 March were due 9 March
    assert still["days_past_due"].tolist() == [1, 1, 0, -7]  # the 交办单 is due 17 March
    assert set(still["letter_no"][:2]) == {"督提〔2026〕1号", "督办〔2026〕1号"}
    # a reply stops escalation: letter 2 answered on 9 March never escalates
    answered = letters["letter_no"] == "督提〔2026〕2号"
    letters.loc[answered, "replied_on"] = pd.Timestamp("2026-03-09")
    plan = plan_letters(third, letters, register[1], dt.date(2026, 3, 20))
    assert "督提〔2026〕2号" not in plan.escalated
    assert "督提〔2026〕2号" not in unanswered(letters, day3)["letter_no"].tolist()
    counts = letter_counts(letters)
    assert counts[["month", "提醒函", "交办单", "督办单", "replied"]].values.tolist() == [
        ["2026-03", 2, 1, 1, 1]]


def test_a_letter_page_escapes_user_text() -> None:
    plan = plan_letters(reminders([("P1", "<b>甲局</b>", "reminder_letter", 1)]),
                        *empty_register(), dt.date(2026, 3, 2))
    items = plan.items.assign(address="某路", description=HOSTILE)
    page = letter_html(plan.letters.iloc[0], items, issuer="嘉兴市")
    assert "<script>" not in page and "<b>甲局" not in page
    assert "&lt;script&gt;" in page and "督提〔2026〕1号" in page


def test_the_cli_issues_numbers_escalates_and_records_replies(tmp_path: Path,
                                                              small_project: Path) -> None:
    db = ["--db", sqlite_url(tmp_path / "s.sqlite"), "--config", str(small_project)]
    lines = ["问题编号,上报时间,经度,纬度,坐标系,状态,整改期限,责任单位"]
    for k, unit in enumerate(["甲局", "甲局", "乙局"]):
        x, y = grid_cell_centre(k, 0)
        lines.append(f"Q{k},2026-02-01 09:00,{x},{y},wgs84,整改中,2026-02-{10 + k},{unit}")
    export = tmp_path / "p.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert invoke(["ingest", str(export), *db]).exit_code == 0
    out = tmp_path / "letters"
    first = json.loads(invoke(["letters", "issue", "--as-of", "2026-03-02", "--out", str(out),
                               "--json", *db]).output)
    numbers = [letter["letter_no"] for letter in first["issued"]]
    assert numbers == ["督办〔2026〕1号", "督办〔2026〕2号"]  # 19-20 days overdue: 督办单
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{n}.{ext}" for n in numbers for ext in ("html", "docx"))
    from docx import Document

    to_jia = next(x["letter_no"] for x in first["issued"] if x["unit"] == "甲局")
    words = Document(str(out / f"{to_jia}.docx"))
    text = "\n".join(p.text for p in words.paragraphs)
    assert to_jia in text and "甲局：" in text
    cells = [[c.text for c in row.cells] for row in words.tables[0].rows]
    assert [r[0] for r in cells[1:]] == ["Q0", "Q1"]  # 甲局's two problems
    assert [r[1] for r in cells[1:]] == ["2026-02-10", "2026-02-11"]
    again = json.loads(invoke(["letters", "issue", "--as-of", "2026-03-02", "--json",
                               *db]).output)
    assert again["issued"] == []
    reply = invoke(["letters", "reply", numbers[0], "--on", "2026-03-05", "--text", "已整改",
                    *db])
    assert reply.exit_code == 0
    twice = invoke(["letters", "reply", numbers[0], "--on", "2026-03-06", *db])
    assert twice.exit_code == 1 and "answered on 2026-03-05 already" in twice.output
    unknown = invoke(["letters", "reply", "督提〔2026〕99号", "--on", "2026-03-06", *db])
    assert unknown.exit_code == 1 and "no letter" in unknown.output
    listed = json.loads(invoke(["letters", "list", "--as-of", "2026-03-20", "--unanswered",
                                "--json", *db]).output)["letters"]
    assert [letter["letter_no"] for letter in listed] == [numbers[1]]
    counts = json.loads(invoke(["letters", "count", "--period", "year", "--json",
                                *db]).output)["counts"]
    assert counts == [{"year": "2026", "提醒函": 0, "交办单": 0, "督办单": 2, "replied": 1}]


def test_the_monthly_review_lists_extensions_and_counts_letters() -> None:
    from gridwatch.ledger.letters import ledger_review_tables

    events = pd.DataFrame({
        "id": [1, 2, 3, 4, 5, 6, 7, 8],
        "subject": ["task", "task", "task", "issue", "issue", "issue", "issue", "issue"],
        "subject_id": ["T1", "T2", "T1", "P1", "P1", "P2", "P3", "P4"],
        "kind": ["extend", "extend", "accept", "extend", "recheck", "recheck", "recheck",
                 "recheck"],
        "on_date": pd.to_datetime(["2026-03-05", "2026-04-01", "2026-03-06", "2026-03-07",
                                   "2026-03-08", "2026-03-09", "2026-03-31", "2026-04-01"]),
        "old_value": ["2026-03-10", "2026-04-10", None, "2026-03-01", None, None, None, None],
        "new_value": ["2026-05-31", "2026-06-30", None, "2026-03-20", None, None, None, None],
        "conclusion": [None, None, "pass", None, "fail", "pass", "fail", "fail"],
        "unit": "市整改办", "reason": ["汛期", "搬迁", None, "停产", None, None, None, None]})
    letters = pd.DataFrame({
        "kind": ["reminder_letter", "reminder_letter", "assignment_sheet", "reminder_letter"],
        "issued_on": pd.to_datetime(["2026-02-10", "2026-03-02", "2026-03-20", "2026-04-02"]),
        "replied_on": pd.to_datetime(["2026-02-12", None, "2026-03-25", None])})
    units = pd.Series({"P1": "甲局", "P2": "甲局", "P3": "乙局", "P4": "乙局"})
    tables = ledger_review_tables(events, letters, "2026-03", units=units)
    assert tables["extensions"][["subject", "subject_id", "extended_to", "reason"]] \
        .values.tolist() == [["task", "T1", "2026-05-31", "汛期"],
                             ["issue", "P1", "2026-03-20", "停产"]]
    # re-checks in March: P1 failed and P2 passed (甲局), P3 failed (乙局); P4 is April's
    checks = tables["rechecks"].set_index("responsible_unit")
    assert checks.loc["甲局"].tolist() == [2, 1, 1]  # rechecked, passed, rebounds
    assert checks.loc["乙局"].tolist() == [1, 0, 1]
    counts = tables["letters"].set_index("kind")
    assert counts.loc["提醒函"].tolist() == [1, 2, 1]  # month, year to 31 March, answered
    assert counts.loc["交办单"].tolist() == [1, 1, 1]
    assert counts.loc["督办单"].tolist() == [0, 0, 0]
    assert ledger_review_tables(events.iloc[:0], letters.iloc[:0], "2026-03") == {}


def test_the_docx_letter_reads_back_with_user_text_as_literal_text() -> None:
    from docx import Document

    from gridwatch.ledger.letter_docx import letter_docx

    plan = plan_letters(reminders([("P1", "<b>甲局</b>", "reminder_letter", 1),
                                   ("P2", "<b>甲局</b>", "reminder_letter", 3)]),
                        *empty_register(), dt.date(2026, 3, 2))
    hostile = HOSTILE + "\x07=cmd|' /C calc'!A0"
    items = plan.items.assign(address="某路<w:p/>", description=hostile)
    letter = plan.letters.iloc[0]
    data = letter_docx(letter, items, issuer="嘉兴市整改办")
    words = Document(io.BytesIO(data))
    text = "\n".join(p.text for p in words.paragraphs)
    assert "嘉兴市整改办提醒函" in text and letter["letter_no"] in text
    assert "<b>甲局</b>：" in text  # the unit exactly as written, not markup
    reply_due = str(pd.Timestamp(letter["reply_due"]).date())
    assert f"于{reply_due}前书面回复" in text
    rows = [[c.text for c in row.cells] for row in words.tables[0].rows]
    assert rows[0] == ["问题编号", "整改期限", "超期天数", "地址", "问题描述"]
    expected = [[r.issue_id, str(pd.Timestamp(r.deadline).date()), str(r.days_overdue)]
                for r in items.itertuples(index=False)]
    assert [r[:3] for r in rows[1:]] == expected
    assert all(r[3] == "某路<w:p/>" for r in rows[1:])  # literal, not XML
    assert all(r[4] == hostile.replace("\x07", "") for r in rows[1:])

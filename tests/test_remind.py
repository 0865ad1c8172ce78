import openpyxl
import pandas as pd
import pytest
from helpers import local, utc_columns

from gridwatch.errors import ConfigError
from gridwatch.supervision.codes import evaluate_as_of
from gridwatch.supervision.remind import (
    NO_UNIT,
    EscalationSettings,
    parse_escalation_settings,
    reminder_list,
    reminder_summary,
    write_reminders,
)

AS_OF = "2024-03-15"  # a Friday


def issues() -> pd.DataFrame:
    # Deadline dates and days overdue as of Friday 2024-03-15.
    deadlines = {
        "od0_today": "2024-03-15", "od1": "2024-03-14", "od2": "2024-03-13", "od3": "2024-03-12",
        "od6": "2024-03-09", "od7": "2024-03-08", "od30": "2024-02-14",
        "soon3": "2024-03-20", "later4": "2024-03-21",
    }
    frame = pd.DataFrame({
        "issue_id": [*deadlines, "closed"],
        "reported_at": [local("2024-02-01 09:00")] * (len(deadlines) + 1),
        "deadline": [local(f"{d} 23:59:59") for d in deadlines.values()]
                    + [local("2024-03-01 23:59:59")],
        "closed_at": [pd.NaT] * len(deadlines) + [local("2024-03-10 09:00")],
        "category": ["water"] * (len(deadlines) + 1),
        "responsible_unit": ["南湖区生态环境分局"] * 5 + ["  ", None, "秀洲区", "秀洲区", "秀洲区"],
    })
    return utc_columns(frame, "deadline", "closed_at")


def reminders(settings: EscalationSettings | None = None) -> pd.DataFrame:
    frame = issues()
    return reminder_list(frame, evaluate_as_of(frame, as_of=AS_OF), as_of=AS_OF,
                         settings=settings)


def test_buckets_and_default_thresholds() -> None:
    got = reminders().set_index("issue_id")
    assert got["bucket"].to_dict() == {
        "od0_today": "due_today", "od1": "overdue", "od2": "overdue", "od3": "overdue",
        "od6": "overdue", "od7": "overdue", "od30": "overdue", "soon3": "due_soon"}
    assert got["escalation"].fillna("-").to_dict() == {
        "od0_today": "-", "od1": "reminder_letter", "od2": "reminder_letter",
        "od3": "assignment_sheet", "od6": "assignment_sheet", "od7": "supervision_order",
        "od30": "supervision_order", "soon3": "-"}
    assert got.loc["od7", "escalation_label"] == "督办单"
    assert got.loc["od3", "escalation_label"] == "交办单"
    assert got.loc["od1", "escalation_label"] == "提醒函"
    assert got.loc["od30", "days_overdue"] == 30
    assert got.loc["od7", "responsible_unit"] == NO_UNIT  # blank unit
    assert got.loc["od30", "responsible_unit"] == NO_UNIT  # missing unit


def test_thresholds_are_configurable() -> None:
    settings = parse_escalation_settings({"reminder_letter": 2, "assignment_sheet": 6,
                                          "supervision_order": 30, "due_soon_days": 4})
    got = reminders(settings).set_index("issue_id")
    assert got["escalation"].fillna("-").to_dict() == {
        "od0_today": "-", "od1": "-", "od2": "reminder_letter", "od3": "reminder_letter",
        "od6": "assignment_sheet", "od7": "assignment_sheet", "od30": "supervision_order",
        "soon3": "-", "later4": "-"}
    assert got.loc["later4", "bucket"] == "due_soon"


def test_summary_per_unit_worst_first() -> None:
    summary = reminder_summary(reminders())
    assert summary["responsible_unit"].tolist() == [NO_UNIT, "南湖区生态环境分局", "秀洲区"]
    first = summary.iloc[0]
    assert (first["overdue"], first["assignment_sheet"], first["supervision_order"]) == (2, 0, 2)
    nanhu = summary.iloc[1]
    assert (nanhu["due_today"], nanhu["overdue"], nanhu["reminder_letter"],
            nanhu["assignment_sheet"], nanhu["max_days_overdue"]) == (1, 4, 2, 2, 6)
    assert summary.iloc[2]["due_soon"] == 1


def test_invalid_thresholds_are_all_reported() -> None:
    with pytest.raises(ConfigError) as info:
        parse_escalation_settings({"reminder_letter": 5, "assignment_sheet": 3,
                                   "supervision_order": 0, "due_soon_days": -2, "fax": 1})
    assert len(info.value.problems) == 4
    assert "must increase" in str(info.value)


def test_written_lists(tmp_path) -> None:
    found = reminders()
    (xlsx,) = write_reminders(found, tmp_path / "remind.xlsx")
    book = openpyxl.load_workbook(xlsx)
    assert book.sheetnames == ["summary", "all", "提醒函", "交办单", "督办单"]
    assert book["督办单"].max_row == 3  # header + od7 + od30
    files = write_reminders(found, tmp_path / "remind.csv")
    assert [f.name for f in files] == ["remind.csv", "remind_summary.csv"]
    back = pd.read_csv(files[0], encoding="utf-8-sig")
    assert len(back) == len(found)

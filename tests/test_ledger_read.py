"""Reading a rectification ledger: headers, task types, milestones, row accounting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _ledger_fixture import BAD, GOOD, HEADER, write_ledger
from hypothesis import given
from hypothesis import strategies as st

from gridwatch.errors import SchemaError
from gridwatch.ledger.read import map_ledger_headers, parse_milestones, read_ledger

TYPES = {"立行立改": "immediate", "阶段性": "staged", "长期坚持": "long_term"}


def test_every_row_is_a_task_or_a_reject(tmp_path: Path) -> None:
    result = read_ledger(write_ledger(tmp_path))
    assert result.rows_in == len(GOOD) + len(BAD)
    assert result.accepted == len(GOOD)
    assert result.rejected == len(BAD)
    assert result.rows_in == result.accepted + result.rejected
    # the title is row 1, the header row 2: good rows are 3.., bad rows follow
    assert result.tasks["source_row"].tolist() == list(range(3, 3 + len(GOOD)))
    first_bad = 3 + len(GOOD)
    assert result.rejects["row"].tolist() == list(range(first_bad, first_bad + len(BAD)))
    for reason, (_values, expected) in zip(result.rejects["reason"], BAD, strict=True):
        assert reason.startswith(expected)


def test_tasks_carry_their_round_item_type_and_dates(tmp_path: Path) -> None:
    tasks = read_ledger(write_ledger(tmp_path)).tasks.set_index("task_id")
    for rnd, item_id, _item, task_id, task, kind, _ms, deadline, leader, unit, progress, done \
            in GOOD:
        row = tasks.loc[task_id]
        assert (row["round"], row["item_id"], row["task"]) == (rnd, item_id, task)
        assert row["task_type"] == TYPES[kind]
        assert (row["leader"], row["unit"]) == (leader, unit)
        if deadline:
            assert row["deadline"] == pd.Timestamp(deadline)
        else:
            assert pd.isna(row["deadline"])
        if progress == "已完成":
            assert row["rectified_on"] == pd.Timestamp(done)
        else:
            assert pd.isna(row["rectified_on"])


def test_milestones_are_read_in_order(tmp_path: Path) -> None:
    ms = read_ledger(write_ledger(tmp_path)).milestones
    got = {(t, s): (str(d)[:10], x) for t, s, d, x in ms.itertuples(index=False)}
    assert got == {
        ("Z2-01-1", 1): ("2024-03-31", "完成排查"), ("Z2-01-1", 2): ("2024-06-30", "完成整治"),
        ("Z2-03-1", 1): ("2024-04-30", "完成一半"),
        ("S1-01-1", 1): ("2024-04-30", "完成一半"), ("S1-01-1", 2): ("2024-08-31", "全部完成"),
    }


def test_xlsx_and_utf8_read_the_same(tmp_path: Path) -> None:
    csv_path = write_ledger(tmp_path, encoding="utf-8-sig", name="a.csv")
    frame = pd.read_csv(csv_path, header=1, dtype=str, keep_default_na=False)
    xlsx = tmp_path / "a.xlsx"
    frame.to_excel(xlsx, index=False)
    a, b = read_ledger(csv_path), read_ledger(xlsx)
    columns = ["task_id", "round", "item_id", "task", "task_type", "deadline", "unit"]
    pd.testing.assert_frame_equal(a.tasks[columns], b.tasks[columns])
    assert a.rejects["reason"].tolist() == b.rejects["reason"].tolist()


def test_missing_required_headers_name_what_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("轮次,编号\n一,1\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="反馈问题编号") as info:
        read_ledger(path)
    assert "整改任务" in str(info.value) and "'编号'" in str(info.value)


def test_task_ids_are_numbered_within_their_item_when_the_file_has_none(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("督察轮次,反馈问题编号,整改任务,整改时限\n"
                    "一,A,甲,2024-01-01\n一,A,乙,2024-01-02\n一,B,丙,2024-01-03\n",
                    encoding="utf-8")
    assert read_ledger(path).tasks["task_id"].tolist() == ["A-1", "A-2", "B-1"]


def test_a_repeated_task_id_keeps_the_later_row(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("督察轮次,反馈问题编号,整改任务编号,整改任务,时间节点,整改时限\n"
                    "一,A,A-1,旧,2024-01-01 旧节点,2024-02-01\n"
                    "一,A,A-1,新,2024-03-01 新节点,2024-04-01\n", encoding="utf-8")
    result = read_ledger(path)
    assert result.tasks["task"].tolist() == ["新"]
    assert result.rejects["row"].tolist() == [2]
    assert "superseded" in result.rejects["reason"].iloc[0]
    assert result.milestones["text"].tolist() == ["新节点"]
    assert result.rows_in == result.accepted + result.rejected


def test_a_done_task_needs_its_date(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("督察轮次,反馈问题编号,整改任务,整改时限,完成情况,完成时间\n"
                    "一,A,甲,2024-01-01,已完成,\n", encoding="utf-8")
    result = read_ledger(path)
    assert result.accepted == 0
    assert "rectified without a date" in result.rejects["reason"].iloc[0]


def test_headers_match_regardless_of_spaces_and_width() -> None:
    assert map_ledger_headers(["督察 轮次", "反馈问题编号", "整改任务", "ＵＮＩＴ"]) == {
        "督察 轮次": "round", "反馈问题编号": "item_id", "整改任务": "task", "ＵＮＩＴ": "unit"}
    assert list(HEADER)  # the fixture's header is the usual one
    assert set(map_ledger_headers(HEADER).values()) >= {"round", "item_id", "task", "deadline"}


@given(st.lists(st.tuples(st.dates(min_value=pd.Timestamp("1990-01-01").date(),
                                   max_value=pd.Timestamp("2100-12-31").date()),
                          st.sampled_from(["-", "/", "年"]), st.text("完成整治督察", max_size=6)),
                min_size=1, max_size=5))
def test_milestone_cells_round_trip(parts: list) -> None:
    cells = []
    for day, sep, text in parts:
        if sep == "年":
            written = f"{day.year}年{day.month}月{day.day}日"
        else:
            written = f"{day.year}{sep}{day.month}{sep}{day.day}"
        cells.append(f"{written} {text}")
    parsed = parse_milestones("；".join(cells))
    assert not isinstance(parsed, str)
    assert [d for d, _t in parsed] == [np.datetime64(day, "D") for day, _s, _t in parts]
    assert [t for _d, t in parsed] == [text.strip(" ：:，,、") for _d, _s, text in parts]


def test_month_end_milestones() -> None:
    assert parse_milestones("2024年2月底") == [(np.datetime64("2024-02-29"), "")]
    assert isinstance(parse_milestones("2024年13月底"), str)

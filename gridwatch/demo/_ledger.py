"""The demo city's rectification ledger: a central and a provincial inspection round.

Feedback items are drawn from the towns and counties of the generated city; each has one to
three tasks of the three types, with leaders and units, milestones for staged tasks, some
rectified (a few of them failing acceptance), some extended and some overdue at the end
date. Problems of the items' towns and categories reported after a round's feedback hang under
its tasks (their exports carry 整改任务编号). Written as ``ledger/整改台账.xlsx`` (a title row
above the header, as ledgers are kept) and ``ledger/整改记录.csv`` (GBK: acceptances,
extensions and milestones done).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["LEDGER_FILE", "RECORDS_FILE", "demo_letters", "link_problems", "write_ledger"]

LEDGER_FILE = "ledger/整改台账.xlsx"
RECORDS_FILE = "ledger/整改记录.csv"
#: (round, days before the end date the feedback was given, number of feedback items, prefix)
ROUNDS: tuple[tuple[str, int, int, str], ...] = (
    ("第二轮中央生态环境保护督察", 330, 24, "ZY"),
    ("省级生态环境保护督察", 160, 12, "SJ"),
)
#: Per category: the feedback item, and the tasks it usually becomes (task, department).
_ITEMS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "water": ("{place}部分河道水质反复，入河排污口底数不清",
              (("入河排污口排查整治", "生态环境分局"), ("黑臭水体整治", "水利局"),
               ("雨污分流改造", "住建局"))),
    "air": ("{place}工业废气和扬尘污染问题突出",
            (("涉气企业深度治理", "生态环境分局"), ("建筑工地扬尘管控", "住建局"),
             ("露天焚烧常态化巡查", "综合行政执法局"))),
    "solid_waste": ("{place}建筑垃圾和一般固废非法倾倒",
                    (("清理倾倒点位", "综合行政执法局"), ("固废全过程监管", "生态环境分局"),
                     ("运输车辆源头管控", "交通运输局"))),
    "noise": ("{place}夜间施工和社会生活噪声扰民", (("夜间施工审批与巡查", "住建局"),
                                                 ("噪声投诉快速处置", "公安分局"))),
    "soil": ("{place}部分地块土壤污染风险管控不到位", (("污染地块风险管控", "生态环境分局"),
                                                   ("农用地安全利用", "农业农村局"))),
    "ecology": ("{place}生态保护红线内违规占用", (("红线内违规项目清理", "自然资源和规划局"),
                                               ("生态修复", "林业局"))),
}
_CITY_LEADERS = ("张建国副市长", "刘晓红副市长", "王志强副市长", "陈立新副市长")
_EXTEND_REASONS = ("汛期无法施工", "涉及企业搬迁，需分步实施", "管网工程量大，需延长工期",
                   "资金尚未全部到位")
_FAIL_NOTES = ("现场仍有积存垃圾", "排口仍有污水直排", "整改资料不全")


def write_ledger(folder: Path, towns: pd.DataFrame, *, end: np.datetime64,
                 rng: np.random.Generator) -> tuple[pd.DataFrame, Path, Path]:
    """Write the ledger and its register into ``folder/ledger``.

    Parameters
    ----------
    towns
        ``code``, ``name``, ``county_name`` of the generated towns.
    end
        The demo's end date (the ledger is as of that day).

    Returns
    -------
    tasks : pandas.DataFrame
        ``task_id``, ``town_code``, ``category``, ``since`` (the round's feedback day).
    ledger, records : Path
    """
    rows: list[dict[str, object]] = []
    records: list[list[object]] = []
    task_towns: list[tuple[str, str, str, np.datetime64]] = []
    head = {"区": "区长", "市": "市长"}
    county_leaders = {c: f"{c}{head.get(c[-1], '县长')}" for c in towns["county_name"].unique()}
    categories = list(_ITEMS)
    for round_name, days_before, n_items, prefix in ROUNDS:
        since = end - np.timedelta64(days_before, "D")
        for k in range(1, n_items + 1):
            town = towns.iloc[int(rng.integers(len(towns)))]
            category = categories[int(rng.integers(len(categories)))]
            item_text, choices = _ITEMS[category]
            place = f"{town['county_name']}{town['name']}"
            item_id = f"{prefix}-{k:02d}"
            n_tasks = int(rng.integers(1, min(3, len(choices)) + 1))
            picked = rng.choice(len(choices), size=n_tasks, replace=False)
            for j, c in enumerate(sorted(picked.tolist()), start=1):
                task_text, department = choices[c]
                kind = rng.choice(["立行立改", "阶段性", "长期坚持"], p=[0.45, 0.4, 0.15])
                task_id = f"{item_id}-{j}"
                city_level = rng.random() < 0.4
                unit = (f"市{department.replace('分局', '局')}" if city_level
                        else f"{town['county_name']}{department}" if department.endswith("局")
                        else f"{town['name']}人民政府")
                leader = (_CITY_LEADERS[c % len(_CITY_LEADERS)] if city_level
                          else county_leaders[town["county_name"]])
                row: dict[str, object] = {"督察轮次": round_name, "反馈问题编号": item_id,
                       "反馈问题": item_text.format(place=place), "整改任务编号": task_id,
                       "整改任务": f"{town['name']}{task_text}",
                       "整改目标": "问题全部整改到位，建立长效机制",
                       "整改措施": "逐一排查，建立清单，限期整改",
                       "任务类型": str(kind), "时间节点": "", "整改时限": "",
                       "责任领导": leader, "责任单位": unit, "责任人": f"{unit}主要负责人",
                       "完成情况": "整改中", "完成时间": ""}
                milestones: list[np.datetime64] = []
                if kind == "立行立改":
                    deadline = since + np.timedelta64(int(rng.integers(20, 61)), "D")
                elif kind == "阶段性":
                    deadline = since + np.timedelta64(int(rng.integers(150, 420)), "D")
                    span = int((deadline - since).astype(int))
                    milestones = [since + np.timedelta64(span * q // 3, "D") for q in (1, 2)]
                    row["时间节点"] = "；".join(
                        f"{pd.Timestamp(d):%Y年%m月%d日}{what}"
                        for d, what in zip(milestones, ("完成排查建档", "完成主体整治"),
                                           strict=True))
                else:
                    deadline = np.datetime64("NaT", "D")
                    row["完成情况"] = "持续推进"
                if not np.isnat(deadline):
                    row["整改时限"] = str(deadline)
                    # most tasks are rectified around their deadline, some well before it
                    done = deadline - np.timedelta64(int(rng.integers(-15, 45)), "D")
                    if done <= end and rng.random() < (0.93 if kind == "立行立改" else 0.85):
                        row["完成情况"] = "已完成"
                        row["完成时间"] = str(max(done, since + np.timedelta64(3, "D")))
                rows.append(row)
                task_towns.append((task_id, str(town["code"]), category, since))
                _records(records, row, task_id, milestones, end, rng)
    folder = folder / "ledger"
    folder.mkdir(parents=True, exist_ok=True)
    ledger = folder / Path(LEDGER_FILE).name
    frame = pd.DataFrame(rows)
    with pd.ExcelWriter(ledger, engine="openpyxl") as writer:
        pd.DataFrame([["嘉兴市生态环境保护督察反馈问题整改台账"]]).to_excel(
            writer, index=False, header=False, startrow=0)
        frame.to_excel(writer, index=False, startrow=1)
    register = folder / Path(RECORDS_FILE).name
    with register.open("w", encoding="gb18030", newline="") as handle:
        writer_csv = csv.writer(handle)
        writer_csv.writerow(["整改任务编号", "事项", "日期", "单位", "结论", "延期至", "原因",
                             "节点"])
        writer_csv.writerows(records)
    tasks = pd.DataFrame(task_towns, columns=["task_id", "town_code", "category", "since"])
    return tasks, ledger, register


def _records(out: list[list[object]], row: dict[str, object], task_id: str,
             milestones: list[np.datetime64], end: np.datetime64,
             rng: np.random.Generator) -> None:
    """Acceptances of rectified tasks, extensions of some open ones, milestones reached."""
    for seq, due in enumerate(milestones, start=1):
        reached = due - np.timedelta64(int(rng.integers(-20, 15)), "D")
        if reached <= end and rng.random() < 0.75:
            out.append([task_id, "节点完成", str(reached), "", "", "", "", seq])
    if row["完成时间"]:
        done = np.datetime64(str(row["完成时间"]), "D")
        accepted = done + np.timedelta64(int(rng.integers(5, 40)), "D")
        if accepted <= end and rng.random() < 0.7:
            failed = rng.random() < 0.12
            out.append([task_id, "验收", str(accepted), "市生态环境保护督察整改办",
                        "不通过" if failed else "通过", "",
                        _FAIL_NOTES[int(rng.integers(len(_FAIL_NOTES)))] if failed else "", ""])
    elif row["整改时限"] and rng.random() < 0.25:
        deadline = np.datetime64(str(row["整改时限"]), "D")
        approved = deadline - np.timedelta64(int(rng.integers(3, 20)), "D")
        if approved <= end:
            out.append([task_id, "延期", str(approved), "市生态环境保护督察整改办", "",
                        str(deadline + np.timedelta64(int(rng.integers(60, 180)), "D")),
                        _EXTEND_REASONS[int(rng.integers(len(_EXTEND_REASONS)))], ""])


def link_problems(problems: pd.DataFrame, tasks: pd.DataFrame, *, rng: np.random.Generator,
                  per_task: int = 6) -> np.ndarray:
    """``ledger_ref`` of each problem: up to ``per_task`` problems of a task's town and
    category reported after its round's feedback hang under it; the rest none ("")."""
    refs = np.full(len(problems), "", dtype=object)
    town = problems["town_code"].to_numpy(dtype=object)
    category = problems["category"].to_numpy(dtype=object)
    day = problems["reported_at"].to_numpy(dtype="datetime64[D]")
    for task in tasks.itertuples(index=False):
        where = np.flatnonzero((town == task.town_code) & (category == task.category)
                               & (day >= task.since) & (refs == ""))
        if len(where):
            chosen = rng.choice(where, size=min(per_task, len(where)), replace=False)
            refs[chosen] = task.task_id
    return refs


def demo_letters(store: Any, ctx: Any, end: dt.date) -> int:
    """The demo's register of 一函两单: letters issued two weeks and one week before the end
    date and on it, every other letter of the first batch answered three days after issue, so
    the rest escalate (提醒函 → 交办单 → 督办单). Returns the number of letters issued."""
    from gridwatch.ledger.load import issue_letters_as_of
    from gridwatch.store.ledger import record_reply

    first = issue_letters_as_of(store, ctx, end - dt.timedelta(days=14))
    for letter in first.letters.iloc[::2].itertuples(index=False):
        record_reply(store, letter.letter_no, on=end - dt.timedelta(days=11),
                     reply="已整改，附整改材料")
    later = [issue_letters_as_of(store, ctx, end - dt.timedelta(days=d)) for d in (7, 0)]
    return len(first.letters) + sum(len(p.letters) for p in later)

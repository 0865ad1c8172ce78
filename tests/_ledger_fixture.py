"""A small rectification ledger in Chinese for the ledger tests (built in code).

Two rounds (第二轮中央督察 and 省级督察), feedback items whose tasks are of all three types
(立行立改, 阶段性 with milestones, 长期坚持), leaders and units, a title row above the header,
and three bad rows, each with one known reason.
"""

from __future__ import annotations

import csv
from pathlib import Path

HEADER = ["督察轮次", "反馈问题编号", "反馈问题", "整改任务编号", "整改任务", "整改目标",
          "整改措施", "任务类型", "时间节点", "整改时限", "责任领导", "责任单位", "责任人",
          "完成情况", "完成时间"]
CENTRAL = "第二轮中央生态环境保护督察"
PROVINCIAL = "省级生态环境保护督察"

#: (round, item id, item, task id, task, type, milestones, deadline, leader, unit, progress,
#:  rectified on)
GOOD: list[tuple[str, ...]] = [
    (CENTRAL, "Z2-01", "部分河道水质不达标", "Z2-01-1", "入河排污口排查整治", "阶段性",
     "2024年3月底完成排查；2024-06-30 完成整治", "2024-09-30", "张副市长", "市生态环境局",
     "整改中", ""),
    (CENTRAL, "Z2-01", "部分河道水质不达标", "Z2-01-2", "关停违法排污企业", "立行立改", "",
     "2024-02-29", "张副市长", "南湖区人民政府", "已完成", "2024-02-20"),
    (CENTRAL, "Z2-02", "固废非法倾倒", "Z2-02-1", "建立固废监管长效机制", "长期坚持", "", "",
     "刘副市长", "市综合行政执法局", "持续推进", ""),
    (CENTRAL, "Z2-02", "固废非法倾倒", "Z2-02-2", "清理倾倒点", "立行立改", "", "2024-01-31",
     "刘副市长", "秀洲区人民政府", "整改中", ""),
    (CENTRAL, "Z2-03", "畜禽养殖污染", "Z2-03-1", "规模养殖场粪污治理", "阶段性",
     "2024/4/30 完成一半", "2024-08-31", "刘副市长", "市农业农村局", "已完成", "2024-04-10"),
    (PROVINCIAL, "S1-01", "工地扬尘管控不力", "S1-01-1", "工地扬尘整治", "阶段性",
     "2024-04-30 完成一半\n2024年8月31日 全部完成", "2024-12-31", "张副市长", "市住建局",
     "整改中", ""),
    (PROVINCIAL, "S1-01", "工地扬尘管控不力", "S1-01-2", "渣土车密闭运输", "立行立改", "",
     "2024-03-31", "王副市长", "市住建局", "已完成", "2024-03-15"),
    (PROVINCIAL, "S1-02", "餐饮油烟扰民", "S1-02-1", "油烟净化设施安装", "立行立改", "",
     "2024-05-31", "王副市长", "南湖区人民政府", "整改中", ""),
]
#: Bad rows: (row, reason fragment).
BAD: list[tuple[tuple[str, ...], str]] = [
    ((PROVINCIAL, "S1-03", "噪声", "S1-03-1", "", "立行立改", "", "2024-03-31", "王副市长",
      "市公安局", "整改中", ""), "task missing"),
    ((PROVINCIAL, "S1-03", "噪声", "S1-03-2", "夜间施工管控", "马上办", "", "2024-03-31",
      "王副市长", "市公安局", "整改中", ""), "unknown task_type"),
    ((PROVINCIAL, "S1-03", "噪声", "S1-03-3", "噪声监测", "阶段性", "年底前完成", "2024-12-31",
      "王副市长", "市生态环境局", "整改中", ""), "milestone unreadable"),
]


def _row(values: tuple[str, ...]) -> list[str]:
    rnd, item_id, item, task_id, task, kind, ms, deadline, leader, unit, progress, done = values
    return [rnd, item_id, item, task_id, task, "目标", "措施", kind, ms, deadline, leader, unit,
            "某某", progress, done]


def write_ledger(folder: Path, *, encoding: str = "gb18030", name: str = "台账.csv") -> Path:
    """Write the ledger as a CSV (GBK by default, as exports from Chinese systems are): a title
    row, the header on row 2, the good rows from row 3, then the bad rows."""
    path = folder / name
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["嘉兴市生态环境保护督察反馈问题整改台账"] + [""] * (len(HEADER) - 1))
        writer.writerow(HEADER)
        for values in GOOD:
            writer.writerow(_row(values))
        for values, _reason in BAD:
            writer.writerow(_row(values))
    return path

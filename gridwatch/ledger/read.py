"""Read a rectification ledger (整改台账) into tasks and milestones, and account for every row.

A ledger has one row per rectification task (整改任务) under a feedback item (督察反馈问题) of an
inspection round (督察轮次). Headers are matched as problem headers are (case, spaces and
full-width forms do not matter; :func:`gridwatch.schema.header_key`), files are read by the same
readers (:func:`gridwatch.ingest._readers.read_tables`: CSV in UTF-8 or GBK, XLSX, zipped or
gzipped), and every input row ends as exactly one task or one reject in the shape of
:data:`gridwatch.schema.REJECT_COLUMNS`, so ``rows_in == accepted + rejected``.

Milestones (时间节点) of a staged task are written in one cell, one per line or separated by
``；``: each part starts with (or contains) a date — ``2024-06-30``, ``2024/6/30``,
``2024年6月30日`` or ``2024年6月底`` (the last day of the month) — and the rest is what is due.
"""

from __future__ import annotations

import calendar
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridwatch.config import InputSettings
from gridwatch.errors import SchemaError
from gridwatch.ingest._dates import parse_datetimes
from gridwatch.ingest._readers import HEADER_SEARCH_ROWS, RawTable, read_tables
from gridwatch.ingest.records import match_headers
from gridwatch.schema import (
    DEFAULT_TIMEZONE,
    REJECT_COLUMNS,
    concat_rejects,
    normalise_label,
)

__all__ = [
    "CONCLUSIONS",
    "LEDGER_ALIASES",
    "LEDGER_COLUMNS",
    "PROGRESS_LABELS",
    "RECHECK_ALIASES",
    "RECORD_ALIASES",
    "RECORD_KINDS",
    "TASK_TYPES",
    "TASK_TYPE_LABELS",
    "LedgerFile",
    "RecordsFile",
    "map_ledger_headers",
    "parse_milestones",
    "read_ledger",
    "read_ledger_records",
    "read_recheck_results",
]

#: Columns of a task, in the order they are stored and shown.
LEDGER_COLUMNS: tuple[str, ...] = (
    "task_id", "round", "item_id", "item", "task", "target", "measures", "task_type",
    "deadline", "leader", "unit", "person", "rectified_on",
)
#: Headers understood per column (matched after header_key); the first ones are the usual.
LEDGER_ALIASES: dict[str, tuple[str, ...]] = {
    "round": ("督察轮次", "轮次", "督察批次", "批次", "round"),
    "item_id": ("反馈问题编号", "反馈意见编号", "问题序号", "反馈问题序号", "item_id"),
    "item": ("反馈问题", "督察反馈问题", "反馈意见", "问题描述", "item"),
    "task_id": ("整改任务编号", "任务编号", "任务序号", "task_id"),
    "task": ("整改任务", "任务内容", "整改内容", "task"),
    "target": ("整改目标", "目标", "target"),
    "measures": ("整改措施", "措施", "measures"),
    "task_type": ("任务类型", "整改类型", "整改方式", "task_type"),
    "milestones": ("时间节点", "阶段目标", "阶段节点", "milestones"),
    "deadline": ("整改时限", "完成时限", "整改期限", "deadline"),
    "leader": ("责任领导", "牵头领导", "第一责任人", "leader"),
    "unit": ("责任单位", "牵头单位", "责任部门", "unit"),
    "person": ("责任人", "具体责任人", "person"),
    "progress": ("完成情况", "整改进展", "整改状态", "进展情况", "progress"),
    "rectified_on": ("完成时间", "整改完成时间", "完成日期", "rectified_on"),
}
_REQUIRED: tuple[str, ...] = ("round", "item_id", "task")
TASK_TYPES: tuple[str, ...] = ("immediate", "staged", "long_term")
#: Words for task types (the same as :mod:`gridwatch.supervision.deadlines` reads on problems).
TASK_TYPE_LABELS: dict[str, str] = {
    "立行立改": "immediate", "立即整改": "immediate", "即知即改": "immediate",
    "阶段性": "staged", "阶段性整改": "staged", "分阶段": "staged", "限期整改": "staged",
    "长期坚持": "long_term", "长期": "long_term", "长期整改": "long_term",
    "持续推进": "long_term",
}
#: Words for a task's progress: True when rectified (整改完成), False while open.
PROGRESS_LABELS: dict[str, bool] = {
    "已完成": True, "完成": True, "已整改": True, "整改完成": True, "已完成整改": True,
    "基本完成": False, "done": True, "rectified": True,
    "整改中": False, "推进中": False, "未完成": False, "未启动": False, "正在整改": False,
    "持续推进": False, "open": False, "inprogress": False,
}
_DATE_HINT = "write e.g. 2024-06-30, 2024/6/30, 2024年6月30日 or 2024年6月底"
_DATE = re.compile(
    r"(?P<y>\d{4})\s*(?:年|[-/.])\s*(?P<m>\d{1,2})\s*(?:月\s*(?P<end>底|末)|(?:月|[-/.])\s*"
    r"(?P<d>\d{1,2})\s*日?|月)")
_SPLIT = re.compile(r"[；;\n\r]+")


@dataclass(frozen=True)
class LedgerFile:
    """Tasks, milestones and rejects of one ledger file (:func:`read_ledger`)."""

    #: One row per accepted task: :data:`LEDGER_COLUMNS` (dates as ``datetime64[D]`` local
    #: days, text as str or NA) plus ``source_row``.
    tasks: pd.DataFrame
    #: ``task_id``, ``seq`` (1, 2, … in the order written), ``due`` (local day), ``text``.
    milestones: pd.DataFrame
    rejects: pd.DataFrame
    rows_in: int
    #: Input header -> ledger column, for the headers used.
    mapped: dict[str, str]

    @property
    def accepted(self) -> int:
        """Number of accepted tasks."""
        return len(self.tasks)

    @property
    def rejected(self) -> int:
        """Number of rejected rows."""
        return len(self.rejects)


def map_ledger_headers(headers: Iterable[object]) -> dict[str, str]:
    """Map a ledger's headers to ledger columns (the earlier alias wins, then the earlier header).

    Examples
    --------
    >>> map_ledger_headers(["督察轮次", "反馈问题 编号", "整改任务", "备注"])
    {'督察轮次': 'round', '反馈问题 编号': 'item_id', '整改任务': 'task'}
    """
    return match_headers(headers, LEDGER_ALIASES)


def parse_milestones(text: str) -> list[tuple[np.datetime64, str]] | str:
    """Split a 时间节点 cell into (due day, what is due), or return the reason it cannot be read.

    Examples
    --------
    >>> [(str(d), t) for d, t in parse_milestones("2024年6月底前完成排查；2024-12-31 完成整治")]
    [('2024-06-30', '完成排查'), ('2024-12-31', '完成整治')]
    >>> parse_milestones("年底前完成")
    "'年底前完成' has no date"
    """
    out: list[tuple[np.datetime64, str]] = []
    for part in (p.strip() for p in _SPLIT.split(text)):
        if not part:
            continue
        found = _DATE.search(part)
        if found is None:
            return f"{part!r} has no date"
        year, month = int(found["y"]), int(found["m"])
        if not 1 <= month <= 12:
            return f"{part!r} has no valid date"
        last = calendar.monthrange(year, month)[1]
        day = int(found["d"]) if found["d"] is not None else last
        if not 1 <= day <= calendar.monthrange(year, month)[1]:
            return f"{part!r} has no valid date"
        rest = (part[:found.start()] + part[found.end():]).strip(" ：:，,、")
        rest = rest.removeprefix("前").strip(" ：:，,、")  # 6月底前完成: "before" the day
        out.append((np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D"), rest))
    return out


def read_ledger(path: str | os.PathLike[str], *,
                settings: InputSettings = InputSettings(),  # noqa: B008 - frozen dataclass
                timezone: str = DEFAULT_TIMEZONE) -> LedgerFile:
    """Read a ledger file (CSV/XLSX with Chinese headers) into tasks, milestones and rejects.

    Parameters
    ----------
    path
        The ledger: one row per task. Title rows above the header are skipped.
    settings
        ``[input]`` of the project file: encoding and the limits on size, rows and columns.
    timezone
        Zone in which dates written with a time of day are read.

    Returns
    -------
    LedgerFile

    Raises
    ------
    InputFileError
        The file is missing, of an unknown type, too big or unreadable.
    SchemaError
        The file has no column for 督察轮次, 反馈问题编号 or 整改任务.
    """
    tables = read_tables(path, encoding=settings.encoding, max_file_mb=settings.max_file_mb,
                         max_rows=settings.max_rows, max_columns=settings.max_columns)
    task_parts, milestone_parts, reject_parts = [], [], []
    rows_in = 0
    mapped: dict[str, str] = {}
    for table in tables:
        table, mapping = _mapping_for(table)
        mapped.update(mapping)
        tasks, milestones, rejects = _check(table, mapping, timezone)
        rows_in += len(table.frame)
        task_parts.append(tasks)
        milestone_parts.append(milestones)
        reject_parts.append(rejects)
    tasks = pd.concat(task_parts, ignore_index=True)
    milestones = pd.concat(milestone_parts, ignore_index=True)
    tasks, milestones, superseded = _drop_superseded(tasks, milestones, mapped)
    rejects = concat_rejects(*reject_parts, superseded,
                             file_order=[t.name for t in tables])
    return LedgerFile(tasks=tasks.reset_index(drop=True),
                      milestones=milestones.reset_index(drop=True), rejects=rejects,
                      rows_in=rows_in, mapped=mapped)


def _mapping_for(table: RawTable) -> tuple[RawTable, dict[str, str]]:
    mapping = map_ledger_headers(table.frame.columns)
    if not _complete(mapping) and table.format in ("csv", "xlsx"):
        for k in range(min(HEADER_SEARCH_ROWS, len(table.frame))):
            cells = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                     for v in table.frame.iloc[k].tolist()]
            found = map_ledger_headers(cells)
            if _complete(found):
                body = table.frame.iloc[k + 1:].reset_index(drop=True)
                body.columns = [c.strip() or f"(column {i + 1})" for i, c in enumerate(cells)]
                table = RawTable(name=table.name, format=table.format, encoding=table.encoding,
                                 frame=body, rows=table.rows[k + 1:],
                                 header_row=int(table.rows[k]))
                mapping = found
                break
    missing = [c for c in _REQUIRED if c not in mapping.values()]
    if missing:
        listed = ", ".join(repr(str(h)) for h in table.frame.columns) or "(none)"
        wanted = "; ".join(f"for {c}: {', '.join(LEDGER_ALIASES[c])}" for c in missing)
        raise SchemaError(f"{table.name}: no column gives {' or '.join(missing)} of a ledger. "
                          f"Headers found: {listed}. Headers accepted {wanted}")
    return table, mapping


def _complete(mapping: Mapping[str, str]) -> bool:
    return all(c in mapping.values() for c in _REQUIRED)


def _text(series: pd.Series) -> pd.Series:
    def one(value: object) -> str | None:
        if value is None or value is pd.NA:
            return None
        if isinstance(value, float):
            if np.isnan(value):
                return None
            return str(int(value)) if value.is_integer() else str(value)
        text = str(value).strip()
        return text or None

    return pd.Series([one(v) for v in series.tolist()], dtype="str")


def _check(table: RawTable, mapping: dict[str, str], timezone: str,
           ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    frame = table.frame
    n = len(frame)
    header_of = {column: header for header, column in mapping.items()}
    positions = {str(h): i for i, h in enumerate(frame.columns)}
    text = {c: _text(frame[h].reset_index(drop=True)) for h, c in mapping.items()}
    problems: list[list[tuple[int, str, str, str]]] = [[] for _ in range(n)]

    def given(column: str) -> pd.Series:
        return text.get(column, pd.Series([None] * n, dtype="str"))

    def problem(column: str, i: int, reason: str) -> None:
        header = header_of.get(column, column)
        value = given(column).iloc[i]
        problems[i].append((positions.get(header, -1), header,
                            "" if value is None or pd.isna(value) else str(value), reason))

    for column in _REQUIRED:
        for i in np.flatnonzero(given(column).isna().to_numpy()).tolist():
            problem(column, int(i), f"{column} missing: {header_of[column]} is empty")
    types = given("task_type")
    type_codes: list[str | None] = []
    type_table = {normalise_label(k): v for k, v in TASK_TYPE_LABELS.items()}
    type_table.update({c: c for c in TASK_TYPES})
    for i, value in enumerate(types.tolist()):
        if value is None or pd.isna(value):
            type_codes.append(None)
            continue
        code = type_table.get(normalise_label(value))
        if code is None:
            problem("task_type", i, f"unknown task_type: {header_of['task_type']} {value!r} is "
                                    "not a task type (立行立改, 阶段性 or 长期坚持)")
        type_codes.append(code)
    days = {}
    for column in ("deadline", "rectified_on"):
        parsed, bad, outside = parse_datetimes(given(column), timezone=timezone)
        local = parsed.dt.tz_convert(timezone).dt.tz_localize(None)
        days[column] = np.asarray(local.to_numpy(dtype="datetime64[ns]"), dtype="datetime64[D]")
        for i in np.flatnonzero((bad | outside).to_numpy()).tolist():
            problem(column, int(i), f"{column} unreadable: {header_of[column]} "
                                    f"{given(column).iloc[i]!r} is not a date ({_DATE_HINT})")
    progress = given("progress")
    done = np.zeros(n, dtype=bool)
    progress_table = {normalise_label(k): v for k, v in PROGRESS_LABELS.items()}
    for i, value in enumerate(progress.tolist()):
        if value is None or pd.isna(value):
            done[i] = not np.isnat(days["rectified_on"][i])
            continue
        state = progress_table.get(normalise_label(value))
        if state is None:
            problem("progress", i, f"unknown progress: {header_of['progress']} {value!r} is not "
                                   "a progress (已完成 or 整改中, 未完成, 未启动, 持续推进)")
            continue
        done[i] = state
        if state and np.isnat(days["rectified_on"][i]) and "rectified_on" not in header_of:
            problem("progress", i, f"rectified without a date: {header_of['progress']} "
                                   f"{value!r} means rectified but the file has no 完成时间 "
                                   "column")
        elif state and np.isnat(days["rectified_on"][i]):
            problem("rectified_on", i, f"rectified without a date: {header_of['progress']} "
                                       f"{value!r} means rectified but "
                                       f"{header_of['rectified_on']} is empty")
    rectified = np.where(done, days["rectified_on"], np.datetime64("NaT", "D"))
    milestone_rows: list[tuple[int, int, np.datetime64, str]] = []
    for i, value in enumerate(given("milestones").tolist()):
        if value is None or pd.isna(value):
            continue
        parsed_ms = parse_milestones(value)
        if isinstance(parsed_ms, str):
            problem("milestones", i, f"milestone unreadable: {header_of['milestones']} "
                                     f"{parsed_ms} ({_DATE_HINT})")
            continue
        milestone_rows.extend((i, k + 1, due, what) for k, (due, what) in enumerate(parsed_ms))
    for i in range(n):
        if np.isnat(days["deadline"][i]) and type_codes[i] != "long_term" and not problems[i]:
            where = (f"{header_of['deadline']} is empty" if "deadline" in header_of
                     else "the file has no 整改时限 column")
            problem("deadline", i, f"deadline missing: a task that is not 长期坚持 needs a "
                                   f"deadline ({where})")
    item_ids = given("item_id")
    if "task_id" in header_of:
        task_ids = given("task_id")
        for i in np.flatnonzero(task_ids.isna().to_numpy()).tolist():
            problem("task_id", int(i), f"task_id missing: {header_of['task_id']} is empty")
    else:  # one task per row: number them within their item, in file order
        key = given("round").fillna("") + "\x1f" + item_ids.fillna("")
        seq = key.groupby(key).cumcount() + 1
        task_ids = (item_ids.fillna("") + "-" + seq.astype("str")).astype("str")
    rejected = np.array([bool(p) for p in problems])
    tasks = pd.DataFrame({
        "task_id": task_ids, "round": given("round"), "item_id": item_ids,
        "item": given("item"), "task": given("task"), "target": given("target"),
        "measures": given("measures"),
        "task_type": pd.Series(type_codes, dtype="str"),
        "deadline": days["deadline"], "leader": given("leader"), "unit": given("unit"),
        "person": given("person"), "rectified_on": rectified,
        "source_file": pd.Series([table.name] * n, dtype="str"),
        "source_row": np.asarray(table.rows, dtype="int64"),
    })
    # a task without a type is staged when it has milestones, else immediate
    has_ms = np.zeros(n, dtype=bool)
    for i, _seq, _due, _what in milestone_rows:
        has_ms[i] = True
    tasks["task_type"] = tasks["task_type"].fillna(
        pd.Series(np.where(has_ms, "staged", "immediate"), dtype="str"))
    milestones = pd.DataFrame(
        [(tasks["task_id"].iloc[i], seq, due, what, table.name, int(table.rows[i]))
         for i, seq, due, what in milestone_rows if not rejected[i]],
        columns=["task_id", "seq", "due", "text", "source_file", "source_row"])
    milestones["due"] = np.asarray(milestones["due"].to_numpy(), dtype="datetime64[D]")
    milestones["task_id"] = milestones["task_id"].astype("str")
    milestones["seq"] = milestones["seq"].astype("int64")
    milestones["text"] = milestones["text"].astype("str")
    milestones["source_row"] = milestones["source_row"].astype("int64")
    rejects = [(table.name, int(table.rows[i]), *_first(problems[i])) for i in range(n)
               if problems[i]]
    return (tasks.loc[~rejected].reset_index(drop=True), milestones,
            concat_rejects(pd.DataFrame(rejects, columns=list(REJECT_COLUMNS))))


def _first(found: Sequence[tuple[int, str, str, str]]) -> tuple[str, str, str]:
    ordered = sorted(found, key=lambda p: p[0])
    reason = "; ".join(dict.fromkeys(p[3] for p in ordered))
    return ordered[0][1], ordered[0][2], reason


def _drop_superseded(tasks: pd.DataFrame, milestones: pd.DataFrame, mapped: dict[str, str],
                     ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A task_id given twice keeps the later row; the earlier becomes a reject."""
    superseded = tasks.duplicated("task_id", keep="last").to_numpy()
    if not superseded.any():
        return tasks, milestones.drop(columns=["source_file", "source_row"]), concat_rejects()
    header = next((h for h, c in mapped.items() if c == "task_id"), "task_id")
    winners = tasks.loc[~superseded].set_index("task_id")["source_row"]
    files = tasks.loc[~superseded].set_index("task_id")["source_file"]
    rows = [(name, int(row), header, task_id,
             f"duplicate task_id: {task_id!r} is superseded by {files[task_id]} row "
             f"{int(winners[task_id])}")
            for name, row, task_id in zip(
                tasks.loc[superseded, "source_file"], tasks.loc[superseded, "source_row"],
                tasks.loc[superseded, "task_id"], strict=True)]
    # milestones belong to the row that stays
    kept = pd.MultiIndex.from_frame(tasks.loc[~superseded, ["source_file", "source_row"]])
    mine = pd.MultiIndex.from_frame(milestones[["source_file", "source_row"]]).isin(kept)
    keep_ms = milestones.loc[mine].drop(columns=["source_file", "source_row"])
    return (tasks.loc[~superseded], keep_ms,
            concat_rejects(pd.DataFrame(rows, columns=list(REJECT_COLUMNS))))


# --- the register of acceptances, extensions and milestones done (整改记录) -------------------

#: Headers of a records file per column (matched after header_key).
RECORD_ALIASES: dict[str, tuple[str, ...]] = {
    "task_id": ("整改任务编号", "任务编号", "task_id"),
    "kind": ("事项", "记录类型", "类型", "kind"),
    "on_date": ("日期", "验收日期", "批准日期", "完成日期", "date", "on_date"),
    "unit": ("单位", "验收单位", "批准单位", "unit"),
    "conclusion": ("结论", "验收结论", "conclusion"),
    "new_value": ("延期至", "新时限", "extended_to"),
    "reason": ("原因", "延期原因", "验收意见", "说明", "reason"),
    "milestone": ("节点", "节点序号", "milestone"),
}
#: Words for the kinds of records.
RECORD_KINDS: dict[str, str] = {
    "验收": "accept", "验收销号": "accept", "accept": "accept",
    "延期": "extend", "extend": "extend",
    "节点完成": "milestone_done", "节点": "milestone_done", "milestone": "milestone_done",
    "milestonedone": "milestone_done",
}
CONCLUSIONS: dict[str, str] = {"通过": "pass", "验收通过": "pass", "合格": "pass", "pass": "pass",
                               "不通过": "fail", "验收不通过": "fail", "不合格": "fail",
                               "fail": "fail"}


@dataclass(frozen=True)
class RecordsFile:
    """Records and rejects of one register file (:func:`read_ledger_records`)."""

    #: task_id, kind, on_date (local day), unit, conclusion, new_value (ISO day), reason,
    #: milestone (Int64), source_file, source_row.
    records: pd.DataFrame
    rejects: pd.DataFrame
    rows_in: int


def read_ledger_records(path: str | os.PathLike[str], *,
                        settings: InputSettings = InputSettings(),  # noqa: B008
                        timezone: str = DEFAULT_TIMEZONE) -> RecordsFile:
    """Read a register of acceptances (验收), extensions (延期) and milestones done (节点完成).

    One row per record: 整改任务编号, 事项 (验收 / 延期 / 节点完成), 日期 (the acceptance day,
    the day the extension was approved, the day the milestone was reached), 单位 (验收单位 or
    批准单位), 结论 (通过 / 不通过; acceptances), 延期至 (extensions), 原因, 节点 (the milestone's
    number). Every row ends as a record or a reject.

    Raises
    ------
    InputFileError, SchemaError
        As :func:`read_ledger`.
    """
    tables = read_tables(path, encoding=settings.encoding, max_file_mb=settings.max_file_mb,
                         max_rows=settings.max_rows, max_columns=settings.max_columns)
    parts, reject_parts, rows_in = [], [], 0
    for table in tables:
        table_map = match_headers(table.frame.columns, RECORD_ALIASES)
        missing = [c for c in ("task_id", "kind", "on_date") if c not in table_map.values()]
        if missing:
            listed = ", ".join(repr(str(h)) for h in table.frame.columns) or "(none)"
            wanted = "; ".join(f"for {c}: {', '.join(RECORD_ALIASES[c])}" for c in missing)
            raise SchemaError(f"{table.name}: no column gives {' or '.join(missing)} of a "
                              f"register. Headers found: {listed}. Headers accepted {wanted}")
        records, rejects = _check_records(table, table_map, timezone)
        rows_in += len(table.frame)
        parts.append(records)
        reject_parts.append(rejects)
    return RecordsFile(records=pd.concat(parts, ignore_index=True),
                       rejects=concat_rejects(*reject_parts), rows_in=rows_in)


def _check_records(table: RawTable, mapping: dict[str, str], timezone: str,
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = table.frame
    n = len(frame)
    header_of = {c: h for h, c in mapping.items()}
    text = {c: _text(frame[h].reset_index(drop=True)) for h, c in mapping.items()}

    def given(column: str) -> pd.Series:
        return text.get(column, pd.Series([None] * n, dtype="str"))

    found: list[list[tuple[str, str, str]]] = [[] for _ in range(n)]

    def problem(column: str, i: int, reason: str) -> None:
        value = given(column).iloc[i]
        found[i].append((header_of.get(column, column),
                         "" if value is None or pd.isna(value) else str(value), reason))

    kinds_table = {normalise_label(k): v for k, v in RECORD_KINDS.items()}
    verdicts = {normalise_label(k): v for k, v in CONCLUSIONS.items()}
    for i in np.flatnonzero(given("task_id").isna().to_numpy()).tolist():
        problem("task_id", i, f"task_id missing: {header_of['task_id']} is empty")
    kinds: list[str | None] = []
    for i, value in enumerate(given("kind").tolist()):
        kind = None if value is None or pd.isna(value) else kinds_table.get(normalise_label(value))
        if kind is None:
            problem("kind", i, f"unknown kind: {header_of['kind']} {value!r} is not a record "
                               "kind (验收, 延期 or 节点完成)")
        kinds.append(kind)
    days: dict[str, np.ndarray] = {}
    for column in ("on_date", "new_value"):
        parsed, bad, outside = parse_datetimes(given(column), timezone=timezone)
        local = parsed.dt.tz_convert(timezone).dt.tz_localize(None)
        days[column] = np.asarray(local.to_numpy(dtype="datetime64[ns]"), dtype="datetime64[D]")
        for i in np.flatnonzero((bad | outside).to_numpy()).tolist():
            problem(column, i, f"{column} unreadable: {header_of[column]} "
                               f"{given(column).iloc[i]!r} is not a date ({_DATE_HINT})")
    for i in np.flatnonzero(given("on_date").isna().to_numpy()).tolist():
        problem("on_date", i, f"on_date missing: {header_of['on_date']} is empty")
    conclusions: list[str | None] = []
    milestones: list[int | None] = []
    for i, kind in enumerate(kinds):
        value = given("conclusion").iloc[i]
        verdict = None if value is None or pd.isna(value) else verdicts.get(
            normalise_label(value))
        if kind == "accept" and verdict is None:
            problem("conclusion", i, "conclusion missing or unknown: an acceptance needs 结论 "
                                     "通过 or 不通过")
        conclusions.append(verdict if kind == "accept" else None)
        if kind == "extend" and np.isnat(days["new_value"][i]) and not found[i]:
            problem("new_value", i, "extended_to missing: an extension needs 延期至")
        number = given("milestone").iloc[i]
        seq = None
        if kind == "milestone_done":
            try:
                seq = int(str(number).strip())
            except ValueError:
                problem("milestone", i, "milestone missing: a milestone done needs 节点 (its "
                                        "number, 1 for the first written in 时间节点)")
        milestones.append(seq)
    rejected = np.array([bool(f) for f in found], dtype=bool)
    new_value = [None if np.isnat(d) else str(d) for d in days["new_value"]]
    records = pd.DataFrame({
        "task_id": given("task_id"), "kind": pd.Series(kinds, dtype="str"),
        "on_date": days["on_date"], "unit": given("unit"),
        "conclusion": pd.Series(conclusions, dtype="str"),
        "new_value": pd.Series(new_value, dtype="str"), "reason": given("reason"),
        "milestone": pd.array(milestones, dtype="Int64"),
        "source_file": pd.Series([table.name] * n, dtype="str"),
        "source_row": np.asarray(table.rows, dtype="int64"),
    })
    rejects = [(table.name, int(table.rows[i]), found[i][0][0], found[i][0][1],
                "; ".join(dict.fromkeys(f[2] for f in found[i]))) for i in range(n) if found[i]]
    return (records.loc[~rejected].reset_index(drop=True),
            concat_rejects(pd.DataFrame(rejects, columns=list(REJECT_COLUMNS))))


#: Headers of a file of re-check results (抽查复核结果).
RECHECK_ALIASES: dict[str, tuple[str, ...]] = {
    "issue_id": ("问题编号", "编号", "issue_id"),
    "conclusion": ("复核结果", "复核结论", "结论", "result"),
    "on_date": ("复核日期", "复核时间", "日期", "date"),
    "unit": ("复核单位", "单位", "unit"),
    "reason": ("复核意见", "说明", "情况说明", "note"),
}


def read_recheck_results(path: str | os.PathLike[str], *,
                         settings: InputSettings = InputSettings(),  # noqa: B008
                         timezone: str = DEFAULT_TIMEZONE) -> RecordsFile:
    """Read the results of a spot re-check: 问题编号, 复核结果 (通过 / 不通过), 复核日期,
    复核单位, 复核意见. Every row ends as a record (``issue_id``, ``conclusion``, ``on_date``,
    ``unit``, ``reason``, ``source_file``, ``source_row``) or a reject."""
    tables = read_tables(path, encoding=settings.encoding, max_file_mb=settings.max_file_mb,
                         max_rows=settings.max_rows, max_columns=settings.max_columns)
    parts, reject_parts, rows_in = [], [], 0
    verdicts = {normalise_label(k): v for k, v in CONCLUSIONS.items()}
    for table in tables:
        mapping = match_headers(table.frame.columns, RECHECK_ALIASES)
        header_of = {c: h for h, c in mapping.items()}
        missing = [c for c in ("issue_id", "conclusion", "on_date") if c not in header_of]
        if missing:
            listed = ", ".join(repr(str(h)) for h in table.frame.columns) or "(none)"
            wanted = "; ".join(f"for {c}: {', '.join(RECHECK_ALIASES[c])}" for c in missing)
            raise SchemaError(f"{table.name}: no column gives {' or '.join(missing)} of "
                              f"re-check results. Headers found: {listed}. Headers accepted "
                              f"{wanted}")
        n = len(table.frame)
        text = {c: _text(table.frame[h].reset_index(drop=True)) for h, c in mapping.items()}
        empty = pd.Series([None] * n, dtype="str")
        parsed, bad, outside = parse_datetimes(text["on_date"], timezone=timezone)
        local = parsed.dt.tz_convert(timezone).dt.tz_localize(None)
        days = np.asarray(local.to_numpy(dtype="datetime64[ns]"), dtype="datetime64[D]")
        conclusion = [None if v is None or pd.isna(v) else verdicts.get(normalise_label(v))
                      for v in text["conclusion"].tolist()]
        rows: list[tuple[str, str, str] | None] = []
        for i in range(n):
            if pd.isna(text["issue_id"].iloc[i]):
                rows.append((header_of["issue_id"], "", "issue_id missing: "
                             f"{header_of['issue_id']} is empty"))
            elif conclusion[i] is None:
                rows.append((header_of["conclusion"], str(text["conclusion"].iloc[i] or ""),
                             "conclusion missing or unknown: 复核结果 must be 通过 or 不通过"))
            elif bool(bad.iloc[i]) or bool(outside.iloc[i]) or np.isnat(days[i]):
                rows.append((header_of["on_date"], str(text["on_date"].iloc[i] or ""),
                             f"on_date unreadable: {header_of['on_date']} is not a date "
                             f"({_DATE_HINT})"))
            else:
                rows.append(None)
        rejected = np.array([r is not None for r in rows], dtype=bool)
        records = pd.DataFrame({
            "issue_id": text["issue_id"], "conclusion": pd.Series(conclusion, dtype="str"),
            "on_date": days, "unit": text.get("unit", empty), "reason": text.get("reason", empty),
            "source_file": pd.Series([table.name] * n, dtype="str"),
            "source_row": np.asarray(table.rows, dtype="int64")})
        parts.append(records.loc[~rejected])
        reject_parts.append(pd.DataFrame(
            [(table.name, int(table.rows[i]), *r) for i, r in enumerate(rows) if r is not None],
            columns=list(REJECT_COLUMNS)))
        rows_in += n
    return RecordsFile(records=pd.concat(parts, ignore_index=True),
                       rejects=concat_rejects(*reject_parts), rows_in=rows_in)

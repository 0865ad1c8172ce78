"""What the field teams found, brought back: a filled checklist into the store.

Each filled row of a checklist (``checklist.xlsx`` of the field package, or a CSV with the
same headers, Chinese or English) says what was found at one problem:

=================  =========  ==============================================================
result (检查结果)   code       what it does to the problem
=================  =========  ==============================================================
已整改              rectified  an open problem is closed (closed_at = the check time); a
                               closed one is verified (已销号)
未整改              not_       a closed problem is reopened (status rectifying, closed_at
                   rectified  cleared); an open one is escalated: its severity goes up one
                               step (一般 → 较重 → 严重) and it is set rectifying
反弹                rebound    as 未整改 (reopened, or escalated when still open), and
                               counted as a rebound
未找到              not_found  nothing changes; the result is kept
=================  =========  ==============================================================

The changed problems are imported as one run of the store (files = the checklist), so every
status change lands in the status history under that run like any export's, and the analytical
copy and the derived frames are refreshed; every result, changing or not, is kept in the
store's ``field_results`` under the same run. The next plan counts them
(``field_not_rectified`` and ``field_rebound`` terms of the score, :func:`field_counts`).
Rows with an empty result were not checked and are skipped; a row with an unknown result, an
unknown problem or an unreadable time stops the import before anything is written, with
every such row named.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridwatch.config import LayerSpec
from gridwatch.errors import InputFileError, SchemaError
from gridwatch.planning.package import CHECKLIST_COLUMNS, RESULT_LABELS

if TYPE_CHECKING:
    from gridwatch.store import Store

__all__ = ["RESULTS", "ResultsSummary", "apply_results", "field_counts", "import_results",
           "read_results"]

#: Result codes.
RESULTS: tuple[str, ...] = ("rectified", "not_rectified", "rebound", "not_found")
_ENGLISH = {"team", "day", "stop", "site_id", "issue_id", "result", "remarks", "photos",
            "checked_at", "inspector"}
_SEVERITY_STEPS = ("一般", "较重", "严重")


def _listing(message: str, problems: list[str]) -> str:
    return message + "\n" + "\n".join(f"  - {p}" for p in problems)


def _field_of(header: object) -> str | None:
    text = str(header).strip().lstrip("'")
    if text in CHECKLIST_COLUMNS:
        return CHECKLIST_COLUMNS[text]
    lowered = text.lower().replace(" ", "_")
    return lowered if lowered in _ENGLISH else None


def read_results(path: str | Path, *, timezone: str) -> pd.DataFrame:
    """Read a filled checklist (XLSX or CSV).

    Returns
    -------
    pandas.DataFrame
        The checked rows: ``issue_id``, ``result`` (a code of :data:`RESULTS`), ``remarks``,
        ``photos``, ``inspector``, ``team``, ``day``, ``checked_at`` (UTC; NaT when blank),
        ``source_file``, ``source_row`` (as the spreadsheet numbers it).

    Raises
    ------
    InputFileError
        The file cannot be read.
    SchemaError
        No 问题编号/检查结果 column, or rows with an unknown result or time (all named).
    """
    file = Path(path)
    try:
        if file.suffix.lower() in (".xlsx", ".xlsm"):
            raw = pd.read_excel(file, dtype=object, engine="openpyxl")
        elif file.suffix.lower() == ".csv":
            raw = pd.read_csv(file, dtype=object, encoding="utf-8-sig", keep_default_na=False)
        else:
            raise InputFileError(f"{file}: a checklist is .xlsx or .csv")
    except InputFileError:
        raise
    except Exception as exc:
        raise InputFileError(f"{file}: cannot read the checklist ({exc})") from exc
    fields = {c: _field_of(c) for c in raw.columns}
    frame = raw.loc[:, [c for c, f in fields.items() if f]].rename(
        columns={c: f for c, f in fields.items() if f})
    frame = frame.loc[:, ~frame.columns.duplicated()]
    missing = [name for name, field in (("问题编号", "issue_id"), ("检查结果", "result"))
               if field not in frame]
    if missing:
        found = ", ".join(map(str, raw.columns)) or "(none)"
        raise SchemaError(f"{file}: the checklist has no column {', '.join(missing)}; "
                          f"columns found: {found}")
    frame["source_row"] = np.arange(len(frame)) + 2  # the header is row 1
    text = frame["result"].map(lambda v: "" if pd.isna(v) else str(v).strip().lstrip("'"))
    frame = frame[text != ""].copy()
    text = text[text != ""]
    codes = text.map(lambda v: RESULT_LABELS.get(v, v.lower().replace(" ", "_")))
    problems = [f"row {r}: 检查结果 {v!r} is not one of {', '.join(RESULT_LABELS)} "
                f"({', '.join(RESULTS)})"
                for r, v, c in zip(frame["source_row"], text, codes, strict=True)
                if c not in RESULTS]
    frame["result"] = codes
    ids = frame["issue_id"].map(lambda v: "" if pd.isna(v) else str(v).strip().lstrip("'"))
    problems += [f"row {r}: 问题编号 is empty" for r, v in zip(frame["source_row"], ids,
                                                              strict=True) if not v]
    frame["issue_id"] = ids
    checked = frame["checked_at"] if "checked_at" in frame else pd.Series(
        pd.NA, index=frame.index, dtype=object)
    times = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    for index, value in checked.items():
        if pd.isna(value) or str(value).strip() == "":
            continue
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            problems.append(f"row {frame.at[index, 'source_row']}: 检查时间 {value!r} is not "
                            "a date and time (e.g. 2026-11-20 14:30)")
            continue
        times[index] = (stamp.tz_localize(timezone) if stamp.tzinfo is None else stamp) \
            .tz_convert("UTC")
    frame["checked_at"] = times
    if problems:
        raise SchemaError(_listing(f"{file}: {len(problems)} row(s) cannot be imported "
                                   "(nothing was imported):", problems))
    for column in ("remarks", "photos", "inspector"):
        values = frame[column] if column in frame else pd.Series(pd.NA, index=frame.index)
        frame[column] = pd.Series(values.map(lambda v: None if pd.isna(v) or str(v) == ""
                                             else str(v).lstrip("'")).to_numpy(),
                                  index=frame.index, dtype="str")
    for column in ("team", "day"):
        values = frame[column] if column in frame else pd.Series(pd.NA, index=frame.index)
        frame[column] = pd.to_numeric(values, errors="coerce").astype("Int64")
    frame["source_file"] = file.name
    return frame[["issue_id", "result", "remarks", "photos", "inspector", "team", "day",
                  "checked_at", "source_file", "source_row"]].reset_index(drop=True)


def apply_results(results: pd.DataFrame, issues: pd.DataFrame, *,
                  now: dt.datetime | pd.Timestamp) -> tuple[pd.DataFrame, pd.Series]:
    """The problems as the results leave them (see the module docstring).

    Parameters
    ----------
    results
        :func:`read_results`; a problem checked twice takes its last row.
    issues
        The stored problems (``Store.issues()`` or the context's).
    now
        The time used when a rectified row gives no check time.

    Returns
    -------
    (changed, action)
        ``changed``: the rows of ``issues`` the results change, changed (same columns);
        ``action``: per result row, what it did (``closed``, ``verified``, ``reopened``,
        ``escalated``, ``none``).

    Raises
    ------
    SchemaError
        Results naming problems the store does not have (every row named).
    """
    from gridwatch.schema import CLOSED_STATUSES

    position = pd.Series(np.arange(len(issues)), index=issues["issue_id"].astype("str"))
    unknown = ~results["issue_id"].isin(position.index)
    if unknown.any():
        rows = [f"row {r}: 问题编号 {i!r} is not in the store"
                for r, i in zip(results.loc[unknown, "source_row"],
                                results.loc[unknown, "issue_id"], strict=True)]
        raise SchemaError(_listing(f"{len(rows)} checked problem(s) are unknown (nothing was "
                                   "imported):", rows))
    stamp = pd.Timestamp(now)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    changed: dict[str, dict[str, Any]] = {}
    actions = []
    for row in results.itertuples(index=False):
        current = changed.get(row.issue_id) or \
            issues.iloc[int(position[row.issue_id])].to_dict()
        closed = current.get("status") in CLOSED_STATUSES
        when = row.checked_at if pd.notna(row.checked_at) else stamp
        action = "none"
        if row.result == "rectified":
            if closed:
                if current.get("status") != "verified":
                    current = {**current, "status": "verified"}
                    action = "verified"
            else:
                current = {**current, "status": "closed", "closed_at": when}
                action = "closed"
        elif row.result in ("not_rectified", "rebound"):
            if closed:
                current = {**current, "status": "rectifying", "closed_at": pd.NaT}
                action = "reopened"
            else:
                severity = current.get("severity")
                step = _SEVERITY_STEPS.index(severity) if severity in _SEVERITY_STEPS else 0
                current = {**current, "status": "rectifying",
                           "severity": _SEVERITY_STEPS[min(step + 1, 2)]}
                action = "escalated"
        actions.append(action)
        if action != "none":
            changed[row.issue_id] = current
    frame = pd.DataFrame(list(changed.values()), columns=issues.columns)
    for column in issues.columns:
        if str(issues[column].dtype).startswith("datetime64"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame, pd.Series(actions, index=results.index, dtype="str")


@dataclass(frozen=True)
class ResultsSummary:
    """What an import of field results did."""

    run_id: int
    rows: int
    results: dict[str, int]
    actions: dict[str, int]
    status_changes: int


def import_results(path: str | Path, *, store: Store,
                   layers: Sequence[LayerSpec] | Sequence[tuple[str, str]],
                   timezone: str, issues: pd.DataFrame | None = None,
                   now: dt.datetime | None = None) -> ResultsSummary:
    """Read a filled checklist and import it into the store as one run.

    Parameters
    ----------
    path
        The checklist.
    store
        The open store.
    layers
        The project's layers (``config.layers``), in order.
    timezone
        The territory's time zone (check times without an offset are in it).
    issues
        The stored problems when at hand (read from the store otherwise).
    now
        The run's time (default now): the observed time of the import.

    Returns
    -------
    ResultsSummary
    """
    results = read_results(path, timezone=timezone)
    names = [s.name if isinstance(s, LayerSpec) else s[0] for s in layers]
    if issues is None:
        issues = store.issues(layers=names)
    stamp = pd.Timestamp(now or dt.datetime.now(dt.UTC))
    changed, actions = apply_results(results, issues, now=stamp)
    counts = store.import_records(changed, layers=layers, files=[Path(path).name],
                                  rows_in=len(results), rejected=0,
                                  observed_at=stamp.to_pydatetime())
    kept = results.assign(action=actions)
    store.add_field_results(kept, run_id=counts.run_id)
    return ResultsSummary(
        run_id=counts.run_id, rows=len(results),
        results={r: int((results["result"] == r).sum()) for r in RESULTS},
        actions={a: int((actions == a).sum()) for a in
                 ("closed", "verified", "reopened", "escalated", "none")},
        status_changes=counts.status_changes)


def field_counts(results: pd.DataFrame) -> pd.DataFrame:
    """Per issue_id, how many field checks found it ``not_rectified`` and how many
    ``rebound`` (for the next plan's score)."""
    if results.empty:
        return pd.DataFrame(columns=["not_rectified", "rebound"], dtype="int64")
    table = pd.crosstab(results["issue_id"].astype("str"), results["result"].astype("str"))
    return table.reindex(columns=["not_rectified", "rebound"], fill_value=0).astype("int64")

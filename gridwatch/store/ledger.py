"""The rectification ledger in the store: tasks, milestones, events and the ledger's runs.

A ledger import (:func:`import_ledger`) is one transaction, like a problem import: tasks are
upserted by ``task_id`` (a content hash says whether a task is new, changed or unchanged), the
milestones of every task written are replaced, each change of a task's deadline, unit or
leader becomes a ``change`` event in ``ledger_events``, and the run is recorded in
``ledger_runs`` — also when it fails, on its own, leaving the ledger as it was. Acceptances,
extensions and milestones marked done are events too (:func:`record_event`); nothing is
overwritten, so the ledger's history is complete.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from gridwatch.errors import StoreError
from gridwatch.store.transactional import Store

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_KINDS",
    "LETTER_COLUMNS",
    "TRACKED_FIELDS",
    "LedgerCounts",
    "RecordCounts",
    "current_deadlines",
    "import_ledger",
    "import_ledger_records",
    "issue_letters",
    "last_extension",
    "ledger_events",
    "ledger_milestones",
    "ledger_runs",
    "ledger_tasks",
    "letter_register",
    "problem_deadline",
    "problem_extensions",
    "record_event",
    "record_problem_events",
    "record_reply",
]

TASK_COLUMNS: tuple[str, ...] = (
    "task_id", "round", "item_id", "item", "task", "target", "measures", "task_type",
    "deadline", "leader", "unit", "person", "rectified_on",
)
#: Fields whose every change is kept as a ``change`` event.
TRACKED_FIELDS: tuple[str, ...] = ("deadline", "unit", "leader")
EVENT_KINDS: tuple[str, ...] = ("accept", "extend", "milestone_done", "change", "recheck")
EVENT_COLUMNS: tuple[str, ...] = (
    "id", "subject", "subject_id", "kind", "on_date", "field", "old_value", "new_value",
    "conclusion", "unit", "reason", "milestone", "ledger_run_id", "recorded_at",
)
_DATE_COLUMNS = ("deadline", "rectified_on")


@dataclass(frozen=True)
class LedgerCounts:
    """What one ledger import did."""

    run_id: int
    inserted: int
    updated: int
    unchanged: int
    changes: int


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _day(value: Any) -> dt.date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def _text(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    return str(value).replace("\x00", "")


def _stored_form(tasks: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for record in tasks.loc[:, list(TASK_COLUMNS)].to_dict(orient="records"):
        rows.append({c: _day(v) if c in _DATE_COLUMNS else _text(v) for c, v in record.items()})
    return rows


def _hash(row: dict[str, Any], milestones: list[tuple[Any, ...]]) -> str:
    import hashlib

    text = "\x1f".join("" if row[c] is None else str(row[c]) for c in TASK_COLUMNS)
    text += "\x1e" + "\x1e".join("\x1f".join(map(str, m)) for m in milestones)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def import_ledger(store: Store, tasks: pd.DataFrame, milestones: pd.DataFrame, *, file: str,
                  rows_in: int, rejected: int) -> LedgerCounts:
    """Store a ledger's tasks and milestones in one transaction, and record the run.

    Parameters
    ----------
    store
        The store (its ledger tables are created when it is opened).
    tasks, milestones
        :attr:`gridwatch.ledger.read.LedgerFile.tasks` / ``.milestones``.
    file, rows_in, rejected
        What the run read, as recorded in ``ledger_runs``.

    Returns
    -------
    LedgerCounts

    Raises
    ------
    StoreError
        When the transaction fails; it is rolled back and the failed run recorded.
    """
    t_runs = store.table("ledger_runs")
    run = {"started_at": _now(), "file": file, "rows_in": int(rows_in),
           "accepted": len(tasks), "rejected": int(rejected)}
    try:
        with store.write() as conn:
            counts = _import(conn, store, tasks, milestones, run)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        try:
            with store.write() as conn:
                conn.execute(t_runs.insert().values(**run, finished_at=_now(), ok=False,
                                                    message=message[:500]))
        except SQLAlchemyError:
            pass
        if isinstance(exc, StoreError):
            raise
        raise StoreError(f"ledger import of {file!r} failed and was rolled back: "
                         f"{message}") from exc
    return counts


def _import(conn: sa.Connection, store: Store, tasks: pd.DataFrame, milestones: pd.DataFrame,
            run: dict[str, Any]) -> LedgerCounts:
    t_runs, t_tasks = store.table("ledger_runs"), store.table("ledger_tasks")
    t_ms, t_events = store.table("ledger_milestones"), store.table("ledger_events")
    run_id = int(conn.execute(t_runs.insert().values(**run, ok=False, message="running")
                              .returning(t_runs.c.run_id)).scalar_one())
    rows = _stored_form(tasks)
    per_task: dict[str, list[tuple[Any, ...]]] = {}
    for m in milestones.itertuples(index=False):
        per_task.setdefault(str(m.task_id), []).append((int(m.seq), _day(m.due), _text(m.text)))
    ids = [r["task_id"] for r in rows]
    old: dict[str, Any] = {}
    for chunk in range(0, len(ids), 500):
        for found in conn.execute(sa.select(t_tasks).where(
                t_tasks.c.task_id.in_(ids[chunk:chunk + 500]))).mappings():
            old[found["task_id"]] = dict(found)
    inserted = updated = unchanged = changes = 0
    now = _now()
    today = dt.date.today()
    for row in rows:
        task_ms = sorted(per_task.get(row["task_id"], []))
        content = _hash(row, task_ms)
        before = old.get(row["task_id"])
        values = {**row, "content_hash": content, "last_run_id": run_id}
        if before is None:
            conn.execute(t_tasks.insert().values(**values))
            inserted += 1
        elif before["content_hash"] == content:
            unchanged += 1
            continue
        else:
            conn.execute(t_tasks.update().where(t_tasks.c.task_id == row["task_id"])
                         .values(**values))
            updated += 1
            for field in TRACKED_FIELDS:
                was, now_value = before[field], row[field]
                if was != now_value:
                    changes += 1
                    conn.execute(t_events.insert().values(
                        subject="task", subject_id=row["task_id"], kind="change",
                        on_date=today, field=field, old_value=_shown(was),
                        new_value=_shown(now_value), ledger_run_id=run_id, recorded_at=now))
        conn.execute(t_ms.delete().where(t_ms.c.task_id == row["task_id"]))
        if task_ms:
            conn.execute(t_ms.insert(), [{"task_id": row["task_id"], "seq": seq, "due": due,
                                          "text": text} for seq, due, text in task_ms])
    conn.execute(t_runs.update().where(t_runs.c.run_id == run_id).values(
        finished_at=_now(), ok=True, message=None, inserted=inserted, updated=updated,
        unchanged=unchanged))
    return LedgerCounts(run_id=run_id, inserted=inserted, updated=updated, unchanged=unchanged,
                        changes=changes)


def _shown(value: Any) -> str | None:
    return None if value is None else str(value)


def record_event(store: Store, *, subject: str, subject_id: str, kind: str,
                 on_date: dt.date, **fields: Any) -> int:
    """Record one acceptance, extension, milestone done or change; return its id.

    Parameters
    ----------
    subject
        ``"task"`` (a ledger task) or ``"issue"`` (a problem).
    subject_id
        Its task_id or issue_id; a task must be in the ledger.
    kind
        One of :data:`EVENT_KINDS`.
    on_date
        The day it took effect (acceptance day, day the extension was approved, …).
    **fields
        Other columns of ``ledger_events``: field, old_value, new_value, conclusion, unit,
        reason, milestone.

    Raises
    ------
    StoreError
        For an unknown kind, subject or task.
    """
    if kind not in EVENT_KINDS:
        raise StoreError(f"unknown ledger event kind {kind!r}; allowed: {', '.join(EVENT_KINDS)}")
    if subject not in ("task", "issue"):
        raise StoreError(f"subject must be 'task' or 'issue', got {subject!r}")
    unknown = set(fields) - set(EVENT_COLUMNS)
    if unknown:
        raise StoreError(f"unknown ledger event fields: {', '.join(sorted(unknown))}")
    t_events = store.table("ledger_events")
    with store.write() as conn:
        table = store.table("ledger_tasks" if subject == "task" else "issues")
        key = table.c.task_id if subject == "task" else table.c.issue_id
        if conn.execute(sa.select(key).where(key == subject_id)).first() is None:
            what = "task" if subject == "task" else "problem"
            raise StoreError(f"no {what} {subject_id!r} in the store {store!r}")
        event_id = conn.execute(t_events.insert().values(
            subject=subject, subject_id=subject_id, kind=kind, on_date=on_date,
            recorded_at=_now(), **fields).returning(t_events.c.id)).scalar_one()
    return int(event_id)


def current_deadlines(store: Store) -> dict[str, str | None]:
    """Each task's deadline after the extensions recorded so far (ISO day, None: none), for the
    ``old_value`` of the next extension."""
    tasks = ledger_tasks(store)
    out = {t: None if pd.isna(d) else str(d)[:10]
           for t, d in zip(tasks["task_id"], tasks["deadline"], strict=True)}
    events = ledger_events(store)
    ext = events[(events["subject"] == "task") & (events["kind"] == "extend")]
    ext = ext.sort_values(["on_date", "id"], kind="stable")
    for task_id, new in zip(ext["subject_id"], ext["new_value"], strict=True):
        out[task_id] = None if pd.isna(new) else str(new)
    return out


def problem_extensions(store: Store) -> pd.DataFrame:
    """The deadline extensions of problems (:data:`gridwatch.supervision.extensions.
    EXTENSION_COLUMNS`: issue_id, approved_on, new_deadline as local days, id), in the order
    recorded: one query, empty in a store without any."""
    from gridwatch.supervision.extensions import empty_extensions

    table = store.table("ledger_events")
    query = (sa.select(table.c.subject_id, table.c.on_date, table.c.new_value, table.c.id)
             .where(table.c.subject == "issue", table.c.kind == "extend")
             .order_by(table.c.id))
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        return empty_extensions()
    frame = pd.DataFrame(rows, columns=["issue_id", "approved_on", "new_deadline", "id"])
    frame["issue_id"] = frame["issue_id"].astype("str")
    frame["id"] = frame["id"].astype("int64")
    frame = _days(frame, "approved_on", "new_deadline")
    return frame.dropna(subset=["approved_on", "new_deadline"]).reset_index(drop=True)


def last_extension(store: Store) -> int:
    """The id of the last extension of a problem recorded (0: none): with the store's last
    run, the version of every answer that uses deadlines (the app keys its context on both)."""
    table = store.table("ledger_events")
    with store.engine.connect() as conn:
        found = conn.execute(sa.select(sa.func.max(table.c.id)).where(
            table.c.subject == "issue", table.c.kind == "extend")).scalar()
    return int(found or 0)


def problem_deadline(store: Store, issue_id: str, *, timezone: str) -> str | None:
    """A problem's deadline after the extensions recorded so far (ISO local day; None: it has
    none in the store), for the ``old_value`` of its next extension.

    Raises
    ------
    StoreError
        When the store has no such problem.
    """
    extensions = problem_extensions(store)
    mine = extensions[extensions["issue_id"] == issue_id]
    issues = store.table("issues")
    with store.engine.connect() as conn:
        found = conn.execute(sa.select(issues.c.deadline)
                             .where(issues.c.issue_id == issue_id)).first()
    if found is None:
        raise StoreError(f"no problem {issue_id!r} in the store {store!r}")
    if len(mine):
        last = mine.sort_values(["approved_on", "id"], kind="stable").iloc[-1]
        return str(pd.Timestamp(last["new_deadline"]).date())
    if found[0] is None:
        return None
    stamp = pd.Timestamp(found[0])
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return str(stamp.tz_convert(timezone).date())


def _read(store: Store, name: str, columns: tuple[str, ...] | None = None,
          order: tuple[str, ...] = ()) -> pd.DataFrame:
    table = store.table(name)
    query = sa.select(table)
    if order:
        query = query.order_by(*(table.c[c] for c in order))
    with store.engine.connect() as conn:
        result = conn.execute(query)
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    if columns is not None:
        frame = frame.loc[:, list(columns)]
    return frame


def _days(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        values = pd.to_datetime(frame[column].astype(object), errors="coerce")
        frame[column] = np.asarray(values.to_numpy(dtype="datetime64[ns]"),
                                   dtype="datetime64[D]")
    return frame


def _texts(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = frame[column].astype("str")
    return frame


def ledger_tasks(store: Store) -> pd.DataFrame:
    """The ledger's tasks: :data:`TASK_COLUMNS`, dates as ``datetime64[D]`` local days."""
    frame = _read(store, "ledger_tasks", TASK_COLUMNS, ("round", "item_id", "task_id"))
    return _texts(_days(frame, *_DATE_COLUMNS),
                  *(c for c in TASK_COLUMNS if c not in _DATE_COLUMNS))


def ledger_milestones(store: Store) -> pd.DataFrame:
    """Milestones: task_id, seq, due (local day), text."""
    frame = _read(store, "ledger_milestones", ("task_id", "seq", "due", "text"),
                  ("task_id", "seq"))
    frame["seq"] = frame["seq"].astype("int64")
    return _texts(_days(frame, "due"), "task_id", "text")


def ledger_events(store: Store) -> pd.DataFrame:
    """Every ledger event in the order recorded: :data:`EVENT_COLUMNS`."""
    frame = _read(store, "ledger_events", EVENT_COLUMNS, ("id",))
    frame["id"] = frame["id"].astype("int64")
    frame["milestone"] = pd.to_numeric(frame["milestone"]).astype("Int64")
    frame["ledger_run_id"] = pd.to_numeric(frame["ledger_run_id"]).astype("Int64")
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"].astype(object), utc=True)
    return _texts(_days(frame, "on_date"), "subject", "subject_id", "kind", "field",
                  "old_value", "new_value", "conclusion", "unit", "reason")


def ledger_runs(store: Store) -> pd.DataFrame:
    """The ledger's import runs, oldest first."""
    return _read(store, "ledger_runs", order=("run_id",))


@dataclass(frozen=True)
class RecordCounts:
    """What one import of a register of records did."""

    run_id: int
    inserted: int
    unchanged: int
    #: Rows whose task (or milestone) is not in the ledger, as rejects.
    rejects: pd.DataFrame


def import_ledger_records(store: Store, records: pd.DataFrame, *, file: str, rows_in: int,
                          rejected: int) -> RecordCounts:
    """Store a register of acceptances, extensions and milestones done in one transaction.

    A record identical to one stored (same task, kind, day, conclusion, new deadline and
    milestone) is not stored twice, so a register can be imported again as it grows. A record
    of a task (or a milestone) the ledger does not have is rejected.

    Parameters
    ----------
    records
        :attr:`gridwatch.ledger.read.RecordsFile.records`.
    file, rows_in, rejected
        What the run read (``rejected``: rows the reader rejected).
    """
    from gridwatch.schema import REJECT_COLUMNS, concat_rejects

    t_runs, t_events = store.table("ledger_runs"), store.table("ledger_events")
    run = {"started_at": _now(), "file": file, "rows_in": int(rows_in),
           "rejected": int(rejected)}
    tasks = set(ledger_tasks(store)["task_id"])
    ms = ledger_milestones(store)
    known_ms = set(zip(ms["task_id"], ms["seq"].astype(int), strict=True))
    problems = []
    keep = np.ones(len(records), dtype=bool)
    for i, row in enumerate(records.itertuples(index=False)):
        if row.task_id not in tasks:
            problems.append((row.source_file, int(row.source_row), "整改任务编号", row.task_id,
                             f"unknown task: {row.task_id!r} is not in the ledger (import "
                             "the ledger first)"))
            keep[i] = False
        elif row.kind == "milestone_done" and (row.task_id, int(row.milestone)) not in known_ms:
            problems.append((row.source_file, int(row.source_row), "节点", str(row.milestone),
                             f"unknown milestone: task {row.task_id!r} has no milestone "
                             f"{int(row.milestone)}"))
            keep[i] = False
    rejects = concat_rejects(pd.DataFrame(problems, columns=list(REJECT_COLUMNS)))
    chosen = records.loc[keep]
    existing = ledger_events(store)

    def key(kind: Any, task: Any, day: Any, conclusion: Any, new: Any, seq: Any) -> tuple:
        return (str(task), str(kind), str(pd.Timestamp(day).date()), _shown(_text(conclusion)),
                _shown(_text(new)), None if seq is None or pd.isna(seq) else int(seq))

    seen = {key(e.kind, e.subject_id, e.on_date, e.conclusion, e.new_value, e.milestone)
            for e in existing.itertuples(index=False) if e.subject == "task"}
    deadlines = current_deadlines(store)
    inserted = unchanged = 0
    try:
        with store.write() as conn:
            run_id = int(conn.execute(t_runs.insert().values(
                **run, accepted=int(keep.sum()), ok=False, message="running")
                .returning(t_runs.c.run_id)).scalar_one())
            now = _now()
            for row in chosen.itertuples(index=False):
                k = key(row.kind, row.task_id, row.on_date, row.conclusion, row.new_value,
                        row.milestone)
                if k in seen:
                    unchanged += 1
                    continue
                seen.add(k)
                old = None
                if row.kind == "extend":
                    old = deadlines.get(row.task_id)
                    deadlines[row.task_id] = _text(row.new_value)
                conn.execute(t_events.insert().values(
                    subject="task", subject_id=row.task_id, kind=row.kind,
                    on_date=_day(row.on_date), conclusion=_text(row.conclusion),
                    unit=_text(row.unit), reason=_text(row.reason), old_value=old,
                    new_value=_text(row.new_value),
                    milestone=None if pd.isna(row.milestone) else int(row.milestone),
                    ledger_run_id=run_id, recorded_at=now))
                inserted += 1
            conn.execute(t_runs.update().where(t_runs.c.run_id == run_id).values(
                finished_at=_now(), ok=True, message=None, inserted=inserted,
                unchanged=unchanged, rejected=int(rejected) + len(rejects)))
    except SQLAlchemyError as exc:
        raise StoreError(f"register import of {file!r} failed and was rolled back: "
                         f"{exc}") from exc
    return RecordCounts(run_id=run_id, inserted=inserted, unchanged=unchanged, rejects=rejects)


# --- the register of letters (一函两单) --------------------------------------------------------

LETTER_COLUMNS: tuple[str, ...] = (
    "letter_no", "kind", "year", "seq", "unit", "issued_on", "reply_due", "replied_on",
    "reply", "escalated_from", "escalated_to",
)


def letter_register(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The letters issued (:data:`LETTER_COLUMNS`, by kind, year and number) and the problems
    each names (letter_no, issue_id, deadline, days_overdue)."""
    letters = _read(store, "letters", LETTER_COLUMNS, ("kind", "year", "seq"))
    letters = _days(letters, "issued_on", "reply_due", "replied_on")
    for column in ("year", "seq"):
        letters[column] = letters[column].astype("int64")
    letters = _texts(letters, "letter_no", "kind", "unit", "reply", "escalated_from",
                     "escalated_to")
    items = _read(store, "letter_items", ("letter_no", "issue_id", "deadline", "days_overdue"),
                  ("letter_no", "issue_id"))
    items = _texts(_days(items, "deadline"), "letter_no", "issue_id")
    items["days_overdue"] = pd.to_numeric(items["days_overdue"]).astype("Int64")
    return letters, items


def issue_letters(store: Store, letters: pd.DataFrame, items: pd.DataFrame,
                  escalated: dict[str, str]) -> None:
    """Record letters planned by :func:`gridwatch.ledger.letters.plan_letters` in one
    transaction, and mark the letters they escalate."""
    t_letters, t_items = store.table("letters"), store.table("letter_items")
    now = _now()
    with store.write() as conn:
        if len(letters):
            conn.execute(t_letters.insert(), [
                {"letter_no": r.letter_no, "kind": r.kind, "year": int(r.year),
                 "seq": int(r.seq), "unit": _text(r.unit), "issued_on": _day(r.issued_on),
                 "reply_due": _day(r.reply_due), "escalated_from": _text(r.escalated_from),
                 "recorded_at": now} for r in letters.itertuples(index=False)])
        if len(items):
            conn.execute(t_items.insert(), [
                {"letter_no": r.letter_no, "issue_id": r.issue_id, "deadline": _day(r.deadline),
                 "days_overdue": None if pd.isna(r.days_overdue) else int(r.days_overdue)}
                for r in items.itertuples(index=False)])
        for old, new in escalated.items():
            conn.execute(t_letters.update().where(t_letters.c.letter_no == old)
                         .values(escalated_to=new))


def record_reply(store: Store, letter_no: str, *, on: dt.date, reply: str | None = None) -> None:
    """Record the reply to a letter.

    Raises
    ------
    StoreError
        For a letter not in the register (naming a few that are), or one replied to already.
    """
    table = store.table("letters")
    with store.write() as conn:
        found = conn.execute(sa.select(table.c.replied_on).where(
            table.c.letter_no == letter_no)).first()
        if found is None:
            some = conn.execute(sa.select(table.c.letter_no).limit(3)).scalars().all()
            raise StoreError(f"no letter {letter_no!r} in the register"
                             + (f" (letters are numbered like {', '.join(some)})" if some
                                else " (no letter issued yet)"))
        if found[0] is not None:
            raise StoreError(f"letter {letter_no!r} was answered on {found[0]} already")
        conn.execute(table.update().where(table.c.letter_no == letter_no)
                     .values(replied_on=on, reply=reply))


def record_problem_events(store: Store, records: pd.DataFrame, *, kind: str,
                          ) -> tuple[int, pd.DataFrame]:
    """Record acceptances or re-checks of problems in one transaction.

    Parameters
    ----------
    records
        ``issue_id``, ``conclusion``, ``on_date``, ``unit``, ``reason``, ``source_file``,
        ``source_row``.
    kind
        ``"accept"`` or ``"recheck"``.

    Returns
    -------
    inserted : int
    rejects : pandas.DataFrame
        Rows naming a problem the store does not have.
    """
    from gridwatch.schema import REJECT_COLUMNS, concat_rejects

    if kind not in ("accept", "recheck"):
        raise StoreError(f"kind must be 'accept' or 'recheck', got {kind!r}")
    issues, t_events = store.table("issues"), store.table("ledger_events")
    ids = records["issue_id"].astype(str).tolist()
    known: set[str] = set()
    with store.engine.connect() as conn:
        for start in range(0, len(ids), 1000):
            known.update(conn.execute(sa.select(issues.c.issue_id).where(
                issues.c.issue_id.in_(ids[start:start + 1000]))).scalars())
    ok = records["issue_id"].isin(known).to_numpy()
    rejects = concat_rejects(pd.DataFrame(
        [(r.source_file, int(r.source_row), "问题编号", r.issue_id,
          f"unknown problem: {r.issue_id!r} is not in the store")
         for r in records.loc[~ok].itertuples(index=False)], columns=list(REJECT_COLUMNS)))
    now = _now()
    rows = [{"subject": "issue", "subject_id": r.issue_id, "kind": kind,
             "on_date": _day(r.on_date), "conclusion": r.conclusion, "unit": _text(r.unit),
             "reason": _text(r.reason), "recorded_at": now}
            for r in records.loc[ok].itertuples(index=False)]
    if rows:
        with store.write() as conn:
            conn.execute(t_events.insert(), rows)
    return len(rows), rejects

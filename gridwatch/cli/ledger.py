"""``gridwatch ledger …``, ``gridwatch progress``, ``gridwatch letters …`` and ``gridwatch
recheck …``: the rectification ledger (整改台账), the register of 一函两单 and spot re-checks.

Thin over :mod:`gridwatch.ledger` (reading, progress, letters, re-checks) and
:mod:`gridwatch.store.ledger` (keeping tasks, acceptances, extensions, milestones done, letters).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gridwatch.cli._options import (
    check_output_path,
    config_option,
    db_option,
    echo_json,
    handle_errors,
    json_option,
    open_config,
    out_option,
    resolve_db_url,
    user_option,
)
from gridwatch.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from gridwatch.access.scope import Scope
    from gridwatch.config import Config
    from gridwatch.store.transactional import Store
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["ledger", "letters", "progress", "recheck"]

_CONCLUSIONS = {"pass": "pass", "通过": "pass", "验收通过": "pass", "fail": "fail",
                "不通过": "fail", "验收不通过": "fail"}


#: The scope of the user a scoped command runs for (``None``: the whole territory).
_SCOPE: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("ledger_scope",
                                                                     default=None)


def _ledger_user(action: str, *, scoped: bool = False,
                 ) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``--as-user`` for a ledger command: the user's role must allow ``action`` (read, or
    import for what changes the store). The ledger is kept per task, not per area: a user with
    a scope is refused the command unless ``scoped`` (progress, backlog), which then sees the
    tasks its own problems hang under (:func:`gridwatch.ledger.scope.ledger_in_scope`) and its
    own problems; without the option the command runs as the local administrator, as every
    command does."""
    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(command)
        def run(*args: Any, as_user: str | None = None, **kwargs: Any) -> None:
            scope = None
            if as_user:
                from gridwatch.cli._options import acting_user
                from gridwatch.errors import AccessError

                config = _project(kwargs.get("config_path"))
                user = acting_user(as_user, resolve_db_url(kwargs.get("db_url"), config),
                                   action=action)
                if not user.scope.whole:
                    if not scoped:
                        raise AccessError(
                            f"user {user.name!r} has a scope ({user.scope}); this command of "
                            "the rectification ledger is not divided by area yet: it is for "
                            "users of the whole territory (progress and ledger backlog show "
                            "the tasks of your own problems)")
                    scope = user.scope
            token = _SCOPE.set(scope)
            try:
                command(*args, **kwargs)
            finally:
                _SCOPE.reset(token)
        return user_option(run)
    return decorate


def _project(config_path: Path | None) -> Config | None:
    has_config = config_path is not None or Path("gridwatch.toml").is_file()
    return open_config(config_path) if has_config else None


def _store(config: Config | None, db_url: str | None) -> Store:
    from gridwatch.store.transactional import Store

    return Store(resolve_db_url(db_url, config))


def _reading(config: Config | None) -> dict[str, Any]:
    """How files are read: ``[input]`` (encoding, limits) and the territory's time zone."""
    from gridwatch.config import InputSettings
    from gridwatch.schema import DEFAULT_TIMEZONE

    if config is None:
        return {"settings": InputSettings(), "timezone": DEFAULT_TIMEZONE}
    return {"settings": config.input, "timezone": config.territory.timezone}


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date; write YYYY-MM-DD") from None


def _require_acceptance(config: Config | None) -> bool:
    settings = config.settings.ledger if config is not None else None
    return True if settings is None else settings.require_acceptance


def _days_text(frame: pd.DataFrame) -> pd.DataFrame:
    from gridwatch.ledger.progress import dates_as_text

    return dates_as_text(frame)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    frame = _days_text(frame)
    clean = frame.astype(object).where(frame.notna(), None)
    return [dict(row) for row in clean.to_dict(orient="records")]


@click.group()
def ledger() -> None:
    """The rectification ledger (整改台账): import, records, accept, extend, milestones,
    history, backlog."""


@ledger.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the rejected rows here (CSV, UTF-8 with BOM).")
@json_option
@config_option
@db_option
@handle_errors
@_ledger_user("import")
def import_(file: Path, rejects_path: Path | None, as_json: bool, config_path: Path | None,
            db_url: str | None) -> None:
    """Read a ledger of rounds, feedback items and tasks (CSV/XLSX, Chinese headers) and store
    it; every row ends as a task or a reject."""
    from gridwatch.ledger.load import import_ledger_file
    from gridwatch.output.files import write_table

    config = _project(config_path)
    if rejects_path is not None:
        check_output_path(rejects_path, option="--rejects", inputs=[file, config_path])
    with _store(config, db_url) as store:
        result = import_ledger_file(store, file, **_reading(config))
    if rejects_path is not None:
        write_table(result.rejects, rejects_path)
    payload = {"rows_in": result.rows_in, "accepted": result.accepted,
               "rejected": result.rejected, "inserted": result.inserted,
               "updated": result.updated, "unchanged": result.unchanged,
               "changes": result.changes, "run_id": result.run_id,
               "reject_reasons": result.rejects["reason"].value_counts().to_dict()}
    if as_json:
        echo_json(payload)
        return
    click.echo(f"{file}: {result.rows_in} rows = {result.accepted} tasks + {result.rejected} "
               f"rejected; {result.inserted} new, {result.updated} changed, "
               f"{result.unchanged} unchanged ({result.changes} changes of deadline, unit or "
               "leader kept in the history)")
    for row in result.rejects.head(20).itertuples(index=False):
        click.echo(f"  row {row.row}: {row.reason}")
    if result.rejected > 20:
        click.echo(f"  … and {result.rejected - 20} more (--rejects FILE writes them all)")


@ledger.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the rejected rows here (CSV, UTF-8 with BOM).")
@json_option
@config_option
@db_option
@handle_errors
@_ledger_user("import")
def records(file: Path, rejects_path: Path | None, as_json: bool, config_path: Path | None,
            db_url: str | None) -> None:
    """Import a register of acceptances (验收), extensions (延期) and milestones done (节点完成);
    records already stored are not stored twice."""
    from gridwatch.ledger.load import import_records_file
    from gridwatch.output.files import write_table

    config = _project(config_path)
    if rejects_path is not None:
        check_output_path(rejects_path, option="--rejects", inputs=[file, config_path])
    with _store(config, db_url) as store:
        result = import_records_file(store, file, **_reading(config))
    rejects = result.rejects
    if rejects_path is not None:
        write_table(rejects, rejects_path)
    if as_json:
        echo_json({"rows_in": result.rows_in, "accepted": result.accepted,
                   "rejected": result.rejected, "inserted": result.inserted,
                   "unchanged": result.unchanged,
                   "reject_reasons": rejects["reason"].value_counts().to_dict()})
        return
    click.echo(f"{file}: {result.rows_in} rows = {result.accepted} records + {result.rejected} "
               f"rejected; {result.inserted} new, {result.unchanged} already stored")
    for row in rejects.head(20).itertuples(index=False):
        click.echo(f"  row {row.row}: {row.reason}")


@ledger.command()
@click.argument("task_id")
@click.option("--on", "on", required=True, help="Day of the acceptance, YYYY-MM-DD.")
@click.option("--unit", required=True, help="Unit that accepted (验收单位).")
@click.option("--conclusion", required=True,
              type=click.Choice(sorted(_CONCLUSIONS), case_sensitive=False),
              help="pass (验收通过) or fail (验收不通过).")
@click.option("--note", default=None, help="What was found.")
@click.option("--problem", is_flag=True,
              help="TASK_ID is a problem's issue_id: accept a single problem (its 销号).")
@config_option
@db_option
@handle_errors
@_ledger_user("import")
def accept(task_id: str, on: str, unit: str, conclusion: str, note: str | None, problem: bool,
           config_path: Path | None, db_url: str | None) -> None:
    """Record the acceptance (验收) of a task (or with --problem of a problem): it is closed
    off only when accepted."""
    from gridwatch.store.ledger import record_event

    day = _date(on, "--on")
    verdict = _CONCLUSIONS[conclusion.lower()]
    with _store(_project(config_path), db_url) as store:
        record_event(store, subject="issue" if problem else "task", subject_id=task_id,
                     kind="accept", on_date=day, conclusion=verdict, unit=unit, reason=note)
    click.echo(f"{task_id}: acceptance {verdict} on {day} by {unit} recorded")


@ledger.command()
@click.argument("task_id")
@click.option("--to", "to", required=True, help="New deadline (延期至), YYYY-MM-DD.")
@click.option("--reason", required=True, help="Why (延期原因).")
@click.option("--approved-by", "approved_by", required=True, help="Approving unit (批准单位).")
@click.option("--on", "on", required=True, help="Day the extension was approved, YYYY-MM-DD.")
@click.option("--problem", is_flag=True,
              help="TASK_ID is a problem's issue_id: extend a single problem's deadline (its "
                   "red/yellow/green code uses it from the day of approval on).")
@config_option
@db_option
@handle_errors
@_ledger_user("import")
def extend(task_id: str, to: str, reason: str, approved_by: str, on: str, problem: bool,
           config_path: Path | None, db_url: str | None) -> None:
    """Extend a task's (or with --problem a problem's) deadline (延期): it counts from the day
    of approval on, and stays in the history with its reason."""
    from gridwatch.schema import DEFAULT_TIMEZONE
    from gridwatch.store.ledger import current_deadlines, problem_deadline, record_event

    new, approved = _date(to, "--to"), _date(on, "--on")
    config = _project(config_path)
    with _store(config, db_url) as store:
        if problem:
            zone = config.territory.timezone if config is not None else DEFAULT_TIMEZONE
            old = problem_deadline(store, task_id, timezone=zone)
        else:
            old = current_deadlines(store).get(task_id)
        record_event(store, subject="issue" if problem else "task", subject_id=task_id,
                     kind="extend", on_date=approved, old_value=old,
                     new_value=new.isoformat(), reason=reason, unit=approved_by)
    click.echo(f"{task_id}: deadline extended to {new} (approved by {approved_by} on "
               f"{approved}: {reason})")


@ledger.command()
@click.argument("task_id")
@click.argument("seq", type=int)
@click.option("--done", "done", required=True, help="Day the milestone was reached, YYYY-MM-DD.")
@config_option
@db_option
@handle_errors
@_ledger_user("import")
def milestone(task_id: str, seq: int, done: str, config_path: Path | None,
              db_url: str | None) -> None:
    """Mark milestone SEQ (1 = the first written in 时间节点) of a staged task done."""
    from gridwatch.store.ledger import ledger_milestones, record_event

    day = _date(done, "--done")
    with _store(_project(config_path), db_url) as store:
        ms = ledger_milestones(store)
        mine = ms[ms["task_id"] == task_id]
        if seq not in set(mine["seq"].tolist()):
            have = ", ".join(map(str, mine["seq"].tolist())) or "none"
            raise ConfigError(f"task {task_id!r} has no milestone {seq} (its milestones: {have})")
        record_event(store, subject="task", subject_id=task_id, kind="milestone_done",
                     on_date=day, milestone=seq)
    click.echo(f"{task_id}: milestone {seq} done on {day}")


@ledger.command()
@click.argument("task_id")
@click.option("--problem", is_flag=True,
              help="TASK_ID is a problem's issue_id: its status changes, changes of deadline "
                   "and unit between imports, acceptances, re-checks and extensions.")
@json_option
@config_option
@db_option
@handle_errors
@_ledger_user("read")
def history(task_id: str, problem: bool, as_json: bool, config_path: Path | None,
            db_url: str | None) -> None:
    """Every acceptance, extension, milestone done and change of unit, leader or deadline of a
    task (or with --problem of a problem: also its changes of status, deadline and unit
    between imports)."""
    from gridwatch.cli._table import plain_table
    from gridwatch.store.ledger import ledger_events

    config = _project(config_path)
    with _store(config, db_url) as store:
        events = ledger_events(store)
        if problem:
            from gridwatch.ledger.history import problem_history
            from gridwatch.schema import DEFAULT_TIMEZONE

            zone = config.territory.timezone if config is not None else DEFAULT_TIMEZONE
            shown = problem_history(store, task_id, events, timezone=zone)
            if as_json:
                echo_json({"issue_id": task_id, "events": _records(shown)})
            else:
                click.echo(plain_table(_days_text(shown)) if len(shown)
                           else f"{task_id}: no history")
            return
    mine = events[(events["subject"] == "task") & (events["subject_id"] == task_id)]
    shown = mine.drop(columns=["id", "subject", "subject_id", "ledger_run_id"])
    if as_json:
        echo_json({"task_id": task_id, "events": _records(shown)})
    else:
        click.echo(plain_table(_days_text(shown)) if len(shown) else f"{task_id}: no events")


def _report(as_of: str, round_: str | None, config: Config | None,
            db_url: str | None, *,
            contexts: dict[str, SupervisionContext] | None = None) -> dict[str, pd.DataFrame]:
    from gridwatch.ledger.progress import progress_report
    from gridwatch.store.ledger import ledger_events, ledger_milestones, ledger_tasks

    day = _date(as_of, "--as-of")
    with _store(config, db_url) as store:
        tasks, ms, events = ledger_tasks(store), ledger_milestones(store), ledger_events(store)
        has_problems = store.last_run_id() > 0
    problems = None
    if _SCOPE.get() is not None:  # the tasks the user's own problems hang under
        from gridwatch.ledger.scope import ledger_in_scope

        issues = _opened(config, db_url, contexts).issues if has_problems else None
        tasks, ms, events = ledger_in_scope(tasks, ms, events, issues)
    if has_problems and len(tasks):
        ctx = _opened(config, db_url, contexts)
        if "ledger_ref" in ctx.issues.columns:
            evaluation = ctx.evaluate(day)
            problems = evaluation[["known", "is_open", "code"]].assign(
                issue_id=ctx.issues["issue_id"], ledger_ref=ctx.issues["ledger_ref"])
    try:
        return progress_report(tasks, ms, events, day, round=round_,
                               require_acceptance=_require_acceptance(config),
                               problems=problems)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


@ledger.command()
@click.option("--as-of", "as_of", required=True, help="Local date, YYYY-MM-DD.")
@click.option("--round", "round_", default=None, help="Only this round (督察轮次).")
@json_option
@config_option
@db_option
@handle_errors
@_ledger_user("read", scoped=True)
def backlog(as_of: str, round_: str | None, as_json: bool, config_path: Path | None,
            db_url: str | None) -> None:
    """Tasks rectified but not yet accepted (待验收), per responsible unit."""
    from gridwatch.cli._table import plain_table

    config = _project(config_path)
    contexts: dict[str, SupervisionContext] = {}  # one context for both questions
    report = _report(as_of, round_, config, db_url, contexts=contexts)
    waiting = report["awaiting_acceptance"]
    problems = _problem_backlog(as_of, config, db_url, contexts=contexts)
    if as_json:
        echo_json({"as_of": as_of, "tasks": _records(waiting),
                   "problems": _records(problems)})
        return
    per_unit = waiting.groupby("unit", dropna=False).size().rename("tasks").reset_index()
    click.echo(f"as of {as_of}: {len(waiting)} tasks rectified and waiting for acceptance")
    if len(waiting):
        click.echo(plain_table(per_unit))
        click.echo(plain_table(_days_text(waiting)))
    if len(problems):
        click.echo(f"closed problems waiting for acceptance: {int(problems['waiting'].sum())}, "
                   f"reopened by a failed re-check: {int(problems['reopened'].sum())}, "
                   f"open again after a failed acceptance (验收不通过): "
                   f"{int(problems['rejected'].sum())}")
        click.echo(plain_table(problems))


def _opened(config: Config | None, db_url: str | None,
            contexts: dict[str, SupervisionContext] | None) -> SupervisionContext:
    """The store's supervision context, opened once per command: ``contexts`` (when given)
    keeps it for the command's next question."""
    from gridwatch.supervision.context import open_context

    if contexts is not None and "ctx" in contexts:
        return contexts["ctx"]
    ctx = open_context(config, resolve_db_url(db_url, config), scope=_SCOPE.get())
    if contexts is not None:
        contexts["ctx"] = ctx
    return ctx


def _problem_state(as_of: str, config: Config | None, db_url: str | None, *,
                   contexts: dict[str, SupervisionContext] | None = None,
                   ) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The problems as of a day (issue_id, unit, category, known, is_open, area ids) and the
    ledger's events, or None for a store without problems."""
    from gridwatch.store.ledger import ledger_events

    day = _date(as_of, "--as-of")
    with _store(config, db_url) as store:
        if store.last_run_id() == 0:
            return None
        events = ledger_events(store)
    from gridwatch.ledger.recheck import with_status_acceptances

    ctx = _opened(config, db_url, contexts)
    evaluation = ctx.evaluate(day)
    problems = ctx.issues.drop(columns=["status", "closed_at", "deadline"]).assign(
        known=evaluation["known"], is_open=evaluation["is_open"],
        status_as_of=evaluation["status"])
    return problems, with_status_acceptances(events, ctx.history, timezone=ctx.timezone)


def _problem_backlog(as_of: str, config: Config | None, db_url: str | None, *,
                     contexts: dict[str, SupervisionContext] | None = None) -> pd.DataFrame:
    from gridwatch.ledger.recheck import acceptance_backlog

    found = _problem_state(as_of, config, db_url, contexts=contexts)
    if found is None:
        import pandas as pd

        return pd.DataFrame(columns=["responsible_unit", "waiting", "reopened", "rejected"])
    return acceptance_backlog(found[0], found[1], _date(as_of, "--as-of"))


@click.group()
def recheck() -> None:
    """Spot re-checks of accepted problems (抽查复核): draw a sample, import the results."""


@recheck.command("draw")
@click.option("--as-of", "as_of", required=True, help="Local date, YYYY-MM-DD.")
@click.option("--rate", type=click.FloatRange(0, 1, min_open=True), required=True,
              help="Share drawn in every stratum (area x category), e.g. 0.1.")
@click.option("--seed", type=int, required=True, help="Seed of the draw (reproducible).")
@click.option("--layer", default=None,
              help="Layer whose areas are the strata; default the review layer (e.g. town).")
@out_option
@json_option
@config_option
@db_option
@handle_errors
@_ledger_user("read")
def draw_command(as_of: str, rate: float, seed: int, layer: str | None, out_path: Path | None,
                 as_json: bool, config_path: Path | None, db_url: str | None) -> None:
    """Draw a stratified random sample of the accepted problems for re-check; --out writes
    it with empty 复核结果/复核日期/复核单位/复核意见 columns for the field team."""
    from gridwatch.ledger.recheck import draw_recheck
    from gridwatch.output.files import write_table

    config = _project(config_path)
    contexts: dict[str, SupervisionContext] = {}
    found = _problem_state(as_of, config, db_url, contexts=contexts)
    if found is None:
        raise ConfigError("the store has no problems yet: nothing was accepted")
    problems, events = found
    if layer is None:
        layer = _opened(config, db_url, contexts).review_layer()
    column = f"{layer}_id"
    if column not in problems:
        have = [c[:-3] for c in problems.columns if c.endswith("_id") and c != "issue_id"]
        raise ConfigError(f"no layer {layer!r} in the store; layers: {', '.join(have)}")
    sample = draw_recheck(problems, events, _date(as_of, "--as-of"), rate=rate, seed=seed,
                          stratum=column)
    if out_path is not None:
        sheet = sample.rename(columns={"issue_id": "问题编号"}).assign(
            复核结果="", 复核日期="", 复核单位="", 复核意见="")
        write_table(dates_as_text_frame(sheet), out_path)
        click.echo(f"wrote {len(sample)} problems to {out_path}")
    if as_json:
        echo_json({"as_of": as_of, "rate": rate, "seed": seed, "layer": layer,
                   "problems": _records(sample)})
    elif out_path is None:
        from gridwatch.cli._table import plain_table

        click.echo(f"{len(sample)} problems drawn from {sample['stratum'].nunique()} areas")
        click.echo(plain_table(_days_text(sample)) if len(sample) else "")


@recheck.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@config_option
@db_option
@handle_errors
@_ledger_user("import")
def recheck_import(file: Path, as_json: bool, config_path: Path | None,
                   db_url: str | None) -> None:
    """Record re-check results (问题编号, 复核结果 通过/不通过, 复核日期, 复核单位, 复核意见): a
    failed re-check reopens the problem and counts as a rebound (反弹回潮) against its unit."""
    from gridwatch.ledger.read import read_recheck_results
    from gridwatch.schema import concat_rejects
    from gridwatch.store.ledger import record_problem_events

    config = _project(config_path)
    result = read_recheck_results(file, **_reading(config))
    with _store(config, db_url) as store:
        inserted, unknown = record_problem_events(store, result.records, kind="recheck")
    rejects = concat_rejects(result.rejects, unknown)
    failed = int((result.records["conclusion"] == "fail").sum())
    if as_json:
        echo_json({"rows_in": result.rows_in, "accepted": result.rows_in - len(rejects),
                   "rejected": len(rejects), "inserted": inserted,
                   "reject_reasons": rejects["reason"].value_counts().to_dict()})
        return
    click.echo(f"{file}: {result.rows_in} rows = {result.rows_in - len(rejects)} results + "
               f"{len(rejects)} rejected; {failed} failed (reopened, counted as rebounds)")
    for row in rejects.head(20).itertuples(index=False):
        click.echo(f"  row {row.row}: {row.reason}")


@recheck.command("summary")
@click.option("--as-of", "as_of", required=True, help="Local date, YYYY-MM-DD.")
@json_option
@config_option
@db_option
@handle_errors
@_ledger_user("read")
def recheck_summary_command(as_of: str, as_json: bool, config_path: Path | None,
                            db_url: str | None) -> None:
    """Re-checks per responsible unit: rechecked, passed, rebounds (反弹回潮)."""
    from gridwatch.cli._table import plain_table
    from gridwatch.ledger.recheck import recheck_summary

    found = _problem_state(as_of, _project(config_path), db_url)
    if found is None:
        raise ConfigError("the store has no problems yet")
    table = recheck_summary(found[0], found[1], _date(as_of, "--as-of"))
    if as_json:
        echo_json({"as_of": as_of, "units": _records(table)})
    else:
        click.echo(plain_table(table) if len(table) else "no re-checks recorded")


def dates_as_text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as YYYY-MM-DD (for the sheet given to the field team)."""
    from gridwatch.ledger.progress import dates_as_text

    return dates_as_text(frame)


@click.command()
@click.option("--as-of", "as_of", required=True, help="Local date, YYYY-MM-DD.")
@click.option("--round", "round_", default=None,
              help="Only this round (督察轮次, as in the ledger); default every round.")
@click.option("--by", "by", type=click.Choice(["item", "unit", "leader"]), default="item",
              show_default=True, help="Table printed: per feedback item, unit or leader.")
@out_option
@json_option
@config_option
@db_option
@handle_errors
@_ledger_user("read", scoped=True)
def progress(as_of: str, round_: str | None, by: str, out_path: Path | None, as_json: bool,
             config_path: Path | None, db_url: str | None) -> None:
    """Progress of the ledger per round and feedback item (按序时进度) as of a date."""
    from gridwatch.cli._table import plain_table
    from gridwatch.ledger.progress import progress_sentence, write_progress

    config = _project(config_path)
    report = _report(as_of, round_, config, db_url)
    if out_path is not None:
        written = write_progress(report, out_path,
                                 timezone=config.territory.timezone if config else "Asia/Shanghai")
        click.echo(f"wrote {written}")
    table = report["items" if by == "item" else f"{by}s"]
    if as_json:
        echo_json({"as_of": as_of, "rounds": _records(report["rounds"]),
                   by + "s": _records(table)})
        return
    for _, row in report["rounds"].iterrows():
        click.echo(progress_sentence(row))
    if len(table):
        click.echo(plain_table(_days_text(table)))


@click.group()
def letters() -> None:
    """The register of 一函两单 (提醒函, 交办单, 督办单): issue, reply, list, count."""


@letters.command("issue")
@click.option("--as-of", "as_of", required=True, help="Day of issue, YYYY-MM-DD.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the letters (named by number: a printable HTML page and a Word "
                   "file each).")
@click.option("--format", "formats", type=click.Choice(["both", "html", "docx"]),
              default="both", show_default=True, help="What --out writes for each letter.")
@click.option("--reply-days", "reply_days", type=click.IntRange(1, 60), default=5,
              show_default=True, help="Working days until the reply is due.")
@click.option("--issuer", default="", help="Who issues them, printed on each letter.")
@json_option
@config_option
@db_option
@handle_errors
@_ledger_user("import")
def issue_command(as_of: str, out_dir: Path | None, formats: str, reply_days: int,
                  issuer: str, as_json: bool, config_path: Path | None,
                  db_url: str | None) -> None:
    """Issue the day's numbered letters per unit from the reminders; unanswered letters past
    their reply date escalate (提醒函 → 交办单 → 督办单)."""
    from gridwatch.cli.supervise import open_supervision
    from gridwatch.ledger.letters import letter_html
    from gridwatch.ledger.load import issue_letters_as_of
    from gridwatch.output._atomic import replacing

    day = _date(as_of, "--as-of")
    ctx = open_supervision(config_path, db_url)
    reminders = ctx.reminders(day)
    with _store(_project(config_path), db_url) as store:
        plan = issue_letters_as_of(store, ctx, day, reply_days=reply_days)
    if out_dir is not None and len(plan.letters):
        out_dir.mkdir(parents=True, exist_ok=True)
        detail = reminders.set_index("issue_id")[["address", "description"]]
        for letter in plan.letters.itertuples(index=False):
            named = plan.items[plan.items["letter_no"] == letter.letter_no]
            named = named.join(detail, on="issue_id")
            fields = pd_series(letter._asdict())
            if formats in ("both", "html"):
                page = letter_html(fields, named, issuer=issuer)
                with replacing(out_dir / f"{letter.letter_no}.html") as tmp:
                    tmp.write_text(page, encoding="utf-8")
            if formats in ("both", "docx"):
                from gridwatch.ledger.letter_docx import letter_docx

                with replacing(out_dir / f"{letter.letter_no}.docx") as tmp:
                    tmp.write_bytes(letter_docx(fields, named, issuer=issuer))
    shown = plan.letters.assign(problems=plan.letters["letter_no"].map(
        plan.items.groupby("letter_no").size()).fillna(0).astype("int64"))
    if as_json:
        echo_json({"as_of": as_of, "issued": _records(shown), "escalated": plan.escalated})
        return
    from gridwatch.cli._table import plain_table

    click.echo(f"{len(plan.letters)} letters issued as of {day} ({len(plan.escalated)} "
               "unanswered letters escalated)")
    if len(shown):
        click.echo(plain_table(_days_text(shown.drop(columns=["year", "seq"]))))


@letters.command("reply")
@click.argument("letter_no")
@click.option("--on", "on", required=True, help="Day the reply came, YYYY-MM-DD.")
@click.option("--text", "text", default=None, help="What the unit replied.")
@config_option
@db_option
@handle_errors
@_ledger_user("import")
def reply_command(letter_no: str, on: str, text: str | None, config_path: Path | None,
                  db_url: str | None) -> None:
    """Record a unit's reply to a letter (by its number, e.g. 督提〔2026〕3号)."""
    from gridwatch.store.ledger import record_reply

    day = _date(on, "--on")
    with _store(_project(config_path), db_url) as store:
        record_reply(store, letter_no, on=day, reply=text)
    click.echo(f"{letter_no}: reply of {day} recorded")


@letters.command("list")
@click.option("--as-of", "as_of", required=True, help="Local date, YYYY-MM-DD.")
@click.option("--unanswered", is_flag=True, help="Only letters with no reply by then.")
@json_option
@config_option
@db_option
@handle_errors
@_ledger_user("read")
def list_command(as_of: str, unanswered: bool, as_json: bool, config_path: Path | None,
                 db_url: str | None) -> None:
    """The register as of a date: every letter, or those still unanswered (most overdue
    first)."""
    from gridwatch.cli._table import plain_table
    from gridwatch.ledger.letters import unanswered as open_letters
    from gridwatch.store.ledger import letter_register

    day = _date(as_of, "--as-of")
    with _store(_project(config_path), db_url) as store:
        register, _items = letter_register(store)
    register = register[register["issued_on"] <= pd_day(day)]
    table = open_letters(register, day) if unanswered else register
    if as_json:
        echo_json({"as_of": as_of, "letters": _records(table)})
        return
    click.echo(f"as of {day}: {len(table)} letters" + (" unanswered" if unanswered else ""))
    if len(table):
        click.echo(plain_table(_days_text(table)))


@letters.command("count")
@click.option("--period", type=click.Choice(["month", "year"]), default="month",
              show_default=True)
@json_option
@config_option
@db_option
@handle_errors
@_ledger_user("read")
def count_command(period: str, as_json: bool, config_path: Path | None,
                  db_url: str | None) -> None:
    """Letters issued per month or year and kind, and how many were answered."""
    from gridwatch.cli._table import plain_table
    from gridwatch.ledger.letters import letter_counts
    from gridwatch.store.ledger import letter_register

    with _store(_project(config_path), db_url) as store:
        register, _items = letter_register(store)
    table = letter_counts(register, period=period)
    if as_json:
        echo_json({"period": period, "counts": _records(table)})
    else:
        click.echo(plain_table(table) if len(table) else "no letters issued yet")


def pd_day(day: dt.date) -> Any:
    """A local day as pandas compares it with the register's dates."""
    import pandas as pd

    return pd.Timestamp(day)


def pd_series(values: dict[str, Any]) -> Any:
    """A letter's fields as a Series."""
    import pandas as pd

    return pd.Series(values)

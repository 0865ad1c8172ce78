"""``gridwatch status | league | remind | review``: daily, weekly and monthly supervision.

Each command builds the one supervision context (:func:`gridwatch.supervision.context.open_context`)
and asks it one question, so the answers equal the app's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from gridwatch.cli._engine import ask, engine_options
from gridwatch.cli._options import (
    config_option,
    db_option,
    echo_json,
    handle_errors,
    json_option,
    open_config,
    open_session,
    out_option,
    resolve_db_url,
    user_option,
)
from gridwatch.cli._table import plain_table

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["league", "remind", "review", "status"]

_LAYER = click.option("--layer", default=None,
                      help="Layer whose areas are counted, e.g. grid (required unless --by "
                           "unit or leader).")
_BY = click.option("--by", "by", type=click.Choice(["area", "unit", "leader"]), default="area",
                   show_default=True,
                   help="Count per area of --layer, per responsible unit (责任单位) or per "
                        "responsible leader (责任领导, from the ledger).")


def open_supervision(config_path: Path | None, db_url: str | None,
                     as_user: str | None = None) -> SupervisionContext:
    """The supervision context of the project named on the command line (or ./gridwatch.toml,
    or none: default settings), seeing only the scope of the user it acts as."""
    return open_session(config_path, db_url, as_user).context()


def _accountable(ctx: SupervisionContext, by: str, layer: str | None,
                 config_path: Path | None, db_url: str | None, *, engine: str = "local",
                 required: bool = True) -> tuple[SupervisionContext, str | None]:
    """The context and the layer to ask: ``--by unit`` / ``leader`` are pseudo layers over the
    responsible units and the ledger's leaders (:mod:`gridwatch.ledger.accountability`),
    answered on this machine only (the workers read the store's problems, not the ledger)."""
    from gridwatch.errors import ConfigError

    if by != "area" and engine == "dask":
        raise ConfigError(f"--by {by} is not supported with --engine dask; use --engine local")
    if by == "area":
        if layer is None and required:
            raise ConfigError("--layer is required (e.g. --layer grid), or --by unit / leader")
        return ctx, layer
    if layer is not None:
        raise ConfigError(f"--layer {layer!r} and --by {by} exclude each other: --by {by} "
                          f"counts per {by}, not per area")
    # a scoped context holds only the problems in scope: the ledger's tasks only name their
    # units and leaders, so a scoped user sees the units and leaders of their own problems
    from gridwatch.ledger.accountability import by_accountability

    return by_accountability(ctx, _ledger_tasks(config_path, db_url)), by


def _ledger_tasks(config_path: Path | None, db_url: str | None) -> pd.DataFrame:
    """The ledger's tasks (units and leaders) of the store named on the command line."""
    from gridwatch.store.ledger import ledger_tasks
    from gridwatch.store.transactional import Store

    has_config = config_path is not None or Path("gridwatch.toml").is_file()
    config = open_config(config_path) if has_config else None
    with Store(resolve_db_url(db_url, config)) as store:
        return ledger_tasks(store)


def _ledger_review(month: str, config_path: Path | None, db_url: str | None,
                   units: pd.Series) -> dict[str, pd.DataFrame]:
    """The month's extensions, letters (一函两单) and re-checks of the ledger, when it has
    any; ``units``: each problem's responsible unit by issue_id."""
    from gridwatch.ledger.letters import ledger_review_tables
    from gridwatch.store.ledger import ledger_events, letter_register
    from gridwatch.store.transactional import Store

    has_config = config_path is not None or Path("gridwatch.toml").is_file()
    config = open_config(config_path) if has_config else None
    with Store(resolve_db_url(db_url, config)) as store:
        events, (letters, _items) = ledger_events(store), letter_register(store)
    return ledger_review_tables(events, letters, month, units=units)


def _units(ctx: SupervisionContext) -> pd.Series:
    """Each problem's responsible unit, indexed by issue_id."""
    issues = ctx.issues
    unit = issues["responsible_unit"] if "responsible_unit" in issues else \
        pd.Series(pd.NA, index=issues.index, dtype="str")
    return pd.Series(unit.to_numpy(), index=issues["issue_id"].astype("str").to_numpy())


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [dict(row) for row in clean.to_dict(orient="records")]


@click.command()
@click.option("--as-of", "as_of", required=True, help="Local date, YYYY-MM-DD.")
@_LAYER
@_BY
@engine_options
@json_option
@config_option
@db_option
@user_option
@handle_errors
def status(as_of: str, layer: str | None, by: str, engine: str, scheduler: str | None,
           workers: int | None, as_json: bool, config_path: Path | None,
           db_url: str | None, as_user: str | None) -> None:
    """Red/yellow/green counts per area (or unit, or leader) as of a date (红黄绿码); closed
    counts are cumulative."""
    session = open_session(config_path, db_url, as_user)
    ctx, layer = _accountable(session.context(), by, layer, config_path, db_url, engine=engine)
    assert layer is not None
    stats = ask((engine, scheduler, workers), ctx, session.db_url, "status", as_of, layer=layer)
    if as_json:
        echo_json({"as_of": as_of, "layer": layer, "areas": _records(stats)})
        return
    click.echo(f"as of {as_of}, layer {layer}: {int(stats['open'].sum())} open, "
               f"{int(stats['red'].sum())} red, {int(stats['yellow'].sum())} yellow")
    click.echo(plain_table(stats))


@click.command()
@click.option("--week", required=True, help="ISO week, YYYY-Www (e.g. 2024-W10).")
@_LAYER
@_BY
@engine_options
@out_option
@config_option
@db_option
@user_option
@handle_errors
def league(week: str, layer: str | None, by: str, engine: str, scheduler: str | None,
           workers: int | None, out_path: Path | None,
           config_path: Path | None, db_url: str | None, as_user: str | None) -> None:
    """Weekly league table of the areas of a layer, or of the responsible units or leaders
    (周亮晒): score, rank, change, worst."""
    from gridwatch.supervision.league import write_league

    session = open_session(config_path, db_url, as_user,
                           action="read" if out_path is None else "export")
    ctx, layer = _accountable(session.context(), by, layer, config_path, db_url, engine=engine)
    assert layer is not None
    table = ask((engine, scheduler, workers), ctx, session.db_url, "league", week, layer=layer)
    if out_path is not None:
        written = write_league(table, out_path, timezone=ctx.timezone)
        session.audit("export", what="league", format=written.suffix.lstrip("."),
                      file=str(written), rows=len(table))
        click.echo(f"wrote {len(table)} areas to {written}")
    else:
        click.echo(plain_table(table))


@click.command()
@click.option("--as-of", "as_of", required=True, help="Local date, YYYY-MM-DD.")
@click.option("--by", "by", type=click.Choice(["unit", "leader"]), default="unit",
              show_default=True,
              help="Summarise per responsible unit (责任单位) or per responsible leader "
                   "(责任领导, from the ledger).")
@out_option
@config_option
@db_option
@user_option
@handle_errors
def remind(as_of: str, by: str, out_path: Path | None, config_path: Path | None,
           db_url: str | None, as_user: str | None) -> None:
    """Daily reminders per responsible unit (or leader), with 提醒函/交办单/督办单 escalation
    (一函两单)."""
    from gridwatch.supervision.remind import reminder_summary, write_reminders

    session = open_session(config_path, db_url, as_user,
                           action="read" if out_path is None else "export")
    ctx = session.context()
    reminders = ctx.reminders(as_of)
    column = "responsible_unit"
    if by == "leader":
        from gridwatch.ledger.accountability import with_leaders

        reminders = with_leaders(reminders, ctx.issues, _ledger_tasks(config_path, db_url))
        column = "responsible_leader"
    if out_path is not None:
        written = write_reminders(reminders, out_path, timezone=ctx.timezone, by=column)
        session.audit("export", what="reminders", format=out_path.suffix.lstrip("."),
                      file=", ".join(map(str, written)), rows=len(reminders))
        click.echo(f"wrote {len(reminders)} reminders to {', '.join(map(str, written))}")
    else:
        click.echo(plain_table(reminder_summary(reminders, by=column)))


@click.command()
@click.option("--month", required=True, help="Month reviewed, YYYY-MM.")
@click.option("--layer", default=None,
              help="Layer of the area tables; default the last admin layer (e.g. town), "
                   "else the last area layer.")
@_BY
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Workbook to write (.xlsx); .md and .html summaries are written beside it.")
@engine_options
@config_option
@db_option
@user_option
@handle_errors
def review(month: str, layer: str | None, by: str, out_path: Path, engine: str,
           scheduler: str | None, workers: int | None, config_path: Path | None,
           db_url: str | None, as_user: str | None) -> None:
    """Monthly review (月复盘): the month against the previous one, workbook and summary; the
    area tables per responsible unit or leader with --by."""
    from gridwatch.supervision.review import write_review

    session = open_session(config_path, db_url, as_user, action="export")
    ctx, layer = _accountable(session.context(), by, layer, config_path, db_url,
                              engine=engine, required=False)
    whole = ctx.scope is None or ctx.scope.whole  # the ledger is not divided by area yet
    tables = {**ask((engine, scheduler, workers), ctx, session.db_url, "review", month,
                    layer=layer),
              **(_ledger_review(month, config_path, db_url, _units(ctx)) if whole else {})}
    written = write_review(tables, out_path, title=f"月复盘 {month}", timezone=ctx.timezone)
    session.audit("export", what="review", format="xlsx",
                  file=", ".join(map(str, written)), month=month)
    click.echo(f"wrote {', '.join(map(str, written))}")

"""``gridwatch status | league | remind | review``: daily, weekly and monthly supervision.

Each command builds the one supervision context (:func:`gridwatch.supervision.context.open_context`)
and asks it one question, so the answers equal the app's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from gridwatch.cli._options import (
    config_option,
    db_option,
    echo_json,
    handle_errors,
    json_option,
    open_session,
    out_option,
    user_option,
)
from gridwatch.cli._table import plain_table

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["league", "remind", "review", "status"]

_LAYER = click.option("--layer", required=True, help="Layer whose areas are counted, e.g. grid.")


def open_supervision(config_path: Path | None, db_url: str | None,
                     as_user: str | None = None) -> SupervisionContext:
    """The supervision context of the project named on the command line (or ./gridwatch.toml,
    or none: default settings), seeing only the scope of the user it acts as."""
    return open_session(config_path, db_url, as_user).context()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [dict(row) for row in clean.to_dict(orient="records")]


@click.command()
@click.option("--as-of", "as_of", required=True, help="Local date, YYYY-MM-DD.")
@_LAYER
@json_option
@config_option
@db_option
@user_option
@handle_errors
def status(as_of: str, layer: str, as_json: bool, config_path: Path | None,
           db_url: str | None, as_user: str | None) -> None:
    """Red/yellow/green counts per area as of a date (红黄绿码); closed counts are cumulative."""
    stats = open_supervision(config_path, db_url, as_user).status(as_of, layer=layer)
    if as_json:
        echo_json({"as_of": as_of, "layer": layer, "areas": _records(stats)})
        return
    click.echo(f"as of {as_of}, layer {layer}: {int(stats['open'].sum())} open, "
               f"{int(stats['red'].sum())} red, {int(stats['yellow'].sum())} yellow")
    click.echo(plain_table(stats))


@click.command()
@click.option("--week", required=True, help="ISO week, YYYY-Www (e.g. 2024-W10).")
@_LAYER
@out_option
@config_option
@db_option
@user_option
@handle_errors
def league(week: str, layer: str, out_path: Path | None, config_path: Path | None,
           db_url: str | None, as_user: str | None) -> None:
    """Weekly league table of the areas of a layer (周亮晒): score, rank, change, worst."""
    from gridwatch.supervision.league import write_league

    session = open_session(config_path, db_url, as_user,
                           action="read" if out_path is None else "export")
    ctx = session.context()
    table = ctx.league(week, layer=layer)
    if out_path is not None:
        written = write_league(table, out_path, timezone=ctx.timezone)
        session.audit("export", what="league", format=written.suffix.lstrip("."),
                      file=str(written), rows=len(table))
        click.echo(f"wrote {len(table)} areas to {written}")
    else:
        click.echo(plain_table(table))


@click.command()
@click.option("--as-of", "as_of", required=True, help="Local date, YYYY-MM-DD.")
@out_option
@config_option
@db_option
@user_option
@handle_errors
def remind(as_of: str, out_path: Path | None, config_path: Path | None,
           db_url: str | None, as_user: str | None) -> None:
    """Daily reminders per responsible unit, with 提醒函/交办单/督办单 escalation (一函两单)."""
    from gridwatch.supervision.remind import reminder_summary, write_reminders

    session = open_session(config_path, db_url, as_user,
                           action="read" if out_path is None else "export")
    ctx = session.context()
    reminders = ctx.reminders(as_of)
    if out_path is not None:
        written = write_reminders(reminders, out_path, timezone=ctx.timezone)
        session.audit("export", what="reminders", format=out_path.suffix.lstrip("."),
                      file=", ".join(map(str, written)), rows=len(reminders))
        click.echo(f"wrote {len(reminders)} reminders to {', '.join(map(str, written))}")
    else:
        click.echo(plain_table(reminder_summary(reminders)))


@click.command()
@click.option("--month", required=True, help="Month reviewed, YYYY-MM.")
@click.option("--layer", default=None,
              help="Layer of the area tables; default the last admin layer (e.g. town), "
                   "else the last area layer.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Workbook to write (.xlsx); .md and .html summaries are written beside it.")
@config_option
@db_option
@user_option
@handle_errors
def review(month: str, layer: str | None, out_path: Path, config_path: Path | None,
           db_url: str | None, as_user: str | None) -> None:
    """Monthly review (月复盘): the month against the previous one, workbook and summary."""
    from gridwatch.supervision.review import write_review

    session = open_session(config_path, db_url, as_user, action="export")
    ctx = session.context()
    tables = ctx.review(month, layer=layer)
    written = write_review(tables, out_path, title=f"月复盘 {month}", timezone=ctx.timezone)
    session.audit("export", what="review", format="xlsx",
                  file=", ".join(map(str, written)), month=month)
    click.echo(f"wrote {', '.join(map(str, written))}")

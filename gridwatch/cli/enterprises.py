"""``gridwatch enterprises | petitions | campaigns``: who pollutes again, petition batches and
special campaigns (gridwatch.enterprises; docs/enterprises.md).

Each command builds the one supervision context, seeing only the scope of ``--as-user``, and
asks gridwatch.enterprises one question.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

__all__ = ["campaigns", "enterprises", "petitions"]

_AS_OF = click.option("--as-of", "as_of", required=True, help="Local date, YYYY-MM-DD.")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [dict(row) for row in clean.to_dict(orient="records")]


def _answer(table: pd.DataFrame, *, what: str, as_of: str, as_json: bool,
            out_path: Path | None, session: Any, timezone: str, summary: str) -> None:
    """Print, or write with --out (audited as an export), one answer table."""
    if out_path is not None:
        from gridwatch.output.files import write_table

        written = write_table(table, out_path, timezone=timezone, sheet_name=what)
        session.audit("export", what=what, format=written.suffix.lstrip("."),
                      file=str(written), rows=len(table))
        click.echo(f"wrote {len(table)} rows to {written}")
    elif as_json:
        echo_json({"as_of": as_of, what: _records(table)})
    else:
        click.echo(summary)
        if len(table):
            click.echo(plain_table(table))


@click.command()
@_AS_OF
@click.option("--offenders", "offenders_only", is_flag=True,
              help="List only the repeat offenders (the rule of [enterprises]).")
@click.option("--layer", default=None,
              help="Layer of the area shown per enterprise; default the last admin layer.")
@json_option
@out_option
@config_option
@db_option
@user_option
@handle_errors
def enterprises(as_of: str, offenders_only: bool, layer: str | None, as_json: bool,
                out_path: Path | None, config_path: Path | None, db_url: str | None,
                as_user: str | None) -> None:
    """Per enterprise (一码统管): problems, open, overdue, rebounds at the enterprise or within
    R metres, and the repeat offenders by the rule of [enterprises]; names are normalised
    (full-width, spaces, 有限公司 variants)."""
    from gridwatch.enterprises.offenders import enterprise_table

    session = open_session(config_path, db_url, as_user,
                           action="read" if out_path is None else "export")
    ctx = session.context()
    table = enterprise_table(ctx, as_of, layer=layer)
    flagged = int(table["repeat_offender"].sum()) if len(table) else 0
    if offenders_only:
        table = table[table["repeat_offender"].astype(bool)].reset_index(drop=True)
    _answer(table, what="enterprises", as_of=as_of, as_json=as_json, out_path=out_path,
            session=session, timezone=ctx.timezone,
            summary=f"as of {as_of}: {len(table) if not offenders_only else flagged} "
                    f"enterprises listed, {flagged} repeat offenders")


@click.command()
@_AS_OF
@click.option("--list", "as_list", is_flag=True,
              help="List the petitions one by one with the complaint that repeated each.")
@json_option
@out_option
@config_option
@db_option
@user_option
@handle_errors
def petitions(as_of: str, as_list: bool, as_json: bool, out_path: Path | None,
              config_path: Path | None, db_url: str | None, as_user: str | None) -> None:
    """Per petition batch (交办批次): received, closed, closed on time, closure rate and the
    repeat-complaint rate (a complaint about the same place, enterprise or description within
    D days, [petitions])."""
    from gridwatch.enterprises.petitions import batch_table, petition_list

    session = open_session(config_path, db_url, as_user,
                           action="read" if out_path is None else "export")
    ctx = session.context()
    table = petition_list(ctx, as_of) if as_list else batch_table(ctx, as_of)
    if as_list:
        summary = f"as of {as_of}: {len(table)} petitions"
    elif len(table):
        total = table.iloc[-1]
        summary = (f"as of {as_of}: {len(table) - 1} batches, {int(total['received'])} "
                   f"petitions, {int(total['closed'])} closed, repeat-complaint rate "
                   f"{total['repeat_rate']:.1%}")
    else:
        summary = f"as of {as_of}: no petition batch"
    _answer(table, what="petitions", as_of=as_of, as_json=as_json, out_path=out_path,
            session=session, timezone=ctx.timezone, summary=summary)


@click.command()
@_AS_OF
@click.option("--by", "by", default=None,
              help="Also split each campaign by responsible unit (unit) or by the areas of a "
                   "layer (e.g. town).")
@json_option
@out_option
@config_option
@db_option
@user_option
@handle_errors
def campaigns(as_of: str, by: str | None, as_json: bool, out_path: Path | None,
              config_path: Path | None, db_url: str | None, as_user: str | None) -> None:
    """Per special campaign (专项行动, 举一反三; a column or [[campaigns.rules]]): found,
    closed, remaining and overdue, by area or unit with --by."""
    from gridwatch.enterprises.campaigns import campaign_table

    session = open_session(config_path, db_url, as_user,
                           action="read" if out_path is None else "export")
    ctx = session.context()
    table = campaign_table(ctx, as_of, by=by)
    names = table["campaign"].nunique() if len(table) else 0
    _answer(table, what="campaigns", as_of=as_of, as_json=as_json, out_path=out_path,
            session=session, timezone=ctx.timezone,
            summary=f"as of {as_of}: {names} campaigns, {int(table['found'].sum()) if names else 0}"
                    f" problems found, {int(table['remaining'].sum()) if names else 0} remaining")

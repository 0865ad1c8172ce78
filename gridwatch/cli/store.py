"""``gridwatch store``: the store's analytical copy (what every question reads)."""

from __future__ import annotations

from pathlib import Path

import click

from gridwatch.cli._options import (
    config_option,
    db_option,
    echo_json,
    handle_errors,
    json_option,
    open_config,
    resolve_db_url,
    user_option,
)

__all__ = ["store"]


def _url(config_path: Path | None, db_url: str | None, as_user: str | None = None) -> str:
    """The store's URL, once the acting user is known to be an administrator."""
    from gridwatch.cli._options import acting_user

    has_config = config_path is not None or Path("gridwatch.toml").is_file()
    url = resolve_db_url(db_url, open_config(config_path) if has_config else None)
    acting_user(as_user, url, action="admin")
    return url


@click.group()
def store() -> None:
    """The store: its analytical copy (Parquet) beside the SQLite file or PostGIS database."""


@store.command("info")
@config_option
@db_option
@json_option
@user_option
@handle_errors
def info(config_path: Path | None, db_url: str | None, as_json: bool,
         as_user: str | None) -> None:
    """Show the store's last run and whether its analytical copy is of that run."""
    from gridwatch.store import Store

    with Store(_url(config_path, db_url, as_user)) as opened:
        run_id = opened.last_run_id()
        copy = opened.analytical_copy
        version = copy.current() if copy is not None else None
    payload = {"last_run": run_id, "copy_folder": str(copy.folder) if copy else None,
               "copy_run": version.run_id if version else None,
               "copy_rows": version.rows if version else None,
               "copy_current": bool(version and version.run_id == run_id)}
    if as_json:
        echo_json(payload)
        return
    state = ("up to date" if payload["copy_current"] else
             "missing or older than the store: it is rebuilt when next read")
    click.echo(f"last run {run_id}; analytical copy {state}")
    if version is not None:
        click.echo(f"  run {version.run_id}, {version.rows:,} problems, in {version.folder}")


@store.command("rebuild")
@config_option
@db_option
@user_option
@handle_errors
def rebuild(config_path: Path | None, db_url: str | None, as_user: str | None) -> None:
    """Rebuild the analytical copy from the store's tables (the source of truth)."""
    from gridwatch.store import Store

    with Store(_url(config_path, db_url, as_user)) as opened:
        version = opened.rebuild_copy()
    if version is None:
        click.echo("an in-memory store keeps no analytical copy")
        return
    click.echo(f"rebuilt the analytical copy of run {version.run_id}: {version.rows:,} "
               f"problems in {version.folder}")

"""``gridwatch ingest``: read a day's export, place every row, store it."""

from __future__ import annotations

import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from tqdm import tqdm

from gridwatch.cli._engine import engine_client, engine_options
from gridwatch.cli._options import (
    check_output_path,
    config_option,
    db_option,
    echo_json,
    handle_errors,
    json_option,
    open_config,
    resolve_db_url,
    store_file,
    user_option,
)

__all__ = ["ingest"]


@click.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@config_option
@db_option
@click.option("--crs", help="Coordinate system of the files when rows do not say: wgs84, "
                            "cgcs2000, gcj02, bd09 or EPSG:n (overrides [input] crs).")
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the rejected rows to this CSV (file,row,column,value,reason).")
@click.option("--observed-at", type=click.DateTime(), default=None,
              help="When the export was taken, local time of the territory (for the status "
                   "history). Default: now.")
@engine_options
@json_option
@user_option
@handle_errors
def ingest(files: tuple[Path, ...], config_path: Path | None, db_url: str | None,
           crs: str | None, rejects_path: Path | None, observed_at, engine: str,
           scheduler: str | None, workers: int | None, as_json: bool,
           as_user: str | None) -> None:
    """Read problem FILES (CSV/XLSX/JSON/GeoJSON/Open311, .gz/.zip too), place each row in
    every boundary layer and store it; rows that cannot be used are listed with the reason."""
    from gridwatch.access.audit import log_action
    from gridwatch.cli._options import acting_user
    from gridwatch.errors import ConfigError, GridwatchError
    from gridwatch.ingest.records import check_input_files
    from gridwatch.output.files import write_table
    from gridwatch.pipeline import run_ingest
    from gridwatch.placing.coords import parse_crs
    from gridwatch.store.transactional import Store

    config = open_config(config_path)
    if observed_at is not None and observed_at.tzinfo is None:  # a local time of the territory
        observed_at = observed_at.replace(tzinfo=ZoneInfo(config.territory.timezone))
    if crs is not None and parse_crs(crs) is None:
        raise ConfigError(f"--crs {crs!r} is not a coordinate system gridwatch knows; "
                          "use wgs84, cgcs2000, gcj02, bd09 or EPSG:n")
    # Everything that can be checked is checked before the store is opened (which creates an
    # empty SQLite file) and before the run is committed.
    check_input_files(files)
    url = resolve_db_url(db_url, config)
    user = acting_user(as_user, url, action="import")
    if rejects_path is not None:
        check_output_path(rejects_path, option="--rejects",
                          inputs=[*files, config.path, store_file(url)])
    bar = tqdm(total=0, unit="row", desc="reading", file=sys.stderr, disable=as_json or None,
               leave=False)

    def file_progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    def stage(message: str) -> None:
        if not as_json:
            click.echo(f"… {message}", err=True)

    with engine_client(engine, scheduler, workers) as client, Store(url) as store:
        options = {"crs": parse_crs(crs) if crs else None, "observed_at": observed_at,
                   "progress": stage, "file_progress": file_progress}
        if client is None:
            summary, rejects = run_ingest(files, config=config, store=store, **options)
        else:
            from gridwatch.distributed.ingest import run_ingest_dask

            summary, rejects = run_ingest_dask(files, config=config, store=store,
                                               client=client, **options)
        log_action(store, user.name, "import", run_id=summary.run_id,
                   files=[Path(f).name for f in files], accepted=summary.accepted,
                   rejected=summary.rejected)
    bar.close()
    if rejects_path is not None:
        try:
            write_table(rejects, rejects_path, timezone=config.territory.timezone)
        except OSError as exc:
            raise GridwatchError(
                f"run {summary.run_id} was stored ({summary.accepted:,} accepted, "
                f"{summary.rejected:,} rejected), but the rejected rows could not be written "
                f"to {rejects_path}: {exc.strerror or exc}") from exc
    if as_json:
        echo_json(summary.to_dict())
        return
    click.echo(f"run {summary.run_id}: {summary.rows_in:,} rows in = {summary.accepted:,} "
               f"accepted + {summary.rejected:,} rejected")
    click.echo(f"stored: {summary.inserted:,} new, {summary.updated:,} updated, "
               f"{summary.unchanged:,} unchanged, {summary.status_changes:,} status changes")
    if summary.older:
        click.echo(f"older than what the store had seen (the newer state kept): "
                   f"{summary.older:,}")
    if summary.duplicates:
        click.echo(f"duplicate issue ids superseded by a later row: {summary.duplicates:,}")
    if summary.swapped_fixed or summary.grid_placed:
        click.echo(f"repaired: {summary.swapped_fixed:,} swapped lat/lon, "
                   f"{summary.grid_placed:,} placed at their reported grid")
    if summary.geocoded:
        click.echo(f"geocoded: {summary.geocoded:,} placed from their address "
                   "(location_flag geocoded)")
    if summary.grid_mismatch:
        click.echo(f"reported grid differs from the map: {summary.grid_mismatch:,}")
    for layer, count in summary.unassigned.items():
        if count:
            click.echo(f"outside every area of layer {layer}: {count:,}")
    for reason, count in summary.reject_reasons.items():
        click.echo(f"rejected, {reason}: {count:,}")
    if summary.rejected and rejects_path is None:
        click.echo("pass --rejects PATH to get the rejected rows with their reasons")
    elif rejects_path is not None:
        click.echo(f"rejected rows written to {rejects_path}")

"""``gridwatch hotspots``: where overdue problems concentrate (热点网格), by rule, Gi*, hexagons
or space-time trend."""

from __future__ import annotations

from pathlib import Path

import click

from gridwatch.cli._engine import ask, engine_options
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

__all__ = ["hotspots"]


@click.command()
@click.option("--layer", help="Layer whose areas are analysed, e.g. grid (for hex: optional, "
                              "its outline bounds the hexagons; use a coarse layer).")
@click.option("--method", type=click.Choice(["rule", "gistar", "hex", "emerging"]),
              default="gistar", show_default=True, help="Hotspot method.")
@click.option("--as-of", "as_of", help="Local date YYYY-MM-DD. Default: the last day on which a "
                                       "problem was reported.")
@click.option("--period", type=click.Choice(["week", "month"]),
              help="Period of 'new' and time step of emerging. Default: [hotspots] period.")
@click.option("--variable", type=click.Choice(["overdue", "open", "new", "overdue_rate"]),
              help="Value per area. Default: overdue (emerging: new).")
@engine_options
@out_option
@json_option
@config_option
@db_option
@user_option
@handle_errors
def hotspots(layer: str | None, method: str, as_of: str | None, period: str | None,
             variable: str | None, engine: str, scheduler: str | None, workers: int | None,
             out_path: Path | None, as_json: bool,
             config_path: Path | None, db_url: str | None, as_user: str | None) -> None:
    """Find hotspots of problems per area and write them as a map layer (GeoJSON, GPKG,
    zipped Shapefile, KML styled by bin/category, CSV by the extension of --out)."""
    from gridwatch.hotspots import summarise
    from gridwatch.output.files import write_layer

    session = open_session(config_path, db_url, as_user, need_config=True,
                           action="read" if out_path is None else "export")
    ctx = session.context()
    if engine == "dask":  # before a cluster starts
        from gridwatch.distributed.questions import check_dask_method

        check_dask_method(method)
    result = ask((engine, scheduler, workers), ctx, session.db_url, "hotspots", layer=layer,
                 method=method, as_of=as_of, variable=variable, period=period)
    timezone = ctx.timezone
    summary = summarise(result)
    if out_path is not None:
        style = "bin" if method in ("gistar", "hex") else "category"
        written = write_layer(result, out_path, style_column=style, timezone=timezone)
        summary["out"] = str(written)
        session.audit("export", what=f"hotspots {method}", layer=layer,
                      format=written.suffix.lstrip("."), file=str(written), rows=len(result))
    if as_json:
        echo_json(summary)
        return
    click.echo(f"{method} on {layer or 'H3 cells'} as of {summary['as_of']} "
               f"({summary['variable']}): {summary['areas']} areas")
    for key, count in summary["counts"].items():
        click.echo(f"  {summary['counts_by']} {key}: {count}")
    for island, neighbour in summary.get("joined_islands", []):
        click.echo(f"  island {island} joined to its nearest area {neighbour}")
    if "out" in summary:
        click.echo(f"written: {summary['out']}")

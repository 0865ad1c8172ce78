"""``gridwatch validate``: compare gridwatch's placement with the area labels of the input."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from gridwatch.cli._options import (
    check_output_path,
    config_option,
    echo_json,
    handle_errors,
    json_option,
    open_config,
    out_option,
)

if TYPE_CHECKING:
    import pandas as pd

    from gridwatch.geocoding.report import GeocodeReport

__all__ = ["validate"]


def _pair(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]):
    pairs = []
    for value in values:
        column, sep, layer = value.partition("=")
        if not sep or not column or not layer:
            raise click.BadParameter(f"{value!r}: write COLUMN=LAYER, e.g. ward=ward")
        pairs.append((column.strip(), layer.strip()))
    return pairs


@click.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--against", "against", multiple=True, callback=_pair,
              metavar="COLUMN=LAYER",
              help="A label column of the input and the layer it names areas of (repeatable; "
                   "optional when [geocoding] is enabled).")
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None,
              help="Write the rows that could not be placed, with their reasons (addresses: "
                   "the best candidates), to this CSV/XLSX file.")
@config_option
@out_option
@json_option
@handle_errors
def validate(files: tuple[Path, ...], against: list[tuple[str, str]],
             rejects_path: Path | None, config_path: Path | None,
             out_path: Path | None, as_json: bool) -> None:
    """Place FILES (nothing is stored) and report how often gridwatch's area agrees with the
    area label each row came with (disagreements get their distance to the named area), and,
    with [geocoding] enabled, what geocoding would do: rows placed from their address per
    source and precision, rows rejected with the candidates named, rows whose address
    disagrees with their coordinates (the grid-mismatch audit)."""
    from gridwatch.errors import ConfigError
    from gridwatch.geocoding.gazetteer import geocode_settings
    from gridwatch.output.files import write_table
    from gridwatch.pipeline import run_validate

    config = open_config(config_path)
    if not against and not geocode_settings(config).enabled:
        raise ConfigError("nothing to validate: give --against COLUMN=LAYER (e.g. "
                          "--against ward=ward), or enable [geocoding] in the project file")
    for path in (out_path, rejects_path):
        if path is not None:
            check_output_path(path, inputs=[*files, config.path])
    checks, disagreements, rejects, geocoding = run_validate(
        files, config=config, against=against,
        progress=None if as_json else (lambda m: click.echo(f"… {m}", err=True)))
    if out_path is not None:
        write_table(disagreements, out_path, timezone=config.territory.timezone)
    if rejects_path is not None:
        write_table(rejects, rejects_path, timezone=config.territory.timezone)
    if as_json:
        echo_json({"checks": [c.to_dict() for c in checks], "rejected": len(rejects),
                   "geocoding": geocoding.to_dict() if geocoding is not None else None})
        return
    for c in checks:
        click.echo(f"{c.column} vs layer {c.layer}: {c.agreement:.2%} agree "
                   f"({c.agree:,} of {c.compared:,}); {c.disagree:,} disagree, "
                   f"{c.no_label:,} without label, {c.unknown_label:,} with a label no area has, "
                   f"{c.unassigned:,} outside the layer")
        if c.median_distance_m is not None:
            click.echo(f"  disagreements: median {c.median_distance_m:,.0f} m from the named "
                       f"area, {c.share_within_50m:.0%} within 50 m")
    if geocoding is not None:
        _echo_geocoding(geocoding, rejects)
    click.echo(f"rows that could not be placed: {len(rejects):,}")
    if out_path is not None:
        click.echo(f"disagreeing rows written to {out_path}")
    if rejects_path is not None:
        click.echo(f"rows not placed written to {rejects_path}")


def _echo_geocoding(report: GeocodeReport, rejects: pd.DataFrame) -> None:
    """What geocoding would do, in lines a person reads."""
    click.echo(f"addresses without coordinates: {report.addresses:,}; placed "
               f"{report.placed_rows:,}, rejected {report.rejected:,}")
    for p in report.placed:
        click.echo(f"  placed at {p.source}: {p.rows:,} (precision median "
                   f"{p.median_precision_m:,.0f} m, at most {p.max_precision_m:,.0f} m)")
    shown = rejects[rejects["column"] == "address"].head(5)
    for row in shown.itertuples(index=False):
        click.echo(f"  rejected: {row.file} row {row.row}: {row.reason}")
    if report.rejected > len(shown):
        click.echo(f"  … and {report.rejected - len(shown):,} more (--rejects PATH writes all)")
    if report.checked:
        click.echo(f"coordinates checked against the address: {report.checked:,}; "
                   f"{report.disagree:,} disagree (grid-mismatch audit; in --out as column "
                   "'address')")

"""``gridwatch validate``: compare gridwatch's placement with the area labels of the input."""

from __future__ import annotations

from pathlib import Path

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
@click.option("--against", "against", multiple=True, required=True, callback=_pair,
              metavar="COLUMN=LAYER",
              help="A label column of the input and the layer it names areas of (repeatable).")
@config_option
@out_option
@json_option
@handle_errors
def validate(files: tuple[Path, ...], against: list[tuple[str, str]], config_path: Path | None,
             out_path: Path | None, as_json: bool) -> None:
    """Place FILES (nothing is stored) and report how often gridwatch's area agrees with the
    area label each row came with; disagreements get their distance to the named area."""
    from gridwatch.output.files import write_table
    from gridwatch.pipeline import run_validate

    config = open_config(config_path)
    if out_path is not None:
        check_output_path(out_path, inputs=[*files, config.path])
    checks, disagreements, rejects = run_validate(
        files, config=config, against=against,
        progress=None if as_json else (lambda m: click.echo(f"… {m}", err=True)))
    if out_path is not None:
        write_table(disagreements, out_path, timezone=config.territory.timezone)
    if as_json:
        echo_json({"checks": [c.to_dict() for c in checks], "rejected": len(rejects)})
        return
    for c in checks:
        click.echo(f"{c.column} vs layer {c.layer}: {c.agreement:.2%} agree "
                   f"({c.agree:,} of {c.compared:,}); {c.disagree:,} disagree, "
                   f"{c.no_label:,} without label, {c.unknown_label:,} with a label no area has, "
                   f"{c.unassigned:,} outside the layer")
        if c.median_distance_m is not None:
            click.echo(f"  disagreements: median {c.median_distance_m:,.0f} m from the named "
                       f"area, {c.share_within_50m:.0%} within 50 m")
    click.echo(f"rows that could not be placed: {len(rejects):,}")
    if out_path is not None:
        click.echo(f"disagreeing rows written to {out_path}")

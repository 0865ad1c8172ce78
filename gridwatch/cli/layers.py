"""``gridwatch layers``: check the boundary layers declared in the project file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from gridwatch.cli._options import config_option, echo_json, handle_errors, json_option, open_config

__all__ = ["layers"]


@click.group()
def layers() -> None:
    """Boundary layers (county, town, grid, micro-grid, basin, redline)."""


@layers.command("check")
@config_option
@json_option
@click.option("--strict", is_flag=True, help="Exit with status 3 when anything is found.")
@handle_errors
def check(config_path: Path | None, as_json: bool, strict: bool) -> None:
    """Report invalid geometries (repaired), overlaps inside a layer, children that do not nest
    in one parent, and duplicate ids."""
    from gridwatch.placing.layers import check_layers

    config = open_config(config_path)
    findings = check_layers(config)
    if as_json:
        echo_json({"findings": [vars(f) for f in findings],
                   "counts": dict(Counter(f"{f.layer}:{f.kind}" for f in findings))})
    else:
        click.echo(f"{len(config.layers)} layer(s) checked: {len(findings)} finding(s)")
        for (layer, kind), n in sorted(Counter((f.layer, f.kind) for f in findings).items()):
            click.echo(f"  {layer}: {n} {kind}")
        for f in findings[:200]:
            click.echo(f"  - {f.layer} {f.area_id}: {f.kind}: {f.detail}")
        if len(findings) > 200:
            click.echo(f"  … and {len(findings) - 200} more (use --json for all)")
    if strict and findings:
        raise SystemExit(3)

"""``gridwatch gazetteer`` and ``gridwatch geocode``: the gazetteer addresses are placed against,
and how well that works on held-out rows."""

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
    open_session,
    user_option,
)

__all__ = ["gazetteer", "geocode"]


@click.group()
def gazetteer() -> None:
    """The gazetteer: area names, address points and earlier problems' addresses."""


@gazetteer.command("build")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, exists=True,
                                                    path_type=Path))
@config_option
@db_option
@click.option("--force", is_flag=True, help="Build even when no source changed.")
@json_option
@user_option
@handle_errors
def build(files: tuple[Path, ...], config_path: Path | None, db_url: str | None, force: bool,
          as_json: bool, as_user: str | None) -> None:
    """Build the gazetteer of the project (kept in [geocoding] gazetteer): the names of the
    areas of its layers, the [geocoding.points] file, and the addresses of earlier problems
    with coordinates, from the store and from FILES. Kept until a source changes."""
    from gridwatch.errors import AccessError
    from gridwatch.geocoding.build import build_project_gazetteer

    # it reads the addresses of every area's problems and serves every later import
    session = open_session(config_path, db_url, as_user, action="import", need_config=True)
    if not session.user.scope.whole:
        raise AccessError(f"user {session.user.name!r} has a scope ({session.user.scope}); the "
                          "gazetteer holds the addresses of every area: it is built by a user "
                          "of the whole territory")
    config = session.config
    assert config is not None
    result = build_project_gazetteer(config, store_url=session.db_url, files=files,
                                     force=force)
    if as_json:
        echo_json({"folder": str(result.folder), "rebuilt": result.rebuilt,
                   "sizes": result.sizes})
        return
    state = "built" if result.rebuilt else "up to date (no source changed)"
    click.echo(f"gazetteer {state}: {result.folder}")
    for source, count in result.sizes.items():
        click.echo(f"  {source}: {count:,}")


@click.group()
def geocode() -> None:
    """Placing addresses without coordinates: measure it on rows that have both."""


@geocode.command("evaluate")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--holdout", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.05, show_default=True,
              help="Share of the rows with an address and coordinates whose coordinates are "
                   "hidden and placed from the address.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random choice of held-out rows.")
@config_option
@json_option
@handle_errors
def evaluate(files: tuple[Path, ...], holdout: float, seed: int, config_path: Path | None,
             as_json: bool) -> None:
    """Hide the coordinates of a share of the rows of FILES that have both, place them from
    their address against the rest, and report match rate, error distances and area
    agreement per layer next to a simple baseline (exact address seen before, else the
    median of the same street in the same postcode or town)."""
    from gridwatch.geocoding.evaluate import PERCENTILES, evaluate_holdout
    from gridwatch.ingest.records import read_issues
    from gridwatch.placing.layers import load_layers

    config = open_config(config_path)
    result = read_issues(files, settings=config.input, timezone=config.territory.timezone)
    report = evaluate_holdout(result.records, load_layers(config), config, holdout=holdout,
                              seed=seed)
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo(f"{report.matcher.held_out:,} of {report.rows_with_both:,} rows with an address "
               f"and coordinates held out (share {holdout:g}, seed {seed})")
    layers = list(report.matcher.area_agreement)
    header = ["", "placed", *(f"p{p} error" for p in PERCENTILES),
              *(f"same {name}" for name in layers)]
    rows = []
    for figures in (report.matcher, report.baseline):
        rows.append([figures.method, f"{figures.match_rate:.1%}",
                     *(_metres(figures.error_m[p]) for p in PERCENTILES),
                     *(f"{figures.area_agreement[name]:.1%}" for name in layers)])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, *rows]:
        click.echo("  ".join(str(v).rjust(w) for v, w in zip(line, widths, strict=True)))
    click.echo("placed by: " + ", ".join(f"{k} {v:,}" for k, v in
                                         report.matcher.by_source.items()))
    worse = [k for k, ok in report.not_worse().items() if not ok]
    click.echo("the matcher does at least as well as the baseline on every figure" if not worse
               else "the baseline does better on: " + ", ".join(worse))


def _metres(value: float | None) -> str:
    return "not reached" if value is None else f"{value:,.0f} m"

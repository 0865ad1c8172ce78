"""``gridwatch plan``: a field plan for teams and days (routes, offline packages), and
``gridwatch plan results``: what the teams found, back into the store."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from gridwatch.cli._options import (
    config_option,
    db_option,
    echo_json,
    handle_errors,
    json_option,
    open_session,
    user_option,
)
from gridwatch.cli._table import plain_table

__all__ = ["plan"]


def _folder(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    if value is not None and value.exists() and not value.is_dir():
        raise click.UsageError(f"--out {str(value)!r} is a file; give a folder for the "
                               "packages", ctx=ctx)
    return value


@click.group(invoke_without_command=True)
@click.option("--teams", type=click.IntRange(1, 50), default=1, show_default=True,
              help="Number of teams.")
@click.option("--days", type=click.IntRange(1, 14), default=1, show_default=True,
              help="Working days of each team.")
@click.option("--start", "starts", multiple=True,
              help="Base of the teams: a name of [[plan.bases]], an admin area's name or id, "
                   "or 'lon,lat' ([input] crs). Repeat it to give each team its own base.")
@click.option("--as-of", "as_of", help="Local date YYYY-MM-DD. Default: the last export.")
@click.option("--layer", help="Layer of --area, e.g. county or town.")
@click.option("--area", help="Plan only the problems of this area (id or name) of --layer.")
@click.option("--roads", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Road network (GeoPackage of lines): distances along it instead of "
                   "straight lines times [plan] detour_factor.")
@click.option("--no-hotspots", is_flag=True,
              help="Leave the Gi* and emerging-hotspot terms out (saves their computation).")
@click.option("--out", "out_dir", type=click.Path(file_okay=True, path_type=Path),
              callback=_folder, help="Folder for the field packages (one per team-day), "
                                     "plan.xlsx and plan.json.")
@click.option("--zip", "zip_packages", is_flag=True, help="One zip per team-day package.")
@click.option("--photos", "photos_dir", type=click.Path(exists=True, file_okay=False,
                                                         path_type=Path),
              help="Folder of the problems' photos (<issue_id>.jpg, <issue_id>_2.png ...), "
                   "inlined in the offline maps.")
@click.option("--coordinates", type=click.Choice(["wgs84", "gcj02"]), default="wgs84",
              show_default=True, help="Coordinates of KML/GPX: wgs84 (GPS) or gcj02 "
                                      "(高德/腾讯 and other Chinese map apps).")
@json_option
@config_option
@db_option
@user_option
@click.pass_context
@handle_errors
def plan(ctx: click.Context, teams: int, days: int, starts: tuple[str, ...],
         as_of: str | None, layer: str | None, area: str | None, roads: Path | None,
         no_hotspots: bool, out_dir: Path | None, zip_packages: bool,
         photos_dir: Path | None, coordinates: str,
         as_json: bool, config_path: Path | None, db_url: str | None,
         as_user: str | None) -> None:
    """Plan field inspections: pick the sites that fit the teams' working days, order each
    team-day as a route from its base and back (OR-Tools), compare with a naive plan, and
    write one offline package per team-day (map, KML, GPX, checklist)."""
    if ctx.invoked_subcommand is not None:
        return
    from gridwatch.errors import ConfigError
    from gridwatch.planning.plan import make_plan, plan_summary
    from gridwatch.planning.results import field_counts
    from gridwatch.store import Store

    if not starts:
        raise ConfigError("--start is required: the teams' base (a name of [[plan.bases]], an "
                          "admin area, or 'lon,lat')")
    # packages list the problems with their descriptions: writing them is an export
    session = open_session(config_path, db_url, as_user,
                           action="export" if out_dir is not None else "read", need_config=True)
    context = session.context()  # only the problems of the user's areas are planned
    with Store(session.db_url) as store:
        counts = field_counts(store.field_results())
    field_plan = make_plan(context, teams=teams, days=days, starts=list(starts), as_of=as_of,
                           layer=layer, area=area, road_network=roads,
                           field_counts=counts, hotspots=not no_hotspots)
    summary = plan_summary(field_plan)
    if out_dir is not None:
        from gridwatch.planning.package import write_packages

        written = write_packages(field_plan, out_dir, coordinates=coordinates,
                                 zip_packages=zip_packages, photos_dir=photos_dir)
        summary["packages"] = [str(p) for p in written]
        session.audit("export", format="field package", file=str(out_dir),
                      rows=int(field_plan.routes["problems"].sum())
                      if "problems" in field_plan.routes else 0)
    if as_json:
        summary["routes"] = field_plan.routes.to_dict(orient="records")
        echo_json(summary)
        return
    click.echo(f"plan as of {summary['as_of']}: {teams} team(s) x {days} day(s); "
               f"{summary['candidate_sites']} candidate sites, priority "
               f"{summary['candidate_priority']:g}")
    keys = ("sites", "problems", "priority", "km", "minutes")
    side = pd.DataFrame({"": list(keys),
                         "OR-Tools": [f"{summary['optimised'][k]:g}" for k in keys],
                         "naive": [f"{summary['naive'][k]:g}" for k in keys]})
    click.echo(plain_table(side))
    routes = field_plan.routes.drop(columns=["site_ids"])
    for column, digits in (("priority", 1), ("km", 1), ("minutes", 0)):
        routes[column] = routes[column].map(lambda v, d=digits: f"{v:.{d}f}")
    click.echo(plain_table(routes))
    for note in summary["notes"]:
        click.echo(f"note: {note}")
    if summary["time_limit_reached"]:
        click.echo("note: the route search stopped at [plan] solver_seconds; a longer limit "
                   "may find better routes (and runs may then differ)")
    for package in summary.get("packages", []):
        click.echo(f"written: {package}")


@plan.command("results")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@config_option
@db_option
@user_option
@handle_errors
def results(file: Path, as_json: bool, config_path: Path | None, db_url: str | None,
            as_user: str | None) -> None:
    """Import a filled checklist: 已整改 closes or verifies, 未整改 reopens or escalates,
    反弹 reopens and counts a rebound, 未找到 is kept; every result is kept in the store."""
    from dataclasses import asdict

    from gridwatch.errors import AccessError
    from gridwatch.planning.results import import_results
    from gridwatch.store import Store

    session = open_session(config_path, db_url, as_user, action="import", need_config=True)
    if not session.user.scope.whole:  # results name problems by id, of any area
        raise AccessError(f"user {session.user.name!r} has a scope ({session.user.scope}); "
                          "field results are imported by a user of the whole territory")
    config = session.config
    assert config is not None
    with Store(session.db_url) as store:
        summary = import_results(file, store=store, layers=config.layers,
                                 timezone=config.territory.timezone)
    session.audit("import", file=str(file), run=summary.run_id)
    if as_json:
        echo_json(asdict(summary))
        return
    click.echo(f"run {summary.run_id}: {summary.rows} checked problem(s); "
               + ", ".join(f"{k} {v}" for k, v in summary.results.items()))
    click.echo("  " + ", ".join(f"{k} {v}" for k, v in summary.actions.items() if k != "none")
               + f"; status changes {summary.status_changes}")

"""``gridwatch patches``: satellite patches (卫星图斑) — import, list, on-site check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

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
from gridwatch.errors import AccessError, ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["patches"]


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date; write YYYY-MM-DD") from None


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [dict(row) for row in clean.to_dict(orient="records")]


@click.group()
def patches() -> None:
    """Satellite patches (卫星图斑): import polygons, list them with their areas and redline
    overlaps, record the on-site check (a confirmed patch becomes a problem)."""


@patches.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--crs", help="Coordinate system of the file's numbers: wgs84, cgcs2000, gcj02, "
                            "bd09 or EPSG:n. Default: the projected CRS the file declares, "
                            "else wgs84.")
@click.option("--id-field", help="Field holding the patch id (default: 图斑编号, 编号, id...).")
@click.option("--layer", "source_layer", help="Layer inside a GeoPackage or KML with several.")
@json_option
@config_option
@db_option
@user_option
@handle_errors
def import_(file: Path, crs: str | None, id_field: str | None, source_layer: str | None,
            as_json: bool, config_path: Path | None, db_url: str | None,
            as_user: str | None) -> None:
    """Read a patch file (GeoJSON, GeoPackage, Shapefile, KML) and store each patch with its
    area, the areas it falls in and its overlap with redline and drinking-water zones
    (hectares and share, in the project's metric CRS). Patches already stored keep their
    check."""
    from gridwatch.patches import import_patch_file
    from gridwatch.store import Store

    session = open_session(config_path, db_url, as_user, action="import", need_config=True)
    if not session.user.scope.whole:
        raise AccessError(f"user {session.user.name!r} has a scope ({session.user.scope}); "
                          "patch files cover the whole territory and are imported by users of "
                          "the whole territory")
    assert session.config is not None
    with Store(session.db_url) as store:
        result = import_patch_file(file, config=session.config, store=store, crs=crs,
                                   id_field=id_field, layer=source_layer)
    session.audit("import", what="patches", file=str(file), rows=result.patches)
    if as_json:
        echo_json({"file": result.file, "patches": result.patches,
                   "inserted": result.inserted, "updated": result.updated,
                   "area_ha": round(result.area_ha, 4), "in_protected": result.in_protected})
        return
    click.echo(f"{file}: {result.patches} patches ({result.inserted} new, {result.updated} "
               f"updated), {result.area_ha:,.2f} ha; {result.in_protected} overlap a redline "
               "or drinking-water zone")


@patches.command("list")
@click.option("--status", type=click.Choice(["suspected", "confirmed", "false_positive"]),
              help="Only patches of this status.")
@click.option("--by", "by_layer", help="Count per area of this layer instead of listing.")
@out_option
@json_option
@config_option
@db_option
@user_option
@handle_errors
def list_(status: str | None, by_layer: str | None, out_path: Path | None, as_json: bool,
          config_path: Path | None, db_url: str | None, as_user: str | None) -> None:
    """List the stored patches of your areas: id, status, category, hectares, the area each
    falls in, share and hectares inside redline/drinking-water zones, the problem it became;
    with --by LAYER, counts per area (suspected, confirmed, false positive)."""
    from gridwatch.patches import patch_counts, patch_list
    from gridwatch.store import Store

    session = open_session(config_path, db_url, as_user,
                           action="export" if out_path is not None else "read")
    with Store(session.db_url) as store:
        table = patch_list(store, session.config, scope=session.user.scope, status=status)
    if by_layer is not None:
        table = patch_counts(table, by=by_layer)
    else:
        table = table.drop(columns=["geometry_wkt", "imported_at"])
    if out_path is not None:
        from gridwatch.output.files import write_table

        write_table(table, out_path)
        session.audit("export", what="patches", file=str(out_path), rows=len(table))
        click.echo(f"wrote {len(table)} rows to {out_path}")
        return
    if as_json:
        echo_json(_records(table))
        return
    if by_layer is not None:
        click.echo(table.to_string(index=False))
        return
    if table.empty:
        click.echo("no patches" + (f" with status {status}" if status else ""))
        return
    shares = [c for c in table.columns if c.endswith("_share")]
    for row in table.itertuples(index=False):
        record = row._asdict()
        inside = ", ".join(f"{c[:-6]} {record[c]:.0%} ({record[c[:-6] + '_ha']:.2f} ha)"
                           for c in shares if record[c] > 0)
        linked = f" -> {record['issue_id']}" if isinstance(record["issue_id"], str) else ""
        click.echo(f"{record['patch_id']}\t{record['status']}{linked}\t{record['category']}\t"
                   f"{record['area_ha']:.2f} ha" + (f"\tinside {inside}" if inside else ""))


@patches.command("check")
@click.argument("patch_id")
@click.option("--confirmed", "status", flag_value="confirmed",
              help="The on-site check found the problem: a problem is created (or linked "
                   "with --issue).")
@click.option("--false-positive", "status", flag_value="false_positive",
              help="Nothing to rectify on site (误判).")
@click.option("--suspected", "status", flag_value="suspected",
              help="Undo a check: the patch is suspected again (the check stays on record).")
@click.option("--on", "checked_on", help="Local day of the check, YYYY-MM-DD (default today).")
@click.option("--inspector", help="Who checked on site.")
@click.option("--note", help="What was found.")
@click.option("--issue", "issue_id", help="Link the confirmed patch to this stored problem "
                                          "instead of creating one.")
@click.option("--deadline", help="Deadline of the problem created, YYYY-MM-DD.")
@click.option("--unit", help="Responsible unit of the problem created.")
@config_option
@db_option
@user_option
@handle_errors
def check(patch_id: str, status: str | None, checked_on: str | None, inspector: str | None,
          note: str | None, issue_id: str | None, deadline: str | None, unit: str | None,
          config_path: Path | None, db_url: str | None, as_user: str | None) -> None:
    """Record the on-site check of a patch: --confirmed (a problem of source satellite is
    created through the normal import, so deadlines, history and acceptance apply) or
    --false-positive. Only patches of your areas."""
    from gridwatch.patches import check_patch
    from gridwatch.store import Store

    if status is None:
        raise ConfigError("say what the check found: --confirmed or --false-positive")
    if issue_id is not None and status != "confirmed":
        raise ConfigError("--issue links a confirmed patch; add --confirmed")
    session = open_session(config_path, db_url, as_user, action="import", need_config=True)
    assert session.config is not None
    day = _date(checked_on, "--on") or dt.datetime.now(dt.UTC).date()
    with Store(session.db_url) as store:
        linked = check_patch(store, session.config, patch_id, status=status, checked_on=day,
                             inspector=inspector, note=note, issue_id=issue_id,
                             deadline=_date(deadline, "--deadline"), unit=unit,
                             actor=session.user.name, scope=session.user.scope)
    session.audit("import", what="patch check", patch=patch_id, status=status, issue=linked)
    click.echo(f"patch {patch_id}: {status}" + (f"; problem {linked}" if linked else ""))

"""``gridwatch export``: write stored data to files for people and GIS."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from gridwatch.cli._options import (
    Session,
    config_option,
    db_option,
    handle_errors,
    open_config,
    open_session,
    out_option,
    resolve_db_url,
    user_option,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["export"]



@click.group()
def export() -> None:
    """Write stored problems to CSV, XLSX, GeoJSON, GeoPackage, Shapefile or KML."""


@export.command("issues")
@out_option
@db_option
@config_option
@click.option("--format", "fmt", metavar="csv|xlsx|geojson|gpkg|kml|shp",
              help="Output format; default from the --out extension (shp: a zipped Shapefile).")
@click.option("--placed-by", "placed_by", multiple=True,
              type=click.Choice(["by_coordinates", "by_grid", "by_address"]),
              help="Only problems placed this way (repeatable): their coordinates, their "
                   "reported grid, their address (location_flag geocoded).")
@click.option("--max-precision-m", type=click.FloatRange(min=0), default=None,
              help="Leave out problems placed from an address less precisely than this "
                   "(precision radius in metres).")
@click.option("--matched-at", "matched_at", multiple=True,
              type=click.Choice(["address_point", "history", "road", "area"]),
              help="Only problems placed from an address matched at this source of the "
                   "gazetteer (repeatable): an address point, an earlier problem's address, a "
                   "road, an area (village, town, grid).")
@click.option("--min-score", type=click.FloatRange(min=0, max=100), default=None,
              help="Leave out problems placed from an address by a match scoring below this "
                   "(geocode_score, 0-100).")
@user_option
@handle_errors
def issues(out_path: Path | None, db_url: str | None, config_path: Path | None,
           fmt: str | None, placed_by: tuple[str, ...], max_precision_m: float | None,
           matched_at: tuple[str, ...], min_score: float | None,
           as_user: str | None) -> None:
    """Write the stored problems: canonical columns, WGS84 lon/lat, how each was placed
    (location_flag; from an address: location_precision_m, geocode_source, geocode_score;
    address_offset_m when the address disagrees with the coordinates), the area id in every
    layer and the redline flags and distances. Times are shown in the territory's zone."""
    from gridwatch.errors import ConfigError
    from gridwatch.geocoding.records import placement_mask
    from gridwatch.output.files import export_issues

    if out_path is None:
        raise ConfigError("--out PATH is required (e.g. --out issues.xlsx)")
    session, frame, timezone = _stored_issues(db_url, config_path, as_user)
    if placed_by or max_precision_m is not None or matched_at or min_score is not None:
        frame = frame[placement_mask(frame, placed_by=placed_by,
                                     max_precision_m=max_precision_m, matched_at=matched_at,
                                     min_score=min_score)].reset_index(drop=True)
    written = export_issues(frame, out_path, format=fmt, timezone=timezone)
    session.audit("export", what="issues", format=fmt or written.suffix.lstrip("."),
                  file=str(written), rows=len(frame))
    click.echo(f"wrote {len(frame):,} problems to {written}")


@export.command("open311")
@out_option
@db_option
@config_option
@user_option
@handle_errors
def open311(out_path: Path | None, db_url: str | None, config_path: Path | None,
            as_user: str | None) -> None:
    """Write the stored problems as Open311 GeoReport v2 service requests (a JSON array), so
    311 dashboards and tools can read them."""
    from gridwatch.errors import ConfigError
    from gridwatch.output.open311 import write_open311

    if out_path is None:
        raise ConfigError("--out PATH is required (e.g. --out requests.json)")
    session, frame, timezone = _stored_issues(db_url, config_path, as_user)
    written = write_open311(frame, out_path, timezone=timezone)
    session.audit("export", what="open311", format="json", file=str(written), rows=len(frame))
    click.echo(f"wrote {len(frame):,} service requests to {written}")


def _stored_issues(db_url: str | None, config_path: Path | None, as_user: str | None,
                   ) -> tuple[Session, pd.DataFrame, str]:
    """The stored problems in the acting user's scope (through the supervision context, the
    one place a scope chooses rows) and the territory's time zone."""
    from gridwatch.errors import StoreError

    has_config = config_path is not None or Path("gridwatch.toml").is_file()
    config = open_config(config_path) if has_config else None
    _require_sqlite_file(resolve_db_url(db_url, config), StoreError)  # before it is opened
    session = open_session(config_path, db_url, as_user, action="export")
    ctx = session.context()
    return session, ctx.issues.reset_index(drop=True), ctx.timezone


def _require_sqlite_file(url: str, error: type[Exception]) -> None:
    """Refuse to export from a SQLite file that does not exist (opening would create it empty)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        path = Path(url[len(prefix):].split("?", 1)[0])
        if not path.is_file():
            raise error(f"no store at {path}: run `gridwatch ingest` first, or pass --db URL")


@export.command("public")
@out_option
@click.option("--area", help="Only this area: LAYER:ID (e.g. county:330402), or an id or name "
                             "of an area in any layer.")
@click.option("--as-of", "as_of", help="Day overdue is judged on, YYYY-MM-DD (default: the "
                                       "last export).")
@click.option("--title", help="Heading of the list (default: <area> 生态环境问题整改公示).")
@db_option
@config_option
@user_option
@handle_errors
def public(out_path: Path | None, area: str | None, as_of: str | None, title: str | None,
           db_url: str | None, config_path: Path | None, as_user: str | None) -> None:
    """Write the rectification progress list for publication (整改公示) as HTML or XLSX: per
    problem its category, street or town, deadline, status and day closed — no names, phone
    numbers, addresses or descriptions unless [public] columns allows a column."""
    from gridwatch.errors import ConfigError
    from gridwatch.output.public import publication

    if out_path is None:
        raise ConfigError("--out PATH is required (e.g. --out 公示.html or --out 公示.xlsx)")
    session = open_session(config_path, db_url, as_user, action="export", need_config=True)
    written, rows = publication(session.context(), out_path, area=area, as_of=as_of,
                                title=title)
    session.audit("export", what="public", format=written.suffix.lstrip("."),
                  file=str(written), rows=rows)
    click.echo(f"wrote {rows:,} problems to {written}")

"""Declarations of the satellite-patch tables (:mod:`gridwatch.store.patches`)."""

from __future__ import annotations

import sqlalchemy as sa

__all__: list[str] = []

#: Statuses of a patch: found on the images, then checked on site.
PATCH_STATUSES: tuple[str, ...] = ("suspected", "confirmed", "false_positive")


def patch_tables(metadata: sa.MetaData, *, postgis: bool) -> dict[str, sa.Table]:
    """``patches`` (one row per patch, its outline as WKT; PostGIS adds ``geom``),
    ``patch_overlaps`` (m² of each patch in each area of each layer) and ``patch_checks`` (every
    on-site check, never overwritten). Dates are local calendar dates."""
    statuses = ", ".join(f"'{s}'" for s in PATCH_STATUSES)
    columns: list[sa.schema.SchemaItem] = [
        sa.Column("patch_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("found_on", sa.Date),
        sa.Column("note", sa.Text),
        sa.Column("source_file", sa.Text, nullable=False),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("geometry_wkt", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="suspected"),
        sa.Column("checked_on", sa.Date),
        sa.Column("inspector", sa.Text),
        sa.Column("check_note", sa.Text),
        sa.Column("issue_id", sa.Text),
        sa.Column("imported_at", sa.DateTime, nullable=False),
        sa.CheckConstraint(f"status IN ({statuses})", name="ck_patches_status"),
    ]
    if postgis:
        from geoalchemy2 import Geometry

        columns.append(sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=True)))
    patches = sa.Table("patches", metadata, *columns)
    overlaps = sa.Table(
        "patch_overlaps", metadata,
        sa.Column("patch_id", sa.Text, sa.ForeignKey(patches.c.patch_id, ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("layer", sa.Text, primary_key=True),
        sa.Column("area_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("overlap_m2", sa.Float, nullable=False),
    )
    checks = sa.Table(
        "patch_checks", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("patch_id", sa.Text, sa.ForeignKey(patches.c.patch_id, ondelete="CASCADE"),
                  nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("checked_on", sa.Date, nullable=False),
        sa.Column("inspector", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("issue_id", sa.Text),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Index("ix_patch_checks_patch", "patch_id"),
    )
    return {"patches": patches, "patch_overlaps": overlaps, "patch_checks": checks}

"""Satellite patches (卫星图斑) in the store: their outlines, overlaps and on-site checks.

An import (:func:`save_patches`) is one transaction: patches are upserted by ``patch_id``
(outline, area and attributes replaced; status and check kept), and the overlaps of every
patch written are replaced. A check (:func:`record_check`) sets a patch's status and appends
a row to ``patch_checks``, so every check stays on record. Outlines are kept as WKT on both
backends; PostGIS also holds them as ``geom geometry(Geometry, 4326)`` with a GiST index.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from gridwatch.errors import ConfigError
from gridwatch.store._patch_tables import PATCH_STATUSES
from gridwatch.store.transactional import Store

__all__ = ["PATCH_STATUSES", "patch_checks", "patch_overlaps", "record_check", "save_patches",
           "stored_patches"]

_STORED = ("patch_id", "name", "category", "found_on", "note", "source_file", "area_m2", "lon",
           "lat", "geometry_wkt", "status", "checked_on", "inspector", "check_note", "issue_id",
           "imported_at")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).replace("\x00", "")
    return text or None


def _day(value: Any) -> dt.date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def save_patches(store: Store, measured: pd.DataFrame, overlaps: pd.DataFrame,
                 wkt: pd.Series | np.ndarray, *, source_file: str) -> dict[str, int]:
    """Store measured patches and their overlaps in one transaction.

    Parameters
    ----------
    store
        The open store.
    measured
        :func:`gridwatch.patches.measure.measure_patches`' first result.
    overlaps
        Its second result.
    wkt
        The patches' outlines as WKT (WGS84), aligned with ``measured``.
    source_file
        The file's name, kept with each patch.

    Returns
    -------
    dict
        ``inserted`` and ``updated`` patch counts.
    """
    t_patches, t_overlaps = store.table("patches"), store.table("patch_overlaps")
    now = _now()
    rows = []
    for (record, shape) in zip(measured.to_dict(orient="records"), list(wkt), strict=True):
        rows.append({"patch_id": str(record["patch_id"]), "name": _text(record.get("name")),
                     "category": str(record.get("category") or "ecology"),
                     "found_on": _day(record.get("found_on")), "note": _text(record.get("note")),
                     "source_file": source_file, "area_m2": float(record["area_m2"]),
                     "lon": float(record["lon"]), "lat": float(record["lat"]),
                     "geometry_wkt": str(shape), "imported_at": now})
    ids = [r["patch_id"] for r in rows]
    with store.write() as conn:
        known = {r[0] for r in conn.execute(sa.select(t_patches.c.patch_id)
                                            .where(t_patches.c.patch_id.in_(ids)))} if ids \
            else set()
        new = [r for r in rows if r["patch_id"] not in known]
        old = [r for r in rows if r["patch_id"] in known]
        if new:
            conn.execute(t_patches.insert(), new)
        for row in old:  # a handful of patches: one statement each
            conn.execute(t_patches.update().where(t_patches.c.patch_id == row["patch_id"])
                         .values({k: v for k, v in row.items() if k != "patch_id"}))
        if ids:
            conn.execute(t_overlaps.delete().where(t_overlaps.c.patch_id.in_(ids)))
        if len(overlaps):
            conn.execute(t_overlaps.insert(), [
                {"patch_id": str(r["patch_id"]), "layer": str(r["layer"]),
                 "area_id": str(r["area_id"]), "kind": str(r["kind"]),
                 "overlap_m2": float(r["overlap_m2"])}
                for r in overlaps.to_dict(orient="records")])
        if store.postgis and ids:
            conn.execute(t_patches.update().where(t_patches.c.patch_id.in_(ids))
                         .values(geom=sa.func.ST_GeomFromText(t_patches.c.geometry_wkt, 4326)))
    return {"inserted": len(new), "updated": len(old)}


def stored_patches(store: Store) -> pd.DataFrame:
    """Every stored patch: the columns of ``patches`` but ``geom``, sorted by id; dates as
    ``datetime64`` (local calendar days)."""
    table = store.table("patches")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(*(table.c[c] for c in _STORED))
                            .order_by(table.c.patch_id)).all()
    frame = pd.DataFrame(rows, columns=list(_STORED))
    for column in ("found_on", "checked_on"):
        frame[column] = pd.to_datetime(frame[column])
    for column in ("area_m2", "lon", "lat"):
        frame[column] = frame[column].astype("float64")
    return frame


def patch_overlaps(store: Store) -> pd.DataFrame:
    """Every stored overlap: ``patch_id, layer, kind, area_id, overlap_m2``."""
    table = store.table("patch_overlaps")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.patch_id, table.c.layer, table.c.kind,
                                      table.c.area_id, table.c.overlap_m2)
                            .order_by(table.c.patch_id, table.c.layer, table.c.area_id)).all()
    frame = pd.DataFrame(rows, columns=["patch_id", "layer", "kind", "area_id", "overlap_m2"])
    return frame.astype({"patch_id": "str", "layer": "str", "kind": "str", "area_id": "str",
                         "overlap_m2": "float64"})


def patch_checks(store: Store) -> pd.DataFrame:
    """Every on-site check, oldest first."""
    table = store.table("patch_checks")
    columns = ["id", "patch_id", "status", "checked_on", "inspector", "note", "issue_id",
               "actor", "recorded_at"]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(*(table.c[c] for c in columns))
                            .order_by(table.c.id)).all()
    frame = pd.DataFrame(rows, columns=columns)
    frame["checked_on"] = pd.to_datetime(frame["checked_on"])
    return frame


def record_check(store: Store, patch_id: str, *, status: str, checked_on: dt.date,
                 inspector: str | None, note: str | None, issue_id: str | None,
                 actor: str) -> None:
    """Set a patch's status after an on-site check and keep the check in ``patch_checks``.

    Raises
    ------
    ConfigError
        Unknown patch or status.
    """
    if status not in PATCH_STATUSES:
        raise ConfigError(f"status {status!r} is not one of {', '.join(PATCH_STATUSES)}")
    t_patches, t_checks = store.table("patches"), store.table("patch_checks")
    with store.write() as conn:
        found = conn.execute(sa.select(t_patches.c.patch_id)
                             .where(t_patches.c.patch_id == patch_id)).scalar()
        if found is None:
            raise ConfigError(f"no patch {patch_id!r} in the store; `gridwatch patches list` "
                              "shows the ids")
        conn.execute(t_patches.update().where(t_patches.c.patch_id == patch_id).values(
            status=status, checked_on=checked_on, inspector=_text(inspector),
            check_note=_text(note), issue_id=_text(issue_id)))
        conn.execute(t_checks.insert().values(
            patch_id=patch_id, status=status, checked_on=checked_on,
            inspector=_text(inspector), note=_text(note), issue_id=_text(issue_id),
            actor=actor, recorded_at=_now()))

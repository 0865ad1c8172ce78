"""Importing patch files into the store, listing them, and recording on-site checks.

A confirmed patch becomes a problem through the store's normal import path
(:meth:`gridwatch.store.Store.import_records`, after :func:`gridwatch.placing.assign.
place_records`): it gets a status history, deadlines, reminders and acceptance like any other
problem. A check may instead link the patch to a problem already stored (``issue_id``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridwatch.access.scope import Scope
from gridwatch.config import Config
from gridwatch.errors import ConfigError
from gridwatch.patches.measure import measure_patches, patch_summary
from gridwatch.patches.read import file_crs, read_patches
from gridwatch.schema import CANONICAL_COLUMNS, DATETIME_COLUMNS
from gridwatch.store.patches import (
    patch_overlaps,
    record_check,
    save_patches,
    stored_patches,
)
from gridwatch.store.transactional import Store

__all__ = ["PatchImport", "check_patch", "import_patch_file", "patch_counts", "patch_list",
           "problem_of_patch"]

#: Prefix of the id of a problem made from a confirmed patch (卫星图斑).
PROBLEM_PREFIX = "WXTB-"


@dataclass(frozen=True)
class PatchImport:
    """What one patch import did."""

    file: str
    patches: int
    inserted: int
    updated: int
    area_ha: float
    #: Patches overlapping a redline or drinking-water zone.
    in_protected: int


def import_patch_file(path: str | os.PathLike[str], *, config: Config, store: Store,
                      crs: str | None = None, id_field: str | None = None,
                      layer: str | None = None,
                      layers: Mapping[str, gpd.GeoDataFrame] | None = None) -> PatchImport:
    """Read a patch file, measure it against the project's layers and store it.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile or KML of polygons.
    config
        The project (its layers and metric CRS).
    store
        The open store.
    crs
        Coordinate system of the file's numbers; default: the one the file declares when it
        is projected, else wgs84 (give ``gcj02`` for exports of Chinese web maps).
    id_field, layer
        See :func:`gridwatch.patches.read.read_patches`.
    layers
        The loaded boundary layers, when at hand.

    Returns
    -------
    PatchImport
    """
    from gridwatch.placing.layers import load_layers, project_metric_crs

    path = Path(path)
    patches = read_patches(path, crs=crs or file_crs(path, layer=layer), id_field=id_field,
                           layer=layer)
    if layers is None:
        layers = load_layers(config)
    inside = shapely.point_on_surface(np.asarray(patches.geometry.array, dtype=object))
    metric = project_metric_crs(config.territory.metric_crs, layers=layers,
                                specs=config.layers, lon=shapely.get_x(inside),
                                lat=shapely.get_y(inside))
    measured, overlaps = measure_patches(patches, layers, config.layers, metric_crs=metric)
    counts = save_patches(store, measured, overlaps, patches.geometry.to_wkt(),
                          source_file=Path(path).name)
    protected = overlaps[overlaps["kind"].isin(("redline", "zone"))]["patch_id"].nunique()
    return PatchImport(file=str(path), patches=len(measured), inserted=counts["inserted"],
                       updated=counts["updated"],
                       area_ha=float(measured["area_m2"].sum()) / 10_000.0,
                       in_protected=int(protected))


def patch_list(store: Store, config: Config | None, *, scope: Scope | None = None,
               status: str | None = None) -> pd.DataFrame:
    """The stored patches with their areas and protected overlaps, in a user's scope.

    Parameters
    ----------
    store
        The open store.
    config
        The project (its layers, in order); ``None``: the layers the overlaps name.
    scope
        Only patches overlapping an area of the scope (``None`` or whole: all).
    status
        Only patches of this status.

    Returns
    -------
    pandas.DataFrame
        :func:`gridwatch.patches.measure.patch_summary` of the stored patches.
    """
    from gridwatch.config import LayerSpec

    patches = stored_patches(store)
    overlaps = patch_overlaps(store)
    if config is not None:
        specs = list(config.layers)
    else:
        kinds = overlaps.drop_duplicates("layer")
        specs = [LayerSpec(name=n, path=Path(), id_field="", kind=k)  # type: ignore[arg-type]
                 for n, k in zip(kinds["layer"], kinds["kind"], strict=True)]
    if scope is not None and not scope.whole:
        inside = overlaps[(overlaps["layer"] == scope.layer)
                          & overlaps["area_id"].isin(scope.areas)]["patch_id"]
        patches = patches[patches["patch_id"].isin(set(inside))]
    if status is not None:
        patches = patches[patches["status"] == status]
    return patch_summary(patches.reset_index(drop=True), overlaps, specs)


def patch_counts(table: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Patches per status (suspected, confirmed, false_positive), hectares, and how many lie
    partly in a protected zone; per area of ``by`` (a layer) when given.

    Parameters
    ----------
    table
        :func:`patch_list`.
    by
        A layer name: one row per area of it (the area holding most of each patch).
    """
    from gridwatch.store.patches import PATCH_STATUSES

    frame = table.copy()
    protected = [c for c in frame.columns if c.endswith("_share")]
    frame["in_protected"] = (frame[protected].to_numpy(dtype=float) > 0).any(axis=1) \
        if protected else False
    keys = [f"{by}_id"] if by else []
    if by and f"{by}_id" not in frame:
        raise ConfigError(f"layer {by!r} is not a layer of the project")
    if not keys:
        frame["_all"] = "all"
        keys = ["_all"]
    rows = []
    for key, group in frame.groupby(keys, dropna=False, sort=True):
        row = {"area": key[0] if isinstance(key, tuple) else key, "patches": len(group)}
        for s in PATCH_STATUSES:
            row[s] = int((group["status"] == s).sum())
        row["area_ha"] = float(group["area_ha"].sum())
        row["in_protected"] = int(group["in_protected"].sum())
        rows.append(row)
    out = pd.DataFrame(rows, columns=["area", "patches", *PATCH_STATUSES, "area_ha",
                                      "in_protected"])
    return out.drop(columns="area") if not by else out.rename(columns={"area": f"{by}_id"})


def problem_of_patch(patch: Mapping[str, object], *, checked_on: dt.date, timezone: str,
                     deadline: dt.date | None = None, unit: str | None = None,
                     issue_id: str | None = None) -> pd.DataFrame:
    """The canonical record (one row) of the problem a confirmed patch becomes.

    Its place is a point inside the patch (WGS84), its source ``satellite``, its status
    ``assigned``, reported on the day of the check (start of the local day) and due at the
    end of ``deadline``'s local day.
    """
    start = pd.Timestamp(checked_on).tz_localize(timezone).tz_convert("UTC")
    due = (pd.Timestamp(deadline).tz_localize(timezone) + pd.Timedelta(days=1)
           - pd.Timedelta(seconds=1)).tz_convert("UTC") if deadline is not None else pd.NaT
    area_ha = float(patch["area_m2"]) / 10_000.0  # type: ignore[arg-type]
    name = patch.get("name")
    text = f"卫星图斑 {patch['patch_id']}，面积 {area_ha:.2f} 公顷，现场核查属实"
    if isinstance(name, str) and name:
        text += f"：{name}"
    values: dict[str, object] = {c: None for c in CANONICAL_COLUMNS}
    values.update({
        "issue_id": issue_id or f"{PROBLEM_PREFIX}{patch['patch_id']}", "reported_at": start,
        "category": patch.get("category") or "ecology", "source": "satellite",
        "description": text, "lon": float(patch["lon"]),  # type: ignore[arg-type]
        "lat": float(patch["lat"]), "coord_system": "wgs84",  # type: ignore[arg-type]
        "status": "assigned", "deadline": due, "closed_at": pd.NaT, "responsible_unit": unit,
        "task_type": "卫星图斑"})
    frame = pd.DataFrame({k: [v] for k, v in values.items()})
    for column in DATETIME_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    for column in ("lon", "lat"):
        frame[column] = frame[column].astype("float64")
    for column in CANONICAL_COLUMNS:
        if column not in DATETIME_COLUMNS and column not in ("lon", "lat"):
            frame[column] = frame[column].astype("str")
    frame["source_file"] = f"patch {patch['patch_id']}"
    frame["source_row"] = np.int64(1)
    return frame


def check_patch(store: Store, config: Config, patch_id: str, *, status: str,
                checked_on: dt.date, inspector: str | None = None, note: str | None = None,
                issue_id: str | None = None, deadline: dt.date | None = None,
                unit: str | None = None, actor: str = "local",
                scope: Scope | None = None) -> str | None:
    """Record the on-site check of a patch; a confirmed patch creates or links its problem.

    Parameters
    ----------
    store, config
        The open store and its project.
    patch_id
        The patch checked.
    status
        ``confirmed`` or ``false_positive`` (``suspected`` undoes a check).
    checked_on
        Local day of the check.
    inspector, note
        Who checked, and what they found.
    issue_id
        Link a confirmed patch to this stored problem instead of creating one.
    deadline, unit
        Deadline (local day) and responsible unit of the problem created.
    actor
        The gridwatch user recording the check.
    scope
        The acting user's scope: a patch outside it is refused.

    Returns
    -------
    str or None
        The id of the problem created or linked (None unless confirmed).

    Raises
    ------
    ConfigError
        Unknown patch, a patch outside the scope, or ``issue_id`` not stored.
    """
    from gridwatch.placing.assign import place_records
    from gridwatch.placing.layers import load_layers

    table = patch_list(store, config, scope=scope)
    hit = table[table["patch_id"] == patch_id]
    if hit.empty:
        where = "" if scope is None or scope.whole else f" within {scope}"
        raise ConfigError(f"no patch {patch_id!r}{where}; `gridwatch patches list` shows "
                          "the ids")
    patch = hit.iloc[0].to_dict()
    linked: str | None = None
    if status == "confirmed":
        if issue_id is not None:
            ids = store.issues()["issue_id"].astype("str")
            if not (ids == issue_id).any():
                raise ConfigError(f"--issue {issue_id!r}: no such problem in the store")
            linked = issue_id
        else:
            record = problem_of_patch(patch, checked_on=checked_on,
                                      timezone=config.territory.timezone, deadline=deadline,
                                      unit=unit)
            placed, _rejects = place_records(record, load_layers(config), config)
            now = dt.datetime.now(dt.UTC)
            store.import_records(placed, layers=config.layers, files=[f"patch {patch_id}"],
                                 rows_in=1, rejected=0, observed_at=now)
            linked = str(record["issue_id"].iloc[0])
    record_check(store, patch_id, status=status, checked_on=checked_on, inspector=inspector,
                 note=note, issue_id=linked, actor=actor)
    return linked

"""The satellite-patch page's view-model: figures, the table and the map layer of patches
(:mod:`gridwatch.patches`), user text escaped."""

from __future__ import annotations

from collections.abc import Sequence

import folium
import geopandas as gpd
import pandas as pd
import shapely

from gridwatch.store.patches import PATCH_STATUSES
from gridwatch.ui import maps as mapping
from gridwatch.ui.i18n import code_label, tr

__all__ = ["STATUS_COLOURS", "add_patch_layers", "patch_figures", "patch_shapes",
           "patch_table"]

#: Colour of each patch status on the map.
STATUS_COLOURS: dict[str, str] = {"suspected": "#ff8c00", "confirmed": "#cc0000",
                                  "false_positive": "#808080"}


def patch_figures(table: pd.DataFrame) -> dict[str, float]:
    """Patches per status, in protected zones, and hectares (the page's metrics)."""
    shares = [c for c in table.columns if c.endswith("_share")]
    protected = (table[shares].fillna(0).to_numpy(dtype=float) > 0).any(axis=1) \
        if shares and len(table) else []
    out: dict[str, float] = {"patches": len(table)}
    for status in PATCH_STATUSES:
        out[status] = int((table["status"] == status).sum())
    out["in_protected"] = int(sum(protected))
    out["area_ha"] = float(table["area_ha"].sum()) if len(table) else 0.0
    return out


def patch_table(table: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The rows shown: id, name, status, category, hectares, areas, protected shares, the
    problem it became (the page shows them as text)."""
    keep = ["patch_id", "name", "status", "category", "area_ha",
            *[c for c in table.columns if c.endswith("_id") and c not in ("patch_id",
                                                                         "issue_id")],
            *[c for c in table.columns if c.endswith(("_share", "_ha")) and c != "area_ha"],
            "checked_on", "inspector", "issue_id"]
    shown = table[[c for c in keep if c in table]].copy()
    shown["status"] = shown["status"].map(lambda s: tr(s, lang))
    shown["category"] = shown["category"].map(lambda c: code_label(c, lang))
    return shown


def patch_shapes(table: pd.DataFrame, lang: str = "zh") -> gpd.GeoDataFrame:
    """The patches as WGS84 polygons with a label (id, name, status, hectares, share in
    protected zones) for the map."""
    shares = [c for c in table.columns if c.endswith("_share")]
    labels = []
    for row in table.to_dict(orient="records"):
        parts = [str(row["patch_id"]), str(row.get("name") or ""), tr(row["status"], lang),
                 f"{row['area_ha']:.2f} ha"]
        parts += [f"{code_label(c[:-6], lang)} {row[c]:.0%}" for c in shares
                  if (row.get(c) or 0) > 0]
        labels.append(" · ".join(p for p in parts if p))
    geometry = shapely.from_wkt(table["geometry_wkt"].to_numpy(dtype=object)) \
        if len(table) else []
    return gpd.GeoDataFrame({"status": table["status"].to_numpy(), "label": labels},
                            geometry=list(geometry), crs="EPSG:4326")


def add_patch_layers(fmap: folium.Map, shapes: gpd.GeoDataFrame, *, lang: str = "zh",
                     statuses: Sequence[str] = PATCH_STATUSES) -> None:
    """One toggle layer per status (labels escaped by :func:`gridwatch.ui.maps.add_overlay`)."""
    for status in statuses:
        part = shapes[shapes["status"] == status]
        if len(part):
            mapping.add_overlay(fmap, part, name=f"{tr('patches', lang)}: {tr(status, lang)}",
                                label_column="label", colour=STATUS_COLOURS[status],
                                fill_opacity=0.35)

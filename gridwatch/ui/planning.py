"""The planning page's view-model: the plan's map with the emerging hotspot categories, the
rebound and repeat-complaint points, and the grid-mismatch audit.

Pure functions over the supervision context and a :class:`gridwatch.planning.plan.FieldPlan`;
the Streamlit page (``app_pages/plan.py``) only draws what they return.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gridwatch.output.palette import EMERGING_COLOURS

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

    from gridwatch.planning.plan import FieldPlan
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["attention_points", "emerging_legend", "grid_mismatch_audit", "planning_map"]


def emerging_legend(categories: pd.Series | None = None) -> dict[str, str]:
    """Legend entries (Chinese label → colour) of the emerging categories present (all when
    ``categories`` is None), in the palette's order."""
    from gridwatch.hotspots.emerging import EMERGING_LABELS

    present = set(categories.astype("str")) if categories is not None else set(EMERGING_COLOURS)
    return {EMERGING_LABELS[c]: colour for c, colour in EMERGING_COLOURS.items()
            if c in present}


def attention_points(context: SupervisionContext, evaluated: pd.DataFrame,
                     keep: pd.Series | np.ndarray | None = None, *,
                     limit: int = 2000) -> pd.DataFrame:
    """Open problems that repeat a closed one (rebound, 回头看) or were reported more than once
    (repeat complaints), most overdue first.

    Returns
    -------
    pandas.DataFrame
        ``issue_id``, ``lon``, ``lat``, ``kind`` (``rebound``, ``repeat`` or ``both``),
        ``rebound_of``, ``reports``, ``code``, ``description``.
    """
    issues = context.issues
    rebound = context.rebounds["rebound"].to_numpy(dtype=bool)
    from gridwatch.planning.plan import incidents_of

    size = incidents_of(context)["incident_size"].to_numpy(dtype="int64")
    mask = (rebound | (size > 1)) & evaluated["is_open"].to_numpy(dtype=bool)
    if keep is not None:
        mask = mask & np.asarray(keep, dtype=bool)
    rows = np.flatnonzero(mask)
    late = np.nan_to_num(evaluated["days_overdue"].to_numpy(dtype="float64")[rows], nan=0.0)
    rows = rows[np.argsort(-late, kind="stable")][:limit]
    kind = np.where(rebound[rows] & (size[rows] > 1), "both",
                    np.where(rebound[rows], "rebound", "repeat"))
    return pd.DataFrame({
        "issue_id": issues["issue_id"].to_numpy()[rows],
        "lon": issues["lon"].to_numpy()[rows], "lat": issues["lat"].to_numpy()[rows],
        "kind": kind, "rebound_of": context.rebounds["rebound_of"].to_numpy()[rows],
        "reports": size[rows], "code": evaluated["code"].to_numpy()[rows],
        "description": issues["description"].to_numpy()[rows],
    })


def grid_mismatch_audit(context: SupervisionContext,
                        keep: pd.Series | np.ndarray | None = None) -> pd.DataFrame:
    """Problems whose reported grid is not the grid their point lies in, or whose address
    places them far from their coordinates, most recent first: ``issue_id``, ``reported_at``,
    ``reported_grid``, the spatial grid (``<grid>_id``), ``address``, ``address_offset_m``
    (metres from the coordinates to the place the address names; NaN for a grid mismatch
    only), ``responsible_unit``, ``description``."""
    issues = context.issues
    config = context.config
    grids = config.layers_of_kind("grid", "microgrid") if config is not None else ()
    mask = issues["grid_mismatch"].to_numpy(dtype=bool) if "grid_mismatch" in issues else \
        np.zeros(len(issues), dtype=bool)
    if keep is not None:
        mask = mask & np.asarray(keep, dtype=bool)
    columns = ["issue_id", "reported_at", "reported_grid",
               *(f"{s.name}_id" for s in grids if f"{s.name}_id" in issues),
               *(c for c in ("address", "address_offset_m") if c in issues),
               "responsible_unit", "description"]
    table = issues.loc[mask, columns]
    return table.sort_values(["reported_at", "issue_id"], ascending=[False, True],
                             kind="stable").reset_index(drop=True)


def planning_map(plan: FieldPlan | None, *, context: SupervisionContext,
                 areas: gpd.GeoDataFrame | None = None,
                 emerging: pd.DataFrame | None = None,
                 points: pd.DataFrame | None = None, base_url: str = "assets",
                 labels: Mapping[str, str] | None = None) -> folium.Map:
    """The planning map: the emerging category of each area with a pattern (coloured, with a
    legend), rebound and repeat-complaint points, and the plan's routes with numbered sites.

    Parameters
    ----------
    plan
        The plan (routes drawn) or ``None``.
    areas, emerging
        The layer's areas (WGS84) and :func:`run_hotspots` ``method="emerging"`` on them.
    points
        :func:`attention_points`.
    labels
        Names of the map's layers (``emerging``, ``points``), for the language shown.
    """
    import folium

    from gridwatch.hotspots.emerging import EMERGING_LABELS
    from gridwatch.planning.package import plan_map
    from gridwatch.ui.maps import add_legend, escape_text, make_map

    names = {"emerging": "新兴热点", "points": "反弹与重复投诉", **(labels or {})}
    if plan is not None:
        fmap = plan_map(plan, base_url=base_url)
    else:
        bounds = (areas.total_bounds if areas is not None and len(areas) else
                  [context.issues["lon"].min(), context.issues["lat"].min(),
                   context.issues["lon"].max(), context.issues["lat"].max()])
        fmap = make_map(bounds, base_url=base_url, prefer_canvas=False)
    if areas is not None and emerging is not None:
        category = emerging.set_index(emerging["area_id"].astype("str"))["category"]
        shown = areas.assign(category=areas["area_id"].astype("str").map(category))
        shown = shown[shown["category"].notna() & (shown["category"] != "no_pattern")]
        if len(shown):
            frame = shown[["area_id", "area_name", "category", "geometry"]].copy()
            frame["label"] = [escape_text(f"{n} {EMERGING_LABELS.get(c, c)}")
                              for n, c in zip(frame["area_name"], frame["category"],
                                              strict=True)]
            frame["colour"] = frame["category"].map(EMERGING_COLOURS).fillna("#d9d9d9")
            frame = frame.drop(columns=["area_id", "area_name"])
            folium.GeoJson(
                frame.to_json(), name=escape_text(names["emerging"]),
                style_function=lambda f: {"fillColor": f["properties"]["colour"],
                                          "color": "#555", "weight": 1, "fillOpacity": 0.55},
                tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
            ).add_to(fmap)
            add_legend(fmap, names["emerging"], emerging_legend(shown["category"]))
    if points is not None and len(points):
        group = folium.FeatureGroup(name=escape_text(names["points"]))
        colours = {"rebound": "#7b3294", "repeat": "#e66101", "both": "#000000"}
        for row in points.itertuples(index=False):
            text = (f"<b>{escape_text(row.issue_id)}</b> {escape_text(row.kind)}"
                    + (f" ← {escape_text(row.rebound_of)}" if isinstance(row.rebound_of, str)
                       else "")
                    + f"<br>{escape_text(row.description)}")
            folium.CircleMarker([float(row.lat), float(row.lon)], radius=5, weight=2,
                                color=colours[str(row.kind)], fill=True, fill_opacity=0.6,
                                popup=folium.Popup(text, max_width=300)).add_to(group)
        group.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap

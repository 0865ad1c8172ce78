"""The overview map and the export buttons (Streamlit side; the work is in gridwatch)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import streamlit as st

from app_pages._shared import (
    BASE_URL,
    Context,
    audited_bytes,
    file_bytes,
    layer,
    outlines,
    selection,
    view_layer,
)
from gridwatch.errors import GridwatchError
from gridwatch.output.palette import HOTSPOT_OUTLINE, OVERDUE_RAMP
from gridwatch.ui import maps as mapping
from gridwatch.ui import views
from gridwatch.ui.i18n import code_label, tr

#: From this many outlines on, a map draws its areas on one canvas instead of SVG paths: the
#: 4,649 grids of a city drew 1.4 times faster in Chromium (benchmarks/bench_map_renderer.py).
CANVAS_FROM = 1000
LAYER_FORMATS = {"GeoPackage (.gpkg)": ".gpkg", "GeoJSON (.geojson)": ".geojson",
                 "Shapefile (.shp.zip)": ".shp.zip", "KML (.kml)": ".kml"}


@dataclass
class MapView:
    """The map and what was computed for it (reused by the exports)."""

    fmap: folium.Map
    areas: gpd.GeoDataFrame
    hotspots: list[str] = field(default_factory=list)


def areas(ctx: Context, now: pd.DataFrame, keep: pd.Series) -> gpd.GeoDataFrame:
    """Figures per area of the planned layer (limited to the chosen area), hotspots, Gi* bins;
    kept per filter, view and colouring for the store version."""
    f = ctx.filters
    key = ("areas", f.as_of, selection(f), ctx.plan, f.colour == "gistar")
    out = ctx.remember(key, lambda: _areas(ctx, now, keep))
    if "gistar" in out.attrs:
        st.info(f"Gi*: {out.attrs['gistar']}")
    return out


def _areas(ctx: Context, now: pd.DataFrame, keep: pd.Series) -> gpd.GeoDataFrame:
    plan = ctx.plan
    shapes = in_scope_shapes(ctx, view_layer(ctx.project.config_path, plan.layer), plan.layer)
    if plan.within is not None:
        level, area = plan.within
        shapes = shapes[shapes["area_id"] == area] if level == plan.layer else \
            shapes[shapes["parent_id"].astype("str") == area]
    conf = ctx.supervision.settings.hotspots
    counted = keep & ctx.supervision.counted()  # as `gridwatch status` counts
    out = views.area_figures(ctx.issues, now, counted, shapes, layer=plan.layer,
                             as_of=ctx.filters.as_of, min_overdue=conf.rule_min_overdue,
                             min_rate=conf.rule_min_rate, min_problems=conf.rule_min_problems,
                             timezone=ctx.timezone)
    out["bin"] = 0
    if ctx.filters.colour == "gistar" and len(out) >= 3:
        from gridwatch.hotspots import gi_star

        try:
            gi = gi_star(out, out["red"].to_numpy(), weights_kind=conf.weights,
                         permutations=min(conf.permutations, 199), seed=conf.seed,
                         inference=conf.inference, fdr=conf.fdr)
            out["bin"] = gi["bin"].fillna(0).astype(int).to_numpy()
        except GridwatchError as exc:  # said on every view of it, not only the first
            out.attrs["gistar"] = str(exc)
    return out


def headline(ctx: Context, now: pd.DataFrame, keep: pd.Series) -> dict[str, float]:
    """The figures at the top, duplicates counted once as `gridwatch status` counts them,
    against the same filters a week before."""
    day = ctx.filters.as_of - dt.timedelta(days=7)
    if ctx.filters.codes or ctx.filters.statuses:  # the filter itself needs the full codes
        before = ctx.evaluated(day)
    else:
        known, is_open, red = ctx.supervision.open_overdue(day)
        before = pd.DataFrame({"known": known, "is_open": is_open, "red": red},
                              index=ctx.issues.index)
    counted = ctx.supervision.counted()
    return views.headline_figures(now, before, keep & counted, ctx.keep(before) & counted)


def build(ctx: Context, now: pd.DataFrame, keep: pd.Series) -> MapView:
    """Compose the map: areas, hotspots, problems, heat, hexagons, basins and redlines."""
    lang, f, path = ctx.lang, ctx.filters, ctx.project.config_path
    shown = areas(ctx, now, keep)
    bounds = shown.total_bounds if len(shown) else \
        in_scope_shapes(ctx, view_layer(path, ctx.plan.layer), ctx.plan.layer).total_bounds
    app = ctx.config.settings.app
    # SVG paths keep areas addressable one by one (tests, the browser's own hover), but a
    # city's thousands of grids draw faster on one canvas (see CANVAS_FROM)
    fmap = mapping.make_map(bounds, base_url=BASE_URL, tiles=app.tiles,
                            tiles_attribution=app.tiles_attribution,
                            prefer_canvas=len(shown) >= CANVAS_FROM)
    fields = {"area_name": tr("name", lang), "area_id": tr("id", lang),
              "open": tr("open", lang), "red": tr("overdue", lang),
              "overdue_rate": tr("overdue_rate", lang)}
    value, by_bin = {"red": ("red", False), "overdue_rate": ("overdue_rate", False),
                     "gistar": ("bin", True)}[f.colour]
    geometry = outlines(path, ctx.plan.layer).reindex(shown["area_id"].astype("str"))
    mapping.add_area_layer(fmap, shown, geometry.to_numpy(), value_column=value,
                           by_bin=by_bin, name=code_label(ctx.plan.layer, lang), fields=fields,
                           highlight=shown["hotspot"])
    _overlays(ctx, fmap)
    if ctx.plan.show_points or f.heat or f.hexagons:
        mask = keep.to_numpy(dtype=bool)
        located = ctx.issues.loc[mask, ["issue_id", "lon", "lat", "category", "description",
                                        "responsible_unit"]].assign(code=now.loc[mask, "code"])
        is_open = now.loc[mask, "is_open"].to_numpy(dtype=bool)
    if ctx.plan.show_points:
        # closed problems only when asked for by code: the map is for what is still open
        wanted = located if "closed" in f.codes else located[is_open]
        mapping.add_points(fmap, wanted, base_url=BASE_URL, name=tr("points", lang),
                           popup_columns={"issue_id": tr("id", lang),
                                          "description": tr("description", lang),
                                          "responsible_unit": tr("responsible_unit", lang)})
    if f.heat:
        open_ = located[is_open]
        mapping.add_heat(fmap, open_["lon"], open_["lat"], base_url=BASE_URL,
                         name=tr("heat", lang), show=True)
    if f.hexagons:
        _hexagons(ctx, fmap, located)
    if f.colour == "gistar":
        entries = mapping.bin_legend(lang)
        title = tr("legend_bins", lang)
    else:
        entries = {tr("legend_none", lang): OVERDUE_RAMP[0],
                   tr("legend_most", lang): OVERDUE_RAMP[-1]}
        title = tr("legend_overdue" if f.colour == "red" else "legend_rate", lang)
    entries[tr("legend_hotspot", lang)] = HOTSPOT_OUTLINE
    if ctx.plan.show_points:
        entries.update(mapping.code_legend(("red", "yellow", "green"), lang))
    mapping.add_legend(fmap, title, entries)
    names = shown.loc[shown["hotspot"], "area_name"].astype("str").tolist()
    return MapView(fmap=fmap, areas=shown, hotspots=names)


def in_scope_shapes(ctx: Context, shapes: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """The areas of a layer the user's scope may show."""
    allowed = ctx.supervision.area_ids_in_scope(name)
    if allowed is None:
        return shapes
    return shapes[shapes["area_id"].astype("str").isin(allowed).to_numpy()]


def _scope_key(ctx: Context, name: str) -> tuple[str, ...] | None:
    allowed = ctx.supervision.area_ids_in_scope(name)
    return None if allowed is None else tuple(str(a) for a in allowed)


def _overlays(ctx: Context, fmap: folium.Map) -> None:
    lang, path = ctx.lang, ctx.project.config_path
    for spec in ctx.config.layers_of_kind("basin"):
        mapping.add_outline_layer(fmap, _outline_features(path, spec.name,
                                                          _scope_key(ctx, spec.name)),
                                  name=tr("basin", lang), colour="#2c7fb8", fill_opacity=0.05,
                                  show=bool(ctx.filters.basin))
    for spec in ctx.config.layers_of_kind("redline"):
        shown = _scope_key(ctx, spec.name)
        mapping.add_outline_layer(fmap, _outline_features(path, spec.name, shown),
                                  name=tr("redline", lang), colour="#cc0000", fill_opacity=0.2)
        if spec.near_m:
            belts = _belts(path, spec.name, spec.near_m, str(ctx.supervision.metric_crs),
                           shown)
            mapping.add_outline_layer(fmap, belts,
                                      name=f"{tr('redline', lang)} {spec.near_m:g} m",
                                      colour="#cc0000", dashed=True, fill_opacity=0.05)


def _only(shapes: gpd.GeoDataFrame, ids: tuple[str, ...] | None) -> gpd.GeoDataFrame:
    return shapes if ids is None else shapes[shapes["area_id"].astype("str").isin(ids)]


@st.cache_resource(show_spinner=False)
def _outline_features(path: str, name: str, ids: tuple[str, ...] | None = None) -> str:
    """The features of a basin or redline layer as drawn (written once per scope: ``ids``
    are the areas shown, ``None`` all)."""
    return mapping.outline_features(_only(view_layer(path, name), ids),
                                    label_column="area_name")


@st.cache_resource(show_spinner=False)
def _belts(path: str, name: str, near_m: float, metric_crs: str,
           ids: tuple[str, ...] | None = None) -> str:
    """The belts drawn around the zones, in the metric CRS the problems are filtered in, as
    features to draw."""
    belts = views.belt_shapes(_only(layer(path, name), ids), near_m, metric_crs=metric_crs)
    return mapping.outline_features(belts, label_column="area_name")


def _hexagons(ctx: Context, fmap: folium.Map, located: pd.DataFrame) -> None:
    from gridwatch.hotspots import hex_counts

    resolution = ctx.supervision.settings.hotspots.hex_resolution
    cells = hex_counts(located["lon"].to_numpy(dtype=float), located["lat"].to_numpy(dtype=float),
                       resolution=resolution,
                       overdue=(located["code"].astype("str") == "red").to_numpy(dtype=bool))
    cells = cells[cells["problems"] > 0]
    if len(cells):
        mapping.add_areas(fmap, cells, value_column="overdue",
                          name=f"{tr('hexagons', ctx.lang)} r{resolution}",
                          fields={"problems": tr("problems", ctx.lang),
                                  "overdue": tr("overdue", ctx.lang)})


def follow_click(ctx: Context, returned: dict[str, Any] | None, view: MapView) -> None:
    """Drill down when an area of the map is clicked (once per click)."""
    if ctx.plan.layer not in views.city_levels(ctx.config.layers):
        return  # already at the finest level: nothing further to open
    feature = (returned or {}).get("last_active_drawing") or {}
    area = str((feature.get("properties") or {}).get("area_id") or "")
    if not area or area not in set(view.areas["area_id"].astype("str")) or \
            st.session_state.get("handled_click") == (ctx.plan.layer, area):
        return
    st.session_state["handled_click"] = (ctx.plan.layer, area)
    if ctx.plan.within is not None and ctx.plan.within[1] == area:
        return
    st.session_state["pending_area"] = (ctx.plan.layer, area)
    st.rerun()


def exports(ctx: Context, now: pd.DataFrame, keep: pd.Series, view: MapView) -> None:
    """Hotspot layer, inspection list and monthly review, generated when clicked."""
    from gridwatch.output.files import write_layer, write_table

    lang, tz = ctx.lang, ctx.timezone
    if not ctx.user.may("export"):  # viewers read; supervisors and admins export
        return
    with st.expander(tr("exports", lang), expanded=True):
        left, middle, right = st.columns(3)
        label = left.selectbox(tr("format", lang), list(LAYER_FORMATS), key="x_format")
        suffix = LAYER_FORMATS[label]
        hot = view.areas.drop(columns=["parent_id"], errors="ignore")
        left.download_button(
            f"{tr('download', lang)} {tr('hotspot_layer', lang)}", key="x_layer",
            data=lambda: audited_bytes(ctx, lambda: file_bytes(
                lambda p: write_layer(hot, p, style_column="bin", timezone=tz),
                f"hotspots{suffix}"), what="hotspots", file_name=f"hotspots{suffix}"),
            file_name=f"hotspots_{ctx.plan.layer}{suffix}", mime="application/octet-stream",
            on_click="ignore")
        count = int((keep.to_numpy(dtype=bool) & now["is_open"].to_numpy(dtype=bool)).sum())
        middle.caption(f"{tr('inspection_list', lang)}: {count:,} {tr('rows', lang)}")

        def listing() -> pd.DataFrame:  # ordered when asked for, not on every view
            rows = views.inspection_positions(now, keep, order=ctx.inspection_order())
            return views.inspection_rows(ctx.issues, now, rows, area_names=ctx.area_names())

        for ext, mime in ((".csv", "text/csv"), (".xlsx", "application/vnd.openxmlformats-"
                                                          "officedocument.spreadsheetml.sheet")):
            middle.download_button(
                f"{tr('download', lang)} {ext[1:].upper()}", key=f"x_list{ext}",
                data=lambda ext=ext: audited_bytes(ctx, lambda: file_bytes(
                    lambda p: write_table(listing(), p, timezone=tz, sheet_name="inspection"),
                    f"inspection{ext}"), what="inspection list", file_name=f"inspection{ext}"),
                file_name=f"inspection_{ctx.filters.as_of}{ext}", mime=mime, on_click="ignore")
        months = pd.period_range(end=pd.Period(ctx.filters.as_of, "M"), periods=12, freq="M")
        month = right.selectbox(tr("month", lang), [str(m) for m in reversed(months)],
                                key="x_month")
        right.download_button(
            f"{tr('download', lang)} {tr('review_workbook', lang)}", key="x_review",
            data=lambda: audited_bytes(ctx, lambda: file_bytes(
                lambda p: _review(ctx, month, p), f"review_{month}.xlsx"), what="review",
                file_name=f"review_{month}.xlsx"),
            file_name=f"review_{month}.xlsx", mime="application/octet-stream",
            on_click="ignore")


def _review(ctx: Context, month: str, path: Path) -> Path:
    """The monthly review of the whole store by the shown layer: ``gridwatch review``'s tables."""
    from gridwatch.output.files import write_workbook

    tables = ctx.supervision.review(month, layer=ctx.plan.layer)
    return write_workbook(tables, path, timezone=ctx.timezone)

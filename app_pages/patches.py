"""Satellite patches (卫星图斑): counts by status and area, the patches on the map over the
redline zones, the table (as ``gridwatch patches list``), in the user's areas."""

from __future__ import annotations

import folium
import streamlit as st
from streamlit_folium import st_folium

from app_pages._maps import _outline_features, _scope_key
from app_pages._shared import BASE_URL, area_names, load
from gridwatch.patches import patch_counts, patch_list
from gridwatch.store import Store
from gridwatch.ui import maps as mapping
from gridwatch.ui.i18n import code_label, column_labels, tr
from gridwatch.ui.patches_view import add_patch_layers, patch_figures, patch_shapes, patch_table

ctx = load()
lang = ctx.lang
with Store(ctx.project.db_url) as store:
    table = patch_list(store, ctx.config, scope=ctx.user.scope)
st.header(tr("page_patches", lang))
if table.empty:
    st.info(tr("patches_none", lang))
    st.stop()
figures = patch_figures(table)
cells = st.columns(6)
for cell, key in zip(cells, ("patches", "suspected", "confirmed", "false_positive",
                             "in_protected", "area_ha"), strict=True):
    value = figures[key]
    cell.metric(tr(key, lang), f"{value:,.1f}" if key == "area_ha" else f"{int(value):,}")
shapes = patch_shapes(table, lang)
app = ctx.config.settings.app
fmap = mapping.make_map(shapes.total_bounds, base_url=BASE_URL, tiles=app.tiles,
                        tiles_attribution=app.tiles_attribution, prefer_canvas=False)
for spec in ctx.config.layers_of_kind("redline", "zone"):
    mapping.add_outline_layer(fmap, _outline_features(ctx.project.config_path, spec.name,
                                                      _scope_key(ctx, spec.name)),
                              name=code_label(spec.name, lang), colour="#cc0000",
                              fill_opacity=0.1)
add_patch_layers(fmap, shapes, lang=lang)
folium.LayerControl(collapsed=False).add_to(fmap)
st_folium(fmap, key="patch_map", height=520, use_container_width=True, returned_objects=[])
admin = [s.name for s in ctx.config.layers if s.kind == "admin"]
if admin:
    by = admin[-1]
    counts = patch_counts(table, by=by)
    names = area_names(ctx.project.config_path, by)
    counts.insert(1, "area_name", counts[f"{by}_id"].map(names))
    st.subheader(f"{tr('patches', lang)} · {code_label(by, lang)}")
    st.dataframe(counts.rename(columns={**column_labels(counts.columns, lang),
                                        **{c: tr(c, lang) for c in ("suspected", "confirmed",
                                                                    "false_positive",
                                                                    "area_ha",
                                                                    "in_protected")}}),
                 hide_index=True, width="stretch")
shown = patch_table(table, lang)
st.dataframe(shown.rename(columns={c: tr(c, lang) for c in ("patch_id", "area_ha")}),
             hide_index=True, width="stretch")

"""Overview: figures at the top, the map of areas with overdue hotspots, and the exports."""

from __future__ import annotations

import folium
import streamlit as st
from streamlit_folium import st_folium

from app_pages import _maps
from app_pages._shared import load, selection, warm_outlines
from gridwatch.ui.i18n import tr

ctx = load()
lang, f = ctx.lang, ctx.filters
st.title(tr("app_title", lang))
now = ctx.evaluated(f.as_of)
keep = ctx.kept()
figures = ctx.remember(("figures", f.as_of, selection(f), ctx.plan),
                       lambda: _maps.headline(ctx, now, keep))
cols = st.columns(4)
for col, key in ((cols[0], "open"), (cols[1], "red")):
    change = figures[f"{key}_change"]
    col.metric(tr(key, lang), f"{figures[key]:,}", f"{change:+,}" if change else None,
               delta_color="inverse", help=tr("vs_last_week", lang))
cols[2].metric(tr("yellow", lang), f"{figures['yellow']:,}")
rate = figures["closure_rate"]
cols[3].metric(tr("closure_rate", lang), "—" if rate != rate else f"{rate:.1%}")
st.caption(tr("drill_hint", lang))

view = _maps.build(ctx, now, keep)
folium.LayerControl(collapsed=False).add_to(view.fmap)
# one component state per view: a click on the county map must not be read again on the towns'
clicked = st_folium(view.fmap, key=f"map_{ctx.plan.layer}_{ctx.plan.within}", height=560,
                    use_container_width=True,
                    returned_objects=["last_active_drawing"])
if view.hotspots:
    st.warning(f"{tr('hotspots_found', lang)}: {', '.join(view.hotspots[:20])}")
_maps.exports(ctx, now, keep, view)
_maps.follow_click(ctx, clicked, view)
warm_outlines(ctx.project.config_path)  # after this view is drawn: the other levels

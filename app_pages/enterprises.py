"""Enterprises (一码统管) with the map of repeat offenders, petition batches (交办信访件) and
special campaigns (专项行动), as of the chosen date over the filtered problems (as
``gridwatch enterprises | petitions | campaigns``)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from app_pages._shared import BASE_URL, audited_bytes, file_bytes, load, selection
from gridwatch.output.files import write_table
from gridwatch.ui import maps as mapping
from gridwatch.ui.enterprises import OFFENDER_COLOUR, add_offenders, enterprise_view
from gridwatch.ui.i18n import code_label, column_labels, tr

ctx = load()
lang, as_of = ctx.lang, ctx.filters.as_of
keep = ctx.kept()
st.header(tr("page_enterprises", lang))
tabs = st.tabs([tr("tab_enterprises", lang), tr("tab_petitions", lang),
                tr("tab_campaigns", lang)])
layers = [s.name for s in ctx.config.layers if s.kind not in ("redline", "zone")]
by = tabs[2].selectbox(tr("camp_by", lang), ["", "unit", *layers], key="e_by",
                       format_func=lambda b: tr("camp_total", lang) if not b
                       else tr("by_unit", lang) if b == "unit" else code_label(b, lang))
view = ctx.remember(("enterprises", as_of, selection(ctx.filters), ctx.plan.within, by),
                    lambda: enterprise_view(ctx.supervision, as_of, keep=keep,
                                            by=by or None))


def show(where: st.delta_generator.DeltaGenerator, table: pd.DataFrame, name: str) -> None:
    """A table with its columns named in the language, and its download (audited)."""
    where.dataframe(table.rename(columns=column_labels(table.columns, lang)), hide_index=True,
                    width="stretch")
    if ctx.user.may("export"):
        where.download_button(
            f"{tr('download', lang)} XLSX", key=f"e_{name}",
            data=lambda: audited_bytes(ctx, lambda: file_bytes(
                lambda p: write_table(table, p, timezone=ctx.timezone, sheet_name=name),
                f"{name}.xlsx"), what=name, file_name=f"{name}.xlsx"),
            file_name=f"{name}_{as_of}.xlsx", on_click="ignore")


with tabs[0]:
    table = view["enterprises"]
    if table.empty:
        st.info(tr("ent_none", lang))
    else:
        offenders = table[table["repeat_offender"].astype(bool)]
        st.markdown(f"**{len(table):,} {tr('ent_summary', lang)} {len(offenders):,}**")
        only = st.checkbox(tr("ent_offenders_only", lang), value=True, key="e_only")
        shown = offenders if only else table
        placed = shown.dropna(subset=["lon", "lat"])
        if len(placed):
            lon, lat = placed["lon"], placed["lat"]
            pad = 0.01
            app = ctx.config.settings.app
            fmap = mapping.make_map((lon.min() - pad, lat.min() - pad, lon.max() + pad,
                                     lat.max() + pad), base_url=BASE_URL, tiles=app.tiles,
                                    tiles_attribution=app.tiles_attribution)
            add_offenders(fmap, shown, name=tr("ent_offenders", lang), only_offenders=only,
                          labels=column_labels(shown.columns, lang))
            mapping.add_legend(fmap, tr("ent_offenders", lang),
                               {tr("repeat_offender", lang): OFFENDER_COLOUR})
            st_folium(fmap, key="enterprise_map", height=460, use_container_width=True,
                      returned_objects=[])
        show(st, shown.drop(columns=["enterprise_key"]), "enterprises")
with tabs[1]:
    if view["petitions"].empty:
        st.info(tr("pet_none", lang))
    else:
        show(st, view["petitions"], "petitions")
        st.subheader(tr("pet_list", lang))
        show(st, view["petition_list"], "petition_list")
with tabs[2]:
    if view["campaigns"].empty:
        st.info(tr("camp_none", lang))
    else:
        show(st, view["campaigns"], "campaigns")

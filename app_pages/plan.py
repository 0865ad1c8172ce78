"""Field plan: teams, days and base → routes on the map (OR-Tools against a naive plan), the
offline packages to download, the filled checklists to import; emerging hotspots, rebound and
repeat-complaint points, and the grid-mismatch audit."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from app_pages._shared import BASE_URL, load, view_layer
from gridwatch.errors import GridwatchError
from gridwatch.planning.package import write_packages
from gridwatch.planning.plan import make_plan, plan_summary
from gridwatch.planning.results import field_counts, import_results
from gridwatch.store.transactional import Store
from gridwatch.ui import planning as view
from gridwatch.ui.i18n import tr


def _packages(plan) -> bytes:
    """Every team-day's package (zips) with plan.xlsx and plan.json, in one zip."""
    with tempfile.TemporaryDirectory(prefix="gridwatch-plan-") as folder:
        write_packages(plan, folder, zip_packages=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for file in sorted(Path(folder).iterdir()):
                archive.write(file, file.name)
    return buffer.getvalue()


ctx = load()
lang, sup, day = ctx.lang, ctx.supervision, ctx.filters.as_of
settings = sup.settings.plan
st.header(tr("page_plan", lang))
counties = ctx.config.layers_of_kind("admin")
with st.form("plan_form"):
    cols = st.columns(4)
    teams = int(cols[0].number_input(tr("plan_teams", lang), 1, 20, 3))
    days = int(cols[1].number_input(tr("plan_days", lang), 1, 7, 2))
    bases = [b.name for b in settings.bases] if settings else []
    start = cols[2].text_input(tr("plan_base", lang), bases[0] if bases else "",
                               help=", ".join(bases))
    area = cols[3].text_input(tr("plan_area", lang), "",
                              help=counties[0].name if counties else None)
    go = st.form_submit_button(tr("plan_go", lang), type="primary")
if go:
    try:
        with st.spinner(tr("plan_go", lang)), Store(ctx.project.db_url) as store:
            counts = field_counts(store.field_results())
        st.session_state["plan"] = (ctx.run, make_plan(
            sup, teams=teams, days=days, starts=[start], as_of=day,
            layer=counties[0].name if area and counties else None, area=area or None,
            field_counts=counts))
    except GridwatchError as exc:
        st.error(str(exc))
kept = st.session_state.get("plan")
plan = kept[1] if kept and kept[0] == ctx.run else None
grid = ctx.layer_of("grid")
emerging = ctx.remember(("emerging", grid, day), lambda: sup.hotspots(
    layer=grid, method="emerging", as_of=day)) if grid else None
points = view.attention_points(sup, ctx.evaluated(day), ctx.kept())
if plan is not None:
    summary = plan_summary(plan)
    keys = ["sites", "problems", "priority", "km", "minutes"]
    st.dataframe(pd.DataFrame({"": keys, "OR-Tools": [summary["optimised"][k] for k in keys],
                               tr("plan_naive", lang): [summary["naive"][k] for k in keys]}),
                 hide_index=True)
    st.dataframe(plan.routes, hide_index=True, width="stretch")
    st.download_button(tr("plan_download", lang), data=lambda: _packages(plan),
                       file_name=f"plan_{plan.as_of}.zip", mime="application/zip",
                       on_click="ignore")  # written when asked for, not on every rerun
fmap = view.planning_map(plan, context=sup, areas=view_layer(ctx.project.config_path, grid)
                         if grid else None, emerging=emerging, points=points,
                         base_url=BASE_URL, labels={"emerging": tr("plan_emerging", lang),
                                                    "points": tr("plan_points", lang)})
st_folium(fmap, key="plan_map", height=560, use_container_width=True, returned_objects=[])
upload = st.file_uploader(tr("plan_results", lang), type=["xlsx", "csv"], key="plan_upload")
if upload is not None and st.button(tr("import", lang), key="plan_import"):
    with tempfile.TemporaryDirectory(prefix="gridwatch-results-") as folder:
        path = Path(folder) / ("checklist" + Path(upload.name).suffix.lower())
        path.write_bytes(upload.getvalue())
        try:
            with Store(ctx.project.db_url) as store:
                done = import_results(path, store=store, layers=ctx.config.layers,
                                      timezone=ctx.timezone)
            st.success(f"run {done.run_id}: {done.results} {done.actions}")
        except GridwatchError as exc:
            st.error(str(exc))
with st.expander(tr("plan_mismatch", lang)):
    st.dataframe(view.grid_mismatch_audit(sup, ctx.kept()), hide_index=True, width="stretch")

"""The filtered problems as a table (user text shown as text), with CSV/XLSX downloads."""

from __future__ import annotations

import streamlit as st

from app_pages._shared import file_bytes, layers, load
from gridwatch.output.files import write_table
from gridwatch.ui import views
from gridwatch.ui.i18n import code_label, tr

ctx = load()
lang = ctx.lang
now = ctx.evaluated(ctx.filters.as_of)
keep = ctx.keep(now)
names = {name: dict(zip(frame["area_id"].astype("str"), frame["area_name"].astype("str"),
                        strict=True))
         for name, frame in layers(ctx.project.config_path).items()
         if name in views.area_levels(ctx.config.layers)}
table = views.inspection_list(ctx.issues, now, keep, area_names=names, open_only=False)
st.header(f"{tr('table', lang)}: {len(table):,} {tr('rows', lang)}")
shown = table.copy()
for column in ("code", "status", "category", "source"):
    if column in shown:
        shown[column] = shown[column].map(lambda v: code_label(v, lang) if v == v else "")
labels = {c: tr(c, lang) for c in ("description", "deadline", "reported_at", "category",
                                   "source", "status", "code", "responsible_unit")}
labels["issue_id"] = tr("id", lang)
st.dataframe(shown, hide_index=True, width="stretch", height=520,
             column_config={c: label for c, label in labels.items() if c in shown})
left, right = st.columns(2)
for column, ext in ((left, ".csv"), (right, ".xlsx")):
    column.download_button(
        f"{tr('download', lang)} {ext[1:].upper()}", key=f"p_{ext}",
        data=lambda ext=ext: file_bytes(lambda p: write_table(table, p, timezone=ctx.timezone,
                                                              sheet_name="problems"),
                                        f"problems{ext}"),
        file_name=f"problems_{ctx.filters.as_of}{ext}", on_click="ignore")

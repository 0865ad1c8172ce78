"""The filtered problems as a table, a page at a time (user text shown as text), with CSV/XLSX
downloads of all of them."""

from __future__ import annotations

import streamlit as st

from app_pages._shared import audited_bytes, file_bytes, load, problem_photo_columns
from gridwatch.output.files import write_table
from gridwatch.ui import views
from gridwatch.ui.i18n import code_label, column_labels, tr

PAGE_ROWS = 500  # rows sent to the browser at a time; the downloads hold every row

ctx = load()
lang = ctx.lang
now = ctx.evaluated(ctx.filters.as_of)
rows = views.inspection_positions(now, ctx.kept(), order=ctx.inspection_order(), open_only=False)
pages = max((len(rows) + PAGE_ROWS - 1) // PAGE_ROWS, 1)
st.header(f"{tr('table', lang)}: {len(rows):,} {tr('rows', lang)}")
page = 1
if pages > 1:
    page = int(st.number_input(f"{tr('page', lang)} (1–{pages:,})", min_value=1,
                               max_value=pages, value=1, step=1,
                               key=f"p_page_{len(rows)}"))  # back to page 1 on a new filter
first = (page - 1) * PAGE_ROWS
shown = views.inspection_rows(ctx.issues, now, rows[first:first + PAGE_ROWS],
                              area_names=ctx.area_names())
if pages > 1:
    st.caption(f"{first + 1:,}–{first + len(shown):,} / {len(rows):,}")
shown, thumbs = problem_photo_columns(ctx, shown)  # before the codes become labels
for column in ("code", "status", "category", "source", "geocode_source"):
    if column in shown:
        shown[column] = shown[column].map(lambda v: code_label(v, lang) if v == v else "")
labels: dict[str, object] = {
    c: tr(c, lang) for c in ("description", "deadline", "reported_at", "category", "source",
                             "status", "code", "responsible_unit", "photo_before",
                             "photo_after")}
labels["issue_id"] = tr("id", lang)
labels |= column_labels(("location_flag", "geocode_source", "geocode_score",
                         "location_precision_m"), lang)
for column in thumbs:  # thumbnails made here, sent as data: URIs (nothing from elsewhere)
    labels[column] = st.column_config.ImageColumn(tr(column, lang), width="small")
st.dataframe(shown, hide_index=True, width="stretch", height=520,
             column_config={c: label for c, label in labels.items() if c in shown})
left, right = st.columns(2)
for column, ext in ((left, ".csv"), (right, ".xlsx")) if ctx.user.may("export") else ():
    column.download_button(
        f"{tr('download', lang)} {ext[1:].upper()}", key=f"p_{ext}",
        data=lambda ext=ext: audited_bytes(ctx, lambda: file_bytes(
            lambda p: write_table(views.inspection_rows(ctx.issues, now, rows,
                                                        area_names=ctx.area_names()),
                                  p, timezone=ctx.timezone, sheet_name="problems"),
            f"problems{ext}"), what="problems", file_name=f"problems{ext}"),
        file_name=f"problems_{ctx.filters.as_of}{ext}", on_click="ignore")

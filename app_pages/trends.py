"""Weekly new and overdue problems by category."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._shared import load, selection
from gridwatch.ui import views
from gridwatch.ui.i18n import code_label, tr

ctx = load()
lang, as_of = ctx.lang, ctx.filters.as_of
keep = ctx.kept()
with st.spinner(tr("loading", lang)):
    trend = ctx.remember(("trend", as_of, selection(ctx.filters), ctx.plan.within),
                         lambda: views.weekly_trend(ctx.supervision, as_of=as_of, weeks=12,
                                                    keep=keep))
if trend.empty:
    st.info(tr("no_data", lang))
else:
    trend = trend.assign(category=trend["category"].map(lambda c: code_label(c, lang)))
    for column, title in (("new", "trend_new"), ("overdue", "trend_overdue")):
        st.subheader(tr(title, lang))
        data = trend[["week", "category", column]].rename(columns={column: "count"})
        # a Vega-Lite spec as it is: no chart library to validate it on every view
        st.vega_lite_chart(pd.DataFrame(data), {
            "mark": {"type": "bar"},
            "encoding": {
                "x": {"field": "week", "type": "ordinal", "title": None},
                "y": {"field": "count", "type": "quantitative", "aggregate": "sum",
                      "stack": "zero", "title": tr(column if column == "new" else "overdue",
                                                   lang)},
                "color": {"field": "category", "type": "nominal", "title": tr("category", lang)},
            },
        }, width="stretch")

"""Weekly new and overdue problems by category (new first: the weekly states take longer)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._shared import load, selection
from gridwatch.ui import views
from gridwatch.ui.i18n import code_label, tr

ctx = load()
lang, as_of = ctx.lang, ctx.filters.as_of
keep = ctx.kept()
key = (as_of, selection(ctx.filters), ctx.plan.within)


def chart(trend: pd.DataFrame, column: str) -> None:
    """Stacked bars of ``column`` per week and category."""
    data = trend[["week", "category", column]].rename(columns={column: "count"})
    data = data.assign(category=data["category"].map(lambda c: code_label(c, lang)))
    # a Vega-Lite spec as it is: no chart library to validate it on every view
    st.vega_lite_chart(data, {
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "week", "type": "ordinal", "title": None},
            "y": {"field": "count", "type": "quantitative", "aggregate": "sum",
                  "stack": "zero", "title": tr(column, lang)},
            "color": {"field": "category", "type": "nominal", "title": tr("category", lang)},
        },
    }, width="stretch")


new = ctx.remember(("trend_new", *key), lambda: views.weekly_trend(
    ctx.supervision, as_of=as_of, weeks=12, keep=keep, overdue=False))
if new.empty:
    st.info(tr("no_data", lang))
else:
    st.subheader(tr("trend_new", lang))
    chart(new, "new")
    st.subheader(tr("trend_overdue", lang))
    with st.spinner(tr("loading", lang)):
        trend = ctx.remember(("trend", *key), lambda: views.weekly_trend(
            ctx.supervision, as_of=as_of, weeks=12, keep=keep))
    chart(trend, "overdue")

"""Weekly new and overdue problems by category."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from app_pages._shared import load
from gridwatch.supervision.context import SupervisionContext
from gridwatch.ui import views
from gridwatch.ui.i18n import code_label, tr


@st.cache_data(show_spinner=False, max_entries=8)
def _trend(_supervision: SupervisionContext, config_path: str, run: int, keep: pd.Series,
           as_of: dt.date) -> pd.DataFrame:
    """The weekly trend of the filtered problems (cached by project, store run and filter)."""
    return views.weekly_trend(_supervision.restrict(keep), as_of=as_of, weeks=12)


ctx = load()
lang = ctx.lang
keep = ctx.keep(ctx.evaluated(ctx.filters.as_of))
with st.spinner(tr("loading", lang)):
    trend = _trend(ctx.supervision, ctx.project.config_path, ctx.run, keep, ctx.filters.as_of)
if trend.empty:
    st.info(tr("no_data", lang))
else:
    trend = trend.assign(category=trend["category"].map(lambda c: code_label(c, lang)))
    for column, title in (("new", "trend_new"), ("overdue", "trend_overdue")):
        st.subheader(tr(title, lang))
        wide = trend.pivot_table(index="week", columns="category", values=column,
                                 aggfunc="sum", fill_value=0)
        st.bar_chart(wide, stack=True)

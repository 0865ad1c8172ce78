"""Weekly new and overdue problems by category."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from app_pages._shared import Project, layer_names, load, problems, settings
from gridwatch.ui import views
from gridwatch.ui.i18n import code_label, tr


@st.cache_data(show_spinner=False, max_entries=8)
def _trend(proj: Project, run: int, keep: pd.Series, as_of: dt.date, timezone: str,
           ) -> pd.DataFrame:
    issues, history, _ = problems(proj.db_url, run, layer_names(proj.config_path))
    parsed = settings(proj.config_path)
    return views.weekly_trend(issues, keep, as_of=as_of, weeks=12, history=history,
                              deadline_settings=parsed["deadlines"],
                              asof_settings=parsed["asof"], timezone=timezone)


ctx = load()
lang = ctx.lang
keep = ctx.keep(ctx.evaluated(ctx.filters.as_of))
with st.spinner(tr("loading", lang)):
    trend = _trend(ctx.project, ctx.run, keep, ctx.filters.as_of, ctx.timezone)
if trend.empty:
    st.info(tr("no_data", lang))
else:
    trend = trend.assign(category=trend["category"].map(lambda c: code_label(c, lang)))
    for column, title in (("new", "trend_new"), ("overdue", "trend_overdue")):
        st.subheader(tr(title, lang))
        wide = trend.pivot_table(index="week", columns="category", values=column,
                                 aggfunc="sum", fill_value=0)
        st.bar_chart(wide, stack=True)

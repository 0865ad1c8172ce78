"""League table of the week (周亮晒) and the reminder/escalation lists (一函两单)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from app_pages._shared import layers, load, settings
from gridwatch.supervision.league import league_for_week
from gridwatch.supervision.remind import reminder_list, reminder_summary
from gridwatch.ui.i18n import code_label, tr

ctx = load()
lang, as_of = ctx.lang, ctx.filters.as_of
parsed = settings(ctx.project.config_path)
now = ctx.evaluated(as_of)
keep = ctx.keep(now).to_numpy(dtype=bool)

st.header(tr("league", lang))
weeks = []
for back in range(8):
    year, week, _ = (as_of - dt.timedelta(weeks=back)).isocalendar()
    weeks.append(f"{year}-W{week:02d}")
week = st.selectbox(tr("week", lang), weeks, key="l_week")
layer = ctx.filters.level or ctx.plan.layer
table = league_for_week(ctx.issues.loc[keep], week, layer=layer, history=ctx.history,
                        deadline_settings=parsed["deadlines"], asof_settings=parsed["asof"],
                        settings=parsed["league"], areas=layers(ctx.project.config_path)[layer],
                        timezone=ctx.timezone)
st.caption(code_label(layer, lang))
st.dataframe(table, hide_index=True, width="stretch")

st.header(tr("reminders", lang))
reminders = reminder_list(ctx.issues.loc[keep], now.loc[keep], as_of=as_of,
                          settings=parsed["escalation"], timezone=ctx.timezone)
if reminders.empty:
    st.info(tr("no_reminders", lang))
else:
    st.dataframe(reminder_summary(reminders), hide_index=True, width="stretch")
    st.dataframe(reminders, hide_index=True, width="stretch")

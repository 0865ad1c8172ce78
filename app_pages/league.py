"""League table of the week (周亮晒) and the reminder/escalation lists (一函两单)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from app_pages._shared import load
from gridwatch.supervision.remind import reminder_summary
from gridwatch.ui.i18n import code_label, column_labels, tr

ctx = load()
lang, as_of = ctx.lang, ctx.filters.as_of
# the league and reminders of the filtered problems, counted as the CLI counts them
chosen = ctx.supervision.restrict(ctx.kept())

st.header(tr("league", lang))
weeks = []
for back in range(8):
    year, week, _ = (as_of - dt.timedelta(weeks=back)).isocalendar()
    weeks.append(f"{year}-W{week:02d}")
week = st.selectbox(tr("week", lang), weeks, key="l_week")
by = st.radio(tr("ledger_by", lang), ["area", "unit", "leader"], horizontal=True,
              format_func=lambda b: tr(f"by_{b}", lang), key="l_by")
layer = ctx.filters.level or ctx.plan.layer
if by != "area":  # the same league of the responsible units or leaders (as --by)
    from gridwatch.ledger.accountability import by_accountability
    from gridwatch.ui.ledger_view import ledger_tables

    chosen = by_accountability(chosen, ledger_tables(ctx.project.db_url).tasks)
    layer = by
table = chosen.league(week, layer=layer)
st.caption(code_label(layer, lang) if by == "area" else tr(f"by_{by}", lang))
st.dataframe(table.rename(columns=column_labels(table.columns, lang)), hide_index=True,
             width="stretch")

st.header(tr("reminders", lang))
reminders = chosen.reminders(as_of)
if reminders.empty:
    st.info(tr("no_reminders", lang))
else:
    summary = reminder_summary(reminders)
    st.dataframe(summary.rename(columns=column_labels(summary.columns, lang)), hide_index=True,
                 width="stretch")
    st.dataframe(reminders.rename(columns=column_labels(reminders.columns, lang)),
                 hide_index=True, width="stretch")

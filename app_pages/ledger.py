"""The rectification ledger (督察整改): how far each feedback item of a round is, by unit or
leader, what waits for acceptance, the extensions granted (as ``gridwatch progress``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages._shared import audited_bytes, load
from gridwatch.ledger.progress import dates_as_text, write_progress
from gridwatch.ui.i18n import column_labels, tr
from gridwatch.ui.ledger_view import ledger_tables, ledger_view, problem_history_view

ctx = load()
lang, as_of = ctx.lang, ctx.filters.as_of
if not ctx.user.scope.whole:  # the ledger is not divided by area yet (docs/access.md)
    st.error(tr("not_in_your_area", lang))
    st.stop()
tables = ledger_tables(ctx.project.db_url)
st.header(tr("page_ledger", lang))
wanted = st.text_input(tr("ledger_history", lang), key="g_history").strip()
if wanted:  # one problem's history, as gridwatch ledger history ID --problem
    found = problem_history_view(ctx.project.db_url, wanted, timezone=ctx.timezone,
                                 events=tables.events)
    if found is None:
        st.warning(tr("ledger_no_problem", lang))
    else:
        shown = dates_as_text(found)
        st.dataframe(shown.rename(columns=column_labels(shown.columns, lang)),
                     hide_index=True, width="stretch")
if tables.tasks.empty and tables.letters.empty:
    st.info(tr("ledger_none", lang))
    st.stop()
left, middle, right = st.columns(3)
round_ = left.selectbox(tr("ledger_round", lang), [tr("all", lang), *tables.rounds],
                        key="g_round")
by = middle.radio(tr("ledger_by", lang), ["item", "unit", "leader"], horizontal=True,
                  format_func=lambda b: tr(f"by_{b}", lang), key="g_by")
units = right.multiselect(tr("ledger_units", lang), tables.units, key="g_units")
leaders = right.multiselect(tr("ledger_leaders", lang), tables.leaders, key="g_leaders")
evaluation = ctx.evaluated(as_of)
problems = None
if "ledger_ref" in ctx.issues.columns:
    problems = evaluation[["known", "is_open", "code"]].assign(
        issue_id=ctx.issues["issue_id"], ledger_ref=ctx.issues["ledger_ref"])
ledger = ctx.config.settings.ledger
view = ledger_view(tables, as_of, round=None if round_ == tr("all", lang) else round_,
                   units=units, leaders=leaders, problems=problems,
                   require_acceptance=ledger.require_acceptance if ledger else True)
report = view["report"]
for sentence in view["sentences"]:  # type: ignore[attr-defined]
    st.markdown(f"**{sentence}**")


def show(table: pd.DataFrame) -> None:
    shown = dates_as_text(table)
    st.dataframe(shown.rename(columns=column_labels(shown.columns, lang)), hide_index=True,
                 width="stretch")


show(report["items" if by == "item" else f"{by}s"])
st.subheader(tr("ledger_awaiting", lang))
show(report["awaiting_acceptance"])
st.subheader(tr("ledger_extensions", lang))
show(report["extensions"])
st.subheader(tr("letters_unanswered", lang))
show(view["unanswered"])  # type: ignore[arg-type]
if ctx.user.may("export"):
    with tempfile.TemporaryDirectory() as folder:
        path = write_progress(report, Path(folder) / "progress.xlsx", timezone=ctx.timezone)
        data = audited_bytes(ctx, path.read_bytes, what="ledger progress",
                             file_name=f"整改进展_{as_of}.xlsx")
        st.download_button(tr("ledger_download", lang), data,
                           file_name=f"整改进展_{as_of}.xlsx")

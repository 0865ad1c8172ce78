"""Users and the audit trail, for administrators (``gridwatch users`` changes the users)."""

from __future__ import annotations

import streamlit as st

from app_pages._access import access_store, current_user
from app_pages._project import config, lang_from_url, project
from gridwatch.access import audit_log, list_users
from gridwatch.ui.i18n import tr

lang = lang_from_url()
user = current_user()
if not user.may("admin"):  # app.py lists this page for administrators only
    st.error(tr("not_allowed", lang))
    st.stop()
proj = project()
store = access_store(proj.db_url)
timezone = config(proj.config_path).territory.timezone
st.header(tr("users", lang))
st.dataframe(list_users(store), hide_index=True, width="stretch")
st.header(tr("audit", lang))
log = audit_log(store, limit=1000)
shown = log.assign(at=log["at"].dt.tz_convert(timezone).dt.strftime("%Y-%m-%d %H:%M:%S"),
                   detail=[", ".join(f"{k}={v}" for k, v in d.items()) for d in log["detail"]])
st.dataframe(shown.iloc[::-1], hide_index=True, width="stretch")

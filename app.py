"""The supervisor's app: ``streamlit run app.py`` (opens on the demo city when nothing is set).

A short entry point: it ships the map assets next to itself (served by Streamlit's static
serving, so no map file comes from the internet) and lists the pages in ``app_pages/``
(not ``pages/``: Streamlit would then run any page linked directly without this script).
Nobody gets past :func:`require_sign_in`, and the pages listed follow the user's role.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages._access import require_sign_in
from gridwatch.ui.i18n import LANGUAGES, tr

HERE = Path(__file__).resolve().parent


@st.cache_resource(show_spinner=False)
def _assets() -> Path:
    from gridwatch.ui.maps import install_assets  # the map code: not for the sign-in form

    return install_assets(HERE / "static" / "gridwatch")


st.set_page_config(page_title="gridwatch", page_icon="🗺️", layout="wide")
lang = st.query_params.get("lang", "zh")
lang = lang if lang in LANGUAGES else "zh"
pages = [
    st.Page("app_pages/overview.py", title=tr("page_overview", lang), url_path="overview",
            default=True),
    st.Page("app_pages/league.py", title=tr("page_league", lang), url_path="league"),
    st.Page("app_pages/trends.py", title=tr("page_trends", lang), url_path="trends"),
    st.Page("app_pages/problems.py", title=tr("page_problems", lang), url_path="problems"),
    st.Page("app_pages/plan.py", title=tr("page_plan", lang), url_path="plan"),
    st.Page("app_pages/patches.py", title=tr("page_patches", lang), url_path="patches"),
    st.Page("app_pages/enterprises.py", title=tr("page_enterprises", lang),
            url_path="enterprises"),
]
by_role = {
    "ledger": st.Page("app_pages/ledger.py", title=tr("page_ledger", lang), url_path="ledger"),
    "upload": st.Page("app_pages/upload.py", title=tr("page_upload", lang), url_path="upload"),
    "admin": st.Page("app_pages/admin.py", title=tr("page_admin", lang), url_path="admin"),
}
# nothing of the problems is read before this; while the form is shown, every page is known
# (hidden, never run), so the page a link named is the one shown once signed in
user = require_sign_in(lambda: st.navigation([*pages, *by_role.values()], position="hidden"))
if user.scope.whole:  # the ledger is not divided by area yet
    pages.append(by_role["ledger"])
if user.may("import"):
    pages.append(by_role["upload"])
if user.may("admin"):
    pages.append(by_role["admin"])
_assets()  # Leaflet and its plugins, served by this server to the map pages
st.navigation(pages).run()

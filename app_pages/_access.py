"""Sign-in at the app's edge: nothing of the store's problems is read before it.

The project file chooses how (``[access] sign_in``, see docs/access.md): ``password`` (a
form checked against the users in the store, argon2 hashes), ``header`` (the name the
intranet's reverse proxy puts in a header) or ``oidc`` (Streamlit's ``st.login`` with the
provider of ``.streamlit/secrets.toml``). The signed-in user's name is kept in the session
(server side) and read again from the store on every run, so a user disabled or removed is
out at their next click.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable

import streamlit as st

from app_pages._project import config, lang_from_url, project
from gridwatch.access import User, get_user, list_users
from gridwatch.access.signin import (
    identity_from_oidc,
    identity_from_proxy,
    sign_in_by_identity,
)
from gridwatch.access.users import authenticate
from gridwatch.errors import SignInError
from gridwatch.store import Store
from gridwatch.ui.i18n import tr

#: Session key of the signed-in user's name.
SESSION_KEY = "gw_user"


@st.cache_resource(show_spinner=False)
def access_store(db_url: str) -> Store:
    """One open store per URL for the users and the audit (the problems are read apart)."""
    return Store(db_url)


def current_user() -> User:
    """The signed-in user (``require_sign_in`` ran before any page)."""
    user = st.session_state.get("gw_user_object")
    if not isinstance(user, User):  # a page run without app.py: nobody is signed in
        st.stop()
    return user


def require_sign_in(before_stop: Callable[[], object] | None = None) -> User:
    """Return the signed-in user, or draw the sign-in and stop the script (calling
    ``before_stop`` first: the app registers its pages there, so the page a link named is
    the one shown once signed in)."""
    lang = lang_from_url()
    proj = project()
    settings = config(proj.config_path).settings.access
    store = access_store(proj.db_url)
    user = None
    name = st.session_state.get(SESSION_KEY)
    if settings.sign_in == "header":  # the proxy's word, on every run
        user = _from_proxy(store, settings, lang)
    elif settings.sign_in == "oidc":  # the provider's word, on every run (st.logout ends it)
        user = _from_oidc(store, settings, lang)
    elif isinstance(name, str):
        found = get_user(store, name)
        user = found if found is not None and not found.disabled else None
    if user is None and settings.sign_in == "password":
        user = _password_form(store, lang)
    if user is None:
        _import_pages_meanwhile()
        st.session_state.pop(SESSION_KEY, None)
        st.session_state.pop("gw_user_object", None)
        if before_stop is not None:
            before_stop()
        st.stop()
    st.session_state[SESSION_KEY] = user.name
    st.session_state["gw_user_object"] = user
    _signed_in_bar(user, settings.sign_in, lang)
    return user


_IMPORTING: list[threading.Thread] = []


def _import_pages_meanwhile() -> None:
    """Import the code the pages draw with (folium, the maps, the views) in the background
    while the form is shown, once per server process: the first view after signing in then
    waits for the data only. No data is read or computed here."""
    if _IMPORTING:
        return

    def work() -> None:
        for name in ("app_pages._maps", "gridwatch.supervision.aggregate",
                     "gridwatch.supervision.codes"):
            with contextlib.suppress(Exception):  # only a head start: a page imports its own
                importlib.import_module(name)

    _IMPORTING.append(threading.Thread(target=work, name="gridwatch-imports", daemon=True))
    _IMPORTING[0].start()


def _password_form(store: Store, lang: str) -> User | None:
    st.title(tr("app_title", lang))
    with st.form("gw_sign_in"):
        name = st.text_input(tr("user_name", lang), key="gw_sign_in_name")
        password = st.text_input(tr("password", lang), type="password",
                                 key="gw_sign_in_password")
        submitted = st.form_submit_button(tr("sign_in", lang), type="primary")
    if submitted:
        try:
            user = authenticate(store, name.strip(), password)
        except SignInError:
            st.error(tr("sign_in_refused", lang))
        else:  # drawn again without the form
            st.session_state[SESSION_KEY] = user.name
            st.rerun()
    if list_users(store).empty:
        st.info(tr("no_users_yet", lang))
    elif st.session_state.get("gw_demo_admin"):
        st.info(tr("demo_admin", lang))
    return None


def _from_proxy(store: Store, settings: object, lang: str) -> User | None:
    from gridwatch.access.settings import AccessSettings

    assert isinstance(settings, AccessSettings)
    try:
        # Streamlit gives no address for a peer on the loopback (the proxy beside it)
        client = st.context.ip_address or "127.0.0.1"
        name = identity_from_proxy(dict(st.context.headers), client, settings)
        if st.session_state.get(SESSION_KEY) == name:  # signed in already this session
            user = get_user(store, name)
            if user is not None and not user.disabled:
                return user
        return sign_in_by_identity(store, name, method="header")
    except SignInError:
        st.error(tr("sign_in_refused", lang) + " " + tr("proxy_no_identity", lang))
        return None


def _from_oidc(store: Store, settings: object, lang: str) -> User | None:
    from gridwatch.access.settings import AccessSettings

    assert isinstance(settings, AccessSettings)
    claims = dict(st.user.to_dict())
    if not claims.get("is_logged_in"):
        st.title(tr("app_title", lang))
        provider = settings.oidc_provider or None
        st.button(tr("oidc_sign_in", lang), on_click=st.login,
                  args=(provider,) if provider else ())
        return None
    try:
        name = identity_from_oidc(claims, settings)
        if st.session_state.get(SESSION_KEY) == name:  # signed in already this session
            user = get_user(store, name)
            if user is not None and not user.disabled:
                return user
        return sign_in_by_identity(store, name, method="oidc")
    except SignInError:
        st.error(tr("sign_in_refused", lang))
        st.button(tr("sign_out", lang), on_click=st.logout)
        return None


def _signed_in_bar(user: User, mode: str, lang: str) -> None:
    scope = tr("scope_all", lang) if user.scope.whole else str(user.scope)
    st.sidebar.caption(f"{tr('signed_in_as', lang)}: {user.name} ({user.role}) · "
                       f"{tr('scope', lang)}: {scope}")
    if mode == "password":
        if st.sidebar.button(tr("sign_out", lang), key="gw_sign_out"):
            st.session_state.pop(SESSION_KEY, None)
            st.session_state.pop("gw_user_object", None)
            st.rerun()
    elif mode == "oidc":
        st.sidebar.button(tr("sign_out", lang), key="gw_sign_out", on_click=st.logout)

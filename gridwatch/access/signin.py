"""Who is signing in, by the three ways the project file may choose (``[access] sign_in``):
a password checked against the store, the identity header a reverse proxy sets, or the
identity an OIDC provider vouches for (Streamlit's ``st.login``). The app's glue
(``app_pages/_access.py``) asks these functions; they hold no Streamlit code.

Examples
--------
>>> from gridwatch.access.settings import AccessSettings
>>> proxy = AccessSettings(sign_in="header", user_header="X-Remote-User")
>>> identity_from_proxy({"x-remote-user": "li"}, "127.0.0.1", proxy)
'li'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gridwatch.access.audit import log_action
from gridwatch.access.users import SIGN_IN_REFUSED, User, resolve_user
from gridwatch.errors import SignInError

if TYPE_CHECKING:
    from gridwatch.access.settings import AccessSettings
    from gridwatch.store import Store

__all__ = ["identity_from_oidc", "identity_from_proxy", "sign_in_by_identity"]


def identity_from_proxy(headers: Mapping[str, str], client: str | None,
                        settings: AccessSettings) -> str:
    """The user name in the proxy's header, when the request came from a trusted proxy.

    Parameters
    ----------
    headers
        The request's headers (names compared without case).
    client
        The address the request came from (the proxy's, when there is one).
    settings
        ``[access]``: the header's name and the proxies trusted to set it.

    Raises
    ------
    SignInError
        When the request did not come through a trusted proxy or carries no name.
    """
    if client is None or client not in settings.trusted_proxies:
        raise SignInError(SIGN_IN_REFUSED)
    wanted = settings.user_header.lower()
    name = next((str(v).strip() for k, v in headers.items() if k.lower() == wanted), "")
    if not name:
        raise SignInError(SIGN_IN_REFUSED)
    return name


def identity_from_oidc(claims: Mapping[str, Any], settings: AccessSettings) -> str:
    """The user name in the OIDC claims (``st.user``) by ``[access] oidc_claim``.

    Raises
    ------
    SignInError
        When the provider did not say who signed in.
    """
    if not claims.get("is_logged_in", True):
        raise SignInError(SIGN_IN_REFUSED)
    name = str(claims.get(settings.oidc_claim) or "").strip()
    if not name:
        raise SignInError(SIGN_IN_REFUSED)
    return name


def sign_in_by_identity(store: Store, name: str, *, method: str) -> User:
    """The enabled gridwatch user of an identity vouched for by a proxy or OIDC, the sign-in
    recorded in the audit (refusals too, with the same message as a wrong password).

    Raises
    ------
    SignInError
    """
    try:
        user = resolve_user(store, name)
    except SignInError:
        log_action(store, "-", "sign_in_refused", user=name, method=method)
        raise
    log_action(store, user.name, "sign_in", user=user.name, method=method)
    return user

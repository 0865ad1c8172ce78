"""Users, roles, password hashes, sign-in refusals and the append-only audit
(gridwatch.access), on SQLite and PostGIS, through the library and ``gridwatch users``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from helpers import sqlite_url
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.access import (
    LOCAL_ADMIN,
    SIGN_IN_REFUSED,
    Scope,
    add_user,
    audit_log,
    authenticate,
    get_user,
    list_users,
    log_action,
    remove_user,
    require,
    resolve_user,
    set_disabled,
    set_password,
)
from gridwatch.access.passwords import hash_password, verify_password
from gridwatch.cli import main
from gridwatch.errors import AccessError, ConfigError, SignInError
from gridwatch.store import Store

PASSWORD = "s3cret-password"


# --- scopes ---------------------------------------------------------------------------------

@given(layer=st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
       ids=st.lists(st.from_regex(r"[0-9A-Za-z_\-]{1,12}", fullmatch=True), min_size=1,
                    max_size=5))
def test_scope_text_round_trips(layer: str, ids: list[str]) -> None:
    scope = Scope.of(layer, ids)
    assert Scope.parse(str(scope)) == scope
    assert scope.areas == tuple(sorted(set(ids)))
    assert all(scope.allows(layer, a) for a in ids)
    assert not scope.allows(layer + "x", ids[0])


@pytest.mark.parametrize("text", ["county", "county:", ":330402", "county: , "])
def test_scope_refuses_malformed_text(text: str) -> None:
    with pytest.raises(ConfigError, match=r"scope|layer"):
        Scope.parse(text)


def test_whole_scope() -> None:
    assert Scope.parse("*").whole and Scope.parse("all").whole
    assert str(Scope.parse("*")) == "*"
    assert Scope.parse("*").allows("town", "anything")


# --- passwords ------------------------------------------------------------------------------

@settings(max_examples=5, deadline=None)  # argon2 is slow on purpose
@given(password=st.text(min_size=12, max_size=40))
def test_password_hash_verifies_only_its_password(password: str) -> None:
    stored = hash_password(password)
    assert password not in stored  # (a long password cannot sit in the hash by chance)
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, password)
    assert not verify_password(stored, password + "x")
    assert hash_password(password) != stored  # salted


def test_verify_refuses_missing_or_damaged_hash() -> None:
    assert not verify_password(None, "x")
    assert not verify_password("not a hash", "x")


# --- users in the store ---------------------------------------------------------------------

def test_users_and_sign_in(store_url: str) -> None:
    with Store(store_url) as store:
        add_user(store, "li", role="viewer", scope=Scope.parse("county:330402"),
                 password=PASSWORD, actor="boss")
        add_user(store, "wang", role="supervisor", scope=Scope.parse("town:1,2"),
                 password=PASSWORD, actor="boss")
        user = authenticate(store, "li", PASSWORD)
        assert (user.name, user.role, str(user.scope)) == ("li", "viewer", "county:330402")
        assert user.may("read") and not user.may("import") and not user.may("export")
        assert get_user(store, "wang").may("export")  # type: ignore[union-attr]
        table = list_users(store)
        assert list(table["name"]) == ["li", "wang"]
        assert "password_hash" not in table.columns
        # the hash in the table is argon2, never the password
        with store.engine.connect() as conn:
            stored = conn.execute(sa.select(store.table("users").c.password_hash)).scalars().all()
        assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in stored)

        set_password(store, "li", "another-password", actor="boss")
        assert authenticate(store, "li", "another-password").name == "li"
        with pytest.raises(ConfigError, match="exists already"):
            add_user(store, "li", role="viewer", scope=Scope(), password=PASSWORD, actor="b")
        with pytest.raises(ConfigError, match="too short"):
            set_password(store, "li", "short", actor="boss")
        with pytest.raises(ConfigError, match="role"):
            add_user(store, "zhao", role="god", scope=Scope(), password=PASSWORD, actor="b")
        remove_user(store, "wang", actor="boss")
        assert get_user(store, "wang") is None
        with pytest.raises(ConfigError, match="no user"):
            remove_user(store, "wang", actor="boss")


def test_refusals_say_the_same_thing(store_url: str) -> None:
    """A wrong password, an unknown user and a disabled user get one identical message."""
    with Store(store_url) as store:
        add_user(store, "li", role="viewer", scope=Scope(), password=PASSWORD, actor="boss")
        add_user(store, "off", role="admin", scope=Scope(), password=PASSWORD, actor="boss")
        set_disabled(store, "off", True, actor="boss")
        messages = []
        for name, password in (("li", "wrong-password"), ("nobody", PASSWORD),
                               ("off", PASSWORD)):
            with pytest.raises(SignInError) as refused:
                authenticate(store, name, password)
            messages.append(str(refused.value))
        assert messages == [SIGN_IN_REFUSED] * 3
        for name in ("nobody", "off"):  # the CLI's --as-user and the proxy header too
            with pytest.raises(SignInError, match=SIGN_IN_REFUSED):
                resolve_user(store, name)
        set_disabled(store, "off", False, actor="boss")
        assert authenticate(store, "off", PASSWORD).role == "admin"
        actions = list(audit_log(store)["action"])
    assert actions.count("sign_in_refused") == 3
    assert actions.count("sign_in") == 1
    assert actions[-2:] == ["user_enable", "sign_in"]


def test_roles() -> None:
    require(LOCAL_ADMIN, "admin")
    viewer = LOCAL_ADMIN.__class__(name="v", role="viewer", scope=Scope())
    with pytest.raises(AccessError, match="may not import"):
        require(viewer, "import")


def test_audit_is_append_only(store_url: str) -> None:
    with Store(store_url) as store:
        log_action(store, "wang", "export", scope="county:330402", format="csv", rows=3)
        log_action(store, "wang", "import", run_id=7, files=["a.csv"])
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), \
                store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit SET actor = 'someone else'"))
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), \
                store.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit"))
        log = audit_log(store)
    assert list(log["actor"]) == ["wang", "wang"]
    assert log["detail"][0] == {"scope": "county:330402", "format": "csv", "rows": 3}
    assert log["run_id"].tolist() == [pd_na(), 7]


def pd_na() -> object:
    import pandas as pd

    return pd.NA


# --- the command line -------------------------------------------------------------------------

def _gw(args: list[str], url: str, *, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--db", url], input=stdin,
                                catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_users_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GRIDWATCH_USER", raising=False)
    url = sqlite_url(tmp_path / "s.sqlite")
    code, out = _gw(["users", "add", "chen", "--role", "admin", "--scope", "*",
                     "--password-stdin"], url, stdin=PASSWORD + "\n")
    assert code == 0, out
    code, out = _gw(["users", "add", "li", "--role", "viewer", "--scope", "county:330402"],
                    url, stdin=f"{PASSWORD}\n{PASSWORD}\n")  # asked twice
    assert code == 0, out
    assert PASSWORD not in out
    code, out = _gw(["users", "list", "--json"], url)
    assert code == 0
    listed = json.loads(out)["users"]
    assert [(u["name"], u["role"], u["scope"]) for u in listed] == [
        ("chen", "admin", "*"), ("li", "viewer", "county:330402")]
    assert PASSWORD not in out and "argon2" not in out
    # a viewer may not manage users; an admin named with --as-user may
    code, out = _gw(["users", "disable", "chen", "--as-user", "li"], url)
    assert code == 1 and "may not admin" in out
    code, out = _gw(["users", "disable", "li", "--as-user", "chen"], url)
    assert code == 0
    code, out = _gw(["users", "list", "--as-user", "li"], url)  # disabled now
    assert code == 1 and SIGN_IN_REFUSED in out
    code, out = _gw(["users", "enable", "li", "--as-user", "chen"], url)
    code, out = _gw(["users", "set-password", "li", "--password-stdin"], url,
                    stdin="a-new-password\n")
    assert code == 0
    code, out = _gw(["users", "remove", "li"], url)
    assert code == 0
    code, out = _gw(["users", "remove", "li"], url)
    assert code == 1 and "no user 'li'" in out
    code, out = _gw(["audit", "--json"], url)
    entries = json.loads(out)["entries"]
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("local-admin", "user_add"), ("local-admin", "user_add"), ("chen", "user_disable"),
        ("chen", "user_enable"), ("local-admin", "user_password"),
        ("local-admin", "user_remove")]
    assert PASSWORD not in out and "a-new-password" not in out
    code, out = _gw(["audit", "--as-user", "nobody"], url)
    assert code == 1 and SIGN_IN_REFUSED in out


def test_cli_refuses_a_scope_the_project_lacks(small_project: Path) -> None:
    url = sqlite_url(small_project.parent / "s.sqlite")
    code, out = _gw(["users", "add", "li", "--role", "viewer", "--scope", "county:999999",
                     "--password-stdin", "--config", str(small_project)], url,
                    stdin=PASSWORD + "\n")
    assert code == 1 and "has no area 999999" in out
    code, out = _gw(["users", "add", "li", "--role", "viewer", "--scope", "town:1",
                     "--password-stdin", "--config", str(small_project)], url,
                    stdin=PASSWORD + "\n")
    assert code == 1 and "layer 'town' is not in the project" in out
    code, out = _gw(["users", "add", "li", "--role", "viewer", "--scope", "county:330402",
                     "--password-stdin", "--config", str(small_project)], url,
                    stdin=PASSWORD + "\n")
    assert code == 0, out


def test_first_admin_only_for_a_store_without_users(tmp_path: Path) -> None:
    from gridwatch.access import first_admin

    with Store(sqlite_url(tmp_path / "s.sqlite")) as store:
        password = first_admin(store, actor="gridwatch demo")
        assert password is not None and len(password) >= 12
        user = authenticate(store, "admin", password)
        assert (user.role, user.scope.whole) == ("admin", True)
        assert first_admin(store, actor="gridwatch demo") is None  # never a second one
        assert list(audit_log(store)["action"]) == ["user_add", "sign_in"]


# --- identities from a reverse proxy or an OIDC provider ------------------------------------

def test_identity_from_a_trusted_proxy_only() -> None:
    from gridwatch.access.settings import AccessSettings
    from gridwatch.access.signin import identity_from_proxy

    proxy = AccessSettings(sign_in="header", user_header="X-Remote-User",
                           trusted_proxies=("10.0.0.5",))
    assert identity_from_proxy({"X-REMOTE-USER": " li "}, "10.0.0.5", proxy) == "li"
    for headers, client in (({"X-Remote-User": "li"}, "10.0.0.6"),  # not the proxy
                            ({"X-Remote-User": "li"}, None),
                            ({"X-Remote-User": " "}, "10.0.0.5"),  # the proxy named nobody
                            ({"X-Other": "li"}, "10.0.0.5")):
        with pytest.raises(SignInError, match=SIGN_IN_REFUSED):
            identity_from_proxy(headers, client, proxy)


def test_identity_from_oidc_claims() -> None:
    from gridwatch.access.settings import AccessSettings
    from gridwatch.access.signin import identity_from_oidc

    oidc = AccessSettings(sign_in="oidc", oidc_claim="email")
    assert identity_from_oidc({"is_logged_in": True, "email": "li@eb.gov.cn"}, oidc) == \
        "li@eb.gov.cn"
    for claims in ({"is_logged_in": False, "email": "li@eb.gov.cn"},
                   {"is_logged_in": True, "name": "li"}):
        with pytest.raises(SignInError, match=SIGN_IN_REFUSED):
            identity_from_oidc(claims, oidc)


def test_sign_in_by_identity_is_audited(store_url: str) -> None:
    from gridwatch.access.signin import sign_in_by_identity

    with Store(store_url) as store:
        add_user(store, "li@eb.gov.cn", role="viewer", scope=Scope.parse("county:330402"),
                 password=None, actor="boss")
        user = sign_in_by_identity(store, "li@eb.gov.cn", method="oidc")
        assert str(user.scope) == "county:330402" and not user.has_password
        with pytest.raises(SignInError, match=SIGN_IN_REFUSED):
            sign_in_by_identity(store, "mallory", method="header")
        with pytest.raises(SignInError, match=SIGN_IN_REFUSED):  # no password: no form
            authenticate(store, "li@eb.gov.cn", "")
        log = audit_log(store)
    assert [(a, d.get("method")) for a, d in zip(log["action"], log["detail"], strict=True)] \
        == [("user_add", None), ("sign_in", "oidc"), ("sign_in_refused", "header"),
            ("sign_in_refused", "password")]


def test_cli_row_security(store_url: str, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = _gw(["users", "row-security"], store_url)
    if store_url.startswith("sqlite"):
        assert code == 1 and "for PostgreSQL stores" in out
        return
    assert code == 0, out
    code, out = _gw(["audit", "--action", "row_security", "--json"], store_url)
    assert [e["detail"]["role"] for e in json.loads(out)["entries"]] == ["gridwatch_scoped"]

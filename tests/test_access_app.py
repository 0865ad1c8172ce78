"""The app's doors: no page without signing in, one message for every refused sign-in,
hostile links naming areas outside the user's scope, a county user seeing their county only,
a viewer who cannot import nor download, and the audit of it all."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("streamlit_folium")
from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _app_project import PASSWORD, build_app_project, problem_rows, sign_in
from helpers import component_instances

from gridwatch.access import audit_log, set_disabled
from gridwatch.store import Store

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ("app_pages/overview.py", "app_pages/league.py", "app_pages/trends.py",
         "app_pages/problems.py")
REFUSED = "登录失败：用户名或密码错误，或账号已停用。"
NOT_YOURS = "不在您的管辖范围内。"
_TOKEN = re.compile(r"[A-Za-z0-9_]+")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return build_app_project(tmp_path_factory.mktemp("access-app"))


@pytest.fixture
def app_env(project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    config_path, db_url = project
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(config_path))
    monkeypatch.setenv("GRIDWATCH_DB", db_url)
    yield db_url


def _app(user: str | None = None, page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if user is not None:
        sign_in(at, user)
    at.query_params.update(query)
    at.run()
    if page is not None and user is not None:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _shows_data(at: AppTest) -> bool:
    return bool(at.metric or at.dataframe or component_instances(at) or at.get("download_button")
                or at.get("vega_lite_chart"))


def _said(at: AppTest) -> set[str]:
    """Every word the page shows: texts, tables, the map's arguments."""
    words: set[str] = set()
    for kind in ("markdown", "caption", "warning", "info", "error", "title", "header",
                 "subheader", "metric"):
        for element in at.get(kind):
            words |= set(_TOKEN.findall(str(getattr(element, "value", "")) + " "
                                        + str(getattr(element, "label", ""))))
    for frame in at.dataframe:
        value = frame.value
        words |= set(_TOKEN.findall(" ".join(map(str, value.columns))))
        for column in value.columns:
            words |= set(_TOKEN.findall(" ".join(map(str, value[column].dropna().unique()))))
    for component in component_instances(at):
        words |= set(_TOKEN.findall(component.proto.json_args))
    for box in [*at.sidebar.selectbox, *at.selectbox]:
        words |= set(_TOKEN.findall(" ".join(map(str, box.options))))
    return words


# --- signing in ---------------------------------------------------------------------------------

def test_no_page_and_no_data_before_signing_in(app_env: str) -> None:
    from app_pages import _shared

    _shared._CONTEXTS.clear()
    for query in ({}, {"level": "grid", "area": "G111"}, {"lang": "en"}):
        at = _app(None, **query)
        assert at.text_input(key="gw_sign_in_name") is not None
        assert not _shows_data(at)
        assert not at.sidebar.selectbox  # no filters, no navigation to pages
    assert _shared._CONTEXTS == {}  # nothing of the problems was read


def _try(name: str, password: str) -> AppTest:
    at = _app(None)
    at.text_input(key="gw_sign_in_name").input(name)
    at.text_input(key="gw_sign_in_password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_wrong_password_unknown_and_disabled_users_get_one_message(app_env: str) -> None:
    with Store(app_env) as store:
        from gridwatch.access import Scope, add_user

        add_user(store, "gone", role="admin", scope=Scope(), password=PASSWORD, actor="t")
        set_disabled(store, "gone", True, actor="t")
    shown = []
    for name, password in (("admin", "not-the-password"), ("nobody", PASSWORD),
                           ("gone", PASSWORD)):
        at = _try(name, password)
        shown.append([e.value for e in at.error])
        assert not _shows_data(at)
    assert shown == [[REFUSED]] * 3
    at = _try("admin", PASSWORD)
    assert at.metric and not at.error  # signed in: the overview
    with Store(app_env) as store:
        log = audit_log(store, limit=4)
    assert list(log["action"]) == ["sign_in_refused"] * 3 + ["sign_in"]
    assert [d["user"] for d in log["detail"]] == ["admin", "nobody", "gone", "admin"]


def test_a_user_disabled_during_a_session_is_out_at_the_next_run(app_env: str) -> None:
    with Store(app_env) as store:
        from gridwatch.access import Scope, add_user

        add_user(store, "temp", role="viewer", scope=Scope(), password=PASSWORD, actor="t")
    at = _app("temp")
    assert at.metric
    with Store(app_env) as store:
        set_disabled(store, "temp", True, actor="t")
    at.run()
    assert not _shows_data(at)
    assert at.text_input(key="gw_sign_in_name") is not None


# --- scopes --------------------------------------------------------------------------------------

HOSTILE_LINKS = [
    {"level": "county", "area": "C2"},
    {"level": "town", "area": "T21"},
    {"level": "grid", "area": "G212"},
    {"level": "microgrid", "area": "G211M1"},
    {"level": "grid", "area": "NOPE"},
    {"level": "county", "area": "<script>alert(1)</script>"},
    {"basin": "B9"},
]


@pytest.mark.parametrize("page", [*PAGES, "app_pages/upload.py", "app_pages/plan.py",
                                  "app_pages/enterprises.py"])
@pytest.mark.parametrize("query", HOSTILE_LINKS, ids=lambda q: "&".join(
    f"{k}={v}" for k, v in q.items())[:30])
def test_links_outside_the_scope_show_not_in_your_area_only(app_env: str, page: str,
                                                            query: dict[str, str]) -> None:
    at = _app("c1", page, **query)
    assert [e.value for e in at.error] == [NOT_YOURS]
    assert not _shows_data(at)
    assert "C2" not in _said(at) and "T21" not in _said(at)


def test_a_redline_outside_the_scope_is_not_yours(app_env: str) -> None:
    at = _app("viewer", "app_pages/overview.py", redline="RL1")  # RL1 lies in county C1
    assert [e.value for e in at.error] == [NOT_YOURS]
    assert not _shows_data(at)
    at = _app("c1", "app_pages/overview.py", redline="RL1")
    assert not at.error and at.metric


OTHER_COUNTY = {"C2", "T21", "T22", "G211", "G212", "G221", "G222"}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("query", [{}, {"level": "town"}, {"level": "grid"},
                                   {"level": "county", "area": "C1"},
                                   {"level": "grid", "area": "G111"}],
                         ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "city")
def test_a_county_user_sees_only_their_county(app_env: str, page: str,
                                              query: dict[str, str]) -> None:
    from gridwatch.config import load_config
    from gridwatch.supervision.context import open_context

    at = _app("c1", page, **query)
    said = _said(at)
    assert said & {"C1", "T11", "T12", "G111", "G112", "G121", "G122"}  # it shows its own
    assert not said & OTHER_COUNTY, sorted(said & OTHER_COUNTY)
    full = open_context(load_config(os.environ["GRIDWATCH_CONFIG"]), app_env)
    other = set(full.issues.loc[full.issues["county_id"] != "C1", "issue_id"])
    assert not said & other, sorted(said & other)[:5]
    if page.endswith("overview.py") and not query:  # the control: the city shows the other
        admin = _said(_app("admin", page))
        assert "C2" in admin
    if page.endswith("problems.py"):
        table = at.dataframe[0].value
        assert len(table) and set(table["issue_id"]) <= set(
            full.issues.loc[full.issues["county_id"] == "C1", "issue_id"])


def test_a_town_user_s_choices_are_their_town_s(app_env: str) -> None:
    at = _app("t21", "app_pages/overview.py", level="grid")
    options = {o for o in at.sidebar.selectbox(key="f_area_grid").options if o != "—"}
    assert options and all("G21" in o for o in options)
    at = _app("t21", "app_pages/overview.py", level="county")
    assert {o for o in at.sidebar.selectbox(key="f_area_county").options if o != "—"} == \
        {"测试县2（C2）"}  # the county holding the town


# --- roles --------------------------------------------------------------------------------------

def test_a_viewer_cannot_import_nor_download(app_env: str) -> None:
    at = _app("viewer")
    assert at.metric and not at.get("download_button")
    at = _app("viewer", "app_pages/problems.py")
    assert at.dataframe and not at.get("download_button")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        _app("viewer", "app_pages/upload.py")


def test_the_upload_page_refuses_a_viewer_run_directly(app_env: str) -> None:
    """Not listed for a viewer; run on its own (a stale link), it refuses too."""
    at = AppTest.from_file(str(Path(APP).parent / "app_pages" / "upload.py"),
                           default_timeout=60)
    from gridwatch.access import get_user

    with Store(app_env) as store:
        viewer = get_user(store, "viewer")
    at.session_state["gw_user_object"] = viewer
    at.run()
    assert [e.value for e in at.error] == ["您的角色无权进行此操作。"]
    assert not at.get("file_uploader")


def test_an_import_is_audited_with_its_run(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    config_path, db_url = build_app_project(tmp_path / "p", n=20)
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(config_path))
    monkeypatch.setenv("GRIDWATCH_DB", db_url)
    at = _app("c1", "app_pages/upload.py")
    rows = problem_rows(25, seed=3).iloc[20:].copy()
    rows["问题编号"] = [f"U{i}" for i in range(len(rows))]
    at.get("file_uploader")[0].upload("day.csv", rows.to_csv(index=False).encode(), "text/csv")
    at.run()
    at.button(key="u_go").click().run()
    assert not at.exception
    with Store(db_url) as store:
        last = audit_log(store, action="import", limit=1).iloc[-1]
        run = store.last_run_id()
    assert last["actor"] == "c1" and last["run_id"] == run == 2
    assert last["detail"]["files"] == ["day.csv"]


def test_admin_page_lists_users_and_audit_for_admins_only(app_env: str) -> None:
    at = _app("admin", "app_pages/admin.py")
    users, audit = at.dataframe[0].value, at.dataframe[1].value
    assert {"admin", "c1", "viewer"} <= set(users["name"])
    assert "password_hash" not in users.columns
    assert "user_add" in set(audit["action"])
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        _app("c1", "app_pages/admin.py")


def test_streamlit_listens_on_loopback_only() -> None:
    import tomllib

    settings = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert settings["server"]["address"] == "127.0.0.1"


def test_sign_in_settings_are_checked(tmp_path: Path) -> None:
    from gridwatch.config import config_from_dict
    from gridwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="sign_in 'ldap'"):
        config_from_dict({"access": {"sign_in": "ldap"}}, root=tmp_path)
    config = config_from_dict({"access": {"sign_in": "header", "user_header": "X-User"}},
                              root=tmp_path)
    assert config.settings.access.user_header == "X-User"
    assert json.dumps(config.settings.access.trusted_proxies)


def test_app_downloads_are_audited(app_env: str) -> None:
    """What a download button hands over is recorded with the user's scope and the view."""
    from types import SimpleNamespace

    from app_pages._shared import audited_bytes
    from gridwatch.access import get_user

    with Store(app_env) as store:
        user = get_user(store, "c1")
    view = SimpleNamespace(project=SimpleNamespace(db_url=app_env), user=user,
                           filters=SimpleNamespace(area="T11", level="town"))
    data = audited_bytes(view, lambda: b"rows", what="inspection list",  # type: ignore[arg-type]
                         file_name="inspection.xlsx")
    assert data == b"rows"
    with Store(app_env) as store:
        last = audit_log(store, action="export", limit=1).iloc[-1]
    assert last["actor"] == "c1"
    assert last["detail"] == {"what": "inspection list", "format": "xlsx",
                              "file": "inspection.xlsx", "scope": "county:C1", "area": "T11",
                              "level": "town"}


def test_oidc_mode_asks_the_provider_and_nothing_else(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config_path, db_url = build_app_project(tmp_path / "p", n=20)
    with open(config_path, "a", encoding="utf-8") as toml:
        toml.write('\n[access]\nsign_in = "oidc"\noidc_claim = "email"\n')
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(config_path))
    monkeypatch.setenv("GRIDWATCH_DB", db_url)
    # a name left in the session does not sign in: only the provider's word does
    at = _app("admin")
    assert [b.label for b in at.button] == ["通过单位身份认证登录"]
    assert not _shows_data(at) and not at.text_input


def test_the_ledger_page_is_for_the_whole_territory_only(app_env: str) -> None:
    at = _app("admin", "app_pages/ledger.py")
    assert not at.error or [e.value for e in at.error] != [NOT_YOURS]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        _app("c1", "app_pages/ledger.py")

"""The app in a real headless Chromium: the map draws offline and user text stays text.

Starts ``streamlit run app.py`` on a free loopback port against a small store made here, blocks
and counts every request that would leave the machine, waits for Leaflet to draw polygons in
the map's frame, takes a screenshot of the city view, opens a town by clicking it,
and opens the popup of a problem whose description is an XSS attempt. Needs Debian's
``chromium`` and the ``playwright`` Python package (no ``playwright install``: the system
browser is used).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _app_project import PASSWORD, build_app_project

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
REPO = Path(__file__).resolve().parents[1]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

# Runs inside the map's frame: find the Leaflet map, then the marker whose popup holds the
# hostile description, and open that popup (zooming into its cluster first).
OPEN_HOSTILE_POPUP = """
() => new Promise((resolve) => {
  const maps = Object.values(window).filter((v) => v instanceof L.Map);
  if (!maps.length) { resolve("no map"); return; }
  let found = null;
  maps[0].eachLayer((layer) => {
    if (!found && layer.getLayers) {
      for (const marker of layer.getLayers()) {
        const popup = marker.getPopup && marker.getPopup();
        const content = popup && popup.getContent();
        const text = content && (content.innerHTML || String(content));
        if (text && text.includes("onerror")) { found = [layer, marker]; break; }
      }
    }
  });
  if (!found) { resolve("no marker"); return; }
  const [cluster, marker] = found;
  const open = () => { marker.openPopup(); resolve("opened"); };
  if (cluster.zoomToShowLayer) { cluster.zoomToShowLayer(marker, open); } else { open(); }
})
"""


def block_outside(outside: list[str]):
    """A Playwright route handler that aborts every request off this machine and notes it."""

    def route(handle) -> None:
        host = urlsplit(handle.request.url).hostname or ""
        if handle.request.url.startswith(("http:", "https:", "ws:", "wss:")) and \
                host not in LOOPBACK:
            outside.append(handle.request.url)
            handle.abort()
        else:
            handle.continue_()

    return route


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config_path, db_url = build_app_project(tmp_path_factory.mktemp("browser-project"))
    yield from _serve(config_path, db_url, tmp_path_factory)


@pytest.fixture(scope="module")
def proxied_app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app signing people in by the reverse proxy's header (``[access] sign_in``)."""
    config_path, db_url = build_app_project(tmp_path_factory.mktemp("proxied-project"))
    with open(config_path, "a", encoding="utf-8") as toml:
        toml.write('\n[access]\nsign_in = "header"\nuser_header = "X-Remote-User"\n')
    yield from _serve(config_path, db_url, tmp_path_factory)


def _serve(config_path: Path, db_url: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is not installed (apt-get install chromium fonts-noto-cjk)"
        if os.environ.get("CI"):
            pytest.fail(message)  # .ci/run installs it: a skip there would hide a broken app
        pytest.skip(message)
    pytest.importorskip("playwright.sync_api")
    port = _free_port()
    env = {**os.environ, "GRIDWATCH_CONFIG": str(config_path), "GRIDWATCH_DB": db_url}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    log = tmp_path_factory.mktemp("browser-log") / "streamlit.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def test_map_draws_offline_and_user_text_stays_text(app_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    dialogs: list[str] = []

    route = block_outside(outside)

    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
            page.route("**/*", route)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            # the city view, for the README
            _open_signed_in(page, f"{app_url}/?level=town")
            frame = _map_frame(page)
            page.get_by_text("办结率").first.wait_for(timeout=10_000)
            page.wait_for_timeout(1000)  # let the tiles-free map settle its fit-to-bounds
            # the README's picture is of the demo city; the test keeps its own out of the tree
            shot = tmp_path / "screenshot.png"
            page.screenshot(path=str(shot), full_page=False)

            # clicking a town opens it: its grids, and the choice lands in the address
            frame.query_selector_all("path.leaflet-interactive")[0].click(force=True)
            page.wait_for_url("**area=T*", timeout=20_000)
            page.wait_for_timeout(1500)  # a stale click must not open a second level
            frame = _map_frame(page)
            assert "level=town" in page.url and "area=T" in page.url

            # drilled into the hot grid: micro-grids and problem points
            _open_signed_in(page, f"{app_url}/?level=grid&area=G111")
            page.wait_for_timeout(1000)
            popup = _open_hostile_popup(page)
            assert "<img src=x onerror=alert(1)>" in popup.inner_text()
            assert "${alert(document.cookie)}" in popup.inner_text()
            assert popup.query_selector("img") is None
        finally:
            browser.close()
    assert outside == []
    assert dialogs == []
    assert shot.stat().st_size > 10_000


def _open_hostile_popup(page, timeout_s: float = 60.0):
    """Open the popup of the problem whose text is hostile and return its content. Until the
    page settles, a rerun may replace the map (and close a popup just opened), so it is
    opened again on the map shown then, until it stays open or ``timeout_s`` has passed."""
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            frame = _map_frame(page)
            opened = frame.evaluate(OPEN_HOSTILE_POPUP)
            assert opened == "opened", opened
            return frame.wait_for_selector(".leaflet-popup-content", timeout=5_000)
        except (PlaywrightError, AssertionError):
            if time.monotonic() > deadline:
                raise
            page.wait_for_timeout(500)


def _open_signed_in(page, url: str, name: str = "admin", password: str = PASSWORD) -> None:
    """Open ``url`` (a new session) and sign in through the app's form."""
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_label("用户名").fill(name, timeout=30_000)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def test_sign_in_is_required_and_refusals_say_one_thing(app_url: str) -> None:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="zh-CN")
            page.route("**/*", block_outside(outside))
            _open_signed_in(page, f"{app_url}/?level=grid&area=G111", password="wrong-one")
            page.get_by_text("登录失败").wait_for(timeout=20_000)
            assert page.query_selector("iframe") is None  # no map, no figure
            assert "G111" not in page.inner_text("body")
            # a county user's link to the other county: "not in your area" and nothing else
            _open_signed_in(page, f"{app_url}/?level=county&area=C2", name="c1")
            page.get_by_text("不在您的管辖范围内").wait_for(timeout=30_000)
            page.wait_for_timeout(1000)
            assert page.query_selector("iframe") is None
            assert "办结率" not in page.inner_text("body")
            # a link to another page: that page once signed in, not the overview
            _open_signed_in(page, f"{app_url}/league?level=town", name="c1")
            page.get_by_text("周亮晒").first.wait_for(timeout=30_000)
            assert "/league" in page.url
        finally:
            browser.close()
    assert outside == []


def test_the_proxy_s_header_signs_in_and_scopes(proxied_app_url: str) -> None:
    """As behind nginx setting X-Remote-User: the named user's county, nobody without it."""
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name, expected in (("c1", "county"), (None, "refused"),
                                   ("mallory", "refused")):
                headers = {"X-Remote-User": name} if name else {}
                context = browser.new_context(extra_http_headers=headers, locale="zh-CN")
                page = context.new_page()
                page.route("**/*", block_outside(outside))
                page.goto(f"{proxied_app_url}/?level=town", wait_until="domcontentloaded")
                if expected == "refused":
                    page.get_by_text("登录失败").wait_for(timeout=30_000)
                    assert page.query_selector("iframe") is None
                    assert page.query_selector("input[type=password]") is None
                else:
                    frame = _map_frame(page)
                    page.get_by_text("当前用户: c1").wait_for(timeout=10_000)
                    drawn = frame.evaluate(
                        "() => Array.from(document.querySelectorAll('path.leaflet-interactive'))"
                        ".length")
                    assert drawn >= 2
                    body = page.inner_text("body")
                    assert "测试镇21" not in body and "测试镇22" not in body
                context.close()
        finally:
            browser.close()
    assert outside == []


def _map_frame(page):
    """The map's frame once Leaflet has drawn polygons in it.

    After a rerun Streamlit may replace the frame while we look at it: a detached frame is
    skipped and the search goes on, rather than failing on a race the user never sees.
    """
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "streamlit_folium" not in frame.url or frame.is_detached():
                continue
            try:
                if frame.query_selector("path.leaflet-interactive") is not None:
                    return frame
            except PlaywrightError:
                continue  # detached between the check and the query
        page.wait_for_timeout(250)
    pytest.fail("the map's frame (streamlit_folium) never drew its polygons")


"""The app's view timings in a real browser (not a unit test): headless Chromium, as the
browser test drives it, over a project and store given on the command line.

Starts ``streamlit run app.py`` on a free loopback port with ``GRIDWATCH_CONFIG`` and
``GRIDWATCH_DB``, then times, from navigation to the figures (and, on map pages, the Leaflet
polygons) on screen:

- the first view after the server starts (it builds the supervision context),
- the overview again, a filter change (the grid level), a drill-down into one town,
- the league, trends and problems pages;

and prints the server's resident memory after each view, as its own (``RssAnon``) and
the pages of the files it maps (``RssFile``: the memory-mapped analytical copy), and its
peak (``VmHWM``, both together). Every non-loopback request is
aborted and counted (it must stay 0).

Run::

    .venv/bin/python benchmarks/app_views.py --config /work/scale/bench/demo/gridwatch.toml \\
        --db sqlite:////work/scale/bench/store.sqlite
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from test_browser import CHROMIUM, CHROMIUM_ARGS, _free_port, block_outside  # noqa: E402


def _memory_mb(pid: int, field: str = "VmHWM") -> float:
    """The server's peak resident memory (``VmHWM``), or another field of its
    ``/proc/PID/status``: ``RssAnon`` (its own memory), ``RssFile`` (pages of files it
    maps, such as the memory-mapped analytical copy: the system's page cache, shared and
    given back under pressure)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


# Leaflet vector layers on the map streamlit-folium keeps as window.map: SVG paths or, for a
# city's thousands of grids, shapes drawn on one canvas (not in the DOM one by one)
_COUNT_SHAPES = """() => window.map && window.L ? Object.values(window.map._layers)
    .filter(layer => layer instanceof L.Path && layer._map).length : 0"""


def _shapes(frame) -> int:
    """Polygons (and circles) a map frame shows now, however they are drawn."""
    count = frame.evaluate(_COUNT_SHAPES)
    return int(count) if count else len(frame.query_selector_all("path.leaflet-interactive"))


def _wait_for_map(page, timeout_s: float) -> None:
    """Until a map frame shows Leaflet polygons."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _polygons(page):
            return
        page.wait_for_timeout(100)
    raise TimeoutError("the map drew no polygon in time")


def _polygons(page) -> int:
    """How many Leaflet polygons the map frames show now."""
    count = 0
    for frame in page.frames:
        if "streamlit_folium" not in frame.url and "component" not in frame.url:
            continue
        try:
            count += _shapes(frame)
        except Exception:  # a frame a rerun detached
            continue
    return count


def _wait_for_new_map(page, before: int, timeout_s: float) -> None:
    """Until the map shows a number of polygons other than ``before`` (a redrawn map)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = _polygons(page)
        if now and now != before:
            return
        page.wait_for_timeout(50)
    raise TimeoutError("the map was not redrawn in time")


def _sign_in(page, user: str | None, password: str | None) -> None:
    """Fill the app's sign-in form when it shows one (the app of the sign-in issue)."""
    if user is None:
        return
    field = page.get_by_label("用户名")
    try:
        field.wait_for(timeout=120_000)  # a new session starts on a busy server
    except Exception:  # no form: an app without sign-in, or signed in by a header
        return
    field.fill(user)
    page.get_by_label("密码").fill(password or "")
    page.get_by_role("button", name="登录").click()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--town", default=None, help="Town id to drill into (default: first).")
    parser.add_argument("--user", default=None,
                        help="Sign in as this user when the app asks (password sign-in).")
    parser.add_argument("--password", default=None, help="The user's password.")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    env = {**os.environ, "GRIDWATCH_CONFIG": args.config, "GRIDWATCH_DB": args.db}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    outside: list[str] = []
    timings: list[tuple[str, float, float, float, float]] = []
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.3)

        with sync_playwright() as play:
            browser = play.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
            page.route("**/*", block_outside(outside))

            def took(name: str, start: float) -> None:
                timings.append((name, time.perf_counter() - start,
                                _memory_mb(server.pid, "RssAnon"),
                                _memory_mb(server.pid, "RssFile"), _memory_mb(server.pid)))

            def view(name: str, path: str, *, text: str, with_map: bool) -> None:
                """A new page load (a new session: signed in again when asked)."""
                start = time.perf_counter()
                page.goto(f"{url}{path}", wait_until="domcontentloaded")
                _sign_in(page, args.user, args.password)
                page.get_by_text(text).first.wait_for(timeout=600_000)
                if with_map:
                    _wait_for_map(page, 600)
                took(name, start)

            def in_app(name: str, act, *, text: str, with_map: bool) -> None:
                """A change made in the open app (a widget, a page link): no page load."""
                before = _polygons(page)
                start = time.perf_counter()
                act()
                page.get_by_text(text).first.wait_for(timeout=600_000)
                if with_map:
                    _wait_for_new_map(page, before, 600)
                took(name, start)

            def level(label: str):
                def act() -> None:
                    page.get_by_label("层级").click()
                    page.get_by_role("option", name=label, exact=True).click()
                return act

            def link(label: str):
                return lambda: page.get_by_role("link", name=label).first.click()

            view("first view after start", "/?level=town", text="办结率", with_map=True)
            view("overview again (a new page load)", "/?level=town", text="办结率",
                 with_map=True)
            view("grid level (a new page load)", "/?level=grid", text="办结率", with_map=True)
            town = args.town or "330402001"
            view(f"drill into town {town} (a new page load)", f"/?level=town&area={town}",
                 text="办结率", with_map=True)
            view("league and reminders (a new page load)", "/league?level=town",
                 text="周亮晒", with_map=False)
            view("trends (a new page load)", "/trends?level=town", text="每周新增（按类型）",
                 with_map=False)
            view("problems table (a new page load)", "/problems?level=town",
                 text="筛选后的问题", with_map=False)
            # the same views as a supervisor reaches them in the open app
            view("overview, to start the in-app changes", "/?level=town", text="办结率",
                 with_map=True)
            in_app("in app: level town -> grid", level("网格"), text="办结率", with_map=True)
            in_app("in app: level grid -> town", level("乡镇/街道"), text="办结率",
                   with_map=True)
            in_app("in app: league and reminders page", link("亮晒与提醒"), text="周亮晒",
                   with_map=False)
            in_app("in app: trends page", link("趋势"), text="每周新增（按类型）",
                   with_map=False)
            in_app("in app: problems page", link("问题清单"), text="筛选后的问题",
                   with_map=False)
            in_app("in app: back to the overview map", link("总览地图"), text="办结率",
                   with_map=True)
            browser.close()
        peak = _memory_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"{'view':<44} {'seconds':>8} {'own MB':>7} {'mapped MB':>9} {'peak MB':>8}")
    for name, seconds, own, mapped, high in timings:
        print(f"{name:<44} {seconds:8.2f} {own:7,.0f} {mapped:9,.0f} {high:8,.0f}")
    print(f"server peak memory: {peak:,.0f} MB; requests off this machine: {len(outside)}")


if __name__ == "__main__":
    main()

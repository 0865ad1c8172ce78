"""How long Chromium takes to draw a city's grid map as SVG paths and on one canvas.

The app's grid level shows 4,649 outlines at Jiaxing's size. This builds the map the app
builds (``make_map`` + ``add_area_layer`` over the simplified layer, as ``app_pages/_maps.py``
does) once with SVG paths and once on a canvas, writes both beside the offline Leaflet assets,
and opens each in headless Chromium alternately ``--repeat`` times, timing from navigation to
two animation frames after the page's scripts ran (what the browser adds to a view). Prints the
best and median of each and their ratio.

Run::

    .venv/bin/python benchmarks/bench_map_renderer.py --config /work/scale/D2/gridwatch.toml \\
        --layer grid --repeat 7
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from test_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

from gridwatch.config import load_config  # noqa: E402
from gridwatch.placing.layers import read_layer  # noqa: E402
from gridwatch.ui import maps, views  # noqa: E402

_DRAWN = """() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(
    () => done(performance.now()))))"""


def _map_html(shapes, folder: Path, *, canvas: bool) -> Path:
    rng = np.random.default_rng(1)
    areas = shapes[["area_id", "area_name", "geometry"]].copy()
    areas["open"] = rng.integers(0, 300, len(areas))
    areas["red"] = rng.integers(0, 40, len(areas))
    areas["overdue_rate"] = areas["red"] / areas["open"].clip(lower=1)
    fmap = maps.make_map(areas.total_bounds, base_url="assets", prefer_canvas=canvas)
    fields = {"area_name": "名称", "area_id": "编号", "open": "未办结", "red": "逾期",
              "overdue_rate": "逾期率"}
    maps.add_area_layer(fmap, areas, maps.geometry_json(shapes), value_column="red",
                        name="网格", fields=fields,
                        highlight=pd.Series(areas["red"] > 35, index=areas.index))
    path = folder / ("canvas.html" if canvas else "svg.html")
    fmap.save(str(path))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--layer", default="grid")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    config = load_config(args.config)
    spec = config.layer(args.layer)
    shapes = views.simplify_layer(read_layer(spec), views.SIMPLIFY_M.get(spec.kind, 20.0))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        maps.install_assets(folder / "assets")
        pages = {"svg": _map_html(shapes, folder, canvas=False),
                 "canvas": _map_html(shapes, folder, canvas=True)}
        size = pages["svg"].stat().st_size / 1e6
        print(f"{len(shapes):,} outlines of {args.layer!r}, {size:.1f} MB of HTML per map")
        times: dict[str, list[float]] = {name: [] for name in pages}
        with sync_playwright() as play:
            browser = play.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for _ in range(args.repeat):
                for name, path in pages.items():
                    page = browser.new_page()
                    page.goto(path.as_uri(), wait_until="load")
                    times[name].append(page.evaluate(_DRAWN) / 1000.0)
                    if name == "svg":
                        drawn = page.locator("path.leaflet-interactive").count()
                        assert drawn >= len(shapes), drawn
                    else:
                        assert page.locator(".leaflet-overlay-pane canvas").count() == 1
                    page.close()
            browser.close()
    for name, values in times.items():
        print(f"{name:>6}: best {min(values):.2f} s, median {statistics.median(values):.2f} s")
    ratio = statistics.median(times["svg"]) / statistics.median(times["canvas"])
    print(f"canvas against SVG paths (median): {ratio:.1f}x faster")


if __name__ == "__main__":
    main()

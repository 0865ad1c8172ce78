"""Helpers shared by the test modules (not a test module; fixtures live in conftest.py).

Import them as ``from helpers import local, sqlite_url`` (pytest puts tests/ on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from click.testing import CliRunner, Result
from pyproj import Transformer
from shapely.geometry import box

SH = "Asia/Shanghai"


def _reports_settings() -> Any:
    from gridwatch.settings import default_settings
    from gridwatch.supervision.codes import AsOfSettings

    return replace(default_settings(), asof=AsOfSettings(count_incidents=False))


#: Default settings, but statistics of reports, not incidents (for frames without coordinates).
REPORTS = _reports_settings()

# --- times ----------------------------------------------------------------------------------


def local(text: str) -> pd.Timestamp:
    """A Shanghai wall-clock time such as ``"2024-03-01 09:00"``, as a UTC timestamp."""
    return pd.Timestamp(text, tz=SH).tz_convert("UTC")


def utc(text: str) -> pd.Timestamp:
    """A UTC timestamp."""
    return pd.Timestamp(text, tz="UTC")


def utc_columns(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Give ``columns`` of ``frame`` the store's dtype ``datetime64[ns, UTC]`` (NaT kept), in place.

    Returns ``frame`` so that a builder can end with ``return utc_columns(frame, ...)``.
    """
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    return frame


# --- places ---------------------------------------------------------------------------------

#: Centre of the small test grid of ``small_project`` (conftest.py), WGS84, inside 南湖区.
GRID_ORIGIN = (120.80, 30.72)
GRID_STEP = 0.01  # degrees; 3 x 3 cells


def grid_cell_centre(col: int, row: int) -> tuple[float, float]:
    """WGS84 centre of ``small_project``'s grid cell (col, row), each 0..2; id G{row}{col}."""
    x0, y0 = GRID_ORIGIN
    return (x0 + (col + 0.5) * GRID_STEP, y0 + (row + 0.5) * GRID_STEP)


def grid_cells(x0: float, y0: float, step: float, *, rows: int, cols: int) -> list[dict]:
    """Square WGS84 cells ``G{row}{col}`` named ``网格{row}{col}``, from (x0, y0) north-east."""
    return [{"code": f"G{r}{c}", "name": f"网格{r}{c}",
             "geometry": box(x0 + c * step, y0 + r * step, x0 + (c + 1) * step,
                             y0 + (r + 1) * step)}
            for r in range(rows) for c in range(cols)]


def code_frame(codes: Sequence[str], geoms: Sequence[Any], **extra: Any) -> gpd.GeoDataFrame:
    """A WGS84 layer as a user's file has it: ``code`` and ``name`` (= code) plus ``extra``."""
    return gpd.GeoDataFrame({"code": list(codes), "name": list(codes), **extra},
                            geometry=list(geoms), crs="EPSG:4326")


_TO_WGS84 = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
# A point in Nanhu in CGCS2000 / 3-degree GK CM 120E (the zone metric_crs picks for Jiaxing).
_X0, _Y0 = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True).transform(120.8, 30.75)


def lonlat_from_metres(dx: Any, dy: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 points ``dx``, ``dy`` metres east and north of a point in Nanhu, exactly in metres
    in the metric CRS gridwatch uses for Jiaxing (EPSG:4549)."""
    return _TO_WGS84.transform(_X0 + np.asarray(dx, float), _Y0 + np.asarray(dy, float))


# --- projects and stores --------------------------------------------------------------------

_GRID_PROJECT = """
[territory]
timezone = "Asia/Shanghai"

[[layers]]
name = "grid"
path = "grids.geojson"
id_field = "code"
name_field = "name"
kind = "grid"
"""


def write_grid_project(root: Path, cells: list[dict], extra_toml: str = "") -> Path:
    """Write ``cells`` to root/grids.geojson and a gridwatch.toml with that one grid layer.

    ``extra_toml`` is appended (e.g. a ``[supervision]`` section). Returns the toml's path.
    """
    gpd.GeoDataFrame(cells, crs="EPSG:4326").to_file(root / "grids.geojson")
    config = root / "gridwatch.toml"
    config.write_text(_GRID_PROJECT + extra_toml, encoding="utf-8")
    return config


def sqlite_url(path: Path) -> str:
    """The store URL of an SQLite file."""
    return f"sqlite:///{Path(path).as_posix()}"


# --- the command line -----------------------------------------------------------------------


@contextmanager
def postgis_schema(base_url: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema at ``base_url`` (dropped afterwards)."""
    import uuid

    import sqlalchemy as sa

    schema = f"gw_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base_url}?options=-csearch_path%3D{schema},public"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def invoke(args: Sequence[str], command: Any = None) -> Result:
    """Run the ``gridwatch`` CLI (or ``command``) in-process; unexpected exceptions propagate."""
    if command is None:
        from gridwatch.cli import main as command
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def demo_city(folder: Path, *, problems: int, scale: float, days: int) -> dict[str, Any]:
    """Generate the demo city into folder/city and ingest each of its daily runs, in order.

    Returns ``config``, ``config_path``, ``layers``, ``url`` (the SQLite store folder/store.sqlite),
    ``issues`` and ``history`` as stored, and ``planted`` (the generator's planted.json).
    """
    import json

    from gridwatch.config import load_config
    from gridwatch.demo import generate
    from gridwatch.pipeline import run_ingest
    from gridwatch.placing.layers import load_layers
    from gridwatch.store.transactional import Store

    paths = generate(folder / "city", problems=problems, scale=scale, days=days)
    config = load_config(paths.config)
    layers = load_layers(config)
    url = sqlite_url(folder / "store.sqlite")
    with Store(url) as store:
        for files, when in paths.runs:
            run_ingest(files, config=config, store=store, layers=layers, observed_at=when)
        issues, history = store.issues(), store.history()
    return {"config": config, "config_path": paths.config, "layers": layers, "url": url,
            "issues": issues, "history": history,
            "planted": json.loads(paths.planted.read_text(encoding="utf-8"))}


def component_instances(at: object) -> list:
    """The custom components (the folium maps) drawn by a Streamlit ``AppTest`` run."""
    found = []

    def walk(node: object) -> None:
        for child in getattr(node, "children", {}).values():
            if child.type == "component_instance":
                found.append(child)
            walk(child)

    walk(at._tree)  # type: ignore[attr-defined]
    return found

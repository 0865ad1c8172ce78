"""Zipped Shapefile output: short ASCII field names, a field map, a UTF-8 ``.cpg``.

A ``.dbf`` field name holds at most 10 bytes; GDAL cuts longer names byte-wise, which splits a
UTF-8 Chinese character and makes the file unreadable. Every field therefore gets a short ASCII
name, and ``fields.csv`` inside the zip maps each short name back to the original one.
"""

from __future__ import annotations

import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import pandas as pd

from gridwatch.errors import ConfigError, InputFileError

__all__ = [
    "DBF_MAX_FIELD_BYTES",
    "DBF_MAX_NAME_BYTES",
    "FIELD_MAP_NAME",
    "read_zipped_shapefile",
    "short_field_names",
    "write_zipped_shapefile",
]

DBF_MAX_NAME_BYTES = 10
#: Longest text a .dbf character field holds, in bytes.
DBF_MAX_FIELD_BYTES = 254
FIELD_MAP_NAME = "fields.csv"
_COMPONENTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")


def short_field_names(names: Iterable[str]) -> dict[str, str]:
    """Map each column name to a unique ASCII ``.dbf`` field name of at most 10 bytes.

    A name that already fits (ASCII letters, digits, underscores, ≤ 10 bytes, starting with a
    letter) is kept; others keep their ASCII letters and digits, cut to fit; a name with none
    (e.g. all Chinese) becomes ``f<position>``. Uniqueness is case-insensitive, as in dBASE.

    Examples
    --------
    >>> short_field_names(["area_id", "区县名称", "overdue_rate_pct"])
    {'area_id': 'area_id', '区县名称': 'f2', 'overdue_rate_pct': 'overdue_ra'}
    """
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for position, name in enumerate(names, start=1):
        text = str(name)
        base = _NOT_NAME.sub("_", text).strip("_")
        if not base or not base[0].isalpha():
            base = f"f{position}" if not base else f"f_{base}"
        candidate = base[:DBF_MAX_NAME_BYTES]
        suffix = 1
        while candidate.casefold() in taken:
            suffix += 1
            tail = f"_{suffix}"
            candidate = base[: DBF_MAX_NAME_BYTES - len(tail)] + tail
        taken.add(candidate.casefold())
        mapping[text] = candidate
    return mapping


def _fit_text(value: object) -> object:
    """Cut a string to the .dbf limit at a character boundary (never inside a UTF-8 sequence)."""
    if not isinstance(value, str) or len(value.encode("utf-8")) <= DBF_MAX_FIELD_BYTES:
        return value
    return value.encode("utf-8")[:DBF_MAX_FIELD_BYTES].decode("utf-8", errors="ignore")


def write_zipped_shapefile(gdf: gpd.GeoDataFrame, path: Path, *, layer: str) -> Path:
    """Write ``gdf`` (WGS84, datetimes already text) as a zipped Shapefile at ``path``.

    Parameters
    ----------
    gdf
        Features in EPSG:4326 with one geometry family (points, lines or polygons).
    path
        The ``.zip`` to write (replaced if it exists).
    layer
        Base name of the components inside the zip (``layer.shp``, ``layer.dbf`` ...).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ConfigError
        When the features mix geometry families, which a Shapefile cannot hold.
    """
    families = {t.replace("Multi", "") for t in gdf.geometry.dropna().geom_type.unique()}
    if len(families) > 1:
        raise ConfigError(f"a Shapefile holds one geometry type, but the layer mixes "
                          f"{', '.join(sorted(families))}; write .gpkg or .geojson instead")
    names = short_field_names(c for c in gdf.columns if c != gdf.geometry.name)
    out = gdf.rename(columns=names)
    truncated: list[str] = []
    for original, short in names.items():
        column = out[short]
        if pd.api.types.is_string_dtype(column) or pd.api.types.is_object_dtype(column):
            too_long = [isinstance(v, str) and len(v.encode("utf-8")) > DBF_MAX_FIELD_BYTES
                        for v in column.tolist()]
            if any(too_long):
                truncated.append(original)
                out[short] = [_fit_text(v) for v in column.tolist()]
    if truncated:
        warnings.warn(f"Shapefile text fields hold {DBF_MAX_FIELD_BYTES} bytes; values of "
                      f"{', '.join(truncated)} were cut (use .gpkg to keep them whole)",
                      stacklevel=3)
    with tempfile.TemporaryDirectory(prefix="gridwatch-shp-") as tmp:
        shp = Path(tmp) / f"{layer}.shp"
        out.to_file(shp, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
        # GDAL writes the .cpg for UTF-8, but say it explicitly so every reader agrees.
        shp.with_suffix(".cpg").write_text("UTF-8", encoding="ascii")
        field_map = pd.DataFrame({"short": list(names.values()), "original": list(names)})
        path.unlink(missing_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for suffix in _COMPONENTS:
                component = shp.with_suffix(suffix)
                if component.exists():
                    zf.write(component, component.name)
            zf.writestr(FIELD_MAP_NAME, field_map.to_csv(index=False).encode("utf-8-sig"))
    return path


def read_zipped_shapefile(path: str | Path) -> gpd.GeoDataFrame:
    """Read a zip written by :func:`write_zipped_shapefile`, restoring the original field names.

    Parameters
    ----------
    path
        The ``.zip``; if it has no ``fields.csv`` the short names are kept.

    Returns
    -------
    geopandas.GeoDataFrame

    Raises
    ------
    InputFileError
        When the zip holds no ``.shp``.
    """
    path = Path(path)
    with zipfile.ZipFile(path) as zf:
        members = zf.namelist()
        shp = next((m for m in members if m.lower().endswith(".shp")), None)
        if shp is None:
            raise InputFileError(f"{path} holds no .shp file; it has: {', '.join(members)}")
        mapping: dict[str, str] = {}
        if FIELD_MAP_NAME in members:
            with zf.open(FIELD_MAP_NAME) as fh:
                table = pd.read_csv(fh, encoding="utf-8-sig", dtype=str, keep_default_na=False)
            mapping = dict(zip(table["short"], table["original"], strict=True))
    # The braces let GDAL open an archive whatever its extension.
    gdf = gpd.read_file(f"/vsizip/{{{path.resolve().as_posix()}}}/{shp}", engine="pyogrio")
    return gdf.rename(columns=mapping)

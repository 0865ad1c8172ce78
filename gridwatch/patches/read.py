"""Reading satellite patches (卫星图斑) from GeoJSON, GeoPackage, Shapefile or KML.

A patch file holds one polygon per suspected change found on satellite images, with an id and
a few attributes. The geometry is read the way boundary layers are
(:func:`gridwatch.placing.layers.read_layer`: any coordinate system PROJ knows, GCJ-02 and
BD-09 converted, invalid polygons repaired, WGS84 out); the attributes are matched by their
headers, in Chinese or English.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from gridwatch.config import LayerSpec
from gridwatch.errors import LayerError
from gridwatch.schema import CATEGORIES, CATEGORY_LABELS, header_key, label_table

__all__ = ["PATCH_COLUMNS", "PATCH_FIELDS", "file_crs", "read_patches"]

#: Columns of :func:`read_patches`' result (and a GeoDataFrame's ``geometry``).
PATCH_COLUMNS: tuple[str, ...] = ("patch_id", "name", "category", "found_on", "note")
#: Header aliases of the attributes of a patch file, matched after ``schema.header_key``.
PATCH_FIELDS: dict[str, tuple[str, ...]] = {
    "patch_id": ("patch_id", "图斑编号", "图斑编码", "图斑号", "编号", "id", "fid_1", "code"),
    "name": ("name", "图斑名称", "名称", "位置描述"),
    "category": ("category", "问题类型", "图斑类型", "变化类型", "类别", "type"),
    "found_on": ("found_on", "发现日期", "监测日期", "卫星影像日期", "影像日期", "date"),
    "note": ("note", "备注", "说明", "description", "描述"),
}


def _field(columns: list[str], key: str) -> str | None:
    wanted = [header_key(a) for a in PATCH_FIELDS[key]]
    found = {header_key(c): c for c in columns}
    for alias in wanted:
        if alias in found:
            return found[alias]
    return None


def file_crs(path: str | Path, *, layer: str | None = None) -> str:
    """The coordinate system to read a file in when none is given: the projected CRS it
    declares (``EPSG:n``), else ``wgs84`` (lon/lat)."""
    from pyproj import CRS

    try:
        info = pyogrio.read_info(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return "wgs84"  # read_patches reports the file
    text = info.get("crs")
    if not text:
        return "wgs84"
    crs = CRS.from_user_input(text)
    if not crs.is_projected:
        return "wgs84"
    found = crs.to_authority(min_confidence=70)
    return f"{found[0]}:{found[1]}" if found else "wgs84"


def read_patches(path: str | Path, *, crs: str = "wgs84", id_field: str | None = None,
                 layer: str | None = None, encoding: str | None = None) -> gpd.GeoDataFrame:
    """Read a file of satellite patches.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile (``.shp`` or a zipped one) or KML.
    crs
        Coordinate system of the numbers in the file when it does not say, or says wrongly
        (web-map exports in GCJ-02 claim WGS84): ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``
        or ``EPSG:n``.
    id_field
        Field holding the patch id; default: the first of :data:`PATCH_FIELDS` ``patch_id``
        present (图斑编号, 编号, id...), else the feature's position (``<file stem>-<n>``).
    layer
        Layer inside a GeoPackage or KML with several.
    encoding
        Encoding of a Shapefile's ``.dbf`` without ``.cpg`` (e.g. ``GBK``).

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`PATCH_COLUMNS` (``category`` a code of ``schema.CATEGORIES``, ``ecology`` when
        the file names none; ``found_on`` a date or NaT), geometry polygons in WGS84
        (EPSG:4326), one row per feature with an area.

    Raises
    ------
    LayerError
        The file cannot be read, the id field is missing, ids repeat, or no polygon is found.
    CRSError
        ``crs`` is unknown or contradicts the file.
    """
    from gridwatch.placing.layers import read_layer

    file = Path(path)
    where = f"patch file {str(file)!r}"
    if not file.exists():
        raise LayerError(f"{where}: file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            table = pyogrio.read_dataframe(file, layer=layer, read_geometry=False,
                                           encoding=encoding)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise LayerError(f"{where} cannot be read: {exc}") from exc
    columns = [str(c) for c in table.columns]
    if id_field is not None and id_field not in columns:
        raise LayerError(f"{where}: id field {id_field!r} not found; fields in the file: "
                         f"{', '.join(columns) or '(none)'}")
    id_column = id_field or _field(columns, "patch_id")
    added = None
    if id_column is None:  # number the features: the file's name and the position
        added = "__patch_n"
    spec = LayerSpec(name=f"patches {file.name}", path=file, id_field=id_column or "",
                     kind="zone", crs=crs, source_layer=layer, encoding=encoding)
    shapes = _numbered(spec, file) if added is not None else read_layer(spec)
    ids = shapes["area_id"].astype("str")
    repeated = ids[ids.duplicated()].unique().tolist()
    if repeated:
        raise LayerError(f"{where}: patch ids repeat ({', '.join(map(str, repeated[:10]))}); "
                         "each patch needs its own id (set --id-field)")
    if added is None:
        keyed = table.assign(__id=_ids(table[id_column]))
        attrs = keyed.drop_duplicates("__id").set_index("__id").reindex(ids.to_numpy())
    else:
        attrs = table.set_axis(ids.to_numpy()) if len(table) == len(ids) else \
            table.iloc[:0].reindex(ids.to_numpy())
    out: dict[str, object] = {"patch_id": ids.to_numpy()}
    for key in ("name", "note"):
        column = _field(columns, key)
        values = (attrs[column].astype("str").str.strip() if column is not None
                  else pd.Series(pd.NA, index=attrs.index, dtype="str"))
        out[key] = values.where(values != "", None).astype("str").to_numpy()
    labels = label_table(CATEGORY_LABELS, CATEGORIES)
    column = _field(columns, "category")
    if column is not None:
        raw = attrs[column].astype("str").map(
            lambda v: labels.get(header_key(v)) if isinstance(v, str) else None)
        out["category"] = raw.fillna("ecology").to_numpy()
    else:
        out["category"] = ["ecology"] * len(ids)
    column = _field(columns, "found_on")
    if column is not None:
        days = pd.to_datetime(attrs[column].astype("str"), errors="coerce", format="mixed")
        if getattr(days.dt, "tz", None) is not None:
            days = days.dt.tz_localize(None)
        out["found_on"] = days.dt.normalize().to_numpy()
    else:
        out["found_on"] = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")
    frame = gpd.GeoDataFrame(out, geometry=shapes.geometry.to_numpy(), crs="EPSG:4326")
    frame = frame[~frame.geometry.is_empty].reset_index(drop=True)
    if frame.empty:
        raise LayerError(f"{where} holds no polygons; satellite patches must be polygons")
    return frame


def _ids(values: pd.Series) -> pd.Series:
    from gridwatch.placing.layers import _id_strings

    return _id_strings(values)


def _numbered(spec: LayerSpec, file: Path) -> gpd.GeoDataFrame:
    """Read a file without an id field through a copy of it that numbers the features."""
    import tempfile

    raw = gpd.read_file(file, engine="pyogrio", layer=spec.source_layer,
                        encoding=spec.encoding)
    raw["__patch_n"] = [f"{file.stem}-{i + 1}" for i in range(len(raw))]
    with tempfile.TemporaryDirectory(prefix="gridwatch-patches-") as folder:
        copy = Path(folder) / "patches.gpkg"
        raw[["__patch_n", raw.geometry.name]].to_file(copy, engine="pyogrio")
        from dataclasses import replace

        from gridwatch.placing.layers import read_layer

        return read_layer(replace(spec, path=copy, id_field="__patch_n", source_layer=None,
                                  encoding=None))

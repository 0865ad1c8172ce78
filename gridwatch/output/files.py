"""Writing tables and layers for people: CSV/XLSX lists, GeoJSON/GeoPackage/Shapefile/KML layers.

Every table cell a person typed is data, never a formula: text beginning with ``= + - @``, tab,
CR or NUL gets a leading ``'`` (OWASP's advice on CSV injection) before it reaches CSV or XLSX.
CSV is UTF-8 with a byte-order mark so Excel shows Chinese; XLSX is written with XlsxWriter with
formula and URL detection off. Times are tz-aware UTC inside the library and are shown in the
territory's zone: naive in spreadsheets (Excel has no zones), with their offset in GeoJSON,
in UTC in GeoPackage (its specification says so).
Layers are always written in WGS84 lon/lat (EPSG:4326).
Every file is written beside its target and renamed over it (:mod:`gridwatch.output._atomic`):
a failed write leaves any previous file as it was.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError, CRSError
from gridwatch.output._atomic import replacing
from gridwatch.output.kml import write_kml
from gridwatch.output.shapefile import read_zipped_shapefile, write_zipped_shapefile
from gridwatch.schema import CANONICAL_COLUMNS, DEFAULT_TIMEZONE

__all__ = [
    "FORMULA_PREFIXES",
    "ISSUE_FORMATS",
    "LAYER_FORMATS",
    "TABLE_FORMATS",
    "export_issues",
    "neutralise_formulas",
    "read_zipped_shapefile",
    "write_layer",
    "write_table",
    "write_workbook",
]

#: First characters that make a spreadsheet treat text as a formula (or hide a command).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\0")
TABLE_FORMATS: tuple[str, ...] = ("csv", "xlsx")
#: Layer formats; "shp" is a zipped Shapefile (``.shp.zip`` or ``.zip``).
LAYER_FORMATS: tuple[str, ...] = ("csv", "geojson", "gpkg", "kml", "shp")
ISSUE_FORMATS: tuple[str, ...] = ("csv", "geojson", "gpkg", "kml", "shp", "xlsx")

_EXTENSIONS: dict[str, str] = {
    ".csv": "csv", ".xlsx": "xlsx", ".geojson": "geojson", ".json": "geojson",
    ".gpkg": "gpkg", ".kml": "kml", ".shp.zip": "shp", ".zip": "shp",
}
_EXCEL_MAX_ROWS = 1_048_576
_EXCEL_MAX_CHARS = 32_767
_SHEET_NAME_MAX = 31
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_WGS84 = "EPSG:4326"
#: Store bookkeeping that means nothing to a person reading an export.
_INTERNAL_ISSUE_COLUMNS: tuple[str, ...] = ("content_hash", "geom", "geometry")


def _format_of(path: Path, format: str | None, allowed: tuple[str, ...], argument: str) -> str:
    """Resolve the output format from ``format`` or the file's extension."""
    if format is not None:
        fmt = format.lower().lstrip(".")
        fmt = {"json": "geojson", "shp.zip": "shp", "zip": "shp", "shapefile": "shp"}.get(fmt, fmt)
        if fmt not in allowed:
            raise ConfigError(f"format={format!r} is not one {argument} can write; "
                              f"allowed: {', '.join(allowed)}")
        return fmt
    name = path.name.lower()
    for suffix, fmt in sorted(_EXTENSIONS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix) and fmt in allowed:
            return fmt
    extensions = sorted(s for s, f in _EXTENSIONS.items() if f in allowed)
    raise ConfigError(f"path {str(path)!r}: cannot tell the format from the extension; "
                      f"{argument} writes {', '.join(extensions)} (or pass format=)")


def _neutralise_text(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy in which no text cell can be read as a spreadsheet formula.

    Text beginning with ``=``, ``+``, ``-``, ``@``, tab, CR or NUL gets a leading ``'``, as
    OWASP advises against CSV injection. Numbers (negative ones too), datetimes and booleans
    are left alone; text in object and categorical columns and text column names are treated.

    Parameters
    ----------
    frame
        Any table.

    Returns
    -------
    pandas.DataFrame
        Same index and column order.

    Examples
    --------
    >>> neutralise_formulas(pd.DataFrame({"a": ["=1+1", "ok"], "b": [-3, 4]}))["a"].tolist()
    ["'=1+1", 'ok']
    """
    out = frame.copy()
    for position, (_, column) in enumerate(frame.items()):
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            categories = dtype.categories
            renamed = [_neutralise_text(c) for c in categories]
            if renamed != list(categories) and len(set(renamed)) == len(renamed):
                column = column.cat.rename_categories(renamed)
            elif renamed != list(categories):  # "'=x" and "=x" both present: leave categorical
                column = column.astype(object).map(_neutralise_text)
        elif isinstance(dtype, pd.StringDtype):
            hostile = column.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
            if not hostile.any():
                continue
            column = column.where(~hostile, "'" + column)
        elif pd.api.types.is_object_dtype(dtype):
            column = column.map(_neutralise_text)
        else:
            continue
        out.isetitem(position, column)
    out.columns = [_neutralise_text(c) for c in frame.columns]
    return out


def _localise_times(frame: pd.DataFrame, timezone: str, *, naive: bool) -> pd.DataFrame:
    """Convert tz-aware datetime columns to ``timezone`` (and drop the zone when ``naive``)."""
    out = frame
    for position, (_, column) in enumerate(frame.items()):
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            local = column.dt.tz_convert(timezone)
            if naive:
                local = local.dt.tz_localize(None)
            if out is frame:
                out = frame.copy()
            out.isetitem(position, local)
    return out


def _times_as_text(frame: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Local wall-clock text for every datetime column (for formats with no datetime type)."""
    out = _localise_times(frame, timezone, naive=True)
    for position, (_, column) in enumerate(out.items()):
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            if out is frame:
                out = frame.copy()
            text = column.dt.strftime("%Y-%m-%d %H:%M:%S").astype("str")
            out.isetitem(position, text)
    return out


def _geometry_as_wkt(frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        return frame
    out = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    out["wkt"] = frame.geometry.to_wkt()
    return out


def _check_timezone(timezone: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"timezone={timezone!r} is not a known time zone; use an IANA name "
                          "such as 'Asia/Shanghai'") from exc


def _prepare_table(frame: pd.DataFrame, timezone: str) -> pd.DataFrame:
    _check_timezone(timezone)
    table = _localise_times(_geometry_as_wkt(frame), timezone, naive=True)
    return neutralise_formulas(table.reset_index(drop=True))


def _add_sheet(writer: pd.ExcelWriter, table: pd.DataFrame, sheet_name: str) -> None:
    if len(table) + 1 > _EXCEL_MAX_ROWS:
        raise ConfigError(f"{len(table):,} rows do not fit in one Excel sheet "
                          f"(at most {_EXCEL_MAX_ROWS - 1:,}); write CSV instead")
    # pandas.DataFrame.to_excel styles every cell in Python (a quarter of a million cells a
    # second at best); the cells are written here a column at a time with XlsxWriter itself
    book = writer.book
    sheet = book.add_worksheet(sheet_name)
    writer.sheets[sheet_name] = sheet
    _write_cells(book, sheet, _cut_long_cells(table))
    sheet.freeze_panes(1, 0)
    if len(table.columns):
        sheet.autofilter(0, 0, max(len(table), 1), len(table.columns) - 1)
    for i, column in enumerate(table.columns):
        sample = max((len(str(v)) for v in table[column].head(200).tolist() if not pd.isna(v)),
                     default=0)
        width = max(len(str(column)) * 2, sample, 6)
        sheet.set_column(i, i, min(width + 2, 60))


#: Excel's day 0 (its 1900 date system, as XlsxWriter writes it for dates after 1900-03-01)
_EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "ns")
_EXCEL_PHANTOM_DAY = np.datetime64("1900-03-01T00:00:00", "ns")


def _write_cells(book: Any, sheet: Any, table: pd.DataFrame) -> None:
    """The header and every cell of ``table``, as ``DataFrame.to_excel`` writes them: text as
    text (never a formula), numbers, booleans, times and dates as Excel dates in the formats
    of :func:`_excel_writer`; missing values are left blank."""
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for col, name in enumerate(table.columns):
        sheet.write_string(0, col, str(name))
    for col, (_, column) in enumerate(table.items()):
        dtype = column.dtype
        if pd.api.types.is_datetime64_any_dtype(dtype) and not isinstance(
                dtype, pd.DatetimeTZDtype):
            nanoseconds = column.to_numpy(dtype="datetime64[ns]")
            present = ~np.isnat(nanoseconds)
            # before 1900-03-01 Excel's calendar has its phantom 1900-02-29: XlsxWriter knows
            early = present & (nanoseconds < _EXCEL_PHANTOM_DAY)
            serial = (nanoseconds - _EXCEL_EPOCH).astype("int64") / 86_400e9
            for at in np.flatnonzero(present & ~early).tolist():
                sheet.write_number(at + 1, col, float(serial[at]), stamp)
            for at in np.flatnonzero(early).tolist():
                sheet.write_datetime(at + 1, col, column.iloc[at].to_pydatetime(), stamp)
            continue
        if pd.api.types.is_bool_dtype(dtype) and not column.hasnans:
            for line, flag in enumerate(column.to_numpy(dtype=bool).tolist(), start=1):
                sheet.write_boolean(line, col, flag)
            continue
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            numbers = column.to_numpy(dtype="float64", na_value=np.nan)
            for at in np.flatnonzero(~np.isnan(numbers)).tolist():
                _write_number(sheet, at + 1, col, float(numbers[at]))
            continue
        for line, value in enumerate(column.to_numpy(dtype=object).tolist(), start=1):
            _write_value(sheet, line, col, value, stamp, day)


def _write_value(sheet: Any, row: int, col: int, value: Any, stamp: Any, day: Any) -> None:
    """One cell of a column of mixed values (text, numbers, flags, times, dates)."""
    if isinstance(value, str):
        if value:
            sheet.write_string(row, col, value)
    elif value is None or (not isinstance(value, (bool, np.bool_)) and pd.isna(value)):
        return
    elif isinstance(value, (bool, np.bool_)):
        sheet.write_boolean(row, col, bool(value))
    elif isinstance(value, (int, float, np.integer, np.floating)):
        _write_number(sheet, row, col, float(value))
    elif isinstance(value, pd.Timestamp | dt.datetime):
        moment = pd.Timestamp(value)
        if moment.tzinfo is not None:
            moment = moment.tz_localize(None)
        sheet.write_datetime(row, col, moment.to_pydatetime(), stamp)
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, col, value, day)
    else:
        sheet.write_string(row, col, str(value))


def _write_number(sheet: Any, row: int, col: int, number: float) -> None:
    """A number; an infinity as the text ``DataFrame.to_excel`` writes (``inf``, ``-inf``)."""
    if np.isinf(number):
        sheet.write_string(row, col, "inf" if number > 0 else "-inf")
    else:
        sheet.write_number(row, col, number)


def _cut_long_cells(table: pd.DataFrame) -> pd.DataFrame:
    """Text longer than an Excel cell holds (32,767 characters), cut with a note in the cell
    saying so: Excel (and XlsxWriter, with only a warning) would cut it silently."""
    out = table
    for column in table.columns:
        values = table[column]
        if values.dtype.kind not in "OUT" and not pd.api.types.is_string_dtype(values):
            continue
        lengths = values.map(lambda v: len(v) if isinstance(v, str) else 0)
        long = lengths > _EXCEL_MAX_CHARS
        if not long.any():
            continue
        if out is table:
            out = table.copy()
        out[column] = out[column].astype(object)
        for row in np.flatnonzero(long.to_numpy()):
            text = values.iloc[row]
            note = f" …[cut: {len(text):,} characters, more than an Excel cell holds; the CSV " \
                   "export has the whole text]"
            out.iloc[row, out.columns.get_loc(column)] = \
                text[: _EXCEL_MAX_CHARS - len(note)] + note
    return out


def _excel_writer(path: Path) -> pd.ExcelWriter:
    return pd.ExcelWriter(
        path, engine="xlsxwriter", datetime_format="yyyy-mm-dd hh:mm:ss",
        date_format="yyyy-mm-dd",
        # Text stays text: no "=..." formulas and no auto-links, whatever a cell holds.
        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False}},
    )


def write_table(frame: pd.DataFrame, path: str | Path, *, timezone: str = DEFAULT_TIMEZONE,
                sheet_name: str = "data", format: str | None = None) -> Path:
    """Write a table as CSV (UTF-8 with BOM) or XLSX, with formulas neutralised.

    Parameters
    ----------
    frame
        The table; a GeoDataFrame's geometry becomes a ``wkt`` column. The index is not written.
    path
        File to write (replaced).
    timezone
        Zone in which tz-aware datetime columns are written (as naive local times).
    sheet_name
        Sheet name for XLSX (sanitised to Excel's rules).
    format
        ``"csv"`` or ``"xlsx"``; default from the extension.

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        Unknown format or extension, unknown time zone, or too many rows for Excel.
    """
    path = Path(path)
    fmt = _format_of(path, format, TABLE_FORMATS, "write_table")
    table = _prepare_table(frame, timezone)
    with replacing(path) as tmp:
        if fmt == "csv":
            # CRLF as RFC 4180 says: then the writer also quotes fields holding a bare CR, which
            # would otherwise split the row in Excel and in pandas.
            table.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n")
        else:
            with _excel_writer(tmp) as writer:
                _add_sheet(writer, table, _sheet_names([sheet_name])[0])
    return path


def _sheet_names(names: list[str]) -> list[str]:
    """Make names valid, distinct Excel sheet names (≤ 31 characters, none of ``[]:*?/\\``)."""
    result: list[str] = []
    taken: set[str] = set()
    for raw in names:
        name = _SHEET_FORBIDDEN.sub("_", str(raw)).strip("'").strip() or "sheet"
        if name.casefold() == "history":  # reserved by Excel
            name = "history_"
        name = name[:_SHEET_NAME_MAX]
        candidate, n = name, 1
        while candidate.casefold() in taken:
            n += 1
            tail = f"~{n}"
            candidate = name[: _SHEET_NAME_MAX - len(tail)] + tail
        taken.add(candidate.casefold())
        result.append(candidate)
    return result


def write_workbook(sheets: Mapping[str, pd.DataFrame], path: str | Path, *,
                   timezone: str = DEFAULT_TIMEZONE) -> Path:
    """Write several tables into one XLSX workbook, one sheet per table, formulas neutralised.

    Parameters
    ----------
    sheets
        Sheet name → table, in the order the sheets appear. Names are cut to Excel's 31
        characters, forbidden characters replaced, and duplicates numbered.
    path
        The ``.xlsx`` to write (replaced).
    timezone
        Zone in which tz-aware datetimes are written.

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        When ``sheets`` is empty, the path is not ``.xlsx``, or a table has too many rows.
    """
    path = Path(path)
    _format_of(path, None, ("xlsx",), "write_workbook")
    if not sheets:
        raise ConfigError("sheets is empty; write_workbook needs at least one table")
    tables = [_prepare_table(frame, timezone) for frame in sheets.values()]
    with replacing(path) as tmp, _excel_writer(tmp) as writer:
        for name, table in zip(_sheet_names(list(sheets)), tables, strict=True):
            _add_sheet(writer, table, name)
    return path


def _to_wgs84(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise CRSError("the layer has no CRS; set it first, e.g. gdf.set_crs('EPSG:4326') for "
                       "WGS84 lon/lat (convert GCJ-02/BD-09 numbers with "
                       "gridwatch.placing.coords first)")
    if gdf.crs.to_epsg() == 4326:
        return gdf
    return gdf.to_crs(_WGS84)


def _layer_name(path: Path) -> str:
    name = path.name
    for suffix in sorted(_EXTENSIONS, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "layer"
    return path.stem or "layer"


def _require_column(gdf: pd.DataFrame, column: str, argument: str) -> None:
    if column not in gdf.columns:
        raise ConfigError(f"{argument}={column!r} is not a column of the layer; columns: "
                          f"{', '.join(map(str, gdf.columns))}")


def write_layer(gdf: gpd.GeoDataFrame, path: str | Path, *, format: str | None = None,
                name_column: str = "area_name", style_column: str | None = None,
                timezone: str = DEFAULT_TIMEZONE) -> Path:
    """Write a layer for GIS and phone apps, in WGS84 lon/lat.

    Formats (by extension unless ``format`` is given): ``.geojson``; ``.gpkg`` (keeps Chinese
    field names; the best default); ``.shp.zip`` / ``.zip`` (a zipped Shapefile with ASCII
    field names of at most 10 bytes, ``fields.csv`` mapping them to the original names, and a
    UTF-8 ``.cpg``); ``.kml`` (placemarks named by ``name_column``, attributes in a balloon table
    and ExtendedData, one style per value of ``style_column``, Gi* bins −3…3 in the ArcGIS
    hot/cold colours); ``.csv`` (attributes plus a ``wkt`` column, formulas neutralised).

    Parameters
    ----------
    gdf
        Features with a CRS; reprojected to EPSG:4326 when in another one.
    path
        File to write (replaced).
    format
        One of :data:`LAYER_FORMATS`.
    name_column
        KML only: the column used as each placemark's name.
    style_column
        KML only: the column whose values pick the style (e.g. ``"bin"`` of a Gi* result).
    timezone
        Zone in which datetimes are written: with their offset in GeoJSON, as local text in
        Shapefile, KML and CSV. GeoPackage stores them in UTC, as its specification requires
        (GIS software shows them in the viewer's zone).

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        Unknown format, a missing name/style column, or geometry types a Shapefile cannot mix.
    CRSError
        When ``gdf`` has no CRS.
    """
    path = Path(path)
    fmt = _format_of(path, format, LAYER_FORMATS, "write_layer")
    _check_timezone(timezone)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ConfigError(f"gdf must be a GeoDataFrame, got {type(gdf).__name__}")
    layer = _to_wgs84(gdf).reset_index(drop=True)
    if fmt == "csv":
        return write_table(layer, path, timezone=timezone, format="csv")
    if fmt == "kml":
        _require_column(layer, name_column, "name_column")
        if style_column is not None:
            _require_column(layer, style_column, "style_column")
    with replacing(path) as tmp:
        if fmt == "kml":
            write_kml(layer, tmp, name_column=name_column, style_column=style_column,
                      timezone=timezone, document_name=_layer_name(path))
        elif fmt == "shp":
            write_zipped_shapefile(_times_as_text(layer, timezone), tmp, layer=_layer_name(path))
        elif fmt == "geojson":
            layer = _localise_times(layer, timezone, naive=False)
            # RFC 7946: WGS84, counter-clockwise outer rings, 7 decimals (about 1 cm).
            layer.to_file(tmp, driver="GeoJSON", engine="pyogrio",
                          layer_options={"RFC7946": "YES"})
        else:
            # The GeoPackage spec stores DATETIME in UTC ("...Z"); GDAL warns on other offsets.
            layer = _localise_times(layer, "UTC", naive=False)
            layer.to_file(tmp, driver="GPKG", layer=_layer_name(path), engine="pyogrio")
    return path


def _issue_columns(issues: pd.DataFrame) -> list[str]:
    """Canonical columns first, then placement columns, then the rest; bookkeeping dropped."""
    columns = [c for c in issues.columns if c not in _INTERNAL_ISSUE_COLUMNS]
    canonical = [c for c in CANONICAL_COLUMNS if c in columns]
    rest = [c for c in columns if c not in canonical]
    return canonical + rest


def export_issues(issues: pd.DataFrame, path: str | Path, *, format: str | None = None,
                  timezone: str = DEFAULT_TIMEZONE) -> Path:
    """Write the stored problems (the wide frame of ``Store.issues()``) for people and GIS.

    Canonical columns come first, then placement (``location_flag``, ``<layer>_id``,
    ``in_<layer>``, ``near_<layer>``, ``<layer>_dist_m``, ...). Tables (CSV, XLSX) keep ``lon`` /
    ``lat`` (WGS84) as columns; layers (GeoJSON, GPKG, zipped Shapefile, KML named by
    ``issue_id``) are points built from them. A row without coordinates is kept, with no
    geometry.

    Parameters
    ----------
    issues
        One row per problem, with ``lon``/``lat`` in WGS84.
    path
        File to write (replaced).
    format
        One of :data:`ISSUE_FORMATS`; default from the extension.
    timezone
        Zone in which datetimes are written.

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        Unknown format, or a layer format asked for a frame without ``lon``/``lat``.
    """
    path = Path(path)
    fmt = _format_of(path, format, ISSUE_FORMATS, "export_issues")
    table = pd.DataFrame(issues[_issue_columns(issues)]).reset_index(drop=True)
    if fmt in TABLE_FORMATS:
        return write_table(table, path, timezone=timezone, format=fmt, sheet_name="issues")
    missing = [c for c in ("lon", "lat") if c not in table.columns]
    if missing:
        raise ConfigError(f"issues has no {' or '.join(missing)} column; {fmt} needs WGS84 "
                          "lon/lat to place the points")
    lon = pd.to_numeric(table["lon"], errors="coerce")
    lat = pd.to_numeric(table["lat"], errors="coerce")
    points = gpd.points_from_xy(lon, lat, crs=_WGS84)
    points[(lon.isna() | lat.isna()).to_numpy()] = None
    layer = gpd.GeoDataFrame(table, geometry=points, crs=_WGS84)
    return write_layer(layer, path, format=fmt, name_column="issue_id", timezone=timezone)

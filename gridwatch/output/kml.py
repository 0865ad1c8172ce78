"""KML output for phone mapping apps (Google Earth, Organic Maps, 奥维互动地图).

Written by hand rather than through GDAL so that names stay Chinese, every attribute is escaped
exactly once for XML and once more for the HTML balloon, and each feature gets a shared style.
User text never becomes markup: a description like ``<img src=x onerror=alert(1)>`` reaches the
balloon as the literal text.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridwatch.output.palette import (
    BIN_COLOURS,
    CATEGORY_COLOURS,
    CODE_COLOURS,
    DEFAULT_COLOUR,
    bin_label,
)
from gridwatch.schema import DEFAULT_TIMEZONE

__all__ = [
    "KML_FILL_ALPHA",
    "kml_colour",
    "write_kml",
]

#: Fill opacity (0-255): polygons stay see-through over the phone app's base map.
KML_FILL_ALPHA = 0x8C
_OUTLINE_WIDTH = 1.5
_SCHEMA_ID = "attributes"
_BAD_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def kml_colour(rgb: str, alpha: int = 0xFF) -> str:
    """Turn ``#RRGGBB`` into KML's ``aabbggrr``.

    Examples
    --------
    >>> kml_colour("#D62F27", 0x8C)
    '8c272fd6'
    """
    value = rgb.lstrip("#")
    return f"{alpha:02x}{value[4:6]}{value[2:4]}{value[0:2]}".lower()


def _text(value: object) -> str:
    """XML-escape text, dropping characters XML 1.0 cannot hold (NUL, most C0 controls)."""
    return escape(_BAD_XML_CHARS.sub("", str(value)))


def _display(value: Any, timezone: str) -> str:
    """Return a cell as the text a person reads in the balloon ('' for missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        rounded = round(float(value), 6)  # 6 decimals of a degree: about 0.1 m
        return str(int(rounded)) if rounded.is_integer() and abs(rounded) < 1e15 else str(rounded)
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is not None:
            value = value.tz_convert(timezone)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def _field_type(column: pd.Series) -> str:
    """The KML SimpleField type of a column (missing values are left out, so any type works)."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        values = column.dropna()
        fits = values.empty or (values.min() >= -(2**31) and values.max() < 2**31)
        return "int" if fits else "double"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    return "string"


def _style_scheme(values: pd.Series | None) -> tuple[dict[Any, str], dict[Any, str]]:
    """Return (style id per value, colour per style id) for a style column."""
    if values is None:
        return {}, {"default": DEFAULT_COLOUR}
    present = values.dropna().unique().tolist()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and all(
            float(v).is_integer() and int(v) in BIN_COLOURS for v in present):
        bin_ids = {b: f"bin_{'m' if b < 0 else 'p' if b > 0 else ''}{abs(b)}"
                   for b in BIN_COLOURS}
        by_value = {v: bin_ids[int(v)] for v in present}
        return by_value, {bin_ids[b]: colour for b, colour in BIN_COLOURS.items()}
    labels = sorted({str(v) for v in present})
    if labels and set(labels) <= set(CODE_COLOURS):
        ids = {label: f"code_{label}" for label in CODE_COLOURS}
        return ({v: ids[str(v)] for v in present},
                {ids[label]: colour for label, colour in CODE_COLOURS.items()})
    ids = {label: f"s{i}" for i, label in enumerate(labels, start=1)}
    colours = {ids[label]: CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]
               for i, label in enumerate(labels)}
    return {v: ids[str(v)] for v in present}, colours


def _style_xml(style_id: str, rgb: str) -> str:
    line = kml_colour(rgb)
    return (f'<Style id="{style_id}">'
            f"<IconStyle><color>{line}</color><scale>1.0</scale></IconStyle>"
            f"<LabelStyle><scale>0.8</scale></LabelStyle>"
            f"<LineStyle><color>{line}</color><width>{_OUTLINE_WIDTH}</width></LineStyle>"
            f"<PolyStyle><color>{kml_colour(rgb, KML_FILL_ALPHA)}</color>"
            f"<fill>1</fill><outline>1</outline></PolyStyle></Style>\n")


def _coords(geom: BaseGeometry) -> str:
    """KML coordinates ("x,y x,y ...") of a point, line or ring, 7 decimals (about 1 cm)."""
    # WKT is formatted in C, several times faster than formatting each vertex in Python.
    wkt = shapely.to_wkt(geom, rounding_precision=7, trim=True)
    inner = wkt[wkt.index("(") + 1: -1]
    return inner.replace(", ", ";").replace(" ", ",").replace(";", " ")


def _geometry_xml(geom: BaseGeometry | None) -> Iterator[str]:
    if geom is None or geom.is_empty:
        return
    kind = geom.geom_type
    if kind == "Point":
        yield f"<Point><coordinates>{_coords(geom)}</coordinates></Point>"
    elif kind in ("LineString", "LinearRing"):
        yield (f"<LineString><tessellate>1</tessellate><coordinates>{_coords(geom)}"
               "</coordinates></LineString>")
    elif kind == "Polygon":  # rings already oriented by _write
        parts = ["<Polygon><tessellate>1</tessellate><outerBoundaryIs><LinearRing><coordinates>",
                 _coords(geom.exterior), "</coordinates></LinearRing></outerBoundaryIs>"]
        for ring in geom.interiors:
            parts += ["<innerBoundaryIs><LinearRing><coordinates>", _coords(ring),
                      "</coordinates></LinearRing></innerBoundaryIs>"]
        parts.append("</Polygon>")
        yield "".join(parts)
    else:  # Multi* and GeometryCollection
        yield "<MultiGeometry>"
        for part in geom.geoms:
            yield from _geometry_xml(part)
        yield "</MultiGeometry>"


def _coords_many(geoms: np.ndarray) -> list[str]:
    """:func:`_coords` of many points, lines or rings at once."""
    if len(geoms) == 0:
        return []
    wkt = pd.Series(shapely.to_wkt(geoms, rounding_precision=7, trim=True), dtype="str")
    inner = wkt.str.replace(r"^[A-Z ]+\(", "", regex=True).str.removesuffix(")")
    return (inner.str.replace(", ", ";", regex=False).str.replace(" ", ",", regex=False)
            .str.replace(";", " ", regex=False).tolist())


_POINT, _LINESTRING, _LINEARRING, _POLYGON = 0, 1, 2, 3
_MULTI_TYPES = (4, 5, 6)  # MultiPoint, MultiLineString, MultiPolygon
_COLLECTION = 7


def _geometries_xml(geoms: np.ndarray) -> list[str]:
    """KML of every geometry ('' for missing or empty), coordinates formatted in bulk."""
    out = [""] * len(geoms)
    kinds = shapely.get_type_id(geoms)
    usable = (kinds >= 0) & ~shapely.is_empty(geoms)
    for i in np.flatnonzero(usable & (kinds == _COLLECTION)).tolist():  # rare: the slow path
        out[i] = "".join(_geometry_xml(geoms[i]))
    simple = np.flatnonzero(usable & (kinds != _COLLECTION))
    parts, owner = shapely.get_parts(geoms[simple], return_index=True)
    part_kinds = shapely.get_type_id(parts)
    part_xml = [""] * len(parts)
    polygons = np.flatnonzero(part_kinds == _POLYGON)
    rings, ring_owner = shapely.get_rings(parts[polygons], return_index=True)
    ring_text = _coords_many(rings)
    first = np.ones(len(ring_owner), dtype=bool)  # each polygon's exterior comes first
    first[1:] = ring_owner[1:] != ring_owner[:-1]
    for text, own, is_exterior in zip(ring_text, ring_owner.tolist(), first.tolist(),
                                      strict=True):
        i = int(polygons[own])
        if is_exterior:
            part_xml[i] = ("<Polygon><tessellate>1</tessellate><outerBoundaryIs><LinearRing>"
                           f"<coordinates>{text}</coordinates></LinearRing></outerBoundaryIs>")
        else:
            part_xml[i] += ("<innerBoundaryIs><LinearRing>"
                            f"<coordinates>{text}</coordinates></LinearRing></innerBoundaryIs>")
    for i in polygons.tolist():
        part_xml[i] += "</Polygon>"
    others = np.flatnonzero(part_kinds != _POLYGON)
    for i, text, kind in zip(others.tolist(), _coords_many(parts[others]),
                             part_kinds[others].tolist(), strict=True):
        if kind == _POINT:
            part_xml[i] = f"<Point><coordinates>{text}</coordinates></Point>"
        else:
            part_xml[i] = (f"<LineString><tessellate>1</tessellate><coordinates>{text}"
                           "</coordinates></LineString>")
    grouped: dict[int, list[str]] = {}
    for own, xml in zip(owner.tolist(), part_xml, strict=True):
        grouped.setdefault(own, []).append(xml)
    for own, pieces in grouped.items():
        i = int(simple[own])
        body = "".join(pieces)
        out[i] = f"<MultiGeometry>{body}</MultiGeometry>" if kinds[i] in _MULTI_TYPES else body
    return out


_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _column_text(column: pd.Series, timezone: str) -> pd.Series:
    """The text a person reads for each cell of a column ('' for missing), vectorised."""
    dtype = column.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        text = column.dt.tz_convert(timezone).dt.strftime(_TIME_FORMAT)
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        text = column.dt.strftime(_TIME_FORMAT)
    elif pd.api.types.is_bool_dtype(dtype):
        text = column.map({True: "true", False: "false"})
    elif pd.api.types.is_integer_dtype(dtype):
        text = column.astype("str")
    elif pd.api.types.is_float_dtype(dtype):
        rounded = column.round(6) + 0.0  # 6 decimals of a degree is about 0.1 m; + 0.0 drops -0
        text = rounded.astype("str").str.removesuffix(".0")
    else:
        text = pd.Series([_display(v, timezone) for v in column.tolist()], dtype="str")
    text = pd.Series(text.to_numpy(), dtype="str").fillna("")
    return text.str.replace(_BAD_XML_CHARS, "", regex=True)


def _xml_escape(text: pd.Series) -> pd.Series:
    return (text.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False))


def _html_escape(text: pd.Series) -> pd.Series:
    return _xml_escape(text).str.replace('"', "&quot;", regex=False).str.replace(
        "'", "&#x27;", regex=False)


def _write(fh: TextIO, gdf: gpd.GeoDataFrame, *, document_name: str, name_column: str,
           style_column: str | None, timezone: str) -> None:
    by_value, colours = _style_scheme(gdf[style_column] if style_column else None)
    attributes = [c for c in gdf.columns if c not in (gdf.geometry.name, name_column)]
    fh.write('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>\n'
             f"<name>{_text(document_name)}</name>\n")
    for style_id, rgb in colours.items():
        fh.write(_style_xml(style_id, rgb))
    # A typed <Schema>: GDAL (so QGIS) keeps Chinese field names from SimpleData, whereas it
    # launders the names of untyped <Data> elements to underscores.
    fields = [quoteattr(_BAD_XML_CHARS.sub("", str(c))) for c in attributes]
    fh.write(f'<Schema name={quoteattr(_BAD_XML_CHARS.sub("", document_name))} '
             f'id="{_SCHEMA_ID}">')
    fh.writelines(f'<SimpleField name={field} type="{_field_type(gdf[c])}"/>'
                  for field, c in zip(fields, attributes, strict=True))
    fh.write("</Schema>\n")

    # Every cell is formatted and escaped column by column. The balloon (<description>) is an
    # HTML table inside XML text: a cell is HTML-escaped, then the whole table XML-escaped, so
    # user text like "<img src=x>" shows as text. SimpleData holds the XML-escaped text.
    texts = [_column_text(gdf[c], timezone) for c in attributes]
    data_cells = [_xml_escape(t).tolist() for t in texts]
    balloon_cells = [_xml_escape(_html_escape(t)).tolist() for t in texts]
    present = [(t != "").tolist() for t in texts]
    names = _xml_escape(_column_text(gdf[name_column], timezone)).tolist()
    row_open = [escape(f"<tr><th>{html.escape(str(c))}</th><td>") for c in attributes]
    row_close = escape("</td></tr>")
    table_open = escape('<table border="1" cellpadding="2">')
    table_close = escape("</table>")
    # Gi* bins also get their meaning spelled out in the balloon, in Chinese and English.
    bin_rows = {v: escape(f"<tr><th>显著性 significance</th><td>{bin_label(int(v), 'zh+en')}"
                          "</td></tr>")
                for v, sid in by_value.items() if sid.startswith("bin_")}
    styles = gdf[style_column].tolist() if style_column else [None] * len(gdf)
    columns = range(len(attributes))
    # KML wants outer rings counter-clockwise; orient every polygon in one vectorised call.
    geometry_xml = _geometries_xml(shapely.orient_polygons(np.asarray(gdf.geometry.array)))
    for i, geom_xml in enumerate(geometry_xml):
        style_id = by_value.get(styles[i], "") if style_column else "default"
        parts = ["<Placemark><name>", names[i], "</name><description>", table_open,
                 bin_rows.get(styles[i], "")]
        parts += [f"{row_open[j]}{balloon_cells[j][i]}{row_close}" for j in columns]
        parts += [table_close, "</description>"]
        if style_id:
            parts.append(f"<styleUrl>#{style_id}</styleUrl>")
        parts.append(f'<ExtendedData><SchemaData schemaUrl="#{_SCHEMA_ID}">')
        parts += [f"<SimpleData name={fields[j]}>{data_cells[j][i]}</SimpleData>"
                  for j in columns if present[j][i]]
        parts.append("</SchemaData></ExtendedData>")
        parts += [geom_xml, "</Placemark>\n"]
        fh.write("".join(parts))
    fh.write("</Document></kml>\n")


def write_kml(gdf: gpd.GeoDataFrame, path: Path, *, name_column: str,
              style_column: str | None = None, timezone: str = DEFAULT_TIMEZONE,
              document_name: str | None = None) -> Path:
    """Write ``gdf`` (EPSG:4326) as KML 2.2 with one shared style per value of ``style_column``.

    Parameters
    ----------
    gdf
        Features in WGS84 lon/lat.
    path
        File to write (replaced).
    name_column
        Column shown as each placemark's name (Chinese kept).
    style_column
        Column whose values choose the style. A numeric (not boolean) column whose values all
        lie in −3…3 is read as Gi* bins: the ArcGIS hot/cold colours (all seven styles
        written) and the bin's meaning in the balloon. Supervision codes (red, yellow, green,
        closed_on_time, closed_late) get their code colours; other values a categorical
        palette; all from :mod:`gridwatch.output.palette`. ``None``: one style.
    timezone
        Zone in which tz-aware datetimes are shown.
    document_name
        The document's name in the app's layer list; default the file name's stem.

    Returns
    -------
    Path
        ``path``.
    """
    name = document_name if document_name is not None else path.name.split(".")[0]
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        _write(fh, gdf, document_name=name, name_column=name_column, style_column=style_column,
               timezone=timezone)
    return path

"""Offline folium maps: areas coloured by overdue figures or hotspot bins, problems, overlays.

Nothing here loads from the internet. Leaflet, jQuery, MarkerCluster and the heat-map plugin come
from installed packages (``xstatic-*`` and folium's own wheel), are copied next to the app by
:func:`install_assets`, and every map element made here points at them through ``base_url``
(instance attributes, so no global state changes). There are no tiles unless a tile URL for an
intranet server is given. All user text is escaped with :func:`escape_text` before it reaches the
page: folium puts popup and tooltip text inside JavaScript template literals and GeoJSON tooltips
into ``innerHTML``.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.elements import ElementAddToElement
from folium.map import Layer
from folium.plugins import HeatMap, MarkerCluster
from jinja2 import Template

from gridwatch.output.palette import (
    BIN_COLOURS,
    BIN_ORDER,
    CODE_COLOURS,
    DEFAULT_COLOUR,
    HOTSPOT_OUTLINE,
    OVERDUE_RAMP,
    bin_label,
)
from gridwatch.ui.i18n import code_label

__all__ = [
    "add_area_layer",
    "add_areas",
    "add_heat",
    "add_legend",
    "add_outline_layer",
    "add_overlay",
    "add_points",
    "asset_files",
    "bin_legend",
    "code_legend",
    "escape_text",
    "feature_collection",
    "geometry_json",
    "install_assets",
    "make_map",
    "map_html",
    "outline_features",
    "thumbnails_html",
]

_ESCAPES = {"$": "&#36;", "`": "&#96;", "\\": "&#92;"}


def escape_text(value: object) -> str:
    """Return user text safe to put in a popup, tooltip or GeoJSON property.

    HTML special characters become entities, and so do ``$``, backtick and backslash, which
    would otherwise act inside the JavaScript template literals folium writes.

    Examples
    --------
    >>> escape_text('<img src=x onerror=alert(1)>${x}')
    '&lt;img src=x onerror=alert(1)&gt;&#36;{x}'
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    text = html.escape(str(value), quote=True)
    for char, entity in _ESCAPES.items():
        text = text.replace(char, entity)
    return text


# --- assets ---------------------------------------------------------------------------------

def asset_files() -> dict[str, Path]:
    """Return the shipped asset files by their path under the assets folder.

    Raises
    ------
    FileNotFoundError
        When a package that carries an asset is missing (reinstall gridwatch).
    """
    import xstatic.pkg.jquery as xjquery
    import xstatic.pkg.leaflet as xleaflet
    import xstatic.pkg.leaflet_markercluster as xcluster

    leaflet = Path(xleaflet.BASE_DIR)
    cluster = Path(xcluster.BASE_DIR)
    files = {
        "leaflet/leaflet.js": leaflet / "leaflet.js",
        "leaflet/leaflet.css": leaflet / "leaflet.css",
        "jquery/jquery.min.js": Path(xjquery.BASE_DIR) / "jquery.min.js",
        "markercluster/leaflet.markercluster.js": cluster / "leaflet.markercluster.js",
        "markercluster/MarkerCluster.css": cluster / "MarkerCluster.css",
        "markercluster/MarkerCluster.Default.css": cluster / "MarkerCluster.Default.css",
        "heat/leaflet_heat.min.js": Path(folium.__file__).parent / "templates"
        / "leaflet_heat.min.js",
    }
    for image in sorted((leaflet / "images").glob("*.png")):
        files[f"leaflet/images/{image.name}"] = image
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"map assets missing: {', '.join(missing)}; reinstall gridwatch")
    return files


def install_assets(dest: str | Path) -> Path:
    """Copy Leaflet and its plugins into ``dest`` (kept when already up to date).

    For the Streamlit app, ``dest`` is ``static/gridwatch`` next to ``app.py`` and the
    ``base_url`` of the maps is ``/app/static/gridwatch`` (absolute: the map's frame is served
    from ``/component/...`` on the same origin).
    """
    root = Path(dest)
    for relative, source in asset_files().items():
        target = root / relative
        if target.is_file() and target.stat().st_size == source.stat().st_size:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return root


def _js(base_url: str, *names: str) -> list[tuple[str, str]]:
    # the name keys folium's page header: it must differ between the .js and .css of a library
    return [(n.replace("/", "_").replace(".", "_"), f"{base_url.rstrip('/')}/{n}") for n in names]


def _offline(element: folium.MacroElement, base_url: str) -> None:
    """Point an element's scripts and styles at the local assets (instance attributes)."""
    if isinstance(element, folium.Map):
        element.default_js = _js(base_url, "leaflet/leaflet.js", "jquery/jquery.min.js")
        element.default_css = _js(base_url, "leaflet/leaflet.css")
    elif isinstance(element, MarkerCluster):
        element.default_js = _js(base_url, "markercluster/leaflet.markercluster.js")
        element.default_css = _js(base_url, "markercluster/MarkerCluster.css",
                                  "markercluster/MarkerCluster.Default.css")
    elif isinstance(element, HeatMap):
        element.default_js = _js(base_url, "heat/leaflet_heat.min.js")


# --- maps -----------------------------------------------------------------------------------

def make_map(
    bounds: Sequence[float],
    *,
    base_url: str = "assets",
    tiles: str | None = None,
    tiles_attribution: str = "",
    height: str = "100%",
    prefer_canvas: bool = True,
) -> folium.Map:
    """Return an empty offline map fitted to ``bounds`` (minx, miny, maxx, maxy in WGS84).

    Parameters
    ----------
    bounds
        Area to show, e.g. ``areas.total_bounds``.
    base_url
        URL (or relative path) under which :func:`install_assets` put the assets.
    tiles
        XYZ template of an intranet tile server, e.g. 天地图
        ``http://tdt.intranet/DataServer?T=vec_w&X={x}&Y={y}&L={z}&tk=KEY``. None (default):
        no tiles, the boundaries are the base map. GCJ-02 tile sets (高德/腾讯) need the data
        shifted with :func:`gridwatch.placing.coords.from_wgs84` to match.
    prefer_canvas
        Draw vectors on one canvas (fast for many shapes); False draws SVG paths, which
        browsers and tests can address one by one (``path.leaflet-interactive``).
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], tiles=None,
                      prefer_canvas=prefer_canvas, control_scale=False, height=height)
    _MetricScale().add_to(fmap)  # folium's own scale bar also shows miles
    # without tiles Leaflet has no zoom limits, and MarkerCluster refuses to work without them
    fmap.options.update({"minZoom": 5, "maxZoom": 19})
    _offline(fmap, base_url)
    if tiles:
        folium.TileLayer(tiles=tiles, attr=tiles_attribution or "intranet tiles",
                         name="底图", overlay=False).add_to(fmap)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


class _MetricScale(MacroElement):
    """Leaflet's scale bar in metres and kilometres only."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)


def _ramp_colour(values: pd.Series) -> pd.Series:
    """Colour values on the palette's ``OVERDUE_RAMP`` by quantile classes; zero is the lightest."""
    numbers = pd.to_numeric(values, errors="coerce").fillna(0.0)
    positive = numbers[numbers > 0]
    colours = pd.Series(OVERDUE_RAMP[0], index=values.index)
    if positive.empty:
        return colours
    edges = np.unique(np.quantile(positive, np.linspace(0, 1, len(OVERDUE_RAMP))[1:-1]))
    classes = np.searchsorted(edges, positive.to_numpy(), side="right") + 1
    colours.loc[positive.index] = [OVERDUE_RAMP[min(c, len(OVERDUE_RAMP) - 1)] for c in classes]
    return colours


_EDGE, _EDGE_WEIGHT = "#666666", 0.6  # the outline of an area that is not flagged


def _area_properties(
    areas: gpd.GeoDataFrame,
    *,
    value_column: str,
    fields: Mapping[str, str],
    by_bin: bool = False,
    highlight: pd.Series | None = None,
) -> pd.DataFrame:
    """The properties each drawn area carries: ``fields`` (user text escaped), the value, and
    its fill, outline colour and outline weight (``_fill``, ``_edge``, ``_weight``)."""
    keep = list(dict.fromkeys([*fields, value_column]))
    out = pd.DataFrame(
        {c: areas[c].map(escape_text) if areas[c].dtype == object or
         pd.api.types.is_string_dtype(areas[c]) else areas[c] for c in keep},
        index=areas.index)
    if by_bin:
        bins = pd.to_numeric(areas[value_column], errors="coerce").fillna(0).astype(int)
        out["_fill"] = bins.map(BIN_COLOURS).fillna(BIN_COLOURS[0])
    else:
        out["_fill"] = _ramp_colour(areas[value_column])
    flagged = (highlight.reindex(areas.index).fillna(False).astype(bool)
               if highlight is not None else pd.Series(False, index=areas.index))
    out["_edge"] = np.where(flagged, HOTSPOT_OUTLINE, _EDGE)
    out["_weight"] = np.where(flagged, 2.5, _EDGE_WEIGHT)
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].astype(str)
    return out


def add_areas(
    fmap: folium.Map,
    areas: gpd.GeoDataFrame,
    *,
    value_column: str,
    name: str,
    fields: Mapping[str, str],
    by_bin: bool = False,
    highlight: pd.Series | None = None,
    simplify_m: float = 0.0,
) -> folium.GeoJson:
    """Draw areas filled by ``value_column`` with a tooltip of ``fields`` (column → label).

    ``by_bin`` colours a Gi* bin column (-3 … 3) with the ArcGIS bin colours of
    :mod:`gridwatch.output.palette`; otherwise values are classed on its red ramp. Areas where
    ``highlight`` is true (e.g. overdue hotspots) get a thick dark outline so they stand out at
    a glance. ``simplify_m`` simplifies outlines (metres, topology kept per polygon) to keep the
    page small. For thousands of areas redrawn often, see :func:`add_area_layer`.
    """
    frame = areas.to_crs(4326) if areas.crs is not None and areas.crs.to_epsg() != 4326 else areas
    out = gpd.GeoDataFrame(
        _area_properties(frame, value_column=value_column, fields=fields, by_bin=by_bin,
                         highlight=highlight),
        geometry=frame.geometry, crs=4326)
    if simplify_m > 0:
        out["geometry"] = out.geometry.simplify(simplify_m / 111_000, preserve_topology=True)
    layer = folium.GeoJson(
        json.loads(out.to_json(na="null", drop_id=True)),
        name=escape_text(name),
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"], "color": f["properties"]["_edge"],
            "weight": f["properties"]["_weight"], "fillOpacity": 0.7,
        },
        highlight_function=lambda _f: {"weight": 3, "color": "#222222"},
        tooltip=folium.GeoJsonTooltip(fields=list(fields),
                                      aliases=[escape_text(a) for a in fields.values()],
                                      sticky=True),
    )
    layer.add_to(fmap)
    return layer


def geometry_json(shapes: gpd.GeoDataFrame) -> np.ndarray:
    """The GeoJSON text of each outline of ``shapes`` (in WGS84), to keep beside a layer and
    pass to :func:`feature_collection` (a layer's outlines are written once, not per view)."""
    frame = shapes.to_crs(4326) if shapes.crs is not None and shapes.crs.to_epsg() != 4326 \
        else shapes
    return np.asarray(shapely.to_geojson(frame.geometry.to_numpy()), dtype=object)


def feature_collection(properties: pd.DataFrame, geometry: Sequence[str] | np.ndarray) -> str:
    """A GeoJSON FeatureCollection as text from properties (one row per feature; user text
    already escaped; missing values left out) and :func:`geometry_json` outlines in the same
    order."""
    if len(geometry) != len(properties):
        raise ValueError(f"{len(geometry)} outlines for {len(properties)} features")
    records = properties.astype(object).where(properties.notna(), None).to_dict("records")
    # a missing value is left out: the page reads it as empty (fewer bytes per feature)
    parts = [f'{{"type":"Feature","properties":'
             f'{json.dumps({k: v for k, v in p.items() if v is not None}, ensure_ascii=False)},'
             f'"geometry":{g}}}' for p, g in zip(records, geometry, strict=True)]
    # "</" never closes the page's script element when the map is saved as one HTML file
    return ('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}") \
        .replace("</", "<\\/")


class _Text(Element):
    """Script text placed in the page as it is (branca compiles an element's text as a
    template: seconds for the megabytes of a city's outlines)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: object) -> str:
        return self.text


class _FeatureLayer(Layer):
    """Features as one Leaflet GeoJSON layer, from prepared GeoJSON text, with a tooltip of
    some of their (escaped) properties. ``style`` is a JavaScript object literal or function
    of the feature; with ``highlight`` the area under the pointer is outlined."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson(null, {
            style: {{ this.style }},
            onEachFeature: function (feature, layer) {
                {%- if this.highlight %}
                layer.on({
                    mouseover: function (e) {
                        e.target.setStyle({weight: 3, color: "#222222"});
                    },
                    mouseout: function (e) { {{ this.get_name() }}.resetStyle(e.target); }
                });
                {%- endif %}
            }
        });
        {{ this.get_name() }}.addData({{ this.features }});
        {{ this.get_name() }}.bindTooltip(function (layer) {
            var fields = {{ this.fields|tojson }}, aliases = {{ this.aliases|tojson }};
            var div = L.DomUtil.create("div");
            div.innerHTML = "<table>" + fields.map(function (field, i) {
                var value = layer.feature.properties[field];
                value = value === null || value === undefined ? "" : value;
                return "<tr>" + (aliases.length ? "<th>" + aliases[i] + "</th>" : "") +
                    "<td>" + value + "</td></tr>";
            }).join("") + "</table>";
            return div;
        }, {sticky: true, className: "foliumtooltip"});
        {% endmacro %}
    """)

    def __init__(self, features: str, *, name: str, style: str, fields: Sequence[str],
                 aliases: Sequence[str] = (), bounds: Sequence[float] = (np.nan,) * 4,
                 highlight: bool = False, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "FeatureLayer"
        self.features = features
        self.style = style
        self.fields = list(fields)
        self.aliases = list(aliases)
        self.highlight = highlight
        self._bounds = [float(v) for v in bounds]

    def render(self, **kwargs: object) -> str:
        """As folium renders a layer, but the script goes to the page as text."""
        figure, parent = self.get_root(), self._parent
        if not isinstance(figure, Figure) or parent is None:
            raise TypeError("the layer is not in a map")
        if self.show:  # as folium.map.Layer: added to the map when shown
            self.add_child(ElementAddToElement(element_name=self.get_name(),
                                               element_parent_name=parent.get_name()),
                           name=self.get_name() + "_add")
        script = self._template.module.__dict__["script"]
        figure.script.add_child(_Text(script(self, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)
        return ""

    def _get_self_bounds(self) -> list[list[float | None]]:
        minx, miny, maxx, maxy = self._bounds
        if not np.all(np.isfinite(self._bounds)):
            return [[None, None], [None, None]]
        return [[miny, minx], [maxy, maxx]]


_AREA_STYLE = f"""function (feature) {{
                var p = feature.properties;
                return {{fillColor: p._fill, color: p._edge || "{_EDGE}",
                        weight: p._weight || {_EDGE_WEIGHT}, fillOpacity: 0.7}};
            }}"""


def add_area_layer(
    fmap: folium.Map,
    areas: gpd.GeoDataFrame,
    geometry: Sequence[str] | np.ndarray,
    *,
    value_column: str,
    name: str,
    fields: Mapping[str, str],
    by_bin: bool = False,
    highlight: pd.Series | None = None,
) -> Layer:
    """:func:`add_areas` for many areas: the outlines come as GeoJSON text prepared once per
    layer (:func:`geometry_json`, same order as ``areas``), so a view only writes its figures.

    Colours, outlines and tooltip are those of :func:`add_areas`; user text is escaped the same
    way, and the page builds the tooltip from the escaped properties.
    """
    props = _area_properties(areas, value_column=value_column, fields=fields, by_bin=by_bin,
                             highlight=highlight)
    plain = props["_edge"].to_numpy() == _EDGE  # the style's default outline: not sent
    props["_edge"] = props["_edge"].where(~plain, None)
    props["_weight"] = props["_weight"].where(~plain, None)
    layer = _FeatureLayer(feature_collection(props, geometry), name=escape_text(name),
                          style=_AREA_STYLE, fields=list(fields),
                          aliases=[escape_text(a) for a in fields.values()],
                          bounds=areas.total_bounds if len(areas) else (np.nan,) * 4,
                          highlight=True)
    layer.add_to(fmap)
    return layer


def outline_features(shapes: gpd.GeoDataFrame, *, label_column: str) -> str:
    """The features :func:`add_outline_layer` draws: each outline with its (escaped) label."""
    labels = pd.DataFrame({"label": shapes[label_column].map(escape_text).to_numpy()})
    return feature_collection(labels, geometry_json(shapes))


def add_outline_layer(
    fmap: folium.Map,
    features: str,
    *,
    name: str,
    colour: str,
    dashed: bool = False,
    fill_opacity: float = 0.15,
    show: bool = True,
) -> Layer:
    """:func:`add_overlay` from :func:`outline_features` kept between views."""
    style = json.dumps({"color": colour, "weight": 1.5, "fillColor": colour,
                        "fillOpacity": fill_opacity, "dashArray": "6 4" if dashed else None})
    layer = _FeatureLayer(features, name=escape_text(name), style=style, fields=["label"],
                          show=show)
    layer.add_to(fmap)
    return layer


def add_overlay(
    fmap: folium.Map,
    shapes: gpd.GeoDataFrame,
    *,
    name: str,
    label_column: str,
    colour: str,
    dashed: bool = False,
    fill_opacity: float = 0.15,
    show: bool = True,
) -> folium.GeoJson:
    """Draw outlines such as river basins, redline zones or their 500 m belt as a toggle layer."""
    out = gpd.GeoDataFrame({"label": shapes[label_column].map(escape_text)},
                           geometry=shapes.geometry, crs=shapes.crs).to_crs(4326)
    layer = folium.GeoJson(
        json.loads(out.to_json(drop_id=True)), name=escape_text(name), show=show,
        style_function=lambda _f: {"color": colour, "weight": 1.5, "fillColor": colour,
                                   "fillOpacity": fill_opacity,
                                   "dashArray": "6 4" if dashed else None},
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
    )
    layer.add_to(fmap)
    return layer


def add_points(
    fmap: folium.Map,
    problems: pd.DataFrame,
    *,
    base_url: str = "assets",
    code_column: str = "code",
    popup_columns: Mapping[str, str] | None = None,
    name: str = "问题点位",
    limit: int = 5000,
    images_column: str | None = None,
) -> MarkerCluster:
    """Draw problems (``lon``/``lat``) as clustered circles coloured by red/yellow/green code.

    At most ``limit`` points are drawn (the most urgent first: red, yellow, green, closed) so the
    browser stays responsive; aggregate to areas or hexagons beyond that. ``images_column``
    names a column of ``(name, data URI)`` pairs (:func:`gridwatch.evidence.problem_thumbnails`)
    shown as thumbnails in the popup: only ``data:image`` URIs are drawn, names escaped.
    """
    order = {"red": 0, "yellow": 1, "green": 2}
    frame = problems.dropna(subset=["lon", "lat"])
    if code_column in frame:
        rank = frame[code_column].map(order).fillna(3)
        # keep the most urgent, then draw them last so red lies on top
        frame = frame.assign(_rank=rank).sort_values("_rank", kind="stable").head(limit)
        frame = frame.iloc[::-1]
    else:
        frame = frame.head(limit)
    cluster = MarkerCluster(name=escape_text(name), options={"disableClusteringAtZoom": 16},
                            icon_create_function=_CLUSTER_ICON)
    _offline(cluster, base_url)
    popup_columns = popup_columns or {}
    for row in frame.itertuples(index=False):
        record = row._asdict()
        code = str(record.get(code_column, "") or "")
        body = "<br>".join(f"<b>{escape_text(label)}</b>: {escape_text(record.get(col))}"
                           for col, label in popup_columns.items())
        if images_column is not None:
            body += thumbnails_html(record.get(images_column))
        folium.CircleMarker(
            location=[float(record["lat"]), float(record["lon"])], radius=5,
            color=CODE_COLOURS.get(code, DEFAULT_COLOUR), fill=True, fill_opacity=0.9, weight=1,
            popup=folium.Popup(body, max_width=320) if body else None,
        ).add_to(cluster)
    cluster.add_to(fmap)
    return cluster


# A cluster takes the worst code among its problems (red, then yellow, else green), so an
# overdue problem is never hidden inside a green bubble; only constant colours reach the page.
_CLUSTER_ICON = """
function (cluster) {{
  var colours = cluster.getAllChildMarkers().map(function (m) {{ return m.options.color; }});
  var colour = colours.indexOf("{red}") >= 0 ? "{red}"
    : (colours.indexOf("{yellow}") >= 0 ? "{yellow}" : "{green}");
  return L.divIcon({{
    html: '<div style="background:' + colour + ';color:#fff;border:2px solid #fff;' +
          'border-radius:50%;width:30px;height:30px;line-height:26px;text-align:center;' +
          'font:bold 12px sans-serif;box-shadow:0 0 3px #333">' + cluster.getChildCount() +
          '</div>',
    className: "", iconSize: L.point(30, 30)}});
}}
""".format(**CODE_COLOURS)


_DATA_IMAGE = re.compile(r"^data:image/(?:jpeg|png|gif|webp);base64,[A-Za-z0-9+/]+={0,2}$")


def thumbnails_html(images: object) -> str:
    """``<img>`` tags for ``(name, data URI)`` pairs: URIs other than base64 ``data:image``
    are dropped (nothing is fetched from anywhere), names escaped as alt and title text.

    Examples
    --------
    >>> html = thumbnails_html([("<a>.jpg", "data:image/jpeg;base64,AAAA"),
    ...                         ("x", "http://e/x")])
    >>> html.count("<img"), 'alt="&lt;a&gt;.jpg"' in html, "http" in html
    (1, True, False)
    """
    if not isinstance(images, list | tuple):
        return ""
    tags = [f'<img src="{uri}" alt="{escape_text(name)}" title="{escape_text(name)}" '
            'style="max-width:150px;margin:2px">'
            for name, uri in images if isinstance(uri, str) and _DATA_IMAGE.match(uri)]
    return "<br>" + "".join(tags) if tags else ""


def add_heat(fmap: folium.Map, lon: Sequence[float], lat: Sequence[float], *,
             base_url: str = "assets", name: str = "热力图", show: bool = False) -> HeatMap:
    """Draw a heat map of points (hidden until switched on in the layer control)."""
    points = [[float(y), float(x)] for x, y in zip(lon, lat, strict=True)
              if np.isfinite(x) and np.isfinite(y)]
    heat = HeatMap(points, name=escape_text(name), show=show, radius=12, blur=15)
    _offline(heat, base_url)
    heat.add_to(fmap)
    return heat


def add_legend(fmap: folium.Map, title: str, entries: Mapping[str, str]) -> None:
    """Add a plain-HTML legend (branca colormaps would pull d3 from a CDN in streamlit-folium)."""
    rows = "".join(
        f'<div><span style="display:inline-block;width:12px;height:12px;background:{colour};'
        f'border:1px solid #999;margin-right:4px"></span>{escape_text(label)}</div>'
        for label, colour in entries.items())
    box = (f'<div style="position:absolute;bottom:24px;left:12px;z-index:9999;background:#fff;'
           f'padding:6px 8px;border:1px solid #bbb;border-radius:4px;font-size:12px">'
           f"<b>{escape_text(title)}</b>{rows}</div>")
    root = fmap.get_root()
    if not isinstance(root, Figure):  # folium.Map puts itself in a Figure when created
        raise TypeError(f"the map's root is a {type(root).__name__}, not a branca Figure")
    root.html.add_child(Element(box))


def bin_legend(lang: str = "zh") -> dict[str, str]:
    """Return the legend entries (label → colour) of the Gi* bins, hottest first.

    The colours are those :func:`add_areas` fills with ``by_bin=True`` and the KML writer
    styles bins with (:data:`gridwatch.output.palette.BIN_COLOURS`).
    """
    return {bin_label(b, "en" if lang == "en" else "zh"): BIN_COLOURS[b] for b in BIN_ORDER}


def code_legend(codes: Sequence[str] = ("red", "yellow", "green"), lang: str = "zh",
                ) -> dict[str, str]:
    """Return the legend entries (name → colour) of supervision codes, as :func:`add_points`
    colours them."""
    return {code_label(c, lang): CODE_COLOURS[c] for c in codes}


def map_html(fmap: folium.Map, *, inline_assets: bool = False) -> str:
    """Return the map as one HTML page; with ``inline_assets`` the scripts and styles are
    embedded, so the file opens offline anywhere (for field teams)."""
    page = fmap.get_root().render()
    if not inline_assets:
        return page
    for relative, path in asset_files().items():
        if relative.endswith(".js"):
            tag_src = f'src="{_asset_url(fmap, relative)}"'
            page = page.replace(f"<script {tag_src}></script>",
                                f"<script>{path.read_text(encoding='utf-8')}</script>")
        elif relative.endswith(".css"):
            page = page.replace(f'<link rel="stylesheet" href="{_asset_url(fmap, relative)}"/>',
                                f"<style>{_inline_images(path)}</style>")
    return page


def _inline_images(css_file: Path) -> str:
    """Return a stylesheet with its ``url(images/x.png)`` references embedded as data URIs."""
    css = css_file.read_text(encoding="utf-8")
    for image in sorted((css_file.parent / "images").glob("*.png")):
        data = base64.b64encode(image.read_bytes()).decode("ascii")
        css = css.replace(f"url(images/{image.name})", f"url(data:image/png;base64,{data})")
    return css


def _asset_url(fmap: folium.Map, relative: str) -> str:
    base = fmap.default_js[0][1].rsplit("/leaflet/", 1)[0]
    return f"{base}/{relative}"

"""The one palette and the one set of labels of gridwatch's maps, legends and layers.

The folium map (:mod:`gridwatch.ui.maps`), its legend, the KML writer
(:mod:`gridwatch.output.kml`), the hotspot results' ``category``/``label`` columns
(:mod:`gridwatch.hotspots`) and the app's interface text (:mod:`gridwatch.ui.i18n`) all take
their colours and bin wording from here, so a KML downloaded from the app is coloured like the
map it came from.

Gi* confidence bins follow ArcGIS's ``Gi_Bin``: ±3, ±2, ±1 are hot (+) or cold (−) spots at
99 %, 95 % and 90 % confidence, 0 is not significant. Their colours are those of ArcGIS's Hot Spot
Analysis renderer. Colours are ``#rrggbb`` in lower case.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "BIN_CATEGORIES",
    "BIN_COLOURS",
    "BIN_LABELS",
    "BIN_LABELS_EN",
    "BIN_ORDER",
    "CATEGORY_COLOURS",
    "CODE_COLOURS",
    "DEFAULT_COLOUR",
    "EMERGING_COLOURS",
    "HOTSPOT_OUTLINE",
    "OVERDUE_RAMP",
    "bin_label",
]

#: The Gi* bins from the hottest to the coldest: the order of legends.
BIN_ORDER: tuple[int, ...] = (3, 2, 1, 0, -1, -2, -3)

#: ArcGIS Hot Spot Analysis colours by Gi* bin.
BIN_COLOURS: dict[int, str] = {
    3: "#d62f27",  # hot spot, 99 % confidence: deep red
    2: "#ed7551",  # hot spot, 95 %: medium red
    1: "#fab984",  # hot spot, 90 %: light red
    0: "#f7f7f2",  # not significant: near white
    -1: "#c0ccbe",  # cold spot, 90 %: light blue-grey
    -2: "#849eba",  # cold spot, 95 %: medium blue
    -3: "#4575b5",  # cold spot, 99 %: deep blue
}

#: Machine-readable name of each bin (the ``category`` of a Gi* or hexagon result).
BIN_CATEGORIES: dict[int, str] = {
    3: "hot_99", 2: "hot_95", 1: "hot_90", 0: "not_significant",
    -1: "cold_90", -2: "cold_95", -3: "cold_99",
}

#: What a person reads for each bin, in Chinese (the ``label`` of a result, the map's legend).
BIN_LABELS: dict[int, str] = {
    3: "热点(99%置信)", 2: "热点(95%置信)", 1: "热点(90%置信)", 0: "不显著",
    -1: "冷点(90%置信)", -2: "冷点(95%置信)", -3: "冷点(99%置信)",
}

#: The same in English.
BIN_LABELS_EN: dict[int, str] = {
    3: "Hot spot (99% confidence)", 2: "Hot spot (95% confidence)",
    1: "Hot spot (90% confidence)", 0: "Not significant",
    -1: "Cold spot (90% confidence)", -2: "Cold spot (95% confidence)",
    -3: "Cold spot (99% confidence)",
}

#: Red/yellow/green supervision codes (红黄绿码) and closed problems
#: (the codes of :data:`gridwatch.supervision.codes.CODES`).
CODE_COLOURS: dict[str, str] = {
    "red": "#d7191c", "yellow": "#fdae61", "green": "#1a9641",
    "closed_on_time": "#7f7f7f", "closed_late": "#404040",
}

#: Sequential reds for overdue counts and rates (light → dark).
OVERDUE_RAMP: tuple[str, ...] = ("#fff5f0", "#fcbba1", "#fc9272", "#fb6a4a", "#de2d26", "#a50f15")

#: Outline of an area flagged as an overdue hotspot (thick, on the map and in its legend).
HOTSPOT_OUTLINE = "#000000"

#: Colours of other categorical values, in order of the sorted values (ColorBrewer Set1/Dark2).
CATEGORY_COLOURS: tuple[str, ...] = (
    "#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf",
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e",
)

#: Emerging hot/cold spot categories (gridwatch.hotspots.emerging): hot patterns in reds
#: (newest and strongest darkest), cold ones in blues, no pattern grey.
EMERGING_COLOURS: dict[str, str] = {
    "new_hot_spot": "#67000d", "intensifying_hot_spot": "#a50f15",
    "persistent_hot_spot": "#cb181d", "consecutive_hot_spot": "#ef3b2c",
    "sporadic_hot_spot": "#fb6a4a", "oscillating_hot_spot": "#fc9272",
    "diminishing_hot_spot": "#fcbba1", "historical_hot_spot": "#fee0d2",
    "new_cold_spot": "#08306b", "intensifying_cold_spot": "#08519c",
    "persistent_cold_spot": "#2171b5", "consecutive_cold_spot": "#4292c6",
    "sporadic_cold_spot": "#6baed6", "oscillating_cold_spot": "#9ecae1",
    "diminishing_cold_spot": "#c6dbef", "historical_cold_spot": "#deebf7",
    "no_pattern": "#d9d9d9",
}

#: Colour of features no value styles: a KML layer without a style column, a point whose code
#: is not one of :data:`CODE_COLOURS`.
DEFAULT_COLOUR = "#3186cc"


def bin_label(value: int, lang: Literal["zh", "en", "zh+en"] = "zh") -> str:
    """Return what a person reads for a Gi* bin.

    Parameters
    ----------
    value
        The bin, −3 … 3.
    lang
        ``"zh"`` (:data:`BIN_LABELS`), ``"en"`` (:data:`BIN_LABELS_EN`) or ``"zh+en"`` (both,
        Chinese first, as in KML balloons read by field teams).

    Returns
    -------
    str

    Raises
    ------
    KeyError
        When ``value`` is not a bin.

    Examples
    --------
    >>> bin_label(3), bin_label(-1, "en")
    ('热点(99%置信)', 'Cold spot (90% confidence)')
    >>> bin_label(0, "zh+en")
    '不显著 Not significant'
    """
    if lang == "en":
        return BIN_LABELS_EN[int(value)]
    if lang == "zh+en":
        return f"{BIN_LABELS[int(value)]} {BIN_LABELS_EN[int(value)]}"
    return BIN_LABELS[int(value)]

"""Hotspots of problems per area: by rule, Getis-Ord Gi*, H3 hexagons and space-time trends.

Pure functions: areas (GeoDataFrame with ``area_id``, ``area_name``, ``geometry`` in EPSG:4326)
and values in, one GeoDataFrame with :data:`OUTPUT_COLUMNS` out. One statistic per module:
``rule``, ``gistar``, ``hexbin``, ``emerging``; weights in ``_weights``, Mann–Kendall in
``_trend``. Definitions: ``docs/hotspots.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridwatch._lazy import lazy_exports

if TYPE_CHECKING:
    from gridwatch.hotspots._output import OUTPUT_COLUMNS
    from gridwatch.hotspots._run import (
        HOTSPOT_METHODS,
        HOTSPOT_VARIABLES,
        period_counts,
        run_hotspots,
        summarise,
    )
    from gridwatch.hotspots._settings import HotspotSettings, hotspot_settings
    from gridwatch.hotspots._trend import mann_kendall
    from gridwatch.hotspots._weights import (
        WEIGHT_KINDS,
        SpatialWeights,
        build_weights,
        clear_weights_cache,
        space_time_weights,
    )
    from gridwatch.hotspots.emerging import (
        EMERGING_CATEGORIES,
        EMERGING_LABELS,
        classify_emerging,
        emerging_hotspots,
        space_time_gi_star,
    )
    from gridwatch.hotspots.gistar import (
        BIN_LEVELS,
        confidence_bins,
        fdr_bh,
        gi_star,
        gi_star_pseudo_p,
        gi_star_z,
    )
    from gridwatch.hotspots.hexbin import hex_counts, hex_hotspots, points_to_cells
    from gridwatch.hotspots.rule import RULE_LABELS, rule_hotspots
    from gridwatch.output.palette import BIN_CATEGORIES, BIN_LABELS

__all__ = [
    "BIN_CATEGORIES",
    "BIN_LABELS",
    "BIN_LEVELS",
    "EMERGING_CATEGORIES",
    "EMERGING_LABELS",
    "HOTSPOT_METHODS",
    "HOTSPOT_VARIABLES",
    "OUTPUT_COLUMNS",
    "RULE_LABELS",
    "WEIGHT_KINDS",
    "HotspotSettings",
    "SpatialWeights",
    "build_weights",
    "classify_emerging",
    "clear_weights_cache",
    "confidence_bins",
    "emerging_hotspots",
    "fdr_bh",
    "gi_star",
    "gi_star_pseudo_p",
    "gi_star_z",
    "hex_counts",
    "hex_hotspots",
    "hotspot_settings",
    "mann_kendall",
    "period_counts",
    "points_to_cells",
    "rule_hotspots",
    "run_hotspots",
    "space_time_gi_star",
    "space_time_weights",
    "summarise",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "BIN_CATEGORIES": "gridwatch.output.palette",
    "BIN_LABELS": "gridwatch.output.palette",
    "BIN_LEVELS": "gridwatch.hotspots.gistar",
    "EMERGING_CATEGORIES": "gridwatch.hotspots.emerging",
    "EMERGING_LABELS": "gridwatch.hotspots.emerging",
    "HOTSPOT_METHODS": "gridwatch.hotspots._run",
    "HOTSPOT_VARIABLES": "gridwatch.hotspots._run",
    "HotspotSettings": "gridwatch.hotspots._settings",
    "OUTPUT_COLUMNS": "gridwatch.hotspots._output",
    "RULE_LABELS": "gridwatch.hotspots.rule",
    "SpatialWeights": "gridwatch.hotspots._weights",
    "WEIGHT_KINDS": "gridwatch.hotspots._weights",
    "build_weights": "gridwatch.hotspots._weights",
    "classify_emerging": "gridwatch.hotspots.emerging",
    "clear_weights_cache": "gridwatch.hotspots._weights",
    "confidence_bins": "gridwatch.hotspots.gistar",
    "emerging_hotspots": "gridwatch.hotspots.emerging",
    "fdr_bh": "gridwatch.hotspots.gistar",
    "gi_star": "gridwatch.hotspots.gistar",
    "gi_star_pseudo_p": "gridwatch.hotspots.gistar",
    "gi_star_z": "gridwatch.hotspots.gistar",
    "hex_counts": "gridwatch.hotspots.hexbin",
    "hex_hotspots": "gridwatch.hotspots.hexbin",
    "hotspot_settings": "gridwatch.hotspots._settings",
    "mann_kendall": "gridwatch.hotspots._trend",
    "period_counts": "gridwatch.hotspots._run",
    "points_to_cells": "gridwatch.hotspots.hexbin",
    "rule_hotspots": "gridwatch.hotspots.rule",
    "run_hotspots": "gridwatch.hotspots._run",
    "space_time_gi_star": "gridwatch.hotspots.emerging",
    "space_time_weights": "gridwatch.hotspots._weights",
    "summarise": "gridwatch.hotspots._run",
})

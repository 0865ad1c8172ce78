"""Addresses without coordinates placed offline against the bureau's own gazetteer.

Sits between ingest and placing: :func:`~gridwatch.geocoding.records.geocode_records` is the
import's one call. :mod:`~gridwatch.geocoding.normalise` folds address text,
:mod:`~gridwatch.geocoding.parse` splits it, :mod:`~gridwatch.geocoding.gazetteer` builds and
keeps the names and addresses with their places, :mod:`~gridwatch.geocoding.match` finds the
place of each address, :mod:`~gridwatch.geocoding.evaluate` measures it on held-out rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridwatch._lazy import lazy_exports

if TYPE_CHECKING:
    from gridwatch.geocoding._settings import GeocodeSettings, PointSource
    from gridwatch.geocoding.evaluate import evaluate_holdout
    from gridwatch.geocoding.gazetteer import Gazetteer, build_gazetteer
    from gridwatch.geocoding.match import geocode_addresses
    from gridwatch.geocoding.normalise import normalise_address
    from gridwatch.geocoding.records import geocode_records

__all__ = [
    "Gazetteer",
    "GeocodeSettings",
    "PointSource",
    "build_gazetteer",
    "evaluate_holdout",
    "geocode_addresses",
    "geocode_records",
    "normalise_address",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "Gazetteer": "gridwatch.geocoding.gazetteer",
    "GeocodeSettings": "gridwatch.geocoding._settings",
    "PointSource": "gridwatch.geocoding._settings",
    "build_gazetteer": "gridwatch.geocoding.gazetteer",
    "evaluate_holdout": "gridwatch.geocoding.evaluate",
    "geocode_addresses": "gridwatch.geocoding.match",
    "geocode_records": "gridwatch.geocoding.records",
    "normalise_address": "gridwatch.geocoding.normalise",
})

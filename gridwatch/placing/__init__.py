"""Stage 2, placing: coordinates to WGS84, boundary layers, each problem placed in every area
it lies in, and the agreement of that placement with the input's own area labels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridwatch._lazy import lazy_exports

if TYPE_CHECKING:
    from gridwatch.placing.assign import assign_areas, place_records, unassigned_counts
    from gridwatch.placing.layers import check_layers, load_layers, locate_points, read_layer

__all__ = [
    "assign_areas",
    "check_layers",
    "load_layers",
    "locate_points",
    "place_records",
    "read_layer",
    "unassigned_counts",
]

# geopandas is imported when a stage that places runs, not by a module that only needs the
# coordinate helpers (reading the project file checks its CRS names with them)
__getattr__, __dir__ = lazy_exports(__name__, {
    "assign_areas": "gridwatch.placing.assign",
    "check_layers": "gridwatch.placing.layers",
    "load_layers": "gridwatch.placing.layers",
    "locate_points": "gridwatch.placing.layers",
    "place_records": "gridwatch.placing.assign",
    "read_layer": "gridwatch.placing.layers",
    "unassigned_counts": "gridwatch.placing.assign",
})

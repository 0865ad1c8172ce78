"""Stage 2, placing: coordinates to WGS84, boundary layers, each problem placed in every area
it lies in, and the agreement of that placement with the input's own area labels."""

from __future__ import annotations

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

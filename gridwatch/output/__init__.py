"""Output: tables (CSV/XLSX with formulas neutralised), GIS layers (GeoPackage, GeoJSON,
zipped Shapefile, styled KML) and Open311 GeoReport v2."""

from __future__ import annotations

from gridwatch.output.files import (
    export_issues,
    neutralise_formulas,
    write_layer,
    write_table,
    write_workbook,
)
from gridwatch.output.open311 import to_open311, write_open311

__all__ = [
    "export_issues",
    "neutralise_formulas",
    "to_open311",
    "write_layer",
    "write_open311",
    "write_table",
    "write_workbook",
]

"""Stage 1, ingest: read problem exports (CSV, XLSX, JSON, GeoJSON, Open311; gz/zip) into
canonical records, with every rejected row accounted for."""

from __future__ import annotations

from gridwatch.ingest.records import FileStats, IngestResult, map_headers, read_issues

__all__ = ["FileStats", "IngestResult", "map_headers", "read_issues"]

"""Stage 3, the store: problems, their status history and import runs in SQLite (embedded
default) or PostgreSQL/PostGIS, chosen by a database URL."""

from __future__ import annotations

from gridwatch.store.transactional import ImportCounts, Store

__all__ = ["ImportCounts", "Store"]

"""Widen the status check of a store made before the statuses it now allows.

``issues.status`` is checked against :data:`gridwatch.schema.STATUSES` in the database itself
(``ck_issues_status``). When statuses are added (accepted / not_accepted came with the
rectification ledger) a store made before keeps the old check and would refuse them; opening it
widens the check, in the write transaction that opens it. Widening cannot invalidate a stored
row, so the table is not rebuilt: PostgreSQL replaces the constraint; SQLite rewrites the
table's definition in ``sqlite_master`` (the procedure SQLite documents for changing a CHECK
constraint, https://sqlite.org/lang_altertable.html, section 7).
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from gridwatch.schema import STATUSES

__all__ = ["status_check_current", "widen_status_check"]

_NAME = "ck_issues_status"
_IN_LIST = re.compile(r"status\s+IN\s*\([^)]*\)", re.IGNORECASE)


def _definition(conn: sa.Connection, issues: sa.Table, *, postgis: bool) -> str | None:
    if postgis:
        return conn.execute(sa.text(
            "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_class t ON c.conrelid = t.oid JOIN pg_namespace n ON t.relnamespace = n.oid "
            "WHERE c.conname = :name AND t.relname = :table AND n.nspname = :schema"),
            {"name": _NAME, "table": issues.name,
             "schema": issues.schema or "public"}).scalar()
    found = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
        (issues.name,)).scalar()
    return None if found is None else str(found)


def status_check_current(conn: sa.Connection, issues: sa.Table, *, postgis: bool) -> bool:
    """Whether the store's status check allows every status of :data:`STATUSES` (or there
    is none to widen)."""
    found = _definition(conn, issues, postgis=postgis)
    if found is None or (not postgis and _NAME not in found):
        return True
    return all(f"'{s}'" in found for s in STATUSES)


def widen_status_check(conn: sa.Connection, issues: sa.Table, *, postgis: bool) -> bool:
    """Make the status check allow every status of :data:`STATUSES`, in the caller's write
    transaction; returns whether it changed anything."""
    if status_check_current(conn, issues, postgis=postgis):
        return False
    allowed = ", ".join(f"'{s}'" for s in STATUSES)
    if postgis:
        table = conn.dialect.identifier_preparer.format_table(issues)
        conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {_NAME}, ADD CONSTRAINT "
                             f"{_NAME} CHECK (status IS NULL OR status IN ({allowed}))")
        return True
    old = _definition(conn, issues, postgis=False)
    assert old is not None
    new = _IN_LIST.sub(f"status IN ({allowed})", old, count=1)
    version = int(conn.exec_driver_sql("PRAGMA schema_version").scalar() or 0)
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        conn.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND "
                             "name = ?", (new, issues.name))
        conn.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema = OFF")
    return True

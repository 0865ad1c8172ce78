"""Row-level security on PostGIS: the database itself keeps a scoped session inside its scope.

gridwatch filters every question by the user's scope in one place (the supervision
context). On PostgreSQL the database enforces it too, for whoever queries the tables
directly (a report tool, an analyst's SQL): :func:`enable_row_security` puts policies on
``issues``, ``issue_places`` and ``status_history`` that show a row only when its area in the
scope's layer is one of the scope's areas. The scope is read from the session variable
``gridwatch.scope`` (its text form, ``county:330402`` or ``*``), and the policies bind the
role :data:`SCOPED_ROLE`, which may read those tables and nothing else; a session of that
role with no scope set sees no row at all. :func:`scoped_connection` opens such a session.

The owner of the tables (the account gridwatch imports with) is not bound by the policies:
keep that account for imports and administrators, and give everyone else the scoped role.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlalchemy as sa

from gridwatch.errors import StoreError

if TYPE_CHECKING:
    from gridwatch.access.scope import Scope
    from gridwatch.store import Store

__all__ = ["SCOPED_ROLE", "SCOPE_VARIABLE", "enable_row_security", "scoped_connection"]

#: The database role whose sessions the policies bind.
SCOPED_ROLE = "gridwatch_scoped"
#: The session variable holding the scope's text.
SCOPE_VARIABLE = "gridwatch.scope"
_TABLES = ("issues", "issue_places", "status_history")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _require_postgis(store: Store) -> str:
    if not store.postgis or store.schema is None:
        raise StoreError(f"row-level security is for PostgreSQL stores; {store!r} is "
                         f"{store.backend} (its file's permissions are its access control)")
    return _quoted(store.schema)


def enable_row_security(store: Store, *, role: str = SCOPED_ROLE) -> None:
    """Create the scoped role (when missing), let it read the problem tables, and put the
    scope policies on them; safe to run again (after an upgrade, for a new schema).

    Raises
    ------
    StoreError
        For a store that is not PostgreSQL, or an account that may not create roles or
        policies (run it once as the tables' owner with CREATEROLE, or as a superuser).
    """
    schema = _require_postgis(store)
    who = _quoted(role)
    variable = f"current_setting('{SCOPE_VARIABLE}', true)"
    position = (f"(SELECT l.position FROM {schema}.layers l "
                f"WHERE l.name = split_part({variable}, ':', 1))")
    areas = f"string_to_array(substr({variable}, strpos({variable}, ':') + 1), ',')"
    places = (f"{variable} = '*' OR (to_jsonb({schema}.issue_places.*) ->> "
              f"('area_' || {position})) = ANY ({areas})")
    statements = [
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
        f"'{role.replace(chr(39), chr(39) * 2)}') THEN CREATE ROLE {who} NOLOGIN; END IF; "
        "END $$",
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"GRANT SELECT ON {schema}.layers TO {who}",
    ]
    for table in _TABLES:
        statements += [f"GRANT SELECT ON {schema}.{table} TO {who}",
                       f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY",
                       f"DROP POLICY IF EXISTS gridwatch_scope ON {schema}.{table}"]
    statements += [
        # a row of issue_places is the problem's placement: its area in each layer
        f"CREATE POLICY gridwatch_scope ON {schema}.issue_places AS PERMISSIVE FOR SELECT "
        f"TO {who} USING ({places})",
        f"CREATE POLICY gridwatch_scope ON {schema}.issues AS PERMISSIVE FOR SELECT "
        f"TO {who} USING (EXISTS (SELECT 1 FROM {schema}.issue_places q WHERE "
        f"q.issue_id = issues.issue_id))",
        f"CREATE POLICY gridwatch_scope ON {schema}.status_history AS PERMISSIVE FOR SELECT "
        f"TO {who} USING (EXISTS (SELECT 1 FROM {schema}.issue_places q WHERE "
        f"q.issue_id = status_history.issue_id))",
    ]
    try:
        with store.transaction() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    except sa.exc.DBAPIError as exc:
        raise StoreError(f"cannot set up row-level security in {store!r}: "
                         f"{' '.join(str(exc.orig).split())[:300]} (run it as the owner of "
                         "the tables with CREATEROLE, or as a superuser)") from exc


@contextmanager
def scoped_connection(store: Store, scope: Scope, *,
                      role: str = SCOPED_ROLE) -> Iterator[sa.Connection]:
    """A read transaction as the scoped role with ``scope`` set: every query in it, however
    written, sees only rows inside the scope."""
    _require_postgis(store)
    with store.engine.connect() as conn, conn.begin():
        conn.execute(sa.text(f"SET LOCAL ROLE {_quoted(role)}"))
        conn.execute(sa.text("SELECT set_config(:name, :scope, true)"),
                     {"name": SCOPE_VARIABLE, "scope": str(scope)})
        yield conn

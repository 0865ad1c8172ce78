"""Parallel writes to a PostgreSQL store: rows staged by several processes, one import.

An import placed on a Dask cluster need not send its rows back to be written: each worker
copies its placed partition (``COPY``, on its own connection) into an UNLOGGED staging table
of the store's schema, ``gw_stage_<token>_<k>`` (:func:`stage_records`), and sends back only
what the import compares and records: each row's issue_id, content hash, status, times and
the fields whose changes are kept (:data:`STAGED_COLUMNS`). The import itself
(:meth:`gridwatch.store.transactional.Store.import_records` of a :class:`StagedImport`) is its
one transaction, with the problems and their places upserted from the staging tables by the
database (:func:`upsert_staged`, :func:`insert_staged_places`). Whatever happens, the
caller drops the run's staging tables afterwards (:func:`drop_stages`): a failure on a worker
or in the import leaves the store's own tables as they were. A client killed before it could
drop them leaves them behind; the token begins with the time the import began, so the next
staged import drops those of imports begun more than a day before
(:func:`drop_abandoned_stages`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from gridwatch.errors import StoreError
from gridwatch.store import _tables as _s

if TYPE_CHECKING:
    from gridwatch.store.transactional import Store

__all__ = [
    "STAGED_COLUMNS",
    "StagedImport",
    "StagedPart",
    "drop_abandoned_stages",
    "drop_stages",
    "insert_staged_places",
    "new_token",
    "stage_records",
    "stage_table",
    "staged_import",
    "upsert_staged",
]

#: The prepared columns a staged import still needs in memory: for the status history
#: (status, report and closing times) and the kept changes (deadline, responsible unit).
STAGED_COLUMNS: tuple[str, ...] = ("status", "reported_at", "closed_at", "deadline",
                                   "responsible_unit")
_PREFIX = "gw_stage_"


#: A staged import begun longer ago than this has ended, however: its tables are abandoned.
ABANDONED_AFTER_S = 24 * 3600


def new_token(now: float | None = None) -> str:
    """A token naming one import's staging tables: when it began (the Unix time, 8 hex
    digits) and 4 random bytes.

    Examples
    --------
    >>> new_token(now=1_790_000_000)[:8], len(new_token())
    ('6ab13b80', 16)
    """
    began = int(time.time() if now is None else now)
    return f"{began:08x}{secrets.token_hex(4)}"


def token_began(token: str) -> float | None:
    """When the import of ``token`` began (Unix time), or None for a token that does not
    say (not one of :func:`new_token`)."""
    if len(token) != 16:
        return None
    try:
        return float(int(token[:8], 16))
    except ValueError:
        return None


def stage_table(token: str, part: int) -> str:
    """The staging table of partition ``part`` of the import ``token``."""
    return f"{_PREFIX}{token}_{part}"


@dataclass(frozen=True)
class StagedPart:
    """What a worker sends back for its staged partition, rows in the partition's order."""

    table: str
    ids: list[str]
    hashes: np.ndarray
    #: :data:`STAGED_COLUMNS` in stored form (:func:`gridwatch.store._tables.prepare`).
    issues: pd.DataFrame


@dataclass(frozen=True)
class StagedImport:
    """The staging tables of an import and its rows' ids, hashes and
    :data:`STAGED_COLUMNS`, in the import's order."""

    tables: list[str]
    ids: list[str]
    hashes: np.ndarray
    issues: pd.DataFrame

    def prepared(self) -> _s.Prepared:
        """The rows as the import compares them (no placement: it is in the tables).

        Raises
        ------
        StoreError
            When an issue_id is repeated (across partitions too).
        """
        ids = pd.Series(self.ids, dtype=object)
        repeated = ids[ids.duplicated()].unique().tolist()
        if repeated:
            raise StoreError("issue_id must be unique in the frame to store; repeated: "
                             + ", ".join(repr(v) for v in repeated[:5]))
        return _s.Prepared(ids=list(self.ids), issues=self.issues, areas={},
                           hashes=self.hashes)


def staged_import(parts: Sequence[StagedPart], order: np.ndarray) -> StagedImport:
    """Join the partitions' staged parts; ``order``: the positions, in the partitions'
    rows one after the other, of the rows in the import's order."""
    ids = np.asarray([i for part in parts for i in part.ids], dtype=object)[order]
    hashes = np.concatenate([part.hashes for part in parts])[order] if parts else \
        np.array([], dtype=object)
    issues = (pd.concat([part.issues for part in parts], ignore_index=True) if parts else
              pd.DataFrame(columns=list(STAGED_COLUMNS))).iloc[order].reset_index(drop=True)
    return StagedImport(tables=[part.table for part in parts], ids=ids.tolist(),
                        hashes=hashes, issues=issues)


def stage_records(store: Store, placed: pd.DataFrame, *, layers: list[str], table: str,
                  chunk_size: int = 5000) -> StagedPart:
    """Copy placed rows in stored form into a new UNLOGGED staging table of the store
    (committed on its own), and return what the import needs of them in memory.

    Parameters
    ----------
    store
        A PostgreSQL store (the process's own connection).
    placed
        As for :meth:`~gridwatch.store.transactional.Store.import_records`.
    layers
        The import's layer names, in the project's order.
    table
        The staging table (:func:`stage_table`).
    """
    from gridwatch.store.transactional import _column_chunks

    if not store.postgis:
        raise StoreError(f"staging tables are for PostgreSQL stores; {store!r} is not one")
    prep = _s.prepare(placed, layers)
    issues = store.table("issues")
    places = _s.places_table(sa.MetaData(), list(range(len(layers))))
    columns: dict[str, Any] = {c: prep.issues[c] for c in prep.issues.columns}
    columns["content_hash"] = prep.hashes
    for j, layer in enumerate(layers):
        for prefix, field_name, _ in _s.PLACE_FIELDS:
            columns[_s.place_column(prefix, j)] = prep.areas[layer][field_name]
    types = {**{c.name: c.type for c in issues.columns}, **{c.name: c.type for c in places.c}}
    staged = sa.Table(table, sa.MetaData(schema=store.schema),
                      *(sa.Column(name, types[name]) for name in columns),
                      prefixes=["UNLOGGED"])
    with store.engine.begin() as conn:
        staged.create(conn)
        for part in _column_chunks(columns, chunk_size):
            _s.copy_rows(conn, staged, part)
    return StagedPart(table=table, ids=prep.ids, hashes=prep.hashes,
                      issues=prep.issues[list(STAGED_COLUMNS)])


def _stage(conn: sa.Connection, name: str, schema: str | None) -> sa.Table:
    return sa.Table(name, sa.MetaData(schema=schema), autoload_with=conn)


def upsert_staged(conn: sa.Connection, issues: sa.Table, stages: Sequence[str],
                  written: sa.Table, *, seen_value: Any, run_id: int,
                  schema: str | None) -> None:
    """``INSERT ... ON CONFLICT (issue_id) DO UPDATE`` of the staged problems whose ids are
    in ``written`` (new and changed), with the PostGIS point, as the import from memory
    does."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    for name in stages:
        stage = _stage(conn, name, schema)
        names = [c.name for c in stage.columns if c.name in issues.c]
        point = sa.func.ST_SetSRID(sa.func.ST_MakePoint(stage.c.lon, stage.c.lat),
                                   sa.literal_column("4326"))
        chosen = sa.select(
            *(stage.c[c] for c in names),
            sa.literal(seen_value, issues.c.first_seen_at.type),
            sa.literal(seen_value, issues.c.last_seen_at.type),
            sa.literal(run_id, issues.c.last_run_id.type), point,
        ).where(stage.c.issue_id.in_(sa.select(written.c.issue_id)))
        targets = [*names, "first_seen_at", "last_seen_at", "last_run_id", "geom"]
        upsert = pg_insert(issues).from_select(targets, chosen)
        conn.execute(upsert.on_conflict_do_update(
            index_elements=[issues.c.issue_id],
            set_={c: upsert.excluded[c] for c in targets
                  if c not in ("issue_id", "first_seen_at")}))


def insert_staged_places(conn: sa.Connection, places: sa.Table, stages: Sequence[str],
                         written: sa.Table, positions: list[int], *,
                         schema: str | None) -> None:
    """One ``issue_places`` row per staged problem in ``written``: the staged columns of the
    import's layer ``j`` go to the columns of its position ``positions[j]`` in the store."""
    pairs = [(_s.place_column(prefix, j), _s.place_column(prefix, position))
             for j, position in enumerate(positions) for prefix, _, _ in _s.PLACE_FIELDS]
    for name in stages:
        stage = _stage(conn, name, schema)
        chosen = sa.select(stage.c.issue_id, *(stage.c[source] for source, _ in pairs)).where(
            stage.c.issue_id.in_(sa.select(written.c.issue_id)))
        conn.execute(places.insert().from_select(["issue_id", *(t for _, t in pairs)],
                                                 chosen))


def drop_abandoned_stages(store: Store, *, older_than_s: float = ABANDONED_AFTER_S,
                          now: float | None = None) -> list[str]:
    """Drop the staging tables of imports begun more than ``older_than_s`` seconds ago (their
    client was killed before it dropped them); returns their names. Tables whose name does
    not say when their import began are left alone."""
    moment = time.time() if now is None else now
    with store.engine.begin() as conn:
        names = sa.inspect(conn).get_table_names(schema=store.schema)
    old = set()
    for name in names:
        if not name.startswith(_PREFIX):
            continue
        token = name[len(_PREFIX):].rsplit("_", 1)[0]
        began = token_began(token)
        if began is not None and moment - began > older_than_s:
            old.add(token)
    return [name for token in sorted(old) for name in drop_stages(store, token)]


def drop_stages(store: Store, token: str) -> list[str]:
    """Drop every staging table of the import ``token`` (those of partitions whose results
    never came back too); returns their names."""
    with store.engine.begin() as conn:
        names = [name for name in sa.inspect(conn).get_table_names(schema=store.schema)
                 if name.startswith(f"{_PREFIX}{token}_")]
        prepare = conn.dialect.identifier_preparer
        for name in names:
            qualified = prepare.format_table(sa.Table(name, sa.MetaData(schema=store.schema)))
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {qualified}")
    return names

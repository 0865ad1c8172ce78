"""The store: placed problems, their status history and every import run, in SQLite or PostGIS.

One :class:`Store` per database URL. The embedded default is one SQLite file
(``data/gridwatch.sqlite`` under the working folder) in WAL mode; a ``postgresql+psycopg://``
URL stores in PostgreSQL, where the ``issues`` table also gets a PostGIS point with a GiST index.
SQLAlchemy Core is used throughout, so both backends run the same statements.

An import is one transaction: problems are upserted by ``issue_id`` (``INSERT ... ON CONFLICT DO
UPDATE``), a content hash decides whether a row is new, updated or unchanged, every status change
becomes a ``status_history`` row, and the areas a problem lies in go to ``issue_places`` (one row
per problem, four columns per layer). When anything fails half-way the store is left exactly as
it was and the failed run is recorded on its own. On PostgreSQL the rows of an import can also
be copied into staging tables by several processes first (:mod:`gridwatch.store.staging`)
and upserted from there in the same one transaction (:meth:`Store.import_records` of a
``StagedImport``).
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gridwatch.config import LayerSpec, default_store_url
from gridwatch.errors import StoreError
from gridwatch.schema import CANONICAL_COLUMNS, CLOSED_STATUSES, DATETIME_COLUMNS, LATER_COLUMNS
from gridwatch.store import _bulk
from gridwatch.store import _tables as _s
from gridwatch.store._statuses import status_check_current, widen_status_check
from gridwatch.store.analytical import AnalyticalCopy, CopyVersion, StagedVersion

if TYPE_CHECKING:
    from gridwatch.store.staging import StagedImport

__all__ = ["ImportCounts", "Store"]

#: The problems an import writes are staged in up to this many parts of at least
#: ``_STAGED_PART_ROWS`` rows (SQLite attaches at most 10 scratch databases to a connection).
_STAGED_PARTS = 4
_STAGED_PART_ROWS = 100_000
#: PostgreSQL: an import writing this many problems or more checks the references of its
#: places and history once, at its end, instead of row by row (Store._without_references).
_REFERENCES_CHECKED_AT_END_FROM = 100_000
#: Rows per batch of an import (a statement over a scratch table on SQLite, a COPY on
#: PostgreSQL); progress is reported after each.
DEFAULT_CHUNK_SIZE = 5000
#: Columns of ``Store.issues()`` before the per-layer placement columns.
ISSUE_COLUMNS: tuple[str, ...] = (*CANONICAL_COLUMNS, "location_flag", "grid_mismatch",
                                  *_s.PLACEMENT_COLUMNS, "first_seen_at", "last_seen_at")
_IN_CLAUSE = 2000  # ids per IN (...) list: well under SQLite's parameter limit
#: Fields of a problem whose every change between imports is kept (``issue_changes``).
CHANGE_FIELDS: tuple[str, ...] = ("deadline", "responsible_unit")

#: Called as ``(rows_done, rows_total)`` after each batch of an import.
ProgressCallback = Callable[[int, int], None]
#: Work on the analytical copy of an import, done while its rows are written:
#: ``(issues, history, run_id, observed_at) -> after``, given the copy's problems and history
#: after the run (as :meth:`Store.analytical` will read them; the history ids may still
#: change); ``after(copy)`` is called once that version of the copy is in place.
Alongside = Callable[[pd.DataFrame, pd.DataFrame, int, datetime],
                     Callable[[AnalyticalCopy], object] | None]


@dataclass(frozen=True)
class ImportCounts:
    """What one import did to the store.

    ``status_changes`` counts existing problems whose status changed; the first status of a new
    problem is also written to the history but counted in ``inserted``. ``older`` counts rows
    of an export older than what the store has already seen of them: they change nothing (the
    newer state stays current, and its history is not rewritten).
    """

    run_id: int
    inserted: int
    updated: int
    unchanged: int
    status_changes: int
    older: int = 0


class Store:
    """A problem store at a database URL.

    Parameters
    ----------
    url
        ``sqlite:///path/file.sqlite`` or ``postgresql+psycopg://user@host:5432/db``;
        ``None`` means ``data/gridwatch.sqlite`` under the working folder. A PostgreSQL schema
        can be chosen in the URL (``?options=-csearch_path%3Dmyschema,public``).
    schema
        PostgreSQL schema to keep the tables in (created when missing); not for SQLite.
    busy_timeout_s
        SQLite: how long a writer waits for another writer's lock before failing.

    Raises
    ------
    StoreError
        For a bad URL, a missing driver, an unreachable server, or a store written by an
        incompatible gridwatch version. The message names the URL without its password.

    Examples
    --------
    >>> with Store("sqlite://") as store:
    ...     len(store.issues())
    0
    """

    def __init__(self, url: str | None = None, *, schema: str | None = None,
                 busy_timeout_s: float = 30.0) -> None:
        self.url = url if url is not None else default_store_url()
        self._shown = _s.safe_url(self.url)
        self._engine = _s.create_engine(self.url, busy_timeout_s=busy_timeout_s)
        self.backend = self._engine.dialect.name
        if schema is not None and self.backend != "postgresql":
            self._engine.dispose()
            raise StoreError(f"schema={schema!r} is only for PostgreSQL stores; "
                             f"{self._shown!r} is {self.backend}")
        self.postgis = self.backend == "postgresql"
        try:
            self.schema, self._t = self._open(schema)
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise StoreError(f"cannot open the store at {self._shown!r}: "
                             f"{self._reason(exc)}") from exc
        except StoreError:
            self._engine.dispose()
            raise

    # --- opening ----------------------------------------------------------------------------

    def _open(self, schema: str | None) -> tuple[str | None, dict[str, sa.Table]]:
        existing = self._open_existing(schema)
        if existing is not None:
            return existing
        with self._write() as conn:
            if self.postgis:
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
                if schema is not None:
                    conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                else:
                    # Qualify tables with the schema the URL's search_path points at, so a
                    # same-named table further along the path is never mistaken for ours.
                    schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
                    if schema is None:
                        raise StoreError(f"the search_path of {self._shown!r} names no "
                                         "existing schema; create it first")
            tables = _s.build_tables(sa.MetaData(schema=schema), postgis=self.postgis)
            tables["meta"].metadata.create_all(conn)
            _s.protect_audit(conn, tables["audit"], postgis=self.postgis)
            meta = tables["meta"]
            found = conn.execute(sa.select(meta.c.value)
                                 .where(meta.c.key == "schema_version")).scalar()
            if found is None:
                conn.execute(meta.insert().values(key="schema_version",
                                                  value=str(_s.SCHEMA_VERSION)))
            elif found == "1":
                _migrate_from_v1(conn, tables)
            elif found != str(_s.SCHEMA_VERSION):
                raise StoreError(f"the store at {self._shown!r} has schema version {found}; "
                                 f"this gridwatch reads version {_s.SCHEMA_VERSION}")
            _add_later_columns(conn, tables["issues"])
            widen_status_check(conn, tables["issues"], postgis=self.postgis)
            missing = _s.missing_issue_columns(conn, tables["issues"])
            if missing:  # a store made before the placement columns: add them (empty)
                _s.add_issue_columns(conn, tables["issues"], missing)
        return schema, tables

    def _open_existing(self, schema: str | None,
                       ) -> tuple[str | None, dict[str, sa.Table]] | None:
        """Open a store whose tables exist in a read transaction, so opening never waits for
        a writer (readers of a SQLite store in WAL mode never wait); ``None`` when the tables
        must be created first (a write transaction, see :meth:`_open`)."""
        with self._engine.connect() as conn, conn.begin():
            if self.postgis and schema is None:
                schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
                if schema is None:
                    return None
            tables = _s.build_tables(sa.MetaData(schema=schema), postgis=self.postgis)
            inspector = sa.inspect(conn)
            if not all(inspector.has_table(table.name, schema=schema)
                       for table in tables.values()):
                return None
            present = {c["name"] for c in inspector.get_columns("issues", schema=schema)}
            if not {*LATER_COLUMNS, *_s.PLACEMENT_COLUMNS} <= present:
                return None  # added in a write transaction
            if not status_check_current(conn, tables["issues"], postgis=self.postgis):
                return None  # widened in a write transaction
            if self.postgis and not conn.execute(sa.text(
                    "SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).scalar():
                return None
            meta = tables["meta"]
            found = conn.execute(sa.select(meta.c.value)
                                 .where(meta.c.key == "schema_version")).scalar()
        if found is None or found == "1":  # "1": migrated in a write transaction
            return None
        if found != str(_s.SCHEMA_VERSION):
            raise StoreError(f"the store at {self._shown!r} has schema version {found}; "
                             f"this gridwatch reads version {_s.SCHEMA_VERSION}")
        return schema, tables

    @contextmanager
    def _write(self, *, references_checked: bool = True) -> Iterator[sa.Connection]:
        """A write transaction, committed on success, one writer at a time: ``BEGIN
        IMMEDIATE`` on SQLite; on PostgreSQL a transaction-level advisory lock per schema,
        taken first, so concurrent imports (and the first creation of the tables) run one
        after the other and each reads what the previous one committed.

        ``references_checked=False`` (an import): SQLite does not look up the problem of
        every row of history and places it writes (a third of the time of those writes at a
        million rows); the import writes them only for problems it writes or that are stored,
        and deletes no problem (tests check the store's references after imports).
        PostgreSQL checks them still."""
        unchecked = not references_checked and not self.postgis
        with self._engine.connect().execution_options(**{_s.WRITE_OPTION: True}) as conn:
            if unchecked:  # outside a transaction, where SQLite takes it into account
                _sqlite_pragma(conn, "foreign_keys = OFF")
                # the commit does not copy the log into the database: the import does that
                # after it, beside its other work (see _checkpoint_soon)
                _sqlite_pragma(conn, "wal_autocheckpoint = 0")
            try:
                with conn.begin():
                    if self.postgis:
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock("
                                             "hashtext('gridwatch:' || current_schema()))"))
                    yield conn
            finally:
                if unchecked:  # first: what follows may begin a transaction
                    try:
                        _sqlite_pragma(conn, "foreign_keys = ON")
                        _sqlite_pragma(conn, f"wal_autocheckpoint = {_WAL_AUTOCHECKPOINT}")
                    except sqlite3.Error:  # never handed out again without its checks
                        conn.invalidate()
                if not self.postgis:  # the scratch databases of bulk writes (store._bulk)
                    _bulk.release(conn)

    def table(self, name: str) -> sa.Table:
        """The SQLAlchemy table ``name`` of this store (for the ledger and one's own queries)."""
        return self._t[name]

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction of its own (one writer at a time, as imports), committed on
        success and rolled back on any error."""
        with self._write() as conn:
            yield conn

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, DBAPIError) and exc.orig is not None:
            text = str(exc.orig)
            if "extension" in text and "postgis" in text:
                text += (" (PostGIS must be installed on the server, e.g. the Debian package "
                         "postgresql-15-postgis-3, and CREATE EXTENSION postgis run once by a "
                         "superuser)")
        elif isinstance(exc, StoreError):
            text = str(exc)
        else:
            text = f"{type(exc).__name__}: {exc}"
        password = sa.engine.make_url(self.url).password
        if password:
            text = text.replace(str(password), "***")
        text = " ".join(text.split())
        return text if len(text) <= 500 else text[:497] + "..."

    # --- context manager ----------------------------------------------------------------------

    def close(self) -> None:
        """Release the store's connections."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine, for read-only queries of one's own."""
        return self._engine

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A write transaction (one writer at a time), committed on success."""
        with self._write() as conn:
            yield conn

    def __repr__(self) -> str:
        return f"Store({self._shown!r})"

    # --- import -----------------------------------------------------------------------------

    def import_records(
        self,
        placed: pd.DataFrame | StagedImport,
        *,
        layers: Sequence[LayerSpec] | Sequence[tuple[str, str]],
        files: Sequence[str],
        rows_in: int,
        rejected: int,
        observed_at: datetime | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: ProgressCallback | None = None,
        alongside: Alongside | None = None,
    ) -> ImportCounts:
        """Store one run's placed problems in one transaction.

        Parameters
        ----------
        placed
            Output of :func:`gridwatch.placing.assign.place_records`: the canonical columns (missing
            ones are stored empty), WGS84 ``lon``/``lat``, ``location_flag``, ``grid_mismatch``,
            ``location_precision_m``, ``geocode_source``, ``geocode_score`` (when placed
            from an address; else missing), ``address_offset_m`` (when its address disagrees
            with its coordinates)
            and per layer ``<layer>_id`` (plus ``in_<layer>``, ``near_<layer>``,
            ``<layer>_dist_m`` where the frame has them). ``issue_id`` must be unique.
            Or, for a PostgreSQL store, such rows already copied into its staging tables
            (:func:`gridwatch.store.staging.stage_records`, e.g. by the workers of a Dask
            cluster, in parallel): the same transaction and the same stored result, with the
            problems and their places upserted from the staging tables by the database
            instead of sent by this process. The caller drops the staging tables
            (:func:`gridwatch.store.staging.drop_stages`).
        layers
            The layers of the project (``LayerSpec`` or ``(name, kind)`` pairs), in order.
        files
            The input files of the run.
        rows_in, rejected
            Row accounting of the run (``accepted`` is ``len(placed)``).
        observed_at
            When the export was taken; the history's ``seen_at``. Default now. A naive value
            is read as UTC.
        chunk_size
            Rows per batch.
        progress
            Called as ``(rows_done, rows_total)`` after each batch (from another thread
            when ``alongside`` is given).
        alongside
            Work on the analytical copy after the run (deriving what questions need), done
            while the rows are being written (see :data:`Alongside`); an error there only
            warns. Not done for a staged import, nor without a copy.

        Returns
        -------
        ImportCounts

        Raises
        ------
        StoreError
            When the import fails; nothing of it is kept, the failed run is recorded with the
            message, and the original error is chained.
        """
        layer_kinds = _layer_kinds(layers)
        if isinstance(placed, pd.DataFrame):
            # let go of the rows once they are in stored form (a caller that handed them over
            # has no reference left: at a million problems that is a few hundred MB)
            handed = [placed]
            del placed
            return self._import_run(lambda: _s.prepare(handed.pop(), list(layer_kinds)), (),
                                    layer_kinds=layer_kinds, files=files, rows_in=rows_in,
                                    accepted=len(handed[0]), rejected=rejected,
                                    observed_at=observed_at, chunk_size=chunk_size,
                                    progress=progress, alongside=alongside)
        if not self.postgis:
            raise StoreError(f"staged imports are for PostgreSQL stores; {self._shown!r} is "
                             f"{self.backend}")
        return self._import_run(placed.prepared, placed.tables, layer_kinds=layer_kinds,
                                files=files, rows_in=rows_in, accepted=len(placed.ids),
                                rejected=rejected, observed_at=observed_at,
                                chunk_size=chunk_size, progress=progress, alongside=alongside)

    def _import_run(self, prepare: Callable[[], _s.Prepared], stages: Sequence[str], *,
                    layer_kinds: dict[str, str | None], files: Sequence[str], rows_in: int,
                    accepted: int, rejected: int, observed_at: datetime | None,
                    chunk_size: int, progress: ProgressCallback | None,
                    alongside: Alongside | None = None) -> ImportCounts:
        """One import run (see :meth:`import_records`): the rows of ``prepare()``, written
        from memory, or from the staging tables ``stages`` (then ``prepare()`` holds only
        the columns of :data:`gridwatch.store.staging.STAGED_COLUMNS`)."""
        if chunk_size < 1:
            raise StoreError(f"chunk_size must be a positive number of rows, got {chunk_size!r}")
        started = _now()
        seen = _as_utc(observed_at) if observed_at is not None else started
        run = {"started_at": started, "observed_at": seen, "files": json.dumps(list(files),
               ensure_ascii=False), "rows_in": int(rows_in), "accepted": int(accepted),
               "rejected": int(rejected)}
        beside: _Beside | None = None
        try:
            prepared = prepare()
            with self._write(references_checked=False) as conn:
                previous = self._last_run_id(conn)
                counts, written, writes = self._import(conn, prepared, layer_kinds, run, seen,
                                                       chunk_size, progress, stages)
                beside = self._beside(writes, counts.run_id, previous, written, alongside)
        except Exception as exc:
            if beside is not None and beside.staged is not None:  # the commit failed
                AnalyticalCopy.discard(beside.staged)
            message = self._reason(exc)
            try:
                with self._write() as conn:
                    conn.execute(self._t["runs"].insert().values(
                        **run, finished_at=_now(), ok=False, message=message))
            except SQLAlchemyError as record_exc:
                message += f" (the failed run could not be recorded: {self._reason(record_exc)})"
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"import into {self._shown!r} failed and was rolled back: "
                             f"{message}") from exc
        checkpoint = self._checkpoint_soon()
        try:
            self._refresh_copy(counts.run_id, previous, written, beside)
        finally:
            if checkpoint is not None:
                checkpoint.join()
        return counts

    def _checkpoint_soon(self) -> threading.Thread | None:
        """SQLite: copy the write-ahead log of the import just committed into the database
        file on a thread of its own (the import's connection does not: at a million problems
        that is the whole store written again and synced, a second or more, which then runs
        beside refreshing the analytical copy). A checkpoint that cannot finish (a reader
        holds an older snapshot) leaves the rest to SQLite's next one, as its own would."""
        if self.postgis or self._store_file() is None:
            return None

        def checkpoint() -> None:
            try:
                with self._engine.connect() as conn:
                    _sqlite_pragma(conn, "wal_checkpoint(PASSIVE)")
            except (SQLAlchemyError, sqlite3.Error) as exc:  # committed: only warn
                warnings.warn(f"the write-ahead log of {self._shown!r} was not copied into "
                              f"the database after the import ({self._reason(exc)}); SQLite "
                              "does it at its next checkpoint", RuntimeWarning, stacklevel=2)

        worker = threading.Thread(target=checkpoint, name="gridwatch-checkpoint")
        worker.start()
        return worker

    def _beside(self, writes: _Writes, run_id: int, previous: int,
                written: _Written, alongside: Alongside | None) -> _Beside | None:
        """Run ``writes`` (the import's statements, on the transaction's connection) and, when
        asked, at the same time on this thread: the frames of the analytical copy after the
        run, and ``alongside`` on them. The statements spend their time in the database
        (SQLite and psycopg let other threads run meanwhile), so the two take about as long
        as the longer one on two cores. A failure of the statements fails the import; of the
        rest, only warns (the copy is then built after the commit, as without ``alongside``)."""
        copy = self.analytical_copy
        if alongside is None or copy is None or written.staged:
            writes()
            return None
        # the store as it will be once committed (a first run makes it who it is)
        copy = AnalyticalCopy(copy.folder, store_id=written.identity)
        failed: list[BaseException] = []

        def write() -> None:
            try:
                writes()
            except BaseException as exc:  # re-raised on the calling thread
                failed.append(exc)

        worker = threading.Thread(target=write, name="gridwatch-store-write")
        worker.start()
        beside: _Beside | None = None
        try:
            frames = self._copy_frames(copy, run_id, previous, written, kinds=written.kinds)
            if frames is not None:
                after = alongside(frames.issues, frames.history, run_id, written.seen)
                # the copy's files too, put in use once the rows are committed
                beside = _Beside(frames=frames, after=after, staged=copy.stage(
                    run_id, frames.issues, frames.history, layers=frames.layers))
        except Exception as exc:  # what is derived is derived again later, from the copy
            warnings.warn(f"what the questions derive could not be prepared while the "
                          f"import was written ({type(exc).__name__}: {exc}); it is derived "
                          "after it", RuntimeWarning, stacklevel=4)
        except BaseException:  # Ctrl-C: the statements stop at their next batch
            writes.stop.set()
            if beside is not None and beside.staged is not None:
                copy.discard(beside.staged)
            raise
        finally:
            _join(worker, writes.stop)
        if failed:
            if beside is not None and beside.staged is not None:
                copy.discard(beside.staged)
            raise failed[0]
        return beside

    def _import(self, conn: sa.Connection, prep: _s.Prepared,
                layer_kinds: dict[str, str | None], run: dict[str, Any], seen: datetime,
                chunk_size: int, progress: ProgressCallback | None, stages: Sequence[str],
                ) -> tuple[ImportCounts, _Written, _Writes]:
        """Compare the rows with the store and record the run and its layers; returns the
        counts, what is written, and the statements that write it (run by the caller)."""
        t = self._t
        issues_table = t["issues"]
        empty_before = conn.execute(
            sa.select(sa.func.count()).select_from(issues_table)).scalar_one() == 0
        run_id = int(conn.execute(t["runs"].insert().values(**run, ok=False, message="running")
                                  .returning(t["runs"].c.run_id)).scalar_one())
        old = self._existing(conn, prep.ids).reindex(prep.ids)
        known = old["content_hash"].notna().to_numpy()
        # an export older than what the store has seen of a problem never overwrites it
        last_seen = _s.utc_times(old["last_seen_at"])
        older = known & (last_seen > pd.Timestamp(seen).tz_localize("UTC")).to_numpy(
            dtype=bool, na_value=False)
        same = known & ~older & (old["content_hash"].to_numpy() == prep.hashes)
        changed = known & ~same & ~older
        old_status = old["status"].to_numpy(dtype=object)
        status = prep.issues["status"].to_numpy(dtype=object)
        moved = changed & (pd.Series(old_status).fillna("\x00").to_numpy()
                           != pd.Series(status).fillna("\x00").to_numpy())
        write = ~same & ~older
        total, done = len(prep.ids), 0

        sqlite = self.backend == "sqlite"
        seen_value = _s.driver_values(np.array([seen], dtype="datetime64[us]"), sqlite=sqlite)[0]
        written_ids = [i for i, keep in zip(prep.ids, write, strict=True) if keep]

        stop = threading.Event()  # set when the caller gives up (Ctrl-C while deriving)

        def tick(rows: int) -> None:
            nonlocal done
            done += rows
            if progress is not None:
                progress(done, total)
            if stop.is_set():
                raise StoreError("the import was stopped")

        changed_ids = [i for i, c in zip(prep.ids, changed, strict=True) if c]
        # read before the upsert overwrites them
        before = self._changed_before(conn, changed_ids) if changed_ids else None
        unchanged_ids = [i for i, keep in zip(prep.ids, same, strict=True) if keep]
        positions = self._write_layers(conn, layer_kinds)
        history = self._history_rows(prep, run_id, seen, ~known, moved, old_status)
        # the ids the database gives the history rows when it numbers them on from its largest
        # (SQLite does; the copy takes the ids given, read back after the commit)
        largest = conn.execute(sa.select(sa.func.max(t["status_history"].c.id))).scalar()
        counts = ImportCounts(run_id=run_id, inserted=int((~known).sum()),
                              updated=int(changed.sum()), unchanged=int(same.sum()),
                              status_changes=int(moved.sum()), older=int(older.sum()))
        written = _Written(prep=prep, write=write, touched=unchanged_ids, seen=seen,
                           empty_before=bool(empty_before), history=history,
                           staged=bool(stages), kinds=self._layer_kinds(conn),
                           history_first_id=int(largest or 0) + 1,
                           identity=self._identity(conn))

        history_rows = {**history, "seen_at": [seen_value] * len(history["issue_id"])}
        later: dict[str, Callable[[], tuple[sa.Table, int]]] = {}

        def stage_the_rest() -> None:
            # SQLite: the scratch tables of the places and the history are made and written
            # on threads of their own while the problems are copied into the store (the
            # driver and SQLite let other threads run)
            if self.postgis:
                return
            if write.any():
                later["places"] = self._stage_soon(
                    conn, lambda: self._places_columns(prep, write, positions), "issue_id")
            if len(history_rows["issue_id"]):
                later["history"] = self._stage_soon(conn, lambda: history_rows, "issue_id")

        def write_all() -> None:
            if stages:
                from gridwatch.store.staging import upsert_staged

                staged_ids = _s.temp_table(conn, "gw_written_in", [issues_table.c.issue_id])
                self._insert_rows(conn, staged_ids, {"issue_id": written_ids}, chunk_size)
                upsert_staged(conn, issues_table, stages, staged_ids, seen_value=seen_value,
                              run_id=run_id, schema=self.schema)
                tick(len(written_ids))
            else:
                rows = _rows(prep.issues, write)
                # arrays here; each batch is converted to driver values as it is written
                # (converting every column at once held several GB at 1,000,000 problems)
                columns: dict[str, Any] = {c: rows[c] for c in rows.columns}
                columns["content_hash"] = prep.hashes[write]
                for name in ("first_seen_at", "last_seen_at"):
                    columns[name] = [seen_value] * len(rows)
                columns["last_run_id"] = [run_id] * len(rows)
                self._upsert_issues(conn, columns, chunk_size, tick, then=stage_the_rest)
                del rows, columns
            self._touch(conn, unchanged_ids, seen_value, chunk_size, tick)
            unchecked = self._without_references(conn, len(written_ids))
            if stages:
                self._replace_places(conn, prep, changed, chunk_size)
                if written_ids:
                    from gridwatch.store.staging import insert_staged_places

                    places = _s.places_table(sa.MetaData(schema=self.schema),
                                             [positions[layer] for layer in layer_kinds])
                    insert_staged_places(conn, places, stages, staged_ids,
                                         [positions[layer] for layer in layer_kinds],
                                         schema=self.schema)
            else:
                self._write_places(conn, prep, write, changed, positions, chunk_size,
                                   staged=later.get("places"))
            if "history" in later:
                rows, length = later["history"]()
                self._insert_staged(conn, t["status_history"], rows, list(history_rows),
                                    length, chunk_size)
            else:
                self._insert_rows(conn, t["status_history"], history_rows, chunk_size)
            self._restore_references(conn, unchecked)
            self._write_changes(conn, prep, run_id, changed, before, seen_value, chunk_size)
            runs = t["runs"]
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(
                inserted=counts.inserted, updated=counts.updated, unchanged=counts.unchanged,
                status_changes=counts.status_changes, finished_at=_now(), ok=True,
                message=None))

        return counts, written, _Writes(write_all, stop)

    def _without_references(self, conn: sa.Connection, rows: int
                            ) -> list[tuple[str, str, str]]:
        """PostgreSQL, an import writing at least :data:`_REFERENCES_CHECKED_AT_END_FROM`
        problems: drop the foreign keys of the places and the history for the transaction, so
        the rows are not checked one by one as they are copied (PostgreSQL's advice for bulk
        loads; at a million problems about 10 s of the import's 55). Returns what was
        dropped, as (table, constraint, definition), for :meth:`_restore_references`, which
        adds them again before the commit and so checks every row at once. Dropping them
        locks the two tables and ``issues`` until the commit; a role that does not own the
        tables cannot, and its import checks each row as before (nothing is dropped)."""
        if not self.postgis or rows < _REFERENCES_CHECKED_AT_END_FROM:
            return []
        prepare = conn.dialect.identifier_preparer
        names = [prepare.format_table(self._t[name]) for name in ("issue_places",
                                                                  "status_history")]
        # the table as regclass prints it: quoted and qualified as this connection needs
        dropped = [(str(table), str(name), str(definition)) for table, name, definition
                   in conn.execute(sa.text(
                       "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                       "FROM pg_constraint WHERE contype = 'f' "
                       "AND conrelid = ANY(CAST(:tables AS regclass[]))"),
                       {"tables": names})]
        try:
            with conn.begin_nested():
                for table, name, _definition in dropped:
                    conn.execute(sa.text(f"ALTER TABLE {table} DROP CONSTRAINT "
                                         f"{prepare.quote(name)}"))
        except DBAPIError:  # e.g. not the tables' owner: each row is checked as it comes
            return []
        return dropped

    @staticmethod
    def _restore_references(conn: sa.Connection, dropped: list[tuple[str, str, str]]) -> None:
        """Add the foreign keys :meth:`_without_references` dropped, as they were; PostgreSQL
        checks every row of the tables against them, in one query each."""
        prepare = conn.dialect.identifier_preparer
        for table, name, definition in dropped:
            conn.execute(sa.text(f"ALTER TABLE {table} ADD CONSTRAINT {prepare.quote(name)} "
                                 f"{definition}"))

    def _existing(self, conn: sa.Connection, ids: list[str]) -> pd.DataFrame:
        """Hash, status and last sighting of the stored problems among ``ids``, indexed by
        issue_id."""
        issues = self._t["issues"]
        query = sa.select(issues.c.issue_id, issues.c.content_hash, issues.c.status,
                          issues.c.last_seen_at)
        stored = conn.execute(sa.select(sa.func.count()).select_from(issues)).scalar_one()
        if len(ids) * 4 >= stored:  # a large import: one scan beats many IN lists
            rows = _s.fetch(conn, query)
        else:
            rows = []
            for chunk in _chunks(ids, _IN_CLAUSE):
                rows += conn.execute(query.where(issues.c.issue_id.in_(chunk))).all()
        frame = _frame(rows, ("issue_id", "content_hash", "status", "last_seen_at"))
        return frame.set_index("issue_id")

    @staticmethod
    def _history_rows(prep: _s.Prepared, run_id: int, seen: datetime, new: np.ndarray,
                      moved: np.ndarray, old_status: np.ndarray) -> dict[str, Any]:
        """The history rows of the run, in the order they are written: one for each new
        problem's first status and each status change (``seen_at`` is the run's).

        ``changed_at`` is closed_at for closed/verified problems when known, reported_at for a
        new problem's first status, else the run's observed time.
        """
        rows = new | moved
        issues = prep.issues
        status = issues["status"].to_numpy(dtype=object)
        closed = issues["closed_at"].to_numpy()
        reported = issues["reported_at"].to_numpy()
        changed = np.full(len(issues), np.datetime64("NaT"), dtype="datetime64[us]")
        use_closed = np.isin(status, list(CLOSED_STATUSES)) & ~np.isnat(closed)
        changed[use_closed] = closed[use_closed]
        use_reported = new & ~use_closed & ~np.isnat(reported)
        changed[use_reported] = reported[use_reported]
        changed[np.isnat(changed)] = np.datetime64(seen, "us")
        count = int(rows.sum())
        columns: dict[str, Any] = {
            "issue_id": np.asarray(prep.ids, dtype=object)[rows],
            "run_id": [run_id] * count,
            "previous_status": np.where(new, np.array(None), old_status)[rows],
            "status": status[rows],
            "changed_at": changed[rows],
        }
        order = _id_order(columns["issue_id"])  # as _insert_rows writes them
        if order is not None:
            columns = {name: (values[order] if isinstance(values, np.ndarray) else values)
                       for name, values in columns.items()}
        return columns

    def _write_changes(self, conn: sa.Connection, prep: _s.Prepared, run_id: int,
                       changed: np.ndarray, old: pd.DataFrame | None, seen_value: Any,
                       chunk_size: int) -> None:
        """A row of ``issue_changes`` for each change of a known problem's deadline or
        responsible unit (:data:`CHANGE_FIELDS`) between imports; ``old`` holds the values
        stored before (:meth:`_changed_before`, read only for the problems whose content
        changed)."""
        if old is None or not len(old):
            return
        rows = np.flatnonzero(changed)
        new = prep.issues.iloc[rows]
        ids = np.asarray(prep.ids, dtype=object)[rows]
        before = old.reindex(ids)
        out: dict[str, list[Any]] = {"issue_id": [], "field": [], "old_value": [],
                                     "new_value": []}
        for name in CHANGE_FIELDS:
            if name == "deadline":
                was = _iso_utc(_s.utc_times(before[name].to_numpy(dtype=object)))
                now = _iso_utc(pd.Series(pd.to_datetime(new[name].to_numpy(), utc=True)))
            else:
                was = pd.Series(before[name].to_numpy(dtype=object), dtype=object)
                now = pd.Series(new[name].astype(object).to_numpy(), dtype=object)
            was_t = was.where(was.notna(), None).to_numpy(dtype=object)
            now_t = now.where(now.notna(), None).to_numpy(dtype=object)
            differs = np.array([a != b for a, b in zip(was_t, now_t, strict=True)], dtype=bool)
            for k in np.flatnonzero(differs):
                out["issue_id"].append(ids[k])
                out["field"].append(name)
                out["old_value"].append(was_t[k])
                out["new_value"].append(now_t[k])
        count = len(out["issue_id"])
        if count:
            self._insert_rows(conn, self._t["issue_changes"], {
                **out, "run_id": [run_id] * count, "seen_at": [seen_value] * count},
                chunk_size)

    def _changed_before(self, conn: sa.Connection, ids: list[str]) -> pd.DataFrame:
        """The stored :data:`CHANGE_FIELDS` of the problems ``ids`` (indexed by issue_id)."""
        issues = self._t["issues"]
        query = sa.select(issues.c.issue_id, *(issues.c[f] for f in CHANGE_FIELDS))
        rows: list[Any] = []
        for chunk in _chunks(ids, _IN_CLAUSE):
            rows += conn.execute(query.where(issues.c.issue_id.in_(chunk))).all()
        return _frame(rows, ("issue_id", *CHANGE_FIELDS)).set_index("issue_id")

    def _upsert_issues(self, conn: sa.Connection, columns: dict[str, list[Any]],
                       chunk_size: int, tick: Callable[[int], None],
                       then: Callable[[], None] | None = None) -> None:
        """``INSERT ... ON CONFLICT (issue_id) DO UPDATE`` of new and changed problems.

        SQLite runs it per batch over the rows staged in a scratch table (:meth:`_stage`);
        PostgreSQL copies the rows into a temporary table (COPY is many times faster than
        row-by-row statements there) and upserts from it in one statement, which also sets the
        PostGIS point. ``then`` is called once the rows are staged, before they are written.
        """
        issues = self._t["issues"]
        keep = {"issue_id", "first_seen_at"}
        if not self.postgis:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            for k, staged_part in enumerate(self._stage_parts(conn, columns, "issue_id")):
                rows, length = staged_part()
                if k == 0 and then is not None:
                    then()
                chosen = sa.select(*(rows.c[c] for c in columns)).where(_in_range(rows))
                stmt = sqlite_insert(issues).from_select(list(columns), chosen)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[issues.c.issue_id],
                    set_={c: stmt.excluded[c] for c in columns if c not in keep})
                self._run_in_ranges(conn, stmt, length, chunk_size, tick)
            return
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        staged = _s.temp_table(conn, "gw_issues_in", [issues.c[c] for c in columns])
        for part in _column_chunks(columns, chunk_size):
            _s.copy_rows(conn, staged, part)
            tick(len(part["issue_id"]))
        point = sa.func.ST_SetSRID(sa.func.ST_MakePoint(staged.c.lon, staged.c.lat),
                                   sa.literal_column("4326"))
        upsert = pg_insert(issues).from_select(
            [*columns, "geom"], sa.select(*(staged.c[c] for c in columns), point))
        conn.execute(upsert.on_conflict_do_update(
            index_elements=[issues.c.issue_id],
            set_={c: upsert.excluded[c] for c in [*columns, "geom"] if c not in keep}))
        if then is not None:
            then()

    def _touch(self, conn: sa.Connection, ids: list[str], seen_value: Any, chunk_size: int,
               tick: Callable[[int], None]) -> None:
        """Set ``last_seen_at`` of problems seen again unchanged."""
        issues = self._t["issues"]
        if not self.postgis:
            if not ids:
                return
            rows = self._stage(conn, {"issue_id": ids}, "issue_id")
            stmt = issues.update().where(issues.c.issue_id.in_(
                sa.select(rows.c.issue_id).where(_in_range(rows)))).values(
                last_seen_at=sa.literal(seen_value, sa.Text))
            self._run_in_ranges(conn, stmt, len(ids), chunk_size, tick)
            return
        staged = _s.temp_table(conn, "gw_seen_in", [issues.c.issue_id])
        for part in _column_chunks({"issue_id": ids}, chunk_size):
            _s.copy_rows(conn, staged, part)
            tick(len(part["issue_id"]))
        conn.execute(issues.update().where(issues.c.issue_id == staged.c.issue_id)
                     .values(last_seen_at=seen_value))

    def _insert_rows(self, conn: sa.Connection, table: sa.Table, columns: dict[str, Any],
                     chunk_size: int) -> None:
        if not self.postgis:
            length = len(next(iter(columns.values()))) if columns else 0
            if length:
                self._insert_staged(conn, table, self._stage(conn, columns, "issue_id"),
                                    list(columns), length, chunk_size)
            return
        for part in _column_chunks(columns, chunk_size):
            _s.copy_rows(conn, table, part)

    def _insert_staged(self, conn: sa.Connection, table: sa.Table, rows: sa.Table,
                       names: list[str], length: int, chunk_size: int) -> None:
        """SQLite: append the rows of a scratch table to ``table``, in rowid order."""
        self._run_in_ranges(conn, table.insert().from_select(
            names, sa.select(*(rows.c[c] for c in names)).where(_in_range(rows))
            .order_by(sa.literal_column("rowid"))), length, chunk_size, None)

    def _write_places(self, conn: sa.Connection, prep: _s.Prepared, write: np.ndarray,
                      replaced: np.ndarray, positions: dict[str, int], chunk_size: int,
                      staged: Callable[[], tuple[sa.Table, int]] | None = None) -> None:
        """Replace the placement of the problems written: delete what changed problems had,
        then one row per written problem with the columns of the layers this import placed
        (a layer of the store it did not place stays empty, as for a new problem). On SQLite,
        ``staged`` gives their scratch table when it was started before
        (:meth:`_stage_soon` of :meth:`_places_columns`)."""
        self._replace_places(conn, prep, replaced, chunk_size)
        if not write.any():
            return
        table = _s.places_table(sa.MetaData(schema=self.schema),
                                [positions[layer] for layer in prep.areas if layer in positions])
        if staged is None:
            self._insert_rows(conn, table, self._places_columns(prep, write, positions),
                              chunk_size)
        else:
            rows, length = staged()
            self._insert_staged(conn, table, rows, [c.name for c in rows.columns], length,
                                chunk_size)

    @staticmethod
    def _places_columns(prep: _s.Prepared, write: np.ndarray, positions: dict[str, int]
                        ) -> dict[str, Any]:
        """The ``issue_places`` columns of the problems written."""
        columns: dict[str, Any] = {"issue_id": np.asarray(prep.ids, dtype=object)[write]}
        for layer in (layer for layer in prep.areas if layer in positions):
            frame = _rows(prep.areas[layer], write)
            for prefix, field_name, _ in _s.PLACE_FIELDS:
                values = frame[field_name]
                if values.notna().any():  # an all-empty column is left to its default, NULL
                    columns[_s.place_column(prefix, positions[layer])] = values
        return columns

    def _replace_places(self, conn: sa.Connection, prep: _s.Prepared, replaced: np.ndarray,
                        chunk_size: int) -> None:
        """Delete the placement of the problems whose content changed (written anew)."""
        base = self._t["issue_places"]
        replaced_ids = [i for i, keep in zip(prep.ids, replaced, strict=True) if keep]
        if self.postgis and replaced_ids:
            staged = _s.temp_table(conn, "gw_replaced_in", [base.c.issue_id])
            self._insert_rows(conn, staged, {"issue_id": replaced_ids}, chunk_size)
            conn.execute(base.delete().where(base.c.issue_id.in_(sa.select(staged.c.issue_id))))
        elif replaced_ids:
            rows = self._stage(conn, {"issue_id": replaced_ids}, "issue_id")
            conn.execute(base.delete().where(base.c.issue_id.in_(sa.select(rows.c.issue_id))))

    def _stage(self, conn: sa.Connection, columns: dict[str, Any], key: str | None
               ) -> sa.Table:
        """SQLite: the rows of ``columns`` in a scratch table attached to ``conn``
        (:mod:`gridwatch.store._bulk`), in the order of their ``key`` column when there is
        one: the B-trees keyed by issue_id then grow at one end instead of being split all over
        (SQLite's WITHOUT ROWID tables hold the whole row in that tree; a million problems in
        file order took 2.5 times the CPU of the same rows sorted)."""
        order = _id_order(columns[key]) if key is not None and key in columns else None
        return _bulk.stage(conn, columns, store_file=self._store_file(), order=order)

    def _stage_soon(self, conn: sa.Connection, columns: Callable[[], dict[str, Any]],
                    key: str) -> Callable[[], tuple[sa.Table, int]]:
        """:meth:`_stage` on a thread of its own, the columns made there too
        (:func:`_bulk.stage_soon`); what is returned waits for them and attaches them."""
        def rows() -> tuple[dict[str, Any], np.ndarray | None]:
            made = columns()
            return made, _id_order(made[key])

        return _bulk.stage_soon(conn, rows, store_file=self._store_file())

    def _stage_parts(self, conn: sa.Connection, columns: dict[str, Any], key: str
                     ) -> list[Callable[[], tuple[sa.Table, int]]]:
        """SQLite: the rows of ``columns`` in ``key`` order, in up to :data:`_STAGED_PARTS`
        scratch tables made one after the other on a thread of their own
        (:meth:`_stage_soon`): the first part is written into the store while the next
        ones are made."""
        n = len(columns[key])
        order = _id_order(columns[key])
        parts = max(1, min(_STAGED_PARTS, -(-n // _STAGED_PART_ROWS)))
        bounds = np.linspace(0, n, parts + 1).astype(np.int64)

        def part(low: int, high: int) -> Callable[[], tuple[dict[str, Any], None]]:
            def rows() -> tuple[dict[str, Any], None]:
                picked = None if order is None else order[low:high]
                return {name: _take_rows(values, picked, low, high)
                        for name, values in columns.items()}, None
            return rows

        return [_bulk.stage_soon(conn, part(int(low), int(high)), store_file=self._store_file())
                for low, high in itertools.pairwise(bounds)]

    def _store_file(self) -> Path | None:
        """The SQLite store's database file (None: in memory)."""
        database = self._engine.url.database
        return Path(database).resolve() if database and database != ":memory:" \
            and not database.startswith("file:") else None

    @staticmethod
    def _run_in_ranges(conn: sa.Connection, statement: Any, length: int, chunk_size: int,
                       tick: Callable[[int], None] | None) -> None:
        """Run a statement over a scratch table (:func:`_in_range`) ``chunk_size`` rows at a
        time, reporting progress after each batch."""
        compiled = statement.compile(dialect=conn.dialect)
        sql = str(compiled)
        params = compiled.params
        names = compiled.positiontup or []
        for low, high in _bulk.rowid_ranges(length, chunk_size):
            values = {**params, "gw_low": low, "gw_high": high}
            conn.exec_driver_sql(sql, tuple(values[k] for k in names))
            if tick is not None:
                tick(high - low + 1)

    def _write_layers(self, conn: sa.Connection, layer_kinds: dict[str, str | None],
                      ) -> dict[str, int]:
        """Record the import's layers (new ones get the next position and their columns in
        ``issue_places``); returns every known layer's position."""
        table = self._t["layers"]
        known = dict(conn.execute(sa.select(table.c.name, table.c.position)).all())
        position = max(known.values(), default=-1)
        for name, kind in layer_kinds.items():
            if name in known:
                if kind is not None:
                    conn.execute(table.update().where(table.c.name == name).values(kind=kind))
            else:
                position += 1
                conn.execute(table.insert().values(name=name, kind=kind, position=position))
                _s.add_place_columns(conn, self._t["issue_places"], position)
                known[name] = position
        return known

    # --- reading ----------------------------------------------------------------------------

    def issues(self, *, layers: Sequence[str] | None = None,
               run_id: int | None = None) -> pd.DataFrame:
        """Return the stored problems as one wide frame, ordered by ``issue_id``.

        Parameters
        ----------
        layers
            Layers whose placement columns to add, in this order; default every layer the
            store knows. A layer the store does not know gives an all-missing ``<layer>_id``.
        run_id
            Only the problems this run wrote (inserted or changed); default all.

        Returns
        -------
        pandas.DataFrame
            The canonical columns (times ``datetime64[ns, UTC]``), ``location_flag``,
            ``grid_mismatch``, ``location_precision_m``, ``geocode_source`` and
            ``geocode_score`` (NaN unless placed from an address), ``address_offset_m`` (NaN
            unless the address disagrees with the coordinates), ``first_seen_at``,
            ``last_seen_at``, then per layer ``<layer>_id`` and, for redline layers (and any
            layer with inside/near/distance data), ``in_<layer>``, ``near_<layer>`` and
            ``<layer>_dist_m``.
        """
        issues = self._t["issues"]
        with self._engine.connect() as conn, conn.begin():
            known = self._layer_positions(conn)
            places = _s.places_table(sa.MetaData(schema=self.schema),
                                     [p for _, p in known.values()])
            place_names = [c.name for c in places.columns if c.name != "issue_id"]
            # byte order on every backend (PostgreSQL would follow its locale's collation)
            order = issues.c.issue_id.collate("C") if self.postgis else issues.c.issue_id
            query = (sa.select(*(issues.c[c] for c in ISSUE_COLUMNS),
                               *(places.c[c] for c in place_names))
                     .select_from(issues.outerjoin(places,
                                                   places.c.issue_id == issues.c.issue_id))
                     .order_by(order))
            if run_id is not None:
                query = query.where(issues.c.last_run_id == run_id)
            rows = _s.fetch(conn, query)
        frame = _frame(rows, (*ISSUE_COLUMNS, *place_names))
        out = {c: _typed(frame[c], c) for c in ISSUE_COLUMNS}
        names = list(known) if layers is None else list(layers)
        empty = pd.Series([None] * len(frame), dtype=object)
        for name in names:
            kind, position = known.get(name, (None, None))

            def field(prefix: str, position: int | None = position) -> pd.Series:
                if position is None:
                    return empty
                return frame[_s.place_column(prefix, position)]
            out[f"{name}_id"] = pd.Series(field("area").to_numpy(), dtype="str")
            inside, distance = field("inside"), field("distance")
            if kind == "redline" or inside.notna().any() or distance.notna().any():
                out[f"in_{name}"] = _flags(inside)
                out[f"near_{name}"] = _flags(field("near"))
                out[f"{name}_dist_m"] = pd.Series(
                    pd.to_numeric(distance).to_numpy(dtype="float64"))
        return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))

    def history(self, *, run_id: int | None = None) -> pd.DataFrame:
        """Return the status history: one row per status change, oldest first.

        Columns: ``id``, ``issue_id``, ``run_id``, ``previous_status`` (missing for a new
        problem's first status), ``status``, ``changed_at`` and ``seen_at`` (UTC). With
        ``run_id``, only the changes that run recorded.
        """
        table = self._t["status_history"]
        names = ("id", "issue_id", "run_id", "previous_status", "status", "changed_at", "seen_at")
        query = sa.select(*(table.c[c] for c in names)).order_by(table.c.id)
        if run_id is not None:
            query = query.where(table.c.run_id == run_id)
        with self._engine.connect() as conn, conn.begin():
            rows = _s.fetch(conn, query)
        frame = _frame(rows, names)
        return pd.DataFrame({
            "id": frame["id"].astype("int64"),
            "issue_id": frame["issue_id"].astype("str"),
            "run_id": frame["run_id"].astype("int64"),
            "previous_status": pd.Series(frame["previous_status"].to_numpy(), dtype="str"),
            "status": pd.Series(frame["status"].to_numpy(), dtype="str"),
            "changed_at": _s.utc_times(frame["changed_at"]),
            "seen_at": _s.utc_times(frame["seen_at"]),
        })

    #: Columns of :meth:`field_results`, in order.
    FIELD_RESULT_COLUMNS: tuple[str, ...] = (
        "id", "run_id", "issue_id", "result", "action", "remarks", "photos", "inspector",
        "team", "day", "checked_at", "source_file", "source_row")

    def add_field_results(self, results: pd.DataFrame, *, run_id: int) -> int:
        """Keep what field teams found (one row per checked problem) under an import run.

        Parameters
        ----------
        results
            Columns of :attr:`FIELD_RESULT_COLUMNS` but ``id`` and ``run_id`` (missing ones
            stored empty); ``checked_at`` UTC.
        run_id
            The run that imported them (``gridwatch plan results``).

        Returns
        -------
        int
            Rows written.
        """
        table = self._t["field_results"]
        names = [c for c in self.FIELD_RESULT_COLUMNS if c not in ("id", "run_id")]
        frame = results.reindex(columns=names).astype(object)
        checked = _s.utc_times(results["checked_at"]) if "checked_at" in results else None
        rows = []
        for k, record in enumerate(frame.itertuples(index=False)):
            row = {n: (None if pd.isna(v) else v) for n, v in zip(names, record, strict=True)}
            if checked is not None:
                value = checked.iloc[k]
                row["checked_at"] = None if pd.isna(value) else \
                    value.tz_convert("UTC").tz_localize(None).to_pydatetime()
            for n in ("team", "day", "source_row"):
                value = row[n]
                row[n] = None if value is None else int(value)
            rows.append({**row, "run_id": int(run_id)})
        if rows:
            with self._write() as conn:
                conn.execute(table.insert(), rows)
        return len(rows)

    def field_results(self) -> pd.DataFrame:
        """Every field result kept, oldest first (columns :attr:`FIELD_RESULT_COLUMNS`,
        ``checked_at`` UTC)."""
        table = self._t["field_results"]
        query = sa.select(*(table.c[c] for c in self.FIELD_RESULT_COLUMNS)).order_by(table.c.id)
        with self._engine.connect() as conn, conn.begin():
            rows = _s.fetch(conn, query)
        frame = _frame(rows, self.FIELD_RESULT_COLUMNS)
        out = {c: pd.Series(frame[c].to_numpy(), dtype="str")
               for c in self.FIELD_RESULT_COLUMNS}
        for c in ("id", "run_id"):
            out[c] = frame[c].astype("int64")
        for c in ("team", "day", "source_row"):
            out[c] = pd.array(frame[c].to_numpy(), dtype="Int64")
        out["checked_at"] = _s.utc_times(frame["checked_at"])
        return pd.DataFrame(out)

    def runs(self) -> pd.DataFrame:
        """Return every import run, oldest first (``files`` as lists, times UTC).

        Columns: ``run_id``, ``started_at``, ``finished_at``, ``observed_at``, ``files``,
        ``rows_in``, ``accepted``, ``rejected``, ``inserted``, ``updated``, ``unchanged``,
        ``status_changes``, ``ok`` and ``message`` (why a failed run failed).
        """
        table = self._t["runs"]
        names = tuple(c.name for c in table.columns)
        with self._engine.connect() as conn, conn.begin():
            rows = _s.fetch(conn, sa.select(*table.columns).order_by(table.c.run_id))
        frame = _frame(rows, names)
        out: dict[str, pd.Series] = {}
        for name in names:
            column = frame[name]
            if name.endswith("_at"):
                out[name] = _s.utc_times(column)
            elif name == "files":
                out[name] = pd.Series([json.loads(v) for v in column], dtype=object)
            elif name == "ok":
                out[name] = column.astype(bool)
            elif name == "message":
                out[name] = pd.Series(column.to_numpy(), dtype="str")
            else:
                out[name] = column.astype("int64")
        return pd.DataFrame(out)

    def last_run_id(self) -> int:
        """The last import run that succeeded (0 before any): the store's version."""
        with self._engine.connect() as conn, conn.begin():
            return self._last_run_id(conn)

    def _last_run_id(self, conn: sa.Connection) -> int:
        runs = self._t["runs"]
        found = conn.execute(sa.select(sa.func.max(runs.c.run_id)).where(runs.c.ok)).scalar()
        return int(found or 0)

    # --- the analytical copy ------------------------------------------------------------------

    @property
    def analytical_copy(self) -> AnalyticalCopy | None:
        """The columnar copy questions read (:mod:`gridwatch.store.analytical`), or ``None``
        for an in-memory store. SQLite keeps it beside its file (``<file>.columns``);
        PostgreSQL in the user's cache folder, one per database and schema."""
        if self.postgis:
            import hashlib

            key = hashlib.sha256(f"{self._shown}|{self.schema}".encode()).hexdigest()[:16]
            base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            folder = base / "gridwatch" / "columns" / key
        else:
            database = self._engine.url.database
            if not database or database == ":memory:":
                return None
            folder = Path(database).with_name(Path(database).name + ".columns")
        return AnalyticalCopy(folder, store_id=self._identity())

    def _identity(self, conn: sa.Connection | None = None) -> str:
        """What tells this store from another made at the same place: when its first run
        started (empty before any run); read on ``conn`` when given (in its transaction)."""
        runs = self._t["runs"]
        query = sa.select(sa.func.min(runs.c.started_at))
        if conn is not None:
            first = conn.execute(query).scalar()
        else:
            with self._engine.connect() as own, own.begin():
                first = own.execute(query).scalar()
        return "" if first is None else str(first)

    def analytical(self, *, layers: Sequence[str] | None = None,
                   ) -> tuple[pd.DataFrame, pd.DataFrame, int]:
        """The problems and history as :meth:`issues` and :meth:`history` return them, read
        from the analytical copy when it is of the last run (else from the tables, and the
        copy is rebuilt). Also returns that run id.

        Parameters
        ----------
        layers
            Layers that must have a ``<layer>_id`` column (all-missing when the store has no
            placement for them).
        """
        copy = self.analytical_copy
        run_id = self.last_run_id()
        found = copy.read(run_id) if copy is not None else None
        if found is None:
            issues, history = self.issues(), self.history()
            if copy is not None:
                try:
                    with copy.locked():
                        copy.write(run_id, issues, history, layers=self._known_layers())
                except Exception as exc:  # a read never fails for want of its cache
                    warnings.warn(f"the analytical copy of {self._shown!r} could not be written "
                                  f"({type(exc).__name__}: {exc}); questions read the tables "
                                  "until it can", RuntimeWarning, stacklevel=2)
        else:
            issues, history = found
        return with_layer_columns(issues, layers or ()), history, run_id

    def rebuild_copy(self) -> CopyVersion | None:
        """Rebuild the analytical copy from the tables (``gridwatch store rebuild``)."""
        copy = self.analytical_copy
        if copy is None:
            return None
        with copy.locked():
            run_id = self.last_run_id()
            return copy.write(run_id, self.issues(), self.history(),
                              layers=self._known_layers())

    def _known_layers(self) -> tuple[str, ...]:
        with self._engine.connect() as conn, conn.begin():
            return tuple(self._layer_kinds(conn))

    def _refresh_copy(self, run_id: int, previous: int, written: _Written,
                      beside: _Beside | None = None) -> None:
        """Bring the copy to ``run_id`` after a committed import, without reading back what
        the import just wrote: the previous copy (when it is of the run before) minus the
        problems the run rewrote plus those rows built from the import itself; for a store
        that was empty, the import's rows alone; else everything from the tables. Frames
        built while the rows were written (``beside``) are used as they are, with the ids the
        database gave the run's history. A failure here leaves the import stored; readers
        then rebuild the copy."""
        copy = self.analytical_copy
        if copy is None:
            return
        try:
            with copy.locked():
                frames = beside.frames if beside is not None else None
                if frames is None:
                    with self._engine.connect() as conn, conn.begin():
                        kinds = self._layer_kinds(conn)
                    frames = self._copy_frames(copy, run_id, previous, written, kinds=kinds)
                if frames is None:
                    copy.write(run_id, self.issues(), self.history(),
                               layers=tuple(written.kinds))
                    return
                history = self._with_history_ids(frames, run_id)
                staged = beside.staged if beside is not None else None
                if staged is not None:
                    version = copy.publish(staged, history=None if history is frames.history
                                           else history)
                else:
                    version = copy.write(run_id, frames.issues, history, layers=frames.layers)
            if beside is not None and beside.after is not None and version.run_id == run_id:
                beside.after(copy)
        except Exception as exc:  # the import itself is committed: never undo it here
            if beside is not None and beside.staged is not None:
                AnalyticalCopy.discard(beside.staged)
            warnings.warn(f"the analytical copy of {self._shown!r} could not be refreshed "
                          f"({type(exc).__name__}: {exc}); it will be rebuilt from the store "
                          "when next read", RuntimeWarning, stacklevel=3)

    def _copy_frames(self, copy: AnalyticalCopy, run_id: int, previous: int,
                     written: _Written, *, kinds: dict[str, str | None]) -> _CopyFrames | None:
        """The copy after the run, from the previous copy and what the run wrote; None when
        it must be read from the tables (no copy of the run before, a staged import)."""
        layers = tuple(kinds)
        base = copy.current()
        found = copy.read(previous) if base is not None and \
            base.run_id == previous and base.layers == layers else None
        if written.staged or (found is None and not written.empty_before):
            return None
        old_issues, old_history = found if found is not None else (None, None)
        rows = _wide_rows(written, kinds, old_issues)
        run_history = self._run_history(run_id, written)
        if old_issues is None:
            merged, history = rows, run_history
        else:
            kept = old_issues[~old_issues["issue_id"].isin(rows["issue_id"])]
            if written.touched:
                seen_at = pd.Timestamp(written.seen).tz_localize("UTC").as_unit("ns")
                again = kept["issue_id"].isin(written.touched).to_numpy()
                kept = kept.copy()
                kept.loc[again, "last_seen_at"] = seen_at
            if list(rows.columns) != list(kept.columns):
                return None
            merged = pd.concat([kept, rows.astype(kept.dtypes.to_dict())], ignore_index=True)
            history = pd.concat([old_history, run_history], ignore_index=True)
        return _CopyFrames(issues=_by_id(merged), history=history, layers=layers,
                           run_rows=len(run_history))

    def _with_history_ids(self, frames: _CopyFrames, run_id: int) -> pd.DataFrame:
        """The history of ``frames`` with the ids the database gave the run's rows (read back:
        they were written in order); the run's rows read from the table if they differ in
        number."""
        table = self._t["status_history"]
        history = frames.history
        start = len(history) - frames.run_rows
        expected = history["id"].to_numpy()[start:]
        with self._engine.connect() as conn, conn.begin():
            count, low, high = conn.execute(
                sa.select(sa.func.count(), sa.func.min(table.c.id), sa.func.max(table.c.id))
                .where(table.c.run_id == run_id)).one()
            if count == frames.run_rows and (count == 0 or (
                    low == expected[0] and high == expected[-1] and high - low + 1 == count)):
                return history  # the ids expected: they were given in order, one after another
            ids = np.asarray([row[0] for row in _s.fetch(
                conn, sa.select(table.c.id).where(table.c.run_id == run_id)
                .order_by(table.c.id))], dtype="int64")
        if len(ids) != frames.run_rows:
            return pd.concat([history.iloc[:start], self.history(run_id=run_id)],
                             ignore_index=True)
        if not np.array_equal(history["id"].to_numpy()[start:], ids):
            history = history.copy()
            history["id"] = np.concatenate([history["id"].to_numpy()[:start], ids])
        return history

    def _run_history(self, run_id: int, written: _Written) -> pd.DataFrame:
        """The history rows run ``run_id`` wrote, as :meth:`history` reads them, from what the
        import kept, with the ids the database numbers them with from its largest."""
        columns = written.history
        n = len(columns["issue_id"])
        return pd.DataFrame({
            "id": np.arange(written.history_first_id, written.history_first_id + n,
                            dtype="int64"),
            "issue_id": pd.Series(np.asarray(columns["issue_id"], dtype=object), dtype="str"),
            "run_id": np.full(n, run_id, dtype="int64"),
            "previous_status": pd.Series(np.asarray(columns["previous_status"], dtype=object),
                                         dtype="str"),
            "status": pd.Series(np.asarray(columns["status"], dtype=object), dtype="str"),
            "changed_at": _utc_from_naive(np.asarray(columns["changed_at"],
                                                     dtype="datetime64[us]")),
            "seen_at": _utc_from_naive(np.full(n, np.datetime64(written.seen, "us"))),
        })

    def _layer_kinds(self, conn: sa.Connection) -> dict[str, str | None]:
        """The layers the store has seen, in order, with their kinds."""
        return {name: kind for name, (kind, _) in self._layer_positions(conn).items()}

    def _layer_positions(self, conn: sa.Connection) -> dict[str, tuple[str | None, int]]:
        """The layers the store has seen, in order: name -> (kind, position)."""
        table = self._t["layers"]
        rows = conn.execute(sa.select(table.c.name, table.c.kind, table.c.position)
                            .order_by(table.c.position)).all()
        return {name: (kind, int(position)) for name, kind, position in rows}


# --- helpers ----------------------------------------------------------------------------------

def _add_later_columns(conn: sa.Connection, issues: sa.Table) -> None:
    """Add the optional text columns of ``issues`` that a store written before them lacks."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(issues.name,
                                                                schema=issues.schema)}
    qualified = conn.dialect.identifier_preparer.format_table(issues)
    for name in LATER_COLUMNS:
        if name not in present:
            kind = "TIMESTAMP" if name in DATETIME_COLUMNS else "TEXT"
            conn.exec_driver_sql(f"ALTER TABLE {qualified} ADD COLUMN {name} {kind}")


def _migrate_from_v1(conn: sa.Connection, tables: dict[str, sa.Table]) -> None:
    """Move a version-1 store's long ``issue_areas`` (one row per problem and layer) into
    ``issue_places`` (created just before, empty), in the caller's write transaction."""
    layers = tables["layers"]
    positions = conn.execute(sa.select(layers.c.name, layers.c.position)
                             .order_by(layers.c.position)).all()
    metadata = sa.MetaData(schema=tables["meta"].schema)
    for _, position in positions:
        _s.add_place_columns(conn, tables["issue_places"], int(position))
    places = _s.places_table(metadata, [int(p) for _, p in positions])
    areas = sa.Table("issue_areas", metadata, sa.Column("issue_id", sa.Text),
                     sa.Column("layer", sa.Text), sa.Column("area_id", sa.Text),
                     sa.Column("inside", sa.Boolean), sa.Column("near", sa.Boolean),
                     sa.Column("distance_m", sa.Float))
    ids = sa.select(areas.c.issue_id).distinct().subquery("ids")
    source: Any = ids
    selected: list[Any] = [ids.c.issue_id]
    names = ["issue_id"]
    for name, position in positions:
        # one join per layer on the old primary key (issue_id, layer)
        one = areas.alias(f"layer_{int(position)}")
        source = source.outerjoin(one, sa.and_(one.c.issue_id == ids.c.issue_id,
                                               one.c.layer == name))
        for prefix, field_name, _ in _s.PLACE_FIELDS:
            selected.append(one.c[field_name])
            names.append(_s.place_column(prefix, int(position)))
    conn.execute(places.insert().from_select(names, sa.select(*selected).select_from(source)))
    conn.execute(sa.text(f"DROP TABLE {conn.dialect.identifier_preparer.format_table(areas)}"))
    meta = tables["meta"]
    conn.execute(meta.update().where(meta.c.key == "schema_version")
                 .values(value=str(_s.SCHEMA_VERSION)))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _as_utc(value: datetime) -> datetime:
    """Naive UTC ``datetime`` from an aware one (or a naive one taken as UTC)."""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.tz_localize(None).to_pydatetime()


def _layer_kinds(layers: Sequence[LayerSpec] | Sequence[tuple[str, str]]) -> dict[str, str | None]:
    kinds: dict[str, str | None] = {}
    for item in layers:
        if isinstance(item, LayerSpec):
            kinds[item.name] = item.kind
        elif isinstance(item, tuple | list) and len(item) == 2:
            kinds[str(item[0])] = str(item[1]) if item[1] is not None else None
        else:
            raise StoreError(f"layers must hold LayerSpec objects or (name, kind) pairs; "
                             f"got {item!r}")
    return kinds


def _rows(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """``frame[mask]``, without a copy when every row is kept (a first import of a million
    problems would copy all its text once more)."""
    return frame if mask.all() else frame[mask]


def _iso_utc(times: pd.Series) -> pd.Series:
    """UTC times as ISO text (``2026-02-20T15:59:59Z``), missing as NA."""
    text = times.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return pd.Series(text.astype(object).to_numpy(), dtype=object).where(times.notna().to_numpy())


def _join(worker: threading.Thread, stop: threading.Event) -> None:
    """Wait for the thread running an import's statements to end, also when Ctrl-C comes
    meanwhile: then it is asked to stop at its next batch, and the interrupt is raised once it
    has (the transaction is rolled back only when nothing uses its connection any more)."""
    interrupted: BaseException | None = None
    while worker.is_alive():
        try:
            worker.join()
        except BaseException as exc:
            stop.set()
            interrupted = interrupted or exc
    if interrupted is not None:
        raise interrupted


def with_layer_columns(issues: pd.DataFrame, layers: Sequence[str]) -> pd.DataFrame:
    """Give ``issues`` a ``<layer>_id`` column (all missing) for each of ``layers`` it lacks
    (in place; returned)."""
    for name in layers:
        if f"{name}_id" not in issues:
            issues[f"{name}_id"] = pd.Series(pd.NA, index=issues.index, dtype="str")
    return issues


def _in_range(rows: sa.Table) -> sa.ColumnElement[bool]:
    """The rows of a scratch table in the rowid range ``gw_low``..``gw_high``."""
    rowid: sa.ColumnElement[int] = sa.literal_column(f"{rows.schema}.{rows.name}.rowid")
    return sa.and_(rowid >= sa.bindparam("gw_low"), rowid <= sa.bindparam("gw_high"))


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _column_chunks(columns: dict[str, Any], size: int) -> Iterator[dict[str, Any]]:
    """Split equal-length columns into batches of ``size`` rows for COPY
    (:func:`~gridwatch.store._tables.copy_rows`), in the order of their ids.

    A column may be a list of driver values or an array or Series of stored values (a
    batch of it is written as it is, never the whole column converted at once: a million
    texts as Python strings take about a gigabyte).

    Rows are given in the order of the first column named ``issue_id`` or ``b_id`` when there
    is one: the indexes keyed by issue_id then grow at one end instead of being split all over.
    """
    length = len(next(iter(columns.values()))) if columns else 0
    key = next((name for name in columns if name in ("issue_id", "b_id")), None)
    order = _id_order(columns[key]) if key is not None else None
    for start in range(0, length, size):
        picked = order[start:start + size] if order is not None else None
        yield {name: _take_rows(values, picked, start, start + size)
               for name, values in columns.items()}


def _take_rows(values: Any, picked: np.ndarray | None, low: int, high: int) -> Any:
    """Rows ``picked`` of one column, or rows ``low:high`` when ``picked`` is None (no
    copy)."""
    if isinstance(values, pd.Series):
        return values.iloc[low:high] if picked is None else values.take(picked)
    if isinstance(values, list):
        return values[low:high] if picked is None else [values[i] for i in picked]
    return values[low:high] if picked is None else np.asarray(values)[picked]


def _id_order(ids: Any) -> np.ndarray | None:
    """Positions of ``ids`` in sorted order, or None when at most 1 % are out of order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(ids) < 2:
        return None
    values = pa.array(ids.to_numpy(dtype=object) if isinstance(ids, pd.Series) else ids,
                      type=pa.string())
    # exports are often in id order but for a few stragglers, which cost the trees nothing
    descents = len(values) - 1 - (pc.sum(pc.greater_equal(values[1:], values[:-1])).as_py() or 0)
    if descents * 100 <= len(values):
        return None
    return pc.sort_indices(values).to_numpy()


def _frame(rows: Sequence[Any], names: Sequence[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
    if not isinstance(rows[0], tuple):  # SQLAlchemy rows: numpy reads tuples 20x faster
        rows = [tuple(row) for row in rows]
    table = np.empty((len(rows), len(names)), dtype=object)
    table[:] = rows  # one C loop over the rows (zip(*rows) builds a tuple per column in Python)
    return pd.DataFrame({n: pd.Series(table[:, k], dtype=object) for k, n in enumerate(names)})


def _typed(values: pd.Series, name: str) -> pd.Series:
    """Give a stored column of ``issues`` its frame dtype."""
    if name in DATETIME_COLUMNS or name.endswith("_seen_at"):
        return _s.utc_times(values)
    if name in _s.FLOAT_COLUMNS:
        return pd.Series(pd.to_numeric(values).to_numpy(dtype="float64"))
    if name == "grid_mismatch":
        return pd.Series(values.to_numpy(dtype=bool))
    return pd.Series(values.to_numpy(), dtype="str")


def _flags(values: pd.Series) -> pd.Series:
    """Stored flags (bool, or 0/1 from SQLite; missing counts as False) as a bool column."""
    return pd.Series(np.asarray(values.to_numpy(dtype=object) == True,  # noqa: E712
                                dtype=bool))


@dataclass(frozen=True)
class _Written:
    """What an import wrote, kept until the analytical copy is refreshed."""

    prep: _s.Prepared
    #: Rows of ``prep`` inserted or changed.
    write: np.ndarray
    #: Ids seen again unchanged (their ``last_seen_at`` moved).
    touched: list[str]
    seen: datetime
    empty_before: bool
    #: The history columns written, but ``seen_at`` (see ``Store._history_rows``).
    history: dict[str, Any]
    #: Written from staging tables: ``prep`` holds only the columns the import compares.
    staged: bool = False
    #: The store's layers after the import, in order, with their kinds.
    kinds: dict[str, str | None] = field(default_factory=dict)
    #: The id the first history row gets when the database numbers on from its largest.
    history_first_id: int = 1
    #: The store's identity once the run is committed (``Store._identity``).
    identity: str = ""


@dataclass(frozen=True)
class _Writes:
    """The statements of an import (called once, on the thread that runs them), and the
    event that stops them at their next batch."""

    run: Callable[[], None]
    stop: threading.Event

    def __call__(self) -> None:
        self.run()


@dataclass(frozen=True)
class _CopyFrames:
    """The analytical copy after an import, built from what it wrote: problems, history (the
    run's rows last, ``run_rows`` of them) and layers."""

    issues: pd.DataFrame
    history: pd.DataFrame
    layers: tuple[str, ...]
    run_rows: int


@dataclass(frozen=True)
class _Beside:
    """The copy's frames built while the import's rows were written, and what ``alongside``
    asked to be done once that copy is in place."""

    frames: _CopyFrames
    after: Callable[[AnalyticalCopy], object] | None
    #: The copy's version of the run, written and waiting for the commit.
    staged: StagedVersion | None = None


def _wide_rows(written: _Written, kinds: dict[str, str | None],
               old: pd.DataFrame | None) -> pd.DataFrame:
    """The rows an import wrote, as :meth:`Store.issues` reads them back: the same columns,
    dtypes and values (times to the microsecond, as stored), in the import's order."""
    prep, write = written.prep, written.write
    issues = _rows(prep.issues, write).reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    for name in ISSUE_COLUMNS:
        if name in ("first_seen_at", "last_seen_at"):
            continue
        values = issues[name]
        if name in DATETIME_COLUMNS:
            out[name] = _utc_from_naive(values.to_numpy(dtype="datetime64[us]"))
        elif name in _s.FLOAT_COLUMNS:
            out[name] = pd.Series(values.to_numpy(dtype="float64"))
        elif name == "grid_mismatch":
            out[name] = pd.Series(values.to_numpy(dtype=bool))
        else:
            out[name] = _text(values)
    seen = _utc_from_naive(np.full(len(issues), np.datetime64(written.seen, "us")))
    first = seen
    if old is not None and len(old):
        before = old.set_index("issue_id")["first_seen_at"]
        kept = out["issue_id"].map(before)
        first = kept.where(kept.notna(), seen).astype("datetime64[ns, UTC]")
    out["first_seen_at"], out["last_seen_at"] = first, seen
    for name, kind in kinds.items():
        part = prep.areas.get(name)
        if part is None:  # a layer of the store this import did not place
            part = pd.DataFrame({"area_id": [None] * len(issues), "inside": None,
                                 "near": None, "distance_m": np.nan})
        else:
            part = _rows(part, write).reset_index(drop=True)
        out[f"{name}_id"] = _text(part["area_id"])
        inside = pd.Series(part["inside"].to_numpy(dtype=object))
        if (kind == "redline" or inside.notna().any()
                or part["distance_m"].notna().any()):
            out[f"in_{name}"] = _flags(inside)
            out[f"near_{name}"] = _flags(pd.Series(part["near"].to_numpy(dtype=object)))
            out[f"{name}_dist_m"] = pd.Series(part["distance_m"].to_numpy(dtype="float64"))
    return pd.DataFrame(out, index=pd.RangeIndex(len(issues)))


def _by_id(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame in issue_id order (as it is when the rows came in that order: no copy)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pa.array(frame["issue_id"].to_numpy(dtype=object), type=pa.string())
    if len(ids) < 2 or pc.all(pc.greater_equal(ids[1:], ids[:-1])).as_py():
        return frame.reset_index(drop=True)
    return frame.sort_values("issue_id", kind="stable").reset_index(drop=True)


def _text(values: pd.Series) -> pd.Series:
    """A stored text column as the ``str`` column :meth:`Store.issues` reads (no copy when it
    already is one)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.na_value is np.nan:
        return values.reset_index(drop=True)
    return pd.Series(values.to_numpy(dtype=object), dtype="str")


def _utc_from_naive(values: np.ndarray) -> pd.Series:
    """Naive UTC times (microseconds, as stored) as ``datetime64[ns, UTC]``."""
    return pd.Series(values.astype("datetime64[ns]")).dt.tz_localize("UTC").astype(
        "datetime64[ns, UTC]")


#: SQLite's default: a commit copies the write-ahead log into the database once it holds
#: this many pages (an import turns it off for its own commit).
_WAL_AUTOCHECKPOINT = 1000


def _sqlite_pragma(conn: sa.Connection, setting: str) -> None:
    """Run ``PRAGMA setting`` on a SQLite connection outside any transaction (SQLAlchemy
    would begin one for a statement of its own)."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA {setting}")
    finally:
        cursor.close()

"""Private parts of :mod:`gridwatch.store.transactional`: tables, opening an engine, converting
values.

Times are stored as naive UTC ``DateTime`` on both backends (SQLite keeps them as ISO text,
PostgreSQL as ``timestamp without time zone``) and come back as ``datetime64[ns, UTC]``; they
keep microseconds, as both databases do.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import SchemaItem

from gridwatch.errors import StoreError
from gridwatch.schema import CANONICAL_COLUMNS, DATETIME_COLUMNS, LATER_COLUMNS, STATUSES
from gridwatch.store._hashing import column_hashes, combine_hashes
from gridwatch.store._patch_tables import patch_tables

__all__: list[str] = []

#: 2: placement in ``issue_places`` (one row per problem) instead of the long ``issue_areas``.
SCHEMA_VERSION = 2
#: Execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``.
WRITE_OPTION = "gridwatch_write"
#: The precision radius (metres) of a place found from an address (gridwatch.geocoding);
#: missing for every other row. Added to a store made before it on first open.
PRECISION_COLUMN = "location_precision_m"
#: Columns of ``issues`` that say how a problem was placed from its address, with their SQL
#: types: the precision radius, the gazetteer source that matched (``address_point``,
#: ``history``, ``road``, a layer name), the match's score (0-100), and for a problem with
#: coordinates whose address places it farther away than that match's precision, the distance
#: (metres; it is then in the grid-mismatch audit). Missing for every other row; added to a
#: store made before them on first open, and a row without a value keeps its content hash.
PLACEMENT_COLUMNS: dict[str, str] = {PRECISION_COLUMN: "DOUBLE PRECISION",
                                     "geocode_source": "TEXT",
                                     "geocode_score": "DOUBLE PRECISION",
                                     "address_offset_m": "DOUBLE PRECISION"}
FLOAT_COLUMNS: tuple[str, ...] = ("lon", "lat", *(c for c, t in PLACEMENT_COLUMNS.items()
                                                  if t != "TEXT"))
TEXT_COLUMNS: tuple[str, ...] = tuple(
    c for c in CANONICAL_COLUMNS if c not in DATETIME_COLUMNS and c not in FLOAT_COLUMNS
)


def safe_url(url: str | URL) -> str:
    """Render a URL for messages, with the password hidden.

    Examples
    --------
    >>> safe_url("postgresql+psycopg://gw:secret@db:5432/gridwatch")
    'postgresql+psycopg://gw:***@db:5432/gridwatch'
    """
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        return "<unparseable URL>"


def build_tables(metadata: sa.MetaData, *, postgis: bool) -> dict[str, sa.Table]:
    """Declare the store's tables on ``metadata``; PostGIS adds a point geometry to issues."""
    text_cols = [sa.Column(c, sa.Text, nullable=c != "issue_id") for c in CANONICAL_COLUMNS
                 if c in TEXT_COLUMNS and c != "issue_id"]
    statuses = ", ".join(f"'{s}'" for s in STATUSES)
    meta = sa.Table(
        "meta", metadata,
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    runs = sa.Table(
        "runs", metadata,
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("observed_at", sa.DateTime),
        sa.Column("files", sa.Text, nullable=False),  # JSON array of file names
        *(sa.Column(c, sa.Integer, nullable=False, server_default="0")
          for c in ("rows_in", "accepted", "rejected", "inserted", "updated", "unchanged",
                    "status_changes")),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("message", sa.Text),
    )
    issue_cols: list[SchemaItem] = [
        sa.Column("issue_id", sa.Text, primary_key=True),
        sa.Column("reported_at", sa.DateTime),
        sa.Column("deadline", sa.DateTime),
        sa.Column("closed_at", sa.DateTime),
        *(sa.Column(c, sa.DateTime) for c in LATER_COLUMNS if c in DATETIME_COLUMNS),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
        *text_cols,
        sa.Column("location_flag", sa.Text, nullable=False, server_default=""),
        sa.Column("grid_mismatch", sa.Boolean, nullable=False),
        *(sa.Column(c, sa.Text if t == "TEXT" else sa.Float)
          for c, t in PLACEMENT_COLUMNS.items()),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("first_seen_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sa.Column("last_run_id", sa.Integer, nullable=False),
        sa.CheckConstraint(f"status IS NULL OR status IN ({statuses})", name="ck_issues_status"),
    ]
    if postgis:
        from geoalchemy2 import Geometry

        # GeoAlchemy2 adds the GiST index (idx_issues_geom) when the table is created.
        issue_cols.append(sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=True)))
    # WITHOUT ROWID (SQLite): a text primary key then needs one B-tree, not two.
    issues = sa.Table("issues", metadata, *issue_cols, sqlite_with_rowid=False)
    # One row per problem, four columns per layer (added as layers appear, named by the
    # layer's position in ``layers``): a long (issue_id, layer) table held six rows per problem
    # and took most of a large import's time.
    places = sa.Table(
        "issue_places", metadata,
        sa.Column("issue_id", sa.Text, sa.ForeignKey(issues.c.issue_id, ondelete="CASCADE"),
                  primary_key=True),
        sqlite_with_rowid=False,
    )
    history = sa.Table(
        "status_history", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("issue_id", sa.Text, sa.ForeignKey(issues.c.issue_id, ondelete="CASCADE"),
                  nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey(runs.c.run_id), nullable=False),
        sa.Column("previous_status", sa.Text),
        sa.Column("status", sa.Text),
        sa.Column("changed_at", sa.DateTime),
        sa.Column("seen_at", sa.DateTime, nullable=False),
        sa.Index("ix_status_history_issue", "issue_id"),
    )
    # Changes of a problem's deadline or responsible unit between imports (the status has
    # status_history): old and new value as text, deadlines as UTC ISO times.
    changes = sa.Table(
        "issue_changes", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("issue_id", sa.Text, sa.ForeignKey(issues.c.issue_id, ondelete="CASCADE"),
                  nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey(runs.c.run_id), nullable=False),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Column("seen_at", sa.DateTime, nullable=False),
        sa.Index("ix_issue_changes_issue", "issue_id"),
    )
    layers = sa.Table(
        "layers", metadata,
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text),
        sa.Column("position", sa.Integer, nullable=False),
    )
    # What field teams found (gridwatch plan results), one row per checked problem and run;
    # the status changes those results make are in status_history under the same run.
    field_results = sa.Table(
        "field_results", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey(runs.c.run_id), nullable=False),
        sa.Column("issue_id", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("action", sa.Text),
        sa.Column("remarks", sa.Text),
        sa.Column("photos", sa.Text),
        sa.Column("inspector", sa.Text),
        sa.Column("team", sa.Integer),
        sa.Column("day", sa.Integer),
        sa.Column("checked_at", sa.DateTime),
        sa.Column("source_file", sa.Text),
        sa.Column("source_row", sa.Integer),
        sa.Index("ix_field_results_issue", "issue_id"),
    )
    # who may see what (gridwatch.access): users with a role and a scope, and the audit trail
    users = sa.Table(
        "users", metadata,
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),  # "*" or "<layer>:<id>,<id>"
        sa.Column("password_hash", sa.Text),  # argon2; NULL: signs in by header/OIDC only
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    audit = sa.Table(
        "audit", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.Column("detail", sa.Text, nullable=False),  # JSON object
    )
    return {"meta": meta, "runs": runs, "issues": issues, "issue_places": places,
            "status_history": history, "issue_changes": changes, "layers": layers,
            "field_results": field_results,
            "users": users, "audit": audit, **_ledger_tables(metadata),
            **patch_tables(metadata, postgis=postgis)}


def protect_audit(conn: sa.Connection, audit: sa.Table, *, postgis: bool) -> None:
    """Make the audit table append-only in the database itself: triggers refuse UPDATE and
    DELETE (gridwatch has no path that does either)."""
    if postgis:
        name = f'"{audit.schema}".audit' if audit.schema else "audit"
        function = f'"{audit.schema}".gridwatch_audit_append_only' if audit.schema \
            else "gridwatch_audit_append_only"
        conn.execute(sa.text(
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit is append-only'; END $$"))
        conn.execute(sa.text(f"DROP TRIGGER IF EXISTS audit_append_only ON {name}"))
        conn.execute(sa.text(
            f"CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {name} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"))
        return
    for verb in ("UPDATE", "DELETE"):
        conn.execute(sa.text(
            f"CREATE TRIGGER IF NOT EXISTS audit_no_{verb.lower()} BEFORE {verb} ON audit "
            "BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END"))


def _ledger_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The rectification ledger (:mod:`gridwatch.ledger`): tasks with their feedback item and
    round, milestones, every acceptance, extension and change, the ledger's import runs, and the
    register of letters (一函两单: 提醒函, 交办单, 督办单) with the problems each names.

    Dates of the ledger are local calendar dates (``Date``), as people write them. The tables
    are created when a store without them is opened, so older stores gain them.
    """
    runs = sa.Table(
        "ledger_runs", metadata,
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("file", sa.Text, nullable=False),
        *(sa.Column(c, sa.Integer, nullable=False, server_default="0")
          for c in ("rows_in", "accepted", "rejected", "inserted", "updated", "unchanged")),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("message", sa.Text),
    )
    tasks = sa.Table(
        "ledger_tasks", metadata,
        sa.Column("task_id", sa.Text, primary_key=True),
        sa.Column("round", sa.Text, nullable=False),
        sa.Column("item_id", sa.Text, nullable=False),
        *(sa.Column(c, sa.Text) for c in ("item", "task", "target", "measures")),
        sa.Column("task_type", sa.Text, nullable=False),
        sa.Column("deadline", sa.Date),
        *(sa.Column(c, sa.Text) for c in ("leader", "unit", "person")),
        sa.Column("rectified_on", sa.Date),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("last_run_id", sa.Integer, nullable=False),
        sa.Index("ix_ledger_tasks_round_item", "round", "item_id"),
    )
    milestones = sa.Table(
        "ledger_milestones", metadata,
        sa.Column("task_id", sa.Text, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("text", sa.Text),
    )
    events = sa.Table(
        "ledger_events", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.Text, nullable=False),  # task or issue
        sa.Column("subject_id", sa.Text, nullable=False),
        # accept, extend, milestone_done, change
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("on_date", sa.Date, nullable=False),
        sa.Column("field", sa.Text),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Column("conclusion", sa.Text),
        sa.Column("unit", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("milestone", sa.Integer),
        sa.Column("ledger_run_id", sa.Integer),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Index("ix_ledger_events_subject", "subject", "subject_id"),
    )
    letters = sa.Table(
        "letters", metadata,
        sa.Column("letter_no", sa.Text, primary_key=True),  # 督提〔2026〕3号
        sa.Column("kind", sa.Text, nullable=False),  # reminder_letter, assignment_sheet, ...
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("reply_due", sa.Date, nullable=False),
        sa.Column("replied_on", sa.Date),
        sa.Column("reply", sa.Text),
        sa.Column("escalated_from", sa.Text),
        sa.Column("escalated_to", sa.Text),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("kind", "year", "seq", name="uq_letters_number"),
    )
    letter_items = sa.Table(
        "letter_items", metadata,
        sa.Column("letter_no", sa.Text, primary_key=True),
        sa.Column("issue_id", sa.Text, primary_key=True),
        sa.Column("deadline", sa.Date),
        sa.Column("days_overdue", sa.Integer),
    )
    return {"ledger_runs": runs, "ledger_tasks": tasks, "ledger_milestones": milestones,
            "ledger_events": events, "letters": letters, "letter_items": letter_items}


#: Per layer: (column prefix, field of ``Prepared.areas``, SQL type).
PLACE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("area", "area_id", "TEXT"),
    ("inside", "inside", "BOOLEAN"),
    ("near", "near", "BOOLEAN"),
    ("distance", "distance_m", "DOUBLE PRECISION"),
)


def place_column(prefix: str, position: int) -> str:
    """Name of a layer's column in ``issue_places`` (``area_3``: the area id of the layer at
    position 3 of ``layers``)."""
    return f"{prefix}_{position}"


def places_table(metadata: sa.MetaData, positions: Sequence[int]) -> sa.Table:
    """``issue_places`` with the columns of the layers at ``positions`` (for statements; the
    columns themselves are added by :func:`add_place_columns`)."""
    types: dict[str, Any] = {"TEXT": sa.Text, "BOOLEAN": sa.Boolean,
                             "DOUBLE PRECISION": sa.Float}
    return sa.Table(
        "issue_places", metadata,
        sa.Column("issue_id", sa.Text, primary_key=True),
        *(sa.Column(place_column(prefix, p), types[sql_type]())
          for p in positions for prefix, _, sql_type in PLACE_FIELDS),
    )


def missing_issue_columns(conn: sa.Connection, issues: sa.Table) -> list[str]:
    """Columns of ``issues`` a store made by an older gridwatch lacks (added since)."""
    found = {c["name"] for c in sa.inspect(conn).get_columns(issues.name, schema=issues.schema)}
    return [name for name in PLACEMENT_COLUMNS if name not in found]


def add_issue_columns(conn: sa.Connection, issues: sa.Table, names: list[str]) -> None:
    """Add columns to ``issues`` of an older store (in the caller's write transaction)."""
    qualified = conn.dialect.identifier_preparer.format_table(issues)
    for name in names:
        conn.exec_driver_sql(
            f"ALTER TABLE {qualified} ADD COLUMN {name} {PLACEMENT_COLUMNS[name]}")


def add_place_columns(conn: sa.Connection, places: sa.Table, position: int) -> None:
    """Add the columns of the layer at ``position`` to ``issue_places`` (in the caller's
    transaction; both backends roll ``ALTER TABLE`` back with it)."""
    qualified = conn.dialect.identifier_preparer.format_table(places)
    for prefix, _, sql_type in PLACE_FIELDS:
        conn.exec_driver_sql(
            f"ALTER TABLE {qualified} ADD COLUMN {place_column(prefix, position)} {sql_type}")



def create_engine(url: str, *, busy_timeout_s: float) -> Engine:
    """Open an engine for ``url``, with the SQLite settings the store relies on.

    Raises
    ------
    StoreError
        For a URL that cannot be parsed or whose driver is not installed.
    """
    shown = safe_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f"store URL {shown!r} is not a database URL; use sqlite:///path/to/file.sqlite "
            "or postgresql+psycopg://user@host:5432/dbname") from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"store URL {shown!r} names the backend {backend!r}; "
                         "gridwatch stores in sqlite or postgresql")
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            kwargs["poolclass"] = StaticPool  # one shared in-memory database
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            try:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of the SQLite store {shown!r}: "
                                 f"{exc}") from exc
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(
            f"the database driver for store URL {shown!r} is not installed ({exc}); "
            "use postgresql+psycopg://... (psycopg 3 is a gridwatch dependency) or sqlite:///..."
        ) from exc
    if backend == "sqlite":
        _sqlite_events(engine, busy_timeout_ms=int(busy_timeout_s * 1000))
    return engine


def _sqlite_events(engine: Engine, *, busy_timeout_ms: int) -> None:
    # SQLAlchemy's pysqlite recipe: stop the driver from emitting BEGIN itself, emit it in the
    # "begin" event instead, so write transactions take the write lock up front (BEGIN
    # IMMEDIATE) and wait busy_timeout for it instead of failing half-way with "locked".
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL
            cursor.execute("PRAGMA cache_size = -65536")  # 64 MiB: big imports touch many pages
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# --- values in -------------------------------------------------------------------------------

@dataclass
class Prepared:
    """An import frame in stored form: one row per problem, canonical dtypes, RangeIndex."""

    ids: list[str]
    #: Text columns are pandas ``str`` (Arrow-backed: a tenth of the memory of Python strings
    #: at a million rows), times naive UTC datetime64[us], flags bool.
    issues: pd.DataFrame
    #: Per layer: area_id (str/None), inside, near (True/False/None), distance_m (float).
    areas: dict[str, pd.DataFrame]
    #: Content hash per row over every stored column and the placement columns.
    hashes: np.ndarray


def prepare(placed: pd.DataFrame, layers: list[str]) -> Prepared:
    """Check an import frame and convert it to stored values plus a content hash per row.

    Raises
    ------
    StoreError
        When issue_id is missing, empty or repeated, or a time column holds non-times.
    """
    if "issue_id" not in placed.columns:
        raise StoreError("the frame to store has no issue_id column; columns: "
                         + ", ".join(map(str, placed.columns)))
    ids = text_column(placed["issue_id"])
    missing = int(pd.isna(ids).sum())
    if missing:
        raise StoreError(f"issue_id is missing in {missing} row(s) of the frame to store")
    id_series = pd.Series(ids, dtype=object)
    repeated = id_series[id_series.duplicated()].unique().tolist()
    if repeated:
        shown = ", ".join(repr(v) for v in repeated[:5])
        more = f" and {len(repeated) - 5} more" if len(repeated) > 5 else ""
        raise StoreError(f"issue_id must be unique in the frame to store; repeated: {shown}{more}")
    n = len(placed)

    def column(name: str) -> pd.Series:
        if name in placed.columns:
            return placed[name].reset_index(drop=True).rename(name)
        return pd.Series(np.full(n, None, dtype=object), name=name)

    def flags(name: str) -> np.ndarray:  # a layer placed without nearness has none: all None
        return flag_column(column(name)) if name in placed.columns else \
            np.full(n, None, dtype=object)

    def floats(name: str) -> np.ndarray:
        return float_column(column(name)) if name in placed.columns else np.full(n, np.nan)

    def stored_column(name: str) -> Any:
        if name in DATETIME_COLUMNS:
            return utc_naive(column(name))
        if name in FLOAT_COLUMNS:
            return float_column(column(name))
        if name == "location_flag":
            return text_series(column(name)).fillna("")
        if name == "grid_mismatch":
            return flag_column(column(name)) == True  # noqa: E712
        if PLACEMENT_COLUMNS.get(name) == "TEXT":  # "" (not placed from an address): missing
            text = text_series(column(name))
            return text.mask(text.fillna("") == "", None)
        if name in PLACEMENT_COLUMNS:
            return float_column(column(name))
        return text_series(column(name))

    def area_columns(layer: str) -> dict[str, Any]:
        return {"area_id": text_series(column(f"{layer}_id")),
                "inside": flags(f"in_{layer}"),
                "near": flags(f"near_{layer}"),
                "distance_m": floats(f"{layer}_dist_m")}

    names = [*CANONICAL_COLUMNS[1:], "location_flag", "grid_mismatch", *PLACEMENT_COLUMNS]
    # two columns at a time: most of the work is in Arrow, numpy and the compiled hash,
    # which let the other thread run
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="gridwatch-prepare") as pool:
        stored: dict[str, Any] = {"issue_id": ids,
                                  **dict(zip(names, pool.map(stored_column, names),
                                             strict=True))}
        issues = _frame_of(stored)
        areas = {layer: _frame_of(columns)
                 for layer, columns in zip(layers, pool.map(area_columns, layers), strict=True)}
        # Columns added later take part only where a row has a value, so stores made before
        # them keep their hashes (a re-import of the same rows changes nothing).
        later = [name for name in LATER_COLUMNS if name in issues.columns]
        hashed = [issues[name] for name in issues.columns
                  if name not in later and name not in PLACEMENT_COLUMNS]
        hashed += [frame[name] for frame in areas.values() for name in frame.columns]
        column_digests = list(pool.map(lambda values: column_hashes(_hash_form(values)),
                                       hashed)) if n else []
    if n:
        digest = combine_hashes(column_digests)  # pandas' hash of the frame of these columns
        # The layer names take part, so a layer added to the project changes every hash.
        salt = pd.util.hash_pandas_object(pd.Series(["\x1e".join(layers)]), index=False)
        digest = digest ^ salt.to_numpy()[0]
        for name in later:  # only rows with a value change: stored rows keep their hash
            given = issues[name].notna().to_numpy()
            if given.any():
                extra = pd.util.hash_pandas_object(
                    pd.Series([name, *issues[name][given].astype(str)], dtype=object),
                    index=False).to_numpy()
                digest[given] = digest[given] ^ (extra[1:] * np.uint64(31) + extra[0])
        precision = issues[PRECISION_COLUMN].to_numpy(dtype=float)
        given = ~np.isnan(precision)
        if given.any():  # as before the other placement columns: stored hashes stay
            digest[given] ^= pd.util.hash_pandas_object(
                pd.Series(precision[given]), index=False).to_numpy()
        for name in PLACEMENT_COLUMNS:
            if name == PRECISION_COLUMN:
                continue
            given = issues[name].notna().to_numpy()
            if given.any():  # salted by the name: equal values of two columns never cancel
                extra = pd.util.hash_pandas_object(
                    pd.Series([name, *issues[name][given].astype(str)], dtype=object),
                    index=False).to_numpy()
                digest[given] = digest[given] ^ (extra[1:] * np.uint64(31) + extra[0])
    else:
        digest = np.array([], dtype="uint64")
    hashes = np.array([f"{h:016x}" for h in digest.tolist()], dtype=object)
    return Prepared(ids=list(ids), issues=issues, areas=areas, hashes=hashes)


def _frame_of(columns: dict[str, np.ndarray | pd.Series]) -> pd.DataFrame:
    """A frame that keeps object arrays as objects (pandas would convert str to its str dtype)."""
    return pd.DataFrame({k: pd.Series(v, dtype=object) if v.dtype == object else pd.Series(v)
                         for k, v in columns.items()})


def _hash_form(column: pd.Series) -> pd.Series | pa.Array:
    """A form of a stored column whose pandas hash depends only on the values (text may be
    an Arrow string array: :func:`gridwatch.store._hashing.column_hashes` hashes it as the
    same text in a pandas column)."""
    if isinstance(column.dtype, pd.StringDtype):
        # hashes as the same text in an object array with None for missing would
        return column.reset_index(drop=True)
    values = column.to_numpy()
    if values.dtype.kind == "M":
        return pd.Series(values.view("int64"))
    if values.dtype.kind == "f":
        bits = values.view("uint64").copy()
        bits[np.isnan(values)] = 0x7FF8_0000_0000_0001  # one hash for every missing value
        return pd.Series(bits)
    if values.dtype.kind == "b":
        return pd.Series(values.astype("int8"))
    if values.dtype == object:  # what Arrow makes of it says whether it is text or flags
        try:
            array = pa.array(values, from_pandas=True)
        except (pa.ArrowException, ValueError, TypeError):
            array = None
        if array is not None and pa.types.is_string(array.type):
            return array  # hashed as the same text in an object column would be
        if array is not None and pa.types.is_boolean(array.type):
            codes = np.full(len(values), -1, dtype="int8")
            given = array.is_valid().to_numpy(zero_copy_only=False)
            codes[given] = array.drop_null().to_numpy(zero_copy_only=False)
            return pd.Series(codes)
    is_true, is_false = values == True, values == False  # noqa: E712
    if is_true.any() or is_false.any():  # a flag column: True/False/None
        codes = np.full(len(values), -1, dtype="int8")
        codes[is_true], codes[is_false] = 1, 0
        return pd.Series(codes)
    # text: str or None (an object Series, so pandas cannot swap in its string dtype)
    return pd.Series(values, dtype=object)


def utc_naive(values: pd.Series) -> np.ndarray:
    """Convert a column of times to naive UTC ``datetime64[us]`` (NaT for missing)."""
    if not len(values) or values.isna().all():
        return np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    try:
        times = pd.to_datetime(values, utc=True, errors="raise", format="mixed")
    except (ValueError, TypeError) as exc:
        raise StoreError(f"column {values.name} holds values that are not times: {exc}") from exc
    return times.dt.tz_localize(None).to_numpy().astype("datetime64[us]")


def text_series(values: pd.Series) -> pd.Series:
    """:func:`text_column` as a pandas ``str`` column (missing: NaN)."""
    if isinstance(values.dtype, pd.StringDtype):
        if values.str.contains("\x00", regex=False).any():
            values = values.str.replace("\x00", "", regex=False)
        return values.astype("str")
    return pd.Series(text_column(values), index=values.index, dtype="str")


def text_column(values: pd.Series) -> np.ndarray:
    """Convert a column of user text to an object array of ``str``/``None``.

    NUL characters are removed: PostgreSQL cannot keep them in text, and both backends stay
    alike.
    """
    if isinstance(values.dtype, pd.StringDtype):  # already text: one conversion, no str()
        if values.str.contains("\x00", regex=False).any():
            values = values.str.replace("\x00", "", regex=False)
        return values.to_numpy(dtype=object, na_value=None)
    missing = pd.isna(values).to_numpy()
    text = values.astype(object).where(~missing, "").astype(str)
    if text.str.contains("\x00", regex=False).any():
        text = text.str.replace("\x00", "", regex=False)
    out = text.to_numpy(dtype=object)
    out[missing] = None
    return out


def float_column(values: pd.Series) -> np.ndarray:
    """Convert a numeric column to float64; NaN for missing (infinities count as missing)."""
    numbers = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy().copy()
    numbers[~np.isfinite(numbers)] = np.nan
    return numbers


def flag_column(values: pd.Series) -> np.ndarray:
    """Convert a flag column to an object array of ``True``/``False``/``None``."""
    missing = pd.isna(values).to_numpy()
    out = values.astype(object).where(~missing, False).astype(bool).to_numpy(dtype=object)
    out[missing] = None
    return out


def driver_values(values: pd.Series | np.ndarray, *, sqlite: bool) -> list[Any]:
    """Convert a stored column to what the database driver takes (``None`` for missing).

    Times go to SQLite as the ISO text SQLAlchemy's ``DateTime`` writes, to PostgreSQL as
    ``datetime`` objects.
    """
    array = np.asarray(values)
    if not len(array):
        return []
    if array.dtype.kind == "M":
        missing = np.isnat(array)
        if sqlite:
            text = np.datetime_as_string(array.astype("datetime64[us]"), unit="us")
            # "2026-10-28T08:00:00.000000" -> "... 08:00..." in place: the 'T' is always
            # character 10 of these fixed-width strings (years 1678-2261, see DATE_LIMITS)
            if text.dtype.itemsize // 4 == 26:
                text.view(np.uint32).reshape(len(text), 26)[:, 10] = ord(" ")
            else:
                text = np.char.replace(text, "T", " ")
            out = text.astype(object)
        else:
            out = array.astype("datetime64[us]").astype(object)
        out[missing] = None
        return out.tolist()
    if array.dtype.kind == "f":
        out = array.astype(object)
        out[np.isnan(array)] = None
        return out.tolist()
    # pandas may have turned an object column of str/None into its str dtype (NaN missing)
    out = np.array(array, dtype=object)
    out[pd.isna(out)] = None
    return out.tolist()


# --- raw statements: SQLAlchemy compiles once, the driver returns plain rows ---------------------

def fetch(conn: sa.Connection, statement: Any) -> list[tuple[Any, ...]]:
    """Return the rows of a query as plain tuples of driver values (no per-value processing)."""
    compiled = statement.compile(dialect=conn.dialect)
    params: Any = compiled.params
    if compiled.positiontup is not None:
        params = tuple(params[k] for k in compiled.positiontup)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), params)
        # sqlite3 and psycopg (default row factories) return a list of tuples
        return cast(list[tuple[Any, ...]], cursor.fetchall())
    finally:
        cursor.close()


def temp_table(conn: sa.Connection, name: str, like: list[sa.Column[Any]]) -> sa.Table:
    """Create a PostgreSQL temporary table with the names and types of ``like`` columns.

    It is dropped at the end of the transaction (also when the transaction rolls back).
    """
    table = sa.Table(name, sa.MetaData(), *(sa.Column(c.name, c.type) for c in like),
                     prefixes=["TEMPORARY"], postgresql_on_commit="DROP")
    table.create(conn)
    return table


def copy_rows(conn: sa.Connection, table: sa.Table, columns: dict[str, Any]) -> None:
    """Append rows to a PostgreSQL table with ``COPY ... FROM STDIN`` (psycopg 3).

    ``columns``: equal-length lists of driver values, or arrays or Series of stored values;
    written as one block of COPY text made in Arrow (:mod:`gridwatch.store._copy`), or row by
    row as driver values when a column holds values of another kind.
    """
    from gridwatch.store._copy import copy_text

    keys = list(columns)
    if not keys or not len(columns[keys[0]]):
        return
    prepare = conn.dialect.identifier_preparer
    names = ", ".join(prepare.quote(k) for k in keys)
    sql = f"COPY {prepare.format_table(table)} ({names}) FROM STDIN"
    block = copy_text(columns)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(sql) as copy:
            if block is not None:
                copy.write(memoryview(block))
                return
            values = [driver_values(v, sqlite=False) if isinstance(v, np.ndarray | pd.Series)
                      else v for v in columns.values()]
            for row in zip(*values, strict=True):
                copy.write_row(row)
    finally:
        cursor.close()


# --- values out -------------------------------------------------------------------------------

def utc_times(values: Any) -> pd.Series:
    """Read stored naive UTC times (datetime objects or ISO text) as ``datetime64[ns, UTC]``."""
    series = pd.Series(values, dtype=object)
    if not len(series):
        return pd.Series(pd.DatetimeIndex([], tz="UTC"), dtype="datetime64[ns, UTC]")
    return pd.to_datetime(series, utc=True, format="ISO8601").astype("datetime64[ns, UTC]")

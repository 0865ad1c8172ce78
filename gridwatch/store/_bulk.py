"""Bulk writes to a SQLite store: rows go in as Arrow columns, not as Python values.

Python's ``sqlite3`` makes a Python object of every value and binds it one at a time; for the
rows of a million problems that alone took about 30 s, whatever the tables. Here a set of rows
is written by the ADBC SQLite driver (C, straight from Arrow buffers) into a scratch database
file of its own, which is then attached to the write transaction's connection and copied into
the store's tables with ``INSERT … SELECT`` (or used in an ``UPDATE``/``DELETE``): the store is
still written by its one transaction, and what fails rolls back as before. The scratch files are
detached and removed when the transaction has ended (:func:`release`), committed or not.

Values reach the store exactly as SQLAlchemy's pysqlite dialect writes them: times as the text
``YYYY-MM-DD HH:MM:SS.ffffff``, flags as 0/1, missing values as NULL.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from numba import njit

__all__: list[str] = []

#: Key of a write connection's scratch databases in its ``info``.
_INFO_KEY = "gridwatch_scratch"
#: SQLite attaches at most 10 databases to a connection (its default SQLITE_MAX_ATTACHED).
MAX_ATTACHED = 10
_TIME_WIDTH = 26  # "2026-10-28 08:00:00.000000"


@dataclass
class Scratch:
    """The scratch databases attached to one write connection, and those being written."""

    folder: Path
    names: list[str] = field(default_factory=list)  # taken, attached or not
    attached: list[str] = field(default_factory=list)
    writing: list[threading.Thread] = field(default_factory=list)


def stage(conn: sa.Connection, columns: Mapping[str, Any], *, store_file: Path | None,
          order: np.ndarray | None = None) -> sa.Table:
    """Write equal-length columns into a new scratch table attached to ``conn``.

    Parameters
    ----------
    conn
        The write transaction's connection (SQLite).
    columns
        Stored values per column name: arrays or Series (times as naive UTC ``datetime64``,
        numbers, flags, text with None/NaN for missing) or lists of driver values.
    store_file
        The store's database file: the scratch files go in a folder beside it,
        ``.<file name>.scratch-<random>`` (None, for a store in memory: the system's temporary
        folder). Such folders left by an import that was killed are removed here: ``conn``
        holds the store's write lock, so no other import of this store is running.
    order
        The positions of the rows in the order to write them (None: as given).

    Returns
    -------
    sqlalchemy.Table
        The scratch table (in its attached schema), rows in ``rowid`` order as written.
    """
    table, _rows = stage_soon(conn, lambda: (columns, order), store_file=store_file,
                              thread=False)()
    return table


def stage_soon(conn: sa.Connection,
               rows: Callable[[], tuple[Mapping[str, Any], np.ndarray | None]], *,
               store_file: Path | None, thread: bool = True
               ) -> Callable[[], tuple[sa.Table, int]]:
    """:func:`stage` on a thread of its own: ``rows()`` (the columns and their order, made
    there too) are converted to Arrow and written to a scratch file while the caller goes on
    (the ADBC driver lets other threads run), once those asked for before are written.
    Returns the function that waits for it, attaches it to ``conn`` and returns the table
    and its number of rows; call it on the thread that uses ``conn``."""
    import adbc_driver_sqlite.dbapi as adbc

    scratch = conn.info.get(_INFO_KEY)
    if scratch is None:
        if store_file is None:
            made = tempfile.mkdtemp(prefix=".gridwatch-scratch-")
        else:
            prefix = f".{store_file.name}.scratch-"
            for left in store_file.parent.glob(f"{prefix}*"):
                shutil.rmtree(left, ignore_errors=True)
            made = tempfile.mkdtemp(prefix=prefix, dir=store_file.parent)
        scratch = Scratch(Path(made))
        conn.info[_INFO_KEY] = scratch
    if len(scratch.names) >= MAX_ATTACHED - 1:
        raise RuntimeError("too many scratch databases in one transaction")
    name = f"gw_scratch_{len(scratch.names)}"
    scratch.names.append(name)  # the name is taken now; it is attached once written
    path = scratch.folder / f"{name}.sqlite"
    failed: list[BaseException] = []
    written: list[tuple[pa.Schema, int]] = []
    # one scratch table is made at a time, in the order asked: the first is ready soonest
    previous = scratch.writing[-1] if scratch.writing else None

    def write() -> None:
        try:
            if previous is not None:
                previous.join()
            columns, order = rows()
            table = pa.table({name: arrow_column(values) for name, values in columns.items()})
            del columns
            if order is not None:
                table = table.take(pa.array(order))
            written.append((table.schema, table.num_rows))
            with adbc.connect(str(path)) as scratch_conn:
                with scratch_conn.cursor() as cursor:
                    cursor.adbc_ingest("staged", table, mode="create")
                scratch_conn.commit()
        except BaseException as exc:  # raised where the table is attached
            failed.append(exc)

    writer = threading.Thread(target=write, name=f"gridwatch-{name}")
    if thread:
        writer.start()
        scratch.writing.append(writer)
    else:
        write()

    def attached() -> tuple[sa.Table, int]:
        if thread:
            writer.join()
        if failed:
            raise failed[0]
        schema, length = written[0]
        conn.exec_driver_sql(f"ATTACH DATABASE ? AS {name}", (str(path),))
        scratch.attached.append(name)
        return sa.Table("staged", sa.MetaData(schema=name),
                        *(sa.Column(c.name, _sql_type(c.type)) for c in schema)), length

    return attached


def release(conn: sa.Connection) -> None:
    """Detach and remove the scratch databases of ``conn`` (after its transaction ended; those
    still being written are waited for); a connection that cannot detach them is
    invalidated, so the pool does not hand it out again."""
    scratch = conn.info.pop(_INFO_KEY, None)
    if scratch is None:
        return
    for writer in scratch.writing:
        writer.join()
    try:
        for name in scratch.attached if not conn.invalidated else ():
            conn.exec_driver_sql(f"DETACH DATABASE {name}")
    except sa.exc.DBAPIError:
        conn.invalidate()
    finally:
        shutil.rmtree(scratch.folder, ignore_errors=True)


def rowid_ranges(length: int, size: int) -> list[tuple[int, int]]:
    """Inclusive ``rowid`` ranges of ``size`` rows covering a scratch table of ``length`` rows
    (rowids 1..length), for statements run a batch at a time (progress).

    Examples
    --------
    >>> rowid_ranges(5, 2)
    [(1, 2), (3, 4), (5, 5)]
    """
    return [(start, min(start + size - 1, length)) for start in range(1, length + 1, size)]


# --- columns as Arrow -------------------------------------------------------------------------

def arrow_column(values: Any) -> pa.Array | pa.ChunkedArray:
    """One stored column as the Arrow array the scratch table takes (see the module's note)."""
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, (pd.StringDtype, pd.ArrowDtype)):
            array = pa.array(values, from_pandas=True)
            if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
                return array
            return _from_objects(values.to_numpy(dtype=object))
        values = values.to_numpy()
    if isinstance(values, list):
        values = np.asarray(values, dtype=object) if values else np.array([], dtype=object)
    array = np.asarray(values)
    if array.dtype.kind == "M":
        return time_text(array)
    if array.dtype.kind == "f":
        return pa.array(array, type=pa.float64(), from_pandas=True)
    if array.dtype.kind == "b":
        return pa.array(array.astype(np.int64))
    if array.dtype.kind in "iu":
        return pa.array(array.astype(np.int64))
    return _from_objects(array.astype(object, copy=False))


def _from_objects(values: np.ndarray) -> pa.Array:
    """Text, flags (True/False/None) or integers from an object array; NaN/None are NULL."""
    array = pa.array(values, from_pandas=True)
    if pa.types.is_boolean(array.type) or pa.types.is_integer(array.type):
        return array.cast(pa.int64())
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), type=pa.string())
    if pa.types.is_timestamp(array.type):  # datetime objects: naive UTC, as stored
        return time_text(array.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False))
    return array


def compile_kernels() -> None:
    """Format a time (numba compiles the formatter the first time it runs after installing,
    or loads it from its cache, here instead of in the first import)."""
    time_text(np.array(["2026-10-28T08:00:00"], dtype="datetime64[us]"))


def time_text(times: np.ndarray) -> pa.Array:
    """Naive UTC times as the text SQLAlchemy's SQLite ``DateTime`` stores
    (``YYYY-MM-DD HH:MM:SS.ffffff``; NaT is NULL).

    Examples
    --------
    >>> time_text(np.array(["2026-10-28T08:00:01.5", "NaT"], dtype="datetime64[us]")).to_pylist()
    ['2026-10-28 08:00:01.500000', None]
    """
    micros = np.ascontiguousarray(times.astype("datetime64[us]")).view(np.int64)
    n = len(micros)
    missing = np.isnat(times)
    text = np.empty(n * _TIME_WIDTH, dtype=np.uint8)
    _format_times(micros, text)
    offsets = np.arange(0, (n + 1) * _TIME_WIDTH, _TIME_WIDTH, dtype=np.int32)
    validity = None
    if missing.any():
        validity = pa.array(~missing).buffers()[1]
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text), validity,
                                       int(missing.sum()))


@njit(cache=True, nogil=True)
def _format_times(micros: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    # days to civil date: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"
    for i in range(len(micros)):
        value = micros[i]
        days = value // 86_400_000_000
        rest = value - days * 86_400_000_000
        z = days + 719_468
        era = z // 146_097
        doe = z - era * 146_097
        yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
        mp = (5 * doy + 2) // 153
        day = doy - (153 * mp + 2) // 5 + 1
        month = mp + 3 if mp < 10 else mp - 9
        year = yoe + era * 400 + (1 if month <= 2 else 0)
        seconds = rest // 1_000_000
        fraction = rest - seconds * 1_000_000
        hour = seconds // 3600
        minute = (seconds // 60) % 60
        second = seconds % 60
        o = i * 26
        _digits(out, o, year, 4)
        out[o + 4] = 45  # -
        _digits(out, o + 5, month, 2)
        out[o + 7] = 45
        _digits(out, o + 8, day, 2)
        out[o + 10] = 32  # space
        _digits(out, o + 11, hour, 2)
        out[o + 13] = 58  # :
        _digits(out, o + 14, minute, 2)
        out[o + 16] = 58
        _digits(out, o + 17, second, 2)
        out[o + 19] = 46  # .
        _digits(out, o + 20, fraction, 6)


@njit(cache=True, nogil=True, inline="always")
def _digits(out: np.ndarray, at: int, value: int, width: int) -> None:  # pragma: no cover
    for k in range(width - 1, -1, -1):
        out[at + k] = 48 + value % 10
        value //= 10


def _sql_type(arrow_type: pa.DataType) -> sa.types.TypeEngine[Any]:
    if pa.types.is_integer(arrow_type):
        return sa.Integer()
    if pa.types.is_floating(arrow_type):
        return sa.Float()
    return sa.Text()

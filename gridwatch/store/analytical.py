"""The analytical copy of a store: the typed columns a supervisor's question reads.

The transactional store (SQLite, PostGIS) stays the source of truth. After every import the
store refreshes a columnar copy of its problems and their status history (uncompressed Arrow IPC
files, read memory-mapped: a million problems open in a few hundredths of a second, where Parquet
took about a second to decode) in a folder of its own, named after the store's last run;
questions read the copy instead of decoding the SQL tables row by row. What does not change
between imports and is costly to compute (derived deadlines, rebounds, duplicate incidents) is
kept beside it, keyed by the settings it was computed with.

Every version of the copy lives in its own sub-folder; a ``CURRENT`` file names the one in use
and is replaced atomically (``os.replace``), so a reader sees the previous copy or the new one,
never half of one, and an import that fails leaves the previous copy in place. A copy that is
missing, damaged or older than the store is never used: it is rebuilt from the store
(:meth:`AnalyticalCopy.rebuild`, ``gridwatch store rebuild``).

Layout of the folder::

    CURRENT                  name of the sub-folder in use, e.g. ``r000012-5f3a9c``
    r000012-5f3a9c/
        meta.json            {"version", "store", "run_id", "rows", "layers"}
        issues.arrow         Store.issues() of that run
        history.arrow        Store.history() of that run
        derived-<key>.arrow  derived columns for one settings fingerprint
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

__all__ = ["COPY_VERSION", "AnalyticalCopy", "CopyVersion", "DerivedBuffer", "DerivedParts",
           "StagedVersion"]

#: Bumped when the layout or the meaning of a stored column changes: older copies are rebuilt.
#: 2: Arrow IPC files instead of Parquet. 3: the problems' ledger_ref column. 4: the
#: geocoding columns geocode_source, geocode_score and address_offset_m.
#: 5: the photo_before / photo_after columns. 6: enterprise, petition and campaign columns
#: (issue 16).
COPY_VERSION = 6
_CURRENT = "CURRENT"
_META = "meta.json"
_LOCK = ".lock"
_THREAD_LOCK = threading.Lock()


#: A staged version (:meth:`AnalyticalCopy.stage`) is removed by other writers only when
#: older than this: one left by a killed import.
STAGED_KEPT_S = 3600


@dataclass(frozen=True)
class StagedVersion:
    """A version written but not yet in use (:meth:`AnalyticalCopy.stage`)."""

    name: str
    folder: Path
    run_id: int
    rows: int
    layers: tuple[str, ...]


@dataclass(frozen=True)
class CopyVersion:
    """One version of the copy: the run it reflects and its folder."""

    run_id: int
    folder: Path
    rows: int
    layers: tuple[str, ...]


class AnalyticalCopy:
    """The columnar copy kept in ``folder`` (created on first write).

    Parameters
    ----------
    folder
        Where the versions live; one folder per store.
    store_id
        The identity of the store (see ``Store.analytical_copy``).
    """

    def __init__(self, folder: str | os.PathLike[str], *, store_id: str = "") -> None:
        self.folder = Path(folder)
        #: Which store the copy is of: a copy left by another store at the same place (a
        #: store file deleted and made again) is never read, and is replaced.
        self.store_id = store_id

    def __repr__(self) -> str:
        return f"AnalyticalCopy({str(self.folder)!r})"

    # --- reading ------------------------------------------------------------------------------

    def current(self) -> CopyVersion | None:
        """The version in use, or ``None`` when there is none (or it cannot be read)."""
        try:
            name = (self.folder / _CURRENT).read_text(encoding="utf-8").strip()
            meta = json.loads((self.folder / name / _META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("version") != COPY_VERSION \
                or meta.get("store") != self.store_id:
            return None
        try:
            return CopyVersion(run_id=int(meta["run_id"]), folder=self.folder / name,
                               rows=int(meta["rows"]), layers=tuple(meta["layers"]))
        except (KeyError, TypeError, ValueError):
            return None

    def read(self, run_id: int) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """The problems and history of run ``run_id``, or ``None`` when the copy in use is
        of another run (or unreadable): the caller then reads the store."""
        version = self.current()
        if version is None or version.run_id != run_id:
            return None
        try:
            issues = _read_frame(version.folder / "issues.arrow")
            history = _read_frame(version.folder / "history.arrow")
        except (OSError, ValueError):
            return None
        if len(issues) != version.rows:
            return None
        return issues, history

    def read_derived(self, run_id: int, key: str) -> pd.DataFrame | None:
        """Derived columns stored for run ``run_id`` and settings fingerprint ``key``."""
        version = self.current()
        if version is None or version.run_id != run_id:
            return None
        path = version.folder / f"derived-{key}.arrow"
        try:
            frame = _read_frame(path)
        except (OSError, ValueError):
            return None
        with contextlib.suppress(OSError):  # last used first when some are let go
            os.utime(path)
        return frame

    # --- writing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the copy's lock (between threads and between processes)."""
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        with _THREAD_LOCK, open(self.folder / _LOCK, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write(self, run_id: int, issues: pd.DataFrame, history: pd.DataFrame, *,
              layers: tuple[str, ...]) -> CopyVersion:
        """Write a new version and make it current, unless a newer run is already current.

        Call it while holding :meth:`locked`. Returns the version in use afterwards.
        """
        current = self.current()
        if current is not None and current.run_id > run_id:
            return current
        return self.publish(self.stage(run_id, issues, history, layers=layers))

    def stage(self, run_id: int, issues: pd.DataFrame, history: pd.DataFrame, *,
              layers: tuple[str, ...]) -> StagedVersion:
        """Write a version that is not yet in use (:meth:`publish` puts it in use; an import
        writes it while its rows are still being written to the store). Needs no lock: a
        staged version is left alone by other writers for an hour (:data:`STAGED_KEPT_S`)."""
        name = f"r{run_id:06d}-{secrets.token_hex(3)}"
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = self.folder / f".{name}.partial"
        staging.mkdir()
        try:
            _write_frame(issues, staging / "issues.arrow")
            _write_frame(history, staging / "history.arrow")
            meta = {"version": COPY_VERSION, "store": self.store_id, "run_id": int(run_id),
                    "rows": len(issues), "layers": list(layers)}
            (staging / _META).write_text(json.dumps(meta), encoding="utf-8")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return StagedVersion(name=name, folder=staging, run_id=run_id, rows=len(issues),
                             layers=layers)

    def publish(self, staged: StagedVersion, *, history: pd.DataFrame | None = None,
                ) -> CopyVersion:
        """Put a staged version in use (with ``history`` written over its history first,
        when given), unless a newer run is already current; call it while holding
        :meth:`locked`. Returns the version in use afterwards."""
        current = self.current()
        if current is not None and current.run_id > staged.run_id:
            self.discard(staged)
            return current
        try:
            if history is not None:
                _write_frame(history, staged.folder / "history.arrow")
            staged.folder.rename(self.folder / staged.name)
        except BaseException:
            self.discard(staged)
            raise
        pointer = self.folder / f".{_CURRENT}.{staged.name}"
        pointer.write_text(staged.name, encoding="utf-8")
        os.replace(pointer, self.folder / _CURRENT)
        self._prune(keep={staged.name, current.folder.name if current else ""})
        return CopyVersion(run_id=staged.run_id, folder=self.folder / staged.name,
                           rows=staged.rows, layers=staged.layers)

    @staticmethod
    def discard(staged: StagedVersion) -> None:
        """Remove a staged version that will not be put in use."""
        shutil.rmtree(staged.folder, ignore_errors=True)

    def write_derived(self, run_id: int, key: str, frame: pd.DataFrame) -> bool:
        """Keep derived columns beside version ``run_id``; False when that version is no
        longer current (nothing written)."""
        version = self.current()
        if version is None or version.run_id != run_id:
            return False
        target = version.folder / f"derived-{key}.arrow"
        partial = version.folder / f".derived-{key}.{secrets.token_hex(3)}.partial"
        try:
            _write_frame(frame, partial)
            os.replace(partial, target)
        except OSError:
            partial.unlink(missing_ok=True)
            return False
        return True

    def forget_derived(self, run_id: int, prefix: str, *, keep: set[str], most: int) -> None:
        """Of the derived parts of version ``run_id`` whose key starts with ``prefix``, leave
        those in ``keep`` and the ``most`` last written or read (:meth:`read_derived` marks a
        read); delete the rest. A reader that has one mapped keeps its pages."""
        version = self.current()
        if version is None or version.run_id != run_id:
            return
        found = []
        for path in version.folder.glob(f"derived-{prefix}*.arrow"):
            key = path.name[len("derived-"):-len(".arrow")]
            if key in keep:
                continue
            with contextlib.suppress(OSError):
                found.append((path.stat().st_mtime_ns, path))
        for _, path in sorted(found, reverse=True)[most:]:
            path.unlink(missing_ok=True)

    def _prune(self, keep: set[str]) -> None:
        """Remove versions other than ``keep`` (the new one and the one before it, which a
        reader may still be reading) and staging left by a killed writer (an hour old: younger
        ones may be an import's, still writing its rows)."""
        now = time.time()
        for entry in self.folder.iterdir():
            if entry.name in keep or entry.name in (_CURRENT, _LOCK):
                continue
            if entry.is_dir() and entry.name.endswith(".partial"):
                with contextlib.suppress(OSError):
                    if now - entry.stat().st_mtime > STAGED_KEPT_S:
                        shutil.rmtree(entry, ignore_errors=True)
            elif entry.is_dir() and entry.name.startswith("r"):
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith(f".{_CURRENT}."):
                entry.unlink(missing_ok=True)


class DerivedParts(Protocol):
    """Where a supervision context keeps its derived parts: the analytical copy, or a
    :class:`DerivedBuffer` until the copy's version exists."""

    def read_derived(self, run_id: int, key: str) -> pd.DataFrame | None: ...

    def write_derived(self, run_id: int, key: str, frame: pd.DataFrame) -> bool: ...

    def forget_derived(self, run_id: int, prefix: str, *, keep: set[str], most: int) -> None: ...


class DerivedBuffer:
    """Derived parts of run ``run_id`` computed before its version of the copy exists (while
    the import's rows are being written), kept in memory and written beside the version by
    :meth:`flush` once it is in place.
    """

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.parts: dict[str, pd.DataFrame] = {}

    def read_derived(self, run_id: int, key: str) -> pd.DataFrame | None:
        """The part kept under ``key`` (moved to the end: last used)."""
        if run_id != self.run_id or key not in self.parts:
            return None
        self.parts[key] = self.parts.pop(key)
        return self.parts[key]

    def write_derived(self, run_id: int, key: str, frame: pd.DataFrame) -> bool:
        """Keep a part (False, nothing kept, for another run)."""
        if run_id != self.run_id:
            return False
        self.parts.pop(key, None)
        self.parts[key] = frame
        return True

    def forget_derived(self, run_id: int, prefix: str, *, keep: set[str], most: int) -> None:
        """As :meth:`AnalyticalCopy.forget_derived`, in the order parts were last used."""
        if run_id != self.run_id:
            return
        found = [key for key in self.parts if key.startswith(prefix) and key not in keep]
        for key in found[:max(len(found) - most, 0)]:
            del self.parts[key]

    def flush(self, copy: AnalyticalCopy) -> int:
        """Write every part beside the copy's version of the run; how many were written
        (none when that version is not the current one)."""
        return sum(copy.write_derived(self.run_id, key, frame)
                   for key, frame in self.parts.items())


#: pandas' NaT: the smallest int64, in every unit of ``datetime64``.
_NAT = np.iinfo("int64").min


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame as an uncompressed Arrow IPC file (pandas dtypes kept in its metadata).

    The columns are read in place (the file's pages) rather than copied into fresh memory,
    which is what a question pays most for on a virtual machine: the file is one record batch
    (text in several would be joined when read: 99 MB of the problems' 1,000,000 rows), and
    missing floats are written as NaN and missing times as pandas' NaT value rather than as
    Arrow nulls (a column with nulls is copied to put NaN or NaT where they are).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.feather as feather

    table = pa.Table.from_pandas(frame, preserve_index=False)
    for position, (field, dtype) in enumerate(zip(table.schema, frame.dtypes, strict=True)):
        column = table.column(position)
        # only numpy floats and times, whose missing value is NaN or NaT: a nullable
        # extension dtype (Float64, Arrow types) reads its nulls back as pd.NA
        plain = isinstance(dtype, np.dtype | pd.DatetimeTZDtype)
        if not column.null_count or not plain:
            continue
        if pa.types.is_floating(field.type):
            filled = pc.fill_null(column, pa.scalar(float("nan"), type=field.type))
        elif pa.types.is_timestamp(field.type):
            filled = pc.fill_null(column.cast(pa.int64()), _NAT).cast(field.type)
        else:
            continue
        table = table.set_column(position, field, filled)
    chunksize = None  # pyarrow's batches, when a column is too large for one
    with contextlib.suppress(pa.ArrowInvalid, pa.ArrowCapacityError):
        # one record batch: a column in several is joined into fresh memory when read
        table = table.combine_chunks()
        chunksize = max(table.num_rows, 1)
    feather.write_feather(table, path, compression="uncompressed", chunksize=chunksize)


def _read_frame(path: Path) -> pd.DataFrame:
    """Read a frame written by :func:`_write_frame`, memory-mapped: the columns point into the
    file's pages (shared between processes through the page cache) instead of being decoded.

    One block per column: consolidating the columns of a dtype into one block would copy
    them into fresh memory.
    """
    import pyarrow.feather as feather

    frame: pd.DataFrame = feather.read_table(path, memory_map=True).to_pandas(
        split_blocks=True)
    return frame


def settings_key(*parts: Any) -> str:
    """A short fingerprint of the settings derived columns were computed with."""
    import hashlib

    text = json.dumps([repr(p) for p in parts], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

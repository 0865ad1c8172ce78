"""Read problem exports into canonical records, and account for every input row.

:func:`read_issues` reads CSV/XLSX/JSON/GeoJSON/Open311 files (see
:mod:`gridwatch.ingest._readers`), maps their headers to the canonical columns of
:mod:`gridwatch.schema`, normalises labels, parses dates (:mod:`gridwatch.ingest._dates`) and
checks each row. Every input row ends as exactly one accepted record or one reject, so
``rows_in == accepted + rejected`` always holds.

A row with several problems gives one reject: its ``column`` and ``value`` are those of the first
problem in the file's column order, and its ``reason`` lists every problem, joined by ``"; "``
(no single reason contains ``";"``).
A duplicate issue_id among accepted rows (within a file or across the files of one call, in the
order given) keeps the later row; each earlier one becomes a reject saying which row superseded
it. A later row that is itself rejected does not supersede an earlier good row.
Completely empty rows (blank lines, formatted but empty spreadsheet rows) are not rows, and
neither are title lines above the header of a CSV/XLSX (the header is looked for in the first ten
rows when the first row gives no issue_id and reported_at; :attr:`FileStats.header_row` says
where it was found). Row numbers are always those of the file.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gridwatch.config import InputSettings
from gridwatch.errors import CRSError, InputFileError, SchemaError
from gridwatch.ingest._dates import parse_datetimes, parse_datetimes_and_ends
from gridwatch.ingest._readers import HEADER_SEARCH_ROWS, RawTable, check_file, read_tables
from gridwatch.schema import (
    CANONICAL_COLUMNS,
    CATEGORIES,
    CATEGORY_LABELS,
    CLOSED_STATUSES,
    DATETIME_COLUMNS,
    DEFAULT_TIMEZONE,
    HEADER_ALIASES,
    ISSUE_ID_MAX_CHARS,
    REJECT_COLUMNS,
    REQUIRED_COLUMNS,
    SOURCE_LABELS,
    SOURCES,
    STATUS_LABELS,
    STATUSES,
    concat_rejects,
    header_key,
    label_table,
    normalise_label,
)

__all__ = ["FileStats", "IngestResult", "check_input_files", "map_headers", "match_headers",
           "read_issues"]
_TEXT_FIELDS: tuple[str, ...] = ("description", "address", "reported_grid", "responsible_unit",
                                 "severity", "task_type", "ledger_ref",
                                 "photo_before", "photo_after",
                                 "enterprise_code", "enterprise_name", "petition_batch",
                                 "campaign")
_LABEL_FIELDS: dict[str, tuple[Mapping[str, str], tuple[str, ...]]] = {
    "category": (CATEGORY_LABELS, CATEGORIES),
    "source": (SOURCE_LABELS, SOURCES),
    "status": (STATUS_LABELS, STATUSES),
}
#: Open311's updated_datetime is the closing time only for closed requests.
_OPEN311_UPDATED = "updateddatetime"
#: Rows checked together: a year of daily exports is checked in a few batches, each while the
#: files after it are still being read.
BATCH_ROWS = 200_000
_CRS_ALLOWED = ("wgs84, cgcs2000, gcj02, bd09 or EPSG:n (also written e.g. WGS-84, GPS, "
                "GCJ02, 火星坐标, 高德, BD09, 百度, CGCS2000, 国家2000, EPSG:4549)")
_DATE_HINT = "write e.g. 2024-03-15 08:00, 2024/3/15, 2024年3月15日 or an Excel date"


@dataclass(frozen=True)
class FileStats:
    """What was read from one file (or one zip member)."""

    path: str
    format: str
    encoding: str | None
    rows_in: int
    accepted: int
    rejected: int
    #: Input header -> canonical column, for the headers that were used.
    mapped: dict[str, str]
    #: Input headers not used (unknown, or beaten by a higher-priority alias).
    unmapped: list[str]
    #: Row number of the header (greater than 1 when title rows come first; they are not rows).
    header_row: int = 1


@dataclass(frozen=True)
class IngestResult:
    """Records and rejects of one call of :func:`read_issues`."""

    records: pd.DataFrame
    rejects: pd.DataFrame
    rows_in: int
    duplicates: int
    files: list[FileStats]

    @property
    def accepted(self) -> int:
        """Number of accepted records."""
        return len(self.records)

    @property
    def rejected(self) -> int:
        """Number of rejected input rows (duplicates included)."""
        return len(self.rejects)


def map_headers(headers: Iterable[object], *,
                aliases: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
    """Map a file's headers to canonical columns.

    Matching ignores case, spaces, underscores, hyphens and full-width forms
    (:func:`gridwatch.schema.header_key`). When several headers map to one column the one whose
    alias comes first wins (aliases from the config before the built-in ones, then the order of
    :data:`gridwatch.schema.HEADER_ALIASES`; the earlier header on a tie); the others stay
    unmapped.

    Parameters
    ----------
    headers
        The file's headers, in file order.
    aliases
        Extra aliases per canonical column, e.g. ``{"issue_id": ["工单号"]}``.

    Returns
    -------
    dict
        Header -> canonical column, only for the headers used.

    Examples
    --------
    >>> map_headers(["问题 编号", "ＬＯＮ", "Reported_At", "备注"])
    {'问题 编号': 'issue_id', 'ＬＯＮ': 'lon', 'Reported_At': 'reported_at'}
    """
    return _best_headers(headers, _alias_table(aliases))


def match_headers(headers: Iterable[object],
                  aliases: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Map headers to columns by ``aliases`` alone (column -> accepted headers, the earlier
    alias wins, then the earlier header), as :func:`map_headers` does for problem files: for
    files of other kinds (ledgers, registers).

    Examples
    --------
    >>> match_headers(["任务 编号", "备注"], {"task_id": ["整改任务编号", "任务编号"]})
    {'任务 编号': 'task_id'}
    """
    table: dict[str, tuple[str, int]] = {}
    for column, names in aliases.items():
        for i, name in enumerate(names):
            table.setdefault(header_key(name), (column, i))
    return _best_headers(headers, table)


def _best_headers(headers: Iterable[object],
                  table: Mapping[str, tuple[str, int]]) -> dict[str, str]:
    """Header -> column, in header order: per column the header of the best (lowest)
    priority in ``table`` (header key -> (column, priority)), then the earliest."""
    best: dict[str, tuple[int, int, str]] = {}
    for position, header in enumerate(headers):
        hit = table.get(header_key(header))
        if hit is None:
            continue
        column, priority = hit
        if column not in best or (priority, position) < best[column][:2]:
            best[column] = (priority, position, str(header))
    ordered = sorted(best.items(), key=lambda item: item[1][1])
    return {header: column for column, (_p, _pos, header) in ordered}


def _alias_table(aliases: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, int]]:
    """Header key -> (column, priority); config aliases are looked at before built-in ones."""
    table: dict[str, tuple[str, int]] = {}
    extra = {c: tuple(a) for c, a in (aliases or {}).items()}
    for column, names in extra.items():
        for i, name in enumerate(names):
            table.setdefault(header_key(name), (column, i))
    for column, names in HEADER_ALIASES.items():
        offset = len(extra.get(column, ()))
        for i, name in enumerate(names):
            table.setdefault(header_key(name), (column, offset + i))
    return table


def check_input_files(paths: Sequence[str | os.PathLike[str]]) -> None:
    """Check that every input file exists (and is not a folder), before anything is opened.

    Raises
    ------
    InputFileError
        Naming every missing file at once.
    """
    problems = []
    for path in paths:
        try:
            check_file(path)
        except InputFileError as exc:
            problems.append(str(exc))
    if len(problems) == 1:
        raise InputFileError(problems[0])
    if problems:
        raise InputFileError(f"{len(problems)} input files cannot be read:\n"
                             + "\n".join(f"  - {p}" for p in problems))


def read_issues(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    settings: InputSettings = InputSettings(),  # noqa: B008 - frozen dataclass
    timezone: str = DEFAULT_TIMEZONE,
    crs: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    by_issue_id: bool = False,
) -> IngestResult:
    """Read problem files into canonical records and rejects.

    Parameters
    ----------
    paths
        One file or several, read in order (a later row wins for a duplicate issue_id).
        CSV/TXT/TSV, XLSX, JSON, GeoJSON, Open311 JSON/CSV; ``.gz`` or ``.zip`` compressed.
    settings
        ``[input]`` of the project file: encoding, aliases, labels, keep_columns, limits on size,
        rows and columns, default coordinate system.
    timezone
        Zone of naive date/times in the files; results are UTC.
    crs
        Coordinate system of rows without a ``坐标系`` value (overrides ``settings.crs``).
    progress
        Called as ``(rows_done, rows_total)`` after each batch of files is checked;
        ``rows_total`` counts the rows of the files read so far (files are read ahead).
    by_issue_id
        Return the records in issue_id order instead of the files' (an import does: the
        store keeps them in that order, and sorting the rows here costs no extra copy).

    Returns
    -------
    IngestResult
        ``records`` (canonical columns, ``source_file``, ``source_row``, keep_columns),
        ``rejects`` (file, row, column, value, reason), counts and per-file stats.

    Raises
    ------
    InputFileError
        A file is missing, of an unknown type, too big or unreadable.
    SchemaError
        A file has no column for issue_id or reported_at.
    CRSError
        ``crs`` (or ``settings.crs``) is not a known coordinate system.
    """
    from gridwatch.placing.coords import parse_crs  # the coordinate stage owns the labels

    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    label = crs if crs is not None else settings.crs
    default_crs = parse_crs(label)
    if default_crs is None:
        argument = "crs" if crs is not None else "[input] crs"
        raise CRSError(f"{argument} {label!r} is not a known coordinate system; "
                       f"allowed: {_CRS_ALLOWED}")
    # Files are checked a batch at a time while the next ones are still being read; each
    # file's headers are mapped as it arrives, so a bad file fails the call when it is read.
    mapped_all: list[tuple[RawTable, dict[str, str]]] = []
    total = 0

    def mapped_tables() -> Iterator[tuple[RawTable, dict[str, str]]]:
        nonlocal total
        for table in _read_each(paths, settings):
            mapped = _mapping_for(table, settings)
            mapped_all.append(mapped)
            total += len(mapped[0].frame)
            yield mapped

    parts: list[pd.DataFrame] = []
    kept_parts: list[np.ndarray] = []
    reject_parts: list[pd.DataFrame] = []
    done = 0
    for table, mapping, names in _batches(mapped_tables()):
        records, kept, rejects = _check_table(table, mapping, settings=settings,
                                              timezone=timezone, default_crs=default_crs,
                                              names=names)
        parts.append(records)
        kept_parts.append(kept)
        reject_parts.append(rejects)
        done += len(table.frame)
        if progress is not None:
            progress(done, total)
    id_headers = {t.name: h for t, m in mapped_all for h, c in m.items() if c == "issue_id"}
    if not parts:
        records, dup_rejects = _empty_records(settings), _rejects_frame([])
    else:
        records, dup_rejects = _kept_rows(parts, np.concatenate(kept_parts), id_headers,
                                          by_issue_id=by_issue_id)
    del parts
    rejects = concat_rejects(*reject_parts, dup_rejects)
    accepted = records["source_file"].value_counts()
    rejected = rejects["file"].value_counts()
    files = [_file_stats(t, m, int(accepted.get(t.name, 0)), int(rejected.get(t.name, 0)))
             for t, m in mapped_all]
    return IngestResult(records=records, rejects=rejects, rows_in=total,
                        duplicates=len(dup_rejects), files=files)


def _kept_rows(parts: list[pd.DataFrame], kept: np.ndarray, id_headers: dict[str, str], *,
               by_issue_id: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The checked batches' kept rows as one frame, less those whose issue_id a later kept
    row repeats (in the files' order, or in issue_id order), and the rejects of those.

    One stable sort of the kept ids finds the repeated ones (each run of equal ids is in the
    files' order: all but its last are superseded) and gives the issue_id order; each column
    is then taken once from the batches, two columns at a time (Arrow and numpy let other
    threads run), instead of joining the batches and copying the joined rows again.
    """
    def joined(name: str) -> pa.ChunkedArray:
        arrays = [_arrow(part[name]) for part in parts]
        return pa.chunked_array([chunk for array in arrays for chunk in array.chunks],
                                type=arrays[0].type)

    where = np.flatnonzero(kept)
    ids = joined("issue_id").take(pa.array(where))
    order = pc.sort_indices(ids).to_numpy()  # stable: equal ids keep the files' order
    sorted_ids = ids.take(pa.array(order))
    superseded = np.zeros(len(order), dtype=bool)
    if len(order) > 1:
        superseded[:-1] = pc.equal(sorted_ids[:-1], sorted_ids[1:]).to_numpy(
            zero_copy_only=False)
    rows = where[order[~superseded]]
    if not by_issue_id:
        rows.sort()
    dup_rejects = _rejects_frame([])
    if superseded.any():
        winners = np.flatnonzero(~superseded)
        losers = np.flatnonzero(superseded)
        # each loser's winner: the last of its run of equal ids, in sorted order
        won_by = winners[np.searchsorted(winners, losers)]
        files = joined("source_file")
        numbers = np.concatenate([part["source_row"].to_numpy() for part in parts])
        loser_rows, winner_rows = where[order[losers]], where[order[won_by]]
        dup_rejects = _rejects_frame([
            (file, int(row), id_headers[file], issue_id,
             f"duplicate issue_id: {issue_id!r} is superseded by {won_file} row {int(won_row)}")
            for file, row, issue_id, won_file, won_row in zip(
                files.take(pa.array(loser_rows)).to_pylist(), numbers[loser_rows].tolist(),
                sorted_ids.take(pa.array(losers)).to_pylist(),
                files.take(pa.array(winner_rows)).to_pylist(), numbers[winner_rows].tolist(),
                strict=True)])
        # the rejects in the files' order, as the rows were read
        dup_rejects = dup_rejects.iloc[np.argsort(loser_rows, kind="stable")]
    if len(parts) == 1 and len(rows) == len(parts[0]) and (rows == np.arange(len(rows))).all():
        return parts[0], dup_rejects.reset_index(drop=True)
    taken = pa.array(rows)

    def column(name: str) -> pd.Series:
        first = parts[0][name]
        if all(isinstance(part[name].dtype, pd.StringDtype) for part in parts):
            values = joined(name).take(taken)
            return values.to_pandas(types_mapper={values.type: first.dtype}.get).rename(name)
        whole = pd.concat([part[name] for part in parts], ignore_index=True) \
            if len(parts) > 1 else first
        return whole.take(rows).reset_index(drop=True)

    names = list(parts[0].columns)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="gridwatch-take") as pool:
        records = pd.DataFrame(dict(zip(names, pool.map(column, names), strict=True)))
    return records, dup_rejects.reset_index(drop=True)


def _arrow(values: pd.Series) -> pa.ChunkedArray:
    """The Arrow array behind a ``str`` column (made for one of another kind)."""
    array = pa.array(values, from_pandas=True)
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _read_each(paths: Sequence[str | os.PathLike[str]],
               settings: InputSettings) -> Iterator[RawTable]:
    """Read every file into raw tables, yielded in order; files are read two (or more) at a
    time, ahead of the caller.

    Parsing runs mostly outside the GIL (pyarrow), so a year of daily exports reads about
    twice as fast on two cores, and the caller checks the tables already read meanwhile. The
    error of the first bad file in order is raised.
    """
    def read(path: str | os.PathLike[str]) -> list[RawTable]:
        return read_tables(path, encoding=settings.encoding, max_file_mb=settings.max_file_mb,
                           max_rows=settings.max_rows, max_columns=settings.max_columns)

    if len(paths) < 2:
        for path in paths:
            yield from read(path)
        return
    workers = min(len(paths), max(2, os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gridwatch-read") as pool:
        futures = [pool.submit(read, path) for path in paths]
        try:
            for future in futures:
                yield from future.result()
        finally:  # an error, or the caller stopped: files not yet read are not read
            for future in futures:
                future.cancel()


def _batches(mapped: Iterable[tuple[RawTable, dict[str, str]]], *, rows: int | None = None,
             ) -> Iterator[tuple[RawTable, dict[str, str], np.ndarray]]:
    """Join runs of consecutive tables with the same headers into one table to check, of
    about ``rows`` rows (default :data:`BATCH_ROWS`; a table is never split).

    A year of daily exports is hundreds of small files with one layout; checking them column by
    column a batch at a time, rather than file by file, removes most of the per-file cost. Only
    consecutive tables are joined, so rows keep the order of the files (a later row wins a
    duplicate id). Yields the table, its mapping and the file name of each row.
    """
    run: list[RawTable] = []
    run_mapping: dict[str, str] = {}
    run_rows = 0
    rows = rows or BATCH_ROWS

    def flush() -> tuple[RawTable, dict[str, str], np.ndarray]:
        names = np.concatenate([np.full(len(t.frame), t.name, dtype=object) for t in run])
        if len(run) == 1:
            return run[0], run_mapping, names
        offsets = np.cumsum([0] + [len(t.frame) for t in run[:-1]])
        errors = {int(o) + pos: e for t, o in zip(run, offsets, strict=True)
                  for pos, e in t.row_errors.items()}
        joined = replace(run[0], frame=pd.concat([t.frame for t in run], ignore_index=True),
                         rows=np.concatenate([t.rows for t in run]), row_errors=errors)
        return joined, run_mapping, names

    for table, mapping in mapped:
        if not mapping:  # an empty JSON array: nothing to check
            continue
        same = (run and mapping == run_mapping and table.format == run[0].format
                and list(table.frame.columns) == list(run[0].frame.columns))
        if run and (not same or run_rows >= rows):
            yield flush()
            run, run_rows = [], 0
        run.append(table)
        run_rows += len(table.frame)
        run_mapping = mapping
    if run:
        yield flush()


def _mapping_for(table: RawTable,
                 settings: InputSettings) -> tuple[RawTable, dict[str, str]]:
    """The table (re-headed when its header is below title rows) and its header mapping."""
    headers = [str(h) for h in table.frame.columns]
    if not headers and table.frame.empty and table.format != "csv":
        return table, {}  # an empty JSON array or FeatureCollection: no rows, no headers
    mapping = map_headers(headers, aliases=settings.aliases)
    if not _has_required(mapping):
        found = _header_below_titles(table, settings)
        if found is not None:
            table, mapping = found
            headers = [str(h) for h in table.frame.columns]
    if "closed_at" not in mapping.values():
        updated = [h for h in headers if header_key(h) == _OPEN311_UPDATED]
        if updated:
            mapping[updated[0]] = "closed_at"
    missing = [c for c in REQUIRED_COLUMNS if c not in mapping.values()]
    if missing:
        listed = ", ".join(repr(h) for h in headers) or "(none)"
        accepted = "; ".join(
            f"for {c}: {', '.join([*settings.aliases.get(c, ()), *HEADER_ALIASES[c]])}"
            for c in missing)
        raise SchemaError(
            f"{table.name}: no column gives {' or '.join(missing)}. Headers found: {listed}. "
            f"Headers accepted {accepted} (case, spaces, underscores and full-width forms do not "
            "matter; add your own under [input.aliases] in gridwatch.toml)")
    return table, mapping


def _has_required(mapping: dict[str, str]) -> bool:
    return all(c in mapping.values() for c in REQUIRED_COLUMNS)


def _header_below_titles(table: RawTable, settings: InputSettings,
                         ) -> tuple[RawTable, dict[str, str]] | None:
    """Find the header among the first rows of a sheet that starts with title rows.

    Chinese exports often put a title (``嘉兴市环境问题清单``) and a date line above the table.
    Rows above the header are titles, not data rows, so they are not counted as rows.
    """
    if table.format not in ("csv", "xlsx"):
        return None
    frame = table.frame
    for k in range(min(HEADER_SEARCH_ROWS, len(frame))):
        cells = [_to_text(v) for v in frame.iloc[k].tolist()]
        mapping = map_headers([c or "" for c in cells], aliases=settings.aliases)
        if not _has_required(mapping):
            continue
        headers = _unique([(c or "").strip() or f"(column {i + 1})" for i, c in enumerate(cells)])
        body = frame.iloc[k + 1:].reset_index(drop=True)
        body.columns = headers
        errors = {p - k - 1: e for p, e in table.row_errors.items() if p > k}
        header_row = int(table.rows[k])
        return (replace(table, frame=body, rows=table.rows[k + 1:], row_errors=errors,
                        header_row=header_row),
                map_headers(headers, aliases=settings.aliases))
    return None


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for header in headers:
        seen[header] = seen.get(header, -1) + 1
        out.append(f"{header}.{seen[header]}" if seen[header] else header)
    return out


class _Problems:
    """Problems found per row, kept per input column so the first can be named."""

    def __init__(self, n: int, positions: dict[str, int]) -> None:
        self.n = n
        self.positions = positions
        # (column position, header, row positions, values, reasons)
        self.items: list[tuple[int, str, np.ndarray, list[str], list[str]]] = []

    def add(self, header: str, mask: np.ndarray | pd.Series, values: pd.Series | str,
            reason: Callable[[str], str]) -> None:
        """Record a problem in column ``header`` for the rows in ``mask``.

        ``values`` gives the offending input values (one per row, or one for all rows);
        ``reason`` turns a value into the sentence a person reads (once per distinct value).
        """
        mask = np.asarray(mask, dtype=bool)
        where = np.flatnonzero(mask)
        if not len(where):
            return
        if isinstance(values, str):
            texts = [values] * len(where)
        else:
            texts = ["" if v is None or pd.isna(v) else str(v)
                     for v in values.iloc[where].tolist()]
        cache: dict[str, str] = {}
        reasons = [cache[t] if t in cache else cache.setdefault(t, reason(t)) for t in texts]
        self.items.append((self.positions.get(header, -1), header, where, texts, reasons))

    def rejected(self) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        for item in self.items:
            out[item[2]] = True
        return out

    def frame(self, names: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
        per_row: dict[int, list[tuple[str, str, str]]] = {}
        # sorted() is stable: problems in one column keep the order they were found in.
        for _pos, header, where, texts, reasons in sorted(self.items, key=lambda i: i[0]):
            for i, text, reason in zip(where.tolist(), texts, reasons, strict=True):
                per_row.setdefault(i, []).append((header, text, reason))
        records = []
        for i in sorted(per_row):
            hits = per_row[i]
            reason = "; ".join(dict.fromkeys(h[2] for h in hits))
            records.append((str(names[i]), int(rows[i]), hits[0][0], hits[0][1], reason))
        return _rejects_frame(records)


def _check_table(table: RawTable, mapping: dict[str, str], *, settings: InputSettings,
                 timezone: str, default_crs: str,
                 names: np.ndarray | None = None,
                 ) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Canonical records of every row of one table, which of them are accepted, and the
    rejects (the caller drops rejected rows once, together with superseded ones).

    ``names`` gives the file of each row when the table joins several files.
    """
    frame = table.frame
    n = len(frame)
    header_of = {column: header for header, column in mapping.items()}
    problems = _Problems(n, {str(h): i for i, h in enumerate(frame.columns)})
    for pos, (column, value, reason) in table.row_errors.items():
        mask = np.zeros(n, dtype=bool)
        mask[pos] = True
        problems.add(column, mask, value, functools.partial(_same_reason, reason))

    def raw(column: str) -> pd.Series:
        header = header_of.get(column)
        return _repeat(None, n) if header is None else frame[header].reset_index(drop=True)

    text = {c: _text(raw(c)) for c in mapping.values()}

    def given(column: str) -> pd.Series:
        return text[column] if column in text else _repeat(None, n)

    out: dict[str, Any] = {"issue_id": text["issue_id"]}
    id_header = header_of["issue_id"]
    problems.add(id_header, text["issue_id"].isna(), text["issue_id"],
                 lambda _v: f"issue_id missing: {id_header} is empty")
    problems.add(id_header, (text["issue_id"].str.len() > ISSUE_ID_MAX_CHARS).fillna(False)
                 .to_numpy(dtype=bool), text["issue_id"],
                 lambda v: f"issue_id too long: {id_header} has {len(v):,} characters, more "
                           f"than the {ISSUE_ID_MAX_CHARS} an id may have (is it in the "
                           "right column?)")
    bounds = (settings.min_date, settings.max_date)
    closed_ends = _check_times(out, raw, text, header_of, problems, timezone, bounds)
    for column, (base, codes) in _LABEL_FIELDS.items():
        values = given(column)
        found, unknown = _labels(values, label_table(base, codes, settings.labels.get(column)))
        out[column] = found if column == "status" else found.fillna("other")
        if column in header_of:
            problems.add(header_of[column], unknown, values,
                         functools.partial(_unknown_label, column, header_of[column]))
    for column in ("lon", "lat"):
        values = given(column)
        numbers = _numbers(values)
        finite = np.isfinite(numbers.to_numpy(dtype=float))
        out[column] = numbers.where(finite)
        if column in header_of:
            header = header_of[column]
            problems.add(header, values.notna().to_numpy() & ~finite, values,
                         functools.partial(_not_a_number, header))
    out["coord_system"] = _coord_systems(given("coord_system"), header_of.get("coord_system"),
                                         default_crs, problems)
    for column in _TEXT_FIELDS:
        out[column] = given(column)
    _check_status(out, text, header_of, problems, timezone, closed_ends)

    rejected = problems.rejected()
    records = pd.DataFrame({c: out[c] for c in CANONICAL_COLUMNS})
    if names is None:
        names = np.full(n, table.name, dtype=object)
    records["source_file"] = pd.Series(names, dtype="str")
    records["source_row"] = pd.Series(table.rows, dtype="int64")
    for column in settings.keep_columns:
        records[column] = _kept(frame, column)
    return records, ~rejected, problems.frame(names, table.rows)


def _check_times(out: dict[str, Any], raw: Callable[[str], pd.Series],
                 text: dict[str, pd.Series], header_of: dict[str, str], problems: _Problems,
                 timezone: str, bounds: tuple[dt.date, dt.date]) -> pd.Series | None:
    """Parse and check the time columns into ``out``; returns closed_at read as the end of
    each closing day when the same parse gave it (text as read), else None."""
    closed_ends = None
    for column in DATETIME_COLUMNS:
        given = raw(column)
        if column == "closed_at" and given.dtype == "str":
            # text as read (CSV): the end of each closing day, compared with reported_at by
            # _check_status, comes from the same parse (text is parsed as it is stripped)
            values, bad, outside, ends = parse_datetimes_and_ends(given, timezone=timezone,
                                                                  bounds=bounds)
            closed_ends = ends.reset_index(drop=True)
        else:
            values, bad, outside = parse_datetimes(given, timezone=timezone,
                                                   date_only_end_of_day=column == "deadline",
                                                   bounds=bounds)
        out[column] = values.reset_index(drop=True)
        header = header_of.get(column)
        if header is None or (column == "closed_at" and _is_open311_updated(header)):
            continue  # Open311's updated_datetime is checked once the status is known
        problems.add(header, bad.to_numpy(), text[column],
                     functools.partial(_unreadable_time, column, header))
        problems.add(header, outside.to_numpy(), text[column],
                     functools.partial(_time_out_of_range, column, header, bounds))
    header = header_of["reported_at"]
    problems.add(header, text["reported_at"].isna(), text["reported_at"],
                 lambda _v: f"reported_at missing: {header} is empty")
    return closed_ends


def _coord_systems(labels: pd.Series, header: str | None, default_crs: str,
                   problems: _Problems) -> pd.Series:
    """Each row's coordinate system: its own 坐标系 label when given, else the default."""
    from gridwatch.placing.coords import parse_crs

    if header is None:
        return _repeat(default_crs, len(labels))
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    parsed = [parse_crs(u) for u in uniques]
    unknown = np.array([p is None for p in parsed] + [False], dtype=bool)[codes]
    problems.add(header, unknown, labels,
                 lambda v: f"unknown coordinate system: {header} {v!r} is not a known "
                           f"coordinate system (allowed: {_CRS_ALLOWED})")
    return _take([p or default_crs for p in parsed] + [default_crs], codes)


def _same_reason(reason: str, _value: str) -> str:
    return reason


def _not_a_number(header: str, value: str) -> str:
    return f"coordinate not a number: {header} {value!r} is not a number"


def _unreadable_time(column: str, header: str, value: str) -> str:
    return f"{column} unreadable: {header} {value!r} is not a date/time ({_DATE_HINT})"


def _time_out_of_range(column: str, header: str, bounds: tuple[dt.date, dt.date],
                       value: str) -> str:
    return (f"{column} out of range: {header} {value!r} is a date outside the range this system "
            f"accepts: {bounds[0]} to {bounds[1]} (change it with [input] min_date and max_date "
            "in gridwatch.toml)")


def _unknown_label(column: str, header: str, value: str) -> str:
    base, codes = _LABEL_FIELDS[column]
    examples = "、".join(list(base)[:3])
    return (f"unknown {column}: {header} {value!r} is not a known {column} (allowed: "
            f"{', '.join(codes)}, or a Chinese label such as {examples}, or one added under "
            f"[input.labels.{column}] in gridwatch.toml)")


def _is_open311_updated(header: str) -> bool:
    return header_key(header) == _OPEN311_UPDATED


def _check_status(out: dict[str, Any], text: dict[str, pd.Series], header_of: dict[str, str],
                  problems: _Problems, timezone: str,
                  closed_ends: pd.Series | None = None) -> None:
    """Fill a missing status, apply Open311's closing time, and check closed_at against it
    (read as the end of each closing day: ``closed_ends`` when the time check gave it)."""
    status: pd.Series = out["status"]
    closed_at: pd.Series = out["closed_at"]
    closed_header = header_of.get("closed_at")
    open311 = closed_header is not None and _is_open311_updated(closed_header)
    if open311:
        closed_at = closed_at.where(status.isin(CLOSED_STATUSES).to_numpy())
        out["closed_at"] = closed_at
    has_closed = closed_at.notna().to_numpy()
    closed_text = text.get("closed_at")
    closed_bad = (closed_text.notna().to_numpy() & ~has_closed if closed_text is not None
                  else np.zeros(len(status), dtype=bool))
    status = status.where(status.notna().to_numpy(), np.where(has_closed, "closed", "reported"))
    out["status"] = status.astype("str")
    is_closed = status.isin(CLOSED_STATUSES).to_numpy()
    if closed_header is None:
        where = "the file has no closed_at column (办结时间, 销号时间, closed_at)"
    else:
        where = f"{closed_header} is empty"
    problems.add(header_of.get("status", closed_header or "status"),
                 is_closed & ~has_closed & ~closed_bad, text.get("status", status),
                 lambda v: f"closed without closed_at: status {v!r} means closed but there is "
                           f"no closed_at time ({where})")
    if closed_header is None or closed_text is None:
        return
    if open311:
        problems.add(closed_header, closed_bad & is_closed, closed_text,
                     functools.partial(_unreadable_time, "closed_at", closed_header))
    # A date-only closed_at means "that day": compare its end of day with reported_at.
    latest = closed_ends
    if latest is None:
        latest, _bad, _outside = parse_datetimes(closed_text, timezone=timezone,
                                                 date_only_end_of_day=True)
    latest = latest.where(has_closed)
    before = (latest < out["reported_at"]).fillna(False).to_numpy(dtype=bool)
    reported_header = header_of["reported_at"]
    problems.add(closed_header, before, closed_text,
                 lambda v: f"closed_at before reported_at: {closed_header} {v!r} is before "
                           f"{reported_header}, so one of the two times is wrong")


def _numbers(values: pd.Series) -> pd.Series:
    """Numbers from text; full-width digits (typed in a Chinese input mode) are read too."""
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    retry = (values.notna() & numbers.isna()).to_numpy()
    if retry.any():
        again = {u: _number_nfkc(u) for u in values[retry].unique()}
        numbers[retry] = values[retry].map(again).astype("float64").to_numpy()
    return numbers


def _number_nfkc(text: str) -> float:
    plain = unicodedata.normalize("NFKC", text).strip()
    if "_" in plain:  # float() would accept "1_000"
        return float("nan")
    try:
        return float(plain)
    except ValueError:
        return float("nan")


def _labels(values: pd.Series, table: dict[str, str]) -> tuple[pd.Series, np.ndarray]:
    """Codes for labels (NA stays NA) and a mask of unknown non-empty labels."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = [table.get(normalise_label(u)) for u in uniques]
    unknown = np.array([m is None for m in mapped] + [False], dtype=bool)[codes]
    return _take([*mapped, None], codes), unknown


def _take(values: Sequence[str | None], codes: np.ndarray) -> pd.Series:
    """``values[codes]`` as a str Series (code -1 takes the last value); fast for long columns."""
    return pd.Series(pd.array(values, dtype="str").take(np.where(codes < 0, len(values) - 1,
                                                                 codes)))


def _repeat(value: str | None, n: int) -> pd.Series:
    return _take([value], np.zeros(n, dtype=np.int64))


def _text(series: pd.Series) -> pd.Series:
    """Values as stripped text; empty and missing become NA. Nothing else is changed."""
    if series.dtype == object:
        series = series.map(_to_text).astype("str")
    elif series.dtype != "str":
        series = series.astype("str")
    if series.dtype.storage == "pyarrow":  # type: ignore[attr-defined]
        return _arrow_text(series)
    stripped = series.str.strip()
    if stripped.equals(series):  # keep the values read (no copy of a clean column is held)
        stripped = series
    blank = (stripped.isna() | (stripped == "")).to_numpy(dtype=bool)
    if blank.any():
        stripped = stripped.where(~blank)
    return stripped.reset_index(drop=True)


def _arrow_text(series: pd.Series) -> pd.Series:
    """:func:`_text` of an Arrow-backed ``str`` column in Arrow's own kernels (pandas' way
    made a new column for every step: a tenth of the time)."""
    values = pa.array(series)
    stripped = pc.utf8_trim_whitespace(values)  # what pandas' str.strip() does with Arrow
    blank = pc.equal(stripped, "")
    if pc.any(blank).as_py():
        stripped = pc.if_else(blank, pa.scalar(None, stripped.type), stripped)
    elif pc.sum(pc.binary_length(stripped)).as_py() == pc.sum(pc.binary_length(values)).as_py():
        # nothing was stripped: keep the values read (no copy of a clean column is held)
        return series.reset_index(drop=True)
    return pd.Series(stripped.to_pandas(types_mapper={stripped.type: series.dtype}.get))


def _to_text(value: object) -> str | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() and np.abs(value) < 1e15 else str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _kept(frame: pd.DataFrame, column: str) -> pd.Series:
    """A keep_column as it was (exact header, else the same header key), as text."""
    headers = [str(h) for h in frame.columns]
    if column not in headers:
        matches = [h for h in headers if header_key(h) == header_key(column)]
        if not matches:
            return pd.Series([pd.NA] * len(frame), dtype="str")
        column = matches[0]
    values = frame[column].reset_index(drop=True)
    if values.dtype == object:
        values = values.map(_to_text)
    return values.astype("str")


def _rejects_frame(rows: list[tuple[str, int, str, str, str]]) -> pd.DataFrame:
    return concat_rejects(pd.DataFrame(rows, columns=list(REJECT_COLUMNS)))


def _empty_records(settings: InputSettings) -> pd.DataFrame:
    dtypes = {c: "datetime64[ns, UTC]" if c in DATETIME_COLUMNS
              else "float64" if c in ("lon", "lat") else "str" for c in CANONICAL_COLUMNS}
    dtypes |= {"source_file": "str", "source_row": "int64"}
    dtypes |= {c: "str" for c in settings.keep_columns}
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in dtypes.items()})


def _file_stats(table: RawTable, mapping: dict[str, str], accepted: int,
                rejected: int) -> FileStats:
    used = set(mapping)
    return FileStats(
        path=table.name,
        format=table.format,
        encoding=table.encoding,
        rows_in=len(table.frame),
        accepted=accepted,
        rejected=rejected,
        mapped=dict(mapping),
        unmapped=[str(h) for h in table.frame.columns if str(h) not in used],
        header_row=table.header_row,
    )

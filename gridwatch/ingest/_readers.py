"""Read problem files into raw tables: the file's own headers and values, with row numbers.

No meaning is given to any column here (that is :mod:`gridwatch.ingest.records`); this module only
knows file formats, encodings, compression and the limits on size, rows and columns (checked
while reading, so a file that unpacks to far more than it looks stops early). Formats follow the
extension:
``.csv``/``.txt``/``.tsv`` (UTF-8, UTF-8 with BOM, GB18030/GBK), ``.xlsx`` (first sheet),
``.json`` (an array of records, an object holding one array of records, or GeoJSON) and
``.geojson`` (a FeatureCollection of points); each may be gzip-compressed (``x.csv.gz``), and a
``.zip`` holds any number of them.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridwatch.config import InputSettings
from gridwatch.errors import InputFileError

__all__ = ["FORMATS", "HEADER_SEARCH_ROWS", "RawTable", "check_file", "read_tables"]

#: Extension -> reader.
FORMATS: dict[str, str] = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".json": "json",
    ".geojson": "json",
}
#: Rows after the first in which a header below title rows is looked for
#: (:mod:`gridwatch.ingest.records`); an XLSX table is as wide as these rows.
HEADER_SEARCH_ROWS = 10
_TEXT_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "utf-8", "gb18030")
_OPEN311_KEYS = frozenset({"service_request_id", "requested_datetime"})
# A truly empty line: pyarrow skips it, which would shift the row numbers after it.
_BLANK_LINE = re.compile(rb"\n\r?\n")
_NOT_SPACE = re.compile(rb"\S")
_CONTENT = re.compile(rb"[^\r\n]")
_CHUNK = 1 << 20  # bytes decoded at a time when checking an encoding
#: CSV files up to this size are decoded at once and read as UTF-8 (larger ones block by block).
_TRANSCODE_MAX_BYTES = 64 << 20
_ALLOWED = ".csv, .txt, .tsv, .xlsx, .json, .geojson (each may be .gz), or a .zip of them"


@dataclass(frozen=True)
class _Limits:
    """The ``[input]`` limits for one input file, and the rows its earlier zip members used."""

    file: str
    bytes: int
    rows: int
    columns: int
    rows_before: int = 0
    in_zip: bool = False

    def check_rows(self, rows: int) -> None:
        """Raise when ``rows`` more rows (after those of earlier members) pass the limit."""
        if self.rows_before + rows > self.rows:
            together = " (all its members together)" if self.in_zip else ""
            raise InputFileError(
                f"input file {self.file!r} has more than {self.rows:,} rows{together}, the "
                "max_rows limit (raise [input] max_rows to allow it, or split the file)")

    def check_columns(self, columns: int, name: str, where: str = "") -> None:
        """Raise when a table of ``columns`` columns is wider than the limit."""
        if columns > self.columns:
            raise InputFileError(
                f"cannot read {name!r}: it has {columns:,} columns{where}, more than the "
                f"max_columns limit of {self.columns:,} (raise [input] max_columns to allow it)")


@dataclass
class RawTable:
    """One table as read from a file, before any header is interpreted.

    ``frame`` holds one row per data row (completely empty rows are left out), columns named by
    the file's headers, values as read (``str`` for text files; numbers, datetimes and ``None``
    also for XLSX and JSON). ``rows`` gives the row number a person sees for each frame row.
    ``row_errors`` maps a frame position to ``(column, value, reason)`` for rows that cannot be
    used at all (a JSON item that is not an object, a GeoJSON feature that is not a point).
    """

    name: str
    format: str
    encoding: str | None
    frame: pd.DataFrame
    rows: np.ndarray
    row_errors: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    #: Row number of the header row (CSV/XLSX); JSON has none and keeps 1.
    header_row: int = 1


def read_tables(path: str | os.PathLike[str], *, encoding: str | None = None,
                max_file_mb: float = InputSettings.max_file_mb,
                max_rows: int = InputSettings.max_rows,
                max_columns: int = InputSettings.max_columns) -> list[RawTable]:
    """Read one input file (or every readable member of a ``.zip``) into raw tables.

    Parameters
    ----------
    path
        The file; its extension (inside ``.gz``) picks the format.
    encoding
        Encoding of text files; tried in order utf-8-sig, utf-8, gb18030 when ``None``.
    max_file_mb
        Largest size accepted, uncompressed, in megabytes.
    max_rows
        Most data rows accepted (all members of a zip together), counted while reading.
    max_columns
        Most columns a table may have.

    Returns
    -------
    list of RawTable
        One per file, or one per zip member with a known extension (named ``a.zip!b.csv``).

    Raises
    ------
    InputFileError
        The file is missing, of an unknown type, too big (bytes, rows or columns), corrupt or
        not decodable.
    """
    name = os.fspath(path)
    file = check_file(path)
    limit = int(max_file_mb * 1024 * 1024)
    limits = _Limits(file=name, bytes=limit, rows=max_rows, columns=max_columns)
    lower = name.lower()
    if lower.endswith(".zip"):
        return _read_zip(file, name, encoding=encoding, limits=limits)
    inner = lower[:-3] if lower.endswith(".gz") else lower
    fmt = _format_of(inner, name)
    _check_size(file.stat().st_size, name, limit)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read {name!r}: {exc.strerror or exc}") from exc
    if lower.endswith(".gz"):
        data = _gunzip(data, name, limit)
        if len(data) > limit:
            _unpacks_too_big(name, limit)
    return [_parse(data, fmt, name, inner, encoding=encoding, limits=limits)]


def check_file(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a Path; raise InputFileError when it is missing or a folder."""
    file = Path(path)
    if not file.is_file():
        what = "is a folder, not a file" if file.is_dir() else "was not found"
        raise InputFileError(f"input file {os.fspath(path)!r} {what}")
    return file


def _format_of(lower_name: str, shown: str) -> str:
    suffix = os.path.splitext(lower_name)[1]
    if suffix in FORMATS:
        return FORMATS[suffix]
    hint = " (save it from Excel as .xlsx)" if suffix in (".xls", ".et") else ""
    raise InputFileError(f"cannot read {shown!r}: unknown file type {suffix or '(none)'!r}{hint}; "
                         f"gridwatch reads {_ALLOWED}")


def _check_size(size: int, name: str, limit: int) -> None:
    if size > limit:
        raise InputFileError(
            f"input file {name!r} is {size / 1048576:.1f} MB uncompressed, more than the "
            f"max_file_mb limit of {limit / 1048576:.0f} MB "
            "(raise [input] max_file_mb to allow it)")


def _unpacks_too_big(name: str, limit: int) -> None:
    raise InputFileError(
        f"input file {name!r} is more than {limit / 1048576:g} MB uncompressed, the "
        "max_file_mb limit (raise [input] max_file_mb to allow it)")


def _gunzip(raw: bytes, name: str, limit: int) -> bytes:
    """Unpack gzip data, reading at most one byte more than ``limit`` (the caller, or this
    function for a lone file, reports what is over it)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            data = stream.read(limit + 1)
    except (OSError, EOFError) as exc:
        raise InputFileError(f"cannot read {name!r}: not a valid gzip file ({exc})") from exc
    return data


def _read_zip(file: Path, name: str, *, encoding: str | None,
              limits: _Limits) -> list[RawTable]:
    limit = limits.bytes
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(f"cannot read {name!r}: not a valid zip file ({exc})") from exc
    tables: list[RawTable] = []
    with archive:
        members = [m for m in archive.infolist()
                   if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
        known = [m for m in members
                 if os.path.splitext(m.filename.lower().removesuffix(".gz"))[1] in FORMATS]
        if not known:
            found = ", ".join(m.filename for m in members) or "(nothing)"
            raise InputFileError(f"zip file {name!r} holds no file gridwatch can read "
                                 f"(found: {found}); it reads {_ALLOWED}")
        _check_size(sum(m.file_size for m in known), name, limit)
        # The declared sizes may lie, and .gz members grow once more when unpacked: count the
        # bytes actually unpacked, over all members, and stop at the limit.
        unpacked = 0
        for member in known:
            shown = f"{name}!{member.filename}"
            inner = member.filename.lower()
            budget = limit - unpacked
            try:
                with archive.open(member) as stream:
                    data = stream.read(budget + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                    RuntimeError) as exc:  # corrupt data, CRC mismatch, unsupported, encrypted
                raise InputFileError(f"cannot read {shown!r}: the zip member is damaged or "
                                     f"cannot be unpacked ({exc})") from exc
            if inner.endswith(".gz") and len(data) <= budget:
                inner = inner[:-3]
                data = _gunzip(data, shown, budget)
            if len(data) > budget:
                _unpacks_too_big(name, limit)
            unpacked += len(data)
            member_limits = replace(limits, in_zip=True,
                                    rows_before=sum(len(t.frame) for t in tables))
            tables.append(_parse(data, FORMATS[os.path.splitext(inner)[1]], shown, inner,
                                 encoding=encoding, limits=member_limits))
    return tables


def _parse(data: bytes, fmt: str, name: str, inner: str, *, encoding: str | None,
           limits: _Limits) -> RawTable:
    if fmt == "csv":
        sep = "\t" if inner.endswith(".tsv") else None
        data, used, found = _as_utf8(data, name, encoding)
        return _read_csv(data, name, used, sep=sep, limits=limits, shown=found)
    if fmt == "xlsx":
        return _read_xlsx(data, name, limits)
    text, used = _decode(data, name, encoding)
    try:
        return _read_json(text, name, used, limits)
    except RecursionError as exc:
        raise InputFileError(f"cannot read {name!r}: its JSON is nested too deeply (arrays or "
                             "objects inside each other hundreds of levels down); problem "
                             "records are a flat array of objects") from exc


def _decode(data: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    used = _encoding_of(data, name, encoding)
    return data.decode(used), used


def _as_utf8(data: bytes, name: str, encoding: str | None) -> tuple[bytes, str, str]:
    """The bytes to read, their encoding, and the encoding the file was in
    (:func:`_encoding_of`): a file no larger than :data:`_TRANSCODE_MAX_BYTES` in UTF-8, a
    larger one as it is.

    Decoding a GBK export once here and reading UTF-8 is about 40 % faster than letting pyarrow
    decode it block by block through Python's codec (which also holds the GIL, so files read
    on two threads wait for each other).
    """
    if len(data) > _TRANSCODE_MAX_BYTES:
        found = _encoding_of(data, name, encoding)
        return data, found, found
    candidates = (encoding,) if encoding else _TEXT_ENCODINGS
    for candidate in candidates:
        try:
            text = data.decode(candidate)
        except LookupError as exc:
            raise InputFileError(f"cannot read {name!r}: unknown encoding {candidate!r} "
                                 "(use e.g. utf-8, utf-8-sig, gbk, gb18030)") from exc
        except UnicodeDecodeError:
            continue
        if codecs.lookup(candidate).name in ("utf-8", "utf-8-sig") or \
                not _ascii_compatible(candidate):
            return data, candidate, candidate  # as they are (_read_csv handles UTF-16)
        return text.encode("utf-8"), "utf-8", candidate
    raise InputFileError(f"cannot read {name!r}: the text is not in "
                         f"{' / '.join(candidates)}; set [input] encoding to the file's encoding")


def _encoding_of(data: bytes, name: str, encoding: str | None) -> str:
    """The first encoding (``encoding``, else utf-8-sig, utf-8, gb18030) that decodes all of
    ``data``; decoded a piece at a time, so no copy of the whole text is made."""
    candidates = (encoding,) if encoding else _TEXT_ENCODINGS
    view = memoryview(data)
    for candidate in candidates:
        try:
            decoder = codecs.getincrementaldecoder(candidate)()
        except LookupError as exc:
            raise InputFileError(f"cannot read {name!r}: unknown encoding {candidate!r} "
                                 "(use e.g. utf-8, utf-8-sig, gbk, gb18030)") from exc
        try:
            for start in range(0, len(view), _CHUNK):
                decoder.decode(view[start:start + _CHUNK])
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return candidate
    raise InputFileError(f"cannot read {name!r}: the text is not in "
                         f"{' / '.join(candidates)}; set [input] encoding to the file's encoding")


# --- CSV -------------------------------------------------------------------------------------

def _read_csv(data: bytes, name: str, encoding: str, *, sep: str | None,
              limits: _Limits, shown: str | None = None) -> RawTable:
    shown = shown or encoding
    if not _ascii_compatible(encoding):  # UTF-16 (Excel's "Unicode text"): lines are not b"\n"
        data, encoding = data.decode(encoding).encode("utf-8"), "utf-8"
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    if _NOT_SPACE.search(data, start) is None:
        raise InputFileError(f"input file {name!r} is empty (no header row)")
    data, sep = _pad_title_line(data, start, encoding, sep)
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].decode(encoding)
    if sep is None:
        sep = max(("\t", ",", ";"), key=first.count) if any(c in first for c in "\t,;") else ","
    try:
        header: list[str] | None = next(csv.reader(io.StringIO(first), delimiter=sep))
    except (StopIteration, csv.Error):
        header = None
    limits.check_columns(len(header) if header is not None else first.count(sep) + 1, name)
    fmt = "csv"
    errors: dict[int, tuple[str, str, str]] = {}
    frame = None
    if header is not None and not _has_blank_line(data):
        frame = _read_csv_arrow(data, sep, header, encoding, limits)
    if frame is None:
        # the careful way reads the decoded text (a copy of the file, kept only while reading)
        text = data.decode(encoding).rstrip("\r\n") + "\n"
        allowed = limits.rows - limits.rows_before
        try:
            with warnings.catch_warnings():
                # index_col=False: a first data row one field longer than the header must not
                # turn the first column into the index (shifting every value one column left);
                # pandas then warns that it drops the extra field, and that row goes the
                # careful way instead, as a longer row anywhere else does.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str,
                                    keep_default_na=False, na_filter=False,
                                    skip_blank_lines=False, engine="c", index_col=False,
                                    nrows=allowed + 1)
            limits.check_rows(len(frame))
            rows = np.arange(2, len(frame) + 2)
        except (pd.errors.ParserError, pd.errors.ParserWarning):
            frame, rows, errors = _read_csv_ragged(text, sep, name, limits)
        del text
    else:
        rows = np.arange(2, len(frame) + 2)
    frame.columns = _unique_headers([str(c).strip() for c in frame.columns])
    if {c.lower() for c in frame.columns} >= _OPEN311_KEYS:
        fmt = "open311-csv"
    keep = ~_all_empty(frame)
    for pos in errors:
        keep[pos] = True
    if not keep.all():
        positions = np.flatnonzero(keep)
        remap = {int(old): new for new, old in enumerate(positions)}
        errors = {remap[p]: e for p, e in errors.items()}
        frame = frame.iloc[positions].reset_index(drop=True)
        rows = rows[positions]
    return RawTable(name=name, format=fmt, encoding=shown, frame=frame, rows=rows,
                    row_errors=errors)


def _pad_title_line(data: bytes, start: int, encoding: str,
                    sep: str | None) -> tuple[bytes, str | None]:
    """A title line above the header (one text, ``嘉兴市环境问题清单``, with fewer fields than the
    rows below it) is padded with separators to their width, so the table keeps every column
    and the header is then found below the title, as in a sheet. Returns the data and the
    separator (found in the first lines when not given and the title has none)."""
    head = data[start:start + 64 * 1024].decode(encoding, errors="replace").splitlines()
    lines = [line for line in head[:HEADER_SEARCH_ROWS + 1] if line.strip()]
    if len(lines) < 2:
        return data, sep
    if sep is None:
        candidates = [c for c in ("\t", ",", ";") if any(c in line for line in lines)]
        if not candidates or any(c in lines[0] for c in candidates):
            return data, sep  # a padded title or a header: the usual detection applies
        sep = max(candidates, key=lambda c: max(line.count(c) for line in lines))
    try:
        fields = [next(csv.reader([line], delimiter=sep)) for line in lines]
    except csv.Error:
        return data, sep
    widths = [len(f) for f in fields]
    # only a title is padded: a header shorter than its rows keeps its longer rows as errors
    if widths[0] >= max(widths) or sum(1 for f in fields[0] if f.strip()) > 1:
        return data, sep
    end = data.find(b"\n", start)
    cut = end - 1 if end > 0 and data[end - 1:end] == b"\r" else end
    padding = (sep * (max(widths) - widths[0])).encode(encoding)
    return data[:cut] + padding + data[cut:], sep


def _ascii_compatible(encoding: str) -> bool:
    """Whether line ends and separators are their ASCII bytes (not so in UTF-16 or UTF-32)."""
    try:
        return b"a,\t;\r\n".decode(encoding) == "a,\t;\r\n"
    except UnicodeDecodeError:
        return False


def _has_blank_line(data: bytes) -> bool:
    """Whether a truly empty line comes before some content (empty lines at the end do not
    matter)."""
    blank = _BLANK_LINE.search(data)
    return blank is not None and _CONTENT.search(data, blank.end()) is not None


def _read_csv_arrow(data: bytes, sep: str, header: list[str], encoding: str,
                    limits: _Limits) -> pd.DataFrame | None:
    """Fast path (pyarrow, all columns as text, read in blocks and counted against max_rows);
    None when the file needs the careful path."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # optional: pandas' own parser is slower but gives the same table
        return None

    strings = pa.large_string()  # what pandas' str dtype holds: no copy into pandas
    # pyarrow skips a UTF-8 byte order mark itself, and decodes other encodings block by block
    codec = codecs.lookup(encoding).name
    try:
        reader = pacsv.open_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(
                encoding="utf8" if codec in ("utf-8", "utf-8-sig") else encoding),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={h: strings for h in header}, null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False))
        if len(reader.schema) != len(header) or any(t != strings for t in reader.schema.types):
            return None
        batches = []
        rows = 0
        for batch in reader:
            rows += batch.num_rows
            limits.check_rows(rows)
            batches.append(batch)
    except (pa.ArrowInvalid, pa.ArrowKeyError):
        return None
    table = pa.Table.from_batches(batches, schema=reader.schema)
    dtype = pd.StringDtype("pyarrow", na_value=np.nan)
    frame = table.rename_columns([str(i) for i in range(table.num_columns)]).to_pandas(
        types_mapper={strings: dtype}.get)
    frame.columns = header
    return frame


def _unique_headers(headers: list[str]) -> list[str]:
    """Make repeated headers unique as ``a``, ``a.1``, ``a.2`` (as pandas does)."""
    seen: dict[str, int] = {}
    out = []
    for header in headers:
        if header in seen:
            seen[header] += 1
            header = f"{header}.{seen[header]}"
        else:
            seen[header] = 0
        out.append(header)
    return out


def _read_csv_ragged(text: str, sep: str, name: str,
                     limits: _Limits) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Slow path for files with rows longer than the header: those rows become row errors."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    body: list[list[str]] = []
    errors: dict[int, tuple[str, str, str]] = {}
    try:
        header = next(reader)
        width = len(header)
        for pos, record in enumerate(reader):
            limits.check_rows(pos + 1)
            if len(record) > width and any(v.strip() for v in record[width:]):
                errors[pos] = ("", sep.join(record),
                               f"unusable row: it has {len(record)} fields but the header has "
                               f"{width} (a value probably contains an unquoted {sep!r})")
            body.append((record + [""] * width)[:width])
    except csv.Error as exc:  # e.g. "field larger than field limit (131072)"
        raise InputFileError(
            f"cannot read {name!r} from line {reader.line_num}: {exc}; a value this long usually "
            "means a quote (\") that is never closed, so the rest of the file runs into one "
            "value. Close the quote, or save the file again from the program that made it"
        ) from exc
    frame = pd.DataFrame(body, columns=header, dtype="str")
    return frame, np.arange(2, len(frame) + 2), errors


def _all_empty(frame: pd.DataFrame) -> np.ndarray:
    if frame.shape[1] == 0:
        return np.ones(len(frame), dtype=bool)
    empty = np.ones(len(frame), dtype=bool)
    for column in range(frame.shape[1]):
        values = frame.iloc[:, column]
        if values.dtype == object:
            blank = values.map(lambda v: v is None or (isinstance(v, str) and not v.strip())
                               or (isinstance(v, float) and np.isnan(v)))
        else:
            blank = values.isna() | (values.astype("str").str.strip() == "")
        empty &= blank.to_numpy(dtype=bool)
        if not empty.any():
            break
    return empty


# --- XLSX ------------------------------------------------------------------------------------

def _read_xlsx(data: bytes, name: str, limits: _Limits) -> RawTable:
    import openpyxl  # imported here: only XLSX inputs need it

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_size(sum(m.file_size for m in archive.infolist()), name, limits.bytes)
    except zipfile.BadZipFile as exc:
        raise InputFileError(f"cannot read {name!r}: not a valid .xlsx file (an .xlsx is a zip "
                             f"archive; an old .xls must be saved as .xlsx first)") from exc
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise InputFileError(f"cannot read {name!r} as an Excel workbook: {exc}") from exc
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong sheet size
        header_row, body, numbers = _xlsx_rows(sheet, name, limits)
    except InputFileError:  # an OSError too: it says itself what is wrong
        raise
    except (ValueError, KeyError, OSError, SyntaxError, zipfile.BadZipFile) as exc:
        # broken sheet XML (ParseError is a SyntaxError; defusedxml's errors are ValueErrors)
        raise InputFileError(f"cannot read the first sheet of {name!r}: {exc}") from exc
    finally:
        book.close()
    width = len(header_row)
    headers = _xlsx_headers(header_row, width)
    frame = pd.DataFrame(body, columns=headers, dtype=object) if body else pd.DataFrame(
        {h: pd.Series(dtype=object) for h in headers})
    return RawTable(name=name, format="xlsx", encoding=None, frame=frame,
                    rows=np.asarray(numbers, dtype=np.int64))


def _xlsx_rows(sheet: Any, name: str, limits: _Limits,
               ) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[int]]:
    """The first row, the non-blank rows after it and their row numbers, all as wide as the
    first rows (the header and the rows a header below titles may be in).

    Cells to the right of that width are never materialised: a stray value in column XFD of a
    data row would otherwise widen every row to 16,384 cells.
    """
    from openpyxl.utils import get_column_letter

    rows_iter = sheet.iter_rows(values_only=True)
    first = next(rows_iter, None)
    if first is None:
        raise InputFileError(f"input file {name!r} is empty (its first sheet has no rows)")
    width, widest = _used_width(first), 1
    body: list[tuple[Any, ...]] = []
    numbers: list[int] = []
    number = 1
    for number, values in enumerate(rows_iter, start=2):
        used = _used_width(values)
        if used:
            body.append(values)
            numbers.append(number)
            if used > width:
                width, widest = used, number
            if len(body) == HEADER_SEARCH_ROWS:
                break
    if width > limits.columns:
        limits.check_columns(width, name, f" (row {widest} has a value in column "
                                          f"{get_column_letter(width)}: delete it if it is not "
                                          "part of the table)")
    limits.check_rows(len(body))
    body = [_widen(v, width) for v in body]
    if len(body) == HEADER_SEARCH_ROWS:  # more rows may follow: read them only this wide
        after = number + 1
        rest = sheet.iter_rows(min_row=after, max_col=width, values_only=True)
        for number, values in enumerate(rest, start=after):
            if values.count(None) != width and _used_width(values):
                limits.check_rows(len(body) + 1)
                body.append(values)
                numbers.append(number)
    return _widen(first, width), body, numbers


def _widen(values: tuple[Any, ...], width: int) -> tuple[Any, ...]:
    """``values`` cut or padded with ``None`` to ``width`` cells."""
    return tuple(values[:width]) + (None,) * (width - len(values))


def _used_width(values: Sequence[Any]) -> int:
    """Number of cells up to the last non-blank one (0 for a blank row)."""
    for i in range(len(values) - 1, -1, -1):
        v = values[i]
        if v is not None and not (isinstance(v, str) and not v.strip()):
            return i + 1
    return 0


def _xlsx_headers(row: Sequence[Any], width: int) -> list[str]:
    headers = [str(v).strip() if v is not None else "" for v in row[:width]]
    return _unique_headers([h or f"(column {i + 1})" for i, h in enumerate(headers)])


# --- JSON, GeoJSON, Open311 ------------------------------------------------------------------

def _read_json(text: str, name: str, encoding: str, limits: _Limits) -> RawTable:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"cannot read {name!r}: not valid JSON ({exc})") from exc
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        return _read_features(doc, name, encoding, limits)
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise InputFileError(
                f"cannot read {name!r}: expected an array of records, an object holding one "
                f"array of records, or a GeoJSON FeatureCollection; found an object with keys "
                f"{', '.join(map(str, list(doc)[:10]))}")
        doc = lists[0]
    if not isinstance(doc, list):
        raise InputFileError(f"cannot read {name!r}: expected an array of records, "
                             f"found a JSON {type(doc).__name__}")
    limits.check_rows(len(doc))
    records: list[dict[str, Any]] = []
    errors: dict[int, tuple[str, str, str]] = {}
    for pos, item in enumerate(doc):
        if isinstance(item, dict):
            records.append(item)
        else:
            records.append({})
            errors[pos] = ("", _short(item), f"not a record: item {pos + 1} of the array is a "
                           f"{_json_type(item)}, not a record (an object with named fields)")
    frame = _records_frame(records, name, limits)
    keys = set(frame.columns)
    fmt = "open311-json" if keys >= _OPEN311_KEYS else "json"
    return RawTable(name=name, format=fmt, encoding=encoding, frame=frame,
                    rows=np.arange(1, len(frame) + 1), row_errors=errors)


def _read_features(doc: dict[str, Any], name: str, encoding: str,
                   limits: _Limits) -> RawTable:
    features = doc.get("features")
    if not isinstance(features, list):
        raise InputFileError(f"cannot read {name!r}: the FeatureCollection has no 'features' array")
    limits.check_rows(len(features))
    records: list[dict[str, Any]] = []
    errors: dict[int, tuple[str, str, str]] = {}
    for pos, feature in enumerate(features):
        if not isinstance(feature, dict):
            records.append({})
            errors[pos] = ("", _short(feature),
                           f"not a feature: item {pos + 1} is not a GeoJSON feature")
            continue
        props = feature.get("properties") or {}
        record: dict[str, Any] = dict(props) if isinstance(props, dict) else {}
        if "id" in feature and "id" not in record:
            record["id"] = feature["id"]
        geometry = feature.get("geometry")
        # Geometry coordinates go first under the highest-priority coordinate headers.
        lon = lat = None
        if isinstance(geometry, dict):
            coords = geometry.get("coordinates")
            if (geometry.get("type") == "Point" and isinstance(coords, list)
                    and len(coords) >= 2):
                lon, lat = coords[0], coords[1]
            else:
                errors[pos] = ("geometry", str(geometry.get("type")),
                               f"not a point: feature {pos + 1} has a {geometry.get('type')} "
                               "geometry, and a problem must be a Point")
        records.append({"lon": lon, "lat": lat, **{k: v for k, v in record.items()
                                                   if k not in ("lon", "lat")}})
    frame = _records_frame(records, name, limits)
    return RawTable(name=name, format="geojson", encoding=encoding, frame=frame,
                    rows=np.arange(1, len(frame) + 1), row_errors=errors)


def _records_frame(records: list[dict[str, Any]], name: str, limits: _Limits) -> pd.DataFrame:
    columns = list(dict.fromkeys(str(k) for item in records for k in item))
    # records with keys of their own would make a table of records x keys cells
    limits.check_columns(len(columns), name, " (the keys of all its records together)")
    data = {c: [_scalar(item.get(c)) for item in records] for c in columns}
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in data.items()})
    if frame.shape[1] == 0:
        frame = pd.DataFrame(index=range(len(records)))
    return frame


def _scalar(value: Any) -> Any:
    """Nested JSON values become their JSON text; scalars stay as they are."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", bool: "true/false", type(None): "null"}.get(
        type(value), "number")


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Read problem files into raw tables: the file's own headers and values, with row numbers.

No meaning is given to any column here (that is :mod:`gridwatch.ingest.records`); this module only
knows file formats, encodings, compression and size limits. Formats follow the extension:
``.csv``/``.txt``/``.tsv`` (UTF-8, UTF-8 with BOM, GB18030/GBK), ``.xlsx`` (first sheet),
``.json`` (an array of records, an object holding one array of records, or GeoJSON) and
``.geojson`` (a FeatureCollection of points); each may be gzip-compressed (``x.csv.gz``), and a
``.zip`` holds any number of them.
"""

from __future__ import annotations

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridwatch.errors import InputFileError

__all__ = ["FORMATS", "RawTable", "check_file", "read_tables"]

#: Extension -> reader.
FORMATS: dict[str, str] = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".json": "json",
    ".geojson": "json",
}
_TEXT_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "utf-8", "gb18030")
_OPEN311_KEYS = frozenset({"service_request_id", "requested_datetime"})
# A truly empty line: pyarrow skips it, which would shift the row numbers after it.
_BLANK_LINE = re.compile(r"\n\r?\n")
_ALLOWED = ".csv, .txt, .tsv, .xlsx, .json, .geojson (each may be .gz), or a .zip of them"


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
                max_file_mb: float = 500.0) -> list[RawTable]:
    """Read one input file (or every readable member of a ``.zip``) into raw tables.

    Parameters
    ----------
    path
        The file; its extension (inside ``.gz``) picks the format.
    encoding
        Encoding of text files; tried in order utf-8-sig, utf-8, gb18030 when ``None``.
    max_file_mb
        Largest size accepted, uncompressed, in megabytes.

    Returns
    -------
    list of RawTable
        One per file, or one per zip member with a known extension (named ``a.zip!b.csv``).

    Raises
    ------
    InputFileError
        The file is missing, of an unknown type, too big, corrupt or not decodable.
    """
    name = os.fspath(path)
    file = check_file(path)
    limit = int(max_file_mb * 1024 * 1024)
    lower = name.lower()
    if lower.endswith(".zip"):
        return _read_zip(file, name, encoding=encoding, limit=limit)
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
    return [_parse(data, fmt, name, inner, encoding=encoding, limit=limit)]


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


def _read_zip(file: Path, name: str, *, encoding: str | None, limit: int) -> list[RawTable]:
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
            tables.append(_parse(data, FORMATS[os.path.splitext(inner)[1]], shown, inner,
                                 encoding=encoding, limit=limit))
    return tables


def _parse(data: bytes, fmt: str, name: str, inner: str, *, encoding: str | None,
           limit: int) -> RawTable:
    if fmt == "csv":
        text, used = _decode(data, name, encoding)
        sep = "\t" if inner.endswith(".tsv") else None
        return _read_csv(text, name, used, sep=sep)
    if fmt == "xlsx":
        return _read_xlsx(data, name, limit)
    text, used = _decode(data, name, encoding)
    try:
        return _read_json(text, name, used)
    except RecursionError as exc:
        raise InputFileError(f"cannot read {name!r}: its JSON is nested too deeply (arrays or "
                             "objects inside each other hundreds of levels down); problem "
                             "records are a flat array of objects") from exc


def _decode(data: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    candidates = (encoding,) if encoding else _TEXT_ENCODINGS
    for candidate in candidates:
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
        except LookupError as exc:
            raise InputFileError(f"cannot read {name!r}: unknown encoding {candidate!r} "
                                 "(use e.g. utf-8, utf-8-sig, gbk, gb18030)") from exc
    raise InputFileError(f"cannot read {name!r}: the text is not in "
                         f"{' / '.join(candidates)}; set [input] encoding to the file's encoding")


# --- CSV -------------------------------------------------------------------------------------

def _read_csv(text: str, name: str, encoding: str, *, sep: str | None) -> RawTable:
    if not text.strip():
        raise InputFileError(f"input file {name!r} is empty (no header row)")
    text = text.rstrip("\r\n") + "\n"
    if sep is None:
        first = text[: text.find("\n")]
        sep = max(("\t", ",", ";"), key=first.count) if any(c in first for c in "\t,;") else ","
    fmt = "csv"
    errors: dict[int, tuple[str, str, str]] = {}
    frame = None if _BLANK_LINE.search(text) else _read_csv_arrow(text, sep)
    if frame is None:
        try:
            with warnings.catch_warnings():
                # index_col=False: a first data row one field longer than the header must not
                # turn the first column into the index (shifting every value one column left);
                # pandas then warns that it drops the extra field, and that row goes the
                # careful way instead, as a longer row anywhere else does.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str,
                                    keep_default_na=False, na_filter=False,
                                    skip_blank_lines=False, engine="c", index_col=False)
            rows = np.arange(2, len(frame) + 2)
        except (pd.errors.ParserError, pd.errors.ParserWarning):
            frame, rows, errors = _read_csv_ragged(text, sep, name)
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
    return RawTable(name=name, format=fmt, encoding=encoding, frame=frame, rows=rows,
                    row_errors=errors)


def _read_csv_arrow(text: str, sep: str) -> pd.DataFrame | None:
    """Fast path (pyarrow, all columns as text); None when the file needs the careful path."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # optional: pandas' own parser is slower but gives the same table
        return None

    try:
        header = next(csv.reader(io.StringIO(text[: text.find("\n")]), delimiter=sep))
    except (StopIteration, csv.Error):
        return None
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header}, null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowKeyError):
        return None
    if table.num_columns != len(header) or any(
            t != pa.string() for t in table.schema.types):
        return None
    dtype = pd.StringDtype("pyarrow", na_value=np.nan)
    frame = table.rename_columns([str(i) for i in range(table.num_columns)]).to_pandas(
        types_mapper={pa.string(): dtype}.get)
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


def _read_csv_ragged(text: str, sep: str,
                     name: str) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Slow path for files with rows longer than the header: those rows become row errors."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    body: list[list[str]] = []
    errors: dict[int, tuple[str, str, str]] = {}
    try:
        header = next(reader)
        width = len(header)
        for pos, record in enumerate(reader):
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

def _read_xlsx(data: bytes, name: str, limit: int) -> RawTable:
    import openpyxl  # imported here: only XLSX inputs need it

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_size(sum(m.file_size for m in archive.infolist()), name, limit)
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
        rows_iter = sheet.iter_rows(values_only=True)
        header_row = next(rows_iter, None)
        if header_row is None:
            raise InputFileError(f"input file {name!r} is empty (its first sheet has no rows)")
        body: list[tuple[Any, ...]] = []
        numbers: list[int] = []
        width = _used_width(header_row)
        for number, values in enumerate(rows_iter, start=2):
            used = _used_width(values)
            if used:
                body.append(values)
                numbers.append(number)
                width = max(width, used)
    except (ValueError, KeyError, OSError, SyntaxError, zipfile.BadZipFile) as exc:
        # broken sheet XML (ParseError is a SyntaxError; defusedxml's errors are ValueErrors)
        raise InputFileError(f"cannot read the first sheet of {name!r}: {exc}") from exc
    finally:
        book.close()
    headers = _xlsx_headers(tuple(header_row) + (None,) * (width - len(header_row)), width)
    body = [tuple(v[:width]) + (None,) * (width - len(v)) for v in body]
    frame = pd.DataFrame(body, columns=headers, dtype=object) if body else pd.DataFrame(
        {h: pd.Series(dtype=object) for h in headers})
    return RawTable(name=name, format="xlsx", encoding=None, frame=frame,
                    rows=np.asarray(numbers, dtype=np.int64))


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

def _read_json(text: str, name: str, encoding: str) -> RawTable:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"cannot read {name!r}: not valid JSON ({exc})") from exc
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        return _read_features(doc, name, encoding)
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
    records: list[dict[str, Any]] = []
    errors: dict[int, tuple[str, str, str]] = {}
    for pos, item in enumerate(doc):
        if isinstance(item, dict):
            records.append(item)
        else:
            records.append({})
            errors[pos] = ("", _short(item), f"not a record: item {pos + 1} of the array is a "
                           f"{_json_type(item)}, not a record (an object with named fields)")
    frame = _records_frame(records)
    keys = set(frame.columns)
    fmt = "open311-json" if keys >= _OPEN311_KEYS else "json"
    return RawTable(name=name, format=fmt, encoding=encoding, frame=frame,
                    rows=np.arange(1, len(frame) + 1), row_errors=errors)


def _read_features(doc: dict[str, Any], name: str, encoding: str) -> RawTable:
    features = doc.get("features")
    if not isinstance(features, list):
        raise InputFileError(f"cannot read {name!r}: the FeatureCollection has no 'features' array")
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
    frame = _records_frame(records)
    return RawTable(name=name, format="geojson", encoding=encoding, frame=frame,
                    rows=np.arange(1, len(frame) + 1), row_errors=errors)


def _records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    columns = list(dict.fromkeys(str(k) for item in records for k in item))
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

"""Rows for PostgreSQL's ``COPY … FROM STDIN`` made a batch at a time in Arrow.

psycopg writes a row at a time: each value of each row is a Python object it formats, and for
the problems of a million-row import (about thirty columns) that alone took 13 s. Here each
column of a batch becomes the text COPY reads (its text format: tab between values, ``\\N``
for NULL, backslash escapes in text) with Arrow's kernels, the columns are joined into lines,
and the batch is written as one buffer. Values read back are the ones psycopg's rows give
(tested with hypothesis on the real PostgreSQL): times as ``YYYY-MM-DD HH:MM:SS.ffffff``,
floats in their shortest form that reads back to the same number (missing and NaN: NULL, as
``driver_values`` makes them), flags as ``t``/``f``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gridwatch.store._bulk import time_text

__all__: list[str] = []

#: What COPY's text format escapes in a text value (the backslash first).
_ESCAPES = (("\\", "\\\\"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


def copy_text(columns: Mapping[str, Any]) -> pa.Buffer | None:
    """The rows of equal-length ``columns`` (arrays, Series or lists of values) as COPY
    text, one line per row, in one buffer; None when a column holds values of a kind not
    formatted here (the caller then writes the rows one by one)."""
    texts = []
    for values in columns.values():
        text = _column_text(values)
        if text is None:
            return None
        texts.append(text.cast(pa.large_string()))
    if not texts or not len(texts[0]):
        return None
    rows = pc.binary_join_element_wise(*texts, _large("\t"), null_handling="replace",
                                       null_replacement="\\N")
    lines = pc.binary_join_element_wise(rows, _large(""), _large("\n"))
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    _, offsets_buffer, data = lines.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype="<i8")
    return data.slice(int(offsets[lines.offset]),
                      int(offsets[lines.offset + len(lines)] - offsets[lines.offset]))


def _large(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _column_text(values: Any) -> pa.Array | pa.ChunkedArray | None:
    """One column as COPY text values (NULL where missing), or None."""
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.StringDtype):
            return _escaped(pa.array(values, from_pandas=True))
        values = values.to_numpy()
    if isinstance(values, list):
        values = np.array(values, dtype=object) if values else np.array([], dtype=object)
    array = np.asarray(values)
    kind = array.dtype.kind
    if kind == "M":
        return time_text(array)
    if kind in "fiub":
        return _typed_text(pa.array(array, from_pandas=True))
    if kind != "O":
        return None
    try:
        arrow = pa.array(array, from_pandas=True)
    except (pa.ArrowException, ValueError, TypeError):
        return None
    return _typed_text(arrow)


def _typed_text(array: pa.Array) -> pa.Array | pa.ChunkedArray | None:
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _escaped(array)
    if pa.types.is_boolean(kind):
        return pc.if_else(array, "t", "f")
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        if pa.types.is_floating(kind):  # NaN is missing, as driver_values has it
            array = pc.if_else(pc.is_nan(array), pa.scalar(None, kind), array)
        return array.cast(pa.string())
    if pa.types.is_timestamp(kind) and kind.tz is None:
        return time_text(array.to_numpy(zero_copy_only=False).astype("datetime64[us]"))
    if pa.types.is_null(kind):
        return pa.nulls(len(array), pa.string())
    return None


def _escaped(text: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    for old, new in _ESCAPES:
        if pc.any(pc.match_substring(text, old)).as_py():
            text = pc.replace_substring(text, old, new)
    return text

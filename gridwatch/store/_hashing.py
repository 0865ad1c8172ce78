"""pandas' row hashes of the stored form, with text hashed by a compiled kernel.

A problem's content hash is ``pandas.util.hash_pandas_object`` of its stored columns (stores
keep these hashes: a re-import of the same rows must find them unchanged). pandas hashes a text
column by making a Python ``str`` of each value, encoding it and hashing the bytes with
SipHash-2-4, holding the GIL; for a million problems the hashes took about 1.5 s of an import.
Here text goes to Arrow once and its UTF-8 bytes are hashed by the same SipHash-2-4 compiled
with numba (no GIL), mixed and combined exactly as pandas does, so every hash is the one pandas
gives (tested against it, also with hypothesis).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
from numba import njit

__all__: list[str] = []

#: pandas' default ``hash_key``, as the two little-endian 64-bit halves SipHash keys with.
_KEY = np.frombuffer(b"0123456789123456", dtype="<u8")
_MISSING = np.uint64(np.iinfo(np.uint64).max)  # pandas' hash of a missing value


def frame_hashes(columns: Mapping[str, pd.Series | pa.Array | pa.ChunkedArray]) -> np.ndarray:
    """``pandas.util.hash_pandas_object(pd.DataFrame(columns), index=False)`` as an array,
    without making the frame; text columns (Arrow strings, pandas ``str``, or objects that are
    ``str`` or missing) hashed by the compiled kernel."""
    return combine_hashes([column_hashes(column) for column in columns.values()])


def combine_hashes(hashes: Sequence[np.ndarray]) -> np.ndarray:
    """The row hashes of a frame from the hashes of its columns, in order (pandas'
    ``combine_hash_arrays``: :func:`frame_hashes` of columns hashed one by one)."""
    if not hashes:
        raise ValueError("no columns to hash")
    # pandas.core.util.hashing.combine_hash_arrays (CPython's tuple hash)
    mult = np.uint64(1000003)
    out = np.zeros_like(hashes[0]) + np.uint64(0x345678)
    for i, hashed in enumerate(hashes):
        inverse = len(hashes) - i
        out ^= hashed
        out *= mult
        mult += np.uint64(82520 + inverse + inverse)
    out += np.uint64(97531)
    return out


def column_hashes(column: pd.Series | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``pandas.util.hash_pandas_object(column, index=False)`` as an array (an Arrow string
    array hashes as the pandas ``str`` column of its values)."""
    text = column if isinstance(column, (pa.Array, pa.ChunkedArray)) else _as_text(column)
    if text is None:
        assert isinstance(column, pd.Series)
        return pd.util.hash_pandas_object(column, index=False).to_numpy(dtype=np.uint64)
    return text_hashes(text)


def text_hashes(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """pandas' hash of each value of an Arrow string array (missing: pandas' missing hash).

    Examples
    --------
    >>> values = ["河道", None, ""]
    >>> same = pd.util.hash_pandas_object(pd.Series(values, dtype=object), index=False)
    >>> bool((text_hashes(pa.array(values)) == same.to_numpy()).all())
    True
    """
    chunks = text.chunks if isinstance(text, pa.ChunkedArray) else [text]
    out = np.empty(len(text), dtype=np.uint64)
    at = 0
    for chunk in chunks:  # each in place: a column read in batches is not copied into one
        _hash_chunk(chunk, out[at:at + len(chunk)])
        at += len(chunk)
    # pandas' mix of the 64-bit hashes (pandas.core.util.hashing._hash_ndarray)
    out ^= out >> np.uint64(30)
    out *= np.uint64(0xBF58476D1CE4E5B9)
    out ^= out >> np.uint64(27)
    out *= np.uint64(0x94D049BB133111EB)
    out ^= out >> np.uint64(31)
    if text.null_count:
        out[text.is_null().to_numpy(zero_copy_only=False)] = _MISSING
    return out


def compile_kernels() -> None:
    """Hash a text (numba compiles the hash the first time it runs after installing, or
    loads it from its cache, here instead of in the first import)."""
    text_hashes(pa.array(["河道"], type=pa.large_string()))


def _hash_chunk(chunk: pa.Array, out: np.ndarray) -> None:
    n = len(chunk)
    if not n:
        return
    if pa.types.is_string(chunk.type):
        offsets_type = "<i4"
    elif pa.types.is_large_string(chunk.type):
        offsets_type = "<i8"
    else:
        raise TypeError(f"not text: {chunk.type}")
    _, offsets_buffer, data_buffer = chunk.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=offsets_type)[chunk.offset:
                                                                chunk.offset + n + 1]
    data = (np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None
            else np.zeros(0, dtype=np.uint8))
    _siphash_all(data, offsets.astype(np.int64, copy=False), _KEY[0], _KEY[1], out)


def _as_text(column: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The column as Arrow strings when it holds only text and missing values."""
    if isinstance(column.dtype, pd.StringDtype):
        array = pa.array(column.array, from_pandas=True)
    elif column.dtype == object:
        try:
            array = pa.array(column.to_numpy(), from_pandas=True)
        except (pa.ArrowException, ValueError, TypeError):  # not only text: pandas hashes it
            return None
    else:
        return None
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None  # e.g. nothing but missing values (rare): pandas hashes them
    return array


@njit(cache=True, nogil=True)
def _siphash_all(data: np.ndarray, offsets: np.ndarray, k0: np.uint64, k1: np.uint64,
                 out: np.ndarray) -> None:  # pragma: no cover - compiled
    for i in range(len(out)):
        out[i] = _siphash(data, offsets[i], offsets[i + 1], k0, k1)


@njit(cache=True, nogil=True, inline="always")
def _rotl(x: np.uint64, b: int) -> np.uint64:  # pragma: no cover - compiled
    return (x << np.uint64(b)) | (x >> np.uint64(64 - b))


@njit(cache=True, nogil=True)
def _siphash(data: np.ndarray, start: int, end: int, k0: np.uint64,
             k1: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    # SipHash-2-4 (Aumasson and Bernstein), as pandas' hashing.pyx computes it
    v0 = k0 ^ np.uint64(0x736F6D6570736575)
    v1 = k1 ^ np.uint64(0x646F72616E646F6D)
    v2 = k0 ^ np.uint64(0x6C7967656E657261)
    v3 = k1 ^ np.uint64(0x7465646279746573)
    length = end - start
    full = start + (length // 8) * 8
    pos = start
    while pos < full:
        m = np.uint64(0)
        for j in range(8):
            m |= np.uint64(data[pos + j]) << np.uint64(8 * j)
        v3 ^= m
        for _ in range(2):
            v0, v1, v2, v3 = _round(v0, v1, v2, v3)
        v0 ^= m
        pos += 8
    b = np.uint64(length & 0xFF) << np.uint64(56)
    for j in range(end - full):
        b |= np.uint64(data[full + j]) << np.uint64(8 * j)
    v3 ^= b
    for _ in range(2):
        v0, v1, v2, v3 = _round(v0, v1, v2, v3)
    v0 ^= b
    v2 ^= np.uint64(0xFF)
    for _ in range(4):
        v0, v1, v2, v3 = _round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


@njit(cache=True, nogil=True, inline="always")
def _round(v0: np.uint64, v1: np.uint64, v2: np.uint64, v3: np.uint64
           ) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:  # pragma: no cover
    v0 += v1
    v1 = _rotl(v1, 13)
    v1 ^= v0
    v0 = _rotl(v0, 32)
    v2 += v3
    v3 = _rotl(v3, 16)
    v3 ^= v2
    v0 += v3
    v3 = _rotl(v3, 21)
    v3 ^= v0
    v2 += v1
    v1 = _rotl(v1, 17)
    v1 ^= v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3

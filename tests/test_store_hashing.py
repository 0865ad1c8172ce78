"""Content hashes with text hashed by the compiled SipHash (gridwatch.store._hashing): every
hash is the one pandas gives, so stores keep the hashes they have."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.store._hashing import column_hashes, frame_hashes, text_hashes

texts = st.lists(st.one_of(st.none(), st.text(max_size=40),
                           st.sampled_from(["", "河道漂浮物", "南湖区某路 12号", "a" * 8])),
                 max_size=60)


def _pandas(column: pd.Series) -> np.ndarray:
    return pd.util.hash_pandas_object(column, index=False).to_numpy()


@settings(max_examples=200, deadline=None)
@given(texts)
def test_text_hashes_equal_pandas(values: list[str | None]) -> None:
    objects = pd.Series(np.array(values, dtype=object), dtype=object)
    strings = pd.Series(values, dtype="str")
    assert (text_hashes(pa.array(values, type=pa.string())) == _pandas(objects)).all()
    assert (column_hashes(objects) == _pandas(objects)).all()
    assert (column_hashes(strings) == _pandas(strings)).all()


def test_a_sliced_arrow_array_hashes_its_own_values() -> None:
    values = pa.array(["河道", None, "水", "空气噪声"])[1:]
    want = _pandas(pd.Series(np.array(values.to_pylist(), dtype=object), dtype=object))
    assert (text_hashes(values) == want).all()


def test_chunked_arrow_text_hashes_chunk_by_chunk() -> None:
    chunks = pa.chunked_array([pa.array(["河道", None]), pa.array([], pa.string()),
                               pa.array(["水", "空气噪声", None]).slice(1)], type=pa.string())
    want = _pandas(pd.Series(np.array(chunks.to_pylist(), dtype=object), dtype=object))
    assert (text_hashes(chunks) == want).all()
    assert (column_hashes(pd.Series(pd.arrays.ArrowStringArray(chunks))) == want).all()


def test_frame_hashes_equal_pandas_for_every_kind_of_stored_column() -> None:
    n = 500
    rng = np.random.default_rng(3)
    floats = rng.random(n)
    floats[::7] = np.nan
    columns = {
        "issue_id": pd.Series([f"JX-{i:05d}" for i in range(n)], dtype="str"),
        "text": pd.Series(np.array([None if i % 3 else f"河道 {i}" for i in range(n)],
                                   dtype=object), dtype=object),
        "empty": pd.Series(np.full(n, None, dtype=object), dtype=object),
        "mixed": pd.Series(np.array([i if i % 2 else f"{i}" for i in range(n)], dtype=object),
                           dtype=object),
        "number": pd.Series(floats),
        "time": pd.Series(rng.integers(0, 2**60, n, dtype=np.int64)),
        "flag": pd.Series(rng.integers(-1, 2, n).astype("int8")),
    }
    want = pd.util.hash_pandas_object(pd.DataFrame(columns), index=False).to_numpy()
    assert (frame_hashes(columns) == want).all()


def test_hashes_of_stored_rows_do_not_change() -> None:
    """The hashes stores already hold (pandas 3.1's, computed once and written here)."""
    columns = {
        "issue_id": pd.Series(pd.array(["JX-0001", "JX-0002"], dtype="str")),
        "description": pd.Series(np.array(["河道漂浮物 <b>", None], dtype=object), dtype=object),
        "lon": pd.Series([120.75, np.nan]),
        "flag": pd.Series(np.array([1, -1], dtype="int8")),
    }
    assert frame_hashes(columns).tolist() == [1362271199911703976, 16884802882907744174]


def _hash_form_reference(column: pd.Series) -> pd.Series:
    """The stored column's hash form as the first round made it (objects compared one by
    one), the reference for gridwatch.store._tables._hash_form."""
    values = column.to_numpy()
    is_true, is_false = values == True, values == False  # noqa: E712
    if is_true.any() or is_false.any():
        codes = np.full(len(values), -1, dtype="int8")
        codes[is_true], codes[is_false] = 1, 0
        return pd.Series(codes)
    return pd.Series(values, dtype=object)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.booleans(), st.just(float("nan"))), max_size=40),
       texts)
def test_object_columns_hash_as_the_first_round_hashed_them(flags: list[object],
                                                           text: list[str | None]) -> None:
    from gridwatch.store._tables import _hash_form

    for values in (flags, text, [None] * len(text), [1, "1", None][: len(text)]):
        column = pd.Series(np.array(values, dtype=object), dtype=object)
        want = pd.util.hash_pandas_object(
            pd.DataFrame({"c": _hash_form_reference(column)}), index=False).to_numpy()
        assert (frame_hashes({"c": _hash_form(column)}) == want).all(), values

"""COPY text made in Arrow (gridwatch.store._copy) against psycopg's rows, on the real
PostgreSQL: the same values read back, NULLs, escapes, times and floats included."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridwatch.store import _tables as _s
from gridwatch.store._copy import copy_text

pytestmark = pytest.mark.parametrize("store_url", ["postgis"], indirect=True)

TEXT = st.one_of(st.none(), st.text(st.characters(blacklist_characters="\x00",
                                                  blacklist_categories=("Cs",)), max_size=12),
                 st.sampled_from(["\\N", "a\tb", "x\\ny", "\\", "\r\n", "嘉兴\t河道", ""]))
FLOAT = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                  st.sampled_from([0.1, -0.0, 5e-324, 1e300, 120.123456789, 30.7]))
TIME = st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1900, 1, 1),
                                         max_value=dt.datetime(2200, 12, 31)))
FLAG = st.one_of(st.none(), st.booleans())
NUMBER = st.one_of(st.none(), st.integers(-(2 ** 63), 2 ** 63 - 1))
ROWS = st.lists(st.tuples(TEXT, FLOAT, TIME, FLAG, NUMBER), min_size=1, max_size=30)


@pytest.fixture
def tables(store_url: str) -> Iterator[tuple[sa.Engine, sa.Table, sa.Table]]:
    engine = sa.create_engine(store_url)
    meta = sa.MetaData()

    def table(name: str) -> sa.Table:
        return sa.Table(name, meta, sa.Column("pos", sa.Integer), sa.Column("t", sa.Text),
                        sa.Column("f", sa.Float(53)), sa.Column("ts", sa.DateTime),
                        sa.Column("b", sa.Boolean), sa.Column("i", sa.BigInteger))

    rows_written, arrow_written = table("by_rows"), table("by_arrow")
    meta.create_all(engine)
    yield engine, rows_written, arrow_written
    engine.dispose()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b) if not math.isnan(a) \
            else math.isnan(b)
    return bool(a == b)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS)
def test_copy_text_reads_back_as_psycopgs_rows(
        tables: tuple[sa.Engine, sa.Table, sa.Table], rows: list[tuple[Any, ...]]) -> None:
    engine, by_rows, by_arrow = tables
    n = len(rows)
    text, floats, times, flags, numbers = (list(column) for column in zip(*rows, strict=True))
    # the stored forms an import hands over: text and flags as objects, floats with NaN for
    # missing, naive UTC times as datetime64 with NaT, integers as a list of values
    columns: dict[str, Any] = {
        "pos": np.arange(n),
        "t": np.array(text, dtype=object),
        "f": np.array([np.nan if v is None else v for v in floats], dtype=float),
        "ts": np.array([np.datetime64("NaT") if v is None else np.datetime64(v, "us")
                        for v in times], dtype="datetime64[us]"),
        "b": np.array(flags, dtype=object),
        "i": numbers,
    }
    assert copy_text(columns) is not None  # the Arrow path, not the fallback
    with engine.begin() as conn:
        conn.execute(by_rows.delete())
        conn.execute(by_arrow.delete())
        _s.copy_rows(conn, by_arrow, columns)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy("COPY by_rows (pos, t, f, ts, b, i) FROM STDIN") as copy:
            values = [_s.driver_values(v, sqlite=False) if isinstance(v, np.ndarray) else v
                      for v in columns.values()]
            for row in zip(*values, strict=True):
                copy.write_row(row)
        cursor.close()
        want = conn.execute(sa.select(by_rows).order_by(by_rows.c.pos)).all()
        got = conn.execute(sa.select(by_arrow).order_by(by_arrow.c.pos)).all()
    assert len(got) == len(want) == n
    for mine, theirs in zip(got, want, strict=True):
        assert all(_same(a, b) for a, b in zip(mine, theirs, strict=True)), (mine, theirs)


def test_copy_rows_takes_series_and_falls_back_to_rows_for_other_values(
        tables: tuple[sa.Engine, sa.Table, sa.Table]) -> None:
    engine, _, by_arrow = tables
    strings = pd.Series(["a\tb", None, "河道\\"], dtype="str", index=[7, 3, 5])
    odd = np.array([{"not": "text"}, None, None], dtype=object)  # no Arrow text for this
    assert copy_text({"t": strings}) is not None
    assert copy_text({"t": odd}) is None
    with engine.begin() as conn:
        _s.copy_rows(conn, by_arrow, {"pos": [0, 1, 2], "t": strings})
        _s.copy_rows(conn, by_arrow, {"pos": [3, 4, 5],
                                      "t": np.array(["x", None, "y\nz"], dtype=object),
                                      "f": pd.Series([1.5, np.nan, -2.0])})
        got = conn.execute(sa.select(by_arrow.c.t, by_arrow.c.f).order_by(by_arrow.c.pos)).all()
    assert [tuple(r) for r in got] == [("a\tb", None), (None, None), ("河道\\", None),
                                       ("x", 1.5), (None, None), ("y\nz", -2.0)]

"""Parse the date/time values people put in problem exports into UTC timestamps.

Whole columns are parsed with explicit formats first (``pd.to_datetime``), and only the values no
format took are parsed one by one, once per unique value: a 250,000-row export has few distinct
formats, and a column of one format costs one vectorised pass.

Accepted forms: ``2024-03-15 08:00``, ``2024-03-15 08:00:00``, ``2024-03-15``, ``2024/3/15``,
``2024/3/15 8:05``, ``2024.3.15``, ``20240315``, ``2024年3月15日``, ``2024年3月15日 08:00``
(also ``8时5分``), ISO 8601 with ``T``, fractions, ``Z`` or an offset, Excel serial day numbers
(20000–80000, i.e. 1954–2119, as numbers or text such as ``45366.5``), and ``datetime``/``date``
objects (XLSX cells). Full-width digits and punctuation are accepted too.

A value "has no time of day" (for ``date_only_end_of_day``) when its text has no ``H:MM``, when
it is a whole Excel serial number, or when it is a ``date`` or a ``datetime`` at exactly
midnight (spreadsheets store date cells that way).

Times are held in nanoseconds, which cannot go beyond 1677–2262: a value outside
:data:`gridwatch.schema.DATE_LIMITS` (or the narrower ``bounds`` a project sets) is never
converted, and is reported as out of range rather than read as some other date.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.schema import DATE_LIMITS

__all__ = ["EXCEL_SERIAL_RANGE", "parse_datetimes"]

#: Numbers in this range are read as Excel serial days (1954-10-03 .. 2119-01-10).
EXCEL_SERIAL_RANGE: tuple[float, float] = (20000.0, 80000.0)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_END_OF_DAY = pd.Timedelta(hours=23, minutes=59, seconds=59)
_UTC_DTYPE = "datetime64[ns, UTC]"
_NAT = np.datetime64("NaT")
# Local wall times outside [_SAFE_LOW, _SAFE_HIGH) are refused before the nanosecond cast.
_SAFE_LOW = np.datetime64(DATE_LIMITS[0], "s")
_SAFE_HIGH = np.datetime64(DATE_LIMITS[1], "s") + np.timedelta64(1, "D")

# Naive formats tried on whole columns, in order; "ISO8601" only on values that look like it.
_NAIVE_FORMATS: tuple[str, ...] = (
    "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%Y.%m.%d", "%Y.%m.%d %H:%M",
    "%Y%m%d",
)
# Patterns run on whole columns use [0-9] and no \s: with \d on non-ASCII text, or \s, pandas
# falls back from pyarrow to Python's re (5-10x slower). The one-value path handles the rest.
_ISO_LIKE = (r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
             r"(?:[T ][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?$")
_HAS_OFFSET = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
               r"(?:Z|[+-][0-9]{2}:?[0-9]{2})$")
_PROBE = 50  # values tried before a format is run on a whole column

_GENERIC = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[T ]+(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6})\d*)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_CHINESE = re.compile(
    r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?"
    r"(?:\s*(\d{1,2})[:时点](\d{1,2})?(?:[:分](\d{1,2})?秒?)?)?$"
)
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_COMPACT = re.compile(r"^(?:19|20)\d{6}$")  # 20240315
#: Columns with at most this many distinct values are parsed value by value (cheaper).
_FEW = 2000


def parse_datetimes(
    values: Iterable[object] | pd.Series,
    *,
    timezone: str,
    date_only_end_of_day: bool = False,
    bounds: tuple[dt.date, dt.date] | None = None,
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse date/time values into UTC timestamps.

    Parameters
    ----------
    values
        Strings, numbers (Excel serial days), ``datetime``/``date`` objects or missing values.
        A Series keeps its index in the result.
    timezone
        IANA zone of naive values (those without ``Z`` or an offset), e.g. ``"Asia/Shanghai"``.
    date_only_end_of_day
        Read a value without a time of day as the end of that local day (23:59:59), as a
        deadline means; otherwise it is the start of the day.
    bounds
        First and last local day accepted (inclusive); default (and at most)
        :data:`gridwatch.schema.DATE_LIMITS`.

    Returns
    -------
    parsed : pandas.Series
        ``datetime64[ns, UTC]``; NaT where the value is empty, could not be read, or is out of
        range.
    bad : pandas.Series
        ``bool``; True where a non-empty value could not be read.
    outside : pandas.Series
        ``bool``; True where a value was read but falls outside ``bounds``.

    Raises
    ------
    ConfigError
        When ``timezone`` is not a known IANA time zone.

    Examples
    --------
    >>> parsed, bad, outside = parse_datetimes(["2024-03-15 08:00", "2024年3月15日"],
    ...                                        timezone="Asia/Shanghai")
    >>> str(parsed[0])
    '2024-03-15 00:00:00+00:00'
    """
    parsed, bad, outside, _ends = _parse_datetimes(
        values, timezone=timezone, date_only_end_of_day=date_only_end_of_day, bounds=bounds,
        ends=False)
    return parsed, bad, outside


def parse_datetimes_and_ends(
    values: Iterable[object] | pd.Series,
    *,
    timezone: str,
    bounds: tuple[dt.date, dt.date] | None = None,
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """:func:`parse_datetimes` of ``values``, and the same values read with
    ``date_only_end_of_day`` (a closing date means its end when compared), from one parse:
    ``(parsed, bad, outside, ends)``."""
    parsed, bad, outside, ends = _parse_datetimes(
        values, timezone=timezone, date_only_end_of_day=False, bounds=bounds, ends=True)
    assert ends is not None
    return parsed, bad, outside, ends


def _parse_datetimes(
    values: Iterable[object] | pd.Series, *, timezone: str, date_only_end_of_day: bool,
    bounds: tuple[dt.date, dt.date] | None, ends: bool,
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series | None]:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"timezone {timezone!r} is not a known time zone; "
                          "use an IANA name such as 'Asia/Shanghai'") from exc
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    index = series.index
    series = series.reset_index(drop=True)
    n = len(series)
    naive = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    aware = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")  # already UTC
    date_only = np.zeros(n, dtype=bool)
    present = np.zeros(n, dtype=bool)
    outside = np.zeros(n, dtype=bool)

    text, objects = _split_objects(series)
    present[objects.index.to_numpy()] = True
    _parse_objects(objects, naive, aware, date_only, outside)

    mask = text.notna().to_numpy()
    present |= mask
    if mask.any():
        _parse_text_column(text[mask], naive, aware, date_only, outside)

    low, high = _utc_bounds(bounds, timezone)

    def utc_times(naive: np.ndarray, outside: np.ndarray) -> np.ndarray:
        local = pd.Series(naive).dt.tz_localize(
            timezone, ambiguous=np.zeros(n, dtype=bool), nonexistent="shift_forward")
        utc = local.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
        utc = np.where(~np.isnat(aware), aware, utc)
        outside |= ~np.isnat(utc) & ((utc < low) | (utc >= high))
        utc[outside] = _NAT
        return utc

    def as_series(utc: np.ndarray) -> pd.Series:
        return pd.Series(pd.DatetimeIndex(utc).tz_localize("UTC"), index=index,
                         dtype=_UTC_DTYPE)

    shifted = date_only & ~np.isnat(naive)
    end_of_day = None
    if ends:
        later = naive.copy()
        later[shifted] += np.timedelta64(86399, "s")
        end_of_day = as_series(utc_times(later, outside.copy()))
    if date_only_end_of_day:
        naive[shifted] += np.timedelta64(86399, "s")
    utc = utc_times(naive, outside)
    bad = present & np.isnat(utc) & ~outside
    return (as_series(utc), pd.Series(bad, index=index, dtype=bool),
            pd.Series(outside, index=index, dtype=bool), end_of_day)


def _utc_bounds(bounds: tuple[dt.date, dt.date] | None,
                timezone: str) -> tuple[np.datetime64, np.datetime64]:
    """The UTC instants that start the first accepted local day and end the last one."""
    first, last = bounds if bounds is not None else DATE_LIMITS
    first, last = max(first, DATE_LIMITS[0]), min(last, DATE_LIMITS[1])
    edges = [pd.Timestamp(day).tz_localize(timezone, ambiguous=False,
                                           nonexistent="shift_forward").tz_convert("UTC")
             for day in (first, last + dt.timedelta(days=1))]
    low, high = (np.datetime64(e.tz_localize(None).to_datetime64(), "ns") for e in edges)
    return low, high


def _to_ns(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cast datetimes of any unit to nanoseconds; NaT and True where outside the safe window.

    A plain ``astype("datetime64[ns]")`` wraps silently: 3025-11-10 would become 1856-10-01.
    """
    values = np.asarray(values)
    seconds = values.astype("datetime64[s]")
    outside = ~np.isnat(seconds) & ((seconds < _SAFE_LOW) | (seconds >= _SAFE_HIGH))
    return np.where(outside, _NAT, values).astype("datetime64[ns]"), outside


def _split_objects(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Split into stripped non-empty text (NA elsewhere) and the non-text, non-missing values."""
    if series.dtype == object:
        is_str = series.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        missing = series.isna().to_numpy()
        others = series[~is_str & ~missing]
        text = series.where(is_str).astype("str")
    else:
        others = series.iloc[:0]
        text = series.astype("str") if series.dtype != "str" else series
    text = text.str.strip()
    text = text.where(text.notna() & (text != ""))
    return text, others


def _parse_objects(objects: pd.Series, naive: np.ndarray, aware: np.ndarray,
                   date_only: np.ndarray, outside: np.ndarray) -> None:
    """Fill the arrays at ``objects.index`` (positions) from numbers and date/time objects."""
    if objects.empty:
        return
    kind = objects.map(_object_kind)
    numbers = objects[kind == "number"]
    if len(numbers):
        days = numbers.to_numpy(dtype=float)
        low, high = EXCEL_SERIAL_RANGE
        ok = (days >= low) & (days <= high)
        where = numbers.index.to_numpy()[ok]
        stamps = (_EXCEL_EPOCH + pd.to_timedelta(days[ok], unit="D")).round("s")
        naive[where] = stamps.to_numpy("datetime64[ns]")
        date_only[where] = np.equal(np.mod(days[ok], 1.0), 0.0)
    for name in ("naive", "date"):
        part = objects[kind == name]
        if len(part):
            stamps = pd.DatetimeIndex(pd.to_datetime(part.to_list()))
            where = part.index.to_numpy()
            naive[where], outside[where] = _to_ns(stamps.to_numpy())
            # Spreadsheets have no date type: a date cell is a datetime at midnight.
            date_only[part.index.to_numpy()] = stamps == stamps.normalize()
    for pos, value in objects[kind == "other"].items():
        _store(int(pos), _from_object(value), naive, aware, date_only, outside)


def _object_kind(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "bad"
    if isinstance(value, int | float | np.integer | np.floating):
        return "number"
    if isinstance(value, dt.datetime):  # pd.Timestamp included
        return "naive" if value.tzinfo is None else "other"
    if isinstance(value, dt.date):
        return "date"
    return "other"


def _from_object(value: object) -> tuple[pd.Timestamp, bool, bool] | None:
    """Read a non-text value: (timestamp, date_only, aware) or None."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(value)
        if ts.tzinfo is not None:
            try:
                return ts.tz_convert("UTC").tz_localize(None), False, True
            except (OverflowError, ValueError):  # year 1 or 9999: out of range either way
                return ts.tz_localize(None), False, True
        return ts, False, False
    if isinstance(value, dt.date):
        return pd.Timestamp(value), True, False
    if isinstance(value, int | float | np.integer | np.floating):
        return _from_serial(float(value))
    return None


def _from_serial(number: float) -> tuple[pd.Timestamp, bool, bool] | None:
    low, high = EXCEL_SERIAL_RANGE
    if not (low <= number <= high):
        return None
    ts = _EXCEL_EPOCH + pd.Timedelta(days=number)
    return ts.round("s"), float(number).is_integer(), False


def _store(pos: int, parsed: tuple[pd.Timestamp, bool, bool] | None, naive: np.ndarray,
           aware: np.ndarray, date_only: np.ndarray, outside: np.ndarray) -> None:
    if parsed is None:
        return
    ts, only_date, is_aware = parsed
    value, out = _to_ns(np.array([ts.to_datetime64()]))
    (aware if is_aware else naive)[pos] = value[0]
    outside[pos] = out[0]
    date_only[pos] = only_date


def _parse_text_column(text: pd.Series, naive: np.ndarray, aware: np.ndarray,
                       date_only: np.ndarray, outside: np.ndarray) -> None:
    """Fill the arrays at ``text.index`` (positions) from the text values."""
    positions = text.index.to_numpy()
    values = text.reset_index(drop=True)
    # more than _FEW distinct values among the first ones: no need to count them all
    many = len(values) > _FEW and values.iloc[:4 * _FEW].nunique(dropna=False) > _FEW
    if not many:
        codes, uniques = pd.factorize(values)
        if len(uniques) <= _FEW:
            _parse_unique(codes, list(uniques), positions, naive, aware, date_only, outside)
            return
    todo = np.ones(len(text), dtype=bool)

    with_offset = values.str.match(_HAS_OFFSET).to_numpy(dtype=bool)
    if with_offset.any():
        parsed = pd.to_datetime(values[with_offset], format="ISO8601", utc=True, errors="coerce")
        ok = parsed.notna().to_numpy()
        hit = np.flatnonzero(with_offset)[ok]
        aware[positions[hit]], outside[positions[hit]] = _to_ns(
            parsed[ok].dt.tz_localize(None).to_numpy())
        todo[hit] = False

    iso = todo & values.str.match(_ISO_LIKE).to_numpy(dtype=bool)
    if iso.any():
        _apply_format(values, iso, "ISO8601", positions, naive, todo, outside)
    chinese = todo & values.str.contains("年", regex=False).to_numpy(dtype=bool)
    if chinese.any():
        # 2024年3月15日 08:00 -> 2024-3-15 08:00, then the ISO path; other forms fall through.
        rewritten = values.where(chinese, "")
        for old, new in (("年", "-"), ("月", "-"), ("日", " "), ("号", " ")):
            rewritten = rewritten.str.replace(old, new, regex=False)  # literal: stays in arrow
        rewritten = rewritten.str.strip().str.replace(r" +", " ", regex=True)
        iso = chinese & rewritten.str.match(_ISO_LIKE).to_numpy(dtype=bool)
        if iso.any():
            _apply_format(rewritten, iso, "ISO8601", positions, naive, todo, outside)
    for fmt in _NAIVE_FORMATS:
        if not todo.any():
            break
        remaining = values[todo]
        probe = remaining.drop_duplicates().head(_PROBE)
        if pd.to_datetime(probe, format=fmt, errors="coerce").notna().any():
            _apply_format(values, todo.copy(), fmt, positions, naive, todo, outside)

    # Values with no time of day mean a whole day (a deadline's end of day).
    done = ~todo
    if done.any():
        no_time = ~values[done].str.contains(r"[0-9]:[0-9]", regex=True).to_numpy(dtype=bool)
        date_only[positions[done]] = no_time

    if todo.any():
        numeric = todo & values.str.match(r"^[0-9]+(?:\.[0-9]+)?$").to_numpy(dtype=bool)
        numbers = pd.to_numeric(values[numeric], errors="coerce")
        low, high = EXCEL_SERIAL_RANGE
        serial = numbers.between(low, high)
        if serial.any():
            where = serial[serial].index.to_numpy()
            days = numbers[serial].to_numpy(dtype=float)
            stamps = (_EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).round("s")
            naive[positions[where]] = stamps.to_numpy("datetime64[ns]")
            date_only[positions[where]] = np.equal(np.mod(days, 1.0), 0.0)
            todo[where] = False

    if todo.any():
        rest = values[todo]
        codes, uniques = pd.factorize(rest)
        _parse_unique(codes, list(uniques), positions[rest.index.to_numpy()], naive, aware,
                      date_only, outside)


def _parse_unique(codes: np.ndarray, uniques: list[str], where: np.ndarray, naive: np.ndarray,
                  aware: np.ndarray, date_only: np.ndarray, outside: np.ndarray) -> None:
    """Parse each distinct value once with :func:`_parse_one` and spread the results."""
    parsed = [_parse_one(u) for u in uniques]
    # Microseconds hold every year people type (and all the precision text carries).
    u_time, u_outside = _to_ns(np.array(
        [p[0].to_datetime64() if p else _NAT for p in parsed], dtype="datetime64[us]"))
    u_date_only = np.array([bool(p and p[1]) for p in parsed], dtype=bool)
    u_aware = np.array([bool(p and p[2]) for p in parsed], dtype=bool)
    times, is_aware = u_time[codes], u_aware[codes]
    aware[where[is_aware]] = times[is_aware]
    naive[where[~is_aware]] = times[~is_aware]
    date_only[where] = u_date_only[codes]
    outside[where] = u_outside[codes]


def _apply_format(values: pd.Series, mask: np.ndarray, fmt: str, positions: np.ndarray,
                  naive: np.ndarray, todo: np.ndarray, outside: np.ndarray) -> None:
    parsed = pd.to_datetime(values[mask], format=fmt, errors="coerce")
    ok = parsed.notna().to_numpy()
    hit = np.flatnonzero(mask)[ok]
    naive[positions[hit]], outside[positions[hit]] = _to_ns(parsed[ok].to_numpy())
    todo[hit] = False


def _parse_one(raw: str) -> tuple[pd.Timestamp, bool, bool] | None:
    """Parse one value no column format took: (timestamp, date_only, aware) or None."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if _COMPACT.match(text):
        return _build(text[:4], text[4:6], text[6:8], None, None, None, None, None)
    if _NUMBER.match(text):
        return _from_serial(float(text))
    found = _CHINESE.match(text)
    if found:
        y, mo, d, h, mi, s = found.groups()
        return _build(y, mo, d, h, mi, s, None, None)
    found = _GENERIC.match(text)
    if found:
        return _build(*found.groups())
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return _from_object(value)


def _build(y: str, mo: str, d: str, h: str | None, mi: str | None, s: str | None,
           frac: str | None, offset: str | None) -> tuple[pd.Timestamp, bool, bool] | None:
    try:
        ts = pd.Timestamp(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                          int((frac or "0").ljust(6, "0")))
    except ValueError:
        return None
    date_only = h is None
    if offset is None:
        return ts, date_only, False
    if offset == "Z":
        return ts, date_only, True
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    delta = pd.Timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    try:
        return ts - sign * delta, date_only, True
    except (OverflowError, ValueError):  # year 1 or 9999: out of range whichever way it goes
        return ts, date_only, True

"""Tables printed on the terminal: aligned columns, as ``DataFrame.to_string(index=False)``
lays them out, in a fraction of its time (printing the 4,649 grids of Jiaxing took 0.3 s
there), and aligned for Chinese text too (a wide character takes two columns)."""

from __future__ import annotations

import math
import unicodedata
from typing import Any

import pandas as pd

__all__ = ["plain_table"]


def plain_table(frame: pd.DataFrame) -> str:
    """The frame as right-aligned text columns under their names (no index).

    Floats are shown with six decimals, as pandas does; missing values as ``NaN``.

    Examples
    --------
    >>> print(plain_table(pd.DataFrame({"area": ["G1", "双溪镇"], "rate": [0.5, None]})))
      area     rate
        G1 0.500000
    双溪镇      NaN
    """
    if not len(frame.columns):
        return ""
    padded = []
    for name in frame.columns:
        cells = [str(name), *_cells(frame[name])]
        sizes = [_width(cell) for cell in cells]
        widest = max(sizes)
        padded.append([" " * (widest - size) + cell for cell, size in zip(cells, sizes,
                                                                          strict=True)])
    return "\n".join(" ".join(row) for row in zip(*padded, strict=True))


def _cells(values: pd.Series) -> list[str]:
    if pd.api.types.is_float_dtype(values.dtype):
        return [_float(v) for v in values.to_numpy(dtype="float64")]
    out = values.astype(object).to_numpy()
    missing = pd.isna(out)
    return ["NaN" if gone else str(v) for v, gone in zip(out, missing, strict=True)]


def _float(value: Any) -> str:
    return "NaN" if math.isnan(value) else f"{value:.6f}"


def _width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


"""The one output shape every hotspot method returns (bin categories and labels: the palette)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridwatch.errors import LayerError
from gridwatch.output.palette import BIN_CATEGORIES, BIN_LABELS

__all__ = [
    "OUTPUT_COLUMNS",
    "aligned_values",
    "result_frame",
]

#: Columns of every hotspot result, in order (``geometry`` last).
OUTPUT_COLUMNS: tuple[str, ...] = (
    "area_id", "area_name", "value", "z", "p", "p_fdr", "bin", "category", "label",
    "trend_z", "trend_p", "geometry",
)


def aligned_values(areas: gpd.GeoDataFrame, values: Any, *, name: str = "values") -> np.ndarray:
    """Return ``values`` as floats in the order of ``areas``.

    A Series indexed by area id is aligned on ``area_id`` (areas it lacks get 0: no problems);
    anything else must be a sequence as long as ``areas``.
    """
    if isinstance(values, pd.Series) and not isinstance(values.index, pd.RangeIndex):
        keyed = values.copy()
        keyed.index = keyed.index.astype(str)
        unknown = keyed.index.difference(pd.Index(areas["area_id"].astype(str)))
        if len(unknown):
            raise LayerError(f"{name} has {len(unknown)} id(s) that are not areas of the layer, "
                             f"e.g. {list(unknown[:3])}")
        out = keyed.reindex(areas["area_id"].astype(str)).fillna(0.0)
        arr = pd.to_numeric(out, errors="coerce").to_numpy(dtype=float)
    else:
        arr = np.asarray(values, dtype=float).ravel()
        if arr.shape[0] != len(areas):
            raise LayerError(f"{name} has {arr.shape[0]} values but there are {len(areas)} areas")
    bad = ~np.isfinite(arr)
    if bad.any():
        where = areas["area_id"].astype(str).to_numpy()[bad][:5].tolist()
        raise LayerError(f"{name} must be finite numbers; {int(bad.sum())} are missing or "
                         f"infinite, e.g. at areas {where}")
    return arr


def result_frame(
    areas: gpd.GeoDataFrame,
    *,
    value: np.ndarray,
    z: np.ndarray | None = None,
    p: np.ndarray | None = None,
    p_fdr: np.ndarray | None = None,
    bins: np.ndarray | None = None,
    category: Sequence[str] | np.ndarray | None = None,
    label: Sequence[str] | np.ndarray | None = None,
    trend_z: np.ndarray | None = None,
    trend_p: np.ndarray | None = None,
    extra: dict[str, Any] | None = None,
    attrs: dict[str, Any] | None = None,
) -> gpd.GeoDataFrame:
    """Assemble a result with :data:`OUTPUT_COLUMNS` (NaN/NA where a method has no value)."""
    n = len(areas)
    nan = np.full(n, np.nan)
    ids = areas["area_id"].astype("str").array  # kept as they are (Arrow strings: no copy)
    names = areas["area_name"].astype("str").array if "area_name" in areas.columns else ids
    if bins is not None:
        bin_values = np.asarray(bins, dtype=np.int64)
        bin_col = pd.array(bin_values, dtype="Int64")
        if category is None:
            category = _by_bin(BIN_CATEGORIES, bin_values)
        if label is None:
            label = _by_bin(BIN_LABELS, bin_values)
    else:
        bin_col = pd.array([pd.NA] * n, dtype="Int64")
    data: dict[str, Any] = {
        "area_id": ids,
        "area_name": names,
        "value": np.asarray(value, dtype=float),
        "z": nan if z is None else np.asarray(z, dtype=float),
        "p": nan if p is None else np.asarray(p, dtype=float),
        "p_fdr": nan if p_fdr is None else np.asarray(p_fdr, dtype=float),
        "bin": bin_col,
        "category": _strings(category, n),
        "label": _strings(label, n),
        "trend_z": nan if trend_z is None else np.asarray(trend_z, dtype=float),
        "trend_p": nan if trend_p is None else np.asarray(trend_p, dtype=float),
    }
    frame = pd.DataFrame(data, index=areas.index)
    for key, col in (extra or {}).items():
        frame[key] = col
    result = gpd.GeoDataFrame(frame, geometry=areas.geometry.to_numpy(), crs=areas.crs)
    result.attrs.update(attrs or {})
    return result


def _by_bin(names: dict[int, str], bins: np.ndarray) -> np.ndarray:
    """``names[b]`` for every bin ``b``."""
    keys = np.array(sorted(names))
    pos = np.minimum(np.searchsorted(keys, bins), keys.size - 1)
    missing = keys[pos] != bins
    if missing.any():
        raise KeyError(int(bins[missing][0]))
    return np.array([names[k] for k in keys.tolist()], dtype=object)[pos]


def _strings(values: Sequence[str] | np.ndarray | None, n: int) -> pd.api.extensions.ExtensionArray:
    if values is None:
        return pd.array(np.full(n, "", dtype=object), dtype="str")
    return pd.array(np.asarray(values, dtype=object), dtype="str")

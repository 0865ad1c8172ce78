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
    names = (areas["area_name"].astype("str") if "area_name" in areas.columns
             else areas["area_id"].astype("str"))
    if bins is not None:
        bin_col = pd.array(np.asarray(bins, dtype=np.int64), dtype="Int64")
        if category is None:
            category = [BIN_CATEGORIES[int(b)] for b in bins]
        if label is None:
            label = [BIN_LABELS[int(b)] for b in bins]
    else:
        bin_col = pd.array([pd.NA] * n, dtype="Int64")
    data: dict[str, Any] = {
        "area_id": areas["area_id"].astype("str").to_numpy(),
        "area_name": names.to_numpy(),
        "value": np.asarray(value, dtype=float),
        "z": nan if z is None else np.asarray(z, dtype=float),
        "p": nan if p is None else np.asarray(p, dtype=float),
        "p_fdr": nan if p_fdr is None else np.asarray(p_fdr, dtype=float),
        "bin": bin_col,
        "category": pd.array(list(category) if category is not None else [""] * n, dtype="str"),
        "label": pd.array(list(label) if label is not None else [""] * n, dtype="str"),
        "trend_z": nan if trend_z is None else np.asarray(trend_z, dtype=float),
        "trend_p": nan if trend_p is None else np.asarray(trend_p, dtype=float),
    }
    frame = pd.DataFrame(data, index=areas.index)
    for key, col in (extra or {}).items():
        frame[key] = col
    result = gpd.GeoDataFrame(frame, geometry=areas.geometry.to_numpy(), crs=areas.crs)
    result.attrs.update(attrs or {})
    return result

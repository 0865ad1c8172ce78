"""What geocoding did to an import, in figures (``gridwatch validate`` prints them).

:func:`geocode_report` reads the output of
:func:`gridwatch.geocoding.records.geocode_records`: how many rows had an address and no
coordinates, how many of them were placed at each source of the gazetteer and how precisely,
how many were rejected (their reasons name the candidates), and how many rows with coordinates
were checked against their address and disagree (they go to the grid-mismatch audit).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["GeocodeReport", "PlacedAt", "geocode_report"]

#: Sources of the gazetteer, most precise first; the layers' areas follow, finest first.
_SOURCE_ORDER = ("address_point", "history", "road")


@dataclass(frozen=True)
class PlacedAt:
    """Rows placed at one source of the gazetteer, and their precision radius in metres."""

    source: str
    rows: int
    median_precision_m: float
    max_precision_m: float


@dataclass(frozen=True)
class GeocodeReport:
    """Figures of one geocoding pass (see :func:`geocode_report`)."""

    #: Rows without coordinates (nor a reported grid the layers know) but with an address.
    addresses: int
    #: Placed rows per source, most precise first.
    placed: tuple[PlacedAt, ...]
    #: Rows not placed (rejected, their reason naming the best candidates).
    rejected: int
    #: Rows with coordinates whose address was checked against them (0 when the check is off).
    checked: int
    #: Of those, rows whose address disagrees (``address_mismatch``: the grid-mismatch audit).
    disagree: int

    @property
    def placed_rows(self) -> int:
        """All rows placed from their address."""
        return sum(p.rows for p in self.placed)

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values."""
        return {**asdict(self), "placed": [asdict(p) for p in self.placed],
                "placed_rows": self.placed_rows}


def geocode_report(records: pd.DataFrame, rejects: pd.DataFrame) -> GeocodeReport:
    """Count what :func:`~gridwatch.geocoding.records.geocode_records` did.

    Parameters
    ----------
    records, rejects
        Its two results.

    Returns
    -------
    GeocodeReport

    Examples
    --------
    >>> out = pd.DataFrame({"geocode_source": ["", "road", "road", "town"],
    ...                     "location_precision_m": [np.nan, 300.0, 300.0, 2500.0],
    ...                     "address": ["a", "b", "c", "d"], "lon": [1.0, 2, 2, 2],
    ...                     "address_mismatch": [True, False, False, False]})
    >>> report = geocode_report(out, pd.DataFrame({"column": ["address"]}))
    >>> [(p.source, p.rows, p.max_precision_m) for p in report.placed]
    [('road', 2, 300.0), ('town', 1, 2500.0)]
    >>> report.addresses, report.rejected, report.checked, report.disagree
    (4, 1, 1, 1)
    """
    n = len(records)
    source = (records["geocode_source"].astype("str").fillna("").to_numpy(dtype=object)
              if "geocode_source" in records else np.full(n, "", dtype=object))
    precision = (pd.to_numeric(records["location_precision_m"], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan) if "location_precision_m" in records
        else np.full(n, np.nan))
    geocoded = source != ""
    placed = []
    for name in pd.unique(source[geocoded]):
        here = precision[source == name]
        placed.append(PlacedAt(source=str(name), rows=len(here),
                               median_precision_m=float(np.nanmedian(here)),
                               max_precision_m=float(np.nanmax(here))))
    rank = {s: i for i, s in enumerate(_SOURCE_ORDER)}
    placed.sort(key=lambda p: (rank.get(p.source, len(rank)), p.median_precision_m))
    rejected = int((rejects["column"] == "address").sum()) if "column" in rejects else 0
    checked = disagree = 0
    if "address_mismatch" in records:
        address = records["address"].astype("str").fillna("").str.strip().ne("").to_numpy()
        lon = pd.to_numeric(records["lon"], errors="coerce").to_numpy(dtype=float,
                                                                        na_value=np.nan)
        checked = int((address & np.isfinite(lon) & ~geocoded).sum())
        disagree = int(records["address_mismatch"].fillna(False).to_numpy(dtype=bool).sum())
    return GeocodeReport(addresses=int(geocoded.sum()) + rejected, placed=tuple(placed),
                         rejected=rejected, checked=checked, disagree=disagree)

"""How well addresses are placed, measured on rows that have both an address and coordinates.

:func:`evaluate_holdout` hides the coordinates of a random share of such rows, places them from
their address against a gazetteer built from the other rows (and the project's layers and point
file), and compares with where they really are: match rate, error distance percentiles and
agreement of the area in every layer. A simple **baseline** is measured in the same run on the
same rows: the exact address seen before (text folded to one form), else the median position of
the same street in the same postcode, or town when there is no postcode. Percentiles are taken
over all held-out rows, a row not placed counting as infinitely far, so a method that places
more rows is not flattered by leaving the hard ones out; the percentiles among the rows each
method placed are reported beside them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridwatch.config import Config
from gridwatch.errors import ConfigError
from gridwatch.geocoding.gazetteer import (
    address_keys,
    build_gazetteer,
    geocode_settings,
    normalise_postcode,
)
from gridwatch.geocoding.match import geocode_addresses
from gridwatch.geocoding.normalise import has_chinese, normalise_address, normalise_english

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["PERCENTILES", "Evaluation", "Figures", "baseline_places", "evaluate_holdout"]

#: Error distance percentiles reported.
PERCENTILES: tuple[int, ...] = (50, 75, 90)
_TOWN = re.compile(r"([\u4e00-\u9fff]{2,8}?(?:镇|乡|街道))")


@dataclass(frozen=True)
class Figures:
    """One method's figures on the held-out rows."""

    method: str
    held_out: int
    placed: int
    #: Error percentile -> metres over all held-out rows (None: the rows not placed reach it).
    error_m: dict[int, float | None]
    #: Error percentile -> metres among the rows placed.
    error_placed_m: dict[int, float | None]
    #: Layer -> share of held-out rows placed in the same area as their coordinates.
    area_agreement: dict[str, float]
    #: Rows placed per source (address_point, history, road, a layer's name, exact, street).
    by_source: dict[str, int] = field(default_factory=dict)

    @property
    def match_rate(self) -> float:
        """Share of held-out rows placed."""
        return self.placed / self.held_out if self.held_out else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        out = asdict(self)
        out["match_rate"] = round(self.match_rate, 6) if self.held_out else None
        return out


@dataclass(frozen=True)
class Evaluation:
    """The matcher and the baseline on the same held-out rows."""

    rows_with_both: int
    holdout: float
    seed: int
    matcher: Figures
    baseline: Figures

    def not_worse(self) -> dict[str, bool]:
        """Per figure, whether the matcher does at least as well as the baseline (higher match
        rate and agreement, lower or equal error percentiles over all held-out rows)."""
        m, b = self.matcher, self.baseline
        out = {"match_rate": m.match_rate >= b.match_rate}
        for p in PERCENTILES:
            mv, bv = m.error_m[p], b.error_m[p]
            out[f"error_p{p}"] = bv is None or (mv is not None and mv <= bv)
        for layer, share in m.area_agreement.items():
            out[f"agreement_{layer}"] = share >= b.area_agreement.get(layer, 0.0)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {"rows_with_both": self.rows_with_both, "holdout": self.holdout,
                "seed": self.seed, "matcher": self.matcher.to_dict(),
                "baseline": self.baseline.to_dict(), "not_worse": self.not_worse()}


def evaluate_holdout(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame],
                     config: Config, *, holdout: float = 0.05, seed: int = 0) -> Evaluation:
    """Hide the coordinates of a share of rows, place them from their address, and measure.

    Parameters
    ----------
    records
        Canonical records (:func:`gridwatch.ingest.records.read_issues`), with the
        ``[geocoding] postcode_column`` kept when one is set.
    layers
        The project's loaded layers.
    config
        The project (``[geocoding]`` settings, territory).
    holdout
        Share of the rows with both an address and coordinates whose coordinates are hidden.
    seed
        Seed of the random choice of those rows.

    Returns
    -------
    Evaluation

    Raises
    ------
    ConfigError
        ``holdout`` outside (0, 1), or fewer than 2 rows with both an address and coordinates.
    """
    from gridwatch.placing.assign import assign_areas, place_records

    if not 0 < holdout < 1:
        raise ConfigError(f"--holdout must be a share between 0 and 1, got {holdout!r}")
    placed, _ = place_records(records, layers, config)
    own = placed["location_flag"].isin(["", "swapped"]).to_numpy()
    text = placed["address"].astype("str").str.strip()
    both = np.flatnonzero(own & (text.notna() & (text != "")).to_numpy())
    if len(both) < 2:
        raise ConfigError(f"only {len(both)} row(s) have both an address and coordinates; "
                          "an evaluation needs at least 2")
    rng = np.random.default_rng(seed)
    count = min(max(1, round(len(both) * holdout)), len(both) - 1)
    held = np.sort(rng.choice(both, count, replace=False))
    rest = np.setdiff1d(both, held)
    settings = geocode_settings(config)
    column = settings.postcode_column
    frame = placed.reset_index(drop=True)
    history = pd.DataFrame({"address": frame["address"].to_numpy(dtype=object)[rest],
                            "lon": frame["lon"].to_numpy()[rest],
                            "lat": frame["lat"].to_numpy()[rest]})
    codes = None
    if column:
        if column not in frame:
            raise ConfigError(f"[geocoding] postcode_column {column!r} is not in the records; "
                              f"keep it with [input] keep_columns = [{column!r}]")
        history[column] = frame[column].to_numpy(dtype=object)[rest]
        codes = pd.Series(frame[column].to_numpy(dtype=object)[held], dtype="str")
    gazetteer = build_gazetteer(config, layers, history=history)
    addresses = pd.Series(frame["address"].to_numpy(dtype=object)[held], dtype="str")
    found = geocode_addresses(addresses, gazetteer, postcodes=codes,
                              min_score=settings.min_score,
                              max_precision_m=settings.max_precision_m)
    base = baseline_places(addresses, history, postcodes=codes,
                           history_postcodes=history[column] if column else None)
    true_lon = frame["lon"].to_numpy()[held]
    true_lat = frame["lat"].to_numpy()[held]
    names = list(layers)
    truth = {name: frame[f"{name}_id"].to_numpy(dtype=object)[held] for name in names
             if f"{name}_id" in frame}

    def figures(method: str, lon: np.ndarray, lat: np.ndarray, source: pd.Series) -> Figures:
        ok = np.isfinite(lon) & np.isfinite(lat)
        error = np.full(len(lon), np.inf)
        error[ok] = _metres(lon[ok], lat[ok], true_lon[ok], true_lat[ok])
        areas = assign_areas(np.where(ok, lon, np.nan), np.where(ok, lat, np.nan), layers,
                             config)
        agreement = {}
        for name, ids in truth.items():
            got = areas[f"{name}_id"].to_numpy(dtype=object)
            same = ok & pd.notna(ids) & (got == ids)
            agreement[name] = round(float(same.mean()), 6)
        return Figures(
            method=method, held_out=len(lon), placed=int(ok.sum()),
            error_m={p: _percentile(error, p) for p in PERCENTILES},
            error_placed_m={p: _percentile(error[ok], p) for p in PERCENTILES},
            area_agreement=agreement,
            by_source={str(k): int(v) for k, v in source[ok].value_counts().sort_index()
                       .items()})

    return Evaluation(
        rows_with_both=len(both), holdout=holdout, seed=seed,
        matcher=figures("matcher", found["lon"].to_numpy(), found["lat"].to_numpy(),
                        found["geocode_source"].reset_index(drop=True)),
        baseline=figures("baseline", base["lon"].to_numpy(), base["lat"].to_numpy(),
                         base["source"]))


def baseline_places(addresses: pd.Series, history: pd.DataFrame, *,
                    postcodes: pd.Series | None = None,
                    history_postcodes: pd.Series | None = None) -> pd.DataFrame:
    """The simple baseline: the exact address seen before, else the median position of the
    same street in the same postcode (or, without one, the same town as written).

    Returns
    -------
    pandas.DataFrame
        ``lon, lat`` (NaN when not placed) and ``source`` (``exact``, ``street`` or ``""``),
        with a fresh RangeIndex in the order of ``addresses``.
    """
    rows = addresses.reset_index(drop=True).astype("str")
    past = history.reset_index(drop=True)
    row_full, row_scope = _baseline_keys(rows, postcodes)
    past_full, past_scope = _baseline_keys(
        past["address"].astype("str"),
        history_postcodes.reset_index(drop=True) if history_postcodes is not None else None)
    lon = np.full(len(rows), np.nan)
    lat = np.full(len(rows), np.nan)
    source = np.full(len(rows), "", dtype=object)
    exact = pd.DataFrame({"k": past_full, "x": past["lon"], "y": past["lat"]}).dropna(
        subset=["k"]).groupby("k")[["x", "y"]].median()
    at = exact.index.get_indexer(row_full.fillna("\x00").to_numpy(dtype=object))
    hit = at >= 0
    lon[hit], lat[hit] = exact["x"].to_numpy()[at[hit]], exact["y"].to_numpy()[at[hit]]
    source[hit] = "exact"
    row_street = address_keys(rows)["street"]
    past_street = address_keys(past["address"].astype("str"))["street"]
    street = pd.DataFrame({"k": past_scope + "\x1f" + past_street, "x": past["lon"],
                           "y": past["lat"]}).dropna(subset=["k"]).groupby("k")[
        ["x", "y"]].median()
    at = street.index.get_indexer((row_scope + "\x1f" + row_street).fillna("\x00")
                                  .to_numpy(dtype=object))
    use = ~hit & (at >= 0)
    lon[use], lat[use] = street["x"].to_numpy()[at[use]], street["y"].to_numpy()[at[use]]
    source[use] = "street"
    return pd.DataFrame({"lon": lon, "lat": lat, "source": pd.Series(source, dtype="str")})


def _baseline_keys(texts: pd.Series, postcodes: pd.Series | None
                   ) -> tuple[pd.Series, pd.Series]:
    """The folded full address, and the scope: the postcode, else the town as written."""
    chinese = has_chinese(texts)
    full = pd.Series(pd.NA, index=texts.index, dtype="str")
    if chinese.any():
        full[chinese] = normalise_address(texts[chinese])
    if (~chinese).any():
        full[~chinese] = normalise_english(texts[~chinese])
    town = full.str.extract(_TOWN, expand=False).astype("str")
    scope = town
    if postcodes is not None:
        code = normalise_postcode(postcodes.reset_index(drop=True))
        code.index = texts.index
        scope = code.where(code.notna(), town)
    scope = scope.where(scope.notna(), "postcode unknown")
    if postcodes is not None:
        full = full + "\x1f" + scope
    return full, scope


def _metres(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
            ) -> np.ndarray:
    from pyproj import Geod

    _, _, dist = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist, dtype=float)


def _percentile(values: np.ndarray, p: int) -> float | None:
    if not len(values):
        return None
    value = float(np.percentile(values, p, method="inverted_cdf"))
    return round(value, 1) if np.isfinite(value) else None

"""Agreement between gridwatch's placement and area labels that came with the input.

Real exports often carry the reporting system's own area label on every record (Boston's 311
records carry ward, precinct and police district). Comparing them with the spatial assignment is
the ground-truth check of the placing stage; every disagreement gets its distance to the nearest
border of the area the source named, which tells a point just across a line (a few metres: the
two maps differ) from a wrong label (far away).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.placing.layer_files import project_metric_crs
from gridwatch.settings import type_name, unknown_keys

if TYPE_CHECKING:  # geopandas is imported when labels are compared, not to parse settings
    import geopandas as gpd

__all__ = [
    "NORMALISE_STEPS",
    "LabelCheck",
    "compare_labels",
    "label_rules",
    "normalise_labels",
]

#: Steps a label normalisation rule may use, applied in order to the source's labels and to the
#: layer's ids alike.
NORMALISE_STEPS: tuple[str, ...] = (
    "strip", "upper", "lower", "digits", "strip_zeros", "remove:<characters>", "zfill:<width>",
)


@dataclass(frozen=True)
class LabelCheck:
    """Agreement of one label column with one layer."""

    column: str
    layer: str
    compared: int
    agree: int
    disagree: int
    no_label: int
    unassigned: int
    unknown_label: int
    median_distance_m: float | None
    share_within_50m: float | None

    @property
    def agreement(self) -> float:
        """Share of compared rows that agree (0 … 1)."""
        return self.agree / self.compared if self.compared else float("nan")

    def to_dict(self) -> dict[str, object]:
        """Plain values for JSON."""
        out = dict(vars(self))
        out["agreement"] = round(self.agreement, 6) if self.compared else None
        return out


def normalise_labels(values: pd.Series, steps: Sequence[str]) -> pd.Series:
    """Apply normalisation ``steps`` to labels; empty results become NA.

    Parameters
    ----------
    values
        Labels as written, e.g. ``"Ward 8"``, ``"08"``, ``"B-3"``.
    steps
        Names from :data:`NORMALISE_STEPS`, e.g. ``["digits", "strip_zeros"]`` turns all three
        ward forms into ``"8"``; ``["remove:-", "upper"]`` turns ``"b-3"`` into ``"B3"``.

    Examples
    --------
    >>> normalise_labels(pd.Series(["Ward 8", "08", "8"]), ["digits", "strip_zeros"]).tolist()
    ['8', '8', '8']
    """
    out = values.astype("string").str.strip()
    for step in steps:
        name, _, arg = step.partition(":")
        if name == "strip":
            out = out.str.strip()
        elif name == "upper":
            out = out.str.upper()
        elif name == "lower":
            out = out.str.lower()
        elif name == "digits":
            out = out.str.replace(r"\D+", "", regex=True)
        elif name == "strip_zeros":
            out = out.str.lstrip("0").where(~out.fillna("").str.fullmatch(r"0+"), "0")
        elif name == "remove" and arg:
            out = out.str.replace(f"[{re.escape(arg)}]", "", regex=True)
        elif name == "zfill" and arg.isdigit():
            out = out.str.zfill(int(arg))
        else:
            raise ConfigError(f"label normalisation step {step!r} is not known; "
                              f"allowed: {', '.join(NORMALISE_STEPS)}")
    return out.mask(out.fillna("") == "")


def label_rules(section: Mapping[str, object]) -> dict[str, tuple[str, ...]]:
    """Read ``[validate]`` of the project file: ``normalise`` (column → list of steps).

    Raises
    ------
    ConfigError
        Listing every unknown key, value of the wrong type and unknown step.
    """
    section = section if isinstance(section, Mapping) else {}
    problems = unknown_keys(section, ("normalise",), "[validate]")
    raw = section.get("normalise", {})
    if not isinstance(raw, Mapping):
        problems.append(f"[validate.normalise] must be a table of column = [steps], got "
                        f"{type_name(raw)} ({raw!r})")
        raw = {}
    rules: dict[str, tuple[str, ...]] = {}
    for column, steps in raw.items():
        if isinstance(steps, str):
            steps = [steps]
        if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
            problems.append(f"[validate.normalise] {column} must be a step or an array of steps "
                            f"such as [\"digits\", \"strip_zeros\"], got {steps!r}")
            continue
        for step in steps:
            name, _, arg = step.partition(":")
            ok = name in {"strip", "upper", "lower", "digits", "strip_zeros"} or (
                name == "remove" and arg) or (name == "zfill" and arg.isdigit())
            if not ok:
                problems.append(f"[validate.normalise] {column}: step {step!r} is not one of "
                                f"{', '.join(NORMALISE_STEPS)}")
        rules[str(column)] = tuple(steps)
    if problems:
        raise ConfigError("the label rules have problems:", problems)
    return rules


def compare_labels(
    placed: pd.DataFrame,
    areas: gpd.GeoDataFrame,
    *,
    column: str,
    layer: str,
    steps: Sequence[str] = (),
    metric_crs: str | None = None,
) -> tuple[LabelCheck, pd.DataFrame]:
    """Compare a label column of placed records with their ``<layer>_id``.

    Parameters
    ----------
    placed
        Placed records (from :func:`gridwatch.placing.assign.place_records`) with ``column``, WGS84
        ``lon``/``lat`` and ``<layer>_id``.
    areas
        The layer's areas (``area_id``, geometry in WGS84), for distances.
    column, layer
        The label column and the layer it names areas of.
    steps
        Normalisation applied to both the labels and the layer's ids.
    metric_crs
        CRS in which distances are measured: the project's
        (:func:`gridwatch.placing.layers.project_metric_crs`); default the zone of ``areas``.

    Returns
    -------
    check : LabelCheck
    disagreements : pandas.DataFrame
        One row per disagreement: issue_id, source_file, source_row, the label as written, the
        normalised label, the assigned area, lon, lat, and ``distance_m`` from the point to the
        area the label names (NaN when no area has that label).
    """
    if column not in placed:
        raise ConfigError(f"column {column!r} is not in the records; keep it with "
                          f"[input] keep_columns = [{column!r}] in the project file")
    id_column = f"{layer}_id"
    if id_column not in placed:
        raise ConfigError(f"layer {layer!r} was not assigned; layers: "
                          + ", ".join(c[:-3] for c in placed.columns if c.endswith("_id")))
    label = normalise_labels(placed[column], steps)
    assigned = normalise_labels(placed[id_column], steps)
    area_key = normalise_labels(areas["area_id"], steps)
    known = set(area_key.dropna())
    has_label = label.notna()
    has_area = assigned.notna()
    unknown = has_label & ~label.isin(known)
    compared = has_label & has_area & ~unknown
    agree = compared & (label == assigned)
    disagree = compared & ~agree
    rows = placed.loc[disagree]
    crs = project_metric_crs(metric_crs, layers={layer: areas}, lon=placed["lon"],
                             lat=placed["lat"])
    distances = _distance_to_named(rows, label[disagree], areas, area_key, crs)
    out = pd.DataFrame({
        "issue_id": rows.get("issue_id"),
        "source_file": rows.get("source_file"),
        "source_row": rows.get("source_row"),
        "label": rows[column],
        "label_normalised": label[disagree],
        "assigned": placed.loc[disagree, id_column],
        "lon": rows["lon"],
        "lat": rows["lat"],
        "distance_m": distances,
    })
    finite = distances[np.isfinite(distances)]
    check = LabelCheck(
        column=column, layer=layer, compared=int(compared.sum()), agree=int(agree.sum()),
        disagree=int(disagree.sum()), no_label=int((~has_label).sum()),
        unassigned=int((has_label & ~has_area & ~unknown).sum()),
        unknown_label=int(unknown.sum()),
        median_distance_m=float(np.median(finite)) if len(finite) else None,
        share_within_50m=float((finite <= 50).mean()) if len(finite) else None,
    )
    return check, out.reset_index(drop=True)


def _distance_to_named(rows: pd.DataFrame, labels: pd.Series, areas: gpd.GeoDataFrame,
                       area_key: pd.Series, crs: str) -> np.ndarray:
    """Metres (in the metric ``crs``) from each point to the polygon of the area its label names."""
    if rows.empty:
        return np.array([], dtype=float)
    metric_areas = areas.set_geometry(areas.geometry).to_crs(crs)
    by_key = dict(zip(area_key, metric_areas.geometry, strict=True))
    import geopandas as gpd
    import shapely

    points = gpd.GeoSeries(gpd.points_from_xy(rows["lon"], rows["lat"]), crs=4326).to_crs(crs)
    polygons = np.array([by_key.get(k) for k in labels], dtype=object)
    missing = np.array([p is None for p in polygons])
    polygons[missing] = shapely.Point()  # empty: distance NaN
    return np.where(missing, np.nan,
                    shapely.distance(points.to_numpy(), polygons).astype(float))

"""The priority score of a problem: a sum of visible terms, each explained.

For every problem, each term of :data:`TERMS` gives points (weights in ``[plan.weights]``):

=====================  ===================================================================
term                   points
=====================  ===================================================================
overdue_days           ``overdue_day`` x days past the deadline (at most ``overdue_days_cap``)
colour                 ``red`` for a red problem, ``yellow`` for a yellow one
hot_bin                ``hot_bin`` x the Gi* bin of its area when it is a hot spot (1, 2, 3)
emerging               ``emerging`` when its area is a new, consecutive, intensifying or
                       persistent hot spot
rebound                ``rebound`` when it repeats a problem closed nearby (回头看)
repeat_complaint       ``repeat_complaint`` when it was reported more than once (an incident
                       of several reports)
zone                   ``inside_zone`` inside a redline/drinking-water zone, else ``zone_belt``
                       within its belt
severity               ``severity[label]`` of its severity (一般, 较重, 严重)
petition               ``petition`` for a citizen complaint (public report or hotline)
field_not_rectified    ``field_not_rectified`` x field checks that found it not rectified
field_rebound          ``field_rebound`` x field checks that found it back
=====================  ===================================================================

``priority`` is their sum and ``why`` names the terms that made it, largest first, e.g.
``"超期23天 +23; 红码 +20; 红线内 +15"``. A site's priority is the sum over its problems.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from gridwatch.planning.settings import PlanWeights

__all__ = ["HOT_EMERGING", "TERMS", "TERM_LABELS", "explain", "priority_terms"]

#: The terms of the score, in the order the columns come.
TERMS: tuple[str, ...] = ("overdue_days", "colour", "hot_bin", "emerging", "rebound",
                          "repeat_complaint", "zone", "severity", "petition",
                          "field_not_rectified", "field_rebound")
#: How each term is named in ``why``.
TERM_LABELS: dict[str, str] = {
    "overdue_days": "超期", "colour": "码色", "hot_bin": "Gi*热点", "emerging": "新兴热点",
    "rebound": "反弹", "repeat_complaint": "重复投诉", "zone": "红线", "severity": "严重程度",
    "petition": "群众投诉", "field_not_rectified": "现场未整改", "field_rebound": "现场反弹",
}
#: Emerging-hotspot categories that count as a rising place.
HOT_EMERGING: frozenset[str] = frozenset({"new_hot_spot", "consecutive_hot_spot",
                                          "intensifying_hot_spot", "persistent_hot_spot"})
_CITIZEN_SOURCES = ("public_report", "hotline")


def _column(frame: pd.DataFrame | None, name: str, index: pd.Index, default: object
            ) -> pd.Series:
    if frame is None or name not in frame:
        return pd.Series(default, index=index)
    return frame[name].reindex(index)


def priority_terms(issues: pd.DataFrame, evaluated: pd.DataFrame, *, weights: PlanWeights,
                   rebounds: pd.DataFrame | None = None,
                   incidents: pd.DataFrame | None = None,
                   zones: Sequence[str] = (),
                   hotspot_layer: str | None = None,
                   hot_bins: Mapping[str, int] | pd.Series | None = None,
                   emerging: Mapping[str, str] | pd.Series | None = None,
                   field_counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The points of every term of :data:`TERMS` per problem, their sum and the reason.

    Parameters
    ----------
    issues
        Problems (``issue_id``, ``source``, ``severity``, ``<layer>_id``, ``in_<zone>``,
        ``near_<zone>``).
    evaluated
        Their evaluation as of a date (``code``, ``days_overdue``), same index.
    weights
        ``[plan.weights]``.
    rebounds, incidents
        :func:`find_rebounds` (``rebound``) and :func:`group_incidents` (``incident_size``),
        same index; the terms are 0 without them.
    zones
        Redline/zone layers (their ``in_<layer>``/``near_<layer>`` columns).
    hotspot_layer, hot_bins, emerging
        The layer of the hotspot analyses and, per area id of it, the Gi* bin and the
        emerging category.
    field_counts
        Per ``issue_id`` (index), counts ``not_rectified`` and ``rebound`` of earlier field
        checks.

    Returns
    -------
    pandas.DataFrame
        Same index: one column of points per term, ``priority`` (their sum) and ``why``.

    Examples
    --------
    >>> issues = pd.DataFrame({"issue_id": ["a"], "source": ["hotline"], "severity": ["严重"]})
    >>> ev = pd.DataFrame({"code": ["red"], "days_overdue": [3.0]})
    >>> row = priority_terms(issues, ev, weights=PlanWeights()).iloc[0]
    >>> float(row["priority"]), row["why"]
    (36.0, '红码 +20; 严重 +10; 超期3天 +3; 群众投诉 +3')
    """
    w = weights
    index = issues.index
    code = _column(evaluated, "code", index, "").astype("str").fillna("")
    red = (code == "red").to_numpy()
    yellow = (code == "yellow").to_numpy()
    late = np.nan_to_num(_column(evaluated, "days_overdue", index, 0.0)
                         .to_numpy(dtype="float64", na_value=np.nan), nan=0.0)
    late = np.where(red, np.clip(late, 0.0, w.overdue_days_cap), 0.0)
    points: dict[str, np.ndarray] = {
        "overdue_days": late * w.overdue_day,
        "colour": np.where(red, w.red, np.where(yellow, w.yellow, 0.0)),
    }
    area = (issues[f"{hotspot_layer}_id"].astype("str") if hotspot_layer
            and f"{hotspot_layer}_id" in issues else pd.Series(pd.NA, index=index, dtype="str"))
    bins = area.map(pd.Series(hot_bins, dtype="float64") if hot_bins is not None
                    else pd.Series(dtype="float64"))
    points["hot_bin"] = np.clip(bins.to_numpy(dtype="float64", na_value=0.0), 0, 3) * w.hot_bin
    categories = area.map(pd.Series(emerging, dtype="str") if emerging is not None
                          else pd.Series(dtype="str"))
    points["emerging"] = np.where(categories.isin(HOT_EMERGING).to_numpy(), w.emerging, 0.0)
    rebound = _column(rebounds, "rebound", index, False).fillna(False).to_numpy(dtype=bool)
    points["rebound"] = np.where(rebound, w.rebound, 0.0)
    size = _column(incidents, "incident_size", index, 1).fillna(1).to_numpy(dtype="int64")
    points["repeat_complaint"] = np.where(size > 1, w.repeat_complaint, 0.0)
    inside = np.zeros(len(index), dtype=bool)
    near = np.zeros(len(index), dtype=bool)
    for zone in zones:
        inside |= _column(issues, f"in_{zone}", index, False).fillna(False).to_numpy(dtype=bool)
        near |= _column(issues, f"near_{zone}", index, False).fillna(False).to_numpy(dtype=bool)
    points["zone"] = np.where(inside, w.inside_zone, np.where(near, w.zone_belt, 0.0))
    severity = _column(issues, "severity", index, pd.NA).astype("str")
    points["severity"] = severity.map(pd.Series(dict(w.severity), dtype="float64")) \
        .to_numpy(dtype="float64", na_value=0.0)
    citizen = _column(issues, "source", index, "").isin(_CITIZEN_SOURCES).to_numpy()
    points["petition"] = np.where(citizen, w.petition, 0.0)
    ids = issues["issue_id"].astype("str")
    for term, column in (("field_not_rectified", "not_rectified"), ("field_rebound", "rebound")):
        counts = (ids.map(field_counts[column]) if field_counts is not None
                  and column in field_counts else pd.Series(0.0, index=index))
        weight = w.field_not_rectified if term == "field_not_rectified" else w.field_rebound
        points[term] = counts.to_numpy(dtype="float64", na_value=0.0) * weight
    out = pd.DataFrame({term: points[term] for term in TERMS}, index=index)
    out["priority"] = out[list(TERMS)].sum(axis=1)
    details = {"overdue_days": late, "colour": code.to_numpy(dtype=object),
               "zone": np.where(inside, "in", "belt"),
               "severity": severity.to_numpy(dtype=object),
               "hot_bin": np.nan_to_num(bins.to_numpy(dtype="float64", na_value=0.0)),
               "field_not_rectified": points["field_not_rectified"] / max(w.field_not_rectified,
                                                                          1e-12),
               "field_rebound": points["field_rebound"] / max(w.field_rebound, 1e-12)}
    out["why"] = explain(out, details)
    return out


def _label(term: str, detail: object) -> str:
    if detail is None:  # a sum over a site's problems: the term's name
        return TERM_LABELS[term]
    if term == "overdue_days":
        return f"超期{float(detail):g}天"  # type: ignore[arg-type]
    if term == "colour":
        return {"red": "红码", "yellow": "黄码"}.get(str(detail), "码色")
    if term == "zone":
        return "红线内" if detail == "in" else "红线缓冲带"
    if term == "severity":
        return str(detail)
    if term == "hot_bin":
        level = {1: "90%", 2: "95%", 3: "99%"}.get(int(detail), "")  # type: ignore[call-overload]
        return f"Gi*热点({level})"
    if term in ("field_not_rectified", "field_rebound"):
        return f"{TERM_LABELS[term]}{round(float(detail)):d}次"  # type: ignore[arg-type]
    return TERM_LABELS[term]


def explain(points: pd.DataFrame, details: Mapping[str, np.ndarray] | None = None) -> pd.Series:
    """The ``why`` of each row: its non-zero terms, largest first (then in :data:`TERMS`
    order), as ``"label +points"`` joined by ``"; "``.

    Parameters
    ----------
    points
        One column of points per term (any subset of :data:`TERMS`).
    details
        Per term, the value its label shows (days overdue, code, severity label...).
    """
    terms = [t for t in TERMS if t in points]
    values = points[terms].to_numpy(dtype="float64")
    details = details or {}
    out = np.empty(len(points), dtype=object)
    rank = {t: i for i, t in enumerate(terms)}
    for row in range(len(points)):  # only the candidates of a plan: thousands, not millions
        nonzero = [(values[row, k], t) for k, t in enumerate(terms) if values[row, k] != 0]
        nonzero.sort(key=lambda item: (-item[0], rank[item[1]]))
        out[row] = "; ".join(
            f"{_label(t, details[t][row] if t in details else None)} +{v:g}"
            for v, t in nonzero)
    return pd.Series(out, index=points.index, dtype="str")

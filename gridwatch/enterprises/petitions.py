"""Petition batches (交办信访件): received, closed, closed on time, and repeat complaints.

A problem is a petition when it carries a batch (``petition_batch``, 交办批次); its start is the
later of its ``petition_date`` (交办日期, when given) and its report time, so petitions of one
batch recorded together do not repeat one another. A petition P is **repeated**
(重复投诉) when another complaint Q follows it: Q is a problem of one of ``[petitions] sources``
(default public reports and hotlines) or another petition, reported after P's start and within
``days`` days of it, and about the same thing, by any one of

- place: within ``radius_m`` metres of P (metric CRS, a k-d tree, as rebounds and duplicates);
- enterprise: the same enterprise key (:func:`gridwatch.enterprises.names.enterprise_keys`);
- description: the same normalised description, within ``description_radius_m`` metres.

The repeat-complaint rate of a batch is its repeated petitions over those received. Figures are
as of the end of a local date: only what was reported by then counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridwatch.enterprises._settings import PetitionSettings
from gridwatch.enterprises.names import enterprise_keys
from gridwatch.schema import header_key
from gridwatch.supervision.calendar import local_dates
from gridwatch.supervision.codes import parse_as_of
from gridwatch.supervision.incidents import metric_xy

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["ALL_BATCHES", "BATCH_COLUMNS", "batch_table", "has_petitions", "petition_list",
           "repeat_complaints"]

#: Columns of :func:`batch_table`, in order.
BATCH_COLUMNS: tuple[str, ...] = (
    "petition_batch", "petition_date", "received", "closed", "closed_on_time", "open",
    "overdue", "closure_rate", "on_time_rate", "repeated", "repeat_rate",
)
#: Name of the row of all batches together in :func:`batch_table`.
ALL_BATCHES = "合计"


def has_petitions(issues: pd.DataFrame) -> bool:
    """Whether any problem belongs to a petition batch."""
    return "petition_batch" in issues and bool(issues["petition_batch"].notna().any())


def repeat_complaints(issues: pd.DataFrame, settings: PetitionSettings | None = None, *,
                      metric_crs: str | None = None, known: np.ndarray | None = None,
                      keys: pd.Series | None = None) -> pd.DataFrame:
    """Find the petitions followed by another complaint (see the module docstring).

    Parameters
    ----------
    issues
        Frame with ``issue_id``, ``reported_at``, ``source``, ``petition_batch``, ``lon``,
        ``lat`` (WGS84); optionally ``petition_date``, ``description`` and the enterprise
        columns.
    settings
        ``[petitions]`` (defaults when omitted).
    metric_crs
        CRS for distances (``[territory] metric_crs``).
    known
        Mask of the problems that may follow (those reported by the date asked); all when
        omitted.
    keys
        Enterprise keys of ``issues`` when already computed.

    Returns
    -------
    pandas.DataFrame
        Same index: ``repeated`` (bool, petitions only), ``repeated_by`` (issue_id of the
        earliest complaint that followed, or NA) and ``repeat_by`` (``place``, ``enterprise``
        or ``description``: how it matched).
    """
    settings = settings or PetitionSettings()
    n = len(issues)
    petition = (issues["petition_batch"].notna().to_numpy() if "petition_batch" in issues
                else np.zeros(n, dtype=bool))
    complaint = petition | np.isin(issues["source"].astype("str").to_numpy(dtype=object),
                                   list(settings.sources))
    if known is not None:
        complaint &= np.asarray(known, dtype=bool)
    reported = pd.to_datetime(issues["reported_at"], utc=True).to_numpy("datetime64[ns]")
    start = reported.copy()
    if "petition_date" in issues:  # the later of its hand-over and its report
        given = pd.to_datetime(issues["petition_date"], utc=True).to_numpy("datetime64[ns]")
        start = np.where(np.isnat(given) | (given < reported), reported, given)
    p_rows, q_rows = np.flatnonzero(petition), np.flatnonzero(complaint)
    pairs_p, pairs_q, how = [], [], []
    # place and description: one ball query over the complaints with the larger radius;
    # coordinates projected for the petitions and complaints only
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    involved = np.flatnonzero(petition | complaint)
    x[involved], y[involved] = metric_xy(issues["lon"].to_numpy()[involved],
                                         issues["lat"].to_numpy()[involved], crs=metric_crs)
    ok_q = q_rows[np.isfinite(x[q_rows]) & np.isfinite(y[q_rows])]
    ok_p = p_rows[np.isfinite(x[p_rows]) & np.isfinite(y[p_rows])]
    if ok_q.size and ok_p.size:
        from scipy.spatial import cKDTree

        reach = max(settings.radius_m, settings.description_radius_m)
        found = cKDTree(np.column_stack([x[ok_q], y[ok_q]])).query_ball_point(
            np.column_stack([x[ok_p], y[ok_p]]), r=reach)
        counts = np.fromiter((len(f) for f in found), dtype="int64", count=len(found))
        if counts.sum():
            a = np.repeat(ok_p, counts)
            b = ok_q[np.concatenate([np.asarray(f, dtype="int64") for f in found if f])]
            dist = np.hypot(x[a] - x[b], y[a] - y[b])
            text = np.full(n, None, dtype=object)
            if "description" in issues:  # normalised for the rows of the pairs only
                rows = np.unique(np.r_[a, b])
                text[rows] = issues["description"].iloc[rows].map(
                    header_key, na_action="ignore").to_numpy(dtype=object)
            same_text = np.array([t is not None and t == u and t != ""
                                  for t, u in zip(text[a], text[b], strict=True)], dtype=bool)
            place = dist <= settings.radius_m
            described = same_text & (dist <= settings.description_radius_m)
            keep = place | described
            pairs_p.append(a[keep])
            pairs_q.append(b[keep])
            how.append(np.where(place[keep], "place", "description"))
    keys = keys if keys is not None else enterprise_keys(issues)
    key_v = keys.to_numpy(dtype=object)
    with_key_p = p_rows[keys.notna().to_numpy()[p_rows]]
    with_key_q = q_rows[keys.notna().to_numpy()[q_rows]]
    if with_key_p.size and with_key_q.size:
        joined = pd.DataFrame({"p": with_key_p, "key": key_v[with_key_p]}).merge(
            pd.DataFrame({"q": with_key_q, "key": key_v[with_key_q]}), on="key")
        pairs_p.append(joined["p"].to_numpy(dtype="int64"))
        pairs_q.append(joined["q"].to_numpy(dtype="int64"))
        how.append(np.full(len(joined), "enterprise", dtype=object))
    repeated_by = np.full(n, None, dtype=object)
    repeat_by = np.full(n, None, dtype=object)
    if pairs_p:
        a, b = np.concatenate(pairs_p), np.concatenate(pairs_q)
        kind = np.concatenate(how).astype(object)
        gap = (reported[b] - start[a]).astype("timedelta64[s]").astype("float64") / 86400.0
        keep = (a != b) & (gap > 0) & (gap <= settings.days)
        a, b, kind, gap = a[keep], b[keep], kind[keep], gap[keep]
        rank = {"place": 0, "enterprise": 1, "description": 2}
        order = np.lexsort((np.array([rank[k] for k in kind], dtype="int64"), b, gap, a))
        a, b, kind = a[order], b[order], kind[order]
        first = np.r_[True, a[1:] != a[:-1]] if a.size else np.array([], dtype=bool)
        ids = issues["issue_id"].astype("str").to_numpy(dtype=object)
        repeated_by[a[first]] = ids[b[first]]
        repeat_by[a[first]] = kind[first]
    return pd.DataFrame({
        "repeated": repeated_by != None,  # noqa: E711
        "repeated_by": pd.Series(repeated_by, index=issues.index, dtype="str"),
        "repeat_by": pd.Series(repeat_by, index=issues.index, dtype="str"),
    }, index=issues.index)


def batch_table(ctx: SupervisionContext, as_of: Any) -> pd.DataFrame:
    """Per petition batch as of the end of a local date: received, closed, closed on time,
    open, overdue, closure rate (closed / received), on-time rate (closed on time / closed),
    repeated petitions and the repeat-complaint rate (repeated / received); a last row
    :data:`ALL_BATCHES` for all batches together.

    Returns
    -------
    pandas.DataFrame
        :data:`BATCH_COLUMNS`; ``petition_date`` is the earliest local 交办日期 of the batch.
    """
    day = parse_as_of(as_of)
    issues = ctx.issues
    if not has_petitions(issues):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in BATCH_COLUMNS})
    evaluated = ctx.evaluate(day)
    known = evaluated["known"].to_numpy(dtype=bool)
    settings = ctx.settings.petitions or PetitionSettings()
    repeats = repeat_complaints(issues, settings, metric_crs=ctx.metric_crs, known=known)
    rows = (issues["petition_batch"].notna().to_numpy() & known
            & ctx.counted().to_numpy(dtype=bool))
    dates = (issues["petition_date"] if "petition_date" in issues
             else pd.Series(pd.NaT, index=issues.index, dtype="datetime64[ns, UTC]"))
    given = pd.to_datetime(dates, utc=True).fillna(pd.to_datetime(issues["reported_at"],
                                                                  utc=True))
    at = np.flatnonzero(rows)  # the petitions among a million problems, taken first
    code = evaluated["code"].to_numpy(dtype=object)[at]
    is_open = evaluated["is_open"].to_numpy(dtype=bool)[at]
    frame = pd.DataFrame({
        "petition_batch": issues["petition_batch"].iloc[at].astype("str").str.strip()
        .to_numpy(dtype=object),
        "petition_date": local_dates(given.iloc[at], ctx.timezone),
        "received": np.ones(at.size, dtype="int64"),
        "closed": ~is_open,
        "closed_on_time": code == "closed_on_time",
        "open": is_open,
        "overdue": code == "red",
        "repeated": repeats["repeated"].to_numpy(dtype=bool)[at],
    })
    counts = ["received", "closed", "closed_on_time", "open", "overdue", "repeated"]
    grouped = frame.groupby("petition_batch", sort=False)
    table = grouped[counts].sum().astype("int64")
    table["petition_date"] = grouped["petition_date"].min()
    table = table.sort_values("petition_date", kind="stable").reset_index()
    total = frame[counts].sum().astype("int64").to_dict()
    total.update(petition_batch=ALL_BATCHES, petition_date=frame["petition_date"].min())
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["closure_rate"] = table["closed"] / table["received"]
        table["on_time_rate"] = table["closed_on_time"] / table["closed"].where(
            table["closed"] > 0)
        table["repeat_rate"] = table["repeated"] / table["received"]
    table["petition_date"] = pd.to_datetime(table["petition_date"]).dt.date
    return table[list(BATCH_COLUMNS)]


def petition_list(ctx: SupervisionContext, as_of: Any) -> pd.DataFrame:
    """The petitions known as of a local date with their state and the complaint that
    repeated each (for the app and the review): ``issue_id``, ``petition_batch``,
    ``petition_date``, ``reported_at``, ``category``, ``status``, ``code``, ``repeated``,
    ``repeated_by``, ``repeat_by``."""
    day = parse_as_of(as_of)
    issues = ctx.issues
    columns = ["issue_id", "petition_batch", "petition_date", "reported_at", "category",
               "status", "code", "repeated", "repeated_by", "repeat_by"]
    if not has_petitions(issues):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    evaluated = ctx.evaluate(day)
    known = evaluated["known"].to_numpy(dtype=bool)
    repeats = repeat_complaints(issues, ctx.settings.petitions, metric_crs=ctx.metric_crs,
                                known=known)
    rows = issues["petition_batch"].notna().to_numpy() & known
    out = issues[[c for c in columns[:5] if c in issues]].assign(
        status=evaluated["status"], code=evaluated["code"]).join(repeats)
    if "petition_date" in out:  # a date to people, in the territory's zone
        dates = pd.Series(local_dates(out["petition_date"], ctx.timezone), index=out.index)
        out["petition_date"] = dates.dt.date.where(dates.notna(), None)
    return out[rows].reset_index(drop=True)

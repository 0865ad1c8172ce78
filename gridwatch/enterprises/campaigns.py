"""Special campaigns (专项行动, 举一反三): which problems each found, and how far they are.

A problem belongs to the campaign named in its own ``campaign`` column (专项行动) when it has
one, else to the first ``[[campaigns.rules]]`` it matches: its category among the rule's
``categories`` (any when empty), its source among ``sources`` (any when empty), and its local
report date between ``start`` and ``end`` (inclusive; open-ended when absent). Per campaign, as
of a date: found (reported), closed, remaining (open) and overdue (red), in total and by area of
a layer or by responsible unit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridwatch.enterprises._settings import CampaignSettings
from gridwatch.supervision.calendar import local_dates
from gridwatch.supervision.codes import parse_as_of

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["CAMPAIGN_COLUMNS", "campaign_table", "campaign_tags"]

#: Columns of :func:`campaign_table` after the campaign (and group) columns.
CAMPAIGN_COLUMNS: tuple[str, ...] = ("found", "closed", "remaining", "overdue", "closure_rate")


def campaign_tags(issues: pd.DataFrame, settings: CampaignSettings | None = None, *,
                  timezone: str) -> pd.Series:
    """The campaign of each problem (same index; NA when none).

    Examples
    --------
    >>> import datetime as dt
    >>> from gridwatch.enterprises._settings import CampaignRule
    >>> frame = pd.DataFrame({"category": ["solid_waste", "air", "solid_waste"],
    ...     "source": ["grid_patrol"] * 3, "campaign": [None, None, "清废"],
    ...     "reported_at": pd.to_datetime(["2026-03-02", "2026-03-02", "2026-01-01"], utc=True)})
    >>> rule = CampaignRule("绿剑", categories=("solid_waste",), start=dt.date(2026, 3, 1))
    >>> campaign_tags(frame, CampaignSettings((rule,)), timezone="Asia/Shanghai").tolist()
    ['绿剑', nan, '清废']
    """
    n = len(issues)
    tags = np.full(n, None, dtype=object)
    if "campaign" in issues:
        own = issues["campaign"].astype("str").str.strip()
        given = own.notna().to_numpy() & (own.fillna("").to_numpy(dtype=object) != "")
        tags[given] = own.to_numpy(dtype=object)[given]
    rules = settings.rules if settings is not None else ()
    if rules:
        days = local_dates(issues["reported_at"], timezone)
        category = issues["category"].astype("str").to_numpy(dtype=object)
        source = issues["source"].astype("str").to_numpy(dtype=object)
        for rule in rules:
            match = tags == None  # noqa: E711 - the column and earlier rules win
            if rule.categories:
                match &= np.isin(category, list(rule.categories))
            if rule.sources:
                match &= np.isin(source, list(rule.sources))
            if rule.start is not None:
                match &= days >= np.datetime64(rule.start, "D")
            if rule.end is not None:
                match &= days <= np.datetime64(rule.end, "D")
            match &= ~np.isnat(days)
            tags[match] = rule.name
    return pd.Series(tags, index=issues.index, dtype="str")


def campaign_table(ctx: SupervisionContext, as_of: Any, *, by: str | None = None,
                   ) -> pd.DataFrame:
    """Per campaign (and per area of layer ``by``, or per responsible unit with ``by="unit"``)
    as of the end of a local date: found, closed, remaining, overdue, closure rate.

    Returns
    -------
    pandas.DataFrame
        ``campaign``, then ``area_id`` or ``responsible_unit`` with ``by``, then
        :data:`CAMPAIGN_COLUMNS`; sorted by campaign, then the group.
    """
    day = parse_as_of(as_of)
    issues = ctx.issues
    tags = campaign_tags(issues, ctx.settings.campaigns, timezone=ctx.timezone)
    group: str | None = None
    if by == "unit":
        group = "responsible_unit"
        values = issues["responsible_unit"].astype("str")
    elif by is not None:
        from gridwatch.errors import ConfigError

        if f"{by}_id" not in issues:
            raise ConfigError(f"layer {by!r}: the problems have no column {by + '_id'!r} "
                              f"(layers: {', '.join(_layers(issues)) or 'none'})")
        group = "area_id"
        values = issues[f"{by}_id"].astype("str")
    columns = ["campaign", *([group] if group else []), *CAMPAIGN_COLUMNS]
    if not tags.notna().any():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    evaluated = ctx.evaluate(day)
    rows = (tags.notna().to_numpy() & evaluated["known"].to_numpy(dtype=bool)
            & ctx.counted().to_numpy(dtype=bool))
    is_open = evaluated["is_open"].to_numpy(dtype=bool)
    frame = pd.DataFrame({
        "campaign": tags.to_numpy(dtype=object),
        "found": np.ones(len(issues), dtype="int64"),
        "closed": ~is_open,
        "remaining": is_open,
        "overdue": evaluated["code"].astype("str").to_numpy(dtype=object) == "red",
    })
    if group:
        frame[group] = values.fillna("").to_numpy(dtype=object)
    frame = frame[rows]
    keys = ["campaign", *([group] if group else [])]
    table = (frame.groupby(keys, sort=True)[["found", "closed", "remaining", "overdue"]].sum()
             .astype("int64").reset_index())
    table["closure_rate"] = table["closed"] / table["found"]
    return table[columns]


def _layers(issues: pd.DataFrame) -> list[str]:
    return [c[:-3] for c in issues.columns if c.endswith("_id") and c != "issue_id"
            and c not in ("incident_id",)]

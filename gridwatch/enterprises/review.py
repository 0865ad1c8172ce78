"""The monthly review's sections on enterprises, petitions and campaigns (月复盘).

Added to :func:`gridwatch.supervision.review.monthly_review` when the problems carry the columns:
``petitions`` (the batches as of the month's end), ``repeat_offenders`` (the enterprises the
rule flags as of the month's end) and ``campaigns`` (per campaign as of the month's end).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from gridwatch.supervision.aggregate import period_bounds

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["REVIEW_SECTIONS", "review_sections"]

#: The sections, in the order they follow the review's own tables.
REVIEW_SECTIONS: tuple[str, ...] = ("petitions", "repeat_offenders", "campaigns")
_OFFENDER_COLUMNS = ("enterprise_code", "enterprise_name", "area_id", "problems", "open",
                     "overdue", "rebounds", "problems_window", "rebounds_window", "reason")


def review_sections(ctx: SupervisionContext, month: str) -> dict[str, pd.DataFrame]:
    """The sections of :data:`REVIEW_SECTIONS` that have something to say for ``month``
    (``"YYYY-MM"``), as of its last day."""
    from gridwatch.enterprises.campaigns import campaign_table
    from gridwatch.enterprises.offenders import enterprise_table, has_enterprises
    from gridwatch.enterprises.petitions import batch_table, has_petitions

    _, last = period_bounds(month)
    out: dict[str, pd.DataFrame] = {}
    if has_petitions(ctx.issues):
        out["petitions"] = batch_table(ctx, last)
    if has_enterprises(ctx.issues):
        table = enterprise_table(ctx, last)
        out["repeat_offenders"] = table.loc[table["repeat_offender"].astype(bool),
                                            list(_OFFENDER_COLUMNS)].reset_index(drop=True)
    campaigns = campaign_table(ctx, last)
    if len(campaigns):
        out["campaigns"] = campaigns
    return out

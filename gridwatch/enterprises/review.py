"""The monthly review's sections on enterprises, petitions and campaigns (月复盘).

Added to :func:`gridwatch.supervision.review.monthly_review` when the problems carry the columns:
``petitions`` (the batches as of the month's end), ``repeat_offenders`` (the enterprises the
rule flags as of the month's end) and ``campaigns`` (per campaign as of the month's end).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gridwatch.supervision.aggregate import period_bounds

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["REVIEW_SECTIONS", "SECTION_EVALUATION", "review_sections", "section_rows"]

#: The sections, in the order they follow the review's own tables.
REVIEW_SECTIONS: tuple[str, ...] = ("petitions", "repeat_offenders", "campaigns")
#: The columns of the month-end evaluation (:meth:`SupervisionContext.evaluate`) the
#: sections read.
SECTION_EVALUATION: tuple[str, ...] = ("known", "is_open", "code")
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


def section_rows(ctx: SupervisionContext) -> np.ndarray:
    """Which problems the sections read (one flag per problem of ``ctx``): the petitions and
    the complaints (a complaint may repeat a petition), the problems naming an enterprise and
    those of a campaign; every problem when the rebounds at enterprises are found with
    another radius or window than ``[supervision.rebound]`` (a nearby rebound may follow any
    problem).

    A problem's flag depends on that problem alone, so the sections of ``ctx`` restricted to
    these rows are the sections of ``ctx``, and a part of the problems gets its part of the
    flags (the Dask review evaluates its rows on the workers).
    """
    from gridwatch.enterprises._settings import PetitionSettings
    from gridwatch.enterprises.campaigns import campaign_tags
    from gridwatch.enterprises.offenders import reuses_context_rebounds

    issues = ctx.issues
    n = len(issues)
    if not reuses_context_rebounds(ctx):
        return np.ones(n, dtype=bool)
    rows = np.zeros(n, dtype=bool)
    for column in ("petition_batch", "enterprise_code", "enterprise_name"):
        if column in issues:
            rows |= issues[column].notna().to_numpy()
    complaints = (ctx.settings.petitions or PetitionSettings()).sources
    rows |= issues["source"].astype("str").isin(complaints).to_numpy(dtype=bool, na_value=False)
    rows |= campaign_tags(issues, ctx.settings.campaigns, timezone=ctx.timezone).notna() \
        .to_numpy()
    return rows

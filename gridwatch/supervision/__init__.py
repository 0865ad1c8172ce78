"""Stage 4, supervision: deadlines on Chinese working days, red/yellow/green codes as of a date,
statistics per area and period, the weekly league (周亮晒), daily reminders (一函两单), rebounds,
duplicate incidents and the monthly review (月复盘)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridwatch._lazy import lazy_exports

if TYPE_CHECKING:
    from gridwatch.supervision.aggregate import area_statistics, period_statistics
    from gridwatch.supervision.codes import evaluate_as_of
    from gridwatch.supervision.deadlines import derive_deadlines
    from gridwatch.supervision.incidents import group_incidents
    from gridwatch.supervision.league import league_for_week
    from gridwatch.supervision.rebound import find_rebounds
    from gridwatch.supervision.remind import reminder_list
    from gridwatch.supervision.review import monthly_review

__all__ = [
    "area_statistics",
    "derive_deadlines",
    "evaluate_as_of",
    "find_rebounds",
    "group_incidents",
    "league_for_week",
    "monthly_review",
    "period_statistics",
    "reminder_list",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "area_statistics": "gridwatch.supervision.aggregate",
    "derive_deadlines": "gridwatch.supervision.deadlines",
    "evaluate_as_of": "gridwatch.supervision.codes",
    "find_rebounds": "gridwatch.supervision.rebound",
    "group_incidents": "gridwatch.supervision.incidents",
    "league_for_week": "gridwatch.supervision.league",
    "monthly_review": "gridwatch.supervision.review",
    "period_statistics": "gridwatch.supervision.aggregate",
    "reminder_list": "gridwatch.supervision.remind",
})

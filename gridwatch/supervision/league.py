"""Weekly league table of areas (周亮晒): a configurable score, rank, change of rank, worst flags.

``score = base + Σ weight × metric`` over the metrics of
:func:`gridwatch.supervision.aggregate.area_statistics` plus ``overdue_per_100`` (red per 100
problems handled, handled = open at the end + closed in the week). Higher is better. A rate that
cannot
be measured (nothing closed, nothing open) takes its best value, so an area is not punished for
having nothing to do. Ties share a rank (1, 2, 2, 4); ``rank_change`` is last week's rank minus
this week's (positive = moved up); the ``worst_n`` lowest scores (ties included) are flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.schema import DEFAULT_TIMEZONE
from gridwatch.settings import suggestion, unknown_keys
from gridwatch.supervision.aggregate import STAT_COLUMNS, period_statistics, previous_period

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = [
    "LEAGUE_METRICS",
    "LeagueSettings",
    "league_for_week",
    "league_table",
    "parse_league_settings",
    "write_league",
]

LEAGUE_METRICS: tuple[str, ...] = (*STAT_COLUMNS, "overdue_per_100")
#: Value a metric takes when it cannot be measured (its best value).
_WHEN_EMPTY = {"on_time_rate": 1.0, "overdue_rate": 0.0, "overdue_per_100": 0.0,
               "median_days_to_close": 0.0}


@dataclass(frozen=True)
class LeagueSettings:
    """``[supervision.league]``."""

    weights: Mapping[str, float] = field(
        default_factory=lambda: {"on_time_rate": 60.0, "overdue_rate": -40.0})
    base: float = 40.0
    worst_n: int = 3


def parse_league_settings(section: Mapping[str, Any]) -> LeagueSettings:
    """Validate ``[supervision.league]``; raise ConfigError listing every problem.

    Example::

        [supervision.league]
        base = 40
        worst_n = 3
        weights = { on_time_rate = 60, overdue_rate = -40 }
    """
    raw = dict(section or {})
    problems = unknown_keys(raw, ("base", "weights", "worst_n"), "[supervision.league]")
    weights = raw.get("weights", LeagueSettings().weights)
    if not isinstance(weights, dict) or not weights:
        problems.append(f"[supervision.league] weights must be a table metric = weight, "
                        f"got {weights!r}")
        weights = {}
    for name, w in weights.items():
        if name not in LEAGUE_METRICS:
            problems.append(f"[supervision.league.weights] {name!r} is not a metric"
                            f"{suggestion(str(name), LEAGUE_METRICS)}")
        if isinstance(w, bool) or not isinstance(w, int | float):
            problems.append(f"[supervision.league.weights] {name} must be a number, got {w!r}")
    base = raw.get("base", 40.0)
    if isinstance(base, bool) or not isinstance(base, int | float):
        problems.append(f"[supervision.league] base must be a number, got {base!r}")
        base = 0.0
    worst = raw.get("worst_n", 3)
    if isinstance(worst, bool) or not isinstance(worst, int) or worst < 0:
        problems.append(f"[supervision.league] worst_n must be a whole number >= 0, got {worst!r}")
        worst = 3
    if problems:
        raise ConfigError(f"[supervision.league] has {len(problems)} problem(s):", problems)
    return LeagueSettings(weights={k: float(v) for k, v in weights.items()}, base=float(base),
                          worst_n=worst)


def _metrics(stats: pd.DataFrame) -> pd.DataFrame:
    out = stats.copy()
    handled = out["open"] + out["closed"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["overdue_per_100"] = np.where(handled > 0, 100.0 * out["red"] / handled, np.nan)
    return out


def league_table(stats: pd.DataFrame, previous: pd.DataFrame | None = None, *,
                 settings: LeagueSettings | None = None) -> pd.DataFrame:
    """Rank the areas of one week.

    Parameters
    ----------
    stats
        :func:`gridwatch.supervision.aggregate.area_statistics` of the week (rows with no area_id
        are left out of the league).
    previous
        The same for the week before, for ``previous_rank`` and ``rank_change``.
    settings
        Score weights and the number of worst areas to flag.

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``area_id`` (and ``area_name`` if given), ``score``, the metrics,
        ``previous_rank``, ``rank_change``, ``worst``; best first, ties by area_id.
    """
    settings = settings or LeagueSettings()
    table = _score(stats, settings)
    if previous is not None:
        before = _score(previous, settings).set_index("area_id")["rank"]
        table["previous_rank"] = table["area_id"].map(before).astype("Int64")
    else:
        table["previous_rank"] = pd.array([pd.NA] * len(table), dtype="Int64")
    table["rank_change"] = (table["previous_rank"] - table["rank"]).astype("Int64")
    worst = np.zeros(len(table), dtype=bool)
    if settings.worst_n and len(table):
        cut = np.sort(table["score"].to_numpy())[min(settings.worst_n, len(table)) - 1]
        worst = table["score"].to_numpy() <= cut
    table["worst"] = worst
    return table.sort_values(["rank", "area_id"], kind="stable").reset_index(drop=True)


def _score(stats: pd.DataFrame, settings: LeagueSettings) -> pd.DataFrame:
    table = _metrics(stats[stats["area_id"].notna()]).reset_index(drop=True)
    score = np.full(len(table), settings.base, dtype="float64")
    for name, weight in settings.weights.items():
        values = table[name].astype("float64").fillna(_WHEN_EMPTY.get(name, 0.0))
        score += weight * values.to_numpy()
    table.insert(0, "score", np.round(score, 6))
    # Ties share the best rank; rounding keeps float noise from splitting a tie.
    table.insert(0, "rank", table["score"].rank(method="min", ascending=False).astype("int64"))
    lead = ["rank", "area_id", *(["area_name"] if "area_name" in table else []), "score"]
    return table[[*lead, *[c for c in table.columns if c not in lead]]]


def league_for_week(context: SupervisionContext, week: str, *, layer: str) -> pd.DataFrame:
    """League table of ``layer`` for ISO week ``week`` (``"2024-W10"``) against the week before.

    Parameters
    ----------
    context
        The supervision context; its ``[supervision.league]`` settings score the areas.
    week
        ISO week, ``YYYY-Www``.
    layer
        Layer whose areas are ranked (every area of the layer is listed).

    Returns
    -------
    pandas.DataFrame
        ``week`` then the columns of :func:`league_table`.
    """
    if "W" not in str(week).upper():
        raise ConfigError(f"week {week!r} is not an ISO week; write it as YYYY-Www, e.g. 2024-W10")
    before = previous_period(week)
    stats = period_statistics(context, [before, week], layer=layer)
    this = stats[stats["period"] == week].drop(columns=["period", "start", "end"])
    last = stats[stats["period"] == before].drop(columns=["period", "start", "end"])
    table = league_table(this, last.drop(columns=["area_name"], errors="ignore"),
                         settings=context.settings.league)
    table.insert(0, "week", str(week))
    return table


def write_league(table: pd.DataFrame, path: str | Path, *,
                 timezone: str = DEFAULT_TIMEZONE) -> Path:
    """Write the league table as XLSX or CSV (by extension), formulas neutralised."""
    from gridwatch.output.files import write_table

    return write_table(table, path, timezone=timezone, sheet_name="league")

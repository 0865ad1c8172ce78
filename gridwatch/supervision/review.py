"""Monthly review (月复盘): the month against the one before, as a workbook and a summary.

Tables (one workbook sheet each): ``summary`` (found, closed, closure rate, on-time rate, open,
overdue and overdue rate at the month's end, median days to close, rebounds — this month,
previous month, change), ``by_category``, ``by_source``, ``by_area``, ``worst_areas`` and
``rebounds`` (the rebounds reported in the month with the problem each repeats). Figures are
those of :func:`gridwatch.supervision.aggregate.area_statistics` over the month's local dates.
When the problems carry enterprises, petition batches or campaigns, the sections of
:func:`gridwatch.enterprises.review.review_sections` follow.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.schema import DEFAULT_TIMEZONE
from gridwatch.supervision.aggregate import (
    area_statistics,
    period_bounds,
    previous_period,
    reported_between,
)

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = [
    "REVIEW_TABLES",
    "SUMMARY_ROWS",
    "group_labels",
    "group_statistics",
    "monthly_review",
    "review_groupings",
    "review_html",
    "review_markdown",
    "review_periods",
    "review_statistics",
    "write_review",
]

REVIEW_TABLES: tuple[str, ...] = ("summary", "by_category", "by_source", "by_area",
                                  "worst_areas", "rebounds",
                                  "evidence")
_SUMMARY = ("new", "closed", "closure_rate", "on_time_rate", "open", "red", "overdue_rate",
            "median_days_to_close", "rebounds")
_COMPARE = ("new", "closed", "red", "on_time_rate")


def review_periods(month: str) -> dict[str, tuple[dt.date, dt.date]]:
    """The month reviewed (``"YYYY-MM"``) and the month before: label -> first and last local
    date."""
    first, last = period_bounds(month)
    if first == last or "W" in month.upper():
        raise ConfigError(f"month {month!r} is not a month; write it as YYYY-MM, e.g. 2024-03")
    before = previous_period(month)
    return {month: (first, last), before: period_bounds(before)}


def review_groupings(issues: pd.DataFrame, layer: str) -> dict[str, str | None]:
    """The review's tables of statistics and the column of the problems each groups by
    (``None``: all problems in one group)."""
    groupings = {"summary": None, "by_category": "category", "by_source": "source",
                 "by_area": f"{layer}_id"}
    for column in groupings.values():
        if column is not None and column not in issues:
            raise ConfigError(f"the issues have no column {column!r} for the review")
    return groupings


def group_statistics(issues: pd.DataFrame, evaluated: pd.DataFrame, *, column: str | None,
                     start: dt.date | None, end: dt.date, rebounds: pd.DataFrame | None,
                     incidents: pd.DataFrame | None, timezone: str,
                     areas: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`~gridwatch.supervision.aggregate.area_statistics` of the problems grouped by
    the values of ``column`` (``None``: one group ``"all"``) instead of by area."""
    grouped = issues.assign(_group_id=group_labels(issues, column))
    return area_statistics(grouped, evaluated, layer="_group", start=start, end=end,
                           rebounds=rebounds, incidents=incidents, areas=areas,
                           timezone=timezone)


def group_labels(issues: pd.DataFrame, column: str | None) -> pd.Series:
    """The group of each problem in :func:`group_statistics` (str, NA: no value)."""
    values = issues[column] if column else pd.Series("all", index=issues.index)
    return values.astype("str")


def review_statistics(context: SupervisionContext, month: str, *,
                      layer: str) -> dict[tuple[str, str], pd.DataFrame]:
    """The statistics of the review's tables on this machine, by (month label, table name of
    :func:`review_groupings`); ``by_area`` lists every area of ``layer``."""
    issues = context.issues
    groupings = review_groupings(issues, layer)
    areas = context.area_table(layer)
    out = {}
    for label, (start, end) in review_periods(month).items():
        evaluated = context.evaluate(end)
        for name, column in groupings.items():
            out[(label, name)] = group_statistics(
                issues, evaluated, column=column, start=start, end=end,
                rebounds=context.rebounds, incidents=context.incidents,
                timezone=context.timezone, areas=areas if name == "by_area" else None)
    return out


def monthly_review(context: SupervisionContext, month: str, *, layer: str,
                   statistics: Mapping[tuple[str, str], pd.DataFrame] | None = None,
                   sections: SupervisionContext | None = None) -> dict[str, pd.DataFrame]:
    """Build the review tables of ``month`` (``"YYYY-MM"``) against the month before.

    Parameters
    ----------
    context
        The supervision context (problems, history, settings, rebounds, incidents, areas).
    month
        The month reviewed.
    layer
        Layer of the ``by_area`` and ``worst_areas`` tables.
    statistics
        :func:`review_statistics` when computed elsewhere (on a Dask cluster); default
        computed here.
    sections
        The context the sections of :func:`gridwatch.enterprises.review.review_sections`
        are computed from (the problems they read, e.g. with their evaluation gathered from a
        cluster); default ``context``.

    Returns
    -------
    dict of str to pandas.DataFrame
        The tables named in :data:`REVIEW_TABLES`, in that order, then those of
        :func:`gridwatch.enterprises.review.review_sections` that apply. ``worst_areas`` lists the
        ``[supervision.league] worst_n`` areas (at least one) most overdue at the month's end,
        then by overdue rate.
    """
    periods = review_periods(month)
    before = list(periods)[1]
    first, last = periods[month]
    issues, timezone = context.issues, context.timezone
    groupings = review_groupings(issues, layer)
    worst_n = max(context.settings.league.worst_n, 1)
    if statistics is None:
        statistics = review_statistics(context, month, layer=layer)
    now, prev = statistics[(month, "summary")], statistics[(before, "summary")]
    summary = pd.DataFrame({"metric": list(_SUMMARY),
                            month: [_summary_value(now, m) for m in _SUMMARY],
                            before: [_summary_value(prev, m) for m in _SUMMARY]})
    summary["change"] = summary[month] - summary[before]
    tables = {"summary": summary}
    for name in ("by_category", "by_source", "by_area"):
        key = "area_id" if name == "by_area" else str(groupings[name])
        this = statistics[(month, name)].rename(columns={"area_id": key})
        that = statistics[(before, name)].rename(columns={"area_id": key})[[key, *_COMPARE]]
        tables[name] = this.merge(that, on=key, how="outer", suffixes=("", "_previous"))
    by_area = tables["by_area"].dropna(subset=["area_id"])
    tables["worst_areas"] = (by_area[by_area["red"] > 0]
                             .sort_values(["red", "overdue_rate", "area_id"],
                                          ascending=[False, False, True], kind="stable")
                             .head(worst_n).reset_index(drop=True))
    tables["rebounds"] = _rebound_list(issues, context.rebounds, layer, first, last, timezone)
    # closed in the month, with their photos and the after-photo rule (gridwatch.evidence)
    from gridwatch.evidence.review import closed_evidence

    tables["evidence"] = closed_evidence(issues, first, last, timezone=timezone)
    from gridwatch.enterprises.review import review_sections

    # when the problems carry the columns
    tables.update(review_sections(sections if sections is not None else context, month))
    return tables


def _summary_value(stats: pd.DataFrame, metric: str) -> float:
    row = stats.iloc[0] if len(stats) else pd.Series(0.0, index=stats.columns)
    if metric == "closure_rate":
        return float(row["closed"] / row["new"]) if row["new"] else float("nan")
    return float(row[metric])


def _rebound_list(issues: pd.DataFrame, rebounds: pd.DataFrame | None, layer: str,
                  first: object, last: object, timezone: str) -> pd.DataFrame:
    columns = ["issue_id", "reported_at", "category", f"{layer}_id", "rebound_of",
               "rebound_distance_m", "rebound_days"]
    if rebounds is None:
        return pd.DataFrame(columns=columns)
    mask = rebounds["rebound"].to_numpy(dtype=bool) & reported_between(
        issues, first, last, timezone=timezone)
    joined = issues[columns[:4]].join(rebounds[columns[4:]])
    return joined[mask].sort_values(["reported_at", "issue_id"], kind="stable").reset_index(
        drop=True)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if value is None or value is pd.NA or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


#: Rows of a table shown in the Markdown and HTML summaries; the workbook has every row (a
#: month of a city lists tens of thousands of closed problems and rebounds).
SUMMARY_ROWS = 200


def _more(table: pd.DataFrame, max_rows: int | None) -> str | None:
    """The note under a table cut to ``max_rows`` rows, or None when it is shown whole."""
    if max_rows is None or len(table) <= max_rows:
        return None
    return (f"{max_rows:,} of {len(table):,} rows shown; the workbook (.xlsx) lists all "
            f"{len(table):,}")


def review_markdown(tables: Mapping[str, pd.DataFrame], *, title: str = "月复盘",
                    max_rows: int | None = SUMMARY_ROWS) -> str:
    """A Markdown summary of the review; cell text is escaped (no markup from user data).
    A table longer than ``max_rows`` shows its first rows and says how many there are."""
    lines = [f"# {_md(title)}", ""]
    for name, table in tables.items():
        lines += [f"## {_md(name)}", ""]
        if table.empty:
            lines += ["(none)", ""]
            continue
        lines.append("| " + " | ".join(_md(str(c)) for c in table.columns) + " |")
        lines.append("|" + "---|" * len(table.columns))
        for row in table.head(max_rows).itertuples(index=False):
            lines.append("| " + " | ".join(_md(_cell(v)) for v in row) + " |")
        note = _more(table, max_rows)
        if note is not None:
            lines += ["", f"*{note}*"]
        lines.append("")
    return "\n".join(lines)


def _md(text: str) -> str:
    escaped = html.escape(text, quote=True).replace("|", "&#124;").replace("`", "&#96;")
    return escaped.replace("\n", " ").replace("[", "&#91;").replace("]", "&#93;")


def review_html(tables: Mapping[str, pd.DataFrame], *, title: str = "月复盘",
                max_rows: int | None = SUMMARY_ROWS) -> str:
    """A self-contained HTML summary (no external assets); every cell is HTML-escaped. A
    table longer than ``max_rows`` shows its first rows and says how many there are."""
    parts = ["<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title>",
             "<style>table{border-collapse:collapse;margin-bottom:1.5em}"
             "td,th{border:1px solid #999;padding:2px 6px}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for name, table in tables.items():
        parts.append(f"<h2>{html.escape(name)}</h2>")
        if table.empty:
            parts.append("<p>(none)</p>")
            continue
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row)
                       + "</tr>" for row in table.head(max_rows).itertuples(index=False))
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        note = _more(table, max_rows)
        if note is not None:
            parts.append(f"<p><em>{html.escape(note)}</em></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_review(tables: Mapping[str, pd.DataFrame], path: str | Path, *, title: str = "月复盘",
                 timezone: str = DEFAULT_TIMEZONE) -> list[Path]:
    """Write the workbook to ``path`` (.xlsx) and ``.md``/``.html`` summaries beside it (a
    table's first :data:`SUMMARY_ROWS` rows in the summaries, every row in the workbook).

    Returns
    -------
    list of Path
        Workbook, Markdown and HTML files.
    """
    from gridwatch.output.files import write_workbook

    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ConfigError(f"--out {str(path)!r}: the review is a workbook; use a .xlsx name")
    written = [write_workbook(dict(tables), path, timezone=timezone)]
    for suffix, text in ((".md", review_markdown(tables, title=title)),
                         (".html", review_html(tables, title=title))):
        target = path.with_suffix(suffix)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written

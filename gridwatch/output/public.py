"""The rectification progress list for publication (整改公示).

What is published is chosen column by column, never by removing what looks personal: per
problem its category, the place rounded to the street or town (the name of its area in an
admin layer, never coordinates or an address), the deadline, the status and the day it was
closed. Nothing else — no names, phone numbers, ID-card numbers, addresses or descriptions —
unless ``[public] columns`` names a column; and even then phone and ID-card numbers are masked
in it. The HTML is escaped and self-contained, the XLSX formula-neutralised.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gridwatch.disclosure import PUBLIC_ALLOWED, PublicSettings, parse_public_settings
from gridwatch.errors import ConfigError
from gridwatch.output._atomic import replacing
from gridwatch.output.files import neutralise_formulas, write_table
from gridwatch.schema import CLOSED_STATUSES, OPEN_STATUSES, TEXT_COLUMNS

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["PUBLIC_ALLOWED", "PUBLIC_COLUMNS", "PublicSettings", "mask_identifiers",
           "parse_public_settings", "public_list", "publication", "write_public"]

#: The columns always published, as headed in the list.
PUBLIC_COLUMNS: tuple[str, ...] = ("序号", "问题类别", "所在镇街", "整改期限", "整改状态",
                                   "是否超期", "办结日期")
_CATEGORY = {"water": "水污染", "air": "大气污染", "soil": "土壤污染", "solid_waste": "固体废物",
             "noise": "噪声", "ecology": "生态破坏", "other": "其他"}
_SOURCE = {"grid_patrol": "网格巡查", "public_report": "群众举报", "hotline": "热线",
           "inspection": "执法检查", "monitoring": "在线监测", "satellite": "卫星遥感",
           "other": "其他"}
_STATUS = {"reported": "待交办", "assigned": "已交办", "rectifying": "整改中",
           "closed": "已办结", "verified": "已销号"}
# 18-digit (and old 15-digit) ID-card numbers, mobile numbers, landlines with an area code.
_IDENTIFIERS = re.compile(
    r"(?<![0-9])(?:[1-9][0-9]{5}(?:19|20)[0-9]{2}[01][0-9][0-3][0-9][0-9]{3}[0-9Xx]"
    r"|[1-9][0-9]{14}"
    r"|(?:\+?86[- ]?)?1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}"
    r"|0[0-9]{2,3}[- ]?[0-9]{7,8})(?![0-9])")


def mask_identifiers(text: object) -> object:
    """Mask phone and ID-card numbers in a text (``***``); other values as they are.

    Examples
    --------
    >>> mask_identifiers("联系人 13812345678，身份证 33040219800101123X")
    '联系人 ***，身份证 ***'
    """
    if not isinstance(text, str):
        return text
    return _IDENTIFIERS.sub("***", text)


def _local_day(values: pd.Series, timezone: str) -> np.ndarray:
    """``YYYY-MM-DD`` of each time in the zone, ``""`` when missing (vectorised: a million
    rows in well under a second, where ``strftime`` takes seconds)."""
    local = values.dt.tz_convert(timezone).dt.tz_localize(None).to_numpy(dtype="datetime64[D]")
    text = np.datetime_as_string(local, unit="D").astype(object)
    text[np.isnat(local)] = ""
    return text


def _mask_column(values: pd.Series) -> pd.Series:
    """:func:`mask_identifiers` over a column, once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    masked = np.array([mask_identifiers(v) for v in uniques], dtype=object)
    out = np.full(len(values), None, dtype=object)
    known = codes >= 0
    out[known] = masked[codes[known]]
    return pd.Series(out, index=values.index)


def public_list(issues: pd.DataFrame, places: pd.Series, *, timezone: str,
                as_of: pd.Timestamp, allow: Sequence[str] = ()) -> pd.DataFrame:
    """The progress list for publication, one row per problem.

    Parameters
    ----------
    issues
        Stored problems (``category``, ``status``, ``deadline``, ``closed_at``, ...).
    places
        Name of each problem's street or town (same index); missing: ``—``.
    timezone
        The territory's zone (days are local days).
    as_of
        The day overdue is judged on (tz-aware).
    allow
        Columns of :data:`PUBLIC_ALLOWED` to add (phone and ID-card numbers masked).

    Returns
    -------
    pandas.DataFrame
        :data:`PUBLIC_COLUMNS` then the allowed columns' headers, sorted by place, category
        and deadline; only text, so nothing else of a problem can travel with it.

    Examples
    --------
    >>> issues = pd.DataFrame({"category": ["water"], "status": ["closed"],
    ...     "deadline": pd.to_datetime(["2026-05-01"], utc=True),
    ...     "closed_at": pd.to_datetime(["2026-04-20 02:00"], utc=True),
    ...     "description": ["张三 13812345678"]})
    >>> row = public_list(issues, pd.Series(["南湖街道"]), timezone="Asia/Shanghai",
    ...                   as_of=pd.Timestamp("2026-06-01", tz="UTC")).iloc[0]
    >>> row["所在镇街"], row["整改状态"], row["办结日期"], "张三" in row.to_string()
    ('南湖街道', '已办结', '2026-04-20', False)
    """
    unknown = [c for c in allow if c not in PUBLIC_ALLOWED]
    if unknown:
        raise ConfigError(f"cannot publish {', '.join(unknown)}; allowed: "
                          f"{', '.join(PUBLIC_ALLOWED)}")
    status = issues["status"].astype("str")
    deadline = pd.to_datetime(issues["deadline"], utc=True)
    closed = pd.to_datetime(issues["closed_at"], utc=True)
    is_open = status.isin(OPEN_STATUSES).to_numpy()
    overdue = is_open & (deadline < as_of).to_numpy(dtype=bool, na_value=False)
    late = status.isin(CLOSED_STATUSES).to_numpy() & \
        (closed > deadline).to_numpy(dtype=bool, na_value=False)
    out = pd.DataFrame({
        "问题类别": issues["category"].astype("str").map(_CATEGORY).fillna("其他").to_numpy(),
        "所在镇街": places.reindex(issues.index).astype(object).where(
            places.reindex(issues.index).notna(), "—").to_numpy(),
        "整改期限": _local_day(deadline, timezone),
        "整改状态": status.map(_STATUS).fillna("—").to_numpy(),
        "是否超期": np.select([overdue, late], ["已超期", "超期办结"], "否").astype(object),
        "办结日期": _local_day(closed, timezone),
    }, index=issues.index)
    for column in allow:
        values = issues[column] if column in issues else pd.Series(None, index=issues.index)
        if column == "source":
            values = values.astype("str").map(_SOURCE)
        elif column in TEXT_COLUMNS or column == "issue_id":
            values = _mask_column(values)
        out[PUBLIC_ALLOWED[column]] = values.astype(object).where(values.notna(), "") \
            .to_numpy()
    out = out.sort_values(["所在镇街", "问题类别", "整改期限"], kind="stable")
    out.insert(0, "序号", range(1, len(out) + 1))
    return out.reset_index(drop=True)


def write_public(table: pd.DataFrame, path: str | Path, *, title: str,
                 note: str = "") -> Path:
    """Write the list as a self-contained HTML page (every cell escaped) or an XLSX/CSV file
    (formulas neutralised), by extension.

    Parameters
    ----------
    table
        :func:`public_list`.
    path
        ``.html``, ``.xlsx`` or ``.csv``.
    title
        Heading of the list (e.g. ``南湖区生态环境问题整改公示``), escaped.
    note
        A line under the heading (e.g. the as-of day), escaped.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in (".xlsx", ".csv"):
        return write_table(table, target, sheet_name="整改公示")
    if suffix not in (".html", ".htm"):
        raise ConfigError(f"--out {str(target)!r}: the public list is written as .html, "
                          ".xlsx or .csv")
    safe = neutralise_formulas(table)  # a page copied into a spreadsheet stays inert too

    def cell(value: object) -> str:
        return html.escape(str(value), quote=True)

    head = "".join(f"<th>{cell(c)}</th>" for c in safe.columns)
    rows = "\n".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                     for row in safe.itertuples(index=False))
    page = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{cell(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
th,td{{border:1px solid #999;padding:4px 8px}}th{{background:#eee}}</style></head>
<body><h1>{cell(title)}</h1><p>{cell(note)}</p>
<table><thead><tr>{head}</tr></thead><tbody>
{rows}
</tbody></table></body></html>
"""
    with replacing(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target


def _area_rows(context: SupervisionContext, area: str) -> tuple[str, np.ndarray]:
    """The label and row mask of ``--area``: ``LAYER:ID`` or an id/name in any layer."""
    layers = [s.name for s in context.config.layers] if context.config is not None else []
    layer, sep, wanted = area.partition(":")
    candidates = [layer] if sep and layer in layers else layers
    text = wanted if sep and layer in layers else area
    for name in candidates:
        column = f"{name}_id"
        if column not in context.issues:
            continue
        ids = context.issues[column].astype("str")
        table = context.area_table(name)
        label = text
        hit = {text}
        if table is not None:
            names = table.set_index(table["area_id"].astype("str"))["area_name"].astype("str")
            if text in names.index:
                label = names[text]
            else:
                found = names.index[names == text]
                hit = set(found) if len(found) else hit
        mask = ids.isin(hit).to_numpy(dtype=bool, na_value=False)
        if mask.any():
            return label, mask
    raise ConfigError(f"--area {area!r}: no problem (in your areas) lies in an area with "
                      f"that id or name; layers: {', '.join(layers) or '(none)'}")


def _level(context: SupervisionContext, settings: PublicSettings) -> str | None:
    config = context.config
    if config is None:
        return None
    if settings.level is not None:
        if settings.level not in {s.name for s in config.layers}:
            raise ConfigError(f"[public] level {settings.level!r} is not a layer of the "
                              "project")
        return settings.level
    admin = [s.name for s in config.layers if s.kind == "admin"]
    return admin[-1] if admin else None


def publication(context: SupervisionContext, out: str | Path, *, area: str | None = None,
                as_of: str | dt.date | None = None, title: str | None = None,
                ) -> tuple[Path, int]:
    """Write the public list of a context's problems (``gridwatch export public``).

    Parameters
    ----------
    context
        The supervision context, already scoped to the acting user.
    out
        ``.html``, ``.xlsx`` or ``.csv``.
    area
        Only this area (``LAYER:ID``, or an id or name in any layer).
    as_of
        Day overdue is judged on (default the last export).
    title
        Heading; default ``<area> 生态环境问题整改公示``.

    Returns
    -------
    (Path, int)
        The file written and the number of problems in it.
    """
    config = context.config
    settings = (config.settings.public if config is not None else None) or PublicSettings()
    # one row per incident when [supervision] count_incidents is on, as every figure
    counted = context.counted().to_numpy(dtype=bool)
    issues = context.issues[counted]
    label = "全域"
    if area is not None:
        label, mask = _area_rows(context, area)
        issues = context.issues[counted & mask]
    if as_of is not None:
        day = pd.Timestamp(as_of)
    elif context.last_export is not None:
        day = pd.Timestamp(context.last_export)
    else:
        day = pd.Timestamp.now(tz=context.timezone).tz_localize(None).normalize()
    # overdue at the end of the local day
    end = (day.normalize() + pd.Timedelta(days=1)).tz_localize(context.timezone)
    level = _level(context, settings)
    if level is not None and f"{level}_id" in issues:
        table = context.area_table(level)
        names = (table.set_index(table["area_id"].astype("str"))["area_name"].astype("str")
                 if table is not None else pd.Series(dtype="str"))
        ids = issues[f"{level}_id"].astype("str")
        places = ids.map(names).fillna(ids)
    else:
        places = pd.Series(pd.NA, index=issues.index, dtype="str")
    listed = public_list(issues, places, timezone=context.timezone, as_of=end,
                         allow=settings.columns)
    note = f"截至 {day:%Y-%m-%d}，共 {len(listed)} 个问题"
    written = write_public(listed, out, title=title or f"{label}生态环境问题整改公示",
                           note=note)
    return written, len(listed)

"""The canonical problem record: its columns, codes, and the words users write for them.

Everything here is data (tables), two small normalising functions and the reject frame, shared by
ingest, placing, the pipeline, the store, exports and the demo generator.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - pandas is imported on first use (the CLI starts cheap)
    import pandas as pd

__all__ = [
    "CANONICAL_COLUMNS",
    "CATEGORIES",
    "CATEGORY_LABELS",
    "CLOSED_STATUSES",
    "DATETIME_COLUMNS",
    "DATE_LIMITS",
    "DEFAULT_TIMEZONE",
    "HEADER_ALIASES",
    "ISSUE_ID_MAX_CHARS",
    "LATER_COLUMNS",
    "OPEN_STATUSES",
    "REJECT_COLUMNS",
    "REQUIRED_COLUMNS",
    "SOURCES",
    "SOURCE_LABELS",
    "STATUSES",
    "STATUS_LABELS",
    "TEXT_COLUMNS",
    "concat_rejects",
    "empty_rejects",
    "header_key",
    "label_table",
    "normalise_label",
]

#: Columns of the canonical record, in the order they are stored and exported.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "issue_id",
    "reported_at",
    "category",
    "source",
    "description",
    "lon",
    "lat",
    "coord_system",
    "address",
    "reported_grid",
    "status",
    "deadline",
    "closed_at",
    "responsible_unit",
    "severity",
    "task_type",
    "ledger_ref",
    "photo_before",
    "photo_after",
    # enterprises, petition batches and campaigns (issue 16: gridwatch.enterprises)
    "enterprise_code",
    "enterprise_name",
    "petition_batch",
    "petition_date",
    "campaign",
)
#: Optional columns added after the first stores were written: a row without a value in them
#: keeps the content hash it had before they existed (see ``store._tables.prepare``).
LATER_COLUMNS: tuple[str, ...] = (
    "ledger_ref",
    "photo_before",
    "photo_after",
    # issue 16: gridwatch.enterprises
    "enterprise_code", "enterprise_name", "petition_batch", "petition_date", "campaign",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("issue_id", "reported_at")
#: Time zone of a project that names none (``[territory] timezone``).
DEFAULT_TIMEZONE = "Asia/Shanghai"
DATETIME_COLUMNS: tuple[str, ...] = ("reported_at", "deadline", "closed_at",
                                     "petition_date")
#: Columns of a reject frame: one row per input row not accepted, and the reason in plain words.
REJECT_COLUMNS: tuple[str, ...] = ("file", "row", "column", "value", "reason")
_REJECT_DTYPES: dict[str, str] = {"file": "str", "row": "int64", "column": "str", "value": "str",
                                  "reason": "str"}
#: First and last local day any time gridwatch handles can fall on. Times are held in
#: nanoseconds (pandas), which span 1677-09-21 .. 2262-04-11; a margin on each side leaves room
#: for a time zone's offset and a deadline's end of day. ``[input] min_date`` / ``max_date``
#: narrow this for the files a project reads.
DATE_LIMITS: tuple[dt.date, dt.date] = (dt.date(1678, 1, 1), dt.date(2261, 12, 31))
#: Longest issue_id accepted, in characters (a longer one is a pasted description, not an id,
#: and does not fit a PostGIS index entry).
ISSUE_ID_MAX_CHARS = 200
#: Free text typed by people: data, never markup or formulas.
TEXT_COLUMNS: tuple[str, ...] = (
    "description", "address", "responsible_unit", "reported_grid", "ledger_ref",
    "photo_before",
    "photo_after",
    # issue 16: gridwatch.enterprises
    "enterprise_code", "enterprise_name", "petition_batch", "campaign",
)

CATEGORIES: tuple[str, ...] = ("water", "air", "soil", "solid_waste", "noise", "ecology", "other")
SOURCES: tuple[str, ...] = (
    "grid_patrol",
    "public_report",
    "hotline",
    "inspection",
    "monitoring",
    "satellite",
    "other",
)
#: Statuses in the order a problem moves through them.
# accepted (验收通过) and not_accepted (验收不通过: rejected at acceptance, open again) came
# with the rectification ledger; a store made before them has its status check widened on open.
STATUSES: tuple[str, ...] = ("reported", "assigned", "rectifying", "closed", "verified",
                             "accepted", "not_accepted")
OPEN_STATUSES: tuple[str, ...] = ("reported", "assigned", "rectifying", "not_accepted")
CLOSED_STATUSES: tuple[str, ...] = ("closed", "verified", "accepted")

# Labels are matched after normalise_label(); codes themselves always match.
CATEGORY_LABELS: dict[str, str] = {
    "水": "water", "水污染": "water", "水环境": "water", "污水": "water", "废水": "water",
    "大气": "air", "大气污染": "air", "废气": "air", "扬尘": "air", "异味": "air", "空气": "air",
    "秸秆焚烧": "air", "露天焚烧": "air",
    "固废": "solid_waste", "固体废物": "solid_waste", "垃圾": "solid_waste", "危废": "solid_waste",
    "危险废物": "solid_waste", "solidwaste": "solid_waste", "waste": "solid_waste",
    "噪声": "noise", "噪声污染": "noise", "噪音": "noise",
    "土壤": "soil", "土壤污染": "soil",
    "生态": "ecology", "生态破坏": "ecology",
    "其他": "other", "其它": "other",
}
SOURCE_LABELS: dict[str, str] = {
    "网格巡查": "grid_patrol", "网格员上报": "grid_patrol", "网格员巡查": "grid_patrol",
    "巡查": "grid_patrol", "gridpatrol": "grid_patrol", "patrol": "grid_patrol",
    "群众举报": "public_report", "信访": "public_report", "举报": "public_report",
    "publicreport": "public_report",
    "12345热线": "hotline", "12369热线": "hotline", "热线": "hotline", "12345": "hotline",
    "12369": "hotline",
    "执法检查": "inspection", "督察交办": "inspection", "督查交办": "inspection",
    "检查": "inspection",
    "在线监测": "monitoring", "自动监测": "monitoring", "监测": "monitoring",
    "卫星遥感": "satellite", "卫星图斑": "satellite", "遥感": "satellite",
    "其他": "other", "其它": "other",
}
STATUS_LABELS: dict[str, str] = {
    "待交办": "reported", "已上报": "reported", "待受理": "reported", "新建": "reported",
    "已交办": "assigned", "已受理": "assigned", "处理中": "rectifying",
    "整改中": "rectifying", "办理中": "rectifying", "inprogress": "rectifying",
    "已办结": "closed", "已整改": "closed", "办结": "closed",
    "已销号": "verified", "销号": "verified",
    "验收通过": "accepted", "验收合格": "accepted", "已验收": "accepted",
    "验收不通过": "not_accepted", "验收不合格": "not_accepted", "验收未通过": "not_accepted",
    "rejected": "not_accepted", "rejectedatacceptance": "not_accepted",
    # Open311 / 311 systems: "open" means accepted and being handled.
    "open": "assigned", "new": "reported", "acknowledged": "assigned",
}

#: Header aliases per canonical column, matched after header_key(). The config can add more.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "issue_id": ("issue_id", "问题编号", "事件编号", "编号", "id", "service_request_id",
                 "case_enquiry_id", "工单编号", "工单号", "问题id", "事件id", "案件编号"),
    "reported_at": ("reported_at", "上报时间", "发现时间", "受理时间", "requested_datetime",
                    "open_dt", "创建时间", "上报日期", "发现日期", "登记时间",
                    "立案时间"),
    "category": ("category", "问题类型", "问题类别", "类别", "service_name", "type",
                 "问题分类", "事件类型", "污染类型"),
    "source": ("source", "问题来源", "来源", "来源渠道", "信息来源"),
    "description": ("description", "问题描述", "内容", "描述", "问题内容", "事件描述",
                    "情况描述"),
    "lon": ("lon", "经度", "long", "lng", "longitude", "x", "x坐标"),
    "lat": ("lat", "纬度", "latitude", "y", "y坐标"),
    "coord_system": ("coord_system", "坐标系", "坐标系统", "crs"),
    "address": ("address", "地址", "问题地址", "详细地址", "事发地址", "问题位置"),
    "reported_grid": ("reported_grid", "所属网格", "网格编码", "网格编号",
                      "所属网格编码"),
    "status": ("status", "状态", "办理状态", "case_status", "处理状态", "当前状态"),
    "deadline": ("deadline", "整改期限", "办理时限", "expected_datetime", "sla_target_dt",
                 "整改时限", "办结时限", "截止时间", "整改截止日期"),
    "closed_at": ("closed_at", "办结时间", "销号时间", "closed_dt", "办结日期", "完成时间",
                  "整改完成时间"),
    "responsible_unit": ("responsible_unit", "责任单位", "agency_responsible", "责任部门",
                         "承办单位", "处置单位"),
    "severity": ("severity", "严重程度", "等级"),
    "task_type": ("task_type", "任务类型", "整改类型"),
    # the rectification task (or feedback item) of the ledger the problem hangs under
    "ledger_ref": ("ledger_ref", "整改任务编号", "反馈问题编号", "督察反馈问题编号",
                   "所属整改任务"),
    # evidence photos (gridwatch.evidence): file names or intranet URLs, several separated by ;
    "photo_before": ("photo_before", "整改前照片", "整改前图片", "问题照片", "现场照片",
                     "before_photo"),
    "photo_after": ("photo_after", "整改后照片", "整改后图片", "整改照片", "after_photo"),
    # issue 16: enterprises (一码统管), petition batches (交办信访件) and campaigns (专项行动)
    "enterprise_code": ("enterprise_code", "统一社会信用代码", "社会信用代码", "信用代码",
                        "企业编码", "企业代码", "uscc", "credit_code"),
    "enterprise_name": ("enterprise_name", "企业名称", "单位名称", "涉事企业", "enterprise",
                        "company_name"),
    "petition_batch": ("petition_batch", "交办批次", "信访批次", "交办件批次"),
    "petition_date": ("petition_date", "交办日期", "交办时间", "信访交办日期"),
    "campaign": ("campaign", "专项行动", "专项行动名称", "专项整治"),
}

_SEPARATORS = re.compile(r"[\s_\-·.]+")


def header_key(text: object) -> str:
    """Return the form of a header used for matching.

    Full-width characters become half-width (NFKC), case is folded, and spaces, underscores,
    hyphens and dots are dropped, so ``"Service Request ID"``, ``"service_request_id"`` and
    ``"ＳＥＲＶＩＣＥ＿ＲＥＱＵＥＳＴ＿ＩＤ"`` all match.

    Examples
    --------
    >>> header_key(" 问题 编号 ")
    '问题编号'
    >>> header_key("Service_Request ID")
    'servicerequestid'
    """
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", str(text)).casefold())


def normalise_label(text: object) -> str:
    """Return the form of a category/source/status label used for matching (as header_key)."""
    return header_key(text)


def label_table(base: Mapping[str, str], codes: tuple[str, ...],
                extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Build a lookup from normalised label to code: the codes, the built-in labels, then extras.

    Parameters
    ----------
    base
        Built-in labels, e.g. :data:`CATEGORY_LABELS`.
    codes
        The allowed codes; each also matches itself.
    extra
        Labels from the project file (they win over built-in ones).

    Examples
    --------
    >>> label_table({"水 污染": "water"}, ("water", "air"), {"废水": "water"})
    {'water': 'water', 'air': 'air', '水污染': 'water', '废水': 'water'}
    """
    table = {normalise_label(c): c for c in codes}
    table.update({normalise_label(k): v for k, v in base.items()})
    if extra:
        table.update({normalise_label(k): v for k, v in extra.items()})
    return table


def empty_rejects() -> pd.DataFrame:
    """Return a reject frame without rows: :data:`REJECT_COLUMNS`, ``row`` int64, others str."""
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in _REJECT_DTYPES.items()})


def concat_rejects(*frames: pd.DataFrame | None,
                   file_order: Iterable[str] | None = None) -> pd.DataFrame:
    """Join reject frames into one, ordered by file, then row (stable).

    Every stage that rejects rows returns them in this shape; ingest, placing and the pipeline
    join theirs with this function.

    Parameters
    ----------
    *frames
        Frames with :data:`REJECT_COLUMNS` (other columns are dropped); None and empty frames
        are skipped.
    file_order
        Files in the order they were read. Files not in it follow, in the order they first
        appear in ``frames``; None: all files in that order.

    Returns
    -------
    pandas.DataFrame
        :data:`REJECT_COLUMNS` with ``row`` int64 and the others str, a fresh RangeIndex.

    Examples
    --------
    >>> a = concat_rejects(); list(a.columns), len(a)
    (['file', 'row', 'column', 'value', 'reason'], 0)
    """
    import numpy as np
    import pandas as pd

    parts: Sequence[pd.DataFrame] = [f.loc[:, list(REJECT_COLUMNS)] for f in frames
                                     if f is not None and len(f)]
    if not parts:
        return empty_rejects()
    frame = pd.concat(parts, ignore_index=True).astype(_REJECT_DTYPES)
    known = list(file_order) if file_order is not None else []
    order = {name: i for i, name in enumerate(dict.fromkeys([*known, *frame["file"]]))}
    key = frame["file"].map(order).astype("int64") * (1 << 32) + frame["row"]
    return frame.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)

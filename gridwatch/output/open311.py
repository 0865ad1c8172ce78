"""Open311 GeoReport v2 out: stored problems as service requests, so gridwatch sits beside 311
systems. (Open311 in is read by :mod:`gridwatch.ingest.records`.)

The mapping, field by field (GeoReport v2 "GET Service Requests" response):

| Open311 | gridwatch |
|---|---|
| service_request_id | issue_id |
| status | ``open`` for reported/assigned/rectifying, ``closed`` for closed/verified |
| status_notes | gridwatch's own status code (e.g. ``rectifying``, ``verified``) |
| service_name, service_code | category |
| description | description |
| agency_responsible | responsible_unit |
| requested_datetime | reported_at |
| expected_datetime | deadline |
| updated_datetime | closed_at when closed, else reported_at |
| address | address |
| lat, long | WGS84 lat, lon |

Times are ISO 8601 with the territory's UTC offset, as the specification asks (W3C format).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from gridwatch.output._atomic import replacing
from gridwatch.schema import CLOSED_STATUSES, DEFAULT_TIMEZONE

__all__ = ["to_open311", "write_open311"]


def _time(value: Any, timezone: str) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert(timezone).isoformat()


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def to_open311(issues: pd.DataFrame, *, timezone: str = DEFAULT_TIMEZONE) -> list[dict[str, Any]]:
    """Return stored problems (the frame of ``Store.issues()``) as Open311 service requests.

    Parameters
    ----------
    issues
        Canonical columns with WGS84 ``lon``/``lat``.
    timezone
        The territory's zone, for the offsets of the times.

    Returns
    -------
    list of dict
        One request per problem, in the frame's order.
    """
    requests: list[dict[str, Any]] = []
    for row in issues.to_dict(orient="records"):
        status = _text(row.get("status"))
        closed = status in CLOSED_STATUSES
        lat, lon = row.get("lat"), row.get("lon")
        requests.append({
            "service_request_id": _text(row.get("issue_id")),
            "status": "closed" if closed else "open",
            "status_notes": status,
            "service_name": _text(row.get("category")),
            "service_code": _text(row.get("category")),
            "description": _text(row.get("description")),
            "agency_responsible": _text(row.get("responsible_unit")),
            "service_notice": None,
            "requested_datetime": _time(row.get("reported_at"), timezone),
            "updated_datetime": _time(row.get("closed_at") if closed else row.get("reported_at"),
                                      timezone),
            "expected_datetime": _time(row.get("deadline"), timezone),
            "address": _text(row.get("address")),
            "address_id": None,
            "zipcode": None,
            "lat": None if lat is None or pd.isna(lat) else float(lat),
            "long": None if lon is None or pd.isna(lon) else float(lon),
            "media_url": None,
        })
    return requests


def write_open311(issues: pd.DataFrame, path: str | Path, *,
                  timezone: str = DEFAULT_TIMEZONE) -> Path:
    """Write :func:`to_open311` as a JSON array (UTF-8) and return the path.

    The file is replaced only once it is written whole; a failed write leaves the old one.
    """
    target = Path(path)
    requests = to_open311(issues, timezone=timezone)
    with replacing(target) as tmp, tmp.open("w", encoding="utf-8") as stream:
        json.dump(requests, stream, ensure_ascii=False, indent=1)
    return target

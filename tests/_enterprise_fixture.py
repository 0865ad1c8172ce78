"""A small hand-built city of problems in Chinese with enterprises, petitions and campaigns
(tests of gridwatch.enterprises), and a helper to build the context over it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
from helpers import REPORTS, local, lonlat_from_metres

from gridwatch.supervision.context import SupervisionContext
from gridwatch.supervision.rebound import ReboundSettings

T0 = local("2026-03-01 09:00")
COLUMNS = ("issue_id", "x", "y", "reported", "closed", "deadline", "category", "source",
           "enterprise_code", "enterprise_name", "description", "petition_batch",
           "petition_date", "campaign", "unit", "town", "truth")


def day(d: float | None) -> pd.Timestamp | Any:
    """T0 plus ``d`` days, NaT for None."""
    return pd.NaT if d is None else T0 + pd.Timedelta(days=d)


def frame(rows: list[tuple]) -> pd.DataFrame:
    """rows: the fields of :data:`COLUMNS` (x/y metres east/north of a point in Nanhu, days
    after T0); ``truth`` is the enterprise the row really is (what the test expects)."""
    data = {c: [r[k] for r in rows] for k, c in enumerate(COLUMNS)}
    lon, lat = lonlat_from_metres(data["x"], data["y"])
    closed = [day(d) for d in data["closed"]]
    out = pd.DataFrame({
        "issue_id": data["issue_id"],
        "reported_at": pd.to_datetime([day(d) for d in data["reported"]], utc=True),
        "deadline": pd.to_datetime([day(d) for d in data["deadline"]], utc=True),
        "closed_at": pd.to_datetime(closed, utc=True),
        "status": ["closed" if not pd.isna(c) else "assigned" for c in closed],
        "category": data["category"], "source": data["source"],
        "lon": lon, "lat": lat,
        "description": data["description"],
        "enterprise_code": data["enterprise_code"], "enterprise_name": data["enterprise_name"],
        "petition_batch": data["petition_batch"],
        "petition_date": pd.to_datetime([day(d) for d in data["petition_date"]], utc=True),
        "campaign": data["campaign"],
        "responsible_unit": data["unit"], "town_id": data["town"],
        "truth": data["truth"],
    })
    for column in ("reported_at", "deadline", "closed_at", "petition_date"):
        out[column] = out[column].astype("datetime64[ns, UTC]")
    for column in ("description", "enterprise_code", "enterprise_name", "petition_batch",
                   "campaign", "responsible_unit", "town_id", "truth"):
        out[column] = out[column].astype("str")
    return out


def context(issues: pd.DataFrame, **sections: Any) -> SupervisionContext:
    """A context over ``issues`` counting reports, rebounds within 100 m and 30 days, and the
    given settings (enterprises=..., petitions=..., campaigns=...)."""
    settings = replace(REPORTS, rebound=ReboundSettings(radius_m=100, days=30), **sections)
    return SupervisionContext.from_frames(issues, settings=settings)

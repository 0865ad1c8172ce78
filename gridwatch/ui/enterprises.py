"""The app's enterprises page: the map layer of repeat offenders, and the view of the three
tables (enterprises, petition batches, campaigns) as of a date over the filtered problems."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import folium
import numpy as np
import pandas as pd

from gridwatch.ui.maps import escape_text

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["OFFENDER_COLOUR", "add_offenders", "enterprise_view"]

#: Colour of a repeat offender on the map (other enterprises are grey).
OFFENDER_COLOUR = "#7b2cbf"
_OTHER_COLOUR = "#8d8d8d"
_POPUP = ("enterprise_name", "enterprise_code", "problems", "open", "overdue", "rebounds",
          "reason")


def add_offenders(fmap: folium.Map, table: pd.DataFrame, *, name: str = "屡查屡犯企业",
                  labels: Mapping[str, str] | None = None, only_offenders: bool = True,
                  limit: int = 2000) -> folium.FeatureGroup:
    """Draw enterprises of :func:`gridwatch.enterprises.offenders.enterprise_table` (its
    ``lon``/``lat``) as circles sized by their problems, repeat offenders in
    :data:`OFFENDER_COLOUR`, with a popup of escaped text (names are user text).

    Parameters
    ----------
    only_offenders
        Draw the repeat offenders only (default); else every enterprise, offenders on top.
    limit
        At most this many circles (offenders first), so the browser stays responsive.
    """
    labels = labels or {}
    frame = table.dropna(subset=["lon", "lat"])
    if only_offenders:
        frame = frame[frame["repeat_offender"].astype(bool)]
    frame = frame.sort_values(["repeat_offender", "problems"], ascending=False,
                              kind="stable").head(limit).iloc[::-1]
    group = folium.FeatureGroup(name=escape_text(name))
    for row in frame.itertuples(index=False):
        record = row._asdict()
        body = "<br>".join(f"<b>{escape_text(labels.get(c, c))}</b>: {escape_text(record[c])}"
                           for c in _POPUP if c in record and record[c] == record[c]
                           and record[c] not in ("", None))
        colour = OFFENDER_COLOUR if record["repeat_offender"] else _OTHER_COLOUR
        folium.CircleMarker(
            location=[float(record["lat"]), float(record["lon"])],
            radius=float(4 + 2 * np.sqrt(max(int(record["problems"]), 1))),
            color=colour, fill=True, fill_opacity=0.7, weight=2,
            popup=folium.Popup(body, max_width=320),
            tooltip=escape_text(record["enterprise_name"] or record["enterprise_code"]),
        ).add_to(group)
    group.add_to(fmap)
    return group


def enterprise_view(ctx: SupervisionContext, as_of: Any, *, keep: Any = None,
                    by: str | None = None) -> dict[str, pd.DataFrame]:
    """The page's tables as of a local date over the problems ``keep`` (a mask; all when
    None): ``enterprises``, ``petitions`` (batches), ``petition_list`` and ``campaigns``
    (per campaign, or split ``by`` unit or layer). Rebounds and repeats are found among all
    the context's problems, as the other views do."""
    from gridwatch.enterprises.campaigns import campaign_table
    from gridwatch.enterprises.offenders import enterprise_table
    from gridwatch.enterprises.petitions import batch_table, petition_list

    sub = ctx if keep is None else ctx.restrict(np.asarray(keep, dtype=bool))
    return {"enterprises": enterprise_table(sub, as_of),
            "petitions": batch_table(sub, as_of),
            "petition_list": petition_list(sub, as_of),
            "campaigns": campaign_table(sub, as_of, by=by)}

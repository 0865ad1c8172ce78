"""Addresses matched against the gazetteer, most precise source first.

For each address (vectorised over all of them, grouped by the area they name):

1. the names of the project's areas are found in a Chinese address level by level (county,
   town, village, grid): exactly as written, else fuzzily (rapidfuzz ``partial_ratio`` ≥
   ``min_score``), and always **among the children of the area found one level up**, so
   "新丰村" in one town is never matched to a namesake in another; without a parent, only a
   name no other area of that level shares (under the nearest area found) is taken;
2. the *scope* of the address is the finest area found, else its postcode, else everywhere;
3. inside the scope, from the most precise source down: the same address key at an address
   point or an earlier problem (:data:`~gridwatch.geocoding.gazetteer.POINT_PRECISION_M`, or
   the spread of the places that address was seen at when wider), the
   same road (exactly, else fuzzily ≥ ``min_score``) at the point with the nearest house number,
   or its middle without one (:data:`~gridwatch.geocoding.gazetteer.ROAD_PRECISION_M`), and last
   the finest area found (precision: the radius of a circle of its size);
4. a row whose best place is coarser than ``max_precision_m`` or that matched nothing is not
   placed; its reason names the best candidates with their scores.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from gridwatch.geocoding.gazetteer import (
    POINT_PRECISION_M,
    ROAD_PRECISION_M,
    Gazetteer,
    address_keys,
    normalise_postcode,
)
from gridwatch.geocoding.normalise import normalise_address
from gridwatch.geocoding.parse import split_division

__all__ = ["GEOCODE_COLUMNS", "geocode_addresses"]

#: Columns of :func:`geocode_addresses`' result.
GEOCODE_COLUMNS: tuple[str, ...] = ("lon", "lat", "geocode_source", "geocode_score",
                                    "precision_m", "reason")
_GLOBAL = "*"
#: Candidate sets larger than this are not compared fuzzily with every address (cost grows
#: with addresses x names): exact names still match.
_FUZZY_LIMIT = 2000
_SOURCE_RANK = {"address_point": 0, "history": 1}
_M_PER_DEG = 111_195.0  # metres per degree of a great circle (mean Earth radius)


def geocode_addresses(addresses: pd.Series, gazetteer: Gazetteer, *,
                      postcodes: pd.Series | None = None, min_score: float = 85.0,
                      max_precision_m: float = 5000.0, reasons: bool = True) -> pd.DataFrame:
    """Find a place for each address.

    Parameters
    ----------
    addresses
        Address texts (Chinese or English).
    gazetteer
        From :func:`gridwatch.geocoding.gazetteer.build_gazetteer`.
    postcodes
        Postcode of each address (same index), or None.
    min_score
        Fuzzy matches (0-100) below this do not count.
    max_precision_m
        A place coarser than this radius does not place the row.
    reasons
        Say why rows are not placed (naming candidates costs a comparison per row; a check
        of rows that have coordinates needs none).

    Returns
    -------
    pandas.DataFrame
        Same index as ``addresses``: ``lon, lat`` (WGS84, NaN when not placed),
        ``geocode_source`` (``address_point``, ``history``, ``road``, the name of the layer
        whose area placed it, or ``""``), ``geocode_score`` (100 for an exact match),
        ``precision_m`` and ``reason`` (why a row is not placed, naming the best candidates;
        NA for placed rows).
    """
    n = len(addresses)
    index = addresses.index
    text = addresses.reset_index(drop=True).astype("str")
    code = (normalise_postcode(postcodes.reset_index(drop=True)) if postcodes is not None
            else pd.Series(pd.NA, index=text.index, dtype="str"))
    # Each distinct address (with its postcode) is matched once: exports repeat addresses (a
    # million problems of the demo city have about 93,000), and a row's match depends on its
    # text and postcode only.
    codes = pd.factorize(text.fillna("\x00") + "\x1f" + code.fillna(""))[0]
    _, first = np.unique(codes, return_index=True)
    if len(first) < n:
        once = geocode_addresses(text.iloc[first], gazetteer,
                                 postcodes=code.iloc[first] if postcodes is not None else None,
                                 min_score=min_score, max_precision_m=max_precision_m,
                                 reasons=reasons)
        out = once.iloc[codes]
        out.index = index
        return out
    parsed = address_keys(text)
    areas = gazetteer.areas.reset_index(drop=True)
    found, found_score = _match_areas(text, parsed["chinese"].to_numpy(), areas,
                                      gazetteer.levels, min_score)
    finest = _finest(found, n)
    scope = np.full(n, _GLOBAL, dtype=object)
    has_code = code.notna().to_numpy()
    scope[has_code] = "postcode=" + code[has_code].to_numpy(dtype=object)
    layer_of = areas["layer"].to_numpy(dtype=object)
    id_of = areas["area_id"].to_numpy(dtype=object)
    by_area = finest >= 0
    scope[by_area] = layer_of[finest[by_area]] + "=" + id_of[finest[by_area]]

    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    source = np.full(n, "", dtype=object)
    score = np.full(n, np.nan)
    precision = np.full(n, np.nan)
    # the most precise place found that was still too coarse, for the reason
    coarse_m = np.full(n, np.inf)
    coarse_what = np.full(n, "", dtype=object)

    def offer(rows: np.ndarray, x: np.ndarray, y: np.ndarray, what: np.ndarray,
              sc: np.ndarray, radius: np.ndarray, shown: np.ndarray) -> None:
        """Place ``rows`` (not placed yet) where ``radius`` is fine; remember the others."""
        fine = radius <= max_precision_m
        take = rows[fine]
        lon[take], lat[take], source[take] = x[fine], y[fine], what[fine]
        score[take], precision[take] = sc[fine], radius[fine]
        wide = ~fine & (radius < coarse_m[rows])
        coarse_m[rows[wide]], coarse_what[rows[wide]] = radius[wide], shown[wide]

    points = _scoped_points(gazetteer, scope)
    key = parsed["key"].to_numpy(dtype=object)

    # 1. the same address key at a point of the scope
    hit = _exact_keys(points, scope, key)
    rows = np.flatnonzero(hit >= 0)
    if len(rows):
        groups = points.attrs["key_groups"]
        at = hit[rows]
        offer(rows, groups["lon"].to_numpy()[at], groups["lat"].to_numpy()[at],
              groups["source"].to_numpy(dtype=object)[at], np.full(len(rows), 100.0),
              groups["precision_m"].to_numpy()[at],
              np.asarray([f"{k!r}, seen before at places far apart" for k in key[rows]],
                         dtype=object))

    # 2. the road, near the house number
    street = parsed["street"].to_numpy(dtype=object)
    rows = np.flatnonzero(np.isnan(lon) & parsed["street"].notna().to_numpy())
    if len(rows):
        r_lon, r_lat, r_score, r_radius = _roads(
            points, scope[rows], street[rows], parsed["number"].to_numpy(dtype=float)[rows],
            min_score)
        ok = np.isfinite(r_lon)
        offer(rows[ok], r_lon[ok], r_lat[ok], np.full(int(ok.sum()), "road", dtype=object),
              r_score[ok], r_radius[ok],
              np.asarray([f"road {s!r}" for s in street[rows[ok]]], dtype=object))

    # 3. the finest area named
    rows = np.flatnonzero(np.isnan(lon) & by_area)
    if len(rows):
        at = finest[rows]
        names = areas["name"].to_numpy(dtype=object)
        offer(rows, areas["lon"].to_numpy()[at], areas["lat"].to_numpy()[at], layer_of[at],
              _score_at(found_score, found, finest)[rows], areas["radius_m"].to_numpy()[at],
              np.asarray([f"{ly} {nm!r}" for ly, nm in zip(layer_of[at], names[at],
                                                             strict=True)], dtype=object))

    failed = np.isnan(lon)
    reason = pd.array([pd.NA] * n, dtype="str")
    if failed.any() and reasons:
        reason[failed] = _reasons(text, parsed, areas, found, points, scope, failed,
                                  coarse_m, coarse_what, min_score, max_precision_m)
    placed = ~failed
    return pd.DataFrame({
        "lon": np.where(placed, lon, np.nan), "lat": np.where(placed, lat, np.nan),
        "geocode_source": pd.array(np.where(placed, source, ""), dtype="str"),
        "geocode_score": np.where(placed, score, np.nan),
        "precision_m": np.where(placed, precision, np.nan),
        "reason": reason,
    }, index=index)


# --------------------------------------------------------------------------------------------
# areas named in Chinese addresses


def _match_areas(text: pd.Series, chinese: np.ndarray, areas: pd.DataFrame,
                 levels: tuple[str, ...], min_score: float
                 ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Per level, the position in ``areas`` of the area each address names (-1: none), and
    the score of that match."""
    n = len(text)
    found = {k: np.full(n, -1, dtype=np.int64) for k in range(len(levels))}
    scores = {k: np.full(n, np.nan) for k in range(len(levels))}
    rows = np.flatnonzero(chinese)
    if not len(rows) or areas.empty:
        return found, scores
    norm = normalise_address(text.iloc[rows]).fillna("").to_numpy(dtype=object)
    level_of = areas["level"].to_numpy()
    parent_pos = _parent_positions(areas)
    ancestors = _ancestors(parent_pos, level_of, len(levels))
    names = areas["name"].to_numpy(dtype=object)
    for k in range(len(levels)):
        here = np.flatnonzero(level_of == k)
        if not len(here):
            continue
        pick = np.full(len(rows), -1, dtype=np.int64)
        pick_score = np.full(len(rows), np.nan)
        if k == 0:
            pick[:] = _top_areas(norm, areas.iloc[here], here)
            pick_score[pick >= 0] = 100.0
        # the nearest area found above: its position, or -1
        above = np.full(len(rows), -1, dtype=np.int64)
        for j in range(k):
            has = found[j][rows] >= 0
            above[has] = found[j][rows][has]
        todo = pick < 0
        for anchor in np.unique(above[todo]):
            members = np.flatnonzero(todo & (above == anchor))
            if anchor >= 0:
                level_above = level_of[anchor]
                under = here[ancestors[level_above][here] == anchor]
            else:
                under = here
            if not len(under):
                continue
            choice_names = names[under]
            if anchor < 0 or level_of[anchor] < k - 1:
                # no parent found: only names no other area here shares
                unique = ~pd.Series(choice_names).duplicated(keep=False).to_numpy()
                under, choice_names = under[unique], choice_names[unique]
            if not len(under):
                continue
            at, sc = _find_names(norm[members], choice_names, min_score)
            ok = at >= 0
            pick[members[ok]] = under[at[ok]]
            pick_score[members[ok]] = sc[ok]
        found[k][rows] = pick
        scores[k][rows] = pick_score
    return found, scores


_SHORTCUT_AREAS = 50


def _top_areas(norm: np.ndarray, top: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    """The top-level area of each normalised address: the one name of a top-level area it
    holds as written, else what cpca recognises (:func:`_by_code_or_name`; it costs about
    0.1 ms an address, so only the others go through it)."""
    out = np.full(len(norm), -1, dtype=np.int64)
    names = normalise_address(top["name"]).to_numpy(dtype=object)
    rest = np.ones(len(norm), dtype=bool)
    if len(names) <= _SHORTCUT_AREAS and pd.Index(names).is_unique:
        text = pd.Series(norm, dtype="str").fillna("")
        held = np.column_stack([text.str.contains(str(n), regex=False).to_numpy(dtype=bool)
                                for n in names]) if len(names) else np.zeros((len(norm), 0))
        one = held.sum(axis=1) == 1
        out[one] = positions[held[one].argmax(axis=1)]
        rest = ~one
    if rest.any():
        division = split_division(pd.Series(norm[rest], dtype="str"))
        out[rest] = _by_code_or_name(division, top, positions)
    return out


def _by_code_or_name(division: pd.DataFrame, top: pd.DataFrame,
                     positions: np.ndarray) -> np.ndarray:
    """Top-level areas recognised by cpca: by division code (an id like 330402), else by the
    county name cpca found."""
    out = np.full(len(division), -1, dtype=np.int64)
    ids = pd.Index(top["area_id"].to_numpy(dtype=object))
    by_code = ids.get_indexer(division["adcode"].fillna("").to_numpy(dtype=object))
    names = normalise_address(top["name"]).to_numpy(dtype=object)
    by_name = pd.Index(names).get_indexer(division["county"].fillna("").to_numpy(dtype=object)) \
        if pd.Index(names).is_unique else np.full(len(division), -1)
    out[by_name >= 0] = positions[by_name[by_name >= 0]]
    out[by_code >= 0] = positions[by_code[by_code >= 0]]
    return out


def _find_names(texts: np.ndarray, names: np.ndarray, min_score: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Position in ``names`` of the name found in each text (exact, longest first; else the
    best fuzzy partial match ≥ ``min_score``), -1 when none, and its score."""
    from rapidfuzz import fuzz, process

    n = len(texts)
    at = np.full(n, -1, dtype=np.int64)
    score = np.full(n, np.nan)
    order = sorted(range(len(names)), key=lambda i: -len(str(names[i])))
    pattern = "|".join(re.escape(str(names[i])) for i in order)
    series = pd.Series(texts, dtype="str")
    hit = series.str.extract(f"({pattern})", expand=False)
    index = {str(v): i for i, v in enumerate(names)}
    exact = hit.notna().to_numpy()
    at[exact] = [index[v] for v in hit[exact]]
    score[exact] = 100.0
    rest = np.flatnonzero(~exact)
    if len(rest) and len(names) <= _FUZZY_LIMIT:
        unique, inverse = np.unique(texts[rest].astype(str), return_inverse=True)
        choices = [str(v) for v in names]
        if min_score > 0:
            best, best_score = best_partial(list(unique), choices, min_score)
        else:  # every name reaches a score of 0: the plain best of all
            matrix = process.cdist(list(unique), choices, scorer=fuzz.partial_ratio, workers=1)
            best = matrix.argmax(axis=1)
            best_score = matrix[np.arange(len(unique)), best].astype(float)
        good = best_score >= min_score
        rows = rest[good[inverse]]
        at[rows] = best[inverse][good[inverse]]
        score[rows] = best_score[inverse][good[inverse]]
    return at, score


def best_partial(texts: list[str], names: list[str], min_score: float,
                 *, block: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """For each text, the position of the name with the best rapidfuzz ``partial_ratio``
    (the first of equals) when it is at least ``min_score`` (> 0), else -1; and that score.

    The same answer as comparing every text with every name, for a fraction of the cost: a
    name can only reach ``min_score`` against a text that holds enough of its characters.
    With ``m`` the length of the shorter string and ``U`` how many characters of the name
    (counted with repeats) occur in the text, no alignment scores more than
    ``200 U / (m + U)``; only the pairs above ``min_score`` by that bound are compared (an
    address rarely holds most characters of a grid's name "某某镇第12网格" without holding
    the name itself).

    Examples
    --------
    >>> best_partial(["长虹镇新峰村3组", "体育路"], ["新丰村", "新峰村", "永红村"], 85)
    (array([ 1, -1]), array([100.,  nan]))
    """
    from collections import Counter

    from rapidfuzz import fuzz
    from scipy import sparse

    best = np.full(len(texts), -1, dtype=np.int64)
    score = np.full(len(texts), np.nan)
    if not texts or not names:
        return best, score
    vocab: dict[str, int] = {}
    r, c, v = [], [], []
    for j, name in enumerate(names):
        for char, count in Counter(name).items():
            r.append(vocab.setdefault(char, len(vocab)))
            c.append(j)
            v.append(count)
    counts = sparse.csr_matrix((np.asarray(v, dtype=np.float32), (r, c)),
                               shape=(len(vocab), len(names)))
    name_len = np.fromiter((len(n) for n in names), dtype=np.float64, count=len(names))
    for start in range(0, len(texts), block):
        part = texts[start:start + block]
        tr, tc = [], []
        for i, text in enumerate(part):
            for char in set(text):
                k = vocab.get(char)
                if k is not None:
                    tr.append(i)
                    tc.append(k)
        present = sparse.csr_matrix((np.ones(len(tr), dtype=np.float32), (tr, tc)),
                                    shape=(len(part), len(vocab)))
        overlap = (present @ counts).tocoo()
        i, j, u = overlap.row, overlap.col, overlap.data.astype(np.float64)
        text_len = np.fromiter((len(t) for t in part), dtype=np.float64, count=len(part))[i]
        m = np.minimum(name_len[j], text_len)
        u = np.minimum(u, m)
        keep = 200.0 * u / (m + u) >= min_score
        i, j = i[keep], j[keep]
        if not len(i):
            continue
        found = np.fromiter((fuzz.partial_ratio(part[a], names[b], score_cutoff=min_score)
                             for a, b in zip(i.tolist(), j.tolist(), strict=True)),
                            dtype=np.float64, count=len(i))
        ok = found >= min_score
        i, j, found = i[ok], j[ok], found[ok]
        if not len(i):
            continue
        order = np.lexsort((j, -found, i))  # per text: best score, then the first name
        i, j, found = i[order], j[order], found[order]
        first = np.r_[True, i[1:] != i[:-1]]
        best[start + i[first]] = j[first]
        score[start + i[first]] = found[first]
    return best, score


def _parent_positions(areas: pd.DataFrame) -> np.ndarray:
    """Position in ``areas`` of each area's parent (-1 at the top or when unknown)."""
    out = np.full(len(areas), -1, dtype=np.int64)
    level = areas["level"].to_numpy()
    key = areas["level"].astype("str") + "\x1f" + areas["area_id"].astype("str")
    lookup = pd.Index(key.to_numpy(dtype=object))
    wanted = (pd.Series(level - 1).astype("str") + "\x1f"
              + areas["parent_id"].astype("str").fillna("")).to_numpy(dtype=object)
    if lookup.is_unique:
        out = lookup.get_indexer(wanted).astype(np.int64)
    out[level == 0] = -1
    return out


def _ancestors(parent: np.ndarray, level: np.ndarray, depth: int) -> dict[int, np.ndarray]:
    """For each level j, the position of each area's ancestor at level j (itself at its own
    level, -1 when unknown or deeper)."""
    out: dict[int, np.ndarray] = {}
    current = np.arange(len(parent))
    current_level = level.copy()
    for j in range(depth - 1, -1, -1):
        # climb every area whose current node is deeper than j
        while True:
            deeper = (current >= 0) & (current_level > j)
            if not deeper.any():
                break
            nxt = parent[current[deeper]]
            current = current.copy()
            current[deeper] = nxt
            current_level = current_level.copy()
            current_level[deeper] = np.where(nxt >= 0, level[np.clip(nxt, 0, None)], -1)
        out[j] = np.where(current_level == j, current, -1)
    return out


def _finest(found: dict[int, np.ndarray], n: int) -> np.ndarray:
    """Position in the areas of the finest area found for each of ``n`` rows (-1: none)."""
    out = np.full(n, -1, dtype=np.int64)
    for k in sorted(found):
        has = found[k] >= 0
        out[has] = found[k][has]
    return out


def _score_at(scores: dict[int, np.ndarray], found: dict[int, np.ndarray],
              finest: np.ndarray) -> np.ndarray:
    out = np.full(len(finest), np.nan)
    for k in sorted(found):
        has = found[k] >= 0
        out[has] = scores[k][has]
    return out


# --------------------------------------------------------------------------------------------
# points and roads inside the scope


def _scoped_points(gazetteer: Gazetteer, scope: np.ndarray) -> pd.DataFrame:
    """The gazetteer's points once per scope wanted, with a ``scope`` column; the groups by
    (scope, key) in ``attrs['key_groups']``."""
    points = gazetteer.points
    wanted = pd.unique(scope)
    parts = []
    for name in gazetteer.levels:
        prefix = f"{name}="
        ids = [s[len(prefix):] for s in wanted if s.startswith(prefix)]
        column = f"{name}_id"
        if ids and column in points:
            sel = points[points[column].isin(ids)]
            parts.append(sel.assign(scope=prefix + sel[column].astype("str")))
    codes = [s[len("postcode="):] for s in wanted if s.startswith("postcode=")]
    if codes:
        sel = points[points["postcode"].isin(codes)]
        parts.append(sel.assign(scope="postcode=" + sel["postcode"].astype("str")))
    if _GLOBAL in wanted:
        parts.append(points.assign(scope=_GLOBAL))
    columns = ["scope", "source", "key", "street", "number", "lon", "lat"]
    frame = (pd.concat([p[columns] for p in parts], ignore_index=True) if parts
             else pd.DataFrame({c: pd.Series(dtype="float64" if c in ("number", "lon", "lat")
                                              else "str") for c in columns}))
    frame["rank"] = frame["source"].map(_SOURCE_RANK).fillna(9)
    keyed = frame[frame["key"].notna()]
    grouped = keyed.groupby(["scope", "key"], sort=False)
    groups = grouped.agg(lon=("lon", "median"), lat=("lat", "median"), rank=("rank", "min"))
    groups["source"] = np.where(groups["rank"] == 0, "address_point", "history")
    # The same address seen at places far apart is less precise than one point: the spread
    # (90th percentile of the distances to the median) when it exceeds an address point's.
    at = grouped.ngroup().to_numpy()
    spread = _spread(at, keyed["lon"].to_numpy(), keyed["lat"].to_numpy(),
                     groups["lon"].to_numpy()[at], groups["lat"].to_numpy()[at], len(groups))
    groups["precision_m"] = np.maximum(POINT_PRECISION_M, spread)
    frame.attrs["key_groups"] = groups
    return frame


def _exact_keys(points: pd.DataFrame, scope: np.ndarray, key: np.ndarray) -> np.ndarray:
    groups = points.attrs["key_groups"]
    if groups.empty:
        return np.full(len(scope), -1, dtype=np.int64)
    wanted = pd.MultiIndex.from_arrays([pd.Series(scope, dtype="str"),
                                        pd.Series(key, dtype="str")])
    return groups.index.get_indexer(wanted).astype(np.int64)


def _roads(points: pd.DataFrame, scope: np.ndarray, street: np.ndarray, number: np.ndarray,
           min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Place on the road of the scope: at the point with the nearest house number
    (precision :data:`ROAD_PRECISION_M`), else the road's middle (median; precision the
    spread of its points when wider); the road matched exactly, else fuzzily. Returns lon,
    lat, score and precision."""
    from rapidfuzz import fuzz, process

    n = len(scope)
    lon, lat, score = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    radius = np.full(n, np.nan)
    roads = points[points["street"].notna()]
    if roads.empty:
        return lon, lat, score, radius
    road_key = (roads["scope"].astype("str") + "\x1f" + roads["street"].astype("str")).to_numpy(
        dtype=object)
    row_key = pd.Series(scope, dtype="str") + "\x1f" + pd.Series(street, dtype="str")
    groups = pd.Index(pd.unique(road_key))
    gid = groups.get_indexer(row_key.to_numpy(dtype=object))
    score[gid >= 0] = 100.0
    # fuzzy: streets of the same scope
    missing = np.flatnonzero(gid < 0)
    if len(missing):
        road_scope = roads["scope"].to_numpy(dtype=object)
        road_street = roads["street"].to_numpy(dtype=object)
        for s in pd.unique(scope[missing]):
            members = missing[scope[missing] == s]
            choices = pd.unique(road_street[road_scope == s])
            if not len(choices) or len(choices) > 5 * _FUZZY_LIMIT:
                continue
            unique, inverse = np.unique(street[members].astype(str), return_inverse=True)
            matrix = process.cdist(list(unique), [str(c) for c in choices], scorer=fuzz.ratio,
                                   workers=1)
            # 中山路, 中山东路 and 中山二路 are different roads, however alike: a typo is
            # forgiven, a direction or section word is not
            same = (_road_markers(unique)[:, None] == _road_markers(choices)[None, :])
            matrix = np.where(same, matrix, 0)
            best = matrix.argmax(axis=1)
            best_score = matrix[np.arange(len(unique)), best]
            good = best_score[inverse] >= min_score
            chosen = np.asarray(choices, dtype=object)[best[inverse]]
            keys = (s + "\x1f" + chosen.astype(str)).astype(object)
            gid[members[good]] = groups.get_indexer(keys[good])
            score[members[good]] = best_score[inverse][good]
    found = gid >= 0
    if not found.any():
        return lon, lat, score, radius
    # the road's middle, and how far its points spread from it
    code = groups.get_indexer(road_key)
    px, py = roads["lon"].to_numpy(), roads["lat"].to_numpy()
    middle = pd.DataFrame({"g": code, "x": px, "y": py}).groupby("g")[["x", "y"]].median()
    mx = middle["x"].reindex(range(len(groups))).to_numpy()
    my = middle["y"].reindex(range(len(groups))).to_numpy()
    spread = _spread(code, px, py, mx[code], my[code], len(groups))
    lon[found], lat[found] = mx[gid[found]], my[gid[found]]
    radius[found] = np.maximum(ROAD_PRECISION_M, spread[gid[found]])
    # near the house number: the point of the same road with the nearest number
    pn = roads["number"].to_numpy(dtype=float)
    numbered = np.isfinite(pn)
    want = found & np.isfinite(number)
    if numbered.any() and want.any():
        span = 1e7
        comp = code[numbered] * span + np.clip(pn[numbered], 0, span - 1)
        order = np.argsort(comp, kind="stable")
        comp, sx, sy = comp[order], px[numbered][order], py[numbered][order]
        g_sorted = code[numbered][order]
        rows = np.flatnonzero(want)
        target = gid[rows] * span + np.clip(number[rows], 0, span - 1)
        right = np.clip(np.searchsorted(comp, target), 0, len(comp) - 1)
        left = np.clip(right - 1, 0, len(comp) - 1)
        d_right = np.where(g_sorted[right] == gid[rows], np.abs(comp[right] - target), np.inf)
        d_left = np.where(g_sorted[left] == gid[rows], np.abs(comp[left] - target), np.inf)
        best = np.where(d_left <= d_right, left, right)
        ok = np.isfinite(np.minimum(d_left, d_right))
        lon[rows[ok]], lat[rows[ok]] = sx[best[ok]], sy[best[ok]]
        # A number between two known ones lies between their places, about as far from the
        # nearer one as the numbers say (88 and 120 are 1 km apart: 104 is some 500 m from
        # either); numbers that do not follow the road make that far.
        between = np.isfinite(d_left) & np.isfinite(d_right) & (np.minimum(d_left, d_right) > 0)
        dx = (sx[right] - sx[left]) * _M_PER_DEG * np.cos(np.radians(sy[left]))
        gap = np.where(between, np.hypot(dx, (sy[right] - sy[left]) * _M_PER_DEG), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(between, np.minimum(d_left, d_right) / (d_left + d_right), 0.0)
        radius[rows[ok]] = np.maximum(ROAD_PRECISION_M, (gap * share)[ok])
    return lon, lat, score, radius


_MARKERS = re.compile(r"[^东西南北中一二三四五六七八九十]+")


def _road_markers(streets: np.ndarray) -> np.ndarray:
    """The direction and section characters of road names (东, 二, …; "" for none)."""
    return pd.Series(streets, dtype="str").str.replace(_MARKERS, "", regex=True).fillna(
        "").to_numpy(dtype=object)


def _spread(group: np.ndarray, x: np.ndarray, y: np.ndarray, cx: np.ndarray, cy: np.ndarray,
            count: int) -> np.ndarray:
    """Per group, the 90th percentile distance in metres of its points from its centre
    (``cx``, ``cy`` per point); 0 for a group of one point."""
    dx = (x - cx) * _M_PER_DEG * np.cos(np.radians(y))
    dy = (y - cy) * _M_PER_DEG
    spread = pd.Series(np.hypot(dx, dy)).groupby(group).quantile(0.9)
    return spread.reindex(range(count)).fillna(0.0).to_numpy()


# --------------------------------------------------------------------------------------------
# reasons of rows not placed


def _reasons(text: pd.Series, parsed: pd.DataFrame, areas: pd.DataFrame,
             found: dict[int, np.ndarray], points: pd.DataFrame, scope: np.ndarray,
             failed: np.ndarray, coarse_m: np.ndarray, coarse_what: np.ndarray,
             min_score: float, max_precision_m: float) -> np.ndarray:
    """The reason of each failed row (in the order of ``failed``'s True positions): the
    most precise place found when all were too coarse, and the best candidates."""
    from rapidfuzz import fuzz, process

    rows = np.flatnonzero(failed)
    finest = _finest(found, len(text))
    names = areas["name"].to_numpy(dtype=object)
    label = _area_labels(areas)
    level_of = areas["level"].to_numpy()
    ancestors = _ancestors(_parent_positions(areas), level_of, int(level_of.max(initial=-1)) + 1)
    streets = points[points["street"].notna()]
    by_scope = {s: pd.unique(g.to_numpy(dtype=object)) for s, g in
                streets.groupby("scope", sort=False)["street"]} if len(streets) else {}
    chinese = parsed["chinese"].to_numpy(dtype=bool)
    query = normalise_address(text.iloc[rows]).fillna("").to_numpy(dtype=object)
    street = parsed["street"].to_numpy(dtype=object)
    out = []
    cache: dict[tuple[str, str, str], str] = {}
    for j, i in enumerate(rows):
        address = str(text.iloc[i])
        if np.isfinite(coarse_m[i]):
            head = (f"address {address!r} is placed only at {coarse_what[i]} (radius "
                    f"{coarse_m[i]:,.0f} m, coarser than [geocoding] max_precision_m = "
                    f"{max_precision_m:,.0f} m)")
        else:
            head = (f"address {address!r} matches no address, road or area of the gazetteer "
                    f"at score ≥ {min_score:g}")
        at = int(finest[i])
        road = street[i] if isinstance(street[i], str) else ""
        memo = (str(query[j]) if chinese[i] else "", road, str(scope[i]))
        if memo not in cache:
            best = []
            if chinese[i]:  # area names are looked for inside the address
                under = (np.flatnonzero(ancestors[level_of[at]] == at) if at >= 0
                         else np.arange(len(names)))
                under = under[under != at]
                best += process.extract(memo[0], {str(label[u]): str(names[u]) for u in under},
                                        scorer=fuzz.partial_ratio, limit=3)
            if road:  # roads are compared with its road
                best += process.extract(road, {f"road {r}": str(r) for r in
                                               by_scope.get(scope[i], ())},
                                        scorer=fuzz.ratio, limit=3)
            best = sorted((b for b in best if b[1] > 0), key=lambda b: -b[1])[:3]
            cache[memo] = (", ".join(f"{k} ({v:.0f})" for _m, v, k in best)
                           if best else "none (no name of the gazetteer resembles it)")
        out.append(f"{head}; best candidates: {cache[memo]}")
    return np.asarray(out, dtype=object)


def _area_labels(areas: pd.DataFrame) -> np.ndarray:
    """``layer name (in parent name)`` of each area, for candidate lists."""
    parent = _parent_positions(areas)
    names = areas["name"].to_numpy(dtype=object)
    layer = areas["layer"].to_numpy(dtype=object)
    inside = np.where(parent >= 0, names[np.clip(parent, 0, None)], "")
    return np.asarray([f"{ly} {nm}" + (f" in {pn}" if pn else "")
                       for ly, nm, pn in zip(layer, names, inside, strict=True)], dtype=object)

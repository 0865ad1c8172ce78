"""Addresses split into the parts matching needs.

Chinese: the province/city/county prefix by ``cpca`` (it ships its own division table and runs
offline), then — once the matcher has taken out the names of the project's own areas — the road
and house number of what remains (``体育南路88号`` → 体育南路, 88). English: ``usaddress`` (a
trained tagger) gives the house number and the street; when it cannot tag a text the simple rule
"leading number, then the street" is used. Each distinct text is parsed once.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from gridwatch.geocoding.normalise import normalise_english

__all__ = ["local_part", "parse_english", "road_and_number", "split_division"]

#: A road name ends in one of these; a house number may follow (88号, 12弄).
_ROAD = re.compile(r"(?P<road>[\u4e00-\u9fffA-Za-z0-9]{1,12}?(?:大道|公路|路|街|巷|弄))"
                   r"(?P<number>\d+)?(?:号|弄)?")
#: Everything up to the last division word (市, 区, 县, 镇, 乡, 街道) that does not start a
#: road name (镇东路 is a road): what follows is the address inside the town.
_DIVISIONS = re.compile(r"^.*(?:省|市|区|县|镇|乡|街道)(?![东南西北中]?(?:大道|公路|路|街|巷))")


def split_division(texts: pd.Series) -> pd.DataFrame:
    """Province, city and county of Chinese addresses (``cpca``), and the text after them.

    Parameters
    ----------
    texts
        Normalised addresses (:func:`gridwatch.geocoding.normalise.normalise_address`).

    Returns
    -------
    pandas.DataFrame
        Same index: ``county`` (the county-level name as cpca knows it, e.g. 南湖区, or NA),
        ``adcode`` (its 6-digit code, or NA) and ``rest`` (the text after the names cpca
        recognised; the whole text when it recognised none).

    Examples
    --------
    >>> parts = split_division(pd.Series(["嘉兴市南湖区长虹镇"]))
    >>> parts.loc[0, ["county", "adcode", "rest"]].tolist()
    ['南湖区', '330402', '长虹镇']
    """
    import cpca

    values = texts.fillna("").astype("str")
    unique = pd.unique(values.to_numpy(dtype=object))
    if len(unique) == 0:
        return pd.DataFrame({"county": pd.Series(dtype="str"), "adcode": pd.Series(dtype="str"),
                             "rest": pd.Series(dtype="str")}, index=texts.index)
    found = cpca.transform(list(unique))
    county = found["区"].where(found["区"].notna() & (found["区"] != ""))
    adcode = found["adcode"].astype("str").where(county.notna())
    # cpca's remainder only when it recognised a county (it may eat a town it mistook).
    rest = found["地址"].fillna("").astype("str").where(county.notna(),
                                                       pd.Series(unique, dtype="str"))
    pos = pd.Index(unique).get_indexer(values.to_numpy(dtype=object))
    return pd.DataFrame({"county": pd.array(county.to_numpy(dtype=object)[pos], dtype="str"),
                         "adcode": pd.array(adcode.to_numpy(dtype=object)[pos], dtype="str"),
                         "rest": pd.array(rest.to_numpy(dtype=object)[pos], dtype="str")},
                        index=texts.index)


def local_part(texts: pd.Series) -> pd.Series:
    """The part of normalised Chinese addresses after the last division word: the key under
    which an address is looked up inside its town (the divisions are matched on their own);
    NA when nothing follows.

    Examples
    --------
    >>> local_part(pd.Series(["嘉兴市南湖区长虹镇新丰村3组", "体育南路88号"])).tolist()
    ['新丰村3组', '体育南路88号']
    """
    rest = texts.astype("str").str.replace(_DIVISIONS, "", regex=True)
    return rest.where(rest.fillna("") != "")


def road_and_number(texts: pd.Series) -> pd.DataFrame:
    """The first road name of each text and the house number right after it.

    Returns
    -------
    pandas.DataFrame
        Same index: ``road`` (str or NA) and ``number`` (float, NaN when none).

    Examples
    --------
    >>> road_and_number(pd.Series(["体育南路88号", "新丰村3组", "中山路"])).to_numpy().tolist()
    [['体育南路', 88.0], [nan, nan], ['中山路', nan]]
    """
    found = texts.astype("str").str.extract(_ROAD)
    return pd.DataFrame({"road": found["road"].astype("str"),
                         "number": pd.to_numeric(found["number"], errors="coerce")},
                        index=texts.index)


def parse_english(texts: pd.Series) -> pd.DataFrame:
    """House number and street of English addresses.

    Parameters
    ----------
    texts
        Addresses as written (``"20-26 Foster St"``, ``"INTERSECTION of A St & B St"``).

    Returns
    -------
    pandas.DataFrame
        Same index: ``number`` (float: the first number of the house number, NaN when none),
        ``street`` (normalised with :func:`gridwatch.geocoding.normalise.normalise_english`,
        NA when none; the first street of a crossing), ``key`` (``"20 foster st"``; both
        streets of a crossing in name order, ``"a st & b st"``) and ``cross_street`` (the
        second street of a crossing, else NA).

    Examples
    --------
    >>> row = parse_english(pd.Series(["20-26 Foster Street"])).iloc[0]
    >>> float(row["number"]), row["street"], row["key"]
    (20.0, 'foster st', '20 foster st')
    """
    import usaddress

    values = texts.fillna("").astype("str")
    unique = pd.unique(values.to_numpy(dtype=object))
    numbers = np.full(len(unique), np.nan)
    streets = np.empty(len(unique), dtype=object)
    others = np.empty(len(unique), dtype=object)
    for i, text in enumerate(unique):
        numbers[i], streets[i], others[i] = _english_parts(str(text), usaddress)
    pos = pd.Index(unique).get_indexer(values.to_numpy(dtype=object))
    street = normalise_english(pd.Series(streets[pos], index=texts.index, dtype="str"))
    other = normalise_english(pd.Series(others[pos], index=texts.index, dtype="str"))
    number = pd.Series(numbers[pos], index=texts.index)
    # The key of the address: "number street", or both streets of a crossing in name order.
    pair = pd.concat([street, other], axis=1).fillna("")
    low, high = pair.min(axis=1), pair.max(axis=1)
    crossing = other.notna() & street.notna()
    shown = number.map("{:.0f}".format).astype("str")
    key = (shown + " " + street).where(number.notna(), street)
    key = key.mask(crossing, low + " & " + high)
    return pd.DataFrame({"number": number, "street": street, "key": key.astype("str"),
                         "cross_street": other}, index=texts.index)


_STREET_PARTS = ("StreetNamePreDirectional", "StreetNamePreType", "StreetName",
                 "StreetNamePostType", "StreetNamePostDirectional")
_LEADING_NUMBER = re.compile(r"^\s*(\d+)[A-Za-z]?(?:\s*-\s*\d+[A-Za-z]?)?\s+(.+)$")


_CROSSING = re.compile(r"^\s*intersection(?:\s+of)?\s+(.+?)\s*(?:&|\band\b|/)\s*(.+)$",
                       re.IGNORECASE)


def _english_parts(text: str, usaddress: object) -> tuple[float, str | None, str | None]:
    """(house number, street, second street of a crossing) of one address."""
    if not text.strip():
        return np.nan, None, None
    crossing = _CROSSING.match(text)
    if crossing:
        return np.nan, crossing.group(1), crossing.group(2)
    try:
        tags, _kind = usaddress.tag(text)  # type: ignore[attr-defined]
    except Exception:  # usaddress.RepeatedLabelError: the documented simple rule below
        match = _LEADING_NUMBER.match(text)
        if match:
            return float(match.group(1)), match.group(2), None
        return np.nan, text, None
    street = " ".join(tags[k] for k in _STREET_PARTS if k in tags) or None
    digits = re.match(r"\d+", tags.get("AddressNumber", ""))
    return (float(digits.group(0)) if digits else np.nan), street, None

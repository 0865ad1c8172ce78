"""One enterprise, one key: codes and names normalised so that spelling does not split it.

Exports write an enterprise's name in many ways: full-width letters and brackets
(``ＡＢＣ（嘉兴）``), stray spaces, and the legal form as 有限公司, 有限责任公司, 股份有限公司 or
in brackets, ``（有限公司）``. :func:`normalise_name` reduces all of these to one form (NFKC,
case folded, no spaces or punctuation, the legal form at the end dropped), and
:func:`enterprise_keys` gives every problem the key of its enterprise: ``code:<统一社会信用代码>``
when the row has a code, else the code that the same normalised name carries on other rows
(when that name carries exactly one), else ``name:<normalised name>``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["enterprise_keys", "enterprise_labels", "normalise_code", "normalise_name"]

# spaces, and punctuation people add or drop (dots, hyphens, quotes, the middle dot)
_NOISE = re.compile(r"[\s\u3000·•.,，。、'\"“”‘’_\-]+")
# the legal form at the end, with or without brackets: (股份)有限(责任)公司
_LEGAL_FORM = re.compile(r"[(\[]?(?:股份)?有限(?:责任)?公司[)\]]?$")
_EMPTY_BRACKETS = re.compile(r"\(\)|\[\]")


def normalise_name(text: object) -> str:
    """The form of an enterprise name used for matching ("" for a missing name).

    Examples
    --------
    >>> normalise_name("嘉兴市 绿源化工有限公司")
    '嘉兴市绿源化工'
    >>> normalise_name("嘉兴市绿源化工（有限责任公司）") == normalise_name("嘉兴市绿源化工有限公司")
    True
    >>> normalise_name("ＡＢＣ印染（嘉兴）股份有限公司")
    'abc印染(嘉兴)'
    """
    if text is None or text is pd.NA or (isinstance(text, float) and np.isnan(text)):
        return ""
    name = _NOISE.sub("", unicodedata.normalize("NFKC", str(text)).casefold())
    name = name.replace("【", "[").replace("】", "]")
    previous = None
    while previous != name:  # "…有限公司(有限公司)" and the like
        previous = name
        name = _EMPTY_BRACKETS.sub("", _LEGAL_FORM.sub("", name))
    return name


def normalise_code(text: object) -> str:
    """The form of an enterprise code (统一社会信用代码 / 企业编码) used for matching: NFKC,
    upper case, without spaces and hyphens ("" for a missing code).

    Examples
    --------
    >>> normalise_code(" ９１３３０４０２-ＭＡ２ＡＢＣＤ１２Ｘ ")
    '91330402MA2ABCD12X'
    """
    if text is None or text is pd.NA or (isinstance(text, float) and np.isnan(text)):
        return ""
    return _NOISE.sub("", unicodedata.normalize("NFKC", str(text))).upper()


def _per_unique(values: pd.Series, func: Callable[[object], str]) -> pd.Series:
    """``func`` of each value, computed once per distinct value (a million rows, a few hundred
    enterprises)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.asarray([func(u) for u in uniques] + [""], dtype=object)
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def enterprise_keys(issues: pd.DataFrame) -> pd.Series:
    """The enterprise of each problem as one key (same index; NA when the row names none).

    Parameters
    ----------
    issues
        Frame with ``enterprise_code`` and/or ``enterprise_name`` (missing columns: no
        enterprise).

    Returns
    -------
    pandas.Series
        ``code:<code>`` or ``name:<normalised name>`` (str), NA where neither is given.
    """
    n = len(issues)
    empty = pd.Series("", index=issues.index, dtype=object)
    code = (_per_unique(issues["enterprise_code"], normalise_code)
            if "enterprise_code" in issues else empty)
    name = (_per_unique(issues["enterprise_name"], normalise_name)
            if "enterprise_name" in issues else empty)
    code_v, name_v = code.to_numpy(dtype=object), name.to_numpy(dtype=object)
    # a name written with exactly one code somewhere lends that code to its rows without one
    both = (code_v != "") & (name_v != "")
    pairs = pd.DataFrame({"name": name_v[both], "code": code_v[both]}).drop_duplicates()
    single = pairs.groupby("name")["code"].agg(lambda c: c.iloc[0] if len(c) == 1 else "")
    lent = pd.Series(name_v).map(single).fillna("").to_numpy(dtype=object)
    keys = np.full(n, None, dtype=object)
    by_name = (code_v == "") & (name_v != "")
    keys[code_v != ""] = "code:" + code_v[code_v != ""]
    has_lent = by_name & (lent != "")
    keys[has_lent] = "code:" + lent[has_lent]
    only_name = by_name & (lent == "")
    keys[only_name] = "name:" + name_v[only_name]
    return pd.Series(keys, index=issues.index, dtype="str")


def enterprise_labels(issues: pd.DataFrame, keys: pd.Series) -> pd.DataFrame:
    """Per enterprise key: its code (the most frequent as normalised), the name shown (the
    most frequent as written, stripped) and how many different spellings it has.

    Returns
    -------
    pandas.DataFrame
        Indexed by key: ``enterprise_code``, ``enterprise_name``, ``name_variants``.
    """
    mask = keys.notna().to_numpy()
    frame = pd.DataFrame({"key": keys[mask].to_numpy(dtype=object)})
    if "enterprise_code" in issues:
        frame["code"] = _per_unique(issues["enterprise_code"][mask], normalise_code).to_numpy()
    else:
        frame["code"] = ""
    if "enterprise_name" in issues:
        names = issues["enterprise_name"][mask].astype("str").str.strip()
        frame["name"] = names.fillna("").to_numpy(dtype=object)
    else:
        frame["name"] = ""

    def most_frequent(column: str) -> pd.Series:
        given = frame[frame[column] != ""]
        counts = given.groupby(["key", column]).size().rename("n").reset_index()
        counts = counts.sort_values(["key", "n", column], ascending=[True, False, True],
                                    kind="stable").drop_duplicates("key")
        return counts.set_index("key")[column]

    keys_seen = pd.Index(sorted(frame["key"].unique()), name="enterprise_key")
    named = frame[frame["name"] != ""]
    out = pd.DataFrame({
        "enterprise_code": most_frequent("code").reindex(keys_seen).fillna(""),
        "enterprise_name": most_frequent("name").reindex(keys_seen).fillna(""),
        "name_variants": named.groupby("key")["name"].nunique().reindex(keys_seen)
        .fillna(0).astype("int64"),
    }, index=keys_seen)
    return out

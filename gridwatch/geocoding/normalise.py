"""Address text folded to one form before it is parsed or compared.

Chinese addresses arrive with full-width digits and letters (８８号), spaces (体育南路 88 号),
traditional or variant characters for the house-number words (號, 衖, 組), Chinese numerals
before 组/号 (三组) and words that say where near the place the problem is (东侧, 附近). All
of it is folded column-wise (pandas string methods), so a million addresses cost one pass per
rule, not a Python loop.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["has_chinese", "normalise_address", "normalise_english"]

#: Variant characters of the address words, folded to the simplified form.
_VARIANTS: dict[str, str] = {"號": "号", "衖": "弄", "組": "组", "巷弄": "弄", "#": "号",
                             "村民小组": "组", "村民组": "组", "小组": "组", "幢": "栋",
                             "座": "栋", "樓": "楼", "區": "区", "鎮": "镇", "縣": "县",
                             "鄉": "乡", "街道办事处": "街道", "居委会": "社区",
                             "社区居委会": "社区", "村委会": "村", "村村委会": "村"}
#: Longest first, so 村民小组 is folded before 小组 and 村村委会 before 村委会.
_VARIANT_ORDER: tuple[str, ...] = tuple(sorted(_VARIANTS, key=len, reverse=True))
_ANY_VARIANT = re.compile("|".join(map(re.escape, _VARIANT_ORDER)))
_DIGITS: dict[str, int] = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0}
#: Chinese numbers up to 99 written before 组/号/弄/栋/楼/室/队 (三组, 十二号, 二十弄).
_CN_NUMBER = re.compile(r"([〇零一二三四五六七八九十]{1,3})(?=[组号弄栋楼室队])")
_CN_NUMBER_ANY = re.compile(r"[〇零一二三四五六七八九十]{1,3}(?=[组号弄栋楼室队])")
#: Words about where near the place a problem is; they do not locate it.
_NEAR_WORDS = re.compile(
    r"(?:附近|旁边|周边|一带|对面|门口|处|[东南西北][侧面边首]|[东西南北]{2}侧|"
    r"[东南西北]{0,2}约?\d*米处?)+$")
_SPACES = re.compile(r"\s+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _cn_number(match: re.Match[str]) -> str:
    text = match.group(1)
    if "十" not in text:
        return "".join(str(_DIGITS[c]) for c in text)
    tens, _, ones = text.partition("十")
    if "十" in ones or len(tens) > 1 or len(ones) > 1:
        return text  # not a number (十十), left as written
    return str((_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[ones] if ones else 0))


def has_chinese(values: pd.Series) -> np.ndarray:
    """True for each text holding a Chinese character (it is parsed as a Chinese address)."""
    return values.fillna("").astype("str").str.contains(_CJK).to_numpy(dtype=bool)


def normalise_address(values: pd.Series) -> pd.Series:
    """Fold Chinese address text to one form.

    Full-width characters become half-width (NFKC), spaces go, variant characters of the
    address words are folded (號 → 号, 衖 → 弄, 組/村民小组 → 组, 居委会 → 社区), Chinese
    numerals before 组/号/弄/栋/楼/室 become digits (三组 → 3组), and trailing words that only
    say where near the place is (东侧, 附近, 对面, 50米处) are dropped.

    Parameters
    ----------
    values
        Address texts; missing values stay missing.

    Returns
    -------
    pandas.Series
        Same index, ``str`` dtype; empty results are missing.

    Examples
    --------
    >>> normalise_address(pd.Series(["嘉善县魏塘街道体育南路 ８８ 號", "新丰村三组东侧"])).tolist()
    ['嘉善县魏塘街道体育南路88号', '新丰村3组']
    """
    # each distinct text once (exports repeat addresses), each rule one vectorised pass
    codes, unique = pd.factorize(values.astype("str"), use_na_sentinel=True)
    if not len(unique):
        return pd.Series(pd.NA, index=values.index, dtype="str")
    text = pd.Series(unique, dtype="str").str.normalize("NFKC").str.replace(
        _SPACES, "", regex=True)
    has_variant = text.str.contains(_ANY_VARIANT).fillna(False).to_numpy(dtype=bool)
    if has_variant.any():  # most addresses have none: only those that do take the passes
        part = text[has_variant]
        for variant in _VARIANT_ORDER:
            part = part.str.replace(variant, _VARIANTS[variant], regex=False)
        text[has_variant] = part
    numerals = text.str.contains(_CN_NUMBER_ANY).fillna(False).to_numpy(dtype=bool)
    if numerals.any():  # a Python callable per match: only on the texts that need it
        text[numerals] = text[numerals].str.replace(_CN_NUMBER, _cn_number, regex=True)
    text = text.str.replace(_NEAR_WORDS, "", regex=True)
    text = text.where(text.fillna("") != "")
    out = pd.Series(pd.array(text.to_numpy(dtype=object)[np.clip(codes, 0, None)], dtype="str"),
                    index=values.index)
    return out.mask(codes < 0)


_EN_WORDS: dict[str, str] = {
    "street": "st", "avenue": "ave", "av": "ave", "road": "rd", "boulevard": "blvd",
    "place": "pl", "drive": "dr", "court": "ct", "terrace": "ter", "square": "sq",
    "parkway": "pkwy", "highway": "hwy", "lane": "ln", "circle": "cir", "wharf": "whf",
    "park": "park", "north": "n", "south": "s", "east": "e", "west": "w", "saint": "st",
    "mount": "mt", "row": "row", "way": "way",
}
_EN_WORD_RE = re.compile(r"\b(" + "|".join(_EN_WORDS) + r")\b")


def normalise_english(values: pd.Series) -> pd.Series:
    """Fold English street text: NFKC, lower case, punctuation to spaces, single spaces, and
    the long forms of street words to the USPS abbreviations (Street → st, Avenue → ave).

    Examples
    --------
    >>> normalise_english(pd.Series(["Wolcott  Street.", "WOLCOTT ST"])).tolist()
    ['wolcott st', 'wolcott st']
    """
    text = values.astype("str").str.normalize("NFKC").str.lower()
    text = text.str.replace(r"[^\w\s-]", " ", regex=True).str.replace(_SPACES, " ", regex=True)
    text = text.str.strip().str.replace(_EN_WORD_RE, lambda m: _EN_WORDS[m.group(1)],
                                        regex=True)
    return text.where(text.fillna("") != "")

"""Enterprises, a petition batch and a campaign in the demo city (issue 16), with planted truths.

Only ordinary problems (no other planted pattern) are given an enterprise, a batch or a
campaign, and nothing else of them changes but the source of the petitions (督察交办), so every
other planted truth stays as it was. Planted:

- ``offenders``: enterprises with a chain of at least three problems of one category, each
  reported within ``rebound_days`` of the closing of the one before (two rebounds or more at
  the enterprise), their rows naming them in several spellings (full-width, spaces, 有限公司 /
  有限责任公司 / （有限公司）), the code on the first row only;
- ``ordinary``: a few hundred enterprises with one problem, or two of different categories;
- ``petitions``: one batch of petitions (交办批次, 交办日期) reported in the ten days after its
  date, some of them followed one to 25 days after their report by a hotline or public
  complaint naming the same enterprise (``repeated``);
- ``campaign``: problems carrying the campaign column (专项行动).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CAMPAIGN_NAME", "PETITION_BATCH", "plant_enterprises"]

PETITION_BATCH = "第二轮省级生态环境督察第1批"
CAMPAIGN_NAME = "清废行动2026"
_COMPLAINT_LABELS = ("群众举报", "12345热线", "12369热线")
_INDUSTRIES = ("化工", "印染", "电镀", "造纸", "皮革", "纺织", "塑料", "建材", "食品", "家具",
               "五金", "喷涂", "养殖", "再生资源", "涂料", "包装")
_WORDS = ("恒", "远", "华", "鑫", "达", "嘉", "禾", "新", "盛", "丰", "源", "绿", "泰", "宏",
          "兴", "汇", "通", "锦", "瑞", "安")
_ENTERPRISE_CATEGORIES = ("air", "water", "solid_waste", "noise")


def _code(k: int) -> str:
    """An 18-character code shaped like a 统一社会信用代码 (not a real one)."""
    return f"91330400MA{k:07d}X"[:18].ljust(18, "0")


def _name(rng: np.random.Generator, used: set[str]) -> str:
    while True:
        base = "".join(rng.choice(_WORDS, size=2))
        name = f"嘉兴市{base}{rng.choice(_INDUSTRIES)}有限公司"
        if name not in used:
            used.add(name)
            return name


def _variant(name: str, k: int) -> str:
    """The k-th way an export spells ``name`` (…有限公司)."""
    stem = name.removesuffix("有限公司")
    full_width = stem.replace("嘉兴市", "嘉兴市 ")
    return (name, f"{stem}有限责任公司", f"{full_width}（有限公司）",
            f" {stem} 有限公司 ")[k % 4]


def plant_enterprises(frame: pd.DataFrame, *, end: np.datetime64, rebound_days: float,
                      rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Choose the enterprises, petitions and campaign problems of the demo.

    Parameters
    ----------
    frame
        The demo problems (``tag``, ``category``, ``source_label``, ``reported_at``,
        ``closed_at`` naive local times, ``town_code``, ``address_only``).
    end
        Last local day of the period.
    rebound_days
        ``[supervision.rebound] days`` of the demo (the enterprises' rebound window).

    Returns
    -------
    columns, record
        New columns (``enterprise_code``, ``enterprise_name``, ``petition_batch``,
        ``petition_date``, ``campaign``, ``source_label``), aligned with ``frame``, and what
        was planted (issue ids) for planted.json.
    """
    n = len(frame)
    code = np.full(n, "", dtype=object)
    name = np.full(n, "", dtype=object)
    batch = np.full(n, "", dtype=object)
    batch_date = np.full(n, "", dtype=object)
    campaign = np.full(n, "", dtype=object)
    source = frame["source_label"].to_numpy(dtype=object).copy()
    ids = frame["issue_id"].to_numpy(dtype=object)
    free = (frame["tag"].to_numpy(dtype=object) == "") & ~frame["address_only"].to_numpy(bool)
    reported = frame["reported_at"].to_numpy(dtype="datetime64[s]")
    closed = frame["closed_at"].to_numpy(dtype="datetime64[s]")
    end_s = (end + np.timedelta64(1, "D")).astype("datetime64[s]")
    closed_by_end = ~np.isnat(closed) & (closed < end_s)
    category = frame["category"].to_numpy(dtype=object)
    town = frame["town_code"].to_numpy(dtype=object)
    window = np.timedelta64(int(rebound_days * 86400), "s")
    used_names: set[str] = set()
    scale = max(n / 250_000, 0.012)
    record: dict[str, Any] = {}

    # --- repeat offenders: chains of rebounds at one enterprise --------------------------
    offenders: list[dict[str, Any]] = []
    wanted = max(3, min(8, round(8 * scale)))
    order = np.argsort(reported, kind="stable")
    attempts = 0
    while len(offenders) < wanted and attempts < 400:
        attempts += 1
        cat = _ENTERPRISE_CATEGORIES[int(rng.integers(len(_ENTERPRISE_CATEGORIES)))]
        pool = order[free[order] & (category[order] == cat)]
        if pool.size < 10:
            continue
        first = pool[int(rng.integers(pool.size))]
        if not closed_by_end[first]:
            continue
        chain = [first]
        same_town = pool[town[pool] == town[first]]
        while len(chain) < 4 and closed_by_end[chain[-1]]:
            last = chain[-1]
            after = same_town[(reported[same_town] > closed[last])
                              & (reported[same_town] <= closed[last] + window)
                              & free[same_town]]
            after = after[~np.isin(after, chain)]
            if after.size == 0:
                break
            chain.append(after[0])
        if len(chain) < 3:
            continue
        k = len(offenders)
        label = _name(rng, used_names)
        chosen = np.array(chain)
        free[chosen] = False
        code[chosen[0]] = _code(k)
        for j, row in enumerate(chosen):
            name[row] = _variant(label, j)
        offenders.append({"enterprise_code": _code(k), "enterprise_name": label,
                          "category": cat, "issue_ids": [str(ids[r]) for r in chosen],
                          "rebounds": len(chosen) - 1})
    record["offenders"] = offenders

    # --- ordinary enterprises: one problem, or two of different categories -------------
    count = max(20, min(300, round(300 * scale)))
    pool = np.flatnonzero(free & np.isin(category, _ENTERPRISE_CATEGORIES))
    picked = rng.choice(pool, size=min(count * 2, pool.size), replace=False)
    ordinary, cursor = [], 0
    for k in range(count):
        if cursor >= picked.size:
            break
        rows = [picked[cursor]]
        cursor += 1
        if rng.random() < 0.2 and cursor < picked.size and \
                category[picked[cursor]] != category[rows[0]]:
            rows.append(picked[cursor])
            cursor += 1
        label = _name(rng, used_names)
        with_code = rng.random() < 0.6
        for row in rows:
            name[row] = label
            code[row] = _code(1000 + k) if with_code else ""
        free[rows] = False
        ordinary.append(len(rows))
    record["ordinary"] = {"enterprises": len(ordinary), "problems": int(sum(ordinary))}

    # --- one petition batch, some petitions repeated by a later complaint -----------------
    date = (end - np.timedelta64(75, "D")).astype("datetime64[s]")
    day = np.timedelta64(86400, "s")
    in_days = free & (reported >= date) & (reported < date + 10 * day)
    petitions = rng.choice(np.flatnonzero(in_days),
                           size=min(int(in_days.sum()), max(20, min(120, round(120 * scale)))),
                           replace=False)
    batch[petitions] = PETITION_BATCH
    batch_date[petitions] = str(date.astype("datetime64[D]"))
    source[petitions] = "督察交办"
    free[petitions] = False
    repeated = []
    complaints = free & np.isin(source, _COMPLAINT_LABELS)
    for k, row in enumerate(petitions[: max(3, len(petitions) // 12)]):
        later = np.flatnonzero(complaints & (reported > reported[row] + day)
                               & (reported <= reported[row] + 25 * day))
        if later.size == 0:
            break
        follow = later[int(rng.integers(later.size))]
        label = _name(rng, used_names)
        code[[row, follow]] = _code(5000 + k)
        name[[row, follow]] = label
        complaints[follow] = free[follow] = False
        repeated.append({"petition": str(ids[row]), "complaint": str(ids[follow])})
    record["petitions"] = {"batch": PETITION_BATCH, "date": str(date.astype("datetime64[D]")),
                           "issue_ids": sorted(str(ids[r]) for r in petitions),
                           "repeated": repeated}

    # --- a campaign named in the export's own column ---------------------------------------
    recent = free & (category == "solid_waste") & (reported >= end_s - 90 * day)
    tagged = rng.choice(np.flatnonzero(recent),
                        size=min(int(recent.sum()), max(20, min(200, round(200 * scale)))),
                        replace=False)
    campaign[tagged] = CAMPAIGN_NAME
    record["campaign"] = {"name": CAMPAIGN_NAME,
                          "issue_ids": sorted(str(ids[r]) for r in tagged)}
    columns = {"enterprise_code": code, "enterprise_name": name, "petition_batch": batch,
               "petition_date": batch_date, "campaign": campaign, "source_label": source}
    return columns, record

"""The register of 一函两单: numbered reminder letters (提醒函), assignment sheets (交办单) and
supervision orders (督办单) to responsible units, their replies, and escalation.

:func:`plan_letters` decides, from the day's reminders (:func:`gridwatch.supervision.remind.
reminder_list`) and the letters already issued, which letters to issue as of a day:

* a letter not answered by its reply date escalates: its problems still overdue go to a letter
  of the next kind (提醒函 → 交办单 → 督办单) for the same unit, which names the letter it
  escalates; a 督办单 does not escalate further (it stays unanswered in the register);
* a problem at an escalation level gets a letter of that kind unless a letter of that kind or
  a higher one already names it;
* one letter per unit and kind per day, naming all its problems.

Letters are numbered per kind and year, ``督提〔2026〕12号`` (提醒函), ``督交〔2026〕3号`` (交办单),
``督办〔2026〕1号`` (督办单); the reply is due ``reply_days`` working days after issue.
:func:`letter_html` renders one as a printable page (user text escaped).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridwatch.supervision.calendar import add_days
from gridwatch.supervision.remind import ESCALATION_LABELS, ESCALATION_LEVELS

__all__ = ["LETTER_PREFIX", "LetterPlan", "ledger_review_tables", "letter_counts", "letter_html",
           "plan_letters", "unanswered"]

LETTER_PREFIX: dict[str, str] = {"reminder_letter": "督提", "assignment_sheet": "督交",
                                 "supervision_order": "督办"}
_RANK = {kind: i for i, kind in enumerate(ESCALATION_LEVELS)}


@dataclass(frozen=True)
class LetterPlan:
    """Letters to issue (``letters``: letter_no, kind, year, seq, unit, issued_on, reply_due,
    escalated_from), the problems each names (``items``: letter_no, issue_id, deadline,
    days_overdue) and the letters they escalate (``escalated``: letter_no -> new letter_no)."""

    letters: pd.DataFrame
    items: pd.DataFrame
    escalated: dict[str, str]


def _number(kind: str, year: int, seq: int) -> str:
    return f"{LETTER_PREFIX[kind]}〔{year}〕{seq}号"


def plan_letters(reminders: pd.DataFrame, letters: pd.DataFrame, items: pd.DataFrame,
                 as_of: dt.date, *, reply_days: int = 5) -> LetterPlan:
    """The letters to issue as of a day (see the module docstring).

    Parameters
    ----------
    reminders
        :func:`gridwatch.supervision.remind.reminder_list` as of ``as_of``.
    letters, items
        The register so far (:func:`gridwatch.store.ledger.letter_register`).
    as_of
        The day of issue.
    reply_days
        Working days until the reply is due.

    Returns
    -------
    LetterPlan
    """
    day = pd.Timestamp(as_of).date()
    overdue = reminders[reminders["escalation"].notna()]
    level = overdue.set_index("issue_id")["escalation"].astype(str).to_dict()
    unit_of = overdue.set_index("issue_id")["responsible_unit"].astype(str).to_dict()
    due_of = overdue.set_index("issue_id")["deadline"].to_dict()
    late_of = overdue.set_index("issue_id")["days_overdue"].to_dict()
    kind_of_letter = letters.set_index("letter_no")["kind"].to_dict() if len(letters) else {}
    covered: dict[str, int] = {}
    for letter_no, issue_id in zip(items["letter_no"], items["issue_id"], strict=True):
        rank = _RANK[kind_of_letter[letter_no]]
        covered[issue_id] = max(covered.get(issue_id, -1), rank)
    wanted: dict[tuple[str, str], list[str]] = {}
    sources: dict[tuple[str, str], list[str]] = {}
    # unanswered letters past their reply date escalate
    if len(letters):
        due = letters["reply_due"].to_numpy(dtype="datetime64[D]")
        late = (letters["replied_on"].isna().to_numpy() & letters["escalated_to"].isna().to_numpy()
                & (due < np.datetime64(day, "D"))
                & (letters["kind"] != ESCALATION_LEVELS[-1]).to_numpy())
        for letter in letters[late].itertuples(index=False):
            nxt = ESCALATION_LEVELS[_RANK[letter.kind] + 1]
            named = items.loc[items["letter_no"] == letter.letter_no, "issue_id"]
            still = [i for i in named if i in level]
            if not still:
                continue
            key = (letter.unit, nxt)
            sources.setdefault(key, []).append(letter.letter_no)
            for issue_id in still:
                if covered.get(issue_id, -1) < _RANK[nxt]:
                    wanted.setdefault(key, []).append(issue_id)
                    covered[issue_id] = _RANK[nxt]
    for issue_id, kind in level.items():
        if covered.get(issue_id, -1) < _RANK[kind]:
            wanted.setdefault((unit_of[issue_id], kind), []).append(issue_id)
            covered[issue_id] = _RANK[kind]
    year = day.year
    next_seq = {kind: 1 for kind in ESCALATION_LEVELS}
    if len(letters):
        this_year = letters[letters["year"] == year]
        for kind, seq in this_year.groupby("kind")["seq"].max().items():
            next_seq[str(kind)] = int(seq) + 1
    reply_due = pd.Timestamp(add_days([np.datetime64(day, "D")], reply_days)[0]).date()
    rows, item_rows, escalated = [], [], {}
    for kind in ESCALATION_LEVELS:  # numbered in the order of units, per kind
        for unit in sorted(u for u, k in wanted if k == kind):
            issues = sorted(set(wanted[(unit, kind)]))
            letter_no = _number(kind, year, next_seq[kind])
            next_seq[kind] += 1
            origin = sources.get((unit, kind), [])
            for old in origin:
                escalated[old] = letter_no
            rows.append({"letter_no": letter_no, "kind": kind, "year": year,
                         "seq": int(letter_no.split("〕")[1].rstrip("号")), "unit": unit,
                         "issued_on": day, "reply_due": reply_due,
                         "escalated_from": "、".join(origin) or None})
            for issue_id in issues:
                deadline = due_of.get(issue_id)
                item_rows.append({
                    "letter_no": letter_no, "issue_id": issue_id,
                    "deadline": None if deadline is None or pd.isna(deadline)
                    else pd.Timestamp(deadline).date(),
                    "days_overdue": None if pd.isna(late_of.get(issue_id, np.nan))
                    else int(late_of[issue_id])})
    # an escalated letter whose problems were all covered already: nothing new to issue
    return LetterPlan(
        letters=pd.DataFrame(rows, columns=["letter_no", "kind", "year", "seq", "unit",
                                            "issued_on", "reply_due", "escalated_from"]),
        items=pd.DataFrame(item_rows, columns=["letter_no", "issue_id", "deadline",
                                               "days_overdue"]),
        escalated=escalated)


def unanswered(letters: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Letters issued by ``as_of`` with no reply by then, the most overdue reply first, with
    ``days_past_due`` (calendar days after the reply date; negative: not yet due)."""
    day = np.datetime64(pd.Timestamp(as_of).date(), "D")
    issued = letters["issued_on"].to_numpy(dtype="datetime64[D]") <= day
    replied = letters["replied_on"].to_numpy(dtype="datetime64[D]")
    open_ = issued & (np.isnat(replied) | (replied > day))
    out = letters[open_].copy()
    out["days_past_due"] = (day - out["reply_due"].to_numpy(dtype="datetime64[D]")).astype(
        "int64")
    return out.sort_values(["days_past_due", "letter_no"], ascending=[False, True],
                           kind="stable").reset_index(drop=True)


def letter_counts(letters: pd.DataFrame, *, period: str = "month") -> pd.DataFrame:
    """Letters issued per month (``"month"``) or year (``"year"``) and kind, with replies."""
    if period not in ("month", "year"):
        raise ValueError(f"period must be 'month' or 'year', got {period!r}")
    issued = pd.to_datetime(letters["issued_on"])
    key = issued.dt.strftime("%Y-%m" if period == "month" else "%Y")
    table = pd.crosstab(key, letters["kind"]).reindex(columns=list(ESCALATION_LEVELS),
                                                       fill_value=0)
    table.columns.name = None
    table = table.rename(columns=ESCALATION_LABELS)
    table["replied"] = letters["replied_on"].notna().groupby(key).sum()
    return table.rename_axis(period).reset_index()


def letter_html(letter: pd.Series, items: pd.DataFrame, *, issuer: str = "") -> str:
    """One letter as a printable HTML page; every value from data is escaped."""
    def esc(value: object) -> str:
        return html.escape("" if value is None or (isinstance(value, float) and np.isnan(value))
                           else str(value))

    label = ESCALATION_LABELS[str(letter["kind"])]
    rows = "".join(
        f"<tr><td>{esc(r.issue_id)}</td><td>{esc(r.deadline)}</td>"
        f"<td>{esc(r.days_overdue)}</td><td>{esc(r.address)}</td>"
        f"<td>{esc(r.description)}</td></tr>" for r in items.itertuples(index=False))
    origin = (f"<p>本{label}由未按期回复的{esc(letter['escalated_from'])}升级。</p>"
              if isinstance(letter.get("escalated_from"), str) and letter["escalated_from"]
              else "")
    return f"""<!DOCTYPE html>
<html lang="zh"><head><meta charset="utf-8"><title>{esc(letter['letter_no'])}</title>
<style>body{{font-family:serif;margin:2cm}} table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #000;padding:4px;font-size:11pt}} h1{{text-align:center}}
@media print{{body{{margin:1.5cm}}}}</style></head><body>
<h1>{esc(issuer)}{label}</h1>
<p style="text-align:center">{esc(letter['letter_no'])}</p>
<p>{esc(letter['unit'])}：</p>
<p>截至{esc(letter['issued_on'])}，你单位以下 {len(items)} 个环境问题已超过整改期限，请抓紧整改，
并于{esc(letter['reply_due'])}前书面回复整改情况。</p>{origin}
<table><tr><th>问题编号</th><th>整改期限</th><th>超期天数</th><th>地址</th><th>问题描述</th></tr>
{rows}</table>
<p style="text-align:right">{esc(issuer)}<br>{esc(letter['issued_on'])}</p>
</body></html>
"""


def ledger_review_tables(events: pd.DataFrame, letters: pd.DataFrame,
                         month: str, *, units: pd.Series | None = None,
                         ) -> dict[str, pd.DataFrame]:
    """What the monthly review (月复盘) adds from the ledger for ``month`` (``YYYY-MM``).

    Parameters
    ----------
    events, letters
        The ledger's events and the register of letters.
    month
        ``YYYY-MM``.
    units
        Each problem's responsible unit (indexed by issue_id), to count re-checks per unit.

    Returns
    -------
    dict
        ``extensions`` (延期: the extensions of tasks and of problems approved in the month:
        subject (task or issue), subject_id, approved_on, deadline_before, extended_to, reason,
        approved_by), ``letters`` (一函两单: per kind, issued in the month, in the year to the
        month's end, and of those answered) and ``rechecks`` (抽查复核 recorded in the month
        per responsible unit: rechecked, passed, rebounds — failed, 反弹回潮); a table is left
        out when the ledger has nothing for it.
    """
    try:
        first = pd.Period(month, freq="M")
    except ValueError as exc:
        raise ValueError(f"month must be YYYY-MM, got {month!r}") from exc
    start, end = first.start_time, first.end_time.normalize()
    out: dict[str, pd.DataFrame] = {}
    days = pd.to_datetime(events["on_date"])
    ext = events[(events["kind"] == "extend") & (days >= start) & (days <= end)]
    if len(ext):
        out["extensions"] = ext.rename(columns={
            "on_date": "approved_on", "old_value": "deadline_before",
            "new_value": "extended_to", "unit": "approved_by"}).loc[
            :, ["subject", "subject_id", "approved_on", "deadline_before", "extended_to",
                "reason", "approved_by"]].reset_index(drop=True)
    checks = events[(events["kind"] == "recheck") & (events["subject"] == "issue")
                    & (days >= start) & (days <= end)]
    if len(checks):
        from gridwatch.supervision.remind import NO_UNIT

        unit = checks["subject_id"].map(units) if units is not None else \
            pd.Series(pd.NA, index=checks.index)
        frame = pd.DataFrame({"responsible_unit": unit.fillna(NO_UNIT).astype("str"),
                              "passed": (checks["conclusion"] == "pass").to_numpy(),
                              "rebounds": (checks["conclusion"] == "fail").to_numpy()})
        table = frame.groupby("responsible_unit").agg(
            rechecked=("passed", "size"), passed=("passed", "sum"),
            rebounds=("rebounds", "sum")).astype("int64")
        out["rechecks"] = table.sort_values(["rebounds", "rechecked"], ascending=False,
                                            kind="stable").reset_index()
    if len(letters):
        issued = pd.to_datetime(letters["issued_on"])
        in_month = (issued >= start) & (issued <= end)
        in_year = (issued.dt.year == first.year) & (issued <= end)
        rows = []
        for kind in ESCALATION_LEVELS:
            mine = letters["kind"] == kind
            rows.append({"kind": ESCALATION_LABELS[kind],
                         "issued_in_month": int((mine & in_month).sum()),
                         "issued_in_year": int((mine & in_year).sum()),
                         "answered": int((mine & in_year & letters["replied_on"].notna()).sum())})
        out["letters"] = pd.DataFrame(rows)
    return out

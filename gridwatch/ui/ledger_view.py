"""The app's view of the rectification ledger: what the ledger page shows, as plain tables.

The page reads its choices (round, as-of date, count by, units and leaders) and draws; this
module reads the ledger from the store and asks :func:`gridwatch.ledger.progress.progress_report`
the same question ``gridwatch progress`` asks, so both give the same figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from gridwatch.ledger.letters import unanswered
from gridwatch.ledger.progress import progress_report, progress_sentence
from gridwatch.store.ledger import (
    ledger_events,
    ledger_milestones,
    ledger_tasks,
    letter_register,
)
from gridwatch.store.transactional import Store

__all__ = ["LedgerTables", "ledger_tables", "ledger_view", "problem_history_view"]


@dataclass(frozen=True)
class LedgerTables:
    """The stored ledger: tasks, milestones and events, and the register of letters."""

    tasks: pd.DataFrame
    milestones: pd.DataFrame
    events: pd.DataFrame
    letters: pd.DataFrame

    @property
    def rounds(self) -> list[str]:
        """Rounds in the ledger, sorted."""
        return sorted(self.tasks["round"].dropna().unique().tolist())

    @property
    def units(self) -> list[str]:
        """Responsible units, sorted."""
        return sorted(self.tasks["unit"].dropna().unique().tolist())

    @property
    def leaders(self) -> list[str]:
        """Responsible leaders, sorted."""
        return sorted(self.tasks["leader"].dropna().unique().tolist())


def ledger_tables(db_url: str) -> LedgerTables:
    """Read the ledger of the store at ``db_url``."""
    with Store(db_url) as store:
        letters, _items = letter_register(store)
        return LedgerTables(tasks=ledger_tasks(store), milestones=ledger_milestones(store),
                            events=ledger_events(store), letters=letters)


def ledger_view(tables: LedgerTables, as_of: dt.date, *, round: str | None = None,
                units: Sequence[str] = (), leaders: Sequence[str] = (),
                require_acceptance: bool = True,
                problems: pd.DataFrame | None = None) -> dict[str, object]:
    """The ledger page's content: the report's tables and one sentence per round.

    ``units`` and ``leaders`` keep only the tasks of those units / leaders (none: all).
    """
    tasks = tables.tasks
    if units:
        tasks = tasks[tasks["unit"].isin(list(units))]
    if leaders:
        tasks = tasks[tasks["leader"].isin(list(leaders))]
    report = progress_report(tasks, tables.milestones, tables.events, as_of, round=round,
                             require_acceptance=require_acceptance, problems=problems)
    sentences = [progress_sentence(row) for _, row in report["rounds"].iterrows()]
    letters = tables.letters
    if units:
        letters = letters[letters["unit"].isin(list(units))]
    issued = letters[letters["issued_on"] <= pd.Timestamp(as_of)]
    return {"report": report, "sentences": sentences,
            "unanswered": unanswered(issued, as_of).drop(columns=["year", "seq", "reply"])}


def problem_history_view(db_url: str, issue_id: str, *, timezone: str,
                         events: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """One problem's history (:func:`gridwatch.ledger.history.problem_history`, as ``gridwatch
    ledger history ID --problem``), or ``None`` when the store has no such problem."""
    from gridwatch.errors import StoreError
    from gridwatch.ledger.history import problem_history

    with Store(db_url) as store:
        try:
            return problem_history(store, issue_id,
                                   ledger_events(store) if events is None else events,
                                   timezone=timezone)
        except StoreError:
            return None

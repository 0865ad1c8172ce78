"""A ledger file or a register of records, read and stored in one call (the CLI, the demo and
the app's first start use it), as :func:`gridwatch.pipeline.run_ingest` does for problems."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from gridwatch.config import InputSettings
from gridwatch.ledger.letters import LetterPlan, plan_letters
from gridwatch.ledger.read import read_ledger, read_ledger_records
from gridwatch.schema import DEFAULT_TIMEZONE, concat_rejects
from gridwatch.store.ledger import (
    import_ledger,
    import_ledger_records,
    issue_letters,
    letter_register,
)
from gridwatch.store.transactional import Store

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = ["LedgerImport", "import_ledger_file", "import_records_file", "issue_letters_as_of"]


@dataclass(frozen=True)
class LedgerImport:
    """What one ledger or register import read and did."""

    rows_in: int
    accepted: int
    rejects: pd.DataFrame
    inserted: int
    updated: int
    unchanged: int
    #: Changes of a task's deadline, unit or leader kept in the history.
    changes: int
    run_id: int

    @property
    def rejected(self) -> int:
        """Rows rejected."""
        return len(self.rejects)


def import_ledger_file(store: Store, path: str | os.PathLike[str], *,
                       settings: InputSettings = InputSettings(),  # noqa: B008
                       timezone: str = DEFAULT_TIMEZONE) -> LedgerImport:
    """Read a ledger (:func:`gridwatch.ledger.read.read_ledger`) and store it
    (:func:`gridwatch.store.ledger.import_ledger`)."""
    result = read_ledger(path, settings=settings, timezone=timezone)
    counts = import_ledger(store, result.tasks, result.milestones, file=os.fspath(path),
                           rows_in=result.rows_in, rejected=result.rejected)
    return LedgerImport(rows_in=result.rows_in, accepted=result.accepted,
                        rejects=result.rejects, inserted=counts.inserted,
                        updated=counts.updated, unchanged=counts.unchanged,
                        changes=counts.changes, run_id=counts.run_id)


def import_records_file(store: Store, path: str | os.PathLike[str], *,
                        settings: InputSettings = InputSettings(),  # noqa: B008
                        timezone: str = DEFAULT_TIMEZONE) -> LedgerImport:
    """Read a register of records (:func:`gridwatch.ledger.read.read_ledger_records`) and
    store it (:func:`gridwatch.store.ledger.import_ledger_records`); rows of tasks the ledger
    does not have are rejects too."""
    result = read_ledger_records(path, settings=settings, timezone=timezone)
    counts = import_ledger_records(store, result.records, file=os.fspath(path),
                                   rows_in=result.rows_in, rejected=len(result.rejects))
    rejects = concat_rejects(result.rejects, counts.rejects)
    return LedgerImport(rows_in=result.rows_in, accepted=result.rows_in - len(rejects),
                        rejects=rejects, inserted=counts.inserted, updated=0,
                        unchanged=counts.unchanged, changes=0, run_id=counts.run_id)


def issue_letters_as_of(store: Store, ctx: SupervisionContext, day: dt.date, *,
                        reply_days: int = 5) -> LetterPlan:
    """Issue the letters of a day (:func:`gridwatch.ledger.letters.plan_letters` over the
    context's reminders and the store's register) and record them; return what was issued."""
    register, items = letter_register(store)
    plan = plan_letters(ctx.reminders(day), register, items, day, reply_days=reply_days)
    issue_letters(store, plan.letters, plan.items, plan.escalated)
    return plan

"""The rectification ledger (整改台账): inspection rounds, feedback items and their tasks.

:mod:`gridwatch.ledger.read` reads a ledger file, :mod:`gridwatch.store.ledger` keeps it (with
every acceptance, extension and change), :mod:`gridwatch.ledger.progress` says how far each task,
item and round is as of a date. See docs/ledger.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridwatch._lazy import lazy_exports

if TYPE_CHECKING:
    from gridwatch.ledger.progress import (
        STATES,
        group_progress,
        item_progress,
        progress_report,
        progress_sentence,
        round_progress,
        task_states,
    )
    from gridwatch.ledger.read import LedgerFile, parse_milestones, read_ledger

__all__ = [
    "STATES",
    "LedgerFile",
    "group_progress",
    "item_progress",
    "parse_milestones",
    "progress_report",
    "progress_sentence",
    "read_ledger",
    "round_progress",
    "task_states",
]

# the project file's [ledger] section is parsed without importing pandas
__getattr__, __dir__ = lazy_exports(__name__, {
    **{name: "gridwatch.ledger.progress" for name in (
        "STATES", "group_progress", "item_progress", "progress_report", "progress_sentence",
        "round_progress", "task_states")},
    **{name: "gridwatch.ledger.read" for name in ("LedgerFile", "parse_milestones",
                                                  "read_ledger")},
})

"""A small memo of recent answers, shared by the app's sessions.

The app keeps one per store version: answers are keyed by small values (the filters, the
as-of date, the view), never by hashing frames of a million rows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["Recent"]

_T = TypeVar("_T")


class Recent:
    """The last ``size`` answers by key, least recently used dropped first (thread-safe).

    Examples
    --------
    >>> memo = Recent(2)
    >>> memo.get("a", lambda: 1), memo.get("a", lambda: 2)
    (1, 1)
    """

    def __init__(self, size: int = 16) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size!r}")
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        """The answer kept for ``key``, else ``compute()`` (kept; computed outside the lock,
        so a slow answer never blocks other keys)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)

"""Timing helper shared by the benchmark scripts (imported from their folder)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best(repeat: int, func: Callable[[], Any]) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls of ``func``, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result

"""Connecting to a Dask cluster: a local one of worker processes, or an existing scheduler."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from gridwatch.errors import ConfigError

__all__ = ["ENGINES", "default_partitions", "open_client"]

#: ``--engine`` values: the single-machine path, or the Dask path.
ENGINES: tuple[str, ...] = ("local", "dask")


@contextlib.contextmanager
def open_client(scheduler: str | None = None, *, workers: int | None = None,
                threads_per_worker: int = 1,
                memory_limit: str | float | None = "auto") -> Iterator[Any]:
    """A :class:`distributed.Client` for the duration of a ``with`` block.

    Parameters
    ----------
    scheduler
        Address of a running scheduler (``tcp://host:8786``); ``None`` starts a
        ``LocalCluster`` of worker processes on this machine (dashboard off, listening on
        127.0.0.1 only) and closes it at the end.
    workers
        Worker processes of the local cluster; default the number of CPUs.
    threads_per_worker
        Threads per local worker process.
    memory_limit
        Memory per local worker (``"auto"``: the machine's memory shared by the workers;
        ``0``/``None``: no limit).

    Raises
    ------
    ConfigError
        Dask is not installed, or the scheduler cannot be reached.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a dependency of gridwatch
        raise ConfigError("--engine dask needs the 'distributed' package "
                          "(pip install 'dask[distributed]')") from exc
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from exc
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    if n < 1:
        raise ConfigError(f"workers must be at least 1, got {n}")
    cluster = LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=True,
                           dashboard_address=None, host="127.0.0.1",
                           memory_limit=memory_limit or 0, silence_logs=logging.ERROR)
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def default_partitions(client: Any, *, per_worker: int = 2) -> int:
    """Partitions for a client: ``per_worker`` per worker thread (at least 1), so a worker
    that finishes early takes another while the last ones run."""
    threads = sum(client.nthreads().values()) or 1
    return max(1, per_worker * threads)

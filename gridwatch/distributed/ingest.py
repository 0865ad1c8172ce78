"""Placing an import's rows on a Dask cluster with the single-machine kernel.

The rows are read (and geocoded) by the caller, as on one machine; :func:`place_records_dask`
splits them into spatial partitions along a Hilbert curve, sends every worker the boundary
layers and the territory ONCE (``client.scatter(..., broadcast=True)``: each task then gets
the very objects held in its worker's memory, so the worker's point-in-polygon index, found
by the identity of the geometries, is built or loaded from the disk cache once per worker,
not per task), places each partition with
:func:`gridwatch.placing.assign.place_records` and gathers the placed rows back in their
input order. The store then writes them in one transaction (:func:`run_ingest_dask`): a
failure on any worker raises before anything is written, so the store stays as it was.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridwatch.config import Config
from gridwatch.errors import GridwatchError
from gridwatch.placing.assign import place_records
from gridwatch.placing.layers import territory
from gridwatch.schema import concat_rejects

__all__ = ["DaskPlacement", "place_records_dask", "run_ingest_dask"]

#: ``kernel(records, layers, config, area=...) -> (placed, rejects)``: what places a partition.
Kernel = Callable[..., tuple[pd.DataFrame, pd.DataFrame]]


@dataclass
class DaskPlacement:
    """What the last placement on the cluster did: partitions, rows per partition, the worker
    that placed each, seconds per partition on its worker, and bytes sent and received."""

    partitions: int = 0
    rows: list[int] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    scattered_bytes: int = 0
    sent_bytes: int = 0
    gathered_bytes: int = 0


def _place_partition(part: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame], area: Any,
                     config: Config, kernel: Kernel) -> tuple[pd.DataFrame, pd.DataFrame,
                                                              str, float]:
    """Run on a worker: place one partition (its index = the rows' input positions)."""
    start = time.perf_counter()
    placed, rejects = kernel(part, layers, config, area=area)
    return placed, rejects, f"{os.uname().nodename}:{os.getpid()}", time.perf_counter() - start


def place_records_dask(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame],
                       config: Config, *, client: Any, partitions: int | None = None,
                       kernel: Kernel = place_records,
                       report: DaskPlacement | None = None
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`~gridwatch.placing.assign.place_records` on a Dask cluster: same result.

    Parameters
    ----------
    records, layers, config
        As for :func:`~gridwatch.placing.assign.place_records`.
    client
        A :class:`distributed.Client` (:func:`gridwatch.distributed.open_client`).
    partitions
        Spatial partitions (runs of the Hilbert order of the rows' coordinates as given);
        default two per worker thread.
    kernel
        What places one partition (the single-machine kernel; tests pass one that fails).
    report
        Filled with how the work was divided and what was transferred.

    Returns
    -------
    placed, rejects
        Exactly what :func:`~gridwatch.placing.assign.place_records` returns for ``records``.

    Raises
    ------
    GridwatchError
        A partition failed on its worker (the worker's error is chained).
    """
    from distributed import wait

    from gridwatch.distributed.cluster import default_partitions

    n = len(records)
    parts = partitions or default_partitions(client)
    index = records.index
    frame = records.reset_index(drop=True)  # each row's position is its index from here on
    x = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float) \
        if "lon" in frame else np.full(n, np.nan)
    y = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float) \
        if "lat" in frame else np.full(n, np.nan)
    chunks = [frame.iloc[rows] for rows in _partitions(x, y, parts)] or [frame]
    area = territory(layers, config.layers, margin_m=config.territory.margin_m,
                     metric_crs=config.territory.metric_crs)
    shared = client.scatter({"layers": dict(layers), "area": area}, broadcast=True, hash=False)
    futures = [client.submit(_place_partition, chunk, shared["layers"], shared["area"], config,
                             kernel, pure=False) for chunk in chunks]
    wait(futures)
    failed = [(k, f) for k, f in enumerate(futures) if f.status == "error"]
    if failed:
        k, future = failed[0]
        exc = future.exception()
        client.cancel(futures)
        raise GridwatchError(
            f"placing on the cluster failed in partition {k + 1} of {len(chunks)} "
            f"({len(chunks[k]):,} rows): {type(exc).__name__}: {exc}; nothing was stored"
        ) from exc
    results = client.gather(futures)
    client.cancel([*futures, *shared.values()])
    placed_parts = [r[0] for r in results]
    placed = pd.concat(placed_parts) if len(placed_parts) > 1 else placed_parts[0]
    order = np.argsort(placed.index.to_numpy(), kind="stable")
    placed = placed.iloc[order]
    placed.index = index[placed.index.to_numpy()]
    rejects = concat_rejects(*(r[1] for r in results))
    if report is not None:
        report.partitions = len(chunks)
        report.rows = [len(c) for c in chunks]
        report.workers = [r[2] for r in results]
        report.seconds = [r[3] for r in results]
        # what crossed the wire: the pickled size (the layers once per worker)
        report.scattered_bytes = _pickled(dict(layers), area) * \
            len(client.scheduler_info()["workers"])
        report.sent_bytes = sum(_pickled(c) for c in chunks)
        report.gathered_bytes = sum(_pickled(r[0], r[1]) for r in results)
    return placed, rejects


def _pickled(*objects: Any) -> int:
    import pickle

    return sum(len(pickle.dumps(o, protocol=5)) for o in objects)


def _partitions(x: np.ndarray, y: np.ndarray, parts: int) -> list[np.ndarray]:
    from gridwatch.distributed.partition import hilbert_partitions

    return hilbert_partitions(x, y, parts)


def run_ingest_dask(paths: Sequence[str | os.PathLike[str]], *, config: Config, store: Any,
                    client: Any, partitions: int | None = None, kernel: Kernel = place_records,
                    report: DaskPlacement | None = None, **options: Any
                    ) -> tuple[Any, pd.DataFrame]:
    """:func:`gridwatch.pipeline.run_ingest` with placing on a Dask cluster.

    ``options`` are those of :func:`~gridwatch.pipeline.run_ingest` (``crs``,
    ``observed_at``, ``layers``, ``progress``, ...). The placed rows are gathered and written
    in the store's one transaction (SQLite or PostGIS), so a failure on any worker, or in the
    write, leaves the store as it was.
    """
    from gridwatch.pipeline import run_ingest

    def placer(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame],
               cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
        return place_records_dask(records, layers, cfg, client=client, partitions=partitions,
                                  kernel=kernel, report=report)

    return run_ingest(paths, config=config, store=store, placer=placer, **options)



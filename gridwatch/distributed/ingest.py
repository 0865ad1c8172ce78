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

With a PostgreSQL store the placed rows stay on the workers: each copies its partition into
a staging table of the store (:func:`stage_records_dask`,
:mod:`gridwatch.store.staging`) and sends back only what the import compares, and the
store's one transaction upserts from the staging tables (``Store.import_records`` of the
staged rows).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridwatch.config import Config
from gridwatch.errors import GridwatchError
from gridwatch.placing.assign import place_records
from gridwatch.placing.layers import territory
from gridwatch.schema import concat_rejects

if TYPE_CHECKING:
    from gridwatch.store.staging import StagedImport

__all__ = [
    "DaskPlacement",
    "StageTarget",
    "place_records_dask",
    "run_ingest_dask",
    "stage_records_dask",
]

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


@dataclass(frozen=True)
class StageTarget:
    """Where the workers stage their placed rows: the PostgreSQL store's URL and schema, the
    import's token (:func:`gridwatch.store.staging.new_token`) and layer names."""

    url: str
    token: str
    layers: list[str]
    schema: str | None = None


def _place_partition(part: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame], area: Any,
                     config: Config, kernel: Kernel, stage: tuple[StageTarget, int] | None
                     ) -> tuple[pd.DataFrame, pd.DataFrame, Any, str, float]:
    """Run on a worker: place one partition (its index = the rows' input positions); with
    ``stage`` (target, partition number) copy the placed rows into the store's staging
    table and keep only what the run's summary reads of them."""
    start = time.perf_counter()
    placed, rejects = kernel(part, layers, config, area=area)
    staged = None
    if stage is not None:
        from gridwatch.store.staging import stage_records, stage_table
        from gridwatch.store.transactional import Store

        target, k = stage
        with Store(target.url, schema=target.schema) as store:
            staged = stage_records(store, placed, layers=target.layers,
                                   table=stage_table(target.token, k))
        summary = ["issue_id", "location_flag", "grid_mismatch",
                   *(f"{name}_id" for name in target.layers)]
        placed = placed[[c for c in summary if c in placed.columns]]
    return (placed, rejects, staged, f"{os.uname().nodename}:{os.getpid()}",
            time.perf_counter() - start)


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
    placed, rejects, _ = _place_on_cluster(records, layers, config, client=client,
                                           partitions=partitions, kernel=kernel,
                                           report=report, stage=None)
    return placed, rejects


def stage_records_dask(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame],
                       config: Config, *, client: Any, stage: StageTarget,
                       partitions: int | None = None, kernel: Kernel = place_records,
                       report: DaskPlacement | None = None
                       ) -> tuple[pd.DataFrame, pd.DataFrame, StagedImport]:
    """:func:`place_records_dask`, each worker copying its placed partition into a staging
    table of the PostgreSQL store (:func:`gridwatch.store.staging.stage_records`).

    Returns
    -------
    placed, rejects, staged
        The placed rows with only ``issue_id``, ``location_flag``, ``grid_mismatch`` and
        the ``<layer>_id`` columns (what a run's summary reads), the rejects, and the
        staged rows for :meth:`~gridwatch.store.transactional.Store.import_records`. The
        caller drops the staging tables (:func:`gridwatch.store.staging.drop_stages`),
        also when this raises.
    """
    placed, rejects, staged = _place_on_cluster(records, layers, config, client=client,
                                                partitions=partitions, kernel=kernel,
                                                report=report, stage=stage)
    assert staged is not None
    return placed, rejects, staged


def _place_on_cluster(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame],
                      config: Config, *, client: Any, partitions: int | None, kernel: Kernel,
                      report: DaskPlacement | None, stage: StageTarget | None
                      ) -> tuple[pd.DataFrame, pd.DataFrame, StagedImport | None]:
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
                             kernel, None if stage is None else (stage, k), pure=False)
               for k, chunk in enumerate(chunks)]
    wait(futures)  # every partition done or failed: no staging table is made after this
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
    staged = None
    if stage is not None:
        from gridwatch.store.staging import staged_import

        staged = staged_import([r[2] for r in results], order)
    if report is not None:
        report.partitions = len(chunks)
        report.rows = [len(c) for c in chunks]
        report.workers = [r[3] for r in results]
        report.seconds = [r[4] for r in results]
        # what crossed the wire: the pickled size (the layers once per worker)
        report.scattered_bytes = _pickled(dict(layers), area) * \
            len(client.scheduler_info()["workers"])
        report.sent_bytes = sum(_pickled(c) for c in chunks)
        report.gathered_bytes = sum(_pickled(r[0], r[1], r[2]) for r in results)
    return placed, rejects, staged


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
    ``observed_at``, ``layers``, ``progress``, ...). On PostgreSQL each worker copies its
    placed partition into a staging table of the store, in parallel, and the store's one
    import transaction upserts from them (:meth:`Store.import_records` of the staged rows);
    on SQLite the placed rows are gathered and written by the store. Either way a failure
    on any worker, or in the import, leaves the store as it was (the staging tables are
    dropped whatever happens).
    """
    from gridwatch.pipeline import run_ingest

    if not store.postgis:
        def placer(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame],
                   cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
            return place_records_dask(records, layers, cfg, client=client,
                                      partitions=partitions, kernel=kernel, report=report)

        return run_ingest(paths, config=config, store=store, placer=placer, **options)

    from gridwatch.store.staging import drop_abandoned_stages, drop_stages, new_token

    drop_abandoned_stages(store)  # left by a client killed in an earlier import
    target = StageTarget(url=store.url, token=new_token(),
                         layers=[spec.name for spec in config.layers], schema=store.schema)
    staged: list[StagedImport] = []

    def stager(records: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame],
               cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
        placed, rejects, rows = stage_records_dask(records, layers, cfg, client=client,
                                                   stage=target, partitions=partitions,
                                                   kernel=kernel, report=report)
        staged.append(rows)
        return placed, rejects

    def importer(placed: pd.DataFrame, **run: Any) -> Any:
        return store.import_records(staged[-1], **run)

    try:
        return run_ingest(paths, config=config, store=store, placer=stager, importer=importer,
                          **options)
    finally:
        drop_stages(store, target.token)

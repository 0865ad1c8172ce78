"""Emerging hot spots (space-time Gi* and Mann–Kendall trends) on a Dask cluster.

The space-time cube (counts per area and period) is counted per partition of counties and
added up on the client, as the other questions are. Each bin's Gi* needs its area's spatial
neighbours in the same period and the ``time_lag`` periods before: the areas are cut into
Hilbert partitions (:func:`~gridwatch.distributed.questions.halo_partitions`, as for Gi*), and
each partition is sent its rows of the spatial weights and the cube's rows of its areas and
of its *halo* (their neighbours in other partitions) for every period. The worker builds the
space-time weights of that part with the single-machine function, in the territory's order of
the areas, so every neighbour sum adds the same numbers in the same order as on one machine;
the moments of each period's population (three numbers over the whole cube) come from the
client. The worker then runs the Mann–Kendall trend of its areas and, without FDR, their
categories. The z-scores travel back (8 bytes per area and period): the FDR adjustment ranks
every bin's p-value, so it and the categories with FDR are computed on the client.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridwatch.errors import ConfigError

__all__ = ["emerging_dask", "period_counts_dask", "space_time_gi_star_dask"]


def _local_square(local: np.ndarray, rows: sp.csr_matrix, core: int
                  ) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
    """The areas of a part in the territory's order, the positions of its ``core`` areas
    among them, and its spatial weights over them: the core areas' rows (columns renumbered,
    each row's order kept), the halo's rows empty.

    ``local`` and ``rows`` are one partition of :func:`halo_partitions` (the core areas, then
    the halo; the core areas' rows with columns in that order).
    """
    order = np.argsort(local, kind="stable")
    rank = np.empty(len(local), dtype=np.int64)
    rank[order] = np.arange(len(local))
    counts = np.zeros(len(local), dtype=np.int64)
    counts[rank[:core]] = np.diff(rows.indptr)  # core areas rise with position: data stays
    indptr = np.concatenate([[0], np.cumsum(counts)])
    square = sp.csr_matrix((rows.data, rank[rows.indices], indptr),
                           shape=(len(local), len(local)))
    return local[order], rank[:core], square


def _emerging_part(spatial: sp.csr_matrix, core: np.ndarray, cube: np.ndarray,
                   moments: list[Any], *, time_lag: int, scope: str, alpha: float,
                   trend_alpha: float, fdr: bool
                   ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Run on a worker: the z-scores (areas × periods), categories (``None`` with FDR: they
    need every bin's p-value) and Mann–Kendall trend ``(z, p)`` of a part's ``core`` areas,
    from the part's spatial weights and cube rows (its areas then halo, in the territory's
    order) and the territory's moments."""
    from scipy.special import ndtr

    from gridwatch.hotspots._trend import mann_kendall
    from gridwatch.hotspots._weights import space_time_weights
    from gridwatch.hotspots.emerging import classify_emerging, space_time_z

    weights = space_time_weights(spatial, cube.shape[1], time_lag=time_lag)
    z = space_time_z(weights, cube, time_lag=time_lag, scope=scope, rows=core,
                     moments=moments)
    if fdr:
        _, trend_z, trend_p = mann_kendall(z)
        return z, None, trend_z, trend_p
    categories, trend_z, trend_p = classify_emerging(z, 2.0 * ndtr(-np.abs(z)), alpha=alpha,
                                                     trend_alpha=trend_alpha, fdr=False)
    return z, categories, trend_z, trend_p


def space_time_gi_star_dask(counts: np.ndarray, spatial: sp.csr_matrix,
                            centres: tuple[np.ndarray, np.ndarray], *, client: Any,
                            partitions: int | None = None, time_lag: int = 1,
                            scope: str = "period", alpha: float = 0.05,
                            trend_alpha: float = 0.05, fdr: bool = False
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                       np.ndarray]:
    """:func:`~gridwatch.hotspots.emerging.space_time_gi_star` and
    :func:`~gridwatch.hotspots.emerging.classify_emerging` on the cluster, partition by
    partition of areas with their halo.

    Parameters
    ----------
    counts
        The cube: areas × periods, in time order.
    spatial
        Binary spatial weights of the areas (no diagonal).
    centres
        The areas' x/y (for the Hilbert partitions).
    time_lag, scope
        As for :func:`~gridwatch.hotspots.emerging.space_time_gi_star`.
    alpha, trend_alpha, fdr
        As for :func:`~gridwatch.hotspots.emerging.classify_emerging`.

    Returns
    -------
    z, p, categories, trend_z, trend_p
        Exactly those of the single-machine functions.
    """
    from scipy.special import ndtr

    from gridwatch.distributed.cluster import default_partitions
    from gridwatch.distributed.partition import hilbert_partitions
    from gridwatch.distributed.questions import _gather, halo_partitions
    from gridwatch.hotspots.emerging import (
        check_space_time,
        classify_emerging,
        space_time_moments,
    )

    cube = np.asarray(counts, dtype=float)
    n, periods = cube.shape
    check_space_time(periods, time_lag=time_lag, scope=scope)
    moments = space_time_moments(cube, time_lag=time_lag, scope=scope)
    parts = hilbert_partitions(centres[0], centres[1], partitions or default_partitions(client))
    futures = []
    for core, (local, rows) in zip(parts, halo_partitions(spatial, parts), strict=True):
        areas, positions, square = _local_square(local, rows, len(core))
        futures.append(client.submit(
            _emerging_part, square, positions, cube[areas], moments, time_lag=time_lag,
            scope=scope, alpha=alpha, trend_alpha=trend_alpha, fdr=fdr, pure=False))
    results = _gather(client, futures, "emerging hot spots")
    z = np.empty((n, periods))
    categories = np.empty(n, dtype=object)
    trend_z, trend_p = np.empty(n), np.empty(n)
    for core, (part_z, part_categories, part_trend_z, part_trend_p) in zip(parts, results,
                                                                           strict=True):
        z[core], trend_z[core], trend_p[core] = part_z, part_trend_z, part_trend_p
        if part_categories is not None:
            categories[core] = part_categories
    p = 2.0 * ndtr(-np.abs(z))
    if fdr:
        categories, trend_z, trend_p = classify_emerging(
            z, p, alpha=alpha, trend_alpha=trend_alpha, fdr=True, trend=(trend_z, trend_p))
    return z, p, categories, trend_z, trend_p


def _new_counts(source: Any, key: str, members: list[str | None], layer: str,
                labels: pd.PeriodIndex, day: dt.date, period: str) -> pd.DataFrame:
    """Run on a worker: problems reported per area of ``layer`` and period among the
    partition's, by local report date
    (:func:`~gridwatch.hotspots._run.new_per_period`)."""
    from gridwatch.distributed.questions import _partition_context
    from gridwatch.hotspots._run import new_per_period
    from gridwatch.supervision.calendar import local_dates

    sub = _partition_context(source, key, members, [])
    ids = sorted(sub.issues[f"{layer}_id"].dropna().astype(str).unique())
    return new_per_period(sub.area_codes(layer), local_dates(sub.issues["reported_at"],
                                                             sub.timezone),
                          ids=ids, labels=labels, day=day, period=period)


def period_counts_dask(ctx: Any, *, client: Any, source: Any, layer: str, as_of: Any,
                       period: str, periods: int, variable: str = "new", areas: Any = None,
                       partitions: int | None = None) -> pd.DataFrame:
    """:func:`gridwatch.hotspots._run.period_counts` on the cluster (the same frame): the
    counts per area and period summed over partitions of counties (``new``), or the area
    statistics of every period (the other variables)."""
    from gridwatch.distributed.questions import area_statistics_dask, on_partitions
    from gridwatch.hotspots._run import (
        iso_label,
        period_count_ids,
        period_labels,
        statistics_per_period,
    )
    from gridwatch.supervision.aggregate import period_bounds
    from gridwatch.supervision.calendar import local_dates
    from gridwatch.supervision.codes import parse_as_of

    day = parse_as_of(as_of)
    # the periods start at the first local report date: that of the earliest report
    first = local_dates(ctx.issues["reported_at"].dropna().sort_values().head(1), ctx.timezone)
    labels = period_labels(first, day=day, period=period, periods=periods)
    ids = period_count_ids(ctx.issues, layer, areas)
    if variable == "new":
        parts = on_partitions(ctx, client, _new_counts, source, layer, labels, day, period,
                              partitions=partitions, what="counting per period")
        summed = pd.concat(parts).groupby(level=0, sort=False).sum()
        return summed.reindex(index=pd.Index(ids, name="area_id"), columns=labels,
                              fill_value=0.0)
    names = [iso_label(p, period) for p in labels]
    tables = area_statistics_dask(ctx, client=client, source=source, layer=layer,
                                  periods=[period_bounds(name) for name in names],
                                  partitions=partitions, areas=ids)
    stats = pd.concat([table.assign(period=name) for name, table in zip(names, tables,
                                                                        strict=True)],
                      ignore_index=True)
    return statistics_per_period(stats, labels, ids=ids, variable=variable, period=period)


def emerging_dask(ctx: Any, *, layer: str | None, client: Any, source: Any, as_of: Any = None,
                  variable: str | None = None, period: str | None = None,
                  partitions: int | None = None) -> Any:
    """:meth:`SupervisionContext.hotspots` with ``method="emerging"`` on the cluster: the
    cube by partition of counties (:func:`period_counts_dask`), the z-scores, trends and
    categories by partition of areas with their halo (:func:`space_time_gi_star_dask`); the
    same layer as on one machine."""
    from gridwatch.distributed.questions import area_centres, hotspot_question
    from gridwatch.hotspots._weights import build_weights
    from gridwatch.hotspots.emerging import _aligned_cube, emerging_frame

    settings, layer, areas, day, variable, period = hotspot_question(
        ctx, layer=layer, method="emerging", as_of=as_of, variable=variable, period=period)
    counts = period_counts_dask(ctx, client=client, source=source, layer=layer, as_of=day,
                                period=period,
                                periods=settings.periods or (52 if period == "week" else 12),
                                variable=variable, areas=areas, partitions=partitions)
    cube, labels = _aligned_cube(areas, counts)
    if cube.shape[1] < 3:
        raise ConfigError(f"emerging hot spots need at least 3 periods, got {cube.shape[1]}")
    weights = build_weights(areas, kind=settings.weights, k=settings.knn_k,
                            distance_m=settings.distance_m, cache_dir=ctx.cache_dir)
    z, p, categories, trend_z, trend_p = space_time_gi_star_dask(
        cube, weights.matrix, area_centres(areas), client=client, partitions=partitions,
        time_lag=settings.time_lag, scope=settings.scope, alpha=settings.alpha,
        trend_alpha=settings.trend_alpha, fdr=settings.fdr)
    result = emerging_frame(areas, cube, labels, z, p, categories, (trend_z, trend_p),
                            weights=weights, time_lag=settings.time_lag, scope=settings.scope,
                            alpha=settings.alpha, trend_alpha=settings.trend_alpha,
                            fdr=settings.fdr)
    result.attrs.update({"layer": layer, "as_of": day.isoformat(), "variable": variable,
                         "period": period})
    return result

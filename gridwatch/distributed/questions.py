"""The batch questions over the whole province on a Dask cluster.

Each worker opens the same store as the client (its analytical copy is memory-mapped Arrow,
and the derived deadlines and status events are kept beside it, so opening costs little and
happens once per worker and store run), keeps the problems of its partition (whole counties,
dealt to partitions by size: :func:`~gridwatch.distributed.partition.balanced_groups`), and
evaluates them as of the asked date with the single-machine functions. Only small per-area
sums travel back; the client adds them up and builds the same tables as
:meth:`SupervisionContext.status`, :meth:`SupervisionContext.league` and
:meth:`SupervisionContext.review` (the median days to close from the gathered closing times of
each area, so it is exact; the review's sections on petitions, enterprises and campaigns from
the month-end evaluation of their problems, gathered).

Gi* needs the neighbours of every area: the areas are split into spatial partitions along a
Hilbert curve, and each partition is sent its rows of the weights and the values of its
*halo* (the neighbours that lie in other partitions), so the neighbour sums, z-scores and
permutation counts of its areas are exactly those of the whole territory (a permutation draw
takes values from anywhere: every worker gets all the values and the draws once).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridwatch.config import Config
from gridwatch.errors import ConfigError, GridwatchError

__all__ = [
    "DASK_HOTSPOT_METHODS",
    "StoreSource",
    "area_centres",
    "area_statistics_dask",
    "check_dask_method",
    "combined_sums",
    "gi_star_dask",
    "gi_star_z_dask",
    "hotspot_question",
    "hotspots_dask",
    "league_dask",
    "on_partitions",
    "partition_key_layer",
    "review_dask",
    "status_dask",
]

_COUNTS = ("new", "closed", "closed_on_time", "closed_late", "open", "red", "yellow", "green",
           "rebounds")


@dataclass(frozen=True, eq=False)
class StoreSource:
    """How a worker opens the context the client asks about: the project, the store, the
    store's run (a worker's context of another run is opened again) and the user's scope."""

    config: Config | None
    db_url: str
    run_id: int
    scope: Any = None

    def key(self) -> tuple[str, int, str, str]:
        """What tells two sources apart (a project is not hashable)."""
        path = str(self.config.path) if self.config is not None else ""
        return (self.db_url, self.run_id, str(self.scope), path)


_CONTEXTS: dict[tuple[str, int, str, str], Any] = {}
_CONTEXTS_LOCK = threading.Lock()


def _worker_context(source: StoreSource) -> Any:
    """The context of ``source`` in this worker process, opened once."""
    from gridwatch.supervision.context import open_context

    with _CONTEXTS_LOCK:
        ctx = _CONTEXTS.get(source.key())
        if ctx is None:
            ctx = open_context(source.config, source.db_url, scope=source.scope)
            if ctx.run_id != source.run_id:
                raise GridwatchError(f"the store changed while asking (run {ctx.run_id}, "
                                     f"the client read run {source.run_id}); ask again")
            _CONTEXTS.clear()  # one store run per worker at a time
            _CONTEXTS[source.key()] = ctx
    return ctx


def partition_key_layer(ctx: Any) -> str:
    """The layer whose areas make the partitions: the first admin layer (counties), else
    the first layer of the project."""
    specs = ctx.config.layers if ctx.config is not None else ()
    for spec in specs:
        if spec.kind == "admin" and f"{spec.name}_id" in ctx.issues:
            return str(spec.name)
    for spec in specs:
        if f"{spec.name}_id" in ctx.issues:
            return str(spec.name)
    raise ConfigError("--engine dask needs the problems placed in at least one layer")


def _partition_context(source: StoreSource, key: str, members: list[str | None],
                       days: list[dt.date]) -> Any:
    """Run on a worker: the context of the problems whose area of ``key`` is one of
    ``members`` (``None``: no area), with the evaluations of ``days`` kept beside the copy
    already cut to them."""
    ctx = _worker_context(source)
    column = ctx.issues[f"{key}_id"].astype("str")
    named = [m for m in members if m is not None]
    mask = column.isin(named).to_numpy(dtype=bool, na_value=False)
    if None in members:
        mask |= column.isna().to_numpy()
    for end in days:
        if end in ctx._kept_days():  # kept beside the copy at import: read, not recomputed
            ctx.evaluate(end)  # (restrict cuts the evaluations at hand to the partition)
    return ctx.restrict(mask, always_copy=True)


def _group_sums(sub: Any, start: dt.date | None, end: dt.date, column: str | None
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The counts per group of ``column`` of a partition's problems for one period
    (:func:`~gridwatch.supervision.review.group_statistics`), and the closing times (group,
    days) of the period."""
    from gridwatch.supervision.calendar import local_dates
    from gridwatch.supervision.incidents import incident_primary
    from gridwatch.supervision.review import group_labels, group_statistics

    evaluated = sub.evaluate(end)
    stats = group_statistics(sub.issues, evaluated, column=column, start=start, end=end,
                             rebounds=sub.rebounds, incidents=sub.incidents,
                             timezone=sub.timezone)
    counted = evaluated["known"].to_numpy(dtype=bool)
    if sub.incidents is not None:
        counted = counted & incident_primary(sub.incidents)
    days = evaluated["days_to_close"].to_numpy(dtype="float64")
    closed_days = local_dates(evaluated["closed_at"], sub.timezone)
    closing = counted & ~np.isnan(days) & _between(closed_days, start, end)
    closings = pd.DataFrame({"area_id": group_labels(sub.issues, column).to_numpy()[closing],
                             "days": days[closing]})
    return stats[["area_id", *_COUNTS]], closings


#: ``(start, end, column)``: the counts per group of ``column`` over a period.
Ask = tuple[dt.date | None, dt.date, str | None]


def _partition_sums(source: StoreSource, key: str, members: list[str | None], asks: list[Ask]
                    ) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """Run on a worker: :func:`_group_sums` of each ask over the problems whose area of
    ``key`` is one of ``members``."""
    sub = _partition_context(source, key, members, [end for _, end, _ in asks])
    return [_group_sums(sub, start, end, column) for start, end, column in asks]


def _between(days: np.ndarray, start: dt.date | None, end: dt.date | None) -> np.ndarray:
    """The rule of :func:`gridwatch.supervision.aggregate._between` (closed in the period)."""
    mask: np.ndarray = ~np.isnat(days)
    if start is not None:
        mask &= days >= np.datetime64(start, "D")
    if end is not None:
        mask &= days <= np.datetime64(end, "D")
    return mask


def area_statistics_dask(ctx: Any, *, client: Any, source: StoreSource, layer: str,
                         periods: list[tuple[dt.date | None, dt.date]],
                         partitions: int | None = None,
                         areas: Any = None) -> list[pd.DataFrame]:
    """:func:`gridwatch.supervision.aggregate.area_statistics` of ``layer`` for each
    ``(start, end)`` period, computed per partition of counties on the cluster and combined.

    Parameters
    ----------
    ctx
        The client's context (for the partitions and the areas to list); the workers open
        the same store (``source``).
    areas
        Areas to list even with no problem; default ``ctx.area_table(layer)``.

    Returns
    -------
    list of pandas.DataFrame
        One statistics table per period, as :func:`area_statistics` returns it.
    """
    if f"{layer}_id" not in ctx.issues:
        have = ", ".join(c[:-3] for c in ctx.issues.columns
                         if c.endswith("_id") and c != "issue_id")
        raise ConfigError(f"layer {layer!r}: the issues have no column '{layer}_id'; "
                          f"layers present: {have or '(none)'}")
    asks: list[Ask] = [(start, end, f"{layer}_id") for start, end in periods]
    results = on_partitions(ctx, client, _partition_sums, source, asks,
                            partitions=partitions, what="counting")
    if areas is None:
        areas = ctx.area_table(layer)
    return [combined_sums([r[k] for r in results], areas) for k in range(len(periods))]


def on_partitions(ctx: Any, client: Any, function: Any, source: StoreSource, *args: Any,
                  partitions: int | None = None, what: str) -> list[Any]:
    """``function(source, key, members, *args)`` on the cluster for each partition of whole
    areas of the first admin layer (``key``; ``members``: its area ids, dealt by size),
    gathered in partition order; ``what`` names the work in the error of a failed one."""
    from gridwatch.distributed.cluster import default_partitions
    from gridwatch.distributed.partition import balanced_groups

    key = partition_key_layer(ctx)
    groups = balanced_groups(ctx.issues[f"{key}_id"],
                             partitions or default_partitions(client)) or [[None]]
    futures = [client.submit(function, source, key, members, *args, pure=False)
               for members in groups]
    return _gather(client, futures, what)


def combined_sums(parts: list[tuple[pd.DataFrame, pd.DataFrame]], areas: Any = None
                  ) -> pd.DataFrame:
    """The statistics table (:func:`~gridwatch.supervision.aggregate.statistics_table`) of
    the partitions' :func:`_group_sums` of one ask: counts added, the median days to close
    over the gathered closing times."""
    from gridwatch.supervision.aggregate import statistics_table

    counts = pd.concat([p[0] for p in parts], ignore_index=True)
    summed = counts.groupby("area_id", dropna=False, sort=False)[list(_COUNTS)].sum()
    closings = pd.concat([p[1] for p in parts], ignore_index=True)
    median = closings.groupby("area_id", dropna=False, sort=False)["days"].median()
    summed.index = pd.Index(summed.index, dtype="str")
    median.index = pd.Index(median.index, dtype="str")
    summed["median_days_to_close"] = median.reindex(summed.index).to_numpy(dtype="float64")
    return statistics_table(summed.astype({c: "int64" for c in _COUNTS}), areas)


def _gather(client: Any, futures: list[Any], what: str) -> list[Any]:
    from distributed import wait

    wait(futures)
    for k, future in enumerate(futures):
        if future.status == "error":
            exc = future.exception()
            client.cancel(futures)
            raise GridwatchError(f"{what} on the cluster failed in partition {k + 1} of "
                                 f"{len(futures)}: {type(exc).__name__}: {exc}") from exc
    return list(client.gather(futures))


def status_dask(ctx: Any, as_of: Any, *, layer: str, client: Any, source: StoreSource,
                partitions: int | None = None) -> pd.DataFrame:
    """:meth:`SupervisionContext.status` computed on the cluster (same table)."""
    from gridwatch.supervision.codes import parse_as_of

    day = parse_as_of(as_of)
    return area_statistics_dask(ctx, client=client, source=source, layer=layer,
                                periods=[(None, day)], partitions=partitions)[0]


def league_dask(ctx: Any, week: str, *, layer: str, client: Any, source: StoreSource,
                partitions: int | None = None) -> pd.DataFrame:
    """:meth:`SupervisionContext.league` (:func:`league_for_week`) computed on the cluster."""
    from gridwatch.supervision.aggregate import period_bounds, previous_period
    from gridwatch.supervision.league import league_table

    if "W" not in str(week).upper():
        raise ConfigError(f"week {week!r} is not an ISO week; write it as YYYY-Www, e.g. 2024-W10")
    before = previous_period(week)
    last, this = area_statistics_dask(ctx, client=client, source=source, layer=layer,
                                      periods=[period_bounds(before), period_bounds(week)],
                                      partitions=partitions)
    table = league_table(this, last.drop(columns=["area_name"], errors="ignore"),
                         settings=ctx.settings.league)
    table.insert(0, "week", str(week))
    return table


def _review_partition(source: StoreSource, key: str, members: list[str | None],
                      asks: list[Ask], day: dt.date
                      ) -> tuple[list[tuple[pd.DataFrame, pd.DataFrame]], pd.DataFrame]:
    """Run on a worker: the review's :func:`_group_sums` of a partition, and the evaluation
    as of ``day`` (the columns the sections read) of its problems the sections read."""
    from gridwatch.enterprises.review import SECTION_EVALUATION, section_rows

    sub = _partition_context(source, key, members, [*(end for _, end, _ in asks), day])
    sums = [_group_sums(sub, start, end, column) for start, end, column in asks]
    return sums, sub.evaluate(day).loc[section_rows(sub), list(SECTION_EVALUATION)]


def review_dask(ctx: Any, month: str, *, layer: str | None = None, client: Any,
                source: StoreSource, partitions: int | None = None) -> dict[str, pd.DataFrame]:
    """:meth:`SupervisionContext.review` computed on the cluster (the same tables).

    The counts of the review's statistics (in all, per category, source and area, for the
    month and the month before) are summed over the partitions of counties and the medians
    taken over the gathered closing times. The sections on petitions, enterprises and
    campaigns (not additive: a complaint may repeat a petition of another county, an
    enterprise has problems in several) are computed here by the single-machine functions
    from their problems, with the month-end evaluation of those problems gathered from the
    workers. The lists of the month's rebounds and closed problems are filters of the
    problems, read here.
    """
    from gridwatch.enterprises.review import section_rows
    from gridwatch.supervision.review import monthly_review, review_groupings, review_periods

    layer = layer or ctx.review_layer()
    periods = review_periods(month)
    groupings = review_groupings(ctx.issues, layer)
    keys = [(label, name) for label in periods for name in groupings]
    asks: list[Ask] = [(*periods[label], groupings[name]) for label, name in keys]
    day = periods[month][1]
    results = on_partitions(ctx, client, _review_partition, source, asks, day,
                            partitions=partitions, what="the review")
    areas = ctx.area_table(layer)
    statistics = {key: combined_sums([r[0][k] for r in results],
                                     areas if key[1] == "by_area" else None)
                  for k, key in enumerate(keys)}
    rows = section_rows(ctx)
    evaluated = pd.concat([r[1] for r in results]).loc[ctx.issues.index[rows]]
    sections = ctx.restrict(rows, evaluations={day: evaluated})
    return monthly_review(ctx, month, layer=layer, statistics=statistics, sections=sections)


#: The hotspot methods that run on a cluster.
DASK_HOTSPOT_METHODS: tuple[str, ...] = ("gistar", "emerging")


def check_dask_method(method: str) -> None:
    """Refuse a hotspot method that does not run on a cluster."""
    if method not in DASK_HOTSPOT_METHODS:
        raise ConfigError(f"--method {method} does not run with --engine dask (only "
                          f"{' and '.join(DASK_HOTSPOT_METHODS)} do); use --engine local")


def hotspot_question(ctx: Any, *, layer: str | None, method: str, as_of: Any,
                     variable: str | None, period: str | None
                     ) -> tuple[Any, str, Any, dt.date, str, str]:
    """The checks of :func:`gridwatch.hotspots.run_hotspots` for a method of a layer on the
    cluster: ``(settings, layer, areas, day, variable, period)`` with their defaults."""
    from gridwatch.hotspots._run import HOTSPOT_VARIABLES
    from gridwatch.supervision.codes import parse_as_of

    settings = ctx.settings.hotspots
    variable = variable or ("new" if method == "emerging" else "overdue")
    period = period or settings.period
    if variable not in HOTSPOT_VARIABLES:
        raise ConfigError(f"variable {variable!r} is not allowed; use one of "
                          f"{', '.join(HOTSPOT_VARIABLES)}")
    if period not in ("week", "month"):
        raise ConfigError(f"period {period!r} is not allowed; use 'week' or 'month'")
    if layer is None:
        raise ConfigError(f"--layer is required for --method {method}: it needs the areas of "
                          "a layer")
    if ctx.config is None:
        raise ConfigError(f"layer {layer!r}: a project file is needed for its areas")
    if settings.max_precision_m is not None:
        raise ConfigError("[hotspots] max_precision_m is not supported with --engine dask yet; "
                          "use --engine local")
    ctx.config.layer(layer)
    areas = ctx.areas(layer)
    if ctx.issues.empty:
        raise ConfigError("the store has no problems yet: run gridwatch ingest first")
    day = parse_as_of(as_of if as_of is not None else ctx.last_report_date())
    return settings, layer, areas, day, variable, period


def area_centres(areas: Any) -> tuple[np.ndarray, np.ndarray]:
    """The centres of the areas' bounding boxes (for the Hilbert partitions of areas)."""
    bounds = areas.geometry.bounds
    return ((bounds["minx"] + bounds["maxx"]).to_numpy() / 2,
            (bounds["miny"] + bounds["maxy"]).to_numpy() / 2)


# --- Gi* with a halo ----------------------------------------------------------------------


def _halo_z(rows: Any, y_local: np.ndarray, core: int, moments: tuple[float, float, float, int]
            ) -> np.ndarray:
    """Run on a worker: Gi* z of the ``core`` first areas of a partition from their rows of
    the weights (columns: the partition's areas, then its halo) and the local values, with
    the territory's moments (sum, mean, variance, n): the formula of
    :func:`gridwatch.hotspots.gistar.gi_star_z`, term for term."""
    total, mean, variance, n = moments
    y = np.asarray(y_local, dtype=float)
    card = np.diff(rows.indptr).astype(float) + 1.0
    if total == 0 or variance <= 0 or n < 2:
        return np.zeros(core)
    statistic = (rows @ y + y[:core]) / total
    expected = card / n
    var_g = card * (n - card) / (n - 1) / n**2 * variance / mean**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (statistic - expected) / np.sqrt(var_g)
    return np.asarray(np.where(var_g > 0, z, 0.0))


def halo_partitions(matrix: Any, parts: list[np.ndarray]) -> list[tuple[np.ndarray, Any]]:
    """For each partition (area positions), its areas then its halo (neighbours in other
    partitions, in position order) and its rows of ``matrix`` with columns in that order.

    Columns keep their order within each row, so a row's neighbour sum adds the same numbers
    in the same order as the whole matrix does.
    """
    import scipy.sparse as sp

    out = []
    lookup = np.full(matrix.shape[1], -1, dtype=np.int64)
    for core in parts:
        rows = sp.csr_matrix(matrix[core])
        halo = np.setdiff1d(np.unique(rows.indices), core)
        local = np.concatenate([core, halo])
        lookup[local] = np.arange(len(local))
        remapped = sp.csr_matrix((rows.data, lookup[rows.indices], rows.indptr),
                                 shape=(len(core), len(local)))
        lookup[local] = -1
        out.append((local, remapped))
    return out


def _halo_gi(rows: Any, y_local: np.ndarray, core: np.ndarray,
             moments: tuple[float, float, float, int], y_all: np.ndarray | None,
             pid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Run on a worker: the z-scores of a partition's areas and, with ``pid`` (the
    permutation ids), their permutation counts (:func:`count_larger`, which counts each area
    on its own: only the partition's areas are given neighbours here)."""
    z = _halo_z(rows, y_local, len(core), moments)
    if pid is None or y_all is None:
        return z, None
    from gridwatch.hotspots._permutation import count_larger

    n = len(y_all)
    observed = np.zeros(n)
    card = np.zeros(n, dtype=np.int64)
    observed[core] = rows @ np.asarray(y_local, dtype=float)
    card[core] = np.diff(rows.indptr)
    return z, count_larger(y_all, observed, card, pid)[core]


def gi_star_dask(values: np.ndarray, matrix: Any, centres: tuple[np.ndarray, np.ndarray], *,
                 client: Any, partitions: int | None = None, permutations: int = 0,
                 seed: int = 0, cache_dir: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores (:func:`~gridwatch.hotspots.gistar.gi_star_z`) and, with
    ``permutations``, the pseudo p-values (:func:`~gridwatch.hotspots.gistar.gi_star_pseudo_p`)
    on the cluster, partition by partition.

    ``centres`` are the areas' x/y (for the Hilbert partitions). The moments of the values
    (sum, mean, variance: three numbers over one value per area) are computed here once; each
    partition gets its weight rows, its values and its halo's. For the permutations every
    worker also gets, once, all the values and the permutation ids (a draw takes values from
    anywhere). Returns ``(z, p_sim)`` (``p_sim`` NaN without permutations).
    """
    from gridwatch.distributed.cluster import default_partitions
    from gridwatch.distributed.partition import hilbert_partitions

    y = np.asarray(values, dtype=float)
    n = y.shape[0]
    total = y.sum()
    mean = total / n if n else 0.0
    variance = (y * y).sum() / n - mean * mean if n else 0.0
    card = np.diff(matrix.indptr)
    shared: dict[str, Any] = {"y": None, "pid": None}
    if permutations:
        from gridwatch.hotspots.gistar import _permutation_ids

        pid = _permutation_ids(max(int(card.max(initial=0)), 1), n, permutations, seed,
                               cache_dir)
        shared = client.scatter({"y": y, "pid": pid}, broadcast=True, hash=False)
    parts = hilbert_partitions(centres[0], centres[1], partitions or default_partitions(client))
    pieces = halo_partitions(matrix, parts)
    futures = [client.submit(_halo_gi, rows, y[local], core,
                             (float(total), float(mean), float(variance), n),
                             shared["y"], shared["pid"], pure=False)
               for core, (local, rows) in zip(parts, pieces, strict=True)]
    results = _gather(client, futures, "Gi*")
    z = np.empty(n)
    larger = np.zeros(n)
    for core, (part_z, part_larger) in zip(parts, results, strict=True):
        z[core] = part_z
        if part_larger is not None:
            larger[core] = part_larger
    if not permutations:
        return z, np.full(n, np.nan)
    # the end of gi_star_pseudo_p, as it is
    islands = card == 0
    larger[islands] = (y[islands] <= 0.0).astype(float) * permutations
    low = (permutations - larger) < larger
    larger[low] = permutations - larger[low]
    return z, (larger + 1.0) / (permutations + 1.0)


def gi_star_z_dask(values: np.ndarray, matrix: Any, centres: tuple[np.ndarray, np.ndarray], *,
                   client: Any, partitions: int | None = None) -> np.ndarray:
    """:func:`gridwatch.hotspots.gistar.gi_star_z` on the cluster (see :func:`gi_star_dask`)."""
    return gi_star_dask(values, matrix, centres, client=client, partitions=partitions)[0]


def hotspots_dask(ctx: Any, *, layer: str | None, method: str = "gistar", client: Any,
                  source: StoreSource, as_of: Any = None, variable: str | None = None,
                  period: str | None = None, partitions: int | None = None) -> Any:
    """:meth:`SupervisionContext.hotspots` with ``method="gistar"`` or ``"emerging"`` on
    the cluster (the same layer).

    Gi*: the counts per area by partition of counties, the z-scores by partition of areas
    with their halo; the p-values (permutation or analytical), FDR and bins as on one
    machine. Emerging: see :func:`gridwatch.distributed.emerging.emerging_dask`.
    """
    from gridwatch.hotspots._output import aligned_values, result_frame
    from gridwatch.hotspots._run import _inference, _period_start, _variable
    from gridwatch.hotspots._weights import build_weights
    from gridwatch.hotspots.gistar import confidence_bins, fdr_bh

    if method == "emerging":
        from gridwatch.distributed.emerging import emerging_dask

        return emerging_dask(ctx, layer=layer, client=client, source=source, as_of=as_of,
                             variable=variable, period=period, partitions=partitions)
    check_dask_method(method)
    settings, layer, areas, day, variable, period = hotspot_question(
        ctx, layer=layer, method=method, as_of=as_of, variable=variable, period=period)
    listed = areas[["area_id"]]
    state, new = area_statistics_dask(
        ctx, client=client, source=source, layer=layer, partitions=partitions, areas=listed,
        periods=[(None, day), (_period_start(day, period), day)])
    ids = pd.Index(areas["area_id"].astype("str"), name="area_id")
    stats = pd.DataFrame({
        "red": state.set_index("area_id")["red"].reindex(ids).fillna(0).to_numpy("int64"),
        "open": state.set_index("area_id")["open"].reindex(ids).fillna(0).to_numpy("int64"),
        "new": new.set_index("area_id")["new"].reindex(ids).fillna(0).to_numpy("int64"),
    }, index=ids)
    values = _variable(stats, variable, settings.rate_min_problems)
    inference = _inference(settings)
    weights = build_weights(areas, kind=settings.weights, k=settings.knn_k,
                            distance_m=settings.distance_m, cache_dir=ctx.cache_dir)
    y = aligned_values(areas, values)
    centres = area_centres(areas)
    permutations = settings.permutations
    varies = bool(y.sum() != 0 and np.ptp(y) != 0)
    z, p_sim = gi_star_dask(y, weights.matrix, centres, client=client, partitions=partitions,
                            permutations=permutations if inference == "permutation" and varies
                            else 0, seed=settings.seed, cache_dir=ctx.cache_dir)
    if inference == "permutation":
        if not varies:  # nothing varies: no evidence either way (as gi_star)
            p_sim = np.ones(len(y))
        p = np.minimum(1.0, 2.0 * p_sim)
    else:
        from scipy.special import ndtr

        p = 2.0 * ndtr(-np.abs(z))
    p_fdr = fdr_bh(p)
    bins = confidence_bins(z, p, fdr=settings.fdr)
    attrs = {"method": "gistar", "weights": weights.description,
             "joined_islands": [list(pair) for pair in weights.joined_islands],
             "inference": inference, "permutations": permutations, "seed": settings.seed,
             "fdr": settings.fdr}
    result = result_frame(areas, value=y, z=z, p=p, p_fdr=p_fdr, bins=bins,
                          extra={"n_neighbours": weights.cardinalities()}, attrs=attrs)
    result.attrs.update({"layer": layer, "as_of": day.isoformat(), "variable": variable,
                         "period": period})
    return result

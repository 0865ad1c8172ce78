"""One import run: read files, place every row in every layer, store the result.

This is the only module that strings the stages together; each stage stays a pure function in its
own module. The CLI, the app and the demo call :func:`run_ingest`.
"""

from __future__ import annotations

import functools
import gc
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from gridwatch.config import Config
from gridwatch.errors import GridwatchError
from gridwatch.evidence.photos import attach_folder_photos
from gridwatch.evidence.settings import evidence_folder
from gridwatch.geocoding.gazetteer import geocode_settings
from gridwatch.geocoding.records import (
    AddressCheck,
    geocode_records,
    geocode_records_later,
    rows_to_geocode,
    with_address_check,
)
from gridwatch.geocoding.report import GeocodeReport, geocode_report
from gridwatch.ingest.records import read_issues
from gridwatch.placing.agreement import LabelCheck, compare_labels
from gridwatch.placing.assign import place_records, unassigned_counts
from gridwatch.placing.layers import load_layers, project_metric_crs
from gridwatch.schema import concat_rejects
from gridwatch.store.transactional import ImportCounts, Store
from gridwatch.supervision.context import derive_alongside, open_context

__all__ = ["RunSummary", "run_ingest", "run_validate"]

#: Called with a short message at the start of each stage.
StageReporter = Callable[[str], None]
#: Places the records in the layers: ``(records, layers, config) -> (placed, rejects)``.
Placer = Callable[[pd.DataFrame, dict[str, gpd.GeoDataFrame], Config],
                  tuple[pd.DataFrame, pd.DataFrame]]
#: Stores the placed rows as one run:
#: ``(placed, *, layers, files, rows_in, rejected, observed_at) -> ImportCounts``.
Importer = Callable[..., ImportCounts]


@dataclass(frozen=True)
class RunSummary:
    """What one import did; ``rows_in == accepted + rejected`` always holds."""

    run_id: int
    files: list[str]
    rows_in: int
    accepted: int
    rejected: int
    inserted: int
    updated: int
    unchanged: int
    status_changes: int
    duplicates: int
    swapped_fixed: int
    grid_placed: int
    grid_mismatch: int
    unassigned: dict[str, int] = field(default_factory=dict)
    reject_reasons: dict[str, int] = field(default_factory=dict)
    #: Rows older than what the store had seen of them (the newer state was kept).
    older: int = 0
    #: Rows without coordinates placed from their address (``location_flag = "geocoded"``).
    geocoded: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-ready values."""
        return asdict(self)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _cycle_collector_paused(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``func`` with Python's cycle collector paused (as it was, after): an import makes
    millions of short-lived containers, and the collector walked the live ones again and
    again (about 1.5 s of CPU in an import of a million problems)."""
    @functools.wraps(func)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


@_cycle_collector_paused
def run_ingest(
    paths: Sequence[str | os.PathLike[str]],
    *,
    config: Config,
    store: Store,
    crs: str | None = None,
    observed_at: datetime | None = None,
    layers: dict[str, gpd.GeoDataFrame] | None = None,
    progress: StageReporter | None = None,
    file_progress: Callable[[int, int], None] | None = None,
    derive: bool = True,
    placer: Placer | None = None,
    importer: Importer | None = None,
) -> tuple[RunSummary, pd.DataFrame]:
    """Read problem files, place them in every layer, and store them as one run.

    Parameters
    ----------
    paths
        Problem files (CSV/XLSX/JSON/GeoJSON/Open311, optionally .gz or .zip), read in order;
        for a duplicate issue_id the later row wins.
    config
        The project (layers, territory, input settings).
    store
        Where the run is written; one transaction, so a failure leaves it as it was.
    crs
        Coordinate system of the files when rows do not say (overrides ``[input] crs``).
    observed_at
        When the export was taken (for the status history); default now.
    layers
        Already loaded layers (as from :func:`gridwatch.placing.layers.load_layers`), to skip
        loading. progress
        Called with a message at the start of each stage.
    file_progress
        Called as ``(rows_read, rows_total)`` while files are read.
    derive
        Also derive what questions need and is fixed until the next import (deadlines,
        rebounds, incidents, status events; :meth:`SupervisionContext.derive`) and keep it
        beside the store's analytical copy: while the store writes the rows
        (:func:`~gridwatch.supervision.context.derive_alongside`), then checked against the
        committed copy. A failure there only warns: the run is stored.
    placer
        What places the rows: :func:`~gridwatch.placing.assign.place_records` (default), or
        the same on a Dask cluster (:func:`gridwatch.distributed.ingest.run_ingest_dask`).
    importer
        What stores the placed rows as one run: ``store.import_records`` (default), or its
        import of the rows the placer staged in the store instead of ``placed``.

    Returns
    -------
    summary : RunSummary
    rejects : pandas.DataFrame
        One row per rejected input row: file, row, column, value, reason.

    Raises
    ------
    InputFileError, SchemaError
        A file cannot be read or lacks the required columns (nothing is stored).
    StoreError
        The store could not be written (nothing is stored; the failed run is recorded).
    """
    say = progress or (lambda _message: None)
    say(f"reading {len(paths)} file(s)")
    # the layers load and the kernels are made ready while the files are read (reading and
    # checking hold the GIL for about one core of two); an error of either is raised as if
    # they loaded after
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gridwatch-layers") as beside:
        loading = beside.submit(load_layers, config) if layers is None else None
        kernels = beside.submit(_compile_kernels)
        result = read_issues(paths, settings=config.input, timezone=config.territory.timezone,
                             crs=crs, progress=file_progress, by_issue_id=True)
    if loading is not None:
        say(f"loading {len(config.layers)} boundary layer(s)")
        layers = loading.result()
    kernels.result()
    assert layers is not None
    read_rejects, files_read = result.rejects, [f.path for f in result.files]
    rows_in, duplicates = result.rows_in, result.duplicates
    records = result.records
    del result  # the rows as read: placing keeps what it needs of them
    folder = evidence_folder(config)
    if folder is not None:  # photos named by problem id (gridwatch.evidence)
        records = attach_folder_photos(records, folder)
    if geocode_settings(config).enabled:
        say("placing rows from their addresses")
    handed = [records]
    del records
    placed, address_rejects, place_rejects = _geocode_and_place(
        placer, handed.pop(), layers, config, store, say)
    rejects = concat_rejects(read_rejects, address_rejects, place_rejects, file_order=files_read)
    if rows_in != len(placed) + len(rejects):
        raise GridwatchError(
            f"row accounting failed: {rows_in} rows in, {len(placed)} accepted, "
            f"{len(rejects)} rejected; please report this with the input file")
    say(f"storing {len(placed):,} problem(s)")
    # what the questions derive is derived while the rows are written (then read back below)
    alongside = derive_alongside(config, store, layers) if derive else None
    flags = placed["location_flag"]
    accepted = len(placed)
    by_flag = {flag: int((flags == flag).sum()) for flag in ("swapped", "grid_point", "geocoded")}
    grid_mismatch = int(placed["grid_mismatch"].fillna(False).astype(bool).sum())
    unassigned = unassigned_counts(placed, list(layers))
    del flags
    # the store takes the placed rows over: once in its stored form, they can go
    handed = [placed]
    del placed
    counts = (importer or store.import_records)(
        handed.pop(), layers=config.layers, files=[str(p) for p in paths], rows_in=rows_in,
        rejected=len(rejects), observed_at=observed_at, alongside=alongside)
    summary = RunSummary(
        run_id=counts.run_id,
        files=[str(p) for p in paths],
        rows_in=rows_in,
        rejected=len(rejects),
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        status_changes=counts.status_changes,
        older=counts.older,
        duplicates=duplicates,
        accepted=accepted,
        swapped_fixed=by_flag["swapped"],
        grid_placed=by_flag["grid_point"],
        geocoded=by_flag["geocoded"],
        grid_mismatch=grid_mismatch,
        unassigned=unassigned,
        reject_reasons=_reason_counts(rejects),
    )
    if derive and store.analytical_copy is not None:
        say("deriving deadlines, rebounds and incidents for the questions")
        try:
            open_context(config, store=store, layers=layers).derive()
        except GridwatchError as exc:  # e.g. a setting the questions cannot use
            warnings.warn(f"run {summary.run_id} is stored, but what questions derive from it "
                          f"could not be prepared ({exc}); the first question will try again",
                          RuntimeWarning, stacklevel=2)
    return summary, rejects


def run_validate(
    paths: Sequence[str | os.PathLike[str]],
    *,
    config: Config,
    against: Sequence[tuple[str, str]],
    crs: str | None = None,
    progress: StageReporter | None = None,
) -> tuple[list[LabelCheck], pd.DataFrame, pd.DataFrame, GeocodeReport | None]:
    """Place problem files (without storing them), compare label columns with layers, and
    say what geocoding does to them.

    Parameters
    ----------
    paths
        Problem files whose rows carry area labels of their own.
    config
        The project; ``[input] keep_columns`` must keep the label columns and
        ``[validate.normalise]`` says how labels are written (see
        :mod:`gridwatch.placing.agreement`).
    against
        ``(column, layer)`` pairs, e.g. ``[("ward", "ward"), ("police_district", "police")]``.

    Returns
    -------
    checks : list of LabelCheck
        One per pair.
    disagreements : pandas.DataFrame
        The disagreeing rows of every pair, with ``column`` and ``layer`` columns.
    rejects : pandas.DataFrame
        Rows that could not be placed at all (addresses not placed: their reason names the
        best candidates).
    geocoding : GeocodeReport or None
        With ``[geocoding] enabled``: rows placed from their address per source of the
        gazetteer and precision, rejected, and checked against their coordinates (the saved
        gazetteer build and the files' own rows are matched against; no store is opened).
        The rows whose address disagrees are in ``disagreements`` with ``column =
        "address"`` and ``distance_m`` from the coordinates to the address's place.
    """
    say = progress or (lambda _message: None)
    rules = config.settings.label_rules
    for _column, layer in against:
        config.layer(layer)  # a clear error for an unknown layer before any work
    say(f"reading {len(paths)} file(s)")
    result = read_issues(paths, settings=config.input, timezone=config.territory.timezone,
                         crs=crs)
    say(f"loading {len(config.layers)} boundary layer(s)")
    layers = load_layers(config)
    records, address_rejects = result.records, None
    geocoding = None
    if geocode_settings(config).enabled:
        say("geocoding addresses")
        records, address_rejects = geocode_records(records, layers, config)
        geocoding = geocode_report(records, address_rejects)
    say(f"placing {len(records):,} row(s)")
    placed, place_rejects = place_records(records, layers, config)
    metric = project_metric_crs(config.territory.metric_crs, layers=layers, specs=config.layers)
    checks: list[LabelCheck] = []
    parts: list[pd.DataFrame] = []
    for column, layer in against:
        check, rows = compare_labels(placed, layers[layer], column=column, layer=layer,
                                     steps=rules.get(column, ()), metric_crs=metric)
        checks.append(check)
        parts.append(rows.assign(column=column, layer=layer))
    if "address_mismatch" in placed and placed["address_mismatch"].any():
        flagged = placed[placed["address_mismatch"].fillna(False).to_numpy(dtype=bool)]
        parts.append(pd.DataFrame({
            **{c: flagged[c].to_numpy() for c in ("issue_id", "source_file", "source_row",
                                                  "address", "lon", "lat") if c in flagged},
            "distance_m": flagged["address_offset_m"].to_numpy(dtype=float),
            "column": "address", "layer": ""}))
    disagreements = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    rejects = concat_rejects(result.rejects, address_rejects, place_rejects,
                             file_order=[f.path for f in result.files])
    return checks, disagreements, rejects, geocoding


def _compile_kernels() -> None:
    """Make the compiled kernels of placing and storing ready: numba compiles them the
    first time they run after installing (about 6 s at a year of Jiaxing) and loads them
    from its cache after; done beside the reading instead of in the stages that use them."""
    from gridwatch.placing import _pip
    from gridwatch.store import _bulk, _hashing

    _pip.compile_kernels()
    _hashing.compile_kernels()
    _bulk.compile_kernels()


def _geocode_and_place(placer: Placer | None, records: pd.DataFrame,
                       layers: dict[str, gpd.GeoDataFrame], config: Config, store: Store,
                       say: StageReporter) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Place the rows from their address where they have only that
    (:mod:`gridwatch.geocoding.records`), then every row in every layer: ``(placed,
    address_rejects, place_rejects)``.

    The rows with coordinates are placed while the others are placed from their address and
    every address is checked against the row's coordinates, on another thread (the two do
    not depend on each other and spend much of their time outside the GIL); the rows placed
    from their address are placed in the layers after. The same rows, columns and rejects as
    geocoding first and placing after (tested). A placer of one's own gets the rows geocoded
    and checked first.
    """
    later = rows_to_geocode(records, layers, config)
    if placer is not None or not later.any() or not records.index.is_unique:
        geocoded, address_rejects, check = geocode_records_later(records, layers, config,
                                                                 store=store)
        del records
        say(f"placing {len(geocoded):,} row(s) in {len(layers)} layer(s)")
        placed, place_rejects = _place(placer, geocoded, layers, config, check)
        return placed, address_rejects, place_rejects
    say(f"placing {len(records) - int(later.sum()):,} row(s) with coordinates in "
        f"{len(layers)} layer(s)")

    def geocode(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
        # the rows it rejects are kept (so no copy is made), with an empty source
        out, rejects, check = geocode_records_later(rows, layers, config, store=store,
                                                    drop_rejected=False)
        return out, rejects, check() if check is not None else None

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gridwatch-geocode") as beside:
        geocoding = beside.submit(geocode, records)
        placed, place_rejects = place_records(records, layers, config, left_out=later)
    del records
    geocoded, address_rejects, found = geocoding.result()
    # the rows placed from their address (rejected ones have no source) are placed now
    source = geocoded["geocode_source"].to_numpy(dtype=object, na_value="")
    placed_later, later_rejects = place_records(geocoded[later & (source != "")], layers,
                                                config)
    # the rows placed first get the columns geocoding gave every row, in the order placing
    # the geocoded rows gives them
    order = [*geocoded.columns, *(c for c in placed.columns if c not in geocoded.columns)]
    rows = geocoded.index.get_indexer(placed.index)
    for column in geocoded.columns:
        if column not in placed:
            placed[column] = geocoded[column].array.take(rows)
    del geocoded
    placed = placed[order]
    if len(placed_later):
        placed = pd.concat([placed, placed_later[order]])
        placed = placed.take(np.argsort(placed.index.to_numpy(), kind="stable"))
    if found is not None:
        placed = with_address_check(placed, found)
    return placed, address_rejects, concat_rejects(place_rejects, later_rejects)


def _place(placer: Placer | None, records: pd.DataFrame, layers: dict[str, gpd.GeoDataFrame],
           config: Config, check: AddressCheck | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Place the rows; the check of their addresses against their coordinates runs on
    another thread meanwhile (both spend much of their time outside the GIL: Arrow's string
    kernels, the compiled point-in-polygon kernel, GEOS), its results put in afterwards. A
    placer of one's own gets the rows already checked."""
    if check is not None and (placer is not None or not records.index.is_unique):
        records = with_address_check(records, check())
        check = None
    if check is None:
        return (placer or place_records)(records, layers, config)
    with ThreadPoolExecutor(max_workers=1,
                            thread_name_prefix="gridwatch-address-check") as beside:
        checking = beside.submit(check)
        placed, rejects = place_records(records, layers, config)
    return with_address_check(placed, checking.result()), rejects


def _reason_counts(rejects: pd.DataFrame) -> dict[str, int]:
    """Count rejects by the kind of reason (the text before the first colon)."""
    if rejects.empty:
        return {}
    kinds = rejects["reason"].astype(str).str.split(":", n=1).str[0].str.strip()
    return {str(k): int(v) for k, v in kinds.value_counts().sort_index().items()}

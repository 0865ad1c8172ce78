"""One supervision context: everything a supervisor's question needs, built once and shared.

:func:`open_context` reads the project file's parsed settings and the store's problems and
history; the :class:`SupervisionContext` it returns derives what does not change between
imports (deadlines, rebounds, duplicate incidents, boundary layers) on first use and keeps it.
The CLI commands, the app pages and the hotspot runner all ask the same object, so the same
question gets the same answer wherever it is asked.

Examples
--------
>>> ctx = SupervisionContext.from_frames(empty_issues(["grid"]), timezone="Asia/Shanghai")
>>> ctx.status("2024-03-01", layer="grid").empty
True
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from gridwatch.errors import ConfigError
from gridwatch.schema import CANONICAL_COLUMNS, DATETIME_COLUMNS, DEFAULT_TIMEZONE
from gridwatch.settings import Settings, default_settings

if TYPE_CHECKING:
    import geopandas as gpd

    from gridwatch.access.scope import Scope
    from gridwatch.config import Config
    from gridwatch.store import Store
    from gridwatch.store.analytical import DerivedParts
    from gridwatch.store.transactional import Alongside
    from gridwatch.supervision.events import StatusEvents

__all__ = ["SupervisionContext", "derive_alongside", "empty_issues", "open_context"]

_T = TypeVar("_T")
_F = TypeVar("_F", bound=pd.DataFrame)
#: Evaluations kept per context (one per as-of date asked; about 100 MB each at 1,000,000
#: problems).
_EVALUATIONS_KEPT = 4
#: Evaluations of dates other than :meth:`SupervisionContext._kept_days` kept beside the
#: copy once asked (the last used; about 115 MB each at 1,000,000 problems): a date asked
#: again, by the CLI or another app server, is read instead of computed.
_ASKED_EVALUATIONS_ON_DISK = 6
#: Dates whose open and overdue problems (:meth:`SupervisionContext.open_overdue`) are kept
#: beside the copy once asked: a year of weekly trends.
_OPEN_OVERDUE_ON_DISK = 60


def empty_issues(layers: Sequence[str] = ()) -> pd.DataFrame:
    """An issues frame with the canonical columns, ``<layer>_id`` per layer, and no row (a
    store before any import)."""
    columns = [*CANONICAL_COLUMNS, *(f"{name}_id" for name in layers)]
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    for column in DATETIME_COLUMNS:
        frame[column] = pd.Series(dtype="datetime64[ns, UTC]")
    for column in ("lon", "lat"):
        frame[column] = pd.Series(dtype="float64")
    return frame


@dataclass(frozen=True, eq=False)
class SupervisionContext:
    """The problems, their history and the parsed settings, with what is derived from them.

    Build it with :func:`open_context` (project file + store) or :meth:`from_frames` (frames
    at hand, e.g. in tests). Derived parts (deadlines, rebounds, incidents, layers, evaluations
    as of a date) are computed on first use and kept; a context is never modified, so it can be
    shared between threads (the app keeps one per store version).

    Attributes
    ----------
    issues
        The wide issues frame (``Store.issues()``).
    history
        The status history (``Store.history()``).
    settings
        The parsed settings of the project file.
    timezone
        The territory's time zone: local dates are read and shown in it.
    config
        The project file, when there is one (layers and the metric CRS come from it).
    last_export
        Local date of the last export imported (``runs.observed_at``), or ``None``.
    run_id
        The store's last run id (0 before any import): a key for caches of its answers.
    scope
        The areas this context sees (:meth:`scoped`); ``None``: the whole territory. Its
        text (``str(scope)``) is part of every cache key of its answers.
    """

    issues: pd.DataFrame
    history: pd.DataFrame
    settings: Settings
    timezone: str
    config: Config | None = None
    last_export: dt.date | None = None
    run_id: int = 0
    #: Where derived columns are kept between processes (the store's analytical copy).
    copy: DerivedParts | None = field(default=None, repr=False)
    scope: Scope | None = None
    #: Deadline extensions of single problems (:mod:`gridwatch.supervision.extensions`),
    #: kept in the ledger's events; ``None``: none.
    extensions: pd.DataFrame | None = field(default=None, repr=False)
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def from_frames(cls, issues: pd.DataFrame, history: pd.DataFrame | None = None, *,
                    config: Config | None = None, settings: Settings | None = None,
                    timezone: str | None = None,
                    layers: Mapping[str, gpd.GeoDataFrame] | None = None,
                    last_export: dt.date | None = None, run_id: int = 0,
                    rebounds: pd.DataFrame | None = None,
                    incidents: pd.DataFrame | None = None,
                    copy: DerivedParts | None = None,
                    extensions: pd.DataFrame | None = None) -> SupervisionContext:
        """A context over frames at hand.

        Parameters
        ----------
        issues, history
            The wide issues frame and its status history (empty when omitted).
        config
            The project file; its settings and time zone are used unless given here.
        settings, timezone
            Override the project file's (defaults without one).
        layers
            Boundary layers already loaded (name -> layer frame); read from the project file
            on first use otherwise.
        last_export, run_id
            See the class attributes.
        rebounds, incidents
            Rebounds and incidents already found (same index as ``issues``); derived on first
            use otherwise.
        copy
            The store's analytical copy, where derived parts are kept for the run ``run_id``.
        extensions
            Deadline extensions of problems (``issue_id``, ``approved_on``, ``new_deadline``,
            ``id``; :mod:`gridwatch.supervision.extensions`).
        """
        if history is None:
            history = pd.DataFrame(columns=["issue_id", "previous_status", "status",
                                            "changed_at"])
        if settings is None:
            settings = config.settings if config is not None else default_settings()
        if timezone is None:
            timezone = config.territory.timezone if config is not None else DEFAULT_TIMEZONE
        ctx = cls(issues=issues, history=history, settings=settings, timezone=timezone,
                  config=config, last_export=last_export, run_id=run_id, copy=copy,
                  extensions=extensions if extensions is not None and len(extensions) else None)
        if layers is not None:
            ctx._memo["layers"] = dict(layers)
        if rebounds is not None:
            ctx._memo["rebounds"] = rebounds
        if incidents is not None:
            ctx._memo["incidents"] = incidents
        return ctx

    # --- derived once --------------------------------------------------------------------

    def _once(self, key: Any, compute: Callable[[], _T]) -> _T:
        with self._lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]  # type: ignore[no-any-return]

    def _derived(self, name: str, compute: Callable[[], pd.DataFrame],
                 settings: Callable[[], tuple[Any, ...]]) -> pd.DataFrame:
        """A derived frame (same index as :attr:`issues`), kept in this context and, when
        the context came from a store, beside the store's analytical copy: computed once per
        store run and settings, not once per question."""
        def load_or_compute() -> pd.DataFrame:
            from gridwatch.store.analytical import settings_key

            key = f"{name}-{settings_key(*settings())}"
            if self.copy is not None:
                stored = self.copy.read_derived(self.run_id, key)
                if stored is not None and len(stored) == len(self.issues):
                    return _from_columns(stored, self.issues.index)
            frame = compute()
            if self.copy is not None:
                self.copy.write_derived(self.run_id, key, _to_columns(frame))
            return frame
        return self._once(name, load_or_compute)

    @property
    def metric_crs(self) -> str | None:
        """The metric CRS for distances, by the project's one rule
        (:func:`gridwatch.placing.layers.project_metric_crs`): ``[territory] metric_crs``, else
        the zone of the territory's layers, else of the problems; ``None`` when there is
        nothing to choose from (no project, no problem)."""
        def compute() -> str | None:
            from gridwatch.errors import CRSError
            from gridwatch.placing.layer_files import layer_bounds, project_metric_crs

            config = self.config
            layers = self._memo.get("layers") or {}
            bounds: dict[str, Any] = {}
            if config is None:
                specs, configured = None, None
            else:
                specs = config.layers
                configured = config.territory.metric_crs
                if not configured and not layers:
                    # the territory's (admin) layers only, by their bounds: no geometry read
                    wanted = config.layers_of_kind("admin") or \
                        [s for s in config.layers if s.parent is None]
                    bounds = {s.name: layer_bounds(s) for s in wanted}
            lon, lat = self.issues.get("lon"), self.issues.get("lat")
            try:
                return project_metric_crs(configured, layers=layers, specs=specs, lon=lon,
                                          lat=lat, bounds=bounds)
            except CRSError:
                return None
        return self._once("metric_crs", compute)

    @property
    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Every boundary layer of the project file, in WGS84 (empty without a project)."""
        def compute() -> dict[str, gpd.GeoDataFrame]:
            from gridwatch.placing.layers import load_layers

            loaded = dict(load_layers(self.config)) if self.config is not None else {}
            if self.scope is None:
                return loaded
            return {name: self._in_scope(name, frame) for name, frame in loaded.items()}
        return self._once("layers", compute)

    def areas(self, layer: str) -> gpd.GeoDataFrame | None:
        """The areas of ``layer`` (to list areas with no problem), when the project has it.

        Only that layer is read when the layers were not loaded yet.
        """
        loaded = self._memo.get("layers")
        if loaded is not None:
            return loaded.get(layer)
        config = self.config
        if config is None or layer not in {s.name for s in config.layers}:
            return None

        def compute() -> gpd.GeoDataFrame:
            from gridwatch.placing.layers import read_layer

            return self._in_scope(layer, read_layer(config.layer(layer)))
        return self._once(("layer", layer), compute)

    def area_table(self, layer: str) -> pd.DataFrame | None:
        """The areas of ``layer`` without their outlines (``area_id``, ``area_name``, ...), for
        tables that list every area: read without geometry when the layers are not loaded."""
        loaded = self._memo.get("layers")
        if loaded is not None:
            frame = loaded.get(layer)
            return None if frame is None else _without_geometry(frame)
        config = self.config
        if config is None or layer not in {s.name for s in config.layers}:
            return None
        if ("layer", layer) in self._memo:
            return _without_geometry(self._memo[("layer", layer)])

        def compute() -> pd.DataFrame:
            from gridwatch.placing.layer_files import read_layer_table

            return self._in_scope(layer, read_layer_table(config.layer(layer)))
        return self._once(("layer table", layer), compute)

    # --- the scope ---------------------------------------------------------------------------

    def scoped(self, scope: Scope | None) -> SupervisionContext:
        """The same context seeing only the problems of ``scope``: the one place where a
        user's scope chooses rows. Every question asked of the result (status, league,
        reminders, review, hotspots, maps, lists, exports, Open311) sees only problems whose
        area of the scope's layer is one of the scope's areas; its layers hold only the areas
        in scope (so hotspot neighbours outside it are neither used nor shown); the history
        and the ids of linked problems outside it are dropped.

        Parameters
        ----------
        scope
            ``None`` or the whole territory: this context itself.

        Raises
        ------
        ConfigError
            When the scope's layer is not a layer of the project (or of the store).
        """
        if scope is None or scope.whole:
            return self
        if self.scope is not None and not self.scope.whole:
            raise ValueError("a scoped context cannot be scoped again; scope the full one")
        column = f"{scope.layer}_id"
        if column not in self.issues:
            known = [c[:-3] for c in self.issues.columns if c.endswith("_id")
                     and c != "issue_id"]
            raise ConfigError(f"scope {str(scope)!r}: layer {scope.layer!r} is not a layer of "
                              f"the project; layers: {', '.join(known) or '(none)'}")
        if self.copy is not None:
            _ = self.events  # read from the copy once, then cut to the scope
        codes, uniques = self.area_codes(str(scope.layer))
        allowed = np.isin(uniques.astype(str), np.asarray(scope.areas, dtype=str))
        mask = np.zeros(len(codes), dtype=bool)
        inside = codes >= 0
        mask[inside] = allowed[codes[inside]]
        sub = replace(self.restrict(mask, always_copy=True), scope=scope)
        ids = sub.issues["issue_id"].astype("str")
        history = self.history
        if "issue_id" in history and len(history):
            sub = replace(sub, history=history.loc[_among(history["issue_id"], ids)])
        rebounds = sub._memo["rebounds"]
        if "rebound_of" in rebounds:
            outside = rebounds["rebound_of"].notna().to_numpy() & \
                ~_among(rebounds["rebound_of"], ids)
            if outside.any():
                rebounds = rebounds.copy()
                rebounds.loc[outside, "rebound_of"] = pd.NA
                sub._memo["rebounds"] = rebounds
        incidents = sub._memo.get("incidents")
        if incidents is not None and "incident_id" in incidents:
            outside = incidents["incident_id"].notna().to_numpy() & \
                ~_among(incidents["incident_id"], ids)
            if outside.any():  # named after a report in scope, not one outside it
                first = ids.groupby(incidents["incident_id"].to_numpy()).transform("first")
                incidents = incidents.copy()
                incidents.loc[outside, "incident_id"] = first.loc[outside]
                sub._memo["incidents"] = incidents
        loaded = sub._memo.pop("layers", None)
        if loaded is not None:  # the areas in scope of the layers at hand
            sub._memo["layers"] = {name: sub._in_scope(name, frame)
                                   for name, frame in loaded.items()}
        return sub

    def area_ids_in_scope(self, layer: str) -> np.ndarray | None:
        """The area ids of ``layer`` this context may show, or ``None`` for all of them.

        The scope's own areas for its layer; for a layer nested below it (``parent`` chain
        of the project file), the areas whose ancestor is one of them; for any other layer
        (a basin, a redline zone, a coarser level), the areas that hold a problem in scope.
        """
        scope = self.scope
        if scope is None or scope.whole:
            return None

        def compute() -> np.ndarray:
            ids: set[str] = set()
            column = f"{layer}_id"
            if column in self.issues:
                ids.update(self.issues[column].dropna().astype(str).unique())
            if layer == scope.layer:
                return np.asarray(sorted(scope.areas), dtype=object)
            chain = self._parent_chain(layer)
            if scope.layer in chain:
                allowed = set(scope.areas)
                for name in reversed(chain[:chain.index(scope.layer)]):
                    table = self._parents(name)
                    allowed = set(table.loc[table["parent_id"].isin(allowed),
                                            "area_id"].astype(str))
                ids |= allowed
            return np.asarray(sorted(ids), dtype=object)
        return self._once(("in scope", layer), compute)

    def _parent_chain(self, layer: str) -> list[str]:
        """``layer`` and its ancestors by the project's ``parent`` keys."""
        chain: list[str] = []
        config = self.config
        names = {s.name for s in config.layers} if config is not None else set()
        name: str | None = layer
        while config is not None and name in names and name not in chain:
            chain.append(name)
            name = config.layer(name).parent
        return chain

    def _parents(self, layer: str) -> pd.DataFrame:
        """``area_id`` and ``parent_id`` of every area of ``layer`` (the whole layer)."""
        config = self.config
        assert config is not None
        spec = config.layer(layer)
        if spec.parent_field is not None:
            from gridwatch.placing.layer_files import read_layer_table

            frame = read_layer_table(spec)
        else:  # parents found spatially, by reading the layers
            from gridwatch.placing.layers import load_layers

            frame = load_layers(config)[layer]
        return pd.DataFrame({"area_id": frame["area_id"].astype(str),
                             "parent_id": frame["parent_id"].astype(str)})

    def _in_scope(self, layer: str, frame: _F) -> _F:
        """The areas of a layer frame inside the scope (:meth:`area_ids_in_scope`)."""
        ids = self.area_ids_in_scope(layer)
        if ids is None:
            return frame
        keep = frame["area_id"].astype(str).isin(ids).to_numpy()
        return frame.loc[keep].reset_index(drop=True)  # type: ignore[no-any-return]

    @property
    def deadlines(self) -> pd.DataFrame:
        """Derived deadlines of every problem (:func:`derive_deadlines`)."""
        def compute() -> pd.DataFrame:
            from gridwatch.supervision.deadlines import derive_deadlines

            return derive_deadlines(self.issues, self.settings.deadlines, timezone=self.timezone)
        return self._derived("deadlines", compute,
                             lambda: (self.settings.deadlines, self.timezone))

    @property
    def rebounds(self) -> pd.DataFrame:
        """Rebounds (:func:`find_rebounds`), same index as :attr:`issues`."""
        def compute() -> pd.DataFrame:
            from gridwatch.supervision.rebound import find_rebounds

            return find_rebounds(self.issues, self.settings.rebound, metric_crs=self.metric_crs)
        return self._derived("rebounds", compute,
                             lambda: (self.settings.rebound, self.metric_crs))

    @property
    def incidents(self) -> pd.DataFrame | None:
        """Duplicate incidents (:func:`group_incidents`), or ``None`` when the statistics count
        reports (``[supervision] count_incidents = false``)."""
        if not self.settings.asof.count_incidents:
            return None

        def compute() -> pd.DataFrame:
            from gridwatch.supervision.incidents import group_incidents

            return group_incidents(self.issues, self.settings.duplicates,
                                   metric_crs=self.metric_crs)
        return self._derived("incidents", compute,
                             lambda: (self.settings.duplicates, self.metric_crs))

    def area_codes(self, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """Each problem's area of ``layer`` as an integer code, and the area ids in code order
        (:func:`gridwatch.supervision.aggregate.area_factors`), kept per layer."""
        from gridwatch.supervision.aggregate import area_factors

        column = f"{layer}_id"
        if column not in self.issues:  # area_statistics says which layers there are
            return area_factors(pd.DataFrame({column: pd.Series(dtype="str")}), layer)
        return self._once(("area_codes", layer), lambda: area_factors(self.issues, layer))

    def derive(self) -> None:
        """Compute and keep every derived part now (deadlines, rebounds, incidents, status
        events, the evaluation as of the last export): an import calls it, so the first
        question after the import does not pay for them."""
        _ = self.deadlines, self.rebounds, self.incidents, self.events
        if self.last_export is not None:
            self.evaluate(self.last_export)  # kept beside the copy: the day's first question
            # the app's first view compares the open and overdue with a week before
            self.open_overdue(self.last_export - dt.timedelta(days=7))

    def counted(self) -> pd.Series:
        """Which problems the statistics count: all of them, or only the first report of each
        duplicate incident when ``[supervision] count_incidents`` is on (same index as
        :attr:`issues`). Figures shown anywhere are counted over these rows."""
        from gridwatch.supervision.incidents import incident_primary

        def compute() -> pd.Series:
            incidents = self.incidents
            if incidents is None:
                return pd.Series(True, index=self.issues.index)
            return pd.Series(incident_primary(incidents), index=self.issues.index)
        return self._once("counted", compute)

    @property
    def events(self) -> StatusEvents:
        """The status history sorted once into arrays (state as of any date is a pass over
        them); kept beside the analytical copy like the other derived parts."""
        def compute() -> StatusEvents:
            from gridwatch.store.analytical import settings_key
            from gridwatch.supervision.events import StatusEvents, status_events

            key = f"events-{settings_key('events', len(self.issues), len(self.history))}"
            if self.copy is not None:
                stored = self.copy.read_derived(self.run_id, key)
                if stored is not None:
                    return StatusEvents.from_frame(stored, n=len(self.issues))
            events = status_events(self.issues["issue_id"], self.history)
            if self.copy is not None:
                self.copy.write_derived(self.run_id, key, events.to_frame())
            return events
        return self._once("events", compute)

    def evaluate(self, as_of: Any) -> pd.DataFrame:
        """Codes of every problem as of the end of a local date (:func:`evaluate_as_of`)."""
        from gridwatch.supervision.codes import evaluate_as_of, parse_as_of

        day = parse_as_of(as_of)
        key = ("evaluate", day)
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        result = self._kept_evaluation(day)
        if result is None:
            deadlines, local_days = self._deadlines_as_of(day)
            result = evaluate_as_of(self.issues, as_of=day, history=self.history,
                                    deadlines=deadlines,
                                    deadline_settings=self.settings.deadlines,
                                    settings=self.settings.asof, timezone=self.timezone,
                                    events=self.events, local_days=local_days)
            if self.copy is not None:
                self._keep_evaluation(day, result)
        with self._lock:
            kept = [k for k in self._memo if isinstance(k, tuple) and k[0] == "evaluate"]
            for old in kept[: max(len(kept) - _EVALUATIONS_KEPT + 1, 0)]:
                del self._memo[old]
            self._memo[key] = result
        return result

    def _local_days(self) -> dict[str, np.ndarray]:
        """Local dates of the derived deadlines and of the reports, kept: every evaluation
        and the weekly overdue states use them."""
        from gridwatch.supervision.calendar import local_dates

        return {
            "deadline": self._once("due_days", lambda: local_dates(self.deadlines["deadline"],
                                                                   self.timezone)),
            "reported_at": self._once("reported_days", lambda: local_dates(
                self.issues["reported_at"], self.timezone)),
        }

    def _deadlines_as_of(self, day: dt.date) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        """The derived deadlines and the local days of :meth:`_local_days` as of ``day``:
        with the extensions of problems approved by then (the same objects without any)."""
        local_days = self._local_days()
        if self.extensions is None:
            return self.deadlines, local_days
        from gridwatch.supervision.extensions import apply_extensions

        deadlines, due, _ = apply_extensions(self._extension_positions(), self.extensions,
                                             day, self.deadlines, local_days["deadline"],
                                             timezone=self.timezone)
        return deadlines, {**local_days, "deadline": due}

    def _extension_positions(self) -> np.ndarray:
        """The position of each extension's problem among :attr:`issues` (-1: not here)."""
        def compute() -> np.ndarray:
            assert self.extensions is not None
            wanted = self.extensions["issue_id"].astype("str")
            # hash the few extended ids, not the million problems
            rows = np.flatnonzero(_among(self.issues["issue_id"], wanted))
            found = pd.Index(self.issues["issue_id"].iloc[rows].astype("str").to_numpy(
                dtype=object)).get_indexer(wanted.to_numpy(dtype=object))
            return np.where(found >= 0, rows[np.maximum(found, 0)], -1).astype("int64")
        return self._once("extension_positions", compute)

    def _evaluation_key(self, day: dt.date) -> str:
        return "evaluation-" + self._day_key(day)

    def _day_key(self, day: dt.date) -> str:
        """What keys a part kept beside the copy for a date: the date and the settings and
        extensions its codes depend on."""
        from gridwatch.store.analytical import settings_key
        from gridwatch.supervision.extensions import extension_key

        # the ledger's extensions are not part of the store's run: they key it too
        extended = extension_key(self.extensions)
        return settings_key(day.isoformat(), self.settings.deadlines, self.settings.asof,
                            self.timezone, *((extended,) if extended else ()))

    def _kept_days(self) -> tuple[dt.date, ...]:
        """The dates whose evaluation is kept beside the copy once computed: the last export
        (:meth:`derive` computes it: the app's first view and the day's questions) and the
        Sundays ending the last complete ISO week by then and the week before (the weekly
        league, 周亮晒, ranks the one against the other: asked many times a week)."""
        if self.last_export is None:
            return ()
        sunday = self.last_export - dt.timedelta(days=(self.last_export.isoweekday() % 7))
        return tuple(dict.fromkeys((self.last_export, sunday, sunday - dt.timedelta(days=7))))

    def _keep_evaluation(self, day: dt.date, result: pd.DataFrame) -> None:
        """Keep an evaluation beside the copy: always for :meth:`_kept_days`, else among the
        last :data:`_ASKED_EVALUATIONS_ON_DISK` dates asked."""
        assert self.copy is not None
        self.copy.write_derived(self.run_id, self._evaluation_key(day), result)
        if day not in self._kept_days():
            self.copy.forget_derived(
                self.run_id, "evaluation-",
                keep={self._evaluation_key(kept) for kept in self._kept_days()},
                most=_ASKED_EVALUATIONS_ON_DISK)

    def _kept_evaluation(self, day: dt.date) -> pd.DataFrame | None:
        """The evaluation as of ``day`` kept beside the copy (by :meth:`derive` for
        :meth:`_kept_days`, else when it was last asked), or ``None``."""
        if self.copy is None:
            return None
        stored = self.copy.read_derived(self.run_id, self._evaluation_key(day))
        if stored is None or len(stored) != len(self.issues):
            return None
        from gridwatch.supervision.calendar import (
            local_dates,
            one_calendar_warning,
            warn_uncovered,
        )

        with one_calendar_warning():  # the warning computing it would have given
            warn_uncovered(np.array([day], dtype="datetime64[D]"),
                           local_dates(stored["deadline"], self.timezone),
                           stored["next_review"].to_numpy(dtype="datetime64[D]"))
        return stored.set_axis(self.issues.index)

    def overdue(self, as_of: Any) -> np.ndarray:
        """Which problems are red (open and past their deadline) as of a local date: the
        ``code == "red"`` of :meth:`evaluate`, without the rest of the evaluation (for series
        of dates, such as the weekly trend)."""
        return self.open_overdue(as_of)[2]

    def open_overdue(self, as_of: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``known``, ``is_open`` and red (``code == "red"``) of :meth:`evaluate` as of a local
        date, without the rest of the evaluation (e.g. the app's change against a week
        before)."""
        from gridwatch.supervision.calendar import local_dates
        from gridwatch.supervision.codes import as_of_cutoff, parse_as_of, state_arrays

        day = parse_as_of(as_of)
        key = "open-overdue-" + self._day_key(day)
        if self.copy is not None:
            stored = self.copy.read_derived(self.run_id, key)
            if stored is not None and len(stored) == len(self.issues):
                return (stored["known"].to_numpy(dtype=bool),
                        stored["is_open"].to_numpy(dtype=bool),
                        stored["red"].to_numpy(dtype=bool))
        known, _, closed, _ = state_arrays(self.issues, as_of_cutoff(day, self.timezone),
                                           self.history, events=self.events, with_status=False)
        due = self._once("due_days", lambda: local_dates(self.deadlines["deadline"],
                                                         self.timezone))
        if self.extensions is not None:
            due = self._deadlines_as_of(day)[1]["deadline"]
        is_open = known & ~closed
        red: np.ndarray = is_open & ~np.isnat(due) & (due < np.datetime64(day, "D"))
        if self.copy is not None:  # 3 bytes a problem: the weeks of the trends, a week before
            self.copy.write_derived(self.run_id, key, pd.DataFrame(
                {"known": known, "is_open": is_open, "red": red}))
            self.copy.forget_derived(self.run_id, "open-overdue-", keep=set(),
                                     most=_OPEN_OVERDUE_ON_DISK)
        return known, is_open, red

    def restrict(self, keep: pd.Series | np.ndarray, *, always_copy: bool = False,
                 evaluations: Mapping[dt.date, pd.DataFrame] | None = None
                 ) -> SupervisionContext:
        """The same context over a subset of the problems (a filter of the app).

        Rebounds and incidents are those found among all problems, restricted to the subset,
        so a filter does not change what counts as a rebound. The scope is kept.
        ``evaluations``: the subset's evaluations already at hand by local date (gathered
        from a cluster; the columns its questions read), answered by :meth:`evaluate`
        instead of computing them.
        """
        mask = np.asarray(keep, dtype=bool)
        if mask.shape != (len(self.issues),):
            raise ValueError(f"keep has {mask.size} values for {len(self.issues)} problems")
        if mask.all() and not always_copy and not evaluations:
            return self  # nothing filtered out: share what is already derived
        sub = replace(self, issues=self.issues.loc[mask], copy=None, _memo={},
                      _lock=threading.RLock())
        for name in ("deadlines", "rebounds"):
            sub._memo[name] = getattr(self, name).loc[mask]
        incidents = self.incidents
        if incidents is not None:
            sub._memo["incidents"] = incidents.loc[mask]
        if "events" in self._memo:
            sub._memo["events"] = self._memo["events"].subset(mask)
        for key, value in list(self._memo.items()):  # evaluations at hand, cut to the subset
            if isinstance(key, tuple) and key[0] == "evaluate":
                sub._memo[key] = value.loc[mask]
        for name in ("layers", "metric_crs"):
            if name in self._memo:
                sub._memo[name] = self._memo[name]
        from gridwatch.supervision.codes import parse_as_of

        for day, evaluated in (evaluations or {}).items():
            if not evaluated.index.equals(sub.issues.index):
                raise ValueError(f"the evaluation as of {day} is not of the subset's problems")
            sub._memo[("evaluate", parse_as_of(day))] = evaluated
        return sub

    # --- the questions ---------------------------------------------------------------------

    def status(self, as_of: Any, *, layer: str) -> pd.DataFrame:
        """Red/yellow/green counts per area of ``layer`` as of a local date (红黄绿码)."""
        from gridwatch.supervision.aggregate import area_statistics

        return area_statistics(self.issues, self.evaluate(as_of), layer=layer, end=as_of,
                               rebounds=self.rebounds, incidents=self.incidents,
                               areas=self.area_table(layer), timezone=self.timezone,
                               area_codes=self.area_codes(layer))

    def league(self, week: str, *, layer: str) -> pd.DataFrame:
        """The weekly league table of ``layer`` (周亮晒)."""
        from gridwatch.supervision.league import league_for_week

        return league_for_week(self, week, layer=layer)

    def reminders(self, as_of: Any) -> pd.DataFrame:
        """Reminders per responsible unit with their escalation (一函两单)."""
        from gridwatch.supervision.codes import parse_as_of
        from gridwatch.supervision.remind import reminder_list

        day = parse_as_of(as_of)
        return reminder_list(self.issues, self.evaluate(day), as_of=day,
                             settings=self.settings.escalation, timezone=self.timezone)

    def review(self, month: str, *, layer: str | None = None) -> dict[str, pd.DataFrame]:
        """The monthly review tables (月复盘); ``layer`` defaults to :meth:`review_layer`."""
        from gridwatch.supervision.review import monthly_review

        return monthly_review(self, month, layer=layer or self.review_layer())

    def hotspots(self, *, layer: str | None, method: str, as_of: Any = None,
                 variable: str | None = None, period: str | None = None) -> gpd.GeoDataFrame:
        """One hotspot method as of a local date (default: the last day a problem was
        reported); see :func:`gridwatch.hotspots.run_hotspots`."""
        from gridwatch.hotspots import run_hotspots

        return run_hotspots(self, layer=layer, method=method, as_of=as_of, variable=variable,
                            period=period)

    def review_layer(self) -> str:
        """The layer of the review's area tables: the last admin layer (e.g. town), else the
        last area layer."""
        specs = self.config.layers if self.config is not None else ()
        admin = [s.name for s in specs if s.kind == "admin"]
        other = [s.name for s in specs if s.kind not in ("redline", "zone")]
        names = admin or other
        if not names:
            raise ConfigError("a layer is required when the project declares no area layer "
                              "(give --layer)")
        return names[-1]

    def last_report_date(self) -> dt.date | None:
        """Local date of the latest report, or ``None`` when there is no problem."""
        reported = self.issues["reported_at"].dropna()
        if reported.empty:
            return None
        last: dt.date = reported.max().tz_convert(self.timezone).date()
        return last

    @property
    def cache_dir(self) -> Path | None:
        """Folder of the hotspot weights cache (``[hotspots] cache_dir`` under the project)."""
        folder = self.settings.hotspots.cache_dir
        if not folder or self.config is None:
            return None
        return self.config.root / folder


def open_context(config: Config | None, db_url: str | None = None, *,
                 store: Store | None = None,
                 layers: Mapping[str, gpd.GeoDataFrame] | None = None,
                 progress: Callable[[str], None] | None = None,
                 scope: Scope | None = None) -> SupervisionContext:
    """Read the store and build the supervision context of a project.

    Parameters
    ----------
    config
        The project file (``None``: default settings, no layers, the default time zone).
    db_url
        The store's URL; default: the project file's ``[store] url``, else the embedded
        SQLite file ``data/gridwatch.sqlite`` under the working folder. Ignored when ``store``
        is given.
    store
        An open store to read instead.
    layers
        Boundary layers already loaded, to skip loading them again.
    progress
        Called with a short message before each slow step.
    scope
        The areas the context may see (:meth:`SupervisionContext.scoped`); default the
        whole territory.

    Returns
    -------
    SupervisionContext
    """
    from gridwatch.config import default_store_url
    from gridwatch.store import Store

    say = progress or (lambda message: None)
    names = [s.name for s in config.layers] if config is not None else None
    if store is None:
        url = db_url or (config.store_url if config is not None else None) or \
            default_store_url()
        with Store(url) as opened:
            say("reading the store")
            return _from_store(opened, config, names, layers).scoped(scope)
    say("reading the store")
    return _from_store(store, config, names, layers).scoped(scope)


def _from_store(store: Store, config: Config | None, names: list[str] | None,
                layers: Mapping[str, gpd.GeoDataFrame] | None) -> SupervisionContext:
    issues, history, _ = store.analytical(layers=names)
    runs = store.runs()
    run_id = int(runs["run_id"].max()) if len(runs) else 0
    from gridwatch.store.ledger import problem_extensions

    return SupervisionContext.from_frames(issues, history, config=config, layers=layers,
                                          last_export=_last_export(runs, config), run_id=run_id,
                                          copy=store.analytical_copy,
                                          extensions=problem_extensions(store))


def _last_export(runs: pd.DataFrame, config: Config | None,
                 also: dt.datetime | None = None) -> dt.date | None:
    """The local day of the latest export the runs observed (and ``also``)."""
    timezone = config.territory.timezone if config is not None else DEFAULT_TIMEZONE
    observed = runs["observed_at"].dropna() if "observed_at" in runs else pd.Series([])
    if also is not None:
        moment = pd.Timestamp(also)
        moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment
        observed = pd.concat([observed, pd.Series([moment.tz_convert("UTC")])],
                             ignore_index=True) if len(observed) else pd.Series([moment])
    return observed.max().tz_convert(timezone).date() if len(observed) else None


def derive_alongside(config: Config | None, store: Store,
                     layers: Mapping[str, gpd.GeoDataFrame] | None = None) -> Alongside:
    """What an import derives for the questions while its rows are written
    (``Store.import_records(..., alongside=...)``): the context :func:`open_context` will read
    after the import, built from the copy's frames before they are in place, derives every
    part (:meth:`SupervisionContext.derive`) into memory; the parts are written beside the
    copy once it is."""
    from gridwatch.store.analytical import AnalyticalCopy, DerivedBuffer
    from gridwatch.store.ledger import problem_extensions
    from gridwatch.store.transactional import with_layer_columns

    names = [s.name for s in config.layers] if config is not None else []

    def alongside(issues: pd.DataFrame, history: pd.DataFrame, run_id: int,
                  observed_at: dt.datetime) -> Callable[[AnalyticalCopy], object]:
        buffer = DerivedBuffer(run_id)
        ctx = SupervisionContext.from_frames(
            with_layer_columns(issues, names), history, config=config, layers=layers,
            last_export=_last_export(store.runs(), config, also=observed_at), run_id=run_id,
            copy=buffer, extensions=problem_extensions(store))
        ctx.derive()
        return buffer.flush
    return alongside


def _among(values: pd.Series, members: pd.Series) -> np.ndarray:
    """Which ``values`` are among ``members`` (strings; missing values are not): a hash
    lookup in Arrow, as pandas' ``isin`` of Arrow strings walks the values in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.is_in(pa.array(values.astype("str"), type=pa.large_string()),
                     value_set=pa.array(members.astype("str"), type=pa.large_string()))
    return np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _without_geometry(frame: pd.DataFrame) -> pd.DataFrame:
    """A layer's columns but its geometry, as a plain frame."""
    keep = [c for c in frame.columns if str(frame[c].dtype) != "geometry"]
    return pd.DataFrame(frame[keep])


def _to_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A derived frame in a form the copy reads back fast: the tuples of staged milestones as
    one column of UTC nanoseconds per milestone position (``milestone_0``, ...; -1 for
    none)."""
    out = frame.reset_index(drop=True)
    if "milestones" not in out:
        return out
    values = out["milestones"].to_numpy(dtype=object)
    lengths = np.fromiter(map(len, values), dtype="int64", count=len(values))
    columns = {}
    for k in range(int(lengths.max(initial=0))):
        column = np.full(len(values), -1, dtype="int64")
        rows = np.flatnonzero(lengths > k)
        column[rows] = [pd.Timestamp(values[i][k]).value for i in rows]
        columns[f"milestone_{k}"] = column
    return out.drop(columns="milestones").assign(**columns)


def _from_columns(frame: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """The inverse of :func:`_to_columns`, on the index of the problems: milestones as arrays
    of UTC nanoseconds (what reads them, ``codes._milestones_passed``, takes both)."""
    out = frame.set_axis(index)
    positions = [c for c in out.columns if c.startswith("milestone_")]
    if not positions and "deadline" not in out:
        return out
    stamps = out[positions].to_numpy(dtype="int64") if positions else \
        np.empty((len(out), 0), dtype="int64")
    lengths = (stamps >= 0).sum(axis=1)
    values = np.empty(len(out), dtype=object)
    values.fill(np.empty(0, dtype="int64"))  # one shared empty array: no milestones
    for length in np.unique(lengths[lengths > 0]):  # rows with as many milestones at once
        rows = np.flatnonzero(lengths == length)
        values[rows] = pd.Series(list(stamps[rows, :length]), dtype=object).to_numpy()
    return out.drop(columns=positions).assign(milestones=values)

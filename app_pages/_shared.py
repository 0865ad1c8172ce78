"""Streamlit glue shared by the pages: cached data, the supervision context, the sidebar
(the project at the app's edge is :mod:`app_pages._project`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st

from app_pages._project import Project, config, lang_from_url, project
from gridwatch.access import WHOLE, Scope, User, log_action
from gridwatch.config import Config
from gridwatch.schema import CATEGORIES, SOURCES, STATUSES
from gridwatch.supervision.context import SupervisionContext, open_context
from gridwatch.ui import views
from gridwatch.ui.i18n import LANGUAGES, code_label, tr
from gridwatch.ui.memo import Recent

BASE_URL = "/app/static/gridwatch"
_T = TypeVar("_T")


@st.cache_resource(show_spinner=False)
def layers(path: str) -> dict[str, gpd.GeoDataFrame]:
    """Every boundary layer, in WGS84 (for an import; views read only their layers)."""
    from gridwatch.placing.layers import load_layers

    return load_layers(config(path))


@st.cache_resource(show_spinner=False)
def layer(path: str, name: str) -> gpd.GeoDataFrame:
    """One boundary layer, in WGS84, read when first shown (92,600 micro-grids are not read
    for a view of towns)."""
    from gridwatch.placing.layers import read_layer

    spec = config(path).layer(name)
    if spec.parent is not None and spec.parent_field is None:
        return layers(path)[name]  # parents found from the parent layer's shapes
    return read_layer(spec)


@st.cache_resource(show_spinner=False)
def view_layer(path: str, name: str) -> gpd.GeoDataFrame:
    """A layer simplified for display (tolerance by its kind)."""
    kind = config(path).layer(name).kind
    return views.simplify_layer(layer(path, name), views.SIMPLIFY_M.get(kind, 20.0))


@st.cache_resource(show_spinner=False)
def outlines(path: str, name: str) -> pd.Series:
    """GeoJSON text of each displayed outline of a layer, by area id (written once)."""
    from gridwatch.ui.maps import geometry_json

    shapes = view_layer(path, name)
    return pd.Series(geometry_json(shapes), index=shapes["area_id"].astype("str").to_numpy())


def _layer_table(path: str, name: str) -> pd.DataFrame:
    """A layer's ids, names and other columns without its outlines: read from the layer's
    cached form without decoding a geometry (92,600 micro-grids), unless its parents come
    from the parent layer's shapes."""
    from gridwatch.placing.layer_files import read_layer_table

    spec = config(path).layer(name)
    if spec.parent is not None and spec.parent_field is None:
        return layers(path)[name]
    return read_layer_table(spec)


@st.cache_resource(show_spinner=False)
def area_names(path: str, name: str) -> dict[str, str]:
    """Area id → name of a layer."""
    frame = _layer_table(path, name)
    return dict(zip(frame["area_id"].astype("str"), frame["area_name"].astype("str"),
                    strict=True))


@st.cache_resource(show_spinner=False)
def area_choices(path: str, name: str) -> dict[str, str]:
    """The sidebar's choices of a layer (:func:`views.area_options`)."""
    return views.area_options(_layer_table(path, name))


_WARMED: set[str] = set()


#: Seconds between the end of the first view's script and the outlines' preparation.
WARM_AFTER_S = 2.0
_STOP_WARMING = threading.Event()


def stop_warming(timeout_s: float = 30.0) -> None:
    """Stop the background preparation of :func:`warm_outlines` and wait for it (the tests
    call it after each test, so no preparation runs during the next one)."""
    _STOP_WARMING.set()
    try:
        for thread in threading.enumerate():
            if thread.name == "gridwatch-outlines":
                thread.join(timeout_s)
    finally:
        _STOP_WARMING.clear()


def warm_outlines(path: str) -> None:
    """Prepare the outlines and choices of every city level, and the area names of the lists,
    in the background once per project file: the first switch to a level does not simplify
    thousands of outlines, nor the first list read 92,600 micro-grids."""
    if path in _WARMED:
        return
    _WARMED.add(path)
    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    def work() -> None:
        # the script ends before the browser has drawn the view: serving the map's frame and
        # scripts needs this process too, so the outlines wait until that is done
        if _STOP_WARMING.wait(WARM_AFTER_S):
            return
        with contextlib.suppress(Exception):  # only a head start: a view prepares its own
            specs = config(path).layers
            for name in views.city_levels(specs):
                if _STOP_WARMING.is_set():
                    return
                outlines(path, name)
                area_choices(path, name)
            for name in views.area_levels(specs):  # the names of the problems' lists
                if _STOP_WARMING.is_set():
                    return
                area_names(path, name)

    thread = threading.Thread(target=work, name="gridwatch-outlines", daemon=True)
    add_script_run_ctx(thread, get_script_run_ctx())
    thread.start()


def stamp(db_url: str) -> int:
    """The last run id: cached data is keyed on it, so an upload refreshes every page. A
    deadline extension of a problem recorded since (ledger events are not runs) changes it
    too: the run id in the high bits, the last extension's event id in the low 32."""
    from app_pages._access import access_store  # open once per server, not on every run
    from gridwatch.store.ledger import last_extension

    store = access_store(db_url)
    runs = store.runs()
    extension = last_extension(store)
    run = int(runs["run_id"].max()) if len(runs) else 0
    return run if extension == 0 else (run << 32) | (extension & 0xFFFFFFFF)


_CONTEXTS: dict[tuple[str, str, int, str], tuple[SupervisionContext, Recent]] = {}
_CONTEXT_LOCK = threading.Lock()  # one build of a store version, however many sessions ask


def supervision(config_path: str, db_url: str, run: int, *,
                progress: Callable[[str], None] | None = None,
                scope: Scope = WHOLE) -> SupervisionContext:
    """The one supervision context of the store as of its run ``run`` (shared by every page
    and every session: one copy of the problems per server process), seeing ``scope``.

    Kept here rather than by ``st.cache_resource``, whose cached functions replay what they
    drew: the first load reports its steps to ``progress``. The context of an earlier run
    is dropped once the next one is built. A scoped context is cut from the whole one
    (:meth:`SupervisionContext.scoped`) and kept with its own answers: every cache key
    holds the scope.
    """
    return _supervision(config_path, db_url, run, progress, scope=scope)[0]


def _supervision(config_path: str, db_url: str, run: int,
                 progress: Callable[[str], None] | None = None, lang: str = "zh", *,
                 scope: Scope = WHOLE) -> tuple[SupervisionContext, Recent]:
    key = (config_path, db_url, run, str(scope))
    found = _CONTEXTS.get(key)
    if found is not None:
        return found
    if not scope.whole:
        whole = _supervision(config_path, db_url, run, progress, lang)[0]
        with _CONTEXT_LOCK:
            found = _CONTEXTS.get(key)
            if found is None:
                found = (whole.scoped(scope), Recent(24))
                _CONTEXTS[key] = found
        return found
    with _CONTEXT_LOCK:
        found = _CONTEXTS.get(key)
        if found is None:
            found = (_build(config_path, db_url, progress or (lambda _message: None), lang),
                     Recent(24))
            for old in [k for k in _CONTEXTS if k[:2] == key[:2] and k[2] != run]:
                del _CONTEXTS[old]
            _CONTEXTS[key] = found
    return found


def _build(config_path: str, db_url: str, say: Callable[[str], None],
           lang: str) -> SupervisionContext:
    """Read the store and derive what every page needs, saying each step."""
    say(tr("loading_store", lang))
    sup = open_context(config(config_path), db_url)
    say(tr("loading_deadlines", lang))
    _ = sup.deadlines
    say(tr("loading_history", lang))
    _ = sup.events
    say(tr("loading_duplicates", lang))
    sup.counted()
    if sup.last_export is not None:
        say(tr("loading_codes", lang))
        sup.evaluate(sup.last_export)  # every page opens on the last export's date
    return sup


def is_loaded(config_path: str, db_url: str, run: int, scope: Scope = WHOLE) -> bool:
    """Whether the context of that store version (and scope) is built already."""
    return (config_path, db_url, run, str(scope)) in _CONTEXTS


@dataclass(frozen=True)
class Context:
    """What a page needs: project, the supervision context, filters and the view plan."""

    project: Project
    config: Config
    supervision: SupervisionContext
    filters: views.Filters
    plan: views.ViewPlan
    run: int
    #: Recent answers of this store version, keyed by small values (filters, dates, view).
    memo: Recent
    #: The signed-in user (their scope chose ``supervision``'s problems).
    user: User

    @property
    def lang(self) -> str:
        return self.filters.lang

    @property
    def timezone(self) -> str:
        return self.supervision.timezone

    @property
    def issues(self) -> pd.DataFrame:
        return self.supervision.issues

    @property
    def history(self) -> pd.DataFrame:
        return self.supervision.history

    def layer_of(self, kind: str) -> str | None:
        spec = self.config.layers_of_kind(kind)
        return spec[0].name if spec else None

    def remember(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        """The answer to ``key`` for this store version, computed once."""
        return self.memo.get(key, compute)

    def evaluated(self, as_of: dt.date) -> pd.DataFrame:
        return self.supervision.evaluate(as_of)

    def keep(self, ev: pd.DataFrame, *, plan: views.ViewPlan | None = None,
             filters: views.Filters | None = None) -> pd.Series:
        return views.filter_problems(self.supervision, ev, filters or self.filters,
                                     plan=plan or self.plan)

    def kept(self, as_of: dt.date | None = None) -> pd.Series:
        """The filtered problems as of ``as_of`` (default the chosen date), kept per filter."""
        day = as_of or self.filters.as_of
        chosen = selection(self.filters)
        return self.remember(("keep", day, chosen, self.plan.within),
                             lambda: self.keep(self.evaluated(day)))

    def area_names(self) -> dict[str, dict[str, str]]:
        """Area id → name of every area level."""
        path = self.project.config_path
        return {name: area_names(path, name) for name in views.area_levels(self.config.layers)}

    def inspection_order(self, as_of: dt.date | None = None) -> np.ndarray:
        """:func:`views.inspection_order` of the evaluation as of ``as_of``, kept."""
        day = as_of or self.filters.as_of
        ranks = self.remember(("id_ranks",), lambda: views.id_ranks(self.issues))
        return self.remember(("order", day), lambda: views.inspection_order(
            self.issues, self.evaluated(day), id_rank=ranks))


def selection(filters: views.Filters) -> views.Filters:
    """The filters that choose problems (not the language or how the map is drawn)."""
    return replace(filters, lang="zh", colour="red", heat=False, hexagons=False, ignored=())


def load() -> Context:
    """Load the project and data of the signed-in user's scope (progress shown on a first
    load), refuse a link to an area outside it, draw the sidebar, return the context."""
    from app_pages._access import current_user

    lang = lang_from_url()
    user = current_user()  # app.py signed in before any page ran
    try:
        proj = project()
        cfg = config(proj.config_path)
        user.scope.check_layers(s.name for s in cfg.layers)
        run = stamp(proj.db_url)
        if is_loaded(proj.config_path, proj.db_url, run, user.scope):
            sup, memo = _supervision(proj.config_path, proj.db_url, run, scope=user.scope)
        else:
            box = st.empty()  # the steps of a first load, gone once it is done
            with box.status(tr("loading", lang), expanded=True) as status:
                sup, memo = _supervision(proj.config_path, proj.db_url, run,
                                         progress=status.write, lang=lang, scope=user.scope)
            box.empty()
    except Exception as exc:  # shown to the user instead of a traceback page
        st.error(f"{tr('error', lang)}: {exc}")
        st.stop()
    refuse_outside_scope(cfg, sup, lang)
    filters = sidebar(cfg, proj.config_path, sup.last_export or dt.date.today(), sup)
    plan = views.view_plan(cfg.layers, filters.level, filters.area)
    return Context(project=proj, config=cfg, supervision=sup, filters=filters, plan=plan,
                   run=run, memo=memo, user=user)


def refuse_outside_scope(cfg: Config, sup: SupervisionContext, lang: str) -> None:
    """Show "not in your area" and nothing else when the link names an area (or a basin,
    a redline zone) outside the user's scope, or one that does not exist."""
    wanted = views.filters_from_query({k: st.query_params.get_all(k) for k in st.query_params})
    levels = views.city_levels(cfg.layers)
    asked: list[tuple[str, str | None]] = [(wanted.level or (levels[0] if levels else ""),
                                            wanted.area)]
    for kind in ("basin", "redline"):
        specs = cfg.layers_of_kind(kind)
        if specs:
            asked.append((specs[0].name, getattr(wanted, kind)))
    for layer_name, area in asked:
        if not area:
            continue
        allowed = sup.area_ids_in_scope(layer_name)
        if allowed is not None and str(area) not in set(allowed):
            st.error(tr("not_in_your_area", lang))
            st.stop()


def in_scope(options: dict[str, str], allowed: np.ndarray | None) -> dict[str, str]:
    """The choices of a select box limited to the areas in the user's scope."""
    if allowed is None:
        return options
    keep = set(allowed)
    return {k: v for k, v in options.items() if k in keep}


def audited_bytes(ctx: Context, make: Callable[[], bytes], *, what: str,
                  file_name: str) -> bytes:
    """The bytes of a download, recorded in the audit (who, which areas, which format)."""
    from app_pages._access import access_store

    data = make()
    log_action(access_store(ctx.project.db_url), ctx.user.name, "export", what=what,
               format=Path(file_name).suffix.lstrip("."), file=file_name,
               scope=str(ctx.user.scope),
               area=ctx.filters.area or "", level=ctx.filters.level or "")
    return data


def _pick(label: str, options: list[str], current: str | None, key: str,
          fmt: Callable[[str], str]) -> str | None:
    choices = ["", *options]
    index = choices.index(current) if current in choices else 0
    value = st.sidebar.selectbox(label, choices, index=index, key=key,
                                 format_func=lambda v: fmt(v) if v else "—")
    return value or None


def sidebar(cfg: Config, config_path: str, last: dt.date,
            sup: SupervisionContext | None = None) -> views.Filters:
    """Draw the filters, seeded from the URL, and write the chosen ones back to the URL."""
    wanted = views.filters_from_query({k: st.query_params.get_all(k) for k in st.query_params})
    levels = views.city_levels(cfg.layers)
    wanted = views.with_defaults(wanted, level=levels[0] if levels else "", as_of=last)
    pending = st.session_state.pop("pending_area", None)
    if pending is not None:  # an area clicked on the map: show it as if chosen in the sidebar
        st.session_state["f_level"] = pending[0]
        st.session_state[f"f_area_{pending[0]}"] = pending[1]
        wanted = replace(wanted, level=pending[0], area=pending[1])
    bar = st.sidebar
    lang = bar.radio(tr("language", wanted.lang), list(LANGUAGES), horizontal=True,
                     index=list(LANGUAGES).index(wanted.lang), key="f_lang",
                     format_func=LANGUAGES.__getitem__)
    bar.header(tr("filters", lang))
    level = bar.selectbox(tr("level", lang), levels, key="f_level",
                          index=levels.index(wanted.level) if wanted.level in levels else 0,
                          format_func=lambda v: code_label(v, lang))
    options = area_choices(config_path, level) if level else {}
    if sup is not None and level:  # the areas of the user's scope only
        options = in_scope(options, sup.area_ids_in_scope(level))
    area = _pick(tr("area", lang), list(options), wanted.area if level == wanted.level else None,
                 f"f_area_{level}", options.get)
    basin = redline = None
    mode = "all"
    for kind in ("basin", "redline"):
        spec = cfg.layers_of_kind(kind)
        if not spec:
            continue
        opts = area_choices(config_path, spec[0].name)
        if sup is not None:
            opts = in_scope(opts, sup.area_ids_in_scope(spec[0].name))
        chosen = _pick(tr(kind, lang), list(opts), getattr(wanted, kind), f"f_{kind}", opts.get)
        if kind == "basin":
            basin = chosen
        else:
            redline = chosen
            mode = bar.selectbox(tr("redline_mode", lang), list(views.REDLINE_MODES),
                                 index=views.REDLINE_MODES.index(wanted.redline_mode),
                                 key="f_mode", format_func=lambda v: tr(f"mode_{v}", lang))
    picks = {}
    for name, key, codes in (("categories", "category", CATEGORIES),
                             ("sources", "source", SOURCES),
                             ("statuses", "status", STATUSES),
                             ("codes", "code", views.CODE_FILTERS),
                             ("placed_by", "placed_by", views.PLACED_BY_FILTERS),
                             ("matched_at", "matched_at", views.MATCHED_AT_FILTERS)):
        picks[name] = tuple(bar.multiselect(tr(key, lang), list(codes),
                                            default=list(getattr(wanted, name)), key=f"f_{name}",
                                            format_func=lambda v: code_label(v, lang)))
    for name, top, step in (("min_score", 100.0, 5.0), ("max_precision_m", 1e7, 100.0)):
        # problems placed from an address: the least match score, the widest radius kept
        picks[name] = bar.number_input(tr(name, lang), min_value=0.0, max_value=top,
                                       value=getattr(wanted, name), step=step, key=f"f_{name}")
    span = bar.date_input(tr("date_range", lang),
                          value=(wanted.start, wanted.end) if wanted.start and wanted.end else (),
                          key="f_dates")
    start, end = (span[0], span[1]) if isinstance(span, tuple | list) and len(span) == 2 \
        else (None, None)
    as_of = bar.date_input(tr("as_of", lang), value=wanted.as_of, key="f_as_of")
    colour = bar.selectbox(tr("colour_by", lang), list(views.COLOUR_BY), key="f_colour",
                           index=views.COLOUR_BY.index(wanted.colour),
                           format_func=lambda v: tr(f"colour_{v}", lang))
    heat = bar.toggle(tr("heat", lang), value=wanted.heat, key="f_heat")
    hexagons = bar.toggle(tr("hexagons", lang), value=wanted.hexagons, key="f_hex")
    chosen = replace(wanted, lang=lang, level=level, area=area, basin=basin, redline=redline,
                     redline_mode=mode, start=start, end=end, as_of=as_of, colour=colour,
                     heat=heat, hexagons=hexagons, **picks)
    if wanted.ignored:
        bar.warning(f"{tr('ignored_params', lang)}: {', '.join(wanted.ignored)}")
    bar.caption(tr("share_hint", lang))
    query = views.filters_to_query(replace(chosen, as_of=None if as_of == last else as_of))
    if query != {k: st.query_params.get(k) for k in st.query_params}:
        st.query_params.from_dict(query)
    return chosen


def file_bytes(write: Callable[[Path], Path], name: str) -> bytes:
    """Run an export function into a temporary folder and return the file's bytes."""
    with tempfile.TemporaryDirectory(prefix="gridwatch-") as folder:
        return write(Path(folder) / name).read_bytes()


def problem_photo_columns(ctx: Context, shown: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The problem table with thumbnails of the first before- and after-photo of each row
    (``thumb_before`` / ``thumb_after``, data: URIs made on the server) and, when the project
    asks for it (``[evidence] require_after_photo``), the after-photo rule's flag."""
    from gridwatch.evidence import evidence_folder, missing_after_photo, problem_thumbnails

    settings = ctx.config.settings.evidence
    out = shown.copy()
    if settings is not None and settings.require_after_photo and "status" in out:
        out["missing_after_photo"] = missing_after_photo(out).to_numpy()
    folder = evidence_folder(ctx.config)
    columns = [c for c in ("photo_before", "photo_after") if c in out]
    if folder is None or not columns or not out[columns].notna().any().any():
        return out, []
    thumbs = problem_thumbnails(out, folder, px=settings.thumbnail_px if settings else 160)
    for column in ("photo_before", "photo_after"):
        out[f"thumb_{column[6:]}"] = [cell[0][1] if cell else None for cell in thumbs[column]]
    return out, ["thumb_before", "thumb_after"]

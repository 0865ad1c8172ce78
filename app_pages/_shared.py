"""Streamlit glue shared by the pages: the project at the app's edge, cached data, the sidebar.

The environment is read here and nowhere else: ``GRIDWATCH_CONFIG`` (project file) and
``GRIDWATCH_DB`` (store URL). With neither set and no store at ``data/gridwatch.sqlite``, the
demo city is generated and ingested on first start (``GRIDWATCH_DEMO_PROBLEMS`` and
``GRIDWATCH_DEMO_SCALE`` make it smaller).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import streamlit as st

from gridwatch.config import Config, default_store_url, load_config
from gridwatch.schema import CATEGORIES, SOURCES, STATUSES
from gridwatch.supervision.context import SupervisionContext, open_context
from gridwatch.ui import views
from gridwatch.ui.i18n import LANGUAGES, code_label, tr

REPO = Path(__file__).resolve().parents[1]
BASE_URL = "/app/static/gridwatch"


@dataclass(frozen=True)
class Project:
    """The project file and store the app shows."""

    config_path: str
    db_url: str


_DEMO_LOCK = threading.Lock()  # one first-start build even when several people open the app


def _build_demo(db_file: Path) -> None:
    """Build (or reuse) the demo city and ingest it into ``db_file``, showing the progress;
    the same steps as ``gridwatch demo``. Not cached: cached functions replay their output."""
    from gridwatch.demo import default_out_dir, generate, load_demo
    from gridwatch.pipeline import run_ingest
    from gridwatch.placing.layers import load_layers
    from gridwatch.store.transactional import Store

    problems = int(os.environ.get("GRIDWATCH_DEMO_PROBLEMS", "250000"))
    scale = float(os.environ.get("GRIDWATCH_DEMO_SCALE", "1.0"))
    with st.status(tr("building_demo"), expanded=True) as status:
        bar = st.progress(0.0)

        def on_progress(stage: str, done: int, total: int) -> None:
            bar.progress(min(done / total, 1.0) if total else 0.0, text=stage)

        paths = load_demo(default_out_dir(), problems=problems, scale=scale)
        if paths is None:
            paths = generate(default_out_dir(), problems=problems, scale=scale,
                             progress=on_progress)
        config = load_config(paths.config)
        layers = load_layers(config, progress=status.write)
        # build beside the final file: a half-built store is never found at the default place
        partial = db_file.with_name("gridwatch.partial.sqlite")
        for leftover in db_file.parent.glob("gridwatch.partial.sqlite*"):
            leftover.unlink()
        with Store(f"sqlite:///{partial.as_posix()}") as store:
            for i, (files, when) in enumerate(paths.runs, start=1):
                bar.progress(i / len(paths.runs), text=f"ingest {i}/{len(paths.runs)}")
                run_ingest(files, config=config, store=store, layers=layers, observed_at=when,
                           progress=status.write)
        partial.replace(db_file)
        status.update(state="complete")


def project() -> Project:
    """The project at the edge: environment variables, else the demo (built when missing)."""
    config_path = os.environ.get("GRIDWATCH_CONFIG") or None
    db_url = os.environ.get("GRIDWATCH_DB") or None
    db_file = REPO / "data" / "gridwatch.sqlite"
    if config_path is None and db_url is None and not db_file.is_file():
        with _DEMO_LOCK:
            if not db_file.is_file():
                _build_demo(db_file)
    return _project(config_path, db_url)


@st.cache_resource(show_spinner=False)
def _project(config_path: str | None, db_url: str | None) -> Project:
    if config_path:
        config = load_config(config_path)
        return Project(config_path=config_path,
                       db_url=db_url or config.store_url or default_store_url(REPO))
    demo = REPO / "data" / "demo" / "gridwatch.toml"
    path = demo if demo.is_file() else REPO / "data" / "demo" / "generated" / "gridwatch.toml"
    return Project(config_path=str(path), db_url=db_url or default_store_url(REPO))


@st.cache_resource(show_spinner=False)
def config(path: str) -> Config:
    """The parsed project file."""
    return load_config(path)


@st.cache_resource(show_spinner=False)
def layers(path: str) -> dict[str, gpd.GeoDataFrame]:
    """Every boundary layer, in WGS84."""
    from gridwatch.placing.layers import load_layers

    return load_layers(config(path))


@st.cache_resource(show_spinner=False)
def view_layer(path: str, name: str) -> gpd.GeoDataFrame:
    """A layer simplified for display (tolerance by its kind)."""
    kind = config(path).layer(name).kind
    return views.simplify_layer(layers(path)[name], views.SIMPLIFY_M.get(kind, 20.0))


def stamp(db_url: str) -> int:
    """The last run id: cached data is keyed on it, so an upload refreshes every page."""
    from gridwatch.store import Store

    with Store(db_url) as store:
        runs = store.runs()
    return int(runs["run_id"].max()) if len(runs) else 0


@st.cache_resource(show_spinner=False, max_entries=2)
def supervision(config_path: str, db_url: str, run: int) -> SupervisionContext:
    """The one supervision context of the store as of its run ``run`` (shared by every page
    and every session: one copy of the problems per server process)."""
    return open_context(config(config_path), db_url, layers=layers(config_path))


@dataclass(frozen=True)
class Context:
    """What a page needs: project, the supervision context, filters and the view plan."""

    project: Project
    config: Config
    supervision: SupervisionContext
    filters: views.Filters
    plan: views.ViewPlan
    run: int

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

    def evaluated(self, as_of: dt.date) -> pd.DataFrame:
        return self.supervision.evaluate(as_of)

    def keep(self, ev: pd.DataFrame, *, plan: views.ViewPlan | None = None,
             filters: views.Filters | None = None) -> pd.Series:
        return views.filter_problems(self.supervision, ev, filters or self.filters,
                                     plan=plan or self.plan)


def load() -> Context:
    """Load the project and data (progress shown), draw the sidebar, return the context."""
    lang = _lang_from_url()
    try:
        proj = project()
        with st.spinner(tr("loading", lang)):
            cfg = config(proj.config_path)
            layers(proj.config_path)
            run = stamp(proj.db_url)
            sup = supervision(proj.config_path, proj.db_url, run)
    except Exception as exc:  # shown to the user instead of a traceback page
        st.error(f"{tr('error', lang)}: {exc}")
        st.stop()
    filters = sidebar(cfg, proj.config_path, sup.last_export or dt.date.today())
    plan = views.view_plan(cfg.layers, filters.level, filters.area)
    return Context(project=proj, config=cfg, supervision=sup, filters=filters, plan=plan,
                   run=run)


def _lang_from_url() -> str:
    lang = st.query_params.get("lang", "zh")
    return lang if lang in LANGUAGES else "zh"


def _pick(label: str, options: list[str], current: str | None, key: str,
          fmt: Callable[[str], str]) -> str | None:
    choices = ["", *options]
    index = choices.index(current) if current in choices else 0
    value = st.sidebar.selectbox(label, choices, index=index, key=key,
                                 format_func=lambda v: fmt(v) if v else "—")
    return value or None


def sidebar(cfg: Config, config_path: str, last: dt.date) -> views.Filters:
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
    all_layers = layers(config_path)
    options = views.area_options(all_layers[level]) if level else {}
    area = _pick(tr("area", lang), list(options), wanted.area if level == wanted.level else None,
                 f"f_area_{level}", options.get)
    basin = redline = None
    mode = "all"
    for kind in ("basin", "redline"):
        spec = cfg.layers_of_kind(kind)
        if not spec:
            continue
        opts = views.area_options(all_layers[spec[0].name])
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
                             ("codes", "code", views.CODE_FILTERS)):
        picks[name] = tuple(bar.multiselect(tr(key, lang), list(codes),
                                            default=list(getattr(wanted, name)), key=f"f_{name}",
                                            format_func=lambda v: code_label(v, lang)))
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

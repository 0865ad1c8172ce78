"""The project at the app's edge, light enough for the sign-in form: which project file and
store the app shows (the environment, else the demo city, built on first start) and the
parsed project file. No geopandas, no map code and nothing of the problems is imported or read
here, so the first page (the sign-in) draws while the pages' code is imported beside it.

The environment is read here and nowhere else: ``GRIDWATCH_CONFIG`` (project file) and
``GRIDWATCH_DB`` (store URL). With neither set and no store at ``data/gridwatch.sqlite``, the
demo city is generated and ingested on first start (``GRIDWATCH_DEMO_PROBLEMS`` and
``GRIDWATCH_DEMO_SCALE`` make it smaller).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from gridwatch.access import first_admin
from gridwatch.config import Config, default_store_url, load_config
from gridwatch.ui.i18n import LANGUAGES, tr

REPO = Path(__file__).resolve().parents[1]


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
            if paths.ledger is not None:
                from gridwatch.ledger.load import import_ledger_file, import_records_file

                reading = {"settings": config.input, "timezone": config.territory.timezone}
                import_ledger_file(store, paths.ledger, **reading)
                if paths.ledger_records is not None:
                    import_records_file(store, paths.ledger_records, **reading)
                from gridwatch.demo._ledger import demo_letters
                from gridwatch.supervision.context import open_context

                end = dt.date.fromisoformat(json.loads(paths.planted.read_text(
                    encoding="utf-8"))["end_date"])
                demo_letters(store, open_context(config, store.url), end)
            if paths.patches is not None and paths.patches.is_file():
                from gridwatch.patches import import_patch_file

                import_patch_file(paths.patches, config=config, store=store, layers=layers)
            password = first_admin(store, actor="gridwatch demo")
        partial.replace(db_file)
        if password is not None:  # shown to whoever started the server, not on the page
            import sys

            print(f"gridwatch demo: sign in as 'admin' with the one-time password {password} "
                  "(change it: gridwatch users set-password admin)", file=sys.stderr,
                  flush=True)
            st.session_state["gw_demo_admin"] = True
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


def lang_from_url() -> str:
    """The interface language named in the URL (``lang=en``), else Chinese."""
    lang = st.query_params.get("lang", "zh")
    return lang if lang in LANGUAGES else "zh"

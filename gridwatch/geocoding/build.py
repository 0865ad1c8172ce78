"""``gridwatch gazetteer build``: the project's gazetteer from its layers, point file and history.

The history is read from the store (earlier problems that came with their own coordinates) and
from problem files given on the command line; a build is kept until any of its sources changes
(the layer and point files, the ``[geocoding]`` settings, the store's last run, the files).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gridwatch.config import Config
from gridwatch.geocoding.gazetteer import (
    Gazetteer,
    build_gazetteer,
    gazetteer_folder,
    geocode_settings,
    history_from_store,
    load_gazetteer,
    save_gazetteer,
    source_key,
)

__all__ = ["GazetteerBuild", "build_project_gazetteer"]


@dataclass(frozen=True)
class GazetteerBuild:
    """What ``gazetteer build`` did."""

    folder: Path
    rebuilt: bool
    sizes: dict[str, int]


def build_project_gazetteer(config: Config, *, store_url: str | None = None,
                            files: Sequence[str | os.PathLike[str]] = (),
                            force: bool = False) -> GazetteerBuild:
    """Build (or keep) the project's gazetteer and save it in ``[geocoding] gazetteer``.

    Parameters
    ----------
    config
        The project.
    store_url
        Store whose earlier problems are the history (when ``[geocoding] history`` is on);
        None for none.
    files
        Problem files whose rows with coordinates and an address join the history.
    force
        Build even when no source changed.

    Returns
    -------
    GazetteerBuild
        Its folder, whether it was built now, and its size per source.
    """
    from gridwatch.placing.layers import load_layers

    settings = geocode_settings(config)
    use_history = settings.history
    store_token = _store_token(store_url) if use_history and store_url else ""
    file_stats = [(str(f), Path(f).stat().st_size, Path(f).stat().st_mtime_ns)
                  for f in files] if use_history else []
    token = json.dumps([store_token, file_stats])
    key = source_key(config, history_token=token)
    folder = gazetteer_folder(config)
    if not force:
        saved = load_gazetteer(folder, key=key)
        if saved is not None:
            return GazetteerBuild(folder=folder / f"gazetteer-{key}", rebuilt=False,
                                  sizes=saved.sizes())
    layers = load_layers(config)
    parts = []
    if store_token:
        from gridwatch.store import Store

        with Store(store_url) as store:
            parts.append(history_from_store(store))
    if file_stats:
        parts.append(_history_from_files(files, config, layers))
    history = pd.concat(parts, ignore_index=True) if parts else None
    gazetteer: Gazetteer = build_gazetteer(config, layers, history=history)
    path = save_gazetteer(gazetteer, folder, key=key, files_key=source_key(config))
    return GazetteerBuild(folder=path, rebuilt=True, sizes=gazetteer.sizes())


def _store_token(url: str) -> str:
    """The store's identity for the build key: its URL and last run."""
    from gridwatch.store import Store

    with Store(url) as store:
        return f"{url}#{store.last_run_id()}"


def _history_from_files(files: Sequence[str | os.PathLike[str]], config: Config,
                        layers: dict) -> pd.DataFrame:
    """Rows of problem files with their own coordinates (WGS84) and an address."""
    from gridwatch.ingest.records import read_issues
    from gridwatch.placing.assign import place_records

    result = read_issues(files, settings=config.input, timezone=config.territory.timezone)
    placed, _ = place_records(result.records, layers, config)
    own = placed["location_flag"].isin(["", "swapped"]) & placed["address"].notna()
    columns = ["issue_id", "address", "lon", "lat"]
    column = geocode_settings(config).postcode_column
    if column and column in placed:
        columns.append(column)
    return placed.loc[own, columns].reset_index(drop=True)

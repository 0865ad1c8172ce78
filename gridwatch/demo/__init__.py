"""The demo city: Jiaxing (嘉兴) at full density with a year of problems and planted patterns.

Real grid boundaries are not public, so the demo generates towns, grids, micro-grids, river
basins and redline zones inside the 7 real counties, then a year of problems with known patterns
("planted truths", written to ``planted.json``), exported the way users receive them: daily GBK
CSV files with Chinese headers, one XLSX, and the last 7 days as successive snapshots. Everything
is deterministic for a seed.

Examples
--------
>>> from gridwatch.demo import generate
>>> paths = generate(Path("/tmp/jx"), problems=5_000, scale=0.05)   # doctest: +SKIP
>>> paths.config                                                     # doctest: +SKIP
PosixPath('/tmp/jx/gridwatch.toml')
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely

from gridwatch.demo._city import (
    FULL_COUNTS,
    City,
    CountPlan,
    build_city,
    plan_counts,
    read_counties,
    to_metric,
    xy_to_metric,
)
from gridwatch.demo._enterprises import plant_enterprises
from gridwatch.demo._exports import config_text, write_layers, write_problem_files
from gridwatch.demo._ledger import link_problems, write_ledger
from gridwatch.demo._patches import write_patches, write_photos
from gridwatch.demo._planted import (
    CLUSTER_NAMES,
    Clusters,
    choose_clusters,
    micro_weights,
    plant_mismatches,
    plant_problems,
    plant_rebounds,
)
from gridwatch.demo._problems import Sampler, background_problems, finish_problems, lifecycle
from gridwatch.errors import ConfigError
from gridwatch.schema import DEFAULT_TIMEZONE

__all__ = [
    "DEFAULT_END",
    "DEFAULT_SEED",
    "FULL_COUNTS",
    "CountPlan",
    "DemoPaths",
    "count_plan",
    "counties_path",
    "default_out_dir",
    "generate",
    "load_demo",
]

#: Last day of the demo year: fixed, so the demo never depends on today's date, and inside the
#: years chinese_calendar covers (2004–2026).
DEFAULT_END = "2026-10-31"
DEFAULT_SEED = 20261031
MAX_PROBLEMS = 2_000_000
SNAPSHOT_DAYS = 7
#: ``[supervision.rebound] days`` of the demo's project file (config_text).
REBOUND_DAYS = 60
TIMEZONE = DEFAULT_TIMEZONE
LAYER_NAMES: tuple[str, ...] = ("county", "town", "grid", "microgrid", "basin", "redline")

#: Called with (stage, amount done since the last call, total of that stage).
Progress = Callable[[str, int, int], None]

_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DemoPaths:
    """Where :func:`generate` wrote the demo."""

    out_dir: Path
    #: The project file declaring the layers.
    config: Path
    #: Layer name -> GeoPackage.
    layers: dict[str, Path]
    #: Every problem file, in ingest order (history first, then the snapshots).
    exports: list[Path]
    planted: Path
    #: Ingest runs in order: (files, when the export was taken, tz-aware).
    runs: list[tuple[list[Path], datetime]] = field(default_factory=list)
    #: The rectification ledger (整改台账) and its register of records (整改记录), when written.
    ledger: Path | None = None
    ledger_records: Path | None = None
    #: Satellite patches (卫星图斑, a GeoJSON), when written.
    patches: Path | None = None


def counties_path() -> Path:
    """The real county boundaries the demo is built on (``data/boundaries``)."""
    return _REPO / "data" / "boundaries" / "jiaxing_counties.geojson"


def default_out_dir() -> Path:
    """``data/demo/generated`` of the checkout (ignored by git)."""
    return _REPO / "data" / "demo" / "generated"


def count_plan(*, seed: int = DEFAULT_SEED, scale: float = 1.0) -> CountPlan:
    """Towns per county, grids per town and micro-grids per grid, without building grids.

    At ``scale=1`` the totals are :data:`FULL_COUNTS` (73 towns, 4,649 grids, 92,600
    micro-grids).
    """
    plan, _, _ = plan_counts(read_counties(counties_path()), seed=seed, scale=scale)
    return plan


def _check(problems: int, days: int, scale: float) -> None:
    found = []
    if isinstance(problems, bool) or not isinstance(problems, int) or \
            not 1_000 <= problems <= MAX_PROBLEMS:
        found.append(f"problems must be a whole number from 1,000 to {MAX_PROBLEMS:,}, "
                     f"got {problems!r}")
    if isinstance(days, bool) or not isinstance(days, int) or not 60 <= days <= 3650:
        found.append(f"days must be a whole number from 60 to 3650, got {days!r}")
    if not isinstance(scale, int | float) or not 0 < scale <= 1:
        found.append(f"scale must be a number in (0, 1], got {scale!r}")
    if found:
        raise ConfigError("cannot generate the demo:", found)


def generate(out_dir: Path | None = None, *, problems: int = 250_000,
             seed: int = DEFAULT_SEED, days: int = 365, scale: float = 1.0,
             end: str = DEFAULT_END, progress: Progress | None = None) -> DemoPaths:
    """Generate the demo city, its problems and files.

    Parameters
    ----------
    out_dir
        Folder to write into; default ``data/demo/generated``. Existing demo files are replaced.
        Everything is written to a hidden folder beside it first and moved in at the end, so a
        failed run never leaves a half-written demo (nor touches the previous one).
    problems
        Number of problems (1,000 to 2,000,000), planted ones included.
    seed
        Seed of every random draw: the same seed gives the same files.
    days
        Length of the period, ending on ``end``.
    scale
        Share of the full density (4,649 grids, 92,600 micro-grids) to build; small values
        make a small city quickly (tests).
    end
        Last day of the period (local date).
    progress
        Called as ``progress(stage, done, total)``.

    Returns
    -------
    DemoPaths

    Raises
    ------
    ConfigError
        An argument is out of range.
    LayerError
        The real county boundaries are missing.
    """
    _check(problems, days, scale)
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:12]}"
    work.mkdir()  # with the usual permissions (mkdtemp's are owner-only), since it becomes out
    try:
        record = _write_demo(work, problems=problems, seed=seed, days=days, scale=scale,
                             end=end, progress=progress)
        _move_into(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _paths(out, record)


def _write_demo(out: Path, *, problems: int, seed: int, days: int, scale: float, end: str,
                progress: Progress | None) -> dict[str, object]:
    """Write every file of the demo into ``out`` (an empty folder); return the planted record."""
    say = progress or (lambda _stage, _done, _total: None)
    counties = read_counties(counties_path())

    total_grids = max(round(FULL_COUNTS[1] * scale), 14)
    say("layers", 0, total_grids)
    city = build_city(counties, seed=seed, scale=scale,
                      progress=lambda k: say("layers", k, total_grids))
    write_layers(city, out)

    end_day = np.datetime64(end, "D")
    day_index = pd.date_range(pd.Timestamp(end_day) - pd.Timedelta(days=days - 1), periods=days,
                              freq="D")
    say("problems", 0, problems)
    frame, clusters = _problems(city, problems, seed=seed, days=day_index, end=end_day)
    ledger_tasks, ledger, register = write_ledger(out, city.town, end=end_day,
                                                  rng=np.random.default_rng([seed, 15]))
    frame["ledger_ref"] = link_problems(frame, ledger_tasks,
                                        rng=np.random.default_rng([seed, 16]))
    columns, enterprises = plant_enterprises(frame, end=end_day, rebound_days=REBOUND_DAYS,
                                             rng=np.random.default_rng([seed, 17]))
    for name, values in columns.items():
        frame[name] = values
    say("problems", problems, problems)

    report_days = frame["reported_at"].to_numpy(dtype="datetime64[D]")
    files_total = len(np.unique(report_days[report_days <= end_day - SNAPSHOT_DAYS]))
    files_total += SNAPSHOT_DAYS
    say("files", 0, files_total)
    rng = np.random.default_rng([seed, 9])
    xlsx_day = _xlsx_day(day_index, end_day)
    runs, bad = write_problem_files(frame, out, end=end_day, snapshot_days=SNAPSHOT_DAYS,
                                    xlsx_day=xlsx_day, rng=rng,
                                    progress=lambda k: say("files", k, files_total))
    bad_ids = {str(e.get("issue_id")) for e in bad}
    closed = frame["closed_at"].notna().to_numpy() & \
        (frame["closed_at"].to_numpy(dtype="datetime64[s]")
         < (end_day - SNAPSHOT_DAYS).astype("datetime64[s]")) & \
        ~frame["issue_id"].astype(str).isin(bad_ids).to_numpy()
    photos = write_photos(frame[closed], out, rng=np.random.default_rng([seed, 21]))
    _, patches = write_patches(city, out, end=end_day,
                               rng=np.random.default_rng([seed, 22]))
    tz = ZoneInfo(TIMEZONE)
    runs_out = [(paths, pd.Timestamp(when).to_pydatetime().replace(tzinfo=tz))
                for paths, when in runs]
    planted = out / "planted.json"
    record = _planted_record(frame, city, clusters, bad, seed=seed, problems=problems,
                             days=days, end=end, xlsx_day=xlsx_day)
    record["scale"] = scale
    record["ledger"] = {"file": ledger.relative_to(out).as_posix(),
                        "records": register.relative_to(out).as_posix(),
                        "tasks": len(ledger_tasks),
                        "linked_problems": int((frame["ledger_ref"] != "").sum())}
    record["patches"] = patches
    record["evidence"] = {"folder": "photos", **photos}
    record["enterprises"] = enterprises
    record["runs"] = [{"files": [p.relative_to(out).as_posix() for p in paths],
                       "observed_at": when.isoformat()} for paths, when in runs_out]
    planted.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "gridwatch.toml").write_text(config_text(""), encoding="utf-8")
    return record


def _move_into(work: Path, out: Path) -> None:
    """Put the finished demo in ``work`` where ``out`` is.

    A new folder is one rename. Into an existing folder the demo's entries are moved one by
    one (other files there are kept), ``planted.json`` and ``gridwatch.toml`` last, after the
    old ``planted.json`` is removed: :func:`load_demo` never takes a half-replaced demo.
    """
    if not out.exists():
        os.replace(work, out)
        return
    last = ("planted.json", "gridwatch.toml")
    (out / "planted.json").unlink(missing_ok=True)
    entries = sorted(work.iterdir(),
                     key=lambda p: (last.index(p.name) if p.name in last else -1, p.name))
    for entry in entries:
        target = out / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(entry, target)


def _paths(out: Path, record: dict[str, object]) -> DemoPaths:
    config = out / "gridwatch.toml"
    committed = out.parent / "gridwatch.toml"
    if out.resolve() == default_out_dir().resolve() and committed.is_file():
        config = committed
    runs = [([out / f for f in run["files"]], datetime.fromisoformat(run["observed_at"]))
            for run in record["runs"]]  # type: ignore[attr-defined]
    ledger = record.get("ledger")
    patches = record.get("patches")
    return DemoPaths(out_dir=out, config=config,
                     layers={name: out / f"{name}.gpkg" for name in LAYER_NAMES},
                     exports=[p for paths, _ in runs for p in paths],
                     planted=out / "planted.json", runs=runs,
                     ledger=out / ledger["file"] if isinstance(ledger, dict) else None,
                     ledger_records=out / ledger["records"] if isinstance(ledger, dict)
                     else None,
                     patches=out / patches["file"] if isinstance(patches, dict) else None)


def load_demo(out_dir: Path | None = None, *, problems: int | None = None,
              seed: int | None = None, scale: float | None = 1.0) -> DemoPaths | None:
    """Return the demo already written in ``out_dir``, or None when it is missing or stale.

    Stale means another seed, number of problems or scale than asked (``None`` accepts any),
    or a file gone.
    """
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    try:
        record = json.loads((out / "planted.json").read_text(encoding="utf-8"))
        paths = _paths(out, record)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if (problems is not None and record.get("problems") != problems) or \
            (seed is not None and record.get("seed") != seed) or \
            (scale is not None and record.get("scale") != scale):
        return None
    files = [paths.config, *paths.layers.values(), *paths.exports,
             *(p for p in (paths.ledger, paths.ledger_records) if p is not None)]
    return paths if all(f.is_file() for f in files) else None


def _xlsx_day(days: pd.DatetimeIndex, end: np.datetime64) -> str:
    """The one day exported as XLSX: 1 June, else the middle day of the history."""
    history = days[days.to_numpy().astype("datetime64[D]") <= end - SNAPSHOT_DAYS]
    june = history[(history.month == 6) & (history.day == 1)]
    return (june[-1] if len(june) else history[len(history) // 2]).strftime("%Y%m%d")


def _problems(city: City, n: int, *, seed: int, days: pd.DatetimeIndex,
              end: np.datetime64) -> tuple[pd.DataFrame, Clusters]:
    rng = np.random.default_rng([seed, 3])
    sampler = Sampler(city.microgrid, rng)
    clusters = choose_clusters(city, rng)
    weights = micro_weights(city, clusters, rng)
    planted = plant_problems(city, clusters, n=n, days=days, rng=rng, sampler=sampler)
    originals = next(f for f in planted if (f["tag"] == "rebound_original").all())
    n_planted = sum(len(f) for f in planted) + len(originals)
    if n < 2 * n_planted:
        raise ConfigError(f"problems={n:,} is too small for this city: the planted patterns "
                          f"alone need {n_planted:,}; use at least {2 * n_planted:,} or a "
                          "smaller scale")
    background = background_problems(n - n_planted, micro_weight=weights, days=days, rng=rng,
                                      sampler=sampler)
    background["tag"] = ""
    background["group"] = -1
    frame = pd.concat([background, *planted], ignore_index=True)
    frame = lifecycle(frame, rng=rng)
    _force(frame, rng)
    originals = frame[frame["tag"] == "rebound_original"]
    repeats = lifecycle(plant_rebounds(originals, rng=rng, end=end), rng=rng)
    frame = pd.concat([frame, repeats], ignore_index=True)
    micro_codes = city.microgrid["code"].to_numpy(dtype=object)
    frame["reported_grid"] = micro_codes[frame["micro"].to_numpy()]
    frame = plant_mismatches(frame, city, clusters, count=max(5, round(300 * n / 250_000)),
                             rng=rng)
    frame["tiebreak"] = rng.random(len(frame))
    frame = finish_problems(frame, city.microgrid, city.grid.set_index("code")["town_code"],
                            city.town)
    return frame, clusters


def _force(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """Handling the planted patterns need, whatever the random lifecycle gave."""
    nat = np.datetime64("NaT")
    overdue = (frame["tag"] == "overdue_hotspot").to_numpy()
    frame.loc[overdue, ["closed_at", "verified_at"]] = nat
    orig = (frame["tag"] == "rebound_original").to_numpy()
    rect = frame.loc[orig, "rectifying_at"].to_numpy(dtype="datetime64[s]")
    closed = rect + (rng.uniform(0.3, 1.0, int(orig.sum())) * 86400).astype("timedelta64[s]")
    frame.loc[orig, "closed_at"] = closed
    frame.loc[orig, "verified_at"] = closed + np.timedelta64(2 * 86400, "s")


def _planted_record(frame: pd.DataFrame, city: City, clusters: Clusters,
                    bad: list[dict[str, object]], *,
                    seed: int, problems: int, days: int, end: str,
                    xlsx_day: str) -> dict[str, object]:
    tag = frame["tag"].to_numpy()
    grid_codes = city.grid["code"].to_numpy()
    grid_town = city.grid.set_index("code")["town_code"]
    end_s = np.datetime64(end, "D").astype("datetime64[s]") + np.timedelta64(86399, "s")
    clusters_out = {}
    notes = {
        "overdue_hotspot": "adjacent grids with many problems still open past their deadline "
                           "at the end date (reported 24-120 days before it)",
        "cold_spot": "adjacent grids with about 3 % of the usual problem density",
        "emerging_intensifying": "extra problems every month, rising steeply over the last "
                                 "6 months",
        "new_hotspot": "extra problems only in the last 30 days",
        "diminishing": "extra problems every month, falling steadily to the end",
    }
    for name in CLUSTER_NAMES:
        codes = grid_codes[clusters.grids[name]]
        ids = frame.loc[tag == name, "issue_id"]
        months = frame.loc[tag == name, "reported_at"].dt.strftime("%Y-%m").value_counts()
        clusters_out[name] = {
            "grids": [str(c) for c in codes],
            "towns": sorted({str(t) for t in grid_town.reindex(codes)}),
            "what": notes[name],
            "problems_per_month": {str(k): int(v) for k, v in months.sort_index().items()},
            "issue_ids": sorted(ids.astype(str)),
        }
    by_id = frame.set_index("issue_id")
    orig = frame[tag == "rebound_original"].set_index("group")
    rep = frame[tag == "rebound_repeat"].set_index("group")
    rebounds = []
    for g in sorted(orig.index):
        a, b = orig.loc[g], rep.loc[g]
        rebounds.append({
            "original": str(a["issue_id"]), "repeat": str(b["issue_id"]),
            "category": str(a["category"]), "lon": float(a["lon"]), "lat": float(a["lat"]),
            "closed_at": str(a["closed_at"]), "reported_at": str(b["reported_at"]),
            "days_after_close": round((b["reported_at"] - a["closed_at"]).total_seconds()
                                      / 86400, 2)})
    dup = frame[tag == "duplicate"].sort_values(["group", "reported_at"])
    duplicates = [{"incident": str(g["issue_id"].iloc[0]),
                   "issue_ids": [str(i) for i in g["issue_id"]],
                   "sources": [str(s) for s in g["source_label"]],
                   "category": str(g["category"].iloc[0])}
                  for _, g in dup.groupby("group", sort=True)]
    mism = frame[tag == "grid_mismatch"].sort_values("issue_id")
    micro_grid = city.microgrid.set_index("code")["grid_code"]
    mismatches = [{"issue_id": str(r.issue_id), "reported_grid": str(r.reported_grid),
                   "true_microgrid": str(r.micro_code), "true_grid": str(r.grid_code),
                   "reported_grid_of": str(micro_grid[r.reported_grid])}
                  for r in mism.itertuples()]
    zones = city.redline.set_index("code").geometry
    redline: dict[str, list[dict[str, object]]] = {}
    for name in ("redline_inside", "redline_near"):
        sub = frame[tag == name].sort_values("issue_id")
        x, y = xy_to_metric(sub["lon"].to_numpy(), sub["lat"].to_numpy())
        shapes = to_metric(zones.reindex(sub["zone"]).to_numpy())
        dist = shapely.distance(shapes, shapely.points(x, y))
        redline[name] = [{"issue_id": str(i), "zone": str(z), "distance_m": round(float(d), 1)}
                         for i, z, d in zip(sub["issue_id"], sub["zone"], dist, strict=True)]
    status_end = _open_overdue(frame, end_s)
    return {
        "seed": seed, "problems": problems, "rows": len(frame), "days": days,
        "end_date": end, "timezone": TIMEZONE, "xlsx_day": xlsx_day,
        "counts": {"towns": len(city.town), "grids": len(city.grid),
                   "microgrids": len(city.microgrid), "basins": len(city.basin),
                   "redlines": len(city.redline)},
        "overdue_at_end": status_end,
        "clusters": clusters_out,
        "rebounds": rebounds,
        "duplicates": duplicates,
        "grid_mismatches": mismatches,
        "redline": {**redline, "near_m": 500},
        "bad_rows": bad,
        "industrial_towns": sorted(city.town.loc[city.town["industrial"], "code"].astype(str)),
        "note": f"{len(by_id):,} issue ids; planted ones are listed above",
    }


def _open_overdue(frame: pd.DataFrame, when: np.datetime64) -> dict[str, int]:
    closed = frame["closed_at"].to_numpy(dtype="datetime64[s]")
    is_open = np.isnat(closed) | (closed > when)
    deadline_end = (pd.to_datetime(frame["deadline"]).to_numpy(dtype="datetime64[s]")
                    + np.timedelta64(86399, "s"))
    overdue = is_open & ~np.isnat(deadline_end) & (deadline_end < when)
    late = ~np.isnat(closed) & (closed <= when) & (closed > deadline_end)
    return {"open": int(is_open.sum()), "overdue": int(overdue.sum()),
            "closed_late": int(late.sum())}

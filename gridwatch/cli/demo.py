"""``gridwatch demo``: build the demo city of Jiaxing and ingest it into the default store."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from gridwatch.cli._options import db_option, handle_errors, resolve_db_url

__all__ = ["demo"]

_out_option = click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                           help="Folder to write the demo into. Default: data/demo/generated.")
_problems_option = click.option("--problems", type=click.IntRange(1_000, 2_000_000),
                                default=250_000, show_default=True,
                                help="Number of problems in the year (planted ones included).")
_seed_option = click.option("--seed", type=int, default=20261031, show_default=True,
                            help="Seed of every random draw; the same seed gives the same files.")


class _Bars:
    """One tqdm bar per generation stage, on stderr."""

    def __init__(self) -> None:
        self.bars: dict[str, tqdm[Any]] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr,
                                          leave=False, unit="")
        if stage == "problems":
            bar.n = done
            bar.refresh()
        else:
            bar.update(done)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _generate(out_dir: Path | None, problems: int, seed: int, scale: float = 1.0) -> Any:
    from gridwatch.demo import generate

    bars = _Bars()
    try:
        return generate(out_dir, problems=problems, seed=seed, scale=scale, progress=bars)
    finally:
        bars.close()


def _generate_province(out_dir: Path, problems: int, seed: int, density: float) -> Path:
    from gridwatch.demo.province import generate_province

    bars = _Bars()
    try:
        return generate_province(out_dir, problems=problems, seed=seed, density=density,
                                 progress=bars)
    finally:
        bars.close()


@click.group(invoke_without_command=True)
@_out_option
@_problems_option
@_seed_option
@db_option
@click.pass_context
@handle_errors
def demo(ctx: click.Context, out_dir: Path | None, problems: int, seed: int,
         db_url: str | None) -> None:
    """Build the demo city of Jiaxing (if not built yet) and ingest its year of problems into
    the default store, then say how to open the app. ``gridwatch demo generate`` only builds."""
    if ctx.invoked_subcommand is not None:
        return
    import pandas as pd

    from gridwatch.access import first_admin
    from gridwatch.config import load_config
    from gridwatch.demo import default_out_dir, load_demo
    from gridwatch.output.files import write_table
    from gridwatch.pipeline import run_ingest
    from gridwatch.placing.layers import load_layers
    from gridwatch.store.transactional import Store

    folder = out_dir or default_out_dir()
    paths = load_demo(folder, problems=problems, seed=seed)
    if paths is None:
        paths = _generate(out_dir, problems, seed)
        click.echo(f"demo city written to {folder}", err=True)
    else:
        click.echo(f"demo city already in {folder} (same seed and size): not rebuilt", err=True)
    config = load_config(paths.config)
    click.echo("… loading the boundary layers", err=True)
    layers = load_layers(config)
    url = resolve_db_url(db_url, config)
    rows = accepted = 0
    all_rejects = []
    with Store(url) as store:
        for i, (files, observed_at) in enumerate(paths.runs, start=1):
            label = f"run {i}/{len(paths.runs)}"
            summary, rejects = _ingest_run(run_ingest, files, label, config=config,
                                           store=store, layers=layers,
                                           observed_at=observed_at)
            rows += summary.rows_in
            accepted += summary.accepted
            all_rejects.append(rejects)
            click.echo(f"{label} ({len(files)} file(s), as of {observed_at:%Y-%m-%d}): "
                       f"{summary.rows_in:,} rows = {summary.accepted:,} accepted + "
                       f"{summary.rejected:,} rejected; {summary.inserted:,} new, "
                       f"{summary.status_changes:,} status changes", err=True)
        _import_ledger(paths, config, store)
        if paths.patches is not None and paths.patches.is_file():
            from gridwatch.patches import import_patch_file

            found = import_patch_file(paths.patches, config=config, store=store, layers=layers)
            click.echo(f"satellite patches {paths.patches.name}: {found.patches} "
                       f"({found.in_protected} in redline zones)", err=True)
        password = first_admin(store, actor="gridwatch demo")
    rejects_path = paths.out_dir / "rejects.csv"
    write_table(pd.concat(all_rejects, ignore_index=True), rejects_path,
                timezone=config.territory.timezone)
    click.echo(f"ingested {len(paths.exports)} export file(s): {rows:,} rows, {accepted:,} "
               f"accepted, into {url}")
    click.echo(f"rejected rows with their reasons: {rejects_path}")
    click.echo(f"planted patterns: {paths.planted} (see data/demo/README.md)")
    if password is not None:
        click.echo(f"sign in to the app as 'admin' with the one-time password {password} "
                   "(change it: gridwatch users set-password admin)")
    click.echo("next: streamlit run app.py")


def _import_ledger(paths: Any, config: Any, store: Any) -> None:
    """The demo's rectification ledger and its register of records, when it has them."""
    if paths.ledger is None or not paths.ledger.is_file():
        return
    from gridwatch.ledger.load import import_ledger_file, import_records_file

    reading = {"settings": config.input, "timezone": config.territory.timezone}
    tasks = import_ledger_file(store, paths.ledger, **reading)
    click.echo(f"ledger {paths.ledger.name}: {tasks.accepted} tasks ({tasks.inserted} new)",
               err=True)
    if paths.ledger_records is not None and paths.ledger_records.is_file():
        records = import_records_file(store, paths.ledger_records, **reading)
        click.echo(f"register {paths.ledger_records.name}: {records.accepted} records "
                   f"({records.inserted} new)", err=True)
    _letters(paths, config, store)


def _letters(paths: Any, config: Any, store: Any) -> None:
    """The demo's letters (一函两单) of its last two weeks, once (not again on a second run)."""
    import datetime as dt
    import json

    from gridwatch.demo._ledger import demo_letters
    from gridwatch.store.ledger import letter_register
    from gridwatch.supervision.context import open_context

    if len(letter_register(store)[0]):
        return
    end = dt.date.fromisoformat(json.loads(paths.planted.read_text(encoding="utf-8"))
                                ["end_date"])
    issued = demo_letters(store, open_context(config, store.url), end)
    click.echo(f"letters (一函两单) of the last two weeks: {issued} issued", err=True)


def _ingest_run(run_ingest: Any, files: list[Path], label: str, **kwargs: Any) -> Any:
    """One ingest run with a row bar (reading) and the stage in the bar's description."""
    bar = tqdm(total=0, unit="row", desc=f"{label}: reading", file=sys.stderr, leave=False)

    def file_progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    def stage(message: str) -> None:
        bar.set_description(f"{label}: {message}")

    try:
        return run_ingest(files, progress=stage, file_progress=file_progress, **kwargs)
    finally:
        bar.close()


@demo.command("generate")
@_out_option
@click.option("--problems", type=click.IntRange(1_000, 10_000_000), default=250_000,
              show_default=True,
              help="Number of problems in the year (planted ones included); up to 2,000,000 "
                   "for the city, 10,000,000 with --province.")
@_seed_option
@click.option("--scale", type=click.FloatRange(0.01, 1.0), default=1.0, show_default=True,
              help="Share of the full density (4,649 grids, 92,600 micro-grids): 0.05 builds "
                   "a small city in seconds.")
@click.option("--province", is_flag=True,
              help="Build the province of Zhejiang instead: its 90 real counties with "
                   "generated towns, grids and micro-grids at --density times Jiaxing's, and "
                   "--problems problems in one export (--out required).")
@click.option("--density", type=click.FloatRange(0.001, 1.0, min_open=False), default=0.1,
              show_default=True,
              help="With --province: share of Jiaxing's areas per km² (1.0: about 2.1 million "
                   "micro-grids, hours to build on one machine).")
@handle_errors
def generate_command(out_dir: Path | None, problems: int, seed: int, scale: float,
                     province: bool, density: float) -> None:
    """Write the demo city: layers (GeoPackage), a year of problem exports (GBK CSV, one
    XLSX, 7 daily snapshots), planted.json and gridwatch.toml. Deterministic for a seed.
    With --province: the province of Zhejiang (layers, problem files, province.json)."""
    if province:
        from gridwatch.errors import ConfigError

        if out_dir is None:
            raise ConfigError("--province needs --out FOLDER")
        config = _generate_province(out_dir, problems, seed, density)
        record = json.loads((config.parent / "province.json").read_text(encoding="utf-8"))
        click.echo(f"project file: {config}")
        click.echo("areas: " + ", ".join(f"{n:,} {k}" for k, n in record["areas"].items()))
        click.echo(f"problem files: {', '.join(record['files'])} in {config.parent}")
        return
    paths = _generate(out_dir, problems, seed, scale)
    click.echo(f"project file: {paths.config}")
    click.echo(f"layers: {', '.join(str(p) for p in paths.layers.values())}")
    click.echo(f"problem files: {len(paths.exports)} in {paths.out_dir}")
    click.echo(f"planted patterns: {paths.planted}")

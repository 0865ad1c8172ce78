"""``gridwatch status | league | remind | review``: daily, weekly and monthly supervision."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pandas as pd

from gridwatch.cli._options import (
    config_option,
    db_option,
    echo_json,
    handle_errors,
    json_option,
    open_config,
    out_option,
    resolve_db_url,
)
from gridwatch.config import Config

__all__ = ["league", "remind", "review", "status"]

_LAYER = click.option("--layer", required=True, help="Layer whose areas are counted, e.g. grid.")


@dataclass(frozen=True)
class _Context:
    """Everything a command needs: the problems, their history and the parsed settings."""

    issues: pd.DataFrame
    history: pd.DataFrame
    timezone: str
    settings: dict[str, Any]
    rebounds: pd.DataFrame
    incidents: pd.DataFrame | None
    config: Config | None

    def areas(self, layer: str) -> pd.DataFrame | None:
        """The layer's areas (to list areas with no problem), when the project declares it."""
        if self.config is None or layer not in {s.name for s in self.config.layers}:
            return None
        from gridwatch.placing.layers import read_layer

        return read_layer(self.config.layer(layer))


def _settings(config: Config | None) -> dict[str, Any]:
    """Parse [deadlines] and [supervision]; every problem of every part in one ConfigError."""
    from gridwatch.errors import ConfigError
    from gridwatch.supervision.codes import parse_asof_settings
    from gridwatch.supervision.deadlines import parse_deadline_settings
    from gridwatch.supervision.incidents import parse_duplicate_settings
    from gridwatch.supervision.league import parse_league_settings
    from gridwatch.supervision.rebound import parse_rebound_settings
    from gridwatch.supervision.remind import parse_escalation_settings

    sup = config.section("supervision") if config else {}
    parts = {
        "deadlines": (parse_deadline_settings, config.section("deadlines") if config else {}),
        "asof": (parse_asof_settings, sup),
        "league": (parse_league_settings, sup.get("league", {})),
        "escalation": (parse_escalation_settings, sup.get("escalation", {})),
        "rebound": (parse_rebound_settings, sup.get("rebound", {})),
        "duplicates": (parse_duplicate_settings, sup.get("duplicates", {})),
    }
    out, problems = {}, []
    for name, (parse, section) in parts.items():
        try:
            out[name] = parse(section if isinstance(section, dict) else {})
        except ConfigError as exc:
            problems += exc.problems or [str(exc)]
    if problems:
        raise ConfigError(f"the supervision settings have {len(problems)} problem(s):", problems)
    return out


def _context(config_path: Path | None, db_url: str | None) -> _Context:
    from gridwatch.store.transactional import Store
    from gridwatch.supervision.incidents import group_incidents
    from gridwatch.supervision.rebound import find_rebounds

    has_config = config_path is not None or Path("gridwatch.toml").is_file()
    config = open_config(config_path) if has_config else None
    settings = _settings(config)
    with Store(resolve_db_url(db_url, config)) as store:
        issues, history = store.issues(), store.history()
    metric = config.territory.metric_crs if config else None
    rebounds = find_rebounds(issues, settings["rebound"], metric_crs=metric)
    incidents = (group_incidents(issues, settings["duplicates"], metric_crs=metric)
                 if settings["asof"].count_incidents else None)
    timezone = config.territory.timezone if config else "Asia/Shanghai"
    return _Context(issues, history, timezone, settings, rebounds, incidents, config)


def _evaluate(ctx: _Context, as_of: str) -> pd.DataFrame:
    from gridwatch.supervision.codes import evaluate_as_of

    return evaluate_as_of(ctx.issues, as_of=as_of, history=ctx.history,
                          deadline_settings=ctx.settings["deadlines"],
                          settings=ctx.settings["asof"], timezone=ctx.timezone)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [dict(row) for row in clean.to_dict(orient="records")]


@click.command()
@click.option("--as-of", "as_of", required=True, help="Local date, YYYY-MM-DD.")
@_LAYER
@json_option
@config_option
@db_option
@handle_errors
def status(as_of: str, layer: str, as_json: bool, config_path: Path | None,
           db_url: str | None) -> None:
    """Red/yellow/green counts per area as of a date (红黄绿码); closed counts are cumulative."""
    from gridwatch.supervision.aggregate import area_statistics

    ctx = _context(config_path, db_url)
    stats = area_statistics(ctx.issues, _evaluate(ctx, as_of), layer=layer, end=as_of,
                            rebounds=ctx.rebounds, incidents=ctx.incidents,
                            areas=ctx.areas(layer), timezone=ctx.timezone)
    if as_json:
        echo_json({"as_of": as_of, "layer": layer, "areas": _records(stats)})
        return
    click.echo(f"as of {as_of}, layer {layer}: {int(stats['open'].sum())} open, "
               f"{int(stats['red'].sum())} red, {int(stats['yellow'].sum())} yellow")
    click.echo(stats.to_string(index=False))


@click.command()
@click.option("--week", required=True, help="ISO week, YYYY-Www (e.g. 2024-W10).")
@_LAYER
@out_option
@config_option
@db_option
@handle_errors
def league(week: str, layer: str, out_path: Path | None, config_path: Path | None,
           db_url: str | None) -> None:
    """Weekly league table of the areas of a layer (周亮晒): score, rank, change, worst."""
    from gridwatch.supervision.league import league_for_week, write_league

    ctx = _context(config_path, db_url)
    table = league_for_week(ctx.issues, week, layer=layer, history=ctx.history,
                            deadline_settings=ctx.settings["deadlines"],
                            asof_settings=ctx.settings["asof"], settings=ctx.settings["league"],
                            rebounds=ctx.rebounds, incidents=ctx.incidents,
                            areas=ctx.areas(layer), timezone=ctx.timezone)
    if out_path is not None:
        written = write_league(table, out_path, timezone=ctx.timezone)
        click.echo(f"wrote {len(table)} areas to {written}")
    else:
        click.echo(table.to_string(index=False))


@click.command()
@click.option("--as-of", "as_of", required=True, help="Local date, YYYY-MM-DD.")
@out_option
@config_option
@db_option
@handle_errors
def remind(as_of: str, out_path: Path | None, config_path: Path | None,
           db_url: str | None) -> None:
    """Daily reminders per responsible unit, with 提醒函/交办单/督办单 escalation (一函两单)."""
    from gridwatch.supervision.remind import reminder_list, reminder_summary, write_reminders

    ctx = _context(config_path, db_url)
    reminders = reminder_list(ctx.issues, _evaluate(ctx, as_of), as_of=as_of,
                              settings=ctx.settings["escalation"], timezone=ctx.timezone)
    if out_path is not None:
        written = write_reminders(reminders, out_path, timezone=ctx.timezone)
        click.echo(f"wrote {len(reminders)} reminders to {', '.join(map(str, written))}")
    else:
        click.echo(reminder_summary(reminders).to_string(index=False))


@click.command()
@click.option("--month", required=True, help="Month reviewed, YYYY-MM.")
@click.option("--layer", default=None,
              help="Layer of the area tables; default the last admin layer (e.g. town), "
                   "else the last area layer.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Workbook to write (.xlsx); .md and .html summaries are written beside it.")
@config_option
@db_option
@handle_errors
def review(month: str, layer: str | None, out_path: Path, config_path: Path | None,
           db_url: str | None) -> None:
    """Monthly review (月复盘): the month against the previous one, workbook and summary."""
    from gridwatch.errors import ConfigError
    from gridwatch.supervision.review import monthly_review, write_review

    ctx = _context(config_path, db_url)
    if layer is None and ctx.config is not None:
        admin = [s.name for s in ctx.config.layers if s.kind == "admin"]
        other = [s.name for s in ctx.config.layers if s.kind not in ("redline", "zone")]
        layer = (admin or other or [None])[-1]
    if layer is None:
        raise ConfigError("--layer is required when the project declares no area layer")
    tables = monthly_review(ctx.issues, month, layer=layer, history=ctx.history,
                            deadline_settings=ctx.settings["deadlines"],
                            asof_settings=ctx.settings["asof"], rebounds=ctx.rebounds,
                            incidents=ctx.incidents, areas=ctx.areas(layer),
                            worst_n=max(ctx.settings["league"].worst_n, 1), timezone=ctx.timezone)
    written = write_review(tables, out_path, title=f"月复盘 {month}", timezone=ctx.timezone)
    click.echo(f"wrote {', '.join(map(str, written))}")

"""Every section of the project file parsed into a typed, validated settings object.

:func:`parse_settings` runs when the project file loads (:func:`gridwatch.config.load_config`),
so a mistake in any section is reported before any command runs, with every problem at once.
Each stage owns the dataclass and parser of its own section; this module only gathers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gridwatch.errors import ConfigError

if TYPE_CHECKING:
    from gridwatch.hotspots import HotspotSettings
    from gridwatch.supervision.codes import AsOfSettings
    from gridwatch.supervision.deadlines import DeadlineSettings
    from gridwatch.supervision.incidents import DuplicateSettings
    from gridwatch.supervision.league import LeagueSettings
    from gridwatch.supervision.rebound import ReboundSettings
    from gridwatch.supervision.remind import EscalationSettings

__all__ = ["Settings", "default_settings", "parse_settings"]


@dataclass(frozen=True)
class Settings:
    """The parsed settings of the later stages (``[deadlines]``, ``[supervision]``,
    ``[hotspots]``, ``[validate]``, ``[app]``)."""

    deadlines: DeadlineSettings
    asof: AsOfSettings
    league: LeagueSettings
    escalation: EscalationSettings
    rebound: ReboundSettings
    duplicates: DuplicateSettings
    hotspots: HotspotSettings
    #: ``[validate.normalise]``: column -> label normalisation steps.
    label_rules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: ``[app]`` as written (tiles, tiles_attribution).
    app: Mapping[str, Any] = field(default_factory=dict)


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_settings(sections: Mapping[str, Any]) -> Settings:
    """Parse the sections of a project file owned by the later stages.

    Parameters
    ----------
    sections
        The project file's top-level tables other than territory, input, layers and store.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        Listing every problem of every section at once.
    """
    from gridwatch.hotspots import hotspot_settings
    from gridwatch.placing.agreement import label_rules
    from gridwatch.supervision.codes import parse_asof_settings
    from gridwatch.supervision.deadlines import parse_deadline_settings
    from gridwatch.supervision.incidents import parse_duplicate_settings
    from gridwatch.supervision.league import parse_league_settings
    from gridwatch.supervision.rebound import parse_rebound_settings
    from gridwatch.supervision.remind import parse_escalation_settings

    supervision = _table(sections.get("supervision"))
    parts = {
        "deadlines": (parse_deadline_settings, _table(sections.get("deadlines"))),
        "asof": (parse_asof_settings, supervision),
        "league": (parse_league_settings, _table(supervision.get("league"))),
        "escalation": (parse_escalation_settings, _table(supervision.get("escalation"))),
        "rebound": (parse_rebound_settings, _table(supervision.get("rebound"))),
        "duplicates": (parse_duplicate_settings, _table(supervision.get("duplicates"))),
        "hotspots": (hotspot_settings, _table(sections.get("hotspots"))),
        "label_rules": (label_rules, _table(sections.get("validate"))),
    }
    parsed: dict[str, Any] = {}
    problems: list[str] = []
    for name, (parse, section) in parts.items():
        try:
            parsed[name] = parse(section)
        except ConfigError as exc:
            problems += exc.problems or [str(exc)]
    if problems:
        raise ConfigError(f"the settings have {len(problems)} problem(s):", problems)
    return Settings(**parsed, app=dict(_table(sections.get("app"))))


def default_settings() -> Settings:
    """The settings of a project file that sets nothing (used when there is no project file)."""
    return parse_settings({})

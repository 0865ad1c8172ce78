"""Every section of the project file parsed into a typed, validated settings object.

:func:`parse_settings` runs when the project file loads (:func:`gridwatch.config.load_config`),
so a mistake in any section is reported before any command runs, with every problem at once.
Each stage owns the dataclass and parser of its own section; this module only gathers them, and
holds the one helper every parser uses to reject unknown keys (:func:`unknown_keys`), so a typo
reads the same everywhere: ``[territory] unknown key 'margn_m': did you mean 'margin_m'?``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gridwatch.access.settings import AccessSettings
from gridwatch.errors import ConfigError

if TYPE_CHECKING:
    from gridwatch.disclosure import PublicSettings
    from gridwatch.enterprises._settings import (
        CampaignSettings,
        EnterpriseSettings,
        PetitionSettings,
    )
    from gridwatch.evidence.settings import EvidenceSettings
    from gridwatch.geocoding._settings import GeocodeSettings
    from gridwatch.hotspots import HotspotSettings
    from gridwatch.ledger._settings import LedgerSettings
    from gridwatch.planning.settings import PlanSettings
    from gridwatch.supervision.codes import AsOfSettings
    from gridwatch.supervision.deadlines import DeadlineSettings
    from gridwatch.supervision.incidents import DuplicateSettings
    from gridwatch.supervision.league import LeagueSettings
    from gridwatch.supervision.rebound import ReboundSettings
    from gridwatch.supervision.remind import EscalationSettings

__all__ = [
    "SETTINGS_SECTIONS",
    "SUPERVISION_TABLES",
    "AppSettings",
    "Settings",
    "default_settings",
    "parse_app_settings",
    "parse_settings",
    "suggestion",
    "type_name",
    "unknown_keys",
]

#: Top-level sections parsed here (the others, territory/input/layers/store, by gridwatch.config).
SETTINGS_SECTIONS: tuple[str, ...] = ("access", "app", "deadlines", "geocoding", "hotspots",
                                      "ledger", "plan", "supervision", "validate",
                                      "public",
                                      "evidence",
                                      # issue 16: gridwatch.enterprises
                                      "enterprises", "petitions", "campaigns")
#: Sub-tables of ``[supervision]``; ``[supervision.review]`` has no keys of its own (the monthly
#: review lists ``[supervision.league] worst_n`` areas) but is accepted as an empty table.
SUPERVISION_TABLES: tuple[str, ...] = ("duplicates", "escalation", "league", "rebound", "review")


def suggestion(name: str, allowed: Iterable[str], *,
               show: Callable[[str], str] = repr) -> str:
    """The end of a message about an unknown ``name``: the nearest allowed name, else all of them.

    Parameters
    ----------
    name
        The name as written.
    allowed
        The names allowed there.
    show
        How a name is written in the message (``repr`` for keys, ``[name]`` for sections).

    Returns
    -------
    str
        ``": did you mean 'margin_m'?"``, or ``"; allowed: 'margin_m', 'name'"`` when no allowed
        name is close (``"; nothing is allowed here"`` when none is allowed).

    Examples
    --------
    >>> suggestion("margn_m", ["name", "margin_m"])
    ": did you mean 'margin_m'?"
    >>> suggestion("zzz", ["name", "margin_m"])
    "; allowed: 'margin_m', 'name'"
    """
    names = sorted(set(allowed))
    if not names:
        return "; nothing is allowed here"
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f": did you mean {show(close[0])}?"
    return f"; allowed: {', '.join(show(n) for n in names)}"


def unknown_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> list[str]:
    """One problem per key of ``table`` that is not ``allowed``, each with its nearest valid key.

    Parameters
    ----------
    table
        A table of the project file as parsed.
    allowed
        Its valid keys.
    where
        How the table is named in messages, e.g. ``"[territory]"`` or ``"layer 'county'"``.

    Returns
    -------
    list of str
        In the order the keys are written, e.g.
        ``["[territory] unknown key 'margn_m': did you mean 'margin_m'?"]``.
    """
    valid = set(allowed)
    return [f"{where} unknown key {key!r}{suggestion(str(key), valid)}"
            for key in table if key not in valid]


def type_name(value: Any) -> str:
    """The TOML name of a value's type, for messages (``"a string"``, ``"an array"``...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"  # dates and times


_TILE_PLACEHOLDERS = (("{z}",), ("{x}",), ("{y}", "{-y}"))


@dataclass(frozen=True)
class AppSettings:
    """``[app]``: how the Streamlit app draws its maps.

    Example::

        [app]
        tiles = "http://tiles.intranet/{z}/{x}/{y}.png"
        tiles_attribution = "天地图"
    """

    #: URL template of an intranet tile server; no tiles (boundaries only) when ``None``.
    tiles: str | None = None
    #: Attribution shown with the tiles.
    tiles_attribution: str = ""


def parse_app_settings(section: Mapping[str, Any]) -> AppSettings:
    """Validate ``[app]``; raise ConfigError listing every problem.

    An empty ``tiles`` means no tiles, as when it is absent.
    """
    raw = dict(section or {})
    problems = unknown_keys(raw, ("tiles", "tiles_attribution"), "[app]")
    values: dict[str, Any] = {}
    for key in ("tiles", "tiles_attribution"):
        if key not in raw:
            continue
        if isinstance(raw[key], str):
            values[key] = raw[key]
        else:
            problems.append(f"[app] {key} must be a string, got {type_name(raw[key])} "
                            f"({raw[key]!r})")
    tiles = values.get("tiles")
    if tiles and not all(any(p in tiles for p in ps) for ps in _TILE_PLACEHOLDERS):
        problems.append("[app] tiles must be the URL template of a tile server with {z}, {x} "
                        "and {y}, such as 'http://tiles.intranet/{z}/{x}/{y}.png', "
                        f"got {tiles!r}")
    if problems:
        raise ConfigError(f"[app] has {len(problems)} problem(s):", problems)
    return AppSettings(tiles=values.get("tiles") or None,
                       tiles_attribution=values.get("tiles_attribution", ""))


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
    #: ``[app]``: map tiles.
    app: AppSettings = field(default_factory=AppSettings)
    #: ``[access]``: how people sign in to the app (gridwatch.access.settings).
    access: AccessSettings = field(default_factory=AccessSettings)
    #: ``[geocoding]``: placing addresses without coordinates (None: parsed as empty).
    geocoding: GeocodeSettings | None = None
    #: ``[ledger]``: the rectification ledger (None: the defaults).
    ledger: LedgerSettings | None = None
    #: ``[plan]``: the priority score and the field plan (None: the defaults).
    plan: PlanSettings | None = None
    #: ``[public]``: what the published progress list may show (None: the defaults).
    public: PublicSettings | None = None
    #: ``[evidence]``: where photos are and the after-photo rule (None: the defaults).
    evidence: EvidenceSettings | None = None
    #: ``[enterprises]``, ``[petitions]``, ``[campaigns]`` (gridwatch.enterprises; None: the
    #: defaults).
    enterprises: EnterpriseSettings | None = None
    petitions: PetitionSettings | None = None
    campaigns: CampaignSettings | None = None


def _table(value: Any, where: str, problems: list[str]) -> dict[str, Any]:
    """``value`` when it is a table; otherwise a problem naming ``where`` and ``{}``."""
    if value is None or isinstance(value, dict):
        return value or {}
    problems.append(f"{where} must be a table, got {type_name(value)} ({value!r})")
    return {}


def parse_settings(sections: Mapping[str, Any]) -> Settings:
    """Parse the sections of a project file owned by the later stages.

    Parameters
    ----------
    sections
        The project file's top-level tables other than territory, input, layers and store:
        any of :data:`SETTINGS_SECTIONS`.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        Listing every problem of every section at once: unknown sections and keys (with the
        nearest valid name), values of the wrong type or out of range.
    """
    from gridwatch.access.settings import parse_access_settings
    from gridwatch.enterprises._settings import (
        parse_campaign_settings,
        parse_enterprise_settings,
        parse_petition_settings,
    )
    from gridwatch.geocoding._settings import parse_geocode_settings
    from gridwatch.hotspots import hotspot_settings
    from gridwatch.placing.agreement import label_rules
    from gridwatch.planning.settings import parse_plan_settings
    from gridwatch.supervision.codes import parse_asof_settings
    from gridwatch.supervision.deadlines import parse_deadline_settings
    from gridwatch.supervision.incidents import parse_duplicate_settings
    from gridwatch.supervision.league import parse_league_settings
    from gridwatch.supervision.rebound import parse_rebound_settings
    from gridwatch.supervision.remind import parse_escalation_settings

    problems = [f"unknown section [{name}]{suggestion(str(name), SETTINGS_SECTIONS, show=_sec)}"
                for name in sections if name not in SETTINGS_SECTIONS]
    top = {name: _table(sections.get(name), f"[{name}]", problems)
           for name in SETTINGS_SECTIONS}
    supervision = top["supervision"]
    sub = {name: _table(supervision.get(name), f"[supervision.{name}]", problems)
           for name in SUPERVISION_TABLES}
    problems += unknown_keys(sub["review"], (), "[supervision.review]")
    parts: dict[str, tuple[Callable[[Any], Any], Mapping[str, Any]]] = {
        "deadlines": (parse_deadline_settings, top["deadlines"]),
        "asof": (parse_asof_settings, supervision),
        "league": (parse_league_settings, sub["league"]),
        "escalation": (parse_escalation_settings, sub["escalation"]),
        "rebound": (parse_rebound_settings, sub["rebound"]),
        "duplicates": (parse_duplicate_settings, sub["duplicates"]),
        "hotspots": (hotspot_settings, top["hotspots"]),
        "label_rules": (label_rules, top["validate"]),
        "app": (parse_app_settings, top["app"]),
        "access": (parse_access_settings, top["access"]),
        "geocoding": (parse_geocode_settings, top["geocoding"]),
        "ledger": (_parse_ledger, top["ledger"]),
        "plan": (parse_plan_settings, top["plan"]),
        "public": (_parse_public, top["public"]),
        "evidence": (_parse_evidence, top["evidence"]),
        "enterprises": (parse_enterprise_settings, top["enterprises"]),
        "petitions": (parse_petition_settings, top["petitions"]),
        "campaigns": (parse_campaign_settings, top["campaigns"]),
    }
    parsed: dict[str, Any] = {}
    for name, (parse, section) in parts.items():
        try:
            parsed[name] = parse(section)
        except ConfigError as exc:
            problems += exc.problems or [str(exc)]
    if problems:
        raise ConfigError(f"the settings have {len(problems)} problem(s):", problems)
    return Settings(**parsed)


def _parse_ledger(section: Mapping[str, Any]) -> LedgerSettings:
    from gridwatch.ledger._settings import parse_ledger_settings

    return parse_ledger_settings(section)


def _parse_public(section: Mapping[str, Any]) -> PublicSettings:
    from gridwatch.disclosure import parse_public_settings

    return parse_public_settings(section)


def _parse_evidence(section: Mapping[str, Any]) -> EvidenceSettings:
    from gridwatch.evidence.settings import parse_evidence_settings

    return parse_evidence_settings(section)


def _sec(name: str) -> str:
    return f"[{name}]"


def default_settings() -> Settings:
    """The settings of a project file that sets nothing (used when there is no project file)."""
    return parse_settings({})

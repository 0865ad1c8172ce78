"""The ``[hotspots]`` section of ``gridwatch.toml``, validated once at the edge."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from gridwatch.errors import ConfigError
from gridwatch.settings import unknown_keys

__all__ = ["WEIGHT_KINDS", "HotspotSettings", "hotspot_settings"]

#: Kinds of spatial weights (see :mod:`gridwatch.hotspots._weights`).
WEIGHT_KINDS: tuple[str, ...] = ("queen", "rook", "distance", "knn")


@dataclass(frozen=True)
class HotspotSettings:
    """Options of the hotspot stage (every key of ``[hotspots]`` is optional)."""

    #: Rule: at least this many overdue problems ...
    rule_min_overdue: int = 5
    #: ... or an overdue rate of at least this ...
    rule_min_rate: float = 0.3
    #: ... among at least this many problems.
    rule_min_problems: int = 10
    #: Spatial weights: queen, rook, distance or knn.
    weights: str = "queen"
    knn_k: int = 8
    distance_m: float | None = None
    permutations: int = 999
    seed: int = 20240101
    #: "permutation" or "analytical" p-values for Gi* bins.
    inference: str = "permutation"
    fdr: bool = False
    #: Minimum problems for the overdue_rate variable (areas below it get rate 0).
    rate_min_problems: int = 5
    hex_resolution: int = 8
    #: Emerging: previous periods in each bin's neighbourhood.
    time_lag: int = 1
    #: Emerging: population of each bin's Gi*: "period" (its time window) or "cube".
    scope: str = "period"
    period: str = "week"
    #: Emerging: number of periods ending with the as-of date (0: 52 weeks or 12 months).
    periods: int = 0
    alpha: float = 0.05
    trend_alpha: float = 0.05
    #: Folder for the weights cache, relative to the project file ("" for memory only).
    cache_dir: str = ".gridwatch-cache"
    #: Leave out problems placed from their address with a precision radius larger than
    #: this many metres (gridwatch.geocoding); None counts them all.
    max_precision_m: float | None = None


def hotspot_settings(section: dict[str, Any]) -> HotspotSettings:
    """Validate a ``[hotspots]`` table; every problem is reported at once.

    Raises
    ------
    ConfigError
        Listing unknown keys and values of the wrong type or out of range.
    """
    defaults = HotspotSettings()
    known = {f.name: f for f in fields(HotspotSettings)}
    problems: list[str] = []
    values: dict[str, Any] = {}
    problems += unknown_keys(section, known, "[hotspots]")
    for key, raw in section.items():
        if key not in known:
            continue
        default = getattr(defaults, key)
        if isinstance(default, bool):
            ok = isinstance(raw, bool)
        elif isinstance(default, int):
            ok = isinstance(raw, int) and not isinstance(raw, bool)
        elif isinstance(default, float) or key in ("distance_m", "max_precision_m"):
            ok = isinstance(raw, int | float) and not isinstance(raw, bool)
            raw = float(raw) if ok else raw
        else:
            ok = isinstance(raw, str)
        if not ok:
            problems.append(f"[hotspots] {key} = {raw!r} has the wrong type; expected "
                            f"{type(default).__name__ if default is not None else 'number'}")
            continue
        values[key] = raw
    settings = HotspotSettings(**values)
    checks = [
        (settings.rule_min_overdue >= 1, "rule_min_overdue must be >= 1"),
        (0 < settings.rule_min_rate <= 1, "rule_min_rate must be in (0, 1]"),
        (settings.rule_min_problems >= 1, "rule_min_problems must be >= 1"),
        (settings.weights in WEIGHT_KINDS, f"weights must be one of {', '.join(WEIGHT_KINDS)}"),
        (settings.knn_k >= 1, "knn_k must be >= 1"),
        (settings.weights != "distance" or (settings.distance_m or 0) > 0,
         "distance_m (metres > 0) is required with weights = 'distance'"),
        (settings.permutations >= 0, "permutations must be >= 0"),
        (settings.inference in ("permutation", "analytical"),
         "inference must be 'permutation' or 'analytical'"),
        (0 <= settings.hex_resolution <= 15, "hex_resolution must be 0–15 (8–9 for a city)"),
        (settings.time_lag >= 0, "time_lag must be >= 0"),
        (settings.period in ("week", "month"), "period must be 'week' or 'month'"),
        (settings.scope in ("period", "cube"), "scope must be 'period' or 'cube'"),
        (settings.periods == 0 or settings.periods >= 3, "periods must be 0 (default) or >= 3"),
        (0 < settings.alpha < 1, "alpha must be between 0 and 1"),
        (0 < settings.trend_alpha < 1, "trend_alpha must be between 0 and 1"),
        (settings.rate_min_problems >= 1, "rate_min_problems must be >= 1"),
        (settings.max_precision_m is None or settings.max_precision_m > 0,
         "max_precision_m must be > 0 (metres)"),
    ]
    problems += [f"[hotspots] {msg}, got {_value_of(settings, msg)!r}" for ok, msg in checks
                 if not ok]
    if problems:
        raise ConfigError(f"the [hotspots] section has {len(problems)} problem(s):", problems)
    return settings


def _value_of(settings: HotspotSettings, message: str) -> Any:
    return getattr(settings, message.split()[0], None)

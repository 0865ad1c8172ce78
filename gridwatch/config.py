"""The project file, ``gridwatch.toml``: one validated settings object, loaded once at the edge.

Library functions take the pieces they need (a :class:`LayerSpec`, a timezone name) as explicit
arguments; only the CLI and the app call :func:`load_config` and read ``GRIDWATCH_*`` variables.
Sections owned by later stages (``[deadlines]``, ``[hotspots]``, ``[app]`` ...) are kept as plain
dictionaries in :attr:`Config.sections` and parsed by the stage that owns them.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gridwatch.errors import ConfigError
from gridwatch.schema import CANONICAL_COLUMNS, CATEGORIES, DATE_LIMITS, SOURCES, STATUSES
from gridwatch.settings import Settings, default_settings, parse_settings

__all__ = [
    "LAYER_KINDS",
    "Config",
    "InputSettings",
    "LayerSpec",
    "Territory",
    "config_from_dict",
    "default_store_url",
    "load_config",
]

LayerKind = Literal["admin", "grid", "microgrid", "basin", "redline", "zone"]
LAYER_KINDS: tuple[str, ...] = ("admin", "grid", "microgrid", "basin", "redline", "zone")
DEFAULT_NEAR_M = 500.0


@dataclass(frozen=True)
class Territory:
    """The area a project covers."""

    name: str = ""
    timezone: str = "Asia/Shanghai"
    #: Points farther than this outside the union of the admin layer are rejected.
    margin_m: float = 2000.0
    #: Metric CRS for distances ("EPSG:4549"); chosen from the data when empty.
    metric_crs: str | None = None


@dataclass(frozen=True)
class InputSettings:
    """How problem files are read."""

    #: Default coordinate system of problem files (wgs84, cgcs2000, gcj02, bd09, EPSG:n).
    crs: str = "wgs84"
    #: Encoding of text files; detected (UTF-8, UTF-8-BOM, GB18030) when empty.
    encoding: str | None = None
    #: Extra header aliases: canonical column -> headers.
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Extra labels per field ("category", "source", "status"): label -> code.
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Input columns kept as they are beside the canonical record (e.g. a city's own area label).
    keep_columns: tuple[str, ...] = ()
    #: Place rows without coordinates at the representative point of their reported grid.
    grid_fallback: bool = True
    #: Largest input file accepted, in megabytes (uncompressed size for zip/xlsx).
    max_file_mb: float = 500.0
    #: First and last local day a date in a problem file may fall on (report times, deadlines,
    #: closing times); a row with a date outside them is rejected.
    min_date: dt.date = dt.date(1970, 1, 1)
    max_date: dt.date = dt.date(2100, 12, 31)


@dataclass(frozen=True)
class LayerSpec:
    """One boundary layer declared in ``[[layers]]``."""

    name: str
    path: Path
    id_field: str
    kind: LayerKind
    name_field: str | None = None
    crs: str = "wgs84"
    parent: str | None = None
    #: Field holding the parent layer's id; when empty the parent is found spatially.
    parent_field: str | None = None
    #: For redline layers: distance within which a problem counts as near.
    near_m: float | None = None
    #: Layer inside a multi-layer file (GeoPackage, KML).
    source_layer: str | None = None
    #: Encoding of a Shapefile's .dbf when it has no .cpg (e.g. "GBK").
    encoding: str | None = None


@dataclass(frozen=True)
class Config:
    """A loaded project file."""

    territory: Territory
    input: InputSettings
    layers: tuple[LayerSpec, ...]
    #: Folder of the project file; relative paths in it are relative to this.
    root: Path
    #: Store URL from ``[store] url``; ``None`` means the default SQLite file.
    store_url: str | None = None
    #: Other sections as written (see :attr:`settings` for their parsed form).
    sections: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: The later stages' sections, parsed and validated when the file loads.
    settings: Settings = field(default_factory=default_settings)

    def layer(self, name: str) -> LayerSpec:
        """Return the layer called ``name``; raise ConfigError listing the names otherwise."""
        for spec in self.layers:
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in self.layers) or "(none)"
        raise ConfigError(f"no layer named {name!r}; layers in the project file: {known}")

    def layers_of_kind(self, *kinds: str) -> tuple[LayerSpec, ...]:
        """Return the layers whose kind is one of ``kinds``, in declaration order."""
        return tuple(s for s in self.layers if s.kind in kinds)

    def section(self, name: str) -> dict[str, Any]:
        """Return a later stage's section (``{}`` when absent)."""
        value = self.sections.get(name, {})
        return value if isinstance(value, dict) else {}


def default_store_url(root: Path | None = None) -> str:
    """Return the URL of the embedded default store: ``data/gridwatch.sqlite`` under ``root``."""
    base = Path(root) if root is not None else Path.cwd()
    return f"sqlite:///{(base / 'data' / 'gridwatch.sqlite').as_posix()}"


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a ``gridwatch.toml``.

    Parameters
    ----------
    path
        The project file.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        When the file is missing, is not TOML, or has problems; every problem is listed.
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"project file not found: {file}")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from exc
    return config_from_dict(data, root=file.parent.resolve(), path=file.resolve())


def config_from_dict(data: dict[str, Any], *, root: Path, path: Path | None = None) -> Config:
    """Validate a parsed project file; see :func:`load_config`."""
    problems: list[str] = []
    territory = _territory(data.get("territory", {}), problems)
    input_settings = _input(data.get("input", {}), problems)
    layers = _layers(data.get("layers", []), root, problems)
    store_url = data.get("store", {}).get("url") if isinstance(data.get("store"), dict) else None
    if store_url is not None and not isinstance(store_url, str):
        problems.append("[store] url must be a string such as 'sqlite:///data/gridwatch.sqlite'")
    known = {"territory", "input", "layers", "store"}
    sections = {k: v for k, v in data.items() if k not in known}
    settings = None
    try:
        settings = parse_settings(sections)
    except ConfigError as exc:
        problems += exc.problems or [str(exc)]
    if problems or settings is None:
        where = f" in {path}" if path else ""
        raise ConfigError(f"the project file has {len(problems)} problem(s){where}:", problems)
    return Config(territory=territory, input=input_settings, layers=layers, root=root,
                  store_url=store_url, sections=sections, path=path, settings=settings)


def _territory(raw: Any, problems: list[str]) -> Territory:
    if not isinstance(raw, dict):
        problems.append("[territory] must be a table")
        return Territory()
    tz = str(raw.get("timezone", "Asia/Shanghai"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"[territory] timezone {tz!r} is not a known time zone "
                        "(use an IANA name such as 'Asia/Shanghai')")
    margin = raw.get("margin_m", 2000.0)
    if not isinstance(margin, int | float) or margin < 0:
        problems.append(f"[territory] margin_m must be a number of metres >= 0, got {margin!r}")
        margin = 2000.0
    metric = raw.get("metric_crs")
    return Territory(name=str(raw.get("name", "")), timezone=tz, margin_m=float(margin),
                     metric_crs=str(metric) if metric else None)


def _input(raw: Any, problems: list[str]) -> InputSettings:
    if not isinstance(raw, dict):
        problems.append("[input] must be a table")
        return InputSettings()
    aliases: dict[str, tuple[str, ...]] = {}
    for column, headers in dict(raw.get("aliases", {})).items():
        if column not in CANONICAL_COLUMNS:
            problems.append(f"[input.aliases] {column!r} is not a canonical column; "
                            f"allowed: {', '.join(CANONICAL_COLUMNS)}")
            continue
        if isinstance(headers, str):
            headers = [headers]
        aliases[column] = tuple(str(h) for h in headers)
    labels: dict[str, dict[str, str]] = {}
    allowed = {"category": CATEGORIES, "source": SOURCES, "status": STATUSES}
    for field_name, table in dict(raw.get("labels", {})).items():
        if field_name not in allowed:
            problems.append(f"[input.labels] {field_name!r} is not one of category, source, status")
            continue
        labels[field_name] = {}
        for label, code in dict(table).items():
            if code not in allowed[field_name]:
                problems.append(f"[input.labels.{field_name}] {label!r} maps to {code!r}; "
                                f"allowed codes: {', '.join(allowed[field_name])}")
            labels[field_name][str(label)] = str(code)
    keep = raw.get("keep_columns", [])
    if isinstance(keep, str):
        keep = [keep]
    max_mb = raw.get("max_file_mb", 500.0)
    if not isinstance(max_mb, int | float) or max_mb <= 0:
        problems.append(f"[input] max_file_mb must be a positive number, got {max_mb!r}")
        max_mb = 500.0
    dates = {"min_date": InputSettings.min_date, "max_date": InputSettings.max_date}
    for key, default in list(dates.items()):
        value = raw.get(key, default)
        day = value if type(value) is dt.date else None  # a TOML date: min_date = 1970-01-01
        if isinstance(value, str):
            try:
                day = dt.date.fromisoformat(value.strip())
            except ValueError:
                day = None
        if day is None or not DATE_LIMITS[0] <= day <= DATE_LIMITS[1]:
            problems.append(f"[input] {key} must be a date from {DATE_LIMITS[0]} to "
                            f"{DATE_LIMITS[1]} such as {default}, got {value!r}")
            day = default
        dates[key] = day
    if dates["min_date"] > dates["max_date"]:
        problems.append(f"[input] min_date {dates['min_date']} is after max_date "
                        f"{dates['max_date']}")
    return InputSettings(
        crs=str(raw.get("crs", "wgs84")),
        encoding=raw.get("encoding"),
        aliases=aliases,
        labels=labels,
        keep_columns=tuple(str(c) for c in keep),
        grid_fallback=bool(raw.get("grid_fallback", True)),
        max_file_mb=float(max_mb),
        min_date=dates["min_date"],
        max_date=dates["max_date"],
    )


def _layers(raw: Any, root: Path, problems: list[str]) -> tuple[LayerSpec, ...]:
    if not isinstance(raw, list):
        problems.append("[[layers]] must be an array of tables")
        return ()
    specs: list[LayerSpec] = []
    for i, item in enumerate(raw, start=1):
        where = f"[[layers]] #{i}"
        if not isinstance(item, dict):
            problems.append(f"{where} must be a table")
            continue
        name = item.get("name")
        if not name or not isinstance(name, str) or not name.isidentifier():
            problems.append(f"{where}: name {name!r} must be a short identifier such as 'county' "
                            "(it becomes the column <name>_id)")
            continue
        where = f"layer {name!r}"
        missing = [k for k in ("path", "id_field", "kind") if not item.get(k)]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        kind = item["kind"]
        if kind not in LAYER_KINDS:
            problems.append(f"{where}: kind {kind!r} is not one of {', '.join(LAYER_KINDS)}")
            continue
        path = Path(item["path"])
        if not path.is_absolute():
            path = root / path
        near = item.get("near_m")
        if near is None and kind == "redline":
            near = DEFAULT_NEAR_M
        if near is not None and (not isinstance(near, int | float) or near < 0):
            problems.append(f"{where}: near_m must be a number of metres >= 0, got {near!r}")
            near = None
        specs.append(LayerSpec(
            name=name, path=path, id_field=str(item["id_field"]), kind=kind,
            name_field=item.get("name_field"), crs=str(item.get("crs", "wgs84")),
            parent=item.get("parent"), parent_field=item.get("parent_field"),
            near_m=float(near) if near is not None else None,
            source_layer=item.get("layer"), encoding=item.get("encoding"),
        ))
    names = [s.name for s in specs]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"layer name {dup!r} is declared more than once")
    for spec in specs:
        if spec.parent is not None and spec.parent not in names:
            problems.append(f"layer {spec.name!r}: parent {spec.parent!r} is not a declared layer")
    _check_parent_cycles(specs, problems)
    return tuple(specs)


def _check_parent_cycles(specs: list[LayerSpec], problems: list[str]) -> None:
    parents = {s.name: s.parent for s in specs}
    for start in parents:
        seen, node = {start}, parents.get(start)
        while node is not None:
            if node in seen:
                problems.append(f"layer {start!r}: parent chain loops back to {node!r}")
                break
            seen.add(node)
            node = parents.get(node)

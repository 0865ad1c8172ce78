"""The project file, ``gridwatch.toml``: one validated settings object, loaded once at the edge.

Library functions take the pieces they need (a :class:`LayerSpec`, a timezone name) as explicit
arguments; only the CLI and the app call :func:`load_config` and read ``GRIDWATCH_*`` variables.
Every section and key is checked when the file loads, and every problem of every section is
reported at once. Sections owned by later stages (``[deadlines]``, ``[supervision]``,
``[hotspots]``, ``[validate]``, ``[app]``) are parsed by the stage that owns them into
:attr:`Config.settings` (see :mod:`gridwatch.settings`); :attr:`Config.sections` keeps them as
written.
"""

from __future__ import annotations

import codecs
import datetime as dt
import math
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gridwatch.errors import ConfigError
from gridwatch.schema import (
    CANONICAL_COLUMNS,
    CATEGORIES,
    DATE_LIMITS,
    DEFAULT_TIMEZONE,
    SOURCES,
    STATUSES,
)
from gridwatch.settings import (
    SETTINGS_SECTIONS,
    Settings,
    default_settings,
    parse_settings,
    suggestion,
    type_name,
    unknown_keys,
)

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
    timezone: str = DEFAULT_TIMEZONE
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
    #: Most data rows one input file may have (all members of a zip together); checked while
    #: reading, so a file that unpacks to millions of rows stops there. A daily export has
    #: thousands of rows and a year's snapshot about a million.
    max_rows: int = 2_000_000
    #: Most columns a table may have (XLSX: up to the last cell used in the rows where the
    #: header is looked for; cells to the right of those are not read).
    max_columns: int = 200
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
    """Validate a parsed project file; see :func:`load_config`.

    Every section and every key is checked: unknown sections and keys are reported with the
    nearest valid name (``unknown section [inptu]: did you mean [input]?``), values of the wrong
    type or out of range with the value and what is allowed. All problems of all sections are
    raised together in one :class:`~gridwatch.errors.ConfigError` (its ``problems`` list).
    """
    problems: list[str] = []
    for name, value in data.items():
        if name not in _SECTIONS:
            problems.append(_unknown_section(str(name), value))
    territory = _territory(data.get("territory", {}), problems)
    input_settings = _input(data.get("input", {}), problems)
    layers = _layers(data.get("layers", []), root, problems)
    store_url = _store(data.get("store", {}), problems)
    sections = {k: v for k, v in data.items() if k in SETTINGS_SECTIONS}
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


#: Every top-level section, as it is written in the file.
_SECTIONS: dict[str, str] = {
    "territory": "[territory]", "input": "[input]", "layers": "[[layers]]", "store": "[store]",
    **{name: f"[{name}]" for name in SETTINGS_SECTIONS},
}
_TERRITORY_KEYS = tuple(f.name for f in fields(Territory))
_INPUT_KEYS = tuple(f.name for f in fields(InputSettings))
#: Keys of a ``[[layers]]`` table (``layer`` is :attr:`LayerSpec.source_layer`).
_LAYER_KEYS = ("name", "path", "id_field", "kind", "name_field", "crs", "parent",
               "parent_field", "near_m", "layer", "encoding")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _unknown_section(name: str, value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        written = f"[[{name}]]"
    elif isinstance(value, dict):
        written = f"[{name}]"
    else:
        return (f"unknown top-level key {name!r} = {value!r}: keys belong in a section"
                f"{suggestion(name, _SECTIONS, show=_SECTIONS.__getitem__)}")
    return f"unknown section {written}{suggestion(name, _SECTIONS, show=_SECTIONS.__getitem__)}"


def _is_table(raw: Any, where: str, problems: list[str]) -> bool:
    if isinstance(raw, dict):
        return True
    problems.append(f"{where} must be a table, got {type_name(raw)} ({raw!r})")
    return False


def _string(raw: dict[str, Any], key: str, where: str, problems: list[str],
            default: str | None = None, *, example: str = "",
            empty_ok: bool = False) -> str | None:
    """``raw[key]`` when it is a non-empty string; ``default`` when absent, wrong, or empty
    and ``empty_ok`` (an empty value then means "not set")."""
    if key not in raw:
        return default
    value = raw[key]
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, str) and empty_ok:
        return default
    hint = f" such as {example!r}" if example else ""
    got = "an empty string" if isinstance(value, str) else f"{type_name(value)} ({value!r})"
    problems.append(f"{where} {key} must be a non-empty string{hint}, got {got}")
    return default


def _number(raw: dict[str, Any], key: str, where: str, problems: list[str], default: float,
            *, positive: bool = False, unit: str = "") -> float:
    """``raw[key]`` as a float when it is a number >= 0 (> 0 when ``positive``)."""
    if key not in raw:
        return default
    value = raw[key]
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and (value > 0 if positive else value >= 0) and math.isfinite(value):
        return float(value)
    what = f"a number{unit} {'> 0' if positive else '>= 0'}"
    problems.append(f"{where} {key} must be {what}, got "
                    f"{value!r}" + ("" if ok else f" ({type_name(value)})"))
    return default


def _count(raw: dict[str, Any], key: str, where: str, problems: list[str], default: int,
           *, unit: str = "") -> int:
    """``raw[key]`` when it is a whole number >= 1."""
    value = raw.get(key, default)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    problems.append(f"{where} {key} must be a whole number{unit} >= 1 such as {default}, got "
                    f"{value!r}" + ("" if isinstance(value, int | float) and not
                                    isinstance(value, bool) else f" ({type_name(value)})"))
    return default


def _boolean(raw: dict[str, Any], key: str, where: str, problems: list[str],
             default: bool) -> bool:
    value = raw.get(key, default)
    if isinstance(value, bool):
        return value
    problems.append(f"{where} {key} must be true or false (without quotes), got "
                    f"{type_name(value)} ({value!r})")
    return default


def _strings(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    """A string or an array of strings, as a tuple."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    problems.append(f"{where} must be a string or an array of strings, got "
                    f"{type_name(value)} ({value!r})")
    return ()


def _crs(value: str | None, where: str, problems: list[str]) -> None:
    from gridwatch.placing.coords import parse_crs

    if value is not None and parse_crs(value) is None:
        problems.append(f"{where} {value!r} is not a known coordinate system; allowed: wgs84, "
                        "cgcs2000, gcj02, bd09 or EPSG:n")


def _encoding(value: str | None, where: str, problems: list[str]) -> None:
    if value is None:
        return
    try:
        codecs.lookup(value)
    except LookupError:
        problems.append(f"{where} {value!r} is not a known text encoding; use a name such as "
                        "'utf-8', 'utf-8-sig', 'gb18030' or 'gbk'")


def _territory(raw: Any, problems: list[str]) -> Territory:
    where = "[territory]"
    if not _is_table(raw, where, problems):
        return Territory()
    problems += unknown_keys(raw, _TERRITORY_KEYS, where)
    name = _string(raw, "name", where, problems, "", empty_ok=True) or ""
    tz = _string(raw, "timezone", where, problems, DEFAULT_TIMEZONE,
                 example="Asia/Shanghai") or DEFAULT_TIMEZONE
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{where} timezone {tz!r} is not a known time zone "
                        "(use an IANA name such as 'Asia/Shanghai')")
    margin = _number(raw, "margin_m", where, problems, 2000.0, unit=" of metres")
    metric = _string(raw, "metric_crs", where, problems, example="EPSG:4549", empty_ok=True)
    if metric is not None:
        metric = _metric_crs(metric, problems)
    return Territory(name=name, timezone=tz, margin_m=margin, metric_crs=metric)


def _metric_crs(value: str, problems: list[str]) -> str | None:
    """The EPSG code of a projected CRS in metres (``[territory] metric_crs``)."""
    from pyproj import CRS

    from gridwatch.placing.coords import parse_crs

    code = parse_crs(value)
    crs = CRS.from_user_input(code) if code and code.startswith("EPSG:") else None
    unit = crs.axis_info[0].unit_name if crs is not None and crs.axis_info else ""
    if crs is None or not crs.is_projected or unit not in ("metre", "meter"):
        problems.append(f"[territory] metric_crs {value!r} is not a projected coordinate system "
                        "in metres; use an EPSG code such as 'EPSG:4549' (CGCS2000 / 3-degree "
                        "Gauss-Kruger CM 120E), or leave it out to choose one from the data")
        return None
    return code


def _input(raw: Any, problems: list[str]) -> InputSettings:
    where = "[input]"
    if not _is_table(raw, where, problems):
        return InputSettings()
    problems += unknown_keys(raw, _INPUT_KEYS, where)
    crs = _string(raw, "crs", where, problems, "wgs84", example="gcj02") or "wgs84"
    _crs(crs, f"{where} crs", problems)
    encoding = _string(raw, "encoding", where, problems, example="gb18030", empty_ok=True)
    _encoding(encoding, f"{where} encoding", problems)
    aliases: dict[str, tuple[str, ...]] = {}
    raw_aliases = raw.get("aliases", {})
    if _is_table(raw_aliases, "[input.aliases]", problems):
        for column, headers in raw_aliases.items():
            if column not in CANONICAL_COLUMNS:
                problems.append(f"[input.aliases] {column!r} is not a canonical column"
                                f"{suggestion(column, CANONICAL_COLUMNS)}")
                continue
            aliases[column] = _strings(headers, f"[input.aliases] {column}", problems)
    labels: dict[str, dict[str, str]] = {}
    allowed = {"category": CATEGORIES, "source": SOURCES, "status": STATUSES}
    raw_labels = raw.get("labels", {})
    if _is_table(raw_labels, "[input.labels]", problems):
        for field_name, table in raw_labels.items():
            if field_name not in allowed:
                problems.append(f"[input.labels] {field_name!r} is not a field with labels"
                                f"{suggestion(field_name, allowed)}")
                continue
            if not _is_table(table, f"[input.labels.{field_name}]", problems):
                continue
            labels[field_name] = {}
            for label, code in table.items():
                if not isinstance(code, str) or code not in allowed[field_name]:
                    problems.append(f"[input.labels.{field_name}] {label!r} maps to {code!r}; "
                                    f"allowed codes: {', '.join(allowed[field_name])}")
                    continue
                labels[field_name][str(label)] = code
    keep = _strings(raw["keep_columns"], f"{where} keep_columns", problems) \
        if "keep_columns" in raw else ()
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
        crs=crs,
        encoding=encoding,
        aliases=aliases,
        labels=labels,
        keep_columns=keep,
        grid_fallback=_boolean(raw, "grid_fallback", where, problems, True),
        max_file_mb=_number(raw, "max_file_mb", where, problems, 500.0, positive=True,
                            unit=" of megabytes"),
        max_rows=_count(raw, "max_rows", where, problems, InputSettings.max_rows,
                        unit=" of rows"),
        max_columns=_count(raw, "max_columns", where, problems, InputSettings.max_columns,
                           unit=" of columns"),
        min_date=dates["min_date"],
        max_date=dates["max_date"],
    )


def _store(raw: Any, problems: list[str]) -> str | None:
    where = "[store]"
    if not _is_table(raw, where, problems):
        return None
    problems += unknown_keys(raw, ("url",), where)
    url = _string(raw, "url", where, problems, example="sqlite:///data/gridwatch.sqlite")
    if url is not None and not _URL.match(url):
        problems.append(f"{where} url {url!r} is not a database URL; write it as "
                        "'sqlite:///path/to/file.sqlite' or "
                        "'postgresql+psycopg://user@host:5432/db'")
        return None
    return url


def _layers(raw: Any, root: Path, problems: list[str]) -> tuple[LayerSpec, ...]:
    if not isinstance(raw, list):
        hint = " (write each layer as its own [[layers]] table)" if isinstance(raw, dict) else ""
        problems.append(f"[[layers]] must be an array of tables, got {type_name(raw)}{hint}")
        return ()
    specs: list[LayerSpec] = []
    for i, item in enumerate(raw, start=1):
        where = f"[[layers]] #{i}"
        if not isinstance(item, dict):
            problems.append(f"{where} must be a table, got {type_name(item)} ({item!r})")
            continue
        spec = _layer(item, where, root, problems)
        if spec is not None:
            specs.append(spec)
    names = [s.name for s in specs]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"layer name {dup!r} is declared more than once")
    for spec in specs:
        if spec.parent is not None and spec.parent not in names:
            problems.append(f"layer {spec.name!r}: parent {spec.parent!r} is not a declared layer"
                            f"{suggestion(spec.parent, names)}")
    _check_parent_cycles(specs, problems)
    return tuple(specs)


def _layer(item: dict[str, Any], where: str, root: Path,
           problems: list[str]) -> LayerSpec | None:
    """One ``[[layers]]`` table; ``None`` when it lacks what a layer needs."""
    name = item.get("name")
    named = isinstance(name, str) and name.isidentifier()
    if named:
        where = f"layer {name!r}"
    else:
        problems.append(f"{where}: name {name!r} must be a short identifier such as 'county' "
                        "(it becomes the column <name>_id)")
    problems += unknown_keys(item, _LAYER_KEYS, where)
    missing = [k for k in ("path", "id_field", "kind") if k not in item]
    if missing:
        problems.append(f"{where}: missing {', '.join(missing)}")
    path = _string(item, "path", where, problems, example="boundaries/county.geojson")
    id_field = _string(item, "id_field", where, problems, example="code")
    kind = _string(item, "kind", where, problems, example="admin")
    if kind is not None and kind not in LAYER_KINDS:
        problems.append(f"{where}: kind {kind!r} is not a layer kind"
                        f"{suggestion(kind, LAYER_KINDS)}")
    crs = _string(item, "crs", where, problems, "wgs84", example="gcj02") or "wgs84"
    _crs(crs, f"{where} crs", problems)
    text = {key: _string(item, key, where, problems, empty_ok=key == "encoding")
            for key in ("name_field", "parent", "parent_field", "layer", "encoding")}
    _encoding(text["encoding"], f"{where} encoding", problems)
    near = _number(item, "near_m", where, problems, DEFAULT_NEAR_M, unit=" of metres") \
        if "near_m" in item or kind == "redline" else None
    if not named or path is None or id_field is None or kind not in LAYER_KINDS:
        return None
    full = Path(path)
    if not full.is_absolute():
        full = root / full
    return LayerSpec(name=str(name), path=full, id_field=id_field, kind=kind,  # type: ignore[arg-type]
                     name_field=text["name_field"], crs=crs, parent=text["parent"],
                     parent_field=text["parent_field"], near_m=near,
                     source_layer=text["layer"], encoding=text["encoding"])


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

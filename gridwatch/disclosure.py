"""``[public]`` of the project file: what the published progress list (整改公示,
:mod:`gridwatch.output.public`) may show beyond its fixed columns.

Kept apart from :mod:`gridwatch.output` so loading a project file imports no GIS library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gridwatch.errors import ConfigError

__all__ = ["PUBLIC_ALLOWED", "PublicSettings", "parse_public_settings"]

#: Columns a project may add with ``[public] columns``, and their headers.
PUBLIC_ALLOWED: dict[str, str] = {
    "issue_id": "问题编号", "source": "问题来源", "responsible_unit": "责任单位",
    "task_type": "整改类型", "description": "问题描述", "address": "地址",
    "reported_grid": "所属网格", "ledger_ref": "整改任务编号",
}

@dataclass(frozen=True)
class PublicSettings:
    """``[public]``: what the published list may show beyond its fixed columns.

    Example::

        [public]
        columns = ["responsible_unit"]   # also publish the responsible unit
        level = "town"                   # round places to this admin layer
    """

    columns: tuple[str, ...] = ()
    #: Admin layer whose area names stand for the place; default the deepest admin layer.
    level: str | None = None


def parse_public_settings(section: Mapping[str, Any]) -> PublicSettings:
    """Validate ``[public]``; raise ConfigError listing every problem."""
    from gridwatch.settings import type_name, unknown_keys

    problems = unknown_keys(section, ("columns", "level"), "[public]")
    columns = section.get("columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        problems.append(f"[public] columns must be an array of column names, got "
                        f"{type_name(columns)} ({columns!r})")
        columns = []
    for name in columns:
        if name not in PUBLIC_ALLOWED:
            problems.append(f"[public] columns: {name!r} cannot be published; allowed: "
                            f"{', '.join(PUBLIC_ALLOWED)}")
    level = section.get("level")
    if level is not None and not isinstance(level, str):
        problems.append(f"[public] level must be a layer name, got {type_name(level)}")
        level = None
    if problems:
        raise ConfigError(f"[public] has {len(problems)} problem(s):", problems)
    return PublicSettings(columns=tuple(columns), level=level or None)

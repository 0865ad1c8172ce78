"""gridwatch: grid-based environmental supervision (网格化环境监管).

Problems found by grid workers, citizens, hotlines and monitoring are placed in their county,
town, grid, micro-grid, river basin and ecological redline zone; deadlines are tracked on Chinese
working days; hotspots of overdue problems are found and mapped offline.

The package follows the pipeline, one subpackage per stage::

    ingest → placing → store → supervision → hotspots → output / ui

``pipeline.run_ingest`` wires the first three; ``supervision.context.open_context`` builds what
every supervision question needs, once. The names below are the public API; they are imported
on first use, so ``import gridwatch`` stays cheap for the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gridwatch.config import Config, LayerSpec, load_config
from gridwatch.errors import (
    ConfigError,
    CRSError,
    GridwatchError,
    InputFileError,
    LayerError,
    SchemaError,
    StoreError,
)

if TYPE_CHECKING:  # pragma: no cover - names for type checkers; resolved lazily at run time
    from gridwatch.geocoding import build_gazetteer, evaluate_holdout, geocode_addresses
    from gridwatch.hotspots import (
        emerging_hotspots,
        gi_star,
        hex_hotspots,
        rule_hotspots,
        run_hotspots,
    )
    from gridwatch.ingest import read_issues
    from gridwatch.output import (
        export_issues,
        write_layer,
        write_open311,
        write_table,
        write_workbook,
    )
    from gridwatch.pipeline import run_ingest
    from gridwatch.placing import load_layers, place_records
    from gridwatch.store import Store
    from gridwatch.supervision import (
        area_statistics,
        derive_deadlines,
        evaluate_as_of,
        find_rebounds,
        group_incidents,
        league_for_week,
        monthly_review,
        period_statistics,
        reminder_list,
    )
    from gridwatch.supervision.context import SupervisionContext, open_context

# public name -> the module that defines it, imported on first access
_LAZY: dict[str, str] = {
    "Store": "gridwatch.store",
    "SupervisionContext": "gridwatch.supervision.context",
    "area_statistics": "gridwatch.supervision",
    "build_gazetteer": "gridwatch.geocoding",
    "derive_deadlines": "gridwatch.supervision",
    "emerging_hotspots": "gridwatch.hotspots",
    "evaluate_as_of": "gridwatch.supervision",
    "evaluate_holdout": "gridwatch.geocoding",
    "export_issues": "gridwatch.output",
    "find_rebounds": "gridwatch.supervision",
    "geocode_addresses": "gridwatch.geocoding",
    "gi_star": "gridwatch.hotspots",
    "group_incidents": "gridwatch.supervision",
    "hex_hotspots": "gridwatch.hotspots",
    "league_for_week": "gridwatch.supervision",
    "load_layers": "gridwatch.placing",
    "monthly_review": "gridwatch.supervision",
    "open_context": "gridwatch.supervision.context",
    "period_statistics": "gridwatch.supervision",
    "place_records": "gridwatch.placing",
    "read_issues": "gridwatch.ingest",
    "reminder_list": "gridwatch.supervision",
    "rule_hotspots": "gridwatch.hotspots",
    "run_hotspots": "gridwatch.hotspots",
    "run_ingest": "gridwatch.pipeline",
    "write_layer": "gridwatch.output",
    "write_open311": "gridwatch.output",
    "write_table": "gridwatch.output",
    "write_workbook": "gridwatch.output",
}

__all__ = [
    "CRSError",
    "Config",
    "ConfigError",
    "GridwatchError",
    "InputFileError",
    "LayerError",
    "LayerSpec",
    "SchemaError",
    "Store",
    "StoreError",
    "SupervisionContext",
    "__version__",
    "area_statistics",
    "build_gazetteer",
    "derive_deadlines",
    "emerging_hotspots",
    "evaluate_as_of",
    "evaluate_holdout",
    "export_issues",
    "find_rebounds",
    "geocode_addresses",
    "gi_star",
    "group_incidents",
    "hex_hotspots",
    "league_for_week",
    "load_config",
    "load_layers",
    "monthly_review",
    "open_context",
    "period_statistics",
    "place_records",
    "read_issues",
    "reminder_list",
    "rule_hotspots",
    "run_hotspots",
    "run_ingest",
    "write_layer",
    "write_open311",
    "write_table",
    "write_workbook",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gridwatch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

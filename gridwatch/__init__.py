"""gridwatch: grid-based environmental supervision (网格化环境监管).

Problems found by grid workers, citizens, hotlines and monitoring are placed in their county,
town, grid, micro-grid, river basin and ecological redline zone; deadlines are tracked on Chinese
working days; hotspots of overdue problems are found and mapped offline.
"""

from __future__ import annotations

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

__all__ = [
    "CRSError",
    "Config",
    "ConfigError",
    "GridwatchError",
    "InputFileError",
    "LayerError",
    "LayerSpec",
    "SchemaError",
    "StoreError",
    "__version__",
    "load_config",
]

__version__ = "0.1.0"

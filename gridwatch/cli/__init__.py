"""The ``gridwatch`` command line: a thin layer over the library.

Each command group lives in its own module and is registered here.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["main"]

# (module, attribute) of each command or group, in the order shown by --help.
_COMMANDS: tuple[tuple[str, str], ...] = (
    ("gridwatch.cli.ingest", "ingest"),
    ("gridwatch.cli.export", "export"),
    ("gridwatch.cli.layers", "layers"),
    ("gridwatch.cli.demo", "demo"),
    ("gridwatch.cli.supervise", "status"),
    ("gridwatch.cli.supervise", "league"),
    ("gridwatch.cli.supervise", "remind"),
    ("gridwatch.cli.supervise", "review"),
    ("gridwatch.cli.hotspots", "hotspots"),
    ("gridwatch.cli.validate", "validate"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gridwatch")
def main() -> None:
    """gridwatch: place environmental problems in their grids, track deadlines (红黄绿码),
    find overdue hotspots and map them offline."""


for _module, _name in _COMMANDS:
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as _exc:  # a command group not written yet
        if _exc.name != _module:
            raise
        continue
    main.add_command(getattr(_mod, _name))

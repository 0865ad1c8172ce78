"""The ``gridwatch`` command line: a thin layer over the library.

Each command group lives in its own module and is registered here.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Sequence
from typing import Any

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
    ("gridwatch.cli.plan", "plan"),
    ("gridwatch.cli.validate", "validate"),
    ("gridwatch.cli.store", "store"),
    ("gridwatch.cli.geocode", "gazetteer"),
    ("gridwatch.cli.geocode", "geocode"),
    ("gridwatch.cli.ledger", "ledger"),
    ("gridwatch.cli.ledger", "progress"),
    ("gridwatch.cli.ledger", "letters"),
    ("gridwatch.cli.ledger", "recheck"),
    ("gridwatch.cli.users", "users"),
    ("gridwatch.cli.users", "audit"),
    ("gridwatch.cli.patches", "patches"),
    ("gridwatch.cli.enterprises", "enterprises"),
    ("gridwatch.cli.enterprises", "petitions"),
    ("gridwatch.cli.enterprises", "campaigns"),
)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """Show a warning as one line for the user (Python's default adds the source line)."""
    click.echo(f"warning: {message}", err=True)


class _Gridwatch(click.Group):
    """The root group: usage errors exit with 1, since 2 means an unreadable input file."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            exc.show()
            sys.exit(1)
        except click.ClickException as exc:
            exc.show()
            sys.exit(1 if exc.exit_code == 2 else exc.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(0)


@click.group(cls=_Gridwatch, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gridwatch")
def main() -> None:
    """gridwatch: place environmental problems in their grids, track deadlines (红黄绿码),
    find overdue hotspots and map them offline."""


for _module, _name in _COMMANDS:
    main.add_command(getattr(importlib.import_module(_module), _name))

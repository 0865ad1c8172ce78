"""Every CLI command has help text and is documented in the README."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from gridwatch.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, prefix=f"{path} "))
    return found


COMMANDS = _commands(main)


def test_the_core_commands_exist() -> None:
    names = {path for path, _ in COMMANDS}
    assert {"ingest", "export issues", "layers check"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_has_help_and_is_in_readme(path: str, command: click.Command) -> None:
    assert (command.help or "").strip(), f"gridwatch {path} has no help text"
    assert f"gridwatch {path}" in README, f"README.md does not document `gridwatch {path}`"


def test_readme_names_the_two_commands() -> None:
    assert "make demo" in README and "make test" in README
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci

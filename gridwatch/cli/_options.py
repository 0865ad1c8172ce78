"""Options shared by every command, defined once, and the one place CLI errors become exits."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from gridwatch.config import Config, default_store_url, load_config
from gridwatch.errors import ConfigError, GridwatchError, InputFileError, SchemaError

__all__ = [
    "EXIT_INPUT",
    "EXIT_OK",
    "EXIT_USAGE",
    "config_option",
    "db_option",
    "echo_json",
    "handle_errors",
    "json_option",
    "open_config",
    "out_option",
    "resolve_db_url",
]

EXIT_OK = 0
EXIT_USAGE = 1  # usage or configuration error
EXIT_INPUT = 2  # an input file that cannot be read (or lacks the required columns)

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    envvar="GRIDWATCH_CONFIG", show_envvar=True,
    help="Project file (gridwatch.toml). Default: ./gridwatch.toml.",
)
db_option = click.option(
    "--db", "db_url", envvar="GRIDWATCH_DB", show_envvar=True,
    help="Store URL: sqlite:///path.sqlite or postgresql+psycopg://user@host/db. "
         "Default: [store] url of the project file, else data/gridwatch.sqlite.",
)
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print the result as one JSON object.")
out_option = click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
                          help="File to write; the format follows the extension.")


def open_config(config_path: Path | None) -> Config:
    """Load the project file named on the command line, or ./gridwatch.toml."""
    path = config_path or Path("gridwatch.toml")
    if config_path is None and not path.is_file():
        raise ConfigError("no project file: pass --config PATH or set GRIDWATCH_CONFIG "
                          "(or run in a folder that has gridwatch.toml)")
    return load_config(path)


def resolve_db_url(db_url: str | None, config: Config | None) -> str:
    """Pick the store URL: the option, then the project file, then the embedded default."""
    if db_url:
        return db_url
    if config is not None and config.store_url:
        return config.store_url
    return default_store_url()


def echo_json(payload: Any) -> None:
    """Print one JSON object (UTF-8, Chinese kept readable)."""
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def handle_errors(func: F) -> F:
    """Turn gridwatch's errors into one clear message and an exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (InputFileError, SchemaError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INPUT)
        except GridwatchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:
            if os.environ.get("GRIDWATCH_DEBUG"):
                raise
            click.echo(f"error: unexpected {type(exc).__name__}: {exc} "
                       "(set GRIDWATCH_DEBUG=1 for the traceback)", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]

"""Options shared by every command, defined once, and the one place CLI errors become exits."""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gridwatch.access.users import LOCAL_ADMIN, User
from gridwatch.config import Config, default_store_url, load_config
from gridwatch.errors import ConfigError, GridwatchError, InputFileError, SchemaError

if TYPE_CHECKING:
    from gridwatch.supervision.context import SupervisionContext

__all__ = [
    "EXIT_INPUT",
    "EXIT_OK",
    "EXIT_USAGE",
    "Session",
    "acting_user",
    "check_output_path",
    "config_option",
    "db_option",
    "echo_json",
    "handle_errors",
    "json_option",
    "open_config",
    "open_session",
    "out_option",
    "resolve_db_url",
    "store_file",
    "user_option",
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
user_option = click.option(
    "--as-user", "as_user", envvar="GRIDWATCH_USER", show_envvar=True,
    help="Act as this gridwatch user: only their areas are read, and their role must allow "
         "the command. Default: the local administrator (every area; see docs/access.md).",
)


@dataclass(frozen=True)
class Session:
    """What a reading command works with: the project file (or none), the store URL and the
    user it acts as."""

    config: Config | None
    db_url: str
    user: User

    def context(self) -> SupervisionContext:
        """The supervision context of the store, seeing only the user's scope."""
        from gridwatch.supervision.context import open_context

        if self.config is not None:
            self.user.scope.check_layers(s.name for s in self.config.layers)
        return open_context(self.config, self.db_url, scope=self.user.scope)

    def audit(self, action: str, **detail: Any) -> None:
        """Record an action of the user in the store's audit (exports, imports)."""
        from gridwatch.access.audit import log_action
        from gridwatch.store import Store

        with Store(self.db_url) as store:
            log_action(store, self.user.name, action, scope=str(self.user.scope), **detail)


def open_session(config_path: Path | None, db_url: str | None, as_user: str | None, *,
                 action: str = "read", need_config: bool = False) -> Session:
    """The project named on the command line (or ./gridwatch.toml, or none unless
    ``need_config``), its store, and the user acting, checked for ``action``."""
    has_config = need_config or config_path is not None or Path("gridwatch.toml").is_file()
    config = open_config(config_path) if has_config else None
    url = resolve_db_url(db_url, config)
    return Session(config=config, db_url=url, user=acting_user(as_user, url, action=action))


def acting_user(as_user: str | None, db_url: str, *, action: str) -> User:
    """The user a command acts as (``--as-user``/``GRIDWATCH_USER``, else the local
    administrator), refused when unknown or disabled (one message for both) or when their
    role does not allow ``action`` (read, import, export, admin)."""
    from gridwatch.access.users import require, resolve_user
    from gridwatch.store import Store

    if not as_user:
        return LOCAL_ADMIN
    with Store(db_url) as store:
        user = resolve_user(store, as_user)
    require(user, action)
    return user


def check_output_path(path: Path, *, option: str = "--out",
                      inputs: Iterable[Path | None] = ()) -> Path:
    """Refuse an output file that cannot be written, before any work is done or stored.

    The file must not be a folder nor one of ``inputs`` (the command's input files, project
    file or store), and its folder (or, when that does not exist yet, the nearest folder above
    it, where it will be created) must let a file be created: a test file is made and removed,
    which also catches read-only and pseudo file systems such as ``/proc``.

    Raises
    ------
    ConfigError
        Naming the option, the path and the reason.
    """
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{option} {str(target)!r} is a folder; give a file name")
    for other in inputs:
        if other is not None and _same_file(target, Path(other)):
            raise ConfigError(f"{option} {str(target)!r} is also an input of this command "
                              f"({other}); writing it would overwrite that file")
    folder = target.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"{option} {str(target)!r}: {folder} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".gridwatch-probe-"):
            pass
    except OSError as exc:
        raise ConfigError(f"{option} {str(target)!r}: cannot create a file in {folder} "
                          f"({exc.strerror or exc}); choose another folder") from None
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return a.absolute() == b.absolute()


def _checked_output(ctx: click.Context, param: click.Parameter, value: Path | None,
                    ) -> Path | None:
    """Click callback: check an output file when the command line is parsed (exit 1)."""
    if value is None:
        return None
    try:
        return check_output_path(value, option=param.opts[0])
    except ConfigError as exc:
        raise click.UsageError(str(exc), ctx=ctx) from None


out_option = click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
                          callback=_checked_output,
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


def store_file(url: str) -> Path | None:
    """The file of a SQLite store URL (None for other stores and in-memory SQLite)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return None
    return Path(url[len(prefix):].split("?", 1)[0])


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

"""``gridwatch users add | list | remove | set-password | disable | enable`` and
``gridwatch audit``: who may see what, and what they did."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gridwatch.access.audit import ACTIONS
from gridwatch.cli._options import (
    config_option,
    db_option,
    echo_json,
    handle_errors,
    json_option,
    open_session,
    user_option,
)
from gridwatch.cli._table import plain_table

__all__ = ["audit", "users"]


def _password(from_stdin: bool, *, required: bool) -> str | None:
    """The new password: read from standard input (one line) or asked twice, never from the
    command line (it would stay in the shell's history)."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        return line or None
    if not required and not sys.stdin.isatty():
        return None
    value: str = click.prompt("password", hide_input=True, confirmation_prompt=True)
    return value


_PASSWORD_STDIN = click.option("--password-stdin", is_flag=True,
                               help="Read the password from standard input (one line) instead "
                                    "of asking for it.")


@click.group()
def users() -> None:
    """Users of the app and the CLI: role (viewer, supervisor, admin) and scope (the areas
    they see). Only an administrator may change them."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "supervisor", "admin"]), required=True,
              help="viewer reads; supervisor also imports and exports; admin also manages "
                   "users and reads the audit.")
@click.option("--scope", "scope_text", required=True,
              help="'*' for the whole territory, or LAYER:ID[,ID...] (e.g. county:330402 or "
                   "town:330402001,330402002).")
@click.option("--no-password", is_flag=True,
              help="No password: the user signs in through the reverse proxy's header or OIDC.")
@_PASSWORD_STDIN
@config_option
@db_option
@user_option
@handle_errors
def add(name: str, role: str, scope_text: str, no_password: bool, password_stdin: bool,
        config_path: Path | None, db_url: str | None, as_user: str | None) -> None:
    """Add user NAME with a role and a scope; asks for the password (stored as an argon2
    hash)."""
    from gridwatch.access.scope import Scope, check_scope_areas
    from gridwatch.access.users import add_user
    from gridwatch.store import Store

    session = open_session(config_path, db_url, as_user, action="admin")
    scope = Scope.parse(scope_text)
    if session.config is not None:
        check_scope_areas(scope, session.config)
    password = None if no_password else _password(password_stdin, required=True)
    if password is None and not no_password:
        raise click.UsageError("no password given (or pass --no-password)")
    with Store(session.db_url) as store:
        add_user(store, name, role=role, scope=scope, password=password,
                 actor=session.user.name)
    click.echo(f"added {name}: {role}, scope {scope}")


@users.command("list")
@json_option
@config_option
@db_option
@user_option
@handle_errors
def list_command(as_json: bool, config_path: Path | None, db_url: str | None,
                 as_user: str | None) -> None:
    """List the users with their role, scope and state (never a password or its hash)."""
    from gridwatch.access.users import list_users
    from gridwatch.store import Store

    session = open_session(config_path, db_url, as_user, action="admin")
    with Store(session.db_url) as store:
        table = list_users(store)
    if as_json:
        echo_json({"users": table.astype(object).where(table.notna(), None)
                  .to_dict(orient="records")})
        return
    click.echo(plain_table(table) if len(table) else "no users yet")


@users.command("remove")
@click.argument("name")
@config_option
@db_option
@user_option
@handle_errors
def remove(name: str, config_path: Path | None, db_url: str | None,
           as_user: str | None) -> None:
    """Remove user NAME (what they did stays in the audit)."""
    from gridwatch.access.users import remove_user
    from gridwatch.store import Store

    session = open_session(config_path, db_url, as_user, action="admin")
    with Store(session.db_url) as store:
        remove_user(store, name, actor=session.user.name)
    click.echo(f"removed {name}")


@users.command("set-password")
@click.argument("name")
@_PASSWORD_STDIN
@config_option
@db_option
@user_option
@handle_errors
def set_password_command(name: str, password_stdin: bool, config_path: Path | None,
                         db_url: str | None, as_user: str | None) -> None:
    """Set the password of user NAME (asked twice, or read from standard input)."""
    from gridwatch.access.users import set_password
    from gridwatch.store import Store

    session = open_session(config_path, db_url, as_user, action="admin")
    password = _password(password_stdin, required=True)
    if password is None:
        raise click.UsageError("no password given")
    with Store(session.db_url) as store:
        set_password(store, name, password, actor=session.user.name)
    click.echo(f"password of {name} set")


def _toggle(disabled: bool) -> click.Command:
    verb = "disable" if disabled else "enable"

    @users.command(verb)
    @click.argument("name")
    @config_option
    @db_option
    @user_option
    @handle_errors
    def command(name: str, config_path: Path | None, db_url: str | None,
                as_user: str | None) -> None:
        from gridwatch.access.users import set_disabled
        from gridwatch.store import Store

        session = open_session(config_path, db_url, as_user, action="admin")
        with Store(session.db_url) as store:
            set_disabled(store, name, disabled, actor=session.user.name)
        click.echo(f"{verb}d {name}")

    command.help = ("Disable user NAME: they can no longer sign in nor act (kept in the "
                    "audit)." if disabled else "Enable user NAME again.")
    return command


disable = _toggle(True)
enable = _toggle(False)


@users.command("row-security")
@click.option("--role", default="gridwatch_scoped", show_default=True,
              help="Database role the scope policies bind (created when missing, NOLOGIN).")
@config_option
@db_option
@user_option
@handle_errors
def row_security(role: str, config_path: Path | None, db_url: str | None,
                 as_user: str | None) -> None:
    """PostGIS: make the database itself keep sessions of ROLE inside their scope (the
    session variable gridwatch.scope), for tools that query the tables directly."""
    from gridwatch.access.audit import log_action
    from gridwatch.access.rls import enable_row_security
    from gridwatch.store import Store

    session = open_session(config_path, db_url, as_user, action="admin")
    with Store(session.db_url) as store:
        enable_row_security(store, role=role)
        log_action(store, session.user.name, "row_security", role=role)
    click.echo(f"row-level security on: sessions of role {role} see only the rows of the "
               "scope in their gridwatch.scope variable (e.g. SET gridwatch.scope = "
               "'county:330402'); without it, none")


@click.command()
@click.option("--user", "actor", help="Only the entries of this user.")
@click.option("--action", type=click.Choice(list(ACTIONS)),
              help="Only this kind of entry.")
@click.option("--last", "limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="How many of the latest entries.")
@json_option
@config_option
@db_option
@user_option
@handle_errors
def audit(actor: str | None, action: str | None, limit: int, as_json: bool,
          config_path: Path | None, db_url: str | None, as_user: str | None) -> None:
    """Show the audit trail (administrators): sign-ins, imports with their run, exports with
    their areas and format, changes of users. Times in UTC."""
    from gridwatch.access.audit import audit_log
    from gridwatch.store import Store

    session = open_session(config_path, db_url, as_user, action="admin")
    with Store(session.db_url) as store:
        table = audit_log(store, actor=actor, action=action, limit=limit)
    if as_json:
        echo_json({"entries": [
            {**row, "at": row["at"].isoformat(),
             "run_id": None if row["run_id"] is None or row["run_id"] != row["run_id"]
             else int(row["run_id"])}
            for row in table.astype(object).where(table.notna(), None)
            .to_dict(orient="records")]})
        return
    if not len(table):
        click.echo("the audit is empty")
        return
    shown = table.assign(at=table["at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
                         detail=[", ".join(f"{k}={v}" for k, v in d.items())
                                 for d in table["detail"]])
    click.echo(plain_table(shown))

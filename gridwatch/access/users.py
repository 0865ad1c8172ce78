"""Users: a name, a role, a scope and an argon2 password hash, kept in the store.

Roles, from least to most:

- ``viewer``: reads the figures, lists and maps of their scope;
- ``supervisor``: also imports files and exports (files, downloads);
- ``admin``: also manages users and reads the audit.

Every change is written to the audit in the same transaction.

Examples
--------
>>> from gridwatch.store import Store
>>> with Store("sqlite://") as store:
...     _ = add_user(store, "li", role="viewer", scope=Scope.parse("county:330402"),
...                  password="s3cret-pass", actor="admin")
...     user = authenticate(store, "li", "s3cret-pass")
>>> user.role, str(user.scope)
('viewer', 'county:330402')
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import sqlalchemy as sa

from gridwatch.access.audit import record
from gridwatch.access.passwords import (
    check_new_password,
    hash_password,
    verify_nothing,
    verify_password,
)
from gridwatch.access.scope import WHOLE, Scope
from gridwatch.errors import AccessError, ConfigError, SignInError

if TYPE_CHECKING:
    from gridwatch.store import Store

__all__ = [
    "LOCAL_ADMIN",
    "ROLES",
    "SIGN_IN_REFUSED",
    "Action",
    "User",
    "add_user",
    "authenticate",
    "first_admin",
    "get_user",
    "list_users",
    "remove_user",
    "require",
    "resolve_user",
    "set_disabled",
    "set_password",
]

Role = Literal["viewer", "supervisor", "admin"]
Action = Literal["read", "import", "export", "admin"]
#: The roles, least allowed first.
ROLES: tuple[str, ...] = ("viewer", "supervisor", "admin")
_ALLOWED: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "supervisor": frozenset({"read", "import", "export"}),
    "admin": frozenset({"read", "import", "export", "admin"}),
}
#: The one message of every refused sign-in: it never says which part was wrong.
SIGN_IN_REFUSED = "sign-in refused: unknown user, wrong password or disabled account"
_NAME = re.compile(r"^[\w.@\-]{1,64}$")


@dataclass(frozen=True)
class User:
    """A user as gridwatch acts for them.

    Attributes
    ----------
    name
        The sign-in name.
    role
        ``viewer``, ``supervisor`` or ``admin``.
    scope
        The areas they may see.
    disabled
        A disabled user cannot sign in nor act.
    has_password
        Whether a password is set (users signed in by a proxy header or OIDC need none).
    """

    name: str
    role: str
    scope: Scope
    disabled: bool = False
    has_password: bool = False

    def may(self, action: str) -> bool:
        """Whether the role allows ``action`` (read, import, export, admin)."""
        return action in _ALLOWED.get(self.role, frozenset())


#: Who the CLI acts as without ``--as-user``: the person at the machine, who can read the
#: store's file anyway (documented in docs/access.md).
LOCAL_ADMIN = User(name="local-admin", role="admin", scope=WHOLE)


def require(user: User, action: str) -> None:
    """Refuse ``action`` when the user's role does not allow it.

    Raises
    ------
    AccessError
        Naming the user, the role and the action.
    """
    if not user.may(action):
        raise AccessError(f"user {user.name!r} ({user.role}) may not {action}; "
                          f"ask an administrator for a role that may")


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(f"user name {name!r} is not allowed: 1 to 64 letters, digits, "
                          "'_', '-', '.' or '@'")
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"role {role!r} is not allowed; use one of {', '.join(ROLES)}")
    return role


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _user(row: sa.Row[tuple[object, ...]]) -> User:
    return User(name=str(row.name), role=str(row.role), scope=Scope.parse(str(row.scope)),
                disabled=bool(row.disabled), has_password=row.password_hash is not None)


def get_user(store: Store, name: str) -> User | None:
    """The user called ``name``, or ``None``."""
    table = store.table("users")
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.name == name)).first()
    return None if row is None else _user(row)


def list_users(store: Store) -> pd.DataFrame:
    """Every user (no hash): ``name``, ``role``, ``scope``, ``disabled``, ``has_password``,
    ``created_at``, ``updated_at`` (UTC), by name."""
    table = store.table("users")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.name)).all()
    return pd.DataFrame({
        "name": pd.Series([r.name for r in rows], dtype="str"),
        "role": pd.Series([r.role for r in rows], dtype="str"),
        "scope": pd.Series([r.scope for r in rows], dtype="str"),
        "disabled": pd.Series([bool(r.disabled) for r in rows], dtype=bool),
        "has_password": pd.Series([r.password_hash is not None for r in rows], dtype=bool),
        "created_at": pd.to_datetime(pd.Series([r.created_at for r in rows], dtype=object),
                                     utc=True),
        "updated_at": pd.to_datetime(pd.Series([r.updated_at for r in rows], dtype=object),
                                     utc=True),
    })


def add_user(store: Store, name: str, *, role: str, scope: Scope, password: str | None,
             actor: str) -> User:
    """Add a user; ``password`` may be ``None`` for users who sign in through a proxy header
    or OIDC. Recorded in the audit as ``user_add`` by ``actor``.

    Raises
    ------
    ConfigError
        For a bad name, role or password, or a name already taken.
    """
    _check_name(name)
    _check_role(role)
    if password is not None:
        check_new_password(password)
    table = store.table("users")
    now = _now()
    with store.transaction() as conn:
        if conn.execute(sa.select(table.c.name).where(table.c.name == name)).first():
            raise ConfigError(f"user {name!r} exists already (use set-password, or remove "
                              "it first)")
        conn.execute(table.insert().values(
            name=name, role=role, scope=str(scope), disabled=False, created_at=now,
            updated_at=now, password_hash=hash_password(password) if password else None))
        record(conn, store, actor, "user_add", user=name, role=role, scope=str(scope))
    return User(name=name, role=role, scope=scope, has_password=password is not None)


def _change(store: Store, name: str, actor: str, action: str, values: dict[str, object],
            **detail: Any) -> None:
    table = store.table("users")
    with store.transaction() as conn:
        done = conn.execute(table.update().where(table.c.name == name)
                            .values(updated_at=_now(), **values))
        if done.rowcount == 0:
            raise ConfigError(f"no user {name!r} (gridwatch users list shows them)")
        record(conn, store, actor, action, user=name, **detail)


def set_password(store: Store, name: str, password: str, *, actor: str) -> None:
    """Set a user's password (hashed); recorded as ``user_password`` (the password never)."""
    check_new_password(password)
    _change(store, name, actor, "user_password", {"password_hash": hash_password(password)})


def set_disabled(store: Store, name: str, disabled: bool, *, actor: str) -> None:
    """Disable (or enable again) a user; recorded as ``user_disable`` / ``user_enable``."""
    _change(store, name, actor, "user_disable" if disabled else "user_enable",
            {"disabled": disabled})


def remove_user(store: Store, name: str, *, actor: str) -> None:
    """Remove a user; recorded as ``user_remove`` (their past actions stay in the audit)."""
    table = store.table("users")
    with store.transaction() as conn:
        done = conn.execute(table.delete().where(table.c.name == name))
        if done.rowcount == 0:
            raise ConfigError(f"no user {name!r} (gridwatch users list shows them)")
        record(conn, store, actor, "user_remove", user=name)


def authenticate(store: Store, name: str, password: str) -> User:
    """Check a name and password and return the user; every refusal (unknown user, wrong
    password, disabled user) raises the same :data:`SIGN_IN_REFUSED` and takes the time of
    one verification. Sign-ins and refusals are recorded in the audit.

    Raises
    ------
    SignInError
    """
    table = store.table("users")
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.name == name)).first()
    if row is None:
        verify_nothing(password)
        ok = False
    else:
        ok = verify_password(row.password_hash, password) and not row.disabled
    with store.transaction() as conn:
        record(conn, store, name if ok else "-", "sign_in" if ok else "sign_in_refused",
               user=name, method="password")
    if not ok or row is None:
        raise SignInError(SIGN_IN_REFUSED)
    return _user(row)


def resolve_user(store: Store, name: str) -> User:
    """The enabled user called ``name`` (the CLI's ``--as-user``, a proxy header, an OIDC
    identity), refused with :data:`SIGN_IN_REFUSED` like a sign-in.

    Raises
    ------
    SignInError
    """
    user = get_user(store, name)
    if user is None or user.disabled:
        raise SignInError(SIGN_IN_REFUSED)
    return user


def first_admin(store: Store, *, actor: str, name: str = "admin") -> str | None:
    """Create an administrator with a random one-time password when the store has no user
    yet (the demo), and return that password; ``None`` when there are users already.

    The password is shown once to whoever built the store (the demo prints it); change it
    with ``gridwatch users set-password admin``.
    """
    import secrets

    with store.engine.connect() as conn:
        if conn.execute(sa.select(store.table("users").c.name).limit(1)).first():
            return None
    password = secrets.token_urlsafe(12)
    add_user(store, name, role="admin", scope=WHOLE, password=password, actor=actor)
    return password

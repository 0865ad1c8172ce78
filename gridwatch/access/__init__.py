"""Who sees what: users with a role and a scope, sign-in, and the audit trail.

- :mod:`~gridwatch.access.scope`: :class:`Scope`, the areas a user may see;
- :mod:`~gridwatch.access.users`: users in the store, argon2 password hashes, sign-in;
- :mod:`~gridwatch.access.audit`: the append-only audit trail;
- :mod:`~gridwatch.access.rls`: PostgreSQL row-level security by scope.

The scope is applied in one place, :meth:`SupervisionContext.scoped
<gridwatch.supervision.context.SupervisionContext.scoped>`; see docs/access.md.
"""

from __future__ import annotations

from gridwatch.access.audit import ACTIONS, audit_log, log_action
from gridwatch.access.scope import WHOLE, Scope
from gridwatch.access.users import (
    LOCAL_ADMIN,
    ROLES,
    SIGN_IN_REFUSED,
    User,
    add_user,
    authenticate,
    first_admin,
    get_user,
    list_users,
    remove_user,
    require,
    resolve_user,
    set_disabled,
    set_password,
)

__all__ = [
    "ACTIONS",
    "LOCAL_ADMIN",
    "ROLES",
    "SIGN_IN_REFUSED",
    "WHOLE",
    "Scope",
    "User",
    "add_user",
    "audit_log",
    "authenticate",
    "first_admin",
    "get_user",
    "list_users",
    "log_action",
    "remove_user",
    "require",
    "resolve_user",
    "set_disabled",
    "set_password",
]

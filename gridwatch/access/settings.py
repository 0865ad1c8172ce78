"""``[access]``: how people sign in to the app.

Example::

    [access]
    sign_in = "header"              # "password" (default), "header" or "oidc"
    user_header = "X-Remote-User"   # header mode: the header the reverse proxy sets
    trusted_proxies = ["127.0.0.1"] # header mode: the proxy's address as the app sees it
    oidc_provider = ""              # oidc mode: the [auth.<provider>] of .streamlit/secrets.toml
    oidc_claim = "preferred_username"  # oidc mode: the claim naming the gridwatch user
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gridwatch.errors import ConfigError

__all__ = ["SIGN_IN_MODES", "AccessSettings", "parse_access_settings"]

#: The ways to sign in to the app.
SIGN_IN_MODES: tuple[str, ...] = ("password", "header", "oidc")


@dataclass(frozen=True)
class AccessSettings:
    """The parsed ``[access]`` section (see the module docstring)."""

    sign_in: str = "password"
    user_header: str = "X-Remote-User"
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    oidc_provider: str = ""
    oidc_claim: str = "preferred_username"


def parse_access_settings(section: Mapping[str, Any]) -> AccessSettings:
    """Validate ``[access]``; raise ConfigError listing every problem."""
    from gridwatch.settings import suggestion, type_name, unknown_keys

    raw = dict(section or {})
    keys = ("sign_in", "user_header", "trusted_proxies", "oidc_provider", "oidc_claim")
    problems = unknown_keys(raw, keys, "[access]")
    values: dict[str, Any] = {}
    for key in ("sign_in", "user_header", "oidc_provider", "oidc_claim"):
        if key not in raw:
            continue
        if not isinstance(raw[key], str):
            problems.append(f"[access] {key} must be a string, got {type_name(raw[key])} "
                            f"({raw[key]!r})")
        else:
            values[key] = raw[key].strip()
    mode = values.get("sign_in", "password")
    if mode not in SIGN_IN_MODES:
        problems.append(f"[access] sign_in {mode!r} is not allowed"
                        f"{suggestion(mode, SIGN_IN_MODES)}")
    if "user_header" in values and not values["user_header"]:
        problems.append("[access] user_header is empty; name the header the proxy sets, "
                        "e.g. 'X-Remote-User'")
    if "trusted_proxies" in raw:
        proxies = raw["trusted_proxies"]
        if not isinstance(proxies, list) or not all(isinstance(p, str) for p in proxies):
            problems.append("[access] trusted_proxies must be a list of addresses, got "
                            f"{proxies!r}")
        else:
            values["trusted_proxies"] = tuple(p.strip() for p in proxies)
    if problems:
        raise ConfigError(f"[access] has {len(problems)} problem(s):", problems)
    return AccessSettings(**values)

"""Scopes: which areas a user may see.

A scope is the whole territory, or one or more areas of one layer (``county:330402`` or
``town:330402001,330402002``). Its text form is what the store keeps, the CLI takes and the
docs show. :meth:`gridwatch.supervision.context.SupervisionContext.scoped` is the one place
where a scope chooses problems.

Examples
--------
>>> Scope.parse("town:330402002, 330402001")
Scope(layer='town', areas=('330402001', '330402002'))
>>> str(Scope.parse("*"))
'*'
>>> Scope.parse("county:330402").allows("county", "330411")
False
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gridwatch.errors import ConfigError

if TYPE_CHECKING:
    from gridwatch.config import Config

__all__ = ["WHOLE", "Scope", "check_scope_areas"]


@dataclass(frozen=True)
class Scope:
    """The areas a user may see.

    Attributes
    ----------
    layer
        The layer of the areas, or ``None`` for the whole territory.
    areas
        The area ids of ``layer``, sorted (empty for the whole territory).
    """

    layer: str | None = None
    areas: tuple[str, ...] = ()

    @classmethod
    def of(cls, layer: str | None, areas: Iterable[str] = ()) -> Scope:
        """A scope over ``areas`` of ``layer`` (``None``: the whole territory)."""
        ids = tuple(sorted({str(a).strip() for a in areas} - {""}))
        if layer is None:
            if ids:
                raise ConfigError("a scope of areas needs their layer, e.g. county:330402")
            return cls()
        if not layer.strip():
            raise ConfigError("a scope's layer is empty; write LAYER:ID[,ID...] or '*'")
        if not ids:
            raise ConfigError(f"the scope of layer {layer!r} names no area; "
                              f"write {layer}:ID[,ID...]")
        return cls(layer.strip(), ids)

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Read ``*`` (or ``all``) or ``LAYER:ID[,ID...]``.

        Raises
        ------
        ConfigError
            Naming the text and the form expected.
        """
        value = str(text).strip()
        if value in ("*", "all"):
            return cls()
        layer, sep, ids = value.partition(":")
        if not sep:
            raise ConfigError(f"scope {text!r} is not LAYER:ID[,ID...] (e.g. county:330402) "
                              "nor '*' for the whole territory")
        return cls.of(layer, ids.split(","))

    @property
    def whole(self) -> bool:
        """Whether the scope is the whole territory."""
        return self.layer is None

    def __str__(self) -> str:
        return "*" if self.layer is None else f"{self.layer}:{','.join(self.areas)}"

    def allows(self, layer: str, area: str) -> bool:
        """Whether ``area`` of ``layer`` is one of the scope's own areas (always for the whole
        territory; for other layers ask the supervision context, which knows the nesting)."""
        return self.layer is None or (layer == self.layer and str(area) in self.areas)

    def check_layers(self, layer_names: Iterable[str]) -> None:
        """Refuse a scope whose layer the project does not declare."""
        names = list(layer_names)
        if self.layer is not None and self.layer not in names:
            raise ConfigError(f"scope {str(self)!r}: layer {self.layer!r} is not in the project "
                              f"file; layers: {', '.join(names) or '(none)'}")


#: The whole territory.
WHOLE = Scope()


def check_scope_areas(scope: Scope, config: Config) -> None:
    """Refuse a scope whose layer the project does not declare or whose area ids its layer
    does not have (a typo would give a user an empty view)."""
    scope.check_layers(s.name for s in config.layers)
    if scope.layer is None:
        return
    from gridwatch.placing.layer_files import read_layer_table

    known = set(read_layer_table(config.layer(scope.layer))["area_id"].astype(str))
    missing = [a for a in scope.areas if a not in known]
    if missing:
        raise ConfigError(f"scope {str(scope)!r}: layer {scope.layer!r} has no area "
                          f"{', '.join(missing)}")

"""What every middleware spec of a route's chain shares (see ingressctl.routing.chain)."""

from __future__ import annotations

from typing import ClassVar

Description = dict[str, str | int | bool | list[str]]
"""A middleware described for people and JSON: `name`, `effect`, then its parameters."""


class ChainSpec:
    """Base of the specs: a `name` per kind; the `label` in `routes` is the name unless the spec
    has a parameter worth showing there. Subclasses are frozen slotted dataclasses with `describe()`."""

    __slots__ = ()
    name: ClassVar[str]

    @property
    def label(self) -> str:
        return self.name

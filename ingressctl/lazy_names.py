"""A package's public names imported when first used (PEP 562 module `__getattr__`).

`validate` forks its reading worker before the compiler and the lint rules are loaded; importing
`ingressctl.routing` or `ingressctl.checks` must therefore not import their modules.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """The `__getattr__` of `package`: a name of `homes` (name -> submodule) is imported from its
    submodule on first use and then kept in the package, so the next use is a plain lookup."""

    def __getattr__(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__

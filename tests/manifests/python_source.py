"""A second copy of ingressctl.manifests imported from its Python source, for tests that replace
functions inside the modules mypyc compiles (ingressctl/manifests/native.py).

Compiled modules call each other's functions directly in C: replacing `meta._plain_meta` on the
compiled module changes nothing for its callers. A test that switches a function off or counts
its calls does so on this copy, which behaves as the compiled modules do (the same source). The
copy is in sys.modules only inside `active()`, so that its own lazy imports find the copy and
the rest of the process (the compiled modules' lazy imports too) never sees it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from ingressctl.manifests import native

# Shared with the compiled copy: values and positions (PosDict) must be the same classes.
_SHARED = {f"{native.PACKAGE}.{name}" for name in ("native", "positioned", "codes")}


def _ours(name: str) -> bool:
    return name.startswith(native.PACKAGE + ".") and name not in _SHARED


class PythonSource:
    """The modules `names` of ingressctl.manifests (and every module of the package they import)
    imported afresh from their `.py` files; `module(name)` gives one."""

    def __init__(self, *names: str) -> None:
        self._copy: dict[str, ModuleType] = {}
        with self.active():
            for name in names:
                importlib.import_module(f"{native.PACKAGE}.{name}")

    def module(self, name: str) -> ModuleType:
        return self._copy[f"{native.PACKAGE}.{name}"]

    @contextmanager
    def active(self) -> Iterator[None]:
        """The copy in sys.modules (and as the package's attributes) while the block runs."""
        package = sys.modules[native.PACKAGE]
        saved = {name: module for name, module in sys.modules.items() if _ours(name)}
        attributes = {name: getattr(package, name.rpartition(".")[2], None) for name in {*saved, *self._copy}}
        for name in saved:
            del sys.modules[name]
            # `from ingressctl.manifests import gateway` takes the package's attribute when there
            # is one: the copy's lazy imports must import their own.
            if hasattr(package, name.rpartition(".")[2]):
                delattr(package, name.rpartition(".")[2])
        sys.modules.update(self._copy)
        for name, module in self._copy.items():
            setattr(package, name.rpartition(".")[2], module)
        finder = native._PythonSource()
        sys.meta_path.insert(0, finder)
        try:
            yield
        finally:
            sys.meta_path.remove(finder)
            for name in [name for name in sys.modules if _ours(name)]:
                self._copy[name] = sys.modules.pop(name)
            sys.modules.update(saved)
            for name in {*attributes, *self._copy}:
                short = name.rpartition(".")[2]
                if attributes.get(name) is not None:
                    setattr(package, short, attributes[name])
                elif hasattr(package, short):
                    delattr(package, short)

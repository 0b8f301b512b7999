"""A second copy of ingressctl.manifests imported from its Python source, for tests that replace
functions inside the modules mypyc compiles (ingressctl/manifests/native.py).

Compiled modules call each other's functions directly in C: replacing `meta._plain_meta` on the
compiled module changes nothing for its callers. A test that switches a function off or counts
its calls does so on this copy, which behaves as the compiled modules do (the same source); the
compiled modules, when built, stay what the rest of the process uses.
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


@contextmanager
def python_source(*names: str) -> Iterator[list[ModuleType]]:
    """The modules `names` of ingressctl.manifests (and every module of the package they import)
    imported afresh from their `.py` files, while the block runs."""
    package = sys.modules[native.PACKAGE]
    saved = {name: module for name, module in sys.modules.items() if _ours(name)}
    attributes = {name: getattr(package, name.rpartition(".")[2], None) for name in saved}
    for name in saved:
        del sys.modules[name]
    finder = native._PythonSource()
    sys.meta_path.insert(0, finder)
    try:
        yield [importlib.import_module(f"{native.PACKAGE}.{name}") for name in names]
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name in sys.modules if _ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
        for name, module in attributes.items():
            if module is not None:
                setattr(package, name.rpartition(".")[2], module)

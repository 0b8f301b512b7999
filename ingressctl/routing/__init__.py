"""ingressctl.routing: the pure compiler (Snapshot → RoutingTable + Diagnostics) and matching.

The names below are imported when first used, not with the package: `validate` reads its options
from `ingressctl.routing.options` and forks its reading worker before the compiler is loaded (the
compiler is then imported beside the worker's reading, cli/validate_cmd.py).
"""

# No `from __future__ import annotations` here: it would bind the name `annotations`, which is a
# submodule of this package (`from ingressctl.routing import annotations`).
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingressctl.routing.annotations import ANNOTATION_PREFIXES, KNOWN_ANNOTATIONS
    from ingressctl.routing.codes import CODES
    from ingressctl.routing.compiler import compile
    from ingressctl.routing.hosts import normalize_request_host, validate_host
    from ingressctl.routing.memo import CompileCache
    from ingressctl.routing.options import CompileOptions
    from ingressctl.routing.paths import canonical_path
    from ingressctl.routing.table import RoutingTable

__all__ = [
    "ANNOTATION_PREFIXES",
    "CODES",
    "KNOWN_ANNOTATIONS",
    "CompileCache",
    "CompileOptions",
    "RoutingTable",
    "canonical_path",
    "compile",
    "normalize_request_host",
    "validate_host",
]

_HOME = {
    "ANNOTATION_PREFIXES": "annotations",
    "CODES": "codes",
    "KNOWN_ANNOTATIONS": "annotations",
    "CompileCache": "memo",
    "CompileOptions": "options",
    "RoutingTable": "table",
    "canonical_path": "paths",
    "compile": "compiler",
    "normalize_request_host": "hosts",
    "validate_host": "hosts",
}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value

"""ingressctl.routing: the pure compiler (Snapshot → RoutingTable + Diagnostics) and matching.

The names below are imported when first used, not with the package: `validate` reads its options
from `ingressctl.routing.options` and forks its reading worker before the compiler is loaded (the
compiler is then imported beside the worker's reading, cli/validate_cmd.py).
"""

# No `from __future__ import annotations` here: it would bind the name `annotations`, which is a
# submodule of this package (`from ingressctl.routing import annotations`).
from typing import TYPE_CHECKING

from ingressctl.lazy_names import lazy_names

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


__getattr__ = lazy_names(__name__, _HOME)

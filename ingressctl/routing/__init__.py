"""ingressctl.routing: the pure compiler (Snapshot → RoutingTable + Diagnostics) and matching."""

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

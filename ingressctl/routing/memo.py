"""CompileCache: what one compile() leaves for the next, so a change costs what it touches.

A watcher compiles the whole cluster on every change, and its providers keep every object that did
not change as the *same* object (frozen dataclasses). The cache keys results by object identity and
keeps each one only while everything it was computed from is still the same object:

- per Ingress: class selection, annotations, TLS sections, route candidates and their findings
  (inputs: the Ingress, the Secrets it looked up, the IngressClasses, whether its namespace has
  Secrets in the input);
- per backend: the resolved RouteBackend (inputs: the Service, its EndpointSlices or Endpoints,
  and whether the namespace has Services/endpoints in the input);
- per route candidate: the Route (inputs: the candidate, its RouteBackend, its TLS source);
- the last RoutingTable, whose per-host indexes are reused for hosts whose routes are the same.

compile(snapshot, options, cache) returns what compile(snapshot, options) returns (a property
test holds it to that); only the work differs. Entries not used by a compile are dropped by it,
so the cache never holds more than the last snapshot's results. One compile at a time.
"""

from __future__ import annotations

from operator import is_
from typing import TYPE_CHECKING, Any

from ingressctl.model import IngressClass
from ingressctl.routing.options import CompileOptions

if TYPE_CHECKING:
    from ingressctl.gateway.memo import GatewayMemo


class CompileCache:
    __slots__ = (
        "_classes",
        "_gateway",
        "_options",
        "backends",
        "classes_token",
        "ingresses",
        "next_backends",
        "next_ingresses",
        "next_routes",
        "routes",
        "table",
    )

    def __init__(self) -> None:
        self._options: CompileOptions | None = None
        self._classes: tuple[IngressClass, ...] = ()
        # Changes whenever the IngressClasses do: an Ingress result holds the token it was selected with.
        self.classes_token = object()
        # id(input object) → result holding that object; the previous compile's and this one's.
        self.ingresses: dict[int, Any] = {}
        self.backends: dict[tuple[object, ...], Any] = {}
        self.routes: dict[int, Any] = {}
        self.next_ingresses: dict[int, Any] = {}
        self.next_backends: dict[tuple[object, ...], Any] = {}
        self.next_routes: dict[int, Any] = {}
        self.table: Any = None
        self._gateway: GatewayMemo | None = None

    @property
    def gateway(self) -> GatewayMemo:
        """The HTTPRoutes' results (ingressctl.gateway.memo), made with the first compile that has
        HTTPRoutes: a process serving Ingresses alone never loads the Gateway API code."""
        if self._gateway is None:
            from ingressctl.gateway.memo import GatewayMemo

            self._gateway = GatewayMemo()
        return self._gateway

    def begin(self, options: CompileOptions, ingress_classes: tuple[IngressClass, ...]) -> None:
        """Start a compile: forget everything if the options changed, renew the class token if the
        IngressClasses did."""
        if self._options != options:
            self._options = options
            self.ingresses, self.backends, self.routes = {}, {}, {}
            self.table = None
            self.classes_token = object()
        if not same_items(self._classes, ingress_classes):
            self._classes = tuple(ingress_classes)
            self.classes_token = object()
        self.next_ingresses, self.next_backends, self.next_routes = {}, {}, {}

    def commit(self, table: Any) -> None:
        """The compile finished: its results become the ones the next compile may reuse."""
        self.ingresses, self.next_ingresses = self.next_ingresses, {}
        self.backends, self.next_backends = self.next_backends, {}
        self.routes, self.next_routes = self.next_routes, {}
        self.table = table


def same_items(a: tuple[object, ...] | list[Any] | None, b: tuple[object, ...] | list[Any] | None) -> bool:
    """Same length and the very same objects, in order (None only equals None)."""
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(map(is_, a, b))

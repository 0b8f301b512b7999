"""ingress-nginx canaries chosen per request (canary-by-header, -by-cookie, with canary-weight for
the rest): the rules and the canary's backend, as the compiler resolved them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingressctl.model.objects import ObjectRef

if TYPE_CHECKING:
    from ingressctl.model.routes import RouteBackend


@dataclass(frozen=True, slots=True)
class CanaryRules:
    """Which requests go to the canary; ingress-nginx's order: header, then cookie, then weight.

    header: a request header whose value `always` sends to the canary and `never` keeps off it;
    with `header_value` only that exact value sends to the canary, with `header_pattern` (RE2,
    searched in the value) a matching value does; any other value falls through to the cookie.
    cookie: `always` / `never` likewise; other values fall through to the weight.
    """

    header: str = ""
    header_value: str = ""
    header_pattern: str = ""
    cookie: str = ""
    weight: int = 0
    total: int = 100

    @property
    def by_request(self) -> bool:
        return bool(self.header or self.cookie)


@dataclass(frozen=True, slots=True)
class CanaryRouting:
    """A route's canary: its rules, the canary Ingress and the canary's resolved backend."""

    rules: CanaryRules
    source: ObjectRef
    backend: RouteBackend

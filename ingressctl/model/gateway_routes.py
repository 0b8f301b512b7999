"""What a route compiled from an HTTPRoute carries beyond an Ingress route: the conditions of its
match (method, headers, query parameters, a regular-expression path, a Gateway API wildcard host),
its place in the API's precedence, and the filters that have no Ingress counterpart."""

from __future__ import annotations

from dataclasses import dataclass

from ingressctl.model.gateway import PathMatchType, RequestMirror, RequestRedirect, ValueMatch
from ingressctl.model.gateway_names import DEFAULT_MIRROR_BODY_LIMIT
from ingressctl.model.objects import ObjectRef

# (host tier, -wildcard length, path class, -path length, -method, -headers, -query, no creation
#  time, creation time, namespace/name, rule, match): smaller wins (ingressctl.gateway.precedence).
Rank = tuple[int, int, int, int, int, int, int, bool, str, str, int, int]


@dataclass(frozen=True, slots=True)
class GatewayMatch:
    """One match of one rule of one HTTPRoute, as carried by a Route (`Route.gateway`)."""

    route: ObjectRef  # the HTTPRoute
    rule: int
    match: int
    parents: tuple[str, ...]  # "Gateway ns/name listener http (entrypoint web)" for people
    path_type: PathMatchType
    path: str
    method: str | None = None
    headers: tuple[ValueMatch, ...] = ()
    query_params: tuple[ValueMatch, ...] = ()
    # "*.example.com" in the Gateway API matches any number of labels (an Ingress wildcard just one).
    wildcard_suffix: str = ""  # ".example.com" for such hosts
    rank: Rank = (0, 0, 0, 0, 0, 0, 0, False, "", "", 0, 0)

    @property
    def conditional(self) -> bool:
        """Needs more than host and path to decide (the table's Gateway index serves it)."""
        return bool(
            self.method
            or self.headers
            or self.query_params
            or self.wildcard_suffix
            or self.path_type is PathMatchType.REGULAR_EXPRESSION
        )

    def describe(self) -> str:
        parts = [f"{self.path_type.value} {self.path}"]
        if self.method:
            parts.append(f"method {self.method}")
        for h in self.headers:
            parts.append(f"header {h.name}{'=' if h.type.value == 'Exact' else '~'}{h.value}")
        for q in self.query_params:
            parts.append(f"query {q.name}{'=' if q.type.value == 'Exact' else '~'}{q.value}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class GatewayError:
    """Requests the API says must fail: `fraction` of them (1.0: all) get `status` (500)."""

    status: int
    fraction: float
    detail: str


@dataclass(frozen=True, slots=True)
class GatewayFilters:
    """The filters of an HTTPRoute rule that no Ingress annotation expresses (`RouteMiddlewares.gateway`);
    header modifiers and URL rewrites go to RouteMiddlewares.rewrites like their annotation twins."""

    redirect: RequestRedirect | None = None
    # The prefix the rule matched (ReplacePrefixMatch of a redirect replaces it).
    matched_prefix: str = ""
    mirrors: tuple[tuple[RequestMirror, tuple[str, ...]], ...] = ()  # with the mirror's upstream authorities
    error: GatewayError | None = None
    # RequestMirror: a request body over this many bytes is not mirrored (--gateway-mirror-body-limit).
    mirror_body_limit: int = DEFAULT_MIRROR_BODY_LIMIT

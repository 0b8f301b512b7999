"""routing.chain: a route's middlewares as ordered specs, the data the proxy builds its chain from
and `routes`/the API describe."""

from __future__ import annotations

from ingressctl.model import (
    BackendProblem,
    BasicAuth,
    HostKind,
    ObjectRef,
    PathType,
    Redirect,
    Route,
    RouteBackend,
    RouteMiddlewares,
)
from ingressctl.routing.chain import (
    BasicAuthSpec,
    FailClosedSpec,
    auth_position,
    chain_descriptions,
    chain_labels,
    route_chain,
)

AUTH = BasicAuth("staff", (("alice", "{SHA}bOWgjgJew8XNjPXTyFghAc+ha1M="),), "Secret web/staff")


def make(
    middlewares: RouteMiddlewares,
    *,
    problem: BackendProblem | None = None,
    path: str = "/app/",
    strip: bool = False,
) -> Route:
    return Route(
        id="web/r#0",
        host="a.test",
        host_kind=HostKind.EXACT,
        path=path,
        path_type=PathType.PREFIX,
        backend=RouteBackend("web", "svc", "80", problem=problem, problem_detail="why"),
        source=ObjectRef("Ingress", "web", "r"),
        middlewares=middlewares,
        strip_prefix=strip,
    )


def test_every_middleware_in_the_order_the_proxy_applies_them() -> None:
    route = make(
        RouteMiddlewares(
            redirect=Redirect("websecure", True), basic_auth=AUTH, allow_source_ranges=("10.0.0.0/8",)
        ),
        strip=True,
    )
    assert chain_labels(route) == ["ip-allow-list", "redirect->websecure", "basic-auth", "strip-prefix(/app)"]
    described = chain_descriptions(route)
    assert described[1] == {
        "name": "redirect",
        "effect": "301/308 to entrypoint websecure (not on websecure itself)",
        "entrypoint": "websecure",
        "permanent": True,
    }
    assert described[3]["prefix"] == "/app"
    assert "{SHA}" not in repr(described)  # hashes stay in the process
    # An entrypoint's own basic auth runs after the redirect, before the route's auth.
    assert auth_position(route_chain(route)) == 2


def test_unusable_protection_becomes_a_fail_closed_stage_in_its_place() -> None:
    allow = route_chain(
        make(RouteMiddlewares(redirect=Redirect("websecure")), problem=BackendProblem.ACCESS_RULE_INVALID)
    )
    first = allow[0]
    assert isinstance(first, FailClosedSpec)
    assert (first.status, first.guards) == (403, "ip-allow-list")
    assert [spec.label for spec in allow] == ["fail-closed(ip-allow-list)", "redirect->websecure"]
    auth = route_chain(
        make(RouteMiddlewares(redirect=Redirect("websecure")), problem=BackendProblem.AUTH_SECRET_INVALID)
    )
    assert [spec.label for spec in auth] == ["redirect->websecure", "fail-closed(basic-auth)"]
    assert isinstance(auth[1], FailClosedSpec) and auth[1].status == 503
    assert auth_position(auth) == 2


def test_plain_route_and_root_strip_have_no_chain() -> None:
    assert route_chain(make(RouteMiddlewares())) == ()
    assert route_chain(make(RouteMiddlewares(), path="/", strip=True)) == ()
    only_auth = route_chain(make(RouteMiddlewares(basic_auth=AUTH)))
    assert isinstance(only_auth[0], BasicAuthSpec) and auth_position(only_auth) == 0

"""Middleware specs of HTTPRoute filters that no annotation has: RequestRedirect (scheme, hostname,
port, path), RequestMirror (fire-and-forget copies), and the 500 the API requires for a share of
requests whose backendRef is invalid. ingressctl.routing.chain puts them in the chain; the proxy
builds them (ingressctl.proxy.middlewares.gateway_*)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ingressctl.model import Route
from ingressctl.model.gateway import PathModifierType, RequestRedirect
from ingressctl.model.gateway_names import DEFAULT_MIRROR_BODY_LIMIT

Description = dict[str, str | int | bool | list[str]]


@dataclass(frozen=True, slots=True)
class GatewayRedirectSpec:
    """RequestRedirect: a redirect built from the request with some of its parts replaced."""

    name: ClassVar[str] = "request-redirect"
    redirect: RequestRedirect
    matched_prefix: str  # for ReplacePrefixMatch

    @property
    def label(self) -> str:
        return f"{self.name}({self.redirect.status_code})"

    def describe(self) -> Description:
        r = self.redirect
        parts = [f"scheme {r.scheme}"] if r.scheme else []
        if r.hostname:
            parts.append(f"host {r.hostname}")
        if r.port is not None:
            parts.append(f"port {r.port}")
        if r.path is not None:
            verb = (
                "path"
                if r.path.type is PathModifierType.REPLACE_FULL_PATH
                else f"prefix {self.matched_prefix} →"
            )
            parts.append(f"{verb} {r.path.value}")
        return {
            "name": self.name,
            "effect": f"{r.status_code} to the request's URL"
            + (" with " + ", ".join(parts) if parts else ""),
            "status": r.status_code,
        }

    def location(self, scheme: str, host: str, port: int | None, path: str, query: str) -> str:
        """The Location for a request (host without port; `port` the listener's)."""
        r = self.redirect
        new_scheme = r.scheme or scheme
        new_host = r.hostname or host
        if r.port is not None:
            new_port: int | None = r.port
        elif r.scheme:
            new_port = None  # the scheme's well-known port
        else:
            new_port = port
        if new_port == {"http": 80, "https": 443}.get(new_scheme):
            new_port = None
        new_path = path
        if r.path is not None:
            if r.path.type is PathModifierType.REPLACE_FULL_PATH:
                new_path = r.path.value
            else:
                rest = path[len(self.matched_prefix.rstrip("/")) :]
                new_path = (r.path.value.rstrip("/") + rest) or "/"
        authority = f"[{new_host}]" if ":" in new_host else new_host
        if new_port is not None:
            authority += f":{new_port}"
        return f"{new_scheme}://{authority}{new_path}" + (f"?{query}" if query else "")


@dataclass(frozen=True, slots=True)
class MirrorSpec:
    """RequestMirror: a copy of each request (its head and a bounded body) goes to another backend;
    its answer is ignored, and copies beyond a bound are dropped rather than queued."""

    name: ClassVar[str] = "request-mirror"
    service: str
    upstreams: tuple[str, ...]  # host:port authorities
    percent: int  # 100: every request
    max_body: int = DEFAULT_MIRROR_BODY_LIMIT  # a larger request body: that request is not mirrored

    @property
    def label(self) -> str:
        return f"{self.name}({self.service})"

    def describe(self) -> Description:
        share = "every request" if self.percent >= 100 else f"{self.percent}% of requests"
        return {
            "name": self.name,
            "effect": f"copies {share} to {self.service} (answers ignored; bodies up to "
            f"{self.max_body} bytes, a larger one is not mirrored)",
            "service": self.service,
        }


@dataclass(frozen=True, slots=True)
class BackendErrorSpec:
    """A share of requests answers 500: the weight of invalid backendRefs (the API's rule)."""

    name: ClassVar[str] = "invalid-backend"
    fraction: float
    detail: str

    @property
    def label(self) -> str:
        return self.name

    def describe(self) -> Description:
        share = "every request" if self.fraction >= 1 else f"{round(self.fraction * 100)}% of requests"
        return {"name": self.name, "effect": f"500 for {share}: {self.detail}", "detail": self.detail}


GatewaySpec = GatewayRedirectSpec | MirrorSpec | BackendErrorSpec


def redirect_specs(route: Route) -> list[GatewaySpec]:
    extras = route.middlewares.gateway
    if extras is None or extras.redirect is None:
        return []
    return [GatewayRedirectSpec(extras.redirect, extras.matched_prefix)]


def forwarding_specs(route: Route) -> list[GatewaySpec]:
    """Just before forwarding: the 500s first (a request answered 500 is not mirrored), then mirrors."""
    extras = route.middlewares.gateway
    if extras is None:
        return []
    out: list[GatewaySpec] = []
    if extras.redirect is None:
        for mirror, upstreams in extras.mirrors:
            if upstreams:
                ref = mirror.backend_ref
                percent = 100 if mirror.percent is None else mirror.percent
                out.append(
                    MirrorSpec(
                        f"{ref.namespace or route.source.namespace}/{ref.name}",
                        upstreams,
                        percent,
                        extras.mirror_body_limit,
                    )
                )
        if extras.error is not None:
            out.insert(0, BackendErrorSpec(extras.error.fraction, extras.error.detail))
    return out

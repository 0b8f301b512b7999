"""The backend side of a route's chain, as specs: the request-body limit, the circuit breaker, and the
upstream policy (sticky cookie, balancing method, hashing, timeouts, retries) that the balancer and the
forwarder apply. They come last in the chain: Traefik applies them at the service, after the router's
middlewares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ingressctl.model.backend_policy import BackendPolicy, BalanceMethod, CircuitBreaker
from ingressctl.routing.breaker_expression import describe_condition
from ingressctl.routing.chain_spec import ChainSpec, Description


@dataclass(frozen=True, slots=True)
class BodyLimitSpec(ChainSpec):
    """Refuse (413) a request whose body is larger than `max_bytes`."""

    name: ClassVar[str] = "body-limit"
    max_bytes: int

    @property
    def label(self) -> str:
        return f"{self.name}({self.max_bytes})"

    def describe(self) -> Description:
        return {
            "name": self.name,
            "effect": f"413 for a request body over {self.max_bytes} bytes",
            "max_bytes": self.max_bytes,
        }


@dataclass(frozen=True, slots=True)
class CircuitBreakerSpec(ChainSpec):
    """503 at once while the breaker is open; probes while half-open."""

    name: ClassVar[str] = "circuit-breaker"
    breaker: CircuitBreaker

    def describe(self) -> Description:
        b = self.breaker
        return {
            "name": self.name,
            "effect": (
                f"503 for {b.fallback_seconds:g}s once {describe_condition(b.condition)} holds over the last "
                f"{b.window_seconds:g}s of requests, then probes until it holds no more"
            ),
            "expression": b.expression,
        }


@dataclass(frozen=True, slots=True)
class UpstreamPolicySpec(ChainSpec):
    """How the endpoint is chosen and talked to: applied by the balancer and the forwarder, shown here."""

    name: ClassVar[str] = "upstream-policy"
    policy: BackendPolicy

    @property
    def label(self) -> str:
        p = self.policy
        parts = [p.method.value]
        if p.sticky is not None:
            parts.insert(0, f"sticky:{p.sticky.name}")
        if p.hash_key is not None:
            parts.insert(0, f"hash:{p.hash_key.template}")
        if p.error_pages:
            parts.append("error-pages")
        return f"{self.name}({','.join(parts)})"

    def describe(self) -> Description:
        p = self.policy
        effects: list[str] = []
        out: Description = {"name": self.name}
        if p.sticky is not None:
            c = p.sticky
            flags = [f for f, on in (("Secure", c.secure), ("HttpOnly", c.http_only)) if on]
            if c.same_site:
                flags.append(f"SameSite={c.same_site}")
            lifetime = (
                f"Max-Age={c.max_age}"
                if c.max_age
                else f"expires in {c.expires}s"
                if c.expires
                else "session"
            )
            attributes = ", ".join([f"path {c.path}", lifetime, *flags])
            effects.append(
                f"sticky: cookie {c.name} ({attributes}) pins the client to an endpoint; "
                "a gone endpoint re-pins"
            )
            out["cookie"] = c.name
        if p.hash_key is not None:
            effects.append(f"consistent hash of {p.hash_key.template} picks the endpoint")
            out["hash_by"] = p.hash_key.template
        if p.method is BalanceMethod.LEAST_LATENCY:
            effects.append("least (in flight + 1) x moving-average latency")
        else:
            effects.append("smooth weighted round robin")
        out["method"] = p.method.value
        timeouts = [
            f"{what} {value:g}s"
            for what, value in (
                ("connect", p.connect_timeout),
                ("read", p.read_timeout),
                ("send", p.send_timeout),
            )
            if value is not None
        ]
        if timeouts:
            effects.append("timeouts: " + ", ".join(timeouts))
        if p.tries is not None or p.retry_on:
            when = " ".join(p.retry_on) or "error"
            effects.append(
                "no retries"
                if "off" in p.retry_on
                else f"up to {p.tries or (3 if p.retry_on else 2)} tries on {when}"
            )
        if p.max_response_body is not None:
            effects.append(f"502 for a response body over {p.max_response_body} bytes")
            out["max_response_bytes"] = p.max_response_body
        for page in p.error_pages:
            statuses = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in page.statuses)
            port = f":{page.port}" if page.port else ""
            effects.append(
                f"answers {statuses}: page {page.query} of Service {page.service}{port}, status kept"
            )
        if p.fallback_backend is not None:
            effects.append(
                f"served by Service {p.fallback_service} while its own Service has no usable endpoint"
            )
        if (
            p.flush_interval_ms is not None
            or p.request_buffering is not None
            or p.response_buffering is not None
        ):
            effects.append("bodies stream without buffering or delay")
        out["effect"] = "; ".join(effects)
        out["annotations"] = list(p.sources)
        return out


BackendSpec = BodyLimitSpec | CircuitBreakerSpec | UpstreamPolicySpec


def backend_chain(policy: BackendPolicy | None) -> tuple[BackendSpec, ...]:
    """The backend part of a route's chain, in order (empty without a policy or when it is invalid:
    the route then fails closed, see routing.chain)."""
    if policy is None or policy.invalid:
        return ()
    chain: list[BackendSpec] = []
    if policy.max_request_body is not None:
        chain.append(BodyLimitSpec(policy.max_request_body))
    if policy.breaker is not None:
        chain.append(CircuitBreakerSpec(policy.breaker))
    chain.append(UpstreamPolicySpec(policy))
    return tuple(chain)

"""Chain specs of access control and traffic limits (see ingressctl.routing.chain for the chain).

`front_specs` run first (deny-list, fail-closed stages, rate and in-flight limits: a refused or
over-limit client costs nothing more and never reaches the auth service); `auth_specs` run where
authentication runs (forward auth, then what the backend learns about the authenticated user).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ingressctl.model.access import AccessControls, AuthStyle, ForwardAuth, InFlightLimit, RateLimit
from ingressctl.routing.chain_spec import ChainSpec, Description


@dataclass(frozen=True, slots=True)
class DenyListSpec(ChainSpec):
    """Refuse (403) a client whose address is in the deny ranges."""

    name: ClassVar[str] = "ip-deny-list"
    source_ranges: tuple[str, ...]

    def describe(self) -> Description:
        return {
            "name": self.name,
            "effect": "403 when the client address is in " + ", ".join(self.source_ranges),
            "source_ranges": list(self.source_ranges),
        }


def _rates_text(limit: RateLimit) -> str:
    return ", ".join(
        f"{r.average}/{r.period:g}s burst {r.burst}" if r.period != 1 else f"{r.average}/s burst {r.burst}"
        for r in limit.rates
    )


@dataclass(frozen=True, slots=True)
class RateLimitSpec(ChainSpec):
    """Token buckets per source; beyond the rate, `limit.status` with Retry-After."""

    name: ClassVar[str] = "rate-limit"
    limit: RateLimit

    def describe(self) -> Description:
        limit = self.limit
        out: Description = {
            "name": self.name,
            "effect": f"{limit.status} with Retry-After beyond {_rates_text(limit)} per {limit.source.label}",
            "source": limit.source.label,
            "rates": [f"{r.name}: {r.average} per {r.period:g}s, burst {r.burst}" for r in limit.rates],
            "status": limit.status,
            "annotation": limit.spelling,
        }
        if limit.exempt:
            out["exempt"] = list(limit.exempt)
        return out


@dataclass(frozen=True, slots=True)
class InFlightSpec(ChainSpec):
    """At most `limit.amount` requests in progress per source; beyond, `limit.status`."""

    name: ClassVar[str] = "in-flight-limit"
    limit: InFlightLimit

    def describe(self) -> Description:
        limit = self.limit
        out: Description = {
            "name": self.name,
            "effect": f"{limit.status} beyond {limit.amount} request(s) in progress per {limit.source.label}",
            "source": limit.source.label,
            "amount": limit.amount,
            "status": limit.status,
            "annotation": limit.spelling,
        }
        if limit.exempt:
            out["exempt"] = list(limit.exempt)
        if limit.shared_by:
            out["effect"] = f"{out['effect']}, counted across {limit.shared_by}"
            out["shared_by"] = limit.shared_by
        return out


@dataclass(frozen=True, slots=True)
class ForwardAuthSpec(ChainSpec):
    """Ask the auth service; 2xx lets the request through (copying the named headers)."""

    name: ClassVar[str] = "forward-auth"
    auth: ForwardAuth

    def describe(self) -> Description:
        auth = self.auth
        if auth.style is AuthStyle.TRAEFIK:
            others = "any other answer goes to the client as it is"
        elif auth.signin:
            others = f"401 redirects to {auth.signin}, 403 is returned, other answers are 500"
        else:
            others = "401 and 403 are returned, other answers are 500"
        out: Description = {
            "name": self.name,
            "effect": f"{auth.method} {auth.url}: 2xx passes; {others}; no answer is 503",
            "url": auth.url,
            "method": auth.method,
            "style": auth.style.value,
            "response_headers": list(auth.response_headers),
            "trust_forward_headers": auth.trust_forward_headers,
        }
        if auth.signin:
            out["signin"] = auth.signin
        if auth.tls is not None:
            # Never the key: which Secret, and whether the service's certificate is verified.
            out["tls"] = auth.tls.describe() + (
                f" from {auth.tls.source}" if auth.tls.client_cert_pem else ""
            )
            out["effect"] = f"{out['effect']}; TLS to the auth service: {out['tls']}"
        return out


@dataclass(frozen=True, slots=True)
class AuthHeadersSpec(ChainSpec):
    """After authentication: the user for the backend, and/or the credentials removed."""

    name: ClassVar[str] = "auth-headers"
    user_header: str
    remove_authorization: bool

    def describe(self) -> Description:
        effects: list[str] = []
        if self.user_header:
            effects.append(f"sets {self.user_header} to the authenticated user")
        if self.remove_authorization:
            effects.append("removes Authorization")
        return {
            "name": self.name,
            "effect": "; ".join(effects),
            "user_header": self.user_header,
            "remove_authorization": self.remove_authorization,
        }


AccessSpec = DenyListSpec | RateLimitSpec | InFlightSpec | ForwardAuthSpec | AuthHeadersSpec


def deny_specs(access: AccessControls) -> list[AccessSpec]:
    return [DenyListSpec(access.deny_source_ranges)] if access.deny_source_ranges else []


def limit_specs(access: AccessControls) -> list[AccessSpec]:
    out: list[AccessSpec] = []
    if access.rate_limit is not None:
        out.append(RateLimitSpec(access.rate_limit))
    if access.in_flight is not None:
        out.append(InFlightSpec(access.in_flight))
    if access.backend_in_flight is not None:
        out.append(InFlightSpec(access.backend_in_flight))
    return out


def auth_specs(access: AccessControls) -> list[AccessSpec]:
    out: list[AccessSpec] = []
    if access.forward_auth is not None:
        out.append(ForwardAuthSpec(access.forward_auth))
    if access.auth_user_header or access.remove_authorization:
        out.append(AuthHeadersSpec(access.auth_user_header, access.remove_authorization))
    return out

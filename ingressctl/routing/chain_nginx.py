"""Middleware specs of ingress-nginx behaviours that have no Traefik spelling (rewrite-target)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from ingressctl.model import CorsPolicy, Route
from ingressctl.routing.chain_spec import ChainSpec, Description
from ingressctl.routing.userregex import UserRegex, compile_user_regex, expand


@dataclass(frozen=True, slots=True)
class RewriteTargetSpec(ChainSpec):
    """ingress-nginx rewrite-target: the path sent upstream becomes `target`, $N from the groups of
    the declared path (a case-insensitive regex searched in the request path, as nginx's
    `rewrite "(?i)PATH" TARGET break;`). The query string is kept."""

    name: ClassVar[str] = "rewrite-target"
    path: str  # the declared path: the regex
    target: str

    @property
    def label(self) -> str:
        return f"{self.name}({self.target})"

    def rewrite(self, path: str) -> str:
        """The path sent upstream for the request path `path` (what `serve` does, and `--explain` shows)."""
        found = _rewrite_regex(self.path).search(path)
        if found is None:
            return path  # nginx's rewrite leaves a path its regex does not match as it is
        rewritten = expand(found, self.target)
        return rewritten if rewritten.startswith("/") else "/" + rewritten

    def describe(self) -> Description:
        return {
            "name": self.name,
            "effect": f"the path matched by ~* {self.path} is sent upstream as {self.target}",
            "regex": self.path,
            "target": self.target,
        }


@dataclass(frozen=True, slots=True)
class CorsSpec(ChainSpec):
    """ingress-nginx enable-cors: an OPTIONS request from an allowed origin is answered 204 with the
    preflight headers; other requests from it get the CORS headers on their answer."""

    name: ClassVar[str] = "cors"
    policy: CorsPolicy

    def allowed_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for a request from `origin`, or None (no CORS)."""
        origins = self.policy.allow_origins
        if "*" in origins:
            return "*"
        if not origin:
            return None
        lowered = origin.lower()
        for allowed in origins:
            pattern = allowed.lower()
            if lowered == pattern:
                return origin
            scheme, sep, rest = pattern.partition("://*.")
            if (
                sep
                and lowered.startswith(scheme + "://")
                and _wildcard_host(lowered[len(scheme) + 3 :], rest)
            ):
                return origin
        return None

    def headers(self, origin: str, preflight: bool) -> list[tuple[str, str]]:
        """The CORS headers for an allowed origin (`allowed_origin`'s answer)."""
        policy = self.policy
        out = [("Access-Control-Allow-Origin", origin)]
        if origin != "*":
            out.append(("Vary", "Origin"))
        if policy.allow_credentials:
            out.append(("Access-Control-Allow-Credentials", "true"))
        out.append(("Access-Control-Allow-Methods", policy.allow_methods))
        out.append(("Access-Control-Allow-Headers", policy.allow_headers))
        if policy.expose_headers:
            out.append(("Access-Control-Expose-Headers", policy.expose_headers))
        if preflight:
            out.append(("Access-Control-Max-Age", str(policy.max_age)))
        return out

    def describe(self) -> Description:
        policy = self.policy
        return {
            "name": self.name,
            "effect": "204 for OPTIONS from "
            + ", ".join(policy.allow_origins)
            + "; CORS headers on other answers",
            "allow_origins": list(policy.allow_origins),
            "allow_methods": policy.allow_methods,
            "allow_headers": policy.allow_headers,
            "allow_credentials": policy.allow_credentials,
            "max_age": policy.max_age,
        }


def _wildcard_host(host_port: str, suffix_port: str) -> bool:
    """`https://*.example.com` allows `https://a.example.com` (one or more labels), ports equal."""
    host, _, port = host_port.partition(":")
    suffix, _, want_port = suffix_port.partition(":")
    return port == want_port and host.endswith("." + suffix) and len(host) > len(suffix) + 1


def cors_of(route: Route) -> CorsSpec | None:
    policy = route.middlewares.cors
    return CorsSpec(policy) if policy is not None else None


@lru_cache(maxsize=16384)
def _rewrite_regex(path: str) -> UserRegex:
    # Compiled on first use and shared by every plan built from the same path: a table of thousands
    # of regex routes builds without RE2 work, and a reload does not recompile them.
    return compile_user_regex(path, ignore_case=True)


def rewrite_target_of(route: Route) -> RewriteTargetSpec | None:
    if route.regex is None or route.regex.rewrite_target is None or route.is_default_backend:
        return None
    return RewriteTargetSpec(route.path, route.regex.rewrite_target)

"""Diagnostic codes the compiler emits (IC2xx). The README lists them from this table."""

from __future__ import annotations

from ingressctl.gateway.codes import CODES as GATEWAY_CODES

CONFLICT = "IC201"
DUPLICATE_DEFAULT_BACKEND = "IC202"
SERVICE_NOT_FOUND = "IC203"
SERVICE_NOT_IN_INPUT = "IC204"
PORT_NOT_FOUND = "IC205"
NO_ENDPOINTS = "IC206"
NO_READY_ENDPOINTS = "IC207"
TERMINATING_FALLBACK = "IC208"
EXTERNAL_NAME_NOT_ALLOWED = "IC209"
TLS_SECRET_MISSING = "IC210"
TLS_SECRET_MALFORMED = "IC211"
AUTH_INVALID = "IC212"
BAD_ANNOTATION = "IC213"
OTHER_CLASS = "IC214"
RESOURCE_BACKEND = "IC215"
INVALID_HOST = "IC216"
INVALID_PATH = "IC217"
MISSING_BACKEND = "IC218"
UNSAFE_ANNOTATION_VALUE = "IC219"
UNSUPPORTED_PROTECTION = "IC220"
BACKEND_PROTOCOL = "IC240"
CLIENT_AUTH = "IC241"

CODES: dict[str, str] = {
    CONFLICT: "Two Ingresses (or two paths) claim the same host, path and pathType; the oldest wins and the "
    "other is never routed. An error for Exact and Prefix paths (ingress-nginx's admission webhook refuses "
    "them too), a warning for ImplementationSpecific; across namespaces, one team taking another's traffic.",
    DUPLICATE_DEFAULT_BACKEND: "More than one served Ingress sets defaultBackend; the oldest wins.",
    SERVICE_NOT_FOUND: "The backend Service does not exist in the Ingress namespace; the route answers 503 "
    "(reported when the input is complete: --require-services or --kubernetes).",
    SERVICE_NOT_IN_INPUT: "The backend Service was not part of the input, so it could not be checked "
    "(info, whatever else the input holds; --require-services makes it IC203).",
    PORT_NOT_FOUND: "The backend port (number or name) is not a port of the Service; the route answers 503.",
    NO_ENDPOINTS: "No EndpointSlice or Endpoints exist for the Service; the route answers 503.",
    NO_READY_ENDPOINTS: "The Service has endpoints but none is usable; the route answers 503.",
    TERMINATING_FALLBACK: "No endpoint is ready; serving endpoints that are terminating are used meanwhile.",
    EXTERNAL_NAME_NOT_ALLOWED: "ExternalName Services are proxied only with --allow-external-name-services.",
    TLS_SECRET_MISSING: "spec.tls names a missing Secret; the hosts use ACME or the default certificate.",
    TLS_SECRET_MALFORMED: "The TLS Secret lacks PEM tls.crt/tls.key; the hosts use ACME or the default cert.",
    AUTH_INVALID: "Basic auth is configured but broken; the route refuses every request (503).",
    BAD_ANNOTATION: "An annotation value cannot be parsed; the route is built without it.",
    OTHER_CLASS: "The Ingress belongs to another ingress class and is not routed.",
    RESOURCE_BACKEND: "`resource:` backends are not proxied; the route answers 503.",
    INVALID_HOST: "The rule host is not a valid DNS name or wildcard; the rule is skipped.",
    INVALID_PATH: "The path does not start with '/'; the path is skipped.",
    MISSING_BACKEND: "The backend names neither a Service nor a resource; the route answers 503.",
    UNSAFE_ANNOTATION_VALUE: "An annotation value holds control characters (CR, LF, "
    "NUL, other C0, DEL) that would end up in a header, redirect or log line; the route answers 503.",
    UNSUPPORTED_PROTECTION: "An annotation of ingress-nginx or Traefik asks for a protection ingressctl does "
    "not implement (auth, allow/deny lists, client certificates, rate limits, WAF, snippets, middlewares); "
    "the route answers 503 rather than serve without it.",
    BACKEND_PROTOCOL: "A backend protocol or backend TLS setting (backend-protocol, proxy-ssl-*, protocol, "
    "service.serversscheme) cannot be honoured; the route answers 503. Warnings: settings read elsewhere.",
    CLIENT_AUTH: "A client certificate annotation (auth-tls-*) cannot be honoured (missing or broken CA "
    "Secret, optional_no_ca, a bad verify depth); the route answers 503.",
}

# The Gateway API's codes (IC26x) live with it.
CODES.update(GATEWAY_CODES)

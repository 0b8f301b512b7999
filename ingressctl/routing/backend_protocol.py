"""The protocol each backend is reached with, and how a TLS backend is verified.

Read from, most specific first:
1. Ingress annotations: ingress-nginx `backend-protocol` (HTTP, HTTPS, GRPC, GRPCS, H2C) with
   `proxy-ssl-verify`, `proxy-ssl-secret`, `proxy-ssl-name`, `proxy-ssl-server-name`; Traefik 1.7
   `ingress.kubernetes.io/protocol` (http, https, h2c);
2. the Service annotation `traefik.ingress.kubernetes.io/service.serversscheme` (http, https, h2c);
3. the Service port's `appProtocol` (`kubernetes.io/h2c`, `https`, `http`, `kubernetes.io/ws`,
   `kubernetes.io/wss`; other values describe the application and are left alone);
4. plain HTTP/1.1.

TLS backends are verified (system CAs, or the `ca.crt` of `proxy-ssl-secret`) against the
Service's DNS name (`name.namespace.svc`, or an ExternalName's name), which is also sent as SNI.
Unlike ingress-nginx (whose `proxy-ssl-verify` defaults to off), verification is on unless
`proxy-ssl-verify: "off"` turns it off: the spec-first choice, as Traefik's default transport does.
A value that cannot be honoured (an unknown protocol, a missing or broken proxy-ssl-secret, a
Secret of another namespace) makes the routes answer 503 and is an error at its line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ingressctl.model import Diagnostic, Ingress, Secret, Service, ServicePort, Severity
from ingressctl.model.routes import BackendProblem, RouteBackend
from ingressctl.model.upstream_protocol import TLS_SCHEMES, BackendTLS
from ingressctl.routing import codes
from ingressctl.routing.report import annotation_location, finding

NGINX_BACKEND_PROTOCOL = "nginx.ingress.kubernetes.io/backend-protocol"
NGINX_SSL_VERIFY = "nginx.ingress.kubernetes.io/proxy-ssl-verify"
NGINX_SSL_SECRET = "nginx.ingress.kubernetes.io/proxy-ssl-secret"
NGINX_SSL_NAME = "nginx.ingress.kubernetes.io/proxy-ssl-name"
NGINX_SSL_SERVER_NAME = "nginx.ingress.kubernetes.io/proxy-ssl-server-name"
TRAEFIK_V1_PROTOCOL = "ingress.kubernetes.io/protocol"
SERVERS_SCHEME = "traefik.ingress.kubernetes.io/service.serversscheme"
SERVERS_TRANSPORT = "traefik.ingress.kubernetes.io/service.serverstransport"

KNOWN: dict[str, str] = {
    NGINX_BACKEND_PROTOCOL: "Backend protocol: HTTP, HTTPS (verified; HTTP/2 when the backend chooses "
    "h2 by ALPN), GRPC or H2C (HTTP/2 without TLS), GRPCS (HTTP/2 over TLS). Others (AUTO_HTTP, FCGI, AJP): "
    "503.",
    NGINX_SSL_VERIFY: "on|off: verify the certificate of an HTTPS/GRPCS backend. Default on "
    "(ingress-nginx: off); off is insecureSkipVerify.",
    NGINX_SSL_SECRET: "Secret (same namespace; 'name' or 'namespace/name') whose ca.crt verifies the "
    "backend and whose tls.crt/tls.key, when present, are sent as client certificate. Broken: 503.",
    NGINX_SSL_NAME: "Name the backend certificate is checked against and sent as SNI "
    "(default: the Service's DNS name name.namespace.svc).",
    NGINX_SSL_SERVER_NAME: "on|off: accepted; SNI is always sent to TLS backends (ingress-nginx's default: "
    "off).",
    TRAEFIK_V1_PROTOCOL: "Backend protocol (Traefik 1.7): http, https (verified; HTTP/2 by ALPN) or h2c.",
}
# Read on the Service, not the Ingress (the README lists them with the Ingress ones).
SERVICE_KNOWN: dict[str, str] = {
    SERVERS_SCHEME: "Service annotation: backend protocol http, https or h2c (Traefik v2/v3).",
    SERVERS_TRANSPORT: "Service annotation naming a ServersTransport CRD, which ingressctl does not read: "
    "a warning, the default transport (verification against system CAs) is used.",
}

_NGINX_SCHEMES = {"HTTP": "http", "HTTPS": "https", "GRPC": "h2c", "GRPCS": "h2", "H2C": "h2c"}
_TRAEFIK_SCHEMES = {"http": "http", "https": "https", "h2c": "h2c"}
_APP_PROTOCOLS = {
    "kubernetes.io/h2c": "h2c",
    "kubernetes.io/ws": "http",
    "kubernetes.io/wss": "https",
    "http": "http",
    "https": "https",
}
_SecretLookup = Callable[[str, str], Secret | None]
_ON = frozenset({"on", "true", "1"})
_OFF = frozenset({"off", "false", "0"})


@dataclass(frozen=True, slots=True)
class IngressUpstream:
    """What the annotations of one Ingress say about its backends' protocol and TLS."""

    scheme: str | None = None
    scheme_source: str = ""
    verify: bool | None = None
    ca_pem: bytes = field(default=b"", repr=False)
    client_cert_pem: bytes = field(default=b"", repr=False)
    client_key_pem: bytes = field(default=b"", repr=False)
    secret_source: str = ""
    server_name: str = ""
    # Set when a setting cannot be honoured: the routes answer 503.
    error: str = ""


def _on_off(ingress: Ingress, key: str, diagnostics: list[Diagnostic]) -> tuple[bool | None, str]:
    raw = ingress.meta.annotations.get(key)
    if raw is None:
        return None, ""
    text = raw.strip().lower()
    if text in _ON:
        return True, ""
    if text in _OFF:
        return False, ""
    problem = f"{key}: {raw!r} is neither on nor off"
    diagnostics.append(
        finding(
            codes.BACKEND_PROTOCOL,
            Severity.ERROR,
            ingress,
            f"annotation {problem}; every route of this Ingress answers 503 until it is fixed",
            'Write "on" or "off".',
            annotation_location(ingress, key),
        )
    )
    return None, problem


def parse_ingress_upstream(
    ingress: Ingress,
    lookup_secret: _SecretLookup,
    secrets_in_input: bool = True,
) -> tuple[IngressUpstream, list[Diagnostic]]:
    """The backend protocol annotations of `ingress`, typed; bad values are errors at their line."""
    annotations = ingress.meta.annotations
    diagnostics: list[Diagnostic] = []
    errors: list[str] = []

    def refuse(key: str, message: str, hint: str) -> None:
        errors.append(f"{key}: {message}")
        diagnostics.append(
            finding(
                codes.BACKEND_PROTOCOL,
                Severity.ERROR,
                ingress,
                f"annotation {key}: {message}; every route of this Ingress answers 503 until it is fixed",
                hint,
                annotation_location(ingress, key),
            )
        )

    scheme: str | None = None
    source = ""
    for key, table, hint in (
        (NGINX_BACKEND_PROTOCOL, _NGINX_SCHEMES, "Use HTTP, HTTPS, GRPC, GRPCS or H2C."),
        (TRAEFIK_V1_PROTOCOL, _TRAEFIK_SCHEMES, "Use http, https or h2c."),
    ):
        raw = annotations.get(key)
        if raw is None:
            continue
        value = raw.strip()
        found = table.get(value.upper() if table is _NGINX_SCHEMES else value.lower())
        if found is None:
            refuse(key, f"backend protocol {value!r} is not supported", hint)
            continue
        if scheme is not None and found != scheme:
            diagnostics.append(
                finding(
                    codes.BACKEND_PROTOCOL,
                    Severity.WARNING,
                    ingress,
                    f"annotation {key} asks for {found} but {source} for {scheme}; {scheme} is used",
                    "Keep one backend protocol annotation.",
                    annotation_location(ingress, key),
                )
            )
            continue
        scheme, source = found, source or key
    verify, problem = _on_off(ingress, NGINX_SSL_VERIFY, diagnostics)
    if problem:
        errors.append(problem)
    send_sni, problem = _on_off(ingress, NGINX_SSL_SERVER_NAME, diagnostics)
    if problem:
        errors.append(problem)
    if send_sni is False:
        diagnostics.append(
            finding(
                codes.BACKEND_PROTOCOL,
                Severity.INFO,
                ingress,
                f"annotation {NGINX_SSL_SERVER_NAME}: off is not followed: ingressctl always sends the name "
                "it verifies as SNI",
                "Remove the annotation.",
                annotation_location(ingress, NGINX_SSL_SERVER_NAME),
            )
        )
    server_name = annotations.get(NGINX_SSL_NAME, "").strip()
    if NGINX_SSL_NAME in annotations and not _valid_name(server_name):
        refuse(
            NGINX_SSL_NAME, f"{server_name!r} is not a DNS name", "Write the name on the backend certificate."
        )
        server_name = ""
    ca_pem = cert_pem = key_pem = b""
    secret_source = ""
    raw_secret = annotations.get(NGINX_SSL_SECRET)
    if raw_secret is not None:
        ns = ingress.meta.namespace
        ref = raw_secret.strip()
        secret_ns, slash, name = ref.rpartition("/")
        if not slash:
            secret_ns = ns
        if not name or secret_ns != ns:
            # A certificate and key of another namespace are another team's: never lent out.
            refuse(
                NGINX_SSL_SECRET,
                f"{ref!r} must name a Secret of the Ingress's namespace {ns}",
                "Copy the Secret into the Ingress's namespace and name it here.",
            )
        else:
            secret = lookup_secret(ns, name)
            secret_source = f"Secret {ns}/{name}"
            if secret is None:
                severity = Severity.ERROR if secrets_in_input else Severity.INFO
                errors.append(f"{NGINX_SSL_SECRET}: {secret_source} not found")
                diagnostics.append(
                    finding(
                        codes.BACKEND_PROTOCOL,
                        severity,
                        ingress,
                        f"annotation {NGINX_SSL_SECRET}: {secret_source} "
                        f"{'does not exist' if secrets_in_input else 'is not part of the input'}; "
                        "every route of this Ingress answers 503 without it",
                        "Create the Secret with ca.crt (and tls.crt/tls.key for a client certificate).",
                        annotation_location(ingress, NGINX_SSL_SECRET),
                    )
                )
            else:
                ca_pem, cert_pem, key_pem, why = _secret_material(secret)
                if why:
                    refuse(
                        NGINX_SSL_SECRET,
                        f"{secret_source} {why}",
                        "Put PEM data under ca.crt, tls.crt, tls.key.",
                    )
    result = IngressUpstream(
        scheme=scheme,
        scheme_source=source,
        verify=verify,
        ca_pem=ca_pem,
        client_cert_pem=cert_pem,
        client_key_pem=key_pem,
        secret_source=secret_source,
        server_name=server_name,
        error="; ".join(errors),
    )
    return result, diagnostics


def _secret_material(secret: Secret) -> tuple[bytes, bytes, bytes, str]:
    data = secret.data
    ca, cert, key = data.get("ca.crt", b""), data.get("tls.crt", b""), data.get("tls.key", b"")
    if not ca and not cert:
        return b"", b"", b"", "has neither ca.crt nor tls.crt"
    for what, value in (("ca.crt", ca), ("tls.crt", cert)):
        if value and b"-----BEGIN CERTIFICATE-----" not in value:
            return b"", b"", b"", f"{what} is not a PEM certificate"
    if bool(cert) != bool(key) or (key and b"PRIVATE KEY-----" not in key):
        return b"", b"", b"", "needs both tls.crt and a PEM tls.key for a client certificate"
    return ca, cert, key, ""


def _valid_name(name: str) -> bool:
    return (
        bool(name)
        and all(part and len(part) < 64 for part in name.split("."))
        and name.isascii()
        and (" " not in name)
    )


def service_scheme(service: Service | None, port: ServicePort | None) -> tuple[str | None, str]:
    """The scheme a Service asks for (its serversscheme annotation, then its port's appProtocol)."""
    if service is not None:
        raw = service.meta.annotations.get(SERVERS_SCHEME)
        if raw is not None:
            return _TRAEFIK_SCHEMES.get(raw.strip().lower()), SERVERS_SCHEME
    if port is not None and port.app_protocol:
        return _APP_PROTOCOLS.get(port.app_protocol.strip().lower()), "appProtocol"
    return None, ""


def service_findings(service: Service) -> list[Diagnostic]:
    """Findings on a Service's own protocol annotations (reported once per Service)."""
    out: list[Diagnostic] = []
    meta = service.meta
    raw = meta.annotations.get(SERVERS_SCHEME)
    where = meta.annotation_locations
    if raw is not None and raw.strip().lower() not in _TRAEFIK_SCHEMES:
        out.append(
            Diagnostic(
                code=codes.BACKEND_PROTOCOL,
                severity=Severity.ERROR,
                message=f"{service.ref}: annotation {SERVERS_SCHEME}: {raw.strip()!r} is not a supported "
                "scheme; routes to this Service answer 503 until it is fixed",
                location=where.get(SERVERS_SCHEME) or meta.location,
                hint="Use http, https or h2c.",
                object=service.ref,
            )
        )
    if SERVERS_TRANSPORT in meta.annotations:
        out.append(
            Diagnostic(
                code=codes.BACKEND_PROTOCOL,
                severity=Severity.WARNING,
                message=f"{service.ref}: annotation {SERVERS_TRANSPORT} names a ServersTransport, a Traefik "
                "CRD that ingressctl does not read; the default transport is used (certificates verified "
                "against the system CAs, SNI the Service's DNS name)",
                location=where.get(SERVERS_TRANSPORT) or meta.location,
                hint="Use nginx.ingress.kubernetes.io/proxy-ssl-secret / proxy-ssl-verify on the Ingress "
                "for a CA or to skip verification.",
                object=service.ref,
            )
        )
    return out


def apply_protocol(
    backend: RouteBackend,
    settings: IngressUpstream,
    service: Service | None,
    port: ServicePort | None,
) -> RouteBackend:
    """`backend` with the scheme and TLS settings that apply; unchanged when it is plain HTTP."""
    if backend.problem is not None:
        return backend
    if settings.error:
        return replace(
            backend,
            problem=BackendProblem.ANNOTATION_REFUSED,
            problem_detail=f"backend protocol: {settings.error}",
        )
    scheme = settings.scheme
    if scheme is None:
        scheme, source = service_scheme(service, port)
        if scheme is None and source == SERVERS_SCHEME:
            return replace(
                backend,
                problem=BackendProblem.ANNOTATION_REFUSED,
                problem_detail=f"backend protocol: {SERVERS_SCHEME} of Service {backend.namespace}/"
                f"{backend.service} is not http, https or h2c",
            )
    scheme = scheme or "http"
    if scheme not in TLS_SCHEMES:
        return backend if scheme == backend.scheme else replace(backend, scheme=scheme)
    default_name = (
        service.external_name
        if service is not None and service.type == "ExternalName"
        else f"{backend.service}.{backend.namespace}.svc"
    )
    sources = [s for s in (settings.scheme_source, settings.secret_source) if s]
    tls = BackendTLS(
        verify=settings.verify is not False,
        ca_pem=settings.ca_pem,
        server_name=settings.server_name or default_name,
        client_cert_pem=settings.client_cert_pem,
        client_key_pem=settings.client_key_pem,
        source=settings.secret_source or ", ".join(sources),
    )
    return replace(backend, scheme=scheme, tls=tls)

"""Static configuration: what `serve` runs with, from traefik.toml and flags (flags win)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingressctl.model.gateway_names import DEFAULT_MIRROR_BODY_LIMIT
from ingressctl.model.http2 import Http2Settings


@dataclass(frozen=True, slots=True)
class CertificateFile:
    cert_file: str
    key_file: str


@dataclass(frozen=True, slots=True)
class ClientCA:
    """Client certificates on a TLS entrypoint ([entryPoints.X.tls.clientCA])."""

    ca_pem: bytes = field(default=b"", repr=False)  # the CAs a client certificate must chain to
    optional: bool = False  # True: a client without a certificate is let in
    files: tuple[str, ...] = ()  # as written, for messages


@dataclass(frozen=True, slots=True)
class EntryPointTLS:
    certificates: tuple[CertificateFile, ...] = ()
    min_version: str = "1.2"  # "1.2" or "1.3"
    # TLS 1.2 cipher suites (OpenSSL names) from cipherSuites; empty: the default profile.
    cipher_suites: tuple[str, ...] = ()
    client_ca: ClientCA | None = None


@dataclass(frozen=True, slots=True)
class EntryPointRedirect:
    entrypoint: str
    permanent: bool = False


@dataclass(frozen=True, slots=True)
class EntryPointAuth:
    realm: str = "ingressctl"
    # htpasswd lines "user:hash" from `users` and from `usersFile`, already read.
    users: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ProxyProtocol:
    """PROXY protocol (v1 and v2) on an entrypoint: connections from `trusted_ips` must start with a
    PROXY header, whose client address then stands for the connection's peer."""

    trusted_ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one client connection may hold ([entryPoints.NAME.transport]); README "Security limits"."""

    # Seconds to receive a whole request head, from the connection's start or the request's first byte.
    read_header_timeout: float = 30.0
    # Seconds a keep-alive connection may wait for its next request (Traefik's idleTimeout default).
    idle_timeout: float = 180.0
    # Open client connections per entrypoint (per worker process); 0: no cap.
    max_connections: int = 0
    # Requests answered on a connection before the client must have read the earlier responses.
    max_pipelined_requests: int = 32


@dataclass(frozen=True, slots=True)
class EntryPoint:
    name: str
    address: str  # "host:port" or ":port" (all interfaces)
    tls: EntryPointTLS | None = None
    redirect: EntryPointRedirect | None = None
    auth: EntryPointAuth | None = None
    # Addresses/CIDRs whose X-Forwarded-* headers are trusted.
    trusted_ips: tuple[str, ...] = ()
    proxy_protocol: ProxyProtocol | None = None
    limits: ConnectionLimits = ConnectionLimits()
    http2: Http2Settings = field(default_factory=Http2Settings)
    compress: bool = False  # responses compressed (brotli/gzip) when the client accepts it

    @property
    def host(self) -> str:
        host, _, _ = self.address.rpartition(":")
        return host.strip("[]") or "0.0.0.0"

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])


@dataclass(frozen=True, slots=True)
class AcmeDomain:
    main: str
    sans: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AcmeConfig:
    email: str = ""
    storage: str = "acme.json"  # a path, or "secret:NAMESPACE/PREFIX"
    entrypoint: str = "https"
    ca_server: str = "https://acme-v02.api.letsencrypt.org/directory"
    ca_bundle: str = ""  # trust for a private CA's API (e.g. Pebble)
    challenge: str = "http-01"  # or "tls-alpn-01"
    http_entrypoint: str = "http"  # where HTTP-01 is answered
    on_host_rule: bool = False
    on_demand: bool = False
    on_demand_allow: tuple[str, ...] = ()  # host patterns allowed besides Ingress hosts
    on_demand_ask: str = ""  # URL asked "?domain=NAME"; 200 allows
    domains: tuple[AcmeDomain, ...] = ()
    key_type: str = "ec256"
    eab_kid: str = ""
    eab_hmac: str = field(default="", repr=False)
    # Orders per exact set of names (acme/ledger.py; Let's Encrypt allows 5 duplicate certificates a week).
    orders_per_hour: int = 3
    orders_per_week: int = 4


@dataclass(frozen=True, slots=True)
class KubernetesConfig:
    endpoint: str = ""
    token: str = field(default="", repr=False)
    cert_auth_file_path: str = ""
    namespaces: tuple[str, ...] = ()
    label_selector: str = ""
    ingress_class: str = ""
    kubeconfig: str = ""
    context: str = ""
    # Where the Ingresses are reachable, written to their status (Traefik v1 [kubernetes.ingressEndpoint];
    # serve --publish-service / --publish-address override both). At most one is set.
    publish_service: str = ""  # "NAMESPACE/NAME" of a Service whose addresses are published
    publish_address: str = ""  # IPs and host names, comma separated
    # enablePassTLSCert (Traefik 1.7): pass-tls-cert for every Ingress that does not say otherwise.
    pass_tls_cert: bool = False


@dataclass(frozen=True, slots=True)
class ApiConfig:
    address: str = "127.0.0.1:8080"
    insecure: bool = False
    auth: EntryPointAuth | None = None
    dashboard: bool = True


@dataclass(frozen=True, slots=True)
class StaticConfig:
    entrypoints: tuple[EntryPoint, ...] = ()
    default_entrypoints: tuple[str, ...] = ()
    acme: AcmeConfig | None = None
    kubernetes: KubernetesConfig | None = None
    api: ApiConfig | None = None
    # Where /ping and /ready are served without authentication, apart from the API ("": not at all).
    ping_address: str = ""
    manifests: tuple[str, ...] = ()  # paths watched by the manifests provider
    log_level: str = "INFO"
    log_format: str = "text"
    access_log: bool = False
    access_log_format: str = "common"  # or "json"
    workers: int = 1
    # --default-certificate: served to clients whose SNI name matches no other certificate (None: a
    # generated self-signed one).
    default_certificate: CertificateFile | None = None
    ingress_class: str = "ingressctl"
    controller_name: str = "ingressctl.io/ingress-controller"
    allow_external_name_services: bool = False
    # --watch-ingress-without-class (None: not given, see routing.takeover.serve_unclassed).
    watch_ingress_without_class: bool | None = None
    ignore_snippets: bool = False  # --ignore-snippets
    # The Gateway API (--gateway, --gateway-controller-name, --gateway-class; ingressctl.gateway).
    gateway: bool = False
    gateway_controller_name: str = "ingressctl.io/gateway-controller"
    gateway_class: str = ""
    gateway_mirror_body_limit: int = DEFAULT_MIRROR_BODY_LIMIT  # --gateway-mirror-body-limit (bytes)
    # Seconds the watch loop waits for more changes before compiling (bursts coalesce).
    throttle_seconds: float = 0.05
    grace_period_seconds: float = 10.0
    source: str = ""  # the config file it came from, for messages
    # Accepted-but-ignored settings, rendered "traefik.toml:12: ... (ignored)"; shown at startup.
    warnings: tuple[str, ...] = ()

    def entrypoint(self, name: str) -> EntryPoint | None:
        return next((e for e in self.entrypoints if e.name == name), None)

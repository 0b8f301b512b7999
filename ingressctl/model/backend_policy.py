"""How a route talks to its backend: endpoint selection (sticky cookie, method, hashing), the circuit
breaker, body limits, timeouts and retries. One typed value per route, whatever spelling asked for it
(Traefik 1.7 Service annotations, `traefik.backend.*`, Traefik v2/v3 `service.*`, ingress-nginx).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingressctl.model.routes import RouteBackend


class BalanceMethod(str, Enum):
    """How the next endpoint is chosen when no cookie or hash decides."""

    ROUND_ROBIN = "round-robin"  # smooth weighted round robin (Traefik wrr, nginx round_robin)
    # Fewest (in-flight + 1) × moving-average latency (Traefik drr, nginx ewma).
    LEAST_LATENCY = "least-latency"


@dataclass(frozen=True, slots=True)
class StickyCookie:
    """A cookie that pins a client to one endpoint; its value is a hash, never the endpoint address."""

    name: str
    path: str = "/"
    secure: bool = False
    http_only: bool = False
    same_site: str = ""  # "", "Strict", "Lax" or "None"
    max_age: int | None = None  # seconds; None: a session cookie
    expires: int | None = None  # seconds from now, written as an Expires date


@dataclass(frozen=True, slots=True)
class BreakerMetric:
    """One function of a circuit-breaker expression."""

    function: str  # "NetworkErrorRatio", "ResponseCodeRatio" or "LatencyAtQuantileMS"
    arguments: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class BreakerComparison:
    metric: BreakerMetric
    operator: str  # ">", ">=", "<", "<=", "==", "!="
    value: float


@dataclass(frozen=True, slots=True)
class BreakerJunction:
    operator: str  # "&&" or "||"
    left: BreakerCondition
    right: BreakerCondition


BreakerCondition = BreakerComparison | BreakerJunction


@dataclass(frozen=True, slots=True)
class CircuitBreaker:
    """Trip when `condition` holds over the recent requests; open answers 503 for `fallback_seconds`,
    then probes (half-open) until the condition stays false (Traefik's defaults: 10 s window)."""

    expression: str  # as written, for people
    condition: BreakerCondition
    window_seconds: float = 10.0
    fallback_seconds: float = 10.0
    probes_to_close: int = 3


@dataclass(frozen=True, slots=True)
class HashKey:
    """Consistent hashing over a request value (ingress-nginx upstream-hash-by)."""

    template: str  # as written, e.g. "$request_uri"
    # ("var", name) or ("text", literal) parts, in order.
    parts: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ErrorPages:
    """Answers with these statuses are replaced by a page asked of another Service; the status stays."""

    statuses: tuple[tuple[int, int], ...]  # inclusive ranges
    service: str  # in the Ingress's namespace
    port: str  # number or name; "" for the Service's first port
    query: str  # path (and query) asked of the Service; {status} is replaced
    # ingress-nginx custom-http-errors: X-Code, X-Format, X-Original-URI, ... go with the request.
    nginx_headers: bool = False
    backend: RouteBackend | None = None  # resolved by the compiler

    def covers(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self.statuses)


@dataclass(frozen=True, slots=True)
class BackendPolicy:
    """Everything about the backend side of a route that an annotation may change. Defaults: none."""

    method: BalanceMethod = BalanceMethod.ROUND_ROBIN
    sticky: StickyCookie | None = None
    hash_key: HashKey | None = None
    breaker: CircuitBreaker | None = None
    max_request_body: int | None = None  # bytes; beyond: 413
    max_response_body: int | None = None  # bytes; beyond: 502 (the response is not relayed)
    connect_timeout: float | None = None  # seconds
    read_timeout: float | None = None  # seconds: response head, and silence while it streams
    send_timeout: float | None = None  # seconds: silence while the request body is sent
    # How many endpoints one request may try (connect failures always; others per `retry_on`).
    tries: int | None = None
    retry_on: tuple[str, ...] = ()  # "error", "timeout", "http_502", ...; ("off",) disables retries
    flush_interval_ms: int | None = None  # recorded: responses are streamed without delay anyway
    request_buffering: bool | None = None  # recorded: request bodies are streamed
    response_buffering: bool | None = None  # recorded: responses are streamed
    error_pages: tuple[ErrorPages, ...] = ()
    # ingress-nginx default-backend: serves the route while its own Service has no usable endpoint.
    fallback_service: str = ""
    fallback_backend: RouteBackend | None = None  # resolved by the compiler
    # Why the route answers 503 instead (a value that could not be parsed); "" when usable.
    invalid: str = ""
    # Annotation keys that made this policy, for `routes --explain`.
    sources: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self != _DEFAULT


_DEFAULT = BackendPolicy()

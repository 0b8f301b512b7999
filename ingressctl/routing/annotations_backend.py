"""The backend-side annotations (sticky sessions, balancing method, hashing, circuit breaker, body
limits, timeouts, retries), every spelling parsed into one `BackendPolicy` per route.

Traefik reads these from the Service (1.7 `traefik.ingress.kubernetes.io/*` and `traefik.backend.*`,
v2/v3 `service.*`); ingressctl reads them from the Service first, then from the Ingress. ingress-nginx
spells them on the Ingress. A value that cannot be parsed is an error at its line and the route
answers 503 (`BackendPolicy.invalid`): serving without the setting would silently change behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ingressctl.model import Diagnostic, Ingress, Location, ObjectRef, Service, Severity
from ingressctl.model.backend_policy import (
    BackendPolicy,
    BalanceMethod,
    CircuitBreaker,
    HashKey,
    StickyCookie,
)
from ingressctl.routing import codes
from ingressctl.routing.annotation_values import parse_boolean
from ingressctl.routing.annotations_errors import ServiceResolver, error_pages, fallback_service, resolved
from ingressctl.routing.backend_keys import (
    AFFINITY,
    BREAKER,
    BREAKER_17,
    BUFFERING,
    ERROR_PAGES,
    FLUSH_INTERVAL,
    KNOWN_BACKEND_ANNOTATIONS,
    LB_METHOD,
    LB_METHOD_17,
    N_AFFINITY,
    N_AFFINITY_MODE,
    N_BODY_SIZE,
    N_BUFFERING,
    N_CONNECT_TIMEOUT,
    N_COOKIE_EXPIRES,
    N_COOKIE_MAX_AGE,
    N_COOKIE_NAME,
    N_COOKIE_PATH,
    N_COOKIE_SAMESITE,
    N_COOKIE_SECURE,
    N_HASH_BY,
    N_LOAD_BALANCE,
    N_NEXT_UPSTREAM,
    N_NEXT_UPSTREAM_TRIES,
    N_READ_TIMEOUT,
    N_REQUEST_BUFFERING,
    N_SEND_TIMEOUT,
    SESSION_COOKIE_NAME,
    STICKINESS_17,
    STICKINESS_COOKIE_17,
    STICKY,
    STICKY_17,
    STICKY_HTTPONLY,
    STICKY_MAXAGE,
    STICKY_NAME,
    STICKY_SAMESITE,
    STICKY_SECURE,
    N,
)
from ingressctl.routing.breaker_expression import ExpressionError, parse_breaker_expression
from ingressctl.routing.refusals import control_characters

_TRAEFIK_SERVICE_KEYS = frozenset(k for k in KNOWN_BACKEND_ANNOTATIONS if not k.startswith(N))
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 6265 cookie-name (an RFC 9110 token)
_SIZE = re.compile(r"^(\d+)\s*([kKmMgG]?)$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$")
_VARIABLE = re.compile(r"\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")
_HASH_VARIABLES = frozenset({"request_uri", "uri", "remote_addr", "binary_remote_addr", "host", "args"})
_HASH_PREFIXES = ("http_", "cookie_", "arg_")
_NEXT_UPSTREAM = frozenset(
    {
        "error",
        "timeout",
        "invalid_header",
        "http_500",
        "http_502",
        "http_503",
        "http_504",
        "http_403",
        "http_404",
        "http_429",
        "non_idempotent",
        "off",
    }
)
_RETRY_EXPRESSION = re.compile(r"^\s*IsNetworkError\(\)\s*&&\s*Attempts\(\)\s*(<=|<)\s*(\d+)\s*$")
_SAMESITE = {"none": "None", "lax": "Lax", "strict": "Strict"}
MAX_TRIES = 10


@dataclass(frozen=True, slots=True)
class AnnotationOrigin:
    """Where annotations were read from: the Service or the Ingress."""

    ref: ObjectRef
    annotations: Mapping[str, str]
    locations: Mapping[str, Location]
    location: Location | None


class BackendPolicyParser:
    def __init__(self, ingress: Ingress, service: Service | None) -> None:
        self.ingress = AnnotationOrigin(
            ingress.ref, ingress.meta.annotations, ingress.meta.annotation_locations, ingress.meta.location
        )
        self.service = (
            AnnotationOrigin(
                service.ref,
                service.meta.annotations,
                service.meta.annotation_locations,
                service.meta.location,
            )
            if service is not None
            else None
        )
        self.diagnostics: list[Diagnostic] = []
        self.errors: list[str] = []
        self.sources: list[str] = []

    def raw(self, key: str) -> tuple[str, AnnotationOrigin] | None:
        """The value of `key` and where it came from; Traefik keys from the Service first."""
        origins = [self.ingress]
        if key in _TRAEFIK_SERVICE_KEYS and self.service is not None:
            origins.insert(0, self.service)
        for origin in origins:
            value = origin.annotations.get(key)
            if value is not None:
                if key not in self.sources:
                    self.sources.append(key)
                return value, origin
        return None

    def report(self, key: str, origin: AnnotationOrigin, message: str, hint: str, severity: Severity) -> None:
        self.diagnostics.append(
            Diagnostic(
                code=codes.BAD_ANNOTATION,
                severity=severity,
                message=f"{origin.ref}: annotation {key}: {message}",
                location=origin.locations.get(key) or origin.location,
                hint=hint,
                object=origin.ref,
            )
        )

    def bad(self, key: str, origin: AnnotationOrigin, message: str, hint: str) -> None:
        """A value that cannot be parsed: an error, and the route answers 503."""
        self.errors.append(key)
        self.report(key, origin, f"{message}; the route answers 503 until it is fixed", hint, Severity.ERROR)

    def text(self, key: str) -> tuple[str, AnnotationOrigin] | None:
        found = self.raw(key)
        if found is None:
            return None
        value, origin = found
        if origin is self.service and control_characters(value, multi_line=key in (BUFFERING, ERROR_PAGES)):
            # Ingress values are checked with the other known keys (IC219); a Service's here.
            self.bad(key, origin, "holds control characters", "Write the value on one line.")
            return None
        return value.strip(), origin

    def boolean(self, key: str) -> bool | None:
        found = self.text(key)
        if found is None:
            return None
        value, origin = found
        parsed = parse_boolean(value, lenient=True)
        if parsed is None:
            self.bad(key, origin, f"{value!r} is not a boolean", 'Write "true" or "false".')
        return parsed

    def integer(self, key: str, low: int, high: int, what: str) -> int | None:
        found = self.text(key)
        if found is None:
            return None
        value, origin = found
        try:
            number = int(value.removesuffix("s") if what == "seconds" else value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            self.bad(
                key,
                origin,
                f"{value!r} is not a whole number of {what} ({low}-{high})",
                f"Write e.g. {max(low, 1)}.",
            )
            return None
        return number

    def cookie_name(self, key: str) -> str | None:
        found = self.text(key)
        if found is None:
            return None
        value, origin = found
        if not _TOKEN.match(value) or len(value) > 128:
            self.bad(key, origin, f"{value!r} is not a cookie name", "Use letters, digits and - _ . only.")
            return None
        return value

    def same_site(self, key: str) -> str | None:
        found = self.text(key)
        if found is None:
            return None
        value, origin = found
        mapped = _SAMESITE.get(value.lower())
        if mapped is None:
            self.bad(key, origin, f"{value!r} is not a SameSite value", "Write None, Lax or Strict.")
        return mapped

    # ------------------------------------------------------------ behaviours

    def sticky(self, service: Service | None) -> StickyCookie | None:
        traefik = any(
            v
            for v in (
                self.boolean(AFFINITY),
                self.boolean(STICKY),
                self.boolean(STICKY_17),
                self.boolean(STICKINESS_17),
            )
        )
        nginx = False
        found = self.text(N_AFFINITY)
        if found is not None:
            if found[0].lower() == "cookie":
                nginx = True
            else:
                self.bad(
                    N_AFFINITY,
                    found[1],
                    f"{found[0]!r} is not supported",
                    'ingress-nginx knows only "cookie".',
                )
        mode = self.text(N_AFFINITY_MODE)
        if mode is not None and mode[0].lower() not in ("balanced", "persistent"):
            self.bad(
                N_AFFINITY_MODE,
                mode[1],
                f"{mode[0]!r} is not an affinity mode",
                "Write balanced or persistent.",
            )
        names = [
            self.cookie_name(k)
            for k in (STICKY_NAME, SESSION_COOKIE_NAME, STICKINESS_COOKIE_17, N_COOKIE_NAME)
        ]
        secure = [self.boolean(k) for k in (STICKY_SECURE, N_COOKIE_SECURE)]
        http_only = self.boolean(STICKY_HTTPONLY)
        same_site = [self.same_site(k) for k in (STICKY_SAMESITE, N_COOKIE_SAMESITE)]
        max_age = [self.integer(k, 0, 10 * 365 * 86400, "seconds") for k in (STICKY_MAXAGE, N_COOKIE_MAX_AGE)]
        expires = self.integer(N_COOKIE_EXPIRES, 0, 10 * 365 * 86400, "seconds")
        path_found = self.text(N_COOKIE_PATH)
        path = "/"
        if path_found is not None:
            if not path_found[0].startswith("/") or ";" in path_found[0] or " " in path_found[0]:
                self.bad(
                    N_COOKIE_PATH,
                    path_found[1],
                    f"{path_found[0]!r} is not a cookie path",
                    "Write e.g. /app.",
                )
            else:
                path = path_found[0]
        if not traefik and not nginx:
            return None
        default = "INGRESSCOOKIE" if nginx and not traefik else _default_cookie_name(service)
        return StickyCookie(
            name=next((n for n in names if n), default),
            path=path,
            secure=any(s for s in secure),
            http_only=bool(http_only),
            same_site=next((s for s in same_site if s), ""),
            max_age=next((m for m in max_age if m), None),
            expires=expires or None,
        )

    def method(self) -> tuple[BalanceMethod, HashKey | None]:
        method = BalanceMethod.ROUND_ROBIN
        for key in (LB_METHOD, LB_METHOD_17):
            found = self.text(key)
            if found is None:
                continue
            value = found[0].lower()
            if value == "drr":
                method = BalanceMethod.LEAST_LATENCY
            elif value != "wrr":
                self.bad(key, found[1], f"{found[0]!r} is not a balancing method", "Write wrr or drr.")
        found = self.text(N_LOAD_BALANCE)
        if found is not None:
            value = found[0].lower()
            if value == "ewma":
                method = BalanceMethod.LEAST_LATENCY
            elif value != "round_robin":
                self.bad(
                    N_LOAD_BALANCE, found[1], f"{found[0]!r} is not supported", "Write round_robin or ewma."
                )
        return method, self.hash_key()

    def hash_key(self) -> HashKey | None:
        found = self.text(N_HASH_BY)
        if found is None:
            return None
        template, origin = found
        parts: list[tuple[str, str]] = []
        pos = 0
        for match in _VARIABLE.finditer(template):
            if match.start() > pos:
                parts.append(("text", template[pos : match.start()]))
            name = match.group(1).strip("{}")
            if name not in _HASH_VARIABLES and not name.startswith(_HASH_PREFIXES):
                self.report(
                    N_HASH_BY,
                    origin,
                    f"the nginx variable ${name} is not supported by ingressctl; the route is served "
                    "without hashing (round robin)",
                    "Use $request_uri, $uri, $remote_addr, $binary_remote_addr, $host, $args, "
                    "$http_NAME, $cookie_NAME or $arg_NAME.",
                    Severity.WARNING,
                )
                return None
            parts.append(("var", name))
            pos = match.end()
        if pos < len(template):
            parts.append(("text", template[pos:]))
        if not any(kind == "var" for kind, _ in parts):
            self.bad(N_HASH_BY, origin, f"{template!r} names no variable", "Write e.g. $request_uri.")
            return None
        return HashKey(template, tuple(parts))

    def breaker(self) -> CircuitBreaker | None:
        out: CircuitBreaker | None = None
        for key in (BREAKER, BREAKER_17):
            found = self.text(key)
            if found is None:
                continue
            text, origin = found
            try:
                condition = parse_breaker_expression(text)
            except ExpressionError as exc:
                self.bad(
                    key,
                    origin,
                    f"{text!r} is not a circuit-breaker expression: {exc}",
                    "Write e.g. 'NetworkErrorRatio() > 0.5 || LatencyAtQuantileMS(50.0) > 100'.",
                )
                continue
            out = out or CircuitBreaker(text, condition)
        return out

    def body_size(self) -> int | None:
        found = self.text(N_BODY_SIZE)
        if found is None:
            return None
        value, origin = found
        match = _SIZE.match(value)
        if match is None:
            self.bad(N_BODY_SIZE, origin, f"{value!r} is not a size", "Write e.g. 8m, 512k or 0 (no limit).")
            return None
        number = int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2).lower()]
        return number or None

    def seconds(self, key: str) -> float | None:
        number = self.integer(key, 1, 86400, "seconds")
        return float(number) if number is not None else None

    def next_upstream(self) -> tuple[tuple[str, ...], int | None]:
        conditions: tuple[str, ...] = ()
        found = self.text(N_NEXT_UPSTREAM)
        if found is not None:
            words = tuple(found[0].split())
            wrong = [w for w in words if w not in _NEXT_UPSTREAM]
            if not words or wrong:
                self.bad(
                    N_NEXT_UPSTREAM,
                    found[1],
                    f"{', '.join(wrong) or 'nothing'} is not a proxy-next-upstream condition",
                    "Write e.g. 'error timeout http_502' or 'off'.",
                )
            else:
                conditions = words
        tries = self.integer(N_NEXT_UPSTREAM_TRIES, 0, MAX_TRIES, "tries")
        if tries == 0:  # ingress-nginx: 0 means no limit; bounded here by the endpoint count
            tries = MAX_TRIES
        if tries is not None and not conditions:
            conditions = ("error", "timeout")  # ingress-nginx's default proxy-next-upstream
        return conditions, tries

    def buffering(self, policy: BackendPolicy) -> BackendPolicy:
        found = self.text(BUFFERING)
        if found is None:
            return policy
        text, origin = found
        hint = "Write YAML such as 'maxRequestBodyBytes: 10485760' (one key per line)."
        import yaml  # only this annotation needs PyYAML; validate starts without it

        try:
            loaded = yaml.safe_load(text) if len(text) < 4096 else None
        except yaml.YAMLError:
            loaded = None
        if not isinstance(loaded, dict):
            self.bad(BUFFERING, origin, "is not a YAML mapping of buffering settings", hint)
            return policy
        values: dict[str, int] = {}
        retry: int | None = None
        for raw_key, raw_value in loaded.items():
            name = str(raw_key).lower()
            if name == "retryexpression":
                match = _RETRY_EXPRESSION.match(str(raw_value))
                if match is None:
                    self.bad(
                        BUFFERING,
                        origin,
                        f"retryExpression {raw_value!r} is not supported",
                        "Write 'IsNetworkError() && Attempts() <= 2' (the form ingressctl understands).",
                    )
                    return policy
                limit = int(match.group(2))
                # Attempts() counts the attempts made so far: "<= 2" allows a third.
                retry = min(MAX_TRIES, max(1, limit + 1 if match.group(1) == "<=" else limit))
                continue
            if name not in (
                "maxrequestbodybytes",
                "memrequestbodybytes",
                "maxresponsebodybytes",
                "memresponsebodybytes",
            ):
                self.bad(BUFFERING, origin, f"unknown buffering setting {raw_key!r}", hint)
                return policy
            if isinstance(raw_value, bool) or not isinstance(raw_value, int) or raw_value < 0:
                self.bad(BUFFERING, origin, f"{raw_key} must be a number of bytes, not {raw_value!r}", hint)
                return policy
            values[name] = raw_value
        limits = [n for n in (values.get("maxrequestbodybytes"), policy.max_request_body) if n]
        if retry is not None and not policy.retry_on:
            # IsNetworkError(): a failed connection or a broken answer, not an HTTP status.
            policy = replace(policy, tries=policy.tries or retry, retry_on=("error",))
        return replace(
            policy,
            # Both spellings given: the stricter limit.
            max_request_body=min(limits) if limits else None,
            max_response_body=values.get("maxresponsebodybytes") or None,
        )

    def flush_interval(self) -> int | None:
        found = self.text(FLUSH_INTERVAL)
        if found is None:
            return None
        value, origin = found
        match = _DURATION.match(value)
        if match is None:
            self.bad(FLUSH_INTERVAL, origin, f"{value!r} is not a duration", "Write e.g. 100ms or 1s.")
            return None
        factor = {None: 1.0, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}[match.group(2)]
        return int(float(match.group(1)) * factor)

    def on_off(self, key: str) -> bool | None:
        return self.boolean(key)


def _default_cookie_name(service: Service | None) -> str:
    """Traefik's default: "_" and a short hash of the backend's name (stable across restarts)."""
    import hashlib

    label = f"{service.meta.namespace}/{service.meta.name}" if service is not None else "backend"
    return "_" + hashlib.sha1(label.encode()).hexdigest()[:6]


def parse_backend_policy(
    ingress: Ingress, service: Service | None, resolve: ServiceResolver | None = None
) -> tuple[BackendPolicy, list[Diagnostic]]:
    """The backend policy of `ingress`'s routes to `service`, and findings for bad values."""
    parser = BackendPolicyParser(ingress, service)
    method, hash_key = parser.method()
    retry_on, tries = parser.next_upstream()
    policy = BackendPolicy(
        method=method,
        sticky=parser.sticky(service),
        hash_key=hash_key,
        breaker=parser.breaker(),
        max_request_body=parser.body_size(),
        connect_timeout=parser.seconds(N_CONNECT_TIMEOUT),
        read_timeout=parser.seconds(N_READ_TIMEOUT),
        send_timeout=parser.seconds(N_SEND_TIMEOUT),
        tries=tries,
        retry_on=retry_on,
        flush_interval_ms=parser.flush_interval(),
        request_buffering=parser.on_off(N_REQUEST_BUFFERING),
        response_buffering=parser.on_off(N_BUFFERING),
        error_pages=error_pages(parser),
        fallback_service=fallback_service(parser),
    )
    policy = parser.buffering(policy)
    if policy.sticky is not None and policy.hash_key is not None:
        found = parser.raw(N_HASH_BY)
        assert found is not None
        parser.report(
            N_HASH_BY,
            found[1],
            "sticky sessions decide first; the hash picks the endpoint of a client without the cookie",
            "Use one of affinity and upstream-hash-by.",
            Severity.INFO,
        )
    if resolve is not None and (policy.error_pages or policy.fallback_service):
        policy = resolved(policy, resolve, parser)
    errors = sorted(set(parser.errors))
    if errors:
        policy = replace(policy, invalid="bad value in " + ", ".join(errors))
    return replace(policy, sources=tuple(parser.sources)), parser.diagnostics

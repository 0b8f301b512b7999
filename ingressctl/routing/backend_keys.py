"""The backend-side annotation keys and their descriptions (the README's table is generated from
these): sticky sessions, balancing, circuit breaker, buffering and limits, timeouts, retries, error
pages. Parsed by ingressctl.routing.annotations_backend."""

from __future__ import annotations

T = "traefik.ingress.kubernetes.io/"
N = "nginx.ingress.kubernetes.io/"

AFFINITY = T + "affinity"
SESSION_COOKIE_NAME = T + "session-cookie-name"
STICKY_17 = "traefik.backend.loadbalancer.sticky"
STICKINESS_17 = "traefik.backend.loadbalancer.stickiness"
STICKINESS_COOKIE_17 = "traefik.backend.loadbalancer.stickiness.cookieName"
STICKY = T + "service.sticky.cookie"
STICKY_NAME = T + "service.sticky.cookie.name"
STICKY_SECURE = T + "service.sticky.cookie.secure"
STICKY_HTTPONLY = T + "service.sticky.cookie.httponly"
STICKY_SAMESITE = T + "service.sticky.cookie.samesite"
STICKY_MAXAGE = T + "service.sticky.cookie.maxage"
LB_METHOD = T + "load-balancer-method"
LB_METHOD_17 = "traefik.backend.loadbalancer.method"
BREAKER = T + "circuit-breaker-expression"
BREAKER_17 = "traefik.backend.circuitbreaker.expression"
BUFFERING = T + "buffering"
FLUSH_INTERVAL = T + "responseforwarding-flushinterval"
ERROR_PAGES = T + "error-pages"

N_AFFINITY = N + "affinity"
N_AFFINITY_MODE = N + "affinity-mode"
N_COOKIE_NAME = N + "session-cookie-name"
N_COOKIE_PATH = N + "session-cookie-path"
N_COOKIE_MAX_AGE = N + "session-cookie-max-age"
N_COOKIE_EXPIRES = N + "session-cookie-expires"
N_COOKIE_SECURE = N + "session-cookie-secure"
N_COOKIE_SAMESITE = N + "session-cookie-samesite"
N_LOAD_BALANCE = N + "load-balance"
N_HASH_BY = N + "upstream-hash-by"
N_BODY_SIZE = N + "proxy-body-size"
N_BUFFERING = N + "proxy-buffering"
N_REQUEST_BUFFERING = N + "proxy-request-buffering"
N_CONNECT_TIMEOUT = N + "proxy-connect-timeout"
N_READ_TIMEOUT = N + "proxy-read-timeout"
N_SEND_TIMEOUT = N + "proxy-send-timeout"
N_NEXT_UPSTREAM = N + "proxy-next-upstream"
N_NEXT_UPSTREAM_TRIES = N + "proxy-next-upstream-tries"
N_CUSTOM_ERRORS = N + "custom-http-errors"
N_DEFAULT_BACKEND = N + "default-backend"

_SERVICE_SIDE = "Traefik reads it from the Service; ingressctl from the Service, then the Ingress. "

KNOWN_BACKEND_ANNOTATIONS: dict[str, str] = {
    AFFINITY: _SERVICE_SIDE + "true: sticky sessions, a cookie pins each client to one endpoint "
    "(its value a hash, never the address); a dead or removed endpoint re-pins.",
    SESSION_COOKIE_NAME: "Name of the sticky-session cookie (default: _ and a hash of the Service).",
    STICKY_17: "Traefik 1.x spelling of affinity (true: sticky sessions).",
    STICKINESS_17: "Traefik 1.x spelling of affinity (true: sticky sessions).",
    STICKINESS_COOKIE_17: "Traefik 1.x spelling of session-cookie-name.",
    STICKY: "Traefik v2/v3: true: sticky sessions (a cookie pins each client to one endpoint).",
    STICKY_NAME: "Traefik v2/v3: name of the sticky-session cookie.",
    STICKY_SECURE: "Traefik v2/v3: true: the sticky cookie is sent over HTTPS only (Secure).",
    STICKY_HTTPONLY: "Traefik v2/v3: true: the sticky cookie is hidden from scripts (HttpOnly).",
    STICKY_SAMESITE: "Traefik v2/v3: SameSite of the sticky cookie: none, lax or strict.",
    STICKY_MAXAGE: "Traefik v3: Max-Age of the sticky cookie in seconds (0 or unset: a session cookie).",
    LB_METHOD: "wrr (smooth weighted round robin, the default) or drr: the endpoint with the fewest "
    "requests in flight times its moving-average latency (ingressctl's take on Traefik's dynamic "
    "rebalancer).",
    LB_METHOD_17: "Traefik 1.x spelling of load-balancer-method (wrr or drr).",
    BREAKER: "Circuit breaker, e.g. 'NetworkErrorRatio() > 0.5', "
    "'ResponseCodeRatio(500, 600, 0, 600) > 0.5', 'LatencyAtQuantileMS(50.0) > 50', combined with && "
    "and ||, over the last 10 s: when it holds the route "
    "answers 503 at once for 10 s, then lets probes through until it holds no more.",
    BREAKER_17: "Traefik 1.x spelling of circuit-breaker-expression.",
    BUFFERING: "YAML: maxRequestBodyBytes (larger bodies: 413), maxResponseBodyBytes (a larger "
    "Content-Length: 502), "
    "retryExpression ('IsNetworkError() && Attempts() <= N': tries per request); memRequestBodyBytes and "
    "memResponseBodyBytes are accepted (bodies stream, nothing is spooled to disk).",
    FLUSH_INTERVAL: "Flush interval of streamed responses (e.g. 100ms); accepted and shown: ingressctl "
    "flushes every chunk as it arrives.",
    ERROR_PAGES: "YAML: name: {status: ['404', '500-599'], backend: SERVICE[:PORT], query: /{status}.html}; "
    "an answer with such a status gets the page asked of that Service (same namespace), the status kept.",
    N_CUSTOM_ERRORS: "ingress-nginx: statuses (e.g. 404,503) whose answers are replaced by the page of "
    "default-backend (asked for / with X-Code, X-Format, X-Original-URI, ...), the status kept.",
    N_DEFAULT_BACKEND: "ingress-nginx: Service (same namespace, first port) that serves the routes while "
    "their own Service has no usable endpoint, and the pages of custom-http-errors.",
    N_AFFINITY: "ingress-nginx: cookie: sticky sessions (the only affinity type).",
    N_AFFINITY_MODE: "ingress-nginx: balanced or persistent; both pin until the endpoint goes away "
    "(ingressctl does not move sessions when endpoints are added).",
    N_COOKIE_NAME: "ingress-nginx: name of the sticky-session cookie (default INGRESSCOOKIE).",
    N_COOKIE_PATH: "ingress-nginx: Path of the sticky cookie (default /).",
    N_COOKIE_MAX_AGE: "ingress-nginx: Max-Age of the sticky cookie in seconds.",
    N_COOKIE_EXPIRES: "ingress-nginx: lifetime of the sticky cookie in seconds, sent as an Expires date.",
    N_COOKIE_SECURE: "ingress-nginx: true: the sticky cookie carries Secure.",
    N_COOKIE_SAMESITE: "ingress-nginx: SameSite of the sticky cookie: None, Lax or Strict.",
    N_LOAD_BALANCE: "ingress-nginx: round_robin (default) or ewma (the same least-latency choice as "
    "Traefik's drr).",
    N_HASH_BY: "ingress-nginx: consistent hashing on a request value: $request_uri, $uri, $remote_addr, "
    "$binary_remote_addr, $host, $http_NAME, $cookie_NAME, $arg_NAME (and text between them).",
    N_BODY_SIZE: "ingress-nginx: largest request body (e.g. 8m, 512k; 0: no limit); larger: 413.",
    N_BUFFERING: "ingress-nginx: on/off; accepted and shown: responses always stream.",
    N_REQUEST_BUFFERING: "ingress-nginx: on/off; accepted and shown: request bodies always stream.",
    N_CONNECT_TIMEOUT: "ingress-nginx: seconds to connect to an endpoint (then the next one is tried).",
    N_READ_TIMEOUT: "ingress-nginx: seconds to wait for the response head, and the longest silence while "
    "it streams; 504 beyond.",
    N_SEND_TIMEOUT: "ingress-nginx: longest silence, in seconds, while the request body is sent.",
    N_NEXT_UPSTREAM: "ingress-nginx: when to try the next endpoint: error, timeout, http_502, http_503, "
    "http_504, non_idempotent, off (space-separated).",
    N_NEXT_UPSTREAM_TRIES: "ingress-nginx: how many endpoints one request may try (default 3 with "
    "proxy-next-upstream, else 2).",
}

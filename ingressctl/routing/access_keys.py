"""The access-control and traffic-limit annotation keys, with their user documentation (the README's
annotation table is generated from KNOWN_ACCESS), and which chain stage each one guards.

The parsers are by family: annotations_forward_auth, annotations_basic_auth, annotations_limits;
annotations_access joins them into one `AccessControls`.
"""

from __future__ import annotations

T1 = "ingress.kubernetes.io/"
TRAEFIK = "traefik.ingress.kubernetes.io/"
NGINX = "nginx.ingress.kubernetes.io/"

AUTH_TYPE = T1 + "auth-type"
AUTH_URL = T1 + "auth-url"
AUTH_RESPONSE_HEADERS = T1 + "auth-response-headers"
AUTH_TRUST_HEADERS = T1 + "auth-trust-headers"
AUTH_HEADER_FIELD = T1 + "auth-header-field"
AUTH_REMOVE_HEADER = T1 + "auth-remove-header"
AUTH_TLS_SECRET = T1 + "auth-tls-secret"
AUTH_TLS_INSECURE = T1 + "auth-tls-insecure"
WHITELIST_XFF = T1 + "whitelist-x-forwarded-for"
TRAEFIK_WHITELIST_XFF = TRAEFIK + "whitelist-x-forwarded-for"
RATE_LIMIT = TRAEFIK + "rate-limit"

NGINX_AUTH_URL = NGINX + "auth-url"
NGINX_AUTH_METHOD = NGINX + "auth-method"
NGINX_AUTH_SIGNIN = NGINX + "auth-signin"
NGINX_AUTH_SIGNIN_PARAM = NGINX + "auth-signin-redirect-param"
NGINX_AUTH_RESPONSE_HEADERS = NGINX + "auth-response-headers"
NGINX_AUTH_REQUEST_REDIRECT = NGINX + "auth-request-redirect"
NGINX_AUTH_TYPE = NGINX + "auth-type"
NGINX_AUTH_SECRET = NGINX + "auth-secret"
NGINX_AUTH_SECRET_TYPE = NGINX + "auth-secret-type"
NGINX_AUTH_REALM = NGINX + "auth-realm"
NGINX_WHITELIST = NGINX + "whitelist-source-range"
NGINX_ALLOWLIST = NGINX + "allowlist-source-range"
NGINX_DENYLIST = NGINX + "denylist-source-range"
NGINX_LIMIT_RPS = NGINX + "limit-rps"
NGINX_LIMIT_RPM = NGINX + "limit-rpm"
NGINX_LIMIT_BURST = NGINX + "limit-burst-multiplier"
NGINX_LIMIT_CONNECTIONS = NGINX + "limit-connections"
NGINX_LIMIT_WHITELIST = NGINX + "limit-whitelist"

# The allow-list keys of ingress-nginx join the existing allow-list (routing/annotations.py).
NGINX_ALLOW_KEYS = (NGINX_WHITELIST, NGINX_ALLOWLIST)
ALLOW_LIST_KEYS = (T1 + "whitelist-source-range", TRAEFIK + "whitelist-source-range", *NGINX_ALLOW_KEYS)

KNOWN_ACCESS: dict[str, str] = {
    AUTH_URL: "With auth-type 'forward': URL of the forward-auth service. A 2xx answer lets the request "
    "through; any other answer goes back to the client as it is; no answer (down, timeout) is a 503.",
    AUTH_RESPONSE_HEADERS: "With auth-type 'forward': comma-separated headers copied from the auth "
    "service's answer onto the request sent to the backend.",
    AUTH_TRUST_HEADERS: "With auth-type 'forward': true passes the client's X-Forwarded-* headers to the "
    "auth service; false (default) sends the proxy's own.",
    AUTH_TLS_SECRET: "With auth-type 'forward' and an https auth-url: Secret (same namespace) whose tls.crt "
    "and tls.key are the client certificate the proxy presents to the auth service. Missing, unreadable, "
    "or a key that does not match the certificate: 503.",
    AUTH_TLS_INSECURE: "With auth-type 'forward' and an https auth-url: true skips the verification of the "
    "auth service's certificate (default: verified against the system's CAs, SNI = the URL's host).",
    AUTH_HEADER_FIELD: "Header that carries the authenticated (basic-auth) user to the backend, e.g. "
    "X-WebAuth-User.",
    AUTH_REMOVE_HEADER: "true: the Authorization header is removed before the request goes to the backend.",
    WHITELIST_XFF: "true: the source allow-list judges the client address a trusted proxy "
    "(forwardedHeaders.trustedIPs) put in X-Forwarded-For (the rightmost untrusted one), not the proxy's "
    "own address.",
    TRAEFIK_WHITELIST_XFF: "Same as ingress.kubernetes.io/whitelist-x-forwarded-for.",
    RATE_LIMIT: "Traefik 1.7 rate limit (YAML): extractorFunc client.ip, request.host or "
    "request.header.NAME, and rateset entries with period, average and burst. Token buckets per source; "
    "beyond the rate: 429 with Retry-After.",
    NGINX_AUTH_URL: "ingress-nginx forward auth: 2xx lets the request through, 401 and 403 go back to the "
    "client (401 redirects to auth-signin when set), other answers are 500; no answer is a 503.",
    NGINX_AUTH_METHOD: "HTTP method of the auth request (default GET).",
    NGINX_AUTH_SIGNIN: "Where a 401 of the auth service redirects the browser (302), with the original "
    "URL in the rd parameter.",
    NGINX_AUTH_SIGNIN_PARAM: "Name of the auth-signin parameter that carries the original URL (default rd).",
    NGINX_AUTH_RESPONSE_HEADERS: "Comma-separated headers copied from the auth answer onto the request "
    "sent to the backend.",
    NGINX_AUTH_REQUEST_REDIRECT: "Value of X-Auth-Request-Redirect sent to the auth service (default: the "
    "request URI).",
    NGINX_AUTH_TYPE: "basic (htpasswd users from auth-secret); digest is not supported and fails closed "
    "(503).",
    NGINX_AUTH_SECRET: "Secret (name or namespace/name) holding the basic-auth users.",
    NGINX_AUTH_SECRET_TYPE: "auth-file (default: key 'auth' holds htpasswd lines) or auth-map (each key "
    "is a user, its value the hash).",
    NGINX_AUTH_REALM: "Realm shown in the basic-auth prompt.",
    NGINX_WHITELIST: "Comma-separated CIDRs allowed to reach the routes; others get 403.",
    NGINX_ALLOWLIST: "Comma-separated CIDRs allowed to reach the routes; others get 403.",
    NGINX_DENYLIST: "Comma-separated CIDRs refused (403) before any other check.",
    NGINX_LIMIT_RPS: "Requests per second per client address; bursts of rps x limit-burst-multiplier; "
    "beyond: 503 (ingress-nginx's default status).",
    NGINX_LIMIT_RPM: "Requests per minute per client address; bursts of rpm x limit-burst-multiplier; "
    "beyond: 503.",
    NGINX_LIMIT_BURST: "Burst size as a multiple of limit-rps/limit-rpm (default 5).",
    NGINX_LIMIT_CONNECTIONS: "Requests in progress at once per client address; beyond: 503.",
    NGINX_LIMIT_WHITELIST: "Comma-separated CIDRs exempt from limit-rps, limit-rpm and limit-connections.",
}

MULTI_LINE_ACCESS = frozenset(
    {RATE_LIMIT, NGINX_DENYLIST, NGINX_LIMIT_WHITELIST, NGINX_WHITELIST, NGINX_ALLOWLIST}
)

# The chain stage that answers 503 in place of the setting when a key's value cannot be honoured.
GUARDS: dict[str, str] = {
    **dict.fromkeys(
        (
            AUTH_TYPE,
            AUTH_URL,
            AUTH_RESPONSE_HEADERS,
            AUTH_TRUST_HEADERS,
            AUTH_TLS_SECRET,
            AUTH_TLS_INSECURE,
            NGINX_AUTH_URL,
            NGINX_AUTH_METHOD,
            NGINX_AUTH_SIGNIN,
            NGINX_AUTH_SIGNIN_PARAM,
            NGINX_AUTH_RESPONSE_HEADERS,
        ),
        "forward-auth",
    ),
    AUTH_HEADER_FIELD: "basic-auth",
    AUTH_REMOVE_HEADER: "basic-auth",
    NGINX_DENYLIST: "ip-deny-list",
    WHITELIST_XFF: "ip-allow-list",
    TRAEFIK_WHITELIST_XFF: "ip-allow-list",
    **dict.fromkeys(
        (RATE_LIMIT, NGINX_LIMIT_RPS, NGINX_LIMIT_RPM, NGINX_LIMIT_BURST, NGINX_LIMIT_WHITELIST), "rate-limit"
    ),
    NGINX_LIMIT_CONNECTIONS: "in-flight-limit",
}

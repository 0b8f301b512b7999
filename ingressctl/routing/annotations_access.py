"""Access control and traffic limit annotations: forward auth, deny-lists, the X-Forwarded-For
allow-list, ingress-nginx basic auth, rate limits and in-flight limits (Traefik 1.7 and
ingress-nginx spellings; one implementation each, see ingressctl.model.access), joined into one
`AccessControls`. The keys are in access_keys; each family parses in its own module.

Every value protects something: a value that cannot be honoured is an error at its line and the
routes of the Ingress answer 503 (a `fail-closed` stage in the chain), never served without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ingressctl.model import BasicAuth, Diagnostic, Ingress
from ingressctl.model.access_controls import AccessControls
from ingressctl.routing.access_keys import (
    ALLOW_LIST_KEYS,
    AUTH_TYPE,
    KNOWN_ACCESS,
    NGINX_DENYLIST,
    NGINX_LIMIT_RPM,
    NGINX_LIMIT_RPS,
    TRAEFIK_WHITELIST_XFF,
    WHITELIST_XFF,
)

if TYPE_CHECKING:
    from ingressctl.routing.access_reader import SecretLookup


@dataclass(slots=True)
class AccessAnnotations:
    """What this family found on one Ingress."""

    controls: AccessControls = field(default_factory=AccessControls)
    basic_auth: BasicAuth | None = None  # ingress-nginx's spelling of basic auth
    auth_error: str = ""  # nginx basic auth configured but unusable: the routes answer 503
    diagnostics: list[Diagnostic] = field(default_factory=list)


def parse_access(
    ingress: Ingress, lookup_secret: SecretLookup, secrets_in_input: bool = True
) -> AccessAnnotations:
    """This family's annotations on `ingress`, typed; bad values are errors and fail closed.

    `lookup_secret`: (namespace, name) -> Secret | None, as routing.annotations.SecretLookup.
    """
    annotations = ingress.meta.annotations
    if not any(key in KNOWN_ACCESS or key == AUTH_TYPE for key in annotations):
        return AccessAnnotations()
    # The readers (and the model's limit and forward-auth dataclasses) load with the first Ingress
    # of this family: validating a plain Ingress never builds them (start-up time, issue 18).
    from ingressctl.routing.access_reader import AccessReader
    from ingressctl.routing.annotations_basic_auth import nginx_basic_auth
    from ingressctl.routing.annotations_forward_auth import auth_forwarding, forward_auth
    from ingressctl.routing.annotations_limits import nginx_limits, traefik_rate_limit

    r = AccessReader(ingress, lookup_secret, secrets_in_input)
    forward = forward_auth(r)
    user_header, remove_authorization = auth_forwarding(r)
    deny = r.cidrs(NGINX_DENYLIST) or ()
    xff = bool(r.boolean(WHITELIST_XFF)) or bool(r.boolean(TRAEFIK_WHITELIST_XFF))
    if xff and not any(k in annotations for k in ALLOW_LIST_KEYS):
        key = WHITELIST_XFF if WHITELIST_XFF in annotations else TRAEFIK_WHITELIST_XFF
        r.warn(key, "has no effect without a source allow-list", "Add whitelist-source-range.")
    basic, auth_error = nginx_basic_auth(r)
    traefik_rate = traefik_rate_limit(r)
    nginx_rate, in_flight = nginx_limits(r)
    if traefik_rate is not None and nginx_rate is not None:
        r.warn(
            NGINX_LIMIT_RPS if NGINX_LIMIT_RPS in annotations else NGINX_LIMIT_RPM,
            "both Traefik's rate-limit and ingress-nginx's limits are set; Traefik's is used",
            "Keep one of the two spellings.",
        )
    controls = AccessControls(
        forward_auth=forward,
        deny_source_ranges=deny,
        allow_forwarded_for=xff,
        rate_limit=traefik_rate or nginx_rate,
        in_flight=in_flight,
        auth_user_header=user_header,
        remove_authorization=remove_authorization,
        failures=tuple(r.failures),
    )
    return AccessAnnotations(controls, basic, auth_error, r.diagnostics)

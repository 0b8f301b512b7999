"""Taking over from ingress-nginx: its class, its controller name, and its rule for class-less Ingresses.

`serve --ingress-class nginx --controller-name k8s.io/ingress-nginx` claims what the ingress-nginx
Deployment claimed (the `kubernetes.io/ingress.class: nginx` annotation, `ingressClassName: nginx`,
and any IngressClass whose spec.controller is `k8s.io/ingress-nginx`), so a cluster switches by
replacing the controller Deployment only. Ingresses without a class follow ingress-nginx's flag
`--watch-ingress-without-class` (default false there: not served unless their IngressClass is the
default one); ingressctl's own default, for its own controller name, stays "served".
"""

from __future__ import annotations

from ingressctl.model import UsageError
from ingressctl.routing.annotation_values import parse_boolean

INGRESS_NGINX_CONTROLLER = "k8s.io/ingress-nginx"
INGRESS_NGINX_CLASS = "nginx"


def parse_watch_without_class(raw: str | None) -> bool | None:
    """The value of --watch-ingress-without-class (ingress-nginx writes `=true`); None when not given."""
    if raw is None:
        return None
    value = parse_boolean(raw, lenient=True)
    if value is not None:
        return value
    raise UsageError(f"--watch-ingress-without-class {raw!r}: use true or false")


def serve_unclassed(controller_name: str, watch_without_class: bool | None) -> bool:
    """Whether Ingresses without any class are served: as the flag says; without it, not when taking
    over from ingress-nginx (its default), else yes (ingressctl's default)."""
    if watch_without_class is not None:
        return watch_without_class
    return controller_name != INGRESS_NGINX_CONTROLLER

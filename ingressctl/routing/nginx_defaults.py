"""ingress-nginx's defaults that ingressctl follows when it takes over from ingress-nginx.

ssl-redirect: ingress-nginx redirects plain-HTTP requests for hosts with TLS to HTTPS (308) unless an
Ingress says `nginx.ingress.kubernetes.io/ssl-redirect: "false"` (its annotations page, "Server-side
HTTPS enforcement through redirect": "By default the controller redirects (308) to HTTPS if TLS is
enabled for that ingress"). ingressctl's own default is to redirect only when told. In takeover mode
(`--controller-name k8s.io/ingress-nginx` or `--ingress-class nginx`) the Ingresses of that class
keep ingress-nginx's default, so a cluster switching controllers keeps its redirects; Ingresses of
Traefik's class (also served) keep Traefik's default.
"""

from __future__ import annotations

import dataclasses

from ingressctl.model import Ingress
from ingressctl.routing.annotations import CLASS, IngressAnnotations
from ingressctl.routing.annotations_rewrites import NGINX_FORCE_SSL_REDIRECT, NGINX_SSL_REDIRECT
from ingressctl.routing.options import CompileOptions
from ingressctl.routing.takeover import INGRESS_NGINX_CLASS, INGRESS_NGINX_CONTROLLER

DEFAULT_SSL_REDIRECT = "ingress-nginx default ssl-redirect (takeover mode)"


def takes_over(options: CompileOptions) -> bool:
    """ingressctl stands in for ingress-nginx: its controller name or its class."""
    return options.controller_name == INGRESS_NGINX_CONTROLLER or options.ingress_class == INGRESS_NGINX_CLASS


def default_ssl_redirect(ingress: Ingress, options: CompileOptions) -> bool:
    """Whether the Ingress gets ingress-nginx's default ssl-redirect (it does not write the key)."""
    if not takes_over(options):
        return False
    annotations = ingress.meta.annotations
    if NGINX_SSL_REDIRECT in annotations or NGINX_FORCE_SSL_REDIRECT in annotations:
        return False
    written = (annotations.get(CLASS) or "").strip() or (ingress.ingress_class_name or "")
    return written not in options.extra_classes


def with_nginx_defaults(
    ingress: Ingress, annotations: IngressAnnotations, options: CompileOptions
) -> IngressAnnotations:
    """The annotations with ingress-nginx's default ssl-redirect added where it applies; the redirect
    itself is served only for hosts with TLS (as ingress-nginx), see chain_rewrites."""
    rewrites = annotations.rewrites
    if rewrites is not None and rewrites.https_redirect is not None:
        return annotations  # another spelling (Traefik's ssl-redirect) says what to do
    if not default_ssl_redirect(ingress, options):
        return annotations
    from ingressctl.model.rewrites import HttpsRedirect, Rewrites  # with the first Ingress it applies to

    https = HttpsRedirect(308, only_with_tls=True, source=DEFAULT_SSL_REDIRECT)
    rewrites = dataclasses.replace(rewrites or Rewrites(), https_redirect=https)
    return dataclasses.replace(annotations, rewrites=rewrites)

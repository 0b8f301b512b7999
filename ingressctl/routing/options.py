"""Options of the compiler (the parts of StaticConfig that change what routes are built)."""

from __future__ import annotations

from dataclasses import dataclass

from ingressctl.model.gateway_names import DEFAULT_CONTROLLER_NAME, DEFAULT_MIRROR_BODY_LIMIT


@dataclass(frozen=True, slots=True)
class CompileOptions:
    """The settings that change which routes are built and how."""

    ingress_class: str = "ingressctl"  # kubernetes.io/ingress.class value and IngressClass name we claim
    controller_name: str = "ingressctl.io/ingress-controller"  # IngressClass spec.controller we claim
    # Ingresses without any class: served unless told otherwise.
    serve_unclassed: bool = True
    # Also accept Traefik's own class names, as a drop-in replacement would.
    extra_classes: tuple[str, ...] = ("traefik",)
    allow_external_name_services: bool = False
    acme_enabled: bool = False  # decides TLSSource.ACME vs DEFAULT for hosts without a Secret
    default_entrypoints: tuple[str, ...] = ()
    # When True, a Service named by an Ingress but absent from the snapshot is an error
    # even if no Service at all was given (validate --require-services).
    require_services: bool = False
    # Entrypoints a route with router.tls=true (and no router.entrypoints) is served on;
    # () leaves Route.entrypoints empty and the proxy relies on Route.tls_only.
    tls_entrypoints: tuple[str, ...] = ()
    # --ignore-snippets: routes carrying nginx snippets are served without them (never executed
    # either way) instead of answering 503.
    ignore_snippets: bool = False
    # The Gateway API (--gateway): GatewayClasses whose controllerName is ours, their Gateways and
    # the HTTPRoutes attached to them; --gateway-class limits it to one class name.
    gateway: bool = False
    gateway_controller_name: str = DEFAULT_CONTROLLER_NAME
    gateway_class: str = ""
    # RequestMirror copies request bodies up to this many bytes (a larger one is not mirrored).
    gateway_mirror_body_limit: int = DEFAULT_MIRROR_BODY_LIMIT
    # (name, port, tls) of every entrypoint: a Gateway listener attaches to the one with its port.
    # Empty (validate and routes without --config): every listener's port counts as an entrypoint
    # named ":PORT" of the listener's protocol.
    entrypoint_ports: tuple[tuple[str, int, bool], ...] = ()
    # [kubernetes] enablePassTLSCert: the default of every Ingress's pass-tls-cert.
    pass_tls_cert: bool = False

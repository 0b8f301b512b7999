"""The parts of the static configuration that change what the compiler builds."""

from __future__ import annotations

from ingressctl.model.config import StaticConfig
from ingressctl.routing.options import CompileOptions
from ingressctl.routing.takeover import serve_unclassed

_DEFAULTS = CompileOptions()


def compile_options(static: StaticConfig) -> CompileOptions:
    """CompileOptions for `static`.

    Traefik's own class name ("traefik") is also claimed while the class is our default, as a drop-in
    replacement would; a custom ingressClass means exactly that class (Traefik behaves the same).
    ACME decides the certificate of hosts without a Secret only when it issues for them
    (onHostRule or onDemand); explicit [[acme.domains]] alone do not.
    """
    custom_class = static.ingress_class != _DEFAULTS.ingress_class
    acme = static.acme
    return CompileOptions(
        ingress_class=static.ingress_class,
        controller_name=static.controller_name,
        extra_classes=() if custom_class else _DEFAULTS.extra_classes,
        allow_external_name_services=static.allow_external_name_services,
        acme_enabled=acme is not None and (acme.on_host_rule or acme.on_demand),
        default_entrypoints=static.default_entrypoints,
        pass_tls_cert=static.kubernetes is not None and static.kubernetes.pass_tls_cert,
        serve_unclassed=serve_unclassed(static.controller_name, static.watch_ingress_without_class),
        ignore_snippets=static.ignore_snippets,
        gateway=static.gateway,
        gateway_controller_name=static.gateway_controller_name,
        gateway_class=static.gateway_class,
        gateway_mirror_body_limit=static.gateway_mirror_body_limit,
        entrypoint_ports=entrypoint_ports(static),
    )


def entrypoint_ports(static: StaticConfig) -> tuple[tuple[str, int, bool], ...]:
    """(name, port, tls) of each entrypoint with a port: Gateway listeners attach by port."""
    out: list[tuple[str, int, bool]] = []
    for ep in static.entrypoints:
        port = ep.address.rpartition(":")[2]
        if port.isdigit() and int(port) > 0:
            out.append((ep.name, int(port), ep.tls is not None))
    return tuple(out)

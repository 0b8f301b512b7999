"""The [kubernetes] table of traefik.toml (see sections.py for the conventions every table reader
follows)."""

from __future__ import annotations

import dataclasses
import re

from ingressctl.config.reader import Section, dotted, show
from ingressctl.config.sections import Context
from ingressctl.model.config import KubernetesConfig
from ingressctl.routing.hosts import is_ip_address, validate_host

# A Kubernetes namespace or Service name (DNS-1123 label).
_KUBE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def read_kubernetes(section: Section, ctx: Context) -> tuple[KubernetesConfig, float | None]:
    """The [kubernetes] table, and Traefik's throttleDuration (which maps to our throttle)."""
    endpoint = section.string("endpoint", example="https://10.0.0.1:6443") or ""
    if endpoint and not endpoint.startswith(("http://", "https://")):
        section.problems.error(
            (*section.path, "endpoint"), f"kubernetes.endpoint {show(endpoint)} must be an http(s) URL"
        )
    ca = section.string("certAuthFilePath", example="/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
    if ca:
        path = ctx.resolve(ca)
        if not path.is_file():
            section.problems.error(
                (*section.path, "certAuthFilePath"),
                f"kubernetes.certAuthFilePath: file {str(path)!r} does not exist",
            )
        ca = str(path)
    kubeconfig = section.string("kubeconfig", example="~/.kube/config") or ""
    config = KubernetesConfig(
        endpoint=endpoint,
        token=section.string("token") or "",
        cert_auth_file_path=ca or "",
        namespaces=section.str_list("namespaces", example="default") or (),
        label_selector=section.string("labelselector", example="app=web") or "",
        ingress_class=section.string("ingressClass", example="traefik") or "",
        kubeconfig=str(ctx.resolve(kubeconfig)) if kubeconfig else "",
        context=section.string("context") or "",
    )
    endpoint_section = section.table("ingressEndpoint")
    if endpoint_section is not None:
        publish_service, publish_address = _read_ingress_endpoint(endpoint_section)
        config = dataclasses.replace(config, publish_service=publish_service, publish_address=publish_address)
    throttle = section.duration("throttleDuration")
    section.boolean("watch")
    section.unsupported("disablePassHostHeaders", "the Host header is always passed")
    config = dataclasses.replace(config, pass_tls_cert=bool(section.boolean("enablePassTLSCert")))
    section.finish()
    return config, throttle


def _read_ingress_endpoint(section: Section) -> tuple[str, str]:
    """[kubernetes.ingressEndpoint] as (publish service, publish address), like Traefik v1:
    `publishedService = "NAMESPACE/NAME"` wins over `ip` / `hostname`."""
    ip = section.string("ip", example="192.0.2.10") or ""
    hostname = (section.string("hostname", example="lb.example.com") or "").rstrip(".").lower()
    service = section.string("publishedService", example="kube-system/traefik") or ""
    problems = section.problems
    before = len(problems.errors)
    section.finish()
    valid = len(problems.errors) == before  # a misspelt key: its own error says it all
    if ip and not is_ip_address(ip):
        problems.error((*section.path, "ip"), f"{section.name('ip')} {show(ip)} is not an IP address")
        valid = False
    if hostname:
        problem = validate_host(hostname)
        if problem is None and hostname.startswith("*"):
            problem = "a wildcard is not an address"
        if problem is not None:
            problems.error((*section.path, "hostname"), f"{section.name('hostname')}: {problem}")
            valid = False
    if service:
        namespace, sep, name = service.partition("/")
        if not (sep and _KUBE_NAME.fullmatch(namespace) and _KUBE_NAME.fullmatch(name)):
            problems.error(
                (*section.path, "publishedService"),
                f"{section.name('publishedService')} {show(service)} must be NAMESPACE/NAME of a Service "
                '(e.g. "kube-system/traefik")',
            )
            return "", ""
        if ip or hostname:
            problems.warn(
                (*section.path, "publishedService"),
                f"{section.name('publishedService')} is set: the addresses of Service {service} are "
                f"published and {section.name('ip')}/{section.name('hostname')} are ignored",
            )
        return service, ""
    if not valid:
        return "", ""
    if not (ip or hostname):
        problems.error(
            section.path,
            f"[{dotted(section.path)}] needs ip, hostname or publishedService (where the Ingresses are "
            "reachable, written to their status); remove the table to write no status",
        )
    return "", ",".join(a for a in (ip, hostname) if a)

"""The address written to Ingress status (`status.loadBalancer.ingress`), from flags or a Service."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ingressctl.model import UsageError


@dataclass(frozen=True, slots=True)
class PublishAddress:
    ips: tuple[str, ...] = ()
    hostnames: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.ips or self.hostnames)

    def load_balancer_ingress(self) -> list[dict[str, str]]:
        return [{"ip": ip} for ip in self.ips] + [{"hostname": h} for h in self.hostnames]

    def __str__(self) -> str:
        return ",".join((*self.ips, *self.hostnames)) or "(none)"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_publish_address(text: str) -> PublishAddress:
    """`--publish-address 192.0.2.10,lb.example.com`: IPs and host names, comma separated."""
    ips: list[str] = []
    hostnames: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if _is_ip(part):
            ips.append(part)
        elif all(label and len(label) <= 63 for label in part.rstrip(".").split(".")) and " " not in part:
            hostnames.append(part.rstrip(".").lower())
        else:
            raise UsageError(f"--publish-address: {part!r} is neither an IP address nor a host name")
    if not ips and not hostnames:
        raise UsageError("--publish-address: give at least one IP address or host name")
    return PublishAddress(tuple(ips), tuple(hostnames))


def parse_publish_service(text: str) -> tuple[str, str]:
    """`--publish-service NAMESPACE/NAME`."""
    namespace, sep, name = text.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise UsageError(f"--publish-service {text!r}: expected NAMESPACE/NAME (e.g. ingressctl/ingressctl)")
    return namespace, name


def address_from_service(service: Mapping[str, Any]) -> PublishAddress:
    """A LoadBalancer's assigned addresses; else externalIPs; else the clusterIP (as ingress-nginx does)."""
    lb: Sequence[Mapping[str, Any]] = (service.get("status") or {}).get("loadBalancer", {}).get(
        "ingress"
    ) or []
    ips = tuple(str(e["ip"]) for e in lb if e.get("ip"))
    hostnames = tuple(str(e["hostname"]) for e in lb if e.get("hostname"))
    if ips or hostnames:
        return PublishAddress(ips, hostnames)
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName" and spec.get("externalName"):
        return PublishAddress((), (str(spec["externalName"]),))
    external = tuple(str(ip) for ip in spec.get("externalIPs") or ())
    if external:
        return PublishAddress(external)
    cluster_ip = spec.get("clusterIP")
    if cluster_ip and cluster_ip != "None":
        return PublishAddress((str(cluster_ip),))
    return PublishAddress()


def current_load_balancer(ingress: Mapping[str, Any]) -> list[dict[str, str]]:
    """An Ingress's `status.loadBalancer.ingress`, reduced to the ip/hostname we write."""
    entries = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    out: list[dict[str, str]] = []
    for entry in entries:
        item = {k: str(entry[k]) for k in ("ip", "hostname") if entry.get(k)}
        if item:
            out.append(item)
    return out

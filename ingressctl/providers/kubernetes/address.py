"""The address Ingress status publishes: from the flags, a Service, or the node this pod runs on (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ingressctl.model import UsageError
from ingressctl.providers.kubernetes.resources import LoadBalancerIngress, Node, NodeAddress, ServiceObject
from ingressctl.routing.hosts import is_ip_address


@dataclass(frozen=True, slots=True)
class PublishAddress:
    ips: tuple[str, ...] = ()
    hostnames: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.ips or self.hostnames)

    def load_balancer_ingress(self) -> list[LoadBalancerIngress]:
        ips: list[LoadBalancerIngress] = [{"ip": ip} for ip in self.ips]
        return ips + [{"hostname": h} for h in self.hostnames]

    def __str__(self) -> str:
        return ",".join((*self.ips, *self.hostnames)) or "(none)"


def parse_publish_address(text: str) -> PublishAddress:
    """`--publish-address 192.0.2.10,lb.example.com`: IPs and host names, comma separated."""
    ips: list[str] = []
    hostnames: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if is_ip_address(part):
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


def address_from_service(service: ServiceObject) -> PublishAddress:
    """A LoadBalancer's assigned addresses; else externalIPs; else the clusterIP (as ingress-nginx does)."""
    lb = (service.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
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


# ====================================================================== this pod's node

# The node address types published, in order of preference (ingress-nginx's: ExternalIP, else InternalIP).
NODE_ADDRESS_TYPES = ("ExternalIP", "InternalIP")


@dataclass(frozen=True, slots=True)
class PodReference:
    """The pod this process runs in, as the downward API tells it (POD_NAME, POD_NAMESPACE)."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def pod_reference(environ: Mapping[str, str], default_namespace: str) -> PodReference | None:
    """POD_NAME (and POD_NAMESPACE, else `default_namespace`); None outside a pod that sets them."""
    name = environ.get("POD_NAME", "").strip()
    if not name:
        return None
    return PodReference(environ.get("POD_NAMESPACE", "").strip() or default_namespace, name)


def node_address(node: Node) -> NodeAddress | None:
    """The node's first ExternalIP, else its first InternalIP (ingress-nginx's `GetNodeIPOrName`)."""
    addresses = (node.get("status") or {}).get("addresses") or []
    for wanted in NODE_ADDRESS_TYPES:
        for entry in addresses:
            if entry.get("type") == wanted and entry.get("address"):
                return entry
    return None


def single_address(address: str) -> PublishAddress:
    return PublishAddress((address,)) if is_ip_address(address) else PublishAddress((), (address.lower(),))


@dataclass(frozen=True, slots=True)
class RunningAddress:
    """Where this pod can be reached from outside the cluster, and where that was found (for the log)."""

    address: PublishAddress
    source: str

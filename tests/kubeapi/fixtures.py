"""Helpers shared by the API server's own tests and the provider tests: objects as the API writes them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.kubeapi.server import KubeAPIServer


def service(
    name: str, ns: str = "default", *, port: int = 80, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.0.0.10",
            "ports": [{"name": "http", "port": port, "targetPort": 8080}],
        },
    }


def ingress(
    name: str,
    ns: str = "default",
    *,
    host: str = "example.com",
    service_name: str = "web",
    port: int = 80,
    path: str = "/",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    tls_secret: str | None = None,
    ingress_class: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": path,
                            "pathType": "Prefix",
                            "backend": {"service": {"name": service_name, "port": {"number": port}}},
                        }
                    ]
                },
            }
        ]
    }
    if tls_secret:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    if ingress_class:
        spec["ingressClassName"] = ingress_class
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}, "annotations": annotations or {}},
        "spec": spec,
    }


def endpoint_slice(
    name: str,
    service_name: str,
    addresses: list[str],
    ns: str = "default",
    *,
    port: int = 8080,
    ready: bool | None = True,
) -> dict[str, Any]:
    endpoints = []
    for address in addresses:
        endpoint: dict[str, Any] = {"addresses": [address]}
        if ready is not None:
            endpoint["conditions"] = {"ready": ready}
        endpoints.append(endpoint)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": service_name}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": endpoints,
    }


def endpoints(name: str, addresses: list[str], ns: str = "default", *, port: int = 8080) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": ns},
        "subsets": [
            {
                "addresses": [{"ip": a} for a in addresses],
                "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            }
        ],
    }


def secret(
    name: str, ns: str = "default", *, data: dict[str, str] | None = None, type_: str = "Opaque"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": type_,
        "data": data or {},
    }


def ingress_class(
    name: str, controller: str = "ingressctl.io/ingress-controller", default: bool = False
) -> dict[str, Any]:
    annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"controller": controller},
    }


def pod(
    name: str, ns: str = "default", *, node_name: str = "", host_ip: str = "", pod_ip: str = "10.244.1.17"
) -> dict[str, Any]:
    """A running pod, as the kubelet reports it (`status.hostIP` is its node's IP)."""
    status: dict[str, Any] = {"phase": "Running", "podIP": pod_ip, "podIPs": [{"ip": pod_ip}]}
    if host_ip:
        status |= {"hostIP": host_ip, "hostIPs": [{"ip": host_ip}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/name": "ingressctl"}},
        "spec": {"nodeName": node_name, "containers": [{"name": "ingressctl", "image": "ingressctl"}]},
        "status": status,
    }


def node(name: str, addresses: dict[str, str]) -> dict[str, Any]:
    """A node with `status.addresses` ({"InternalIP": "10.0.0.5", "ExternalIP": ...}), hostname last."""
    listed = [{"type": kind, "address": address} for kind, address in addresses.items()]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {"addresses": [*listed, {"type": "Hostname", "address": name}]},
    }


def ingress_app(
    server: KubeAPIServer, name: str, port: int, ns: str = "shop", *, host: str = "", **ingress_fields: Any
) -> None:
    """Ingress NAME in NS for HOST (default NAME.test) → Service NAME → one ready endpoint 127.0.0.1:PORT."""
    server.apply_many(
        [
            service(name, ns),
            endpoint_slice(f"{name}-1", name, ["127.0.0.1"], ns, port=port),
            ingress(name, ns, host=host or f"{name}.test", service_name=name, **ingress_fields),
        ]
    )


def load_balancer(server: KubeAPIServer, name: str, ns: str = "shop") -> list[dict[str, str]]:
    """The Ingress's status.loadBalancer.ingress as stored (empty when unset)."""
    obj = server.get("Ingress", ns, name) or {}
    return ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []

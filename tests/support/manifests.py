"""Write Ingress + Service + EndpointSlice manifests pointing at loopback test backends."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def app_manifest(
    name: str,
    host: str | None,
    path: str,
    port: int,
    extra_annotations: str = "",
    *,
    service_annotations: str = "",
    addresses: tuple[str, ...] = ("127.0.0.1",),
    port_name: str = "http",
    app_protocol: str = "",
) -> str:
    """An Ingress routing `host` + `path` (Prefix) to Service `name` port 80, the Service (target
    `port`, optionally its appProtocol) and an EndpointSlice of `addresses` (ready) on `port`.
    Annotations are YAML lines indented by four spaces."""
    host_line = f"  - host: {host}\n    http:\n" if host else "  - http:\n"
    ann = f"  annotations:\n{extra_annotations}" if extra_annotations else ""
    service_ann = f"  annotations:\n{service_annotations}" if service_annotations else ""
    proto = f"\n    appProtocol: {app_protocol}" if app_protocol else ""
    items = "".join(f'- addresses: ["{a}"]\n  conditions:\n    ready: true\n' for a in addresses)
    endpoints = f"endpoints:\n{items}" if addresses else "endpoints: []\n"
    return f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: default
{ann}spec:
  rules:
{host_line}      paths:
      - path: {path}
        pathType: Prefix
        backend:
          service:
            name: {name}
            port:
              number: 80
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: default
{service_ann}spec:
  ports:
  - name: {port_name}
    port: 80
    targetPort: {port}{proto}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: default
  labels:
    kubernetes.io/service-name: {name}
addressType: IPv4
ports:
- name: {port_name}
  port: {port}
{endpoints}"""


def write_atomically(path: Path, text: str) -> None:
    """Write as editors and ConfigMap volumes do: a new file renamed over the old one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_apps(path: Path, apps: Sequence[tuple[str, str | None, str, int]]) -> None:
    write_atomically(path, "---\n".join(app_manifest(*a) for a in apps))

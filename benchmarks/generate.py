"""Generate realistic manifest sets of a given size for the compile/validate benchmarks."""

from __future__ import annotations

from pathlib import Path

_INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app-{i}
  namespace: team-{ns}
  annotations:
    traefik.ingress.kubernetes.io/router.entrypoints: web,websecure
spec:
  tls:
    - hosts: [app-{i}.example.test]
  rules:
    - host: app-{i}.example.test
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: app-{i}
                port:
                  number: 80
          - path: /api
            pathType: Prefix
            backend:
              service:
                name: app-{i}
                port:
                  name: http
---
apiVersion: v1
kind: Service
metadata:
  name: app-{i}
  namespace: team-{ns}
spec:
  ports:
    - name: http
      port: 80
      targetPort: 8080
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: app-{i}-abc
  namespace: team-{ns}
  labels:
    kubernetes.io/service-name: app-{i}
addressType: IPv4
ports:
  - name: http
    port: 8080
endpoints:
  - addresses: ["10.1.{a}.{b}"]
    conditions: {{ready: true}}
"""


def write_manifests(directory: Path, count: int, per_file: int = 100) -> int:
    """Write `count` Ingresses (each with its Service and EndpointSlice); return the number of objects."""
    directory.mkdir(parents=True, exist_ok=True)
    for start in range(0, count, per_file):
        docs = [
            _INGRESS.format(i=i, ns=i % 20, a=(i // 250) % 250, b=i % 250 + 1)
            for i in range(start, min(count, start + per_file))
        ]
        (directory / f"apps-{start:06d}.yaml").write_text("---\n".join(docs))
    return count * 3

"""Every model location, and `LoadResult.location_of`, point at the right line:column (1-based)."""

from __future__ import annotations

from pathlib import Path

from ingressctl.manifests import load_paths
from ingressctl.model import Location

SOURCE = """\
# a comment line
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations:
    kubernetes.io/ingress.class: traefik
    ingress.kubernetes.io/auth-type: basic
spec:
  defaultBackend:
    service: {name: fallback, port: {number: 8080}}
  tls:
    - hosts: [web.example.test]
      secretName: web-tls
  rules:
    - host: web.example.test
      http:
        paths:
          - path: /api
            pathType: Prefix
            backend:
              service:
                name: api
                port:
                  name: http
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: old}
spec:
  rules:
  - host: old.example.test
    http:
      paths:
      - path: /
        backend:
          serviceName: web
          servicePort: 80
"""


def _load(tmp_path: Path) -> tuple[str, list[object]]:
    path = tmp_path / "web.yaml"
    path.write_text(SOURCE)
    result = load_paths([str(path)])
    assert result.diagnostics == []
    return str(path), [result, *result.snapshot.ingresses]


def test_model_locations(tmp_path: Path) -> None:
    file, (_, web, old) = _load(tmp_path)
    assert isinstance(web, type(old))

    def at(line: int, column: int) -> Location:
        return Location(file, line, column)

    assert web.meta.location == at(2, 1)
    assert web.meta.annotation_locations == {
        "kubernetes.io/ingress.class": at(7, 5),
        "ingress.kubernetes.io/auth-type": at(8, 5),
    }
    assert web.default_backend.location == at(11, 5)
    assert web.default_backend.port_location == at(11, 46)
    assert web.tls[0].location == at(13, 7)
    (rule,) = web.rules
    assert (rule.location, rule.host_location) == (at(16, 7), at(16, 13))
    (path,) = rule.paths
    assert path.location == at(19, 13)
    assert path.backend.location == at(22, 15)
    assert path.backend.port_location == at(25, 25)

    assert old.meta.location == at(27, 1)
    (old_rule,) = old.rules
    assert old_rule.host_location == at(32, 11)
    assert old_rule.paths[0].location == at(35, 9)
    assert old_rule.paths[0].backend.port_location == at(38, 24)


def test_location_of_any_field(tmp_path: Path) -> None:
    file, (result, web, old) = _load(tmp_path)
    location_of = result.location_of  # type: ignore[attr-defined]
    assert location_of(web) == Location(file, 2, 1)
    assert location_of(web, "spec", "rules", 0, "host") == Location(file, 16, 7)
    assert location_of(web, "spec", "rules", 0, "http", "paths", 0, "pathType") == Location(file, 20, 13)
    assert location_of(web, "spec", "tls", 0, "secretName") == Location(file, 14, 7)
    assert location_of(old, "spec", "rules", 0, "http", "paths", 0, "backend", "serviceName") == Location(
        file, 37, 11
    )
    # A field that is not there: the nearest enclosing one.
    assert location_of(web, "spec", "rules", 0, "http", "paths", 0, "nothing") == Location(file, 19, 13)
    index = result.index_for(web)  # type: ignore[attr-defined]
    assert index.value("spec", "rules", 0, "host") == Location(file, 16, 13)
    assert location_of(object()) is None

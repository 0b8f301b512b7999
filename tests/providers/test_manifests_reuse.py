"""The manifests provider hands the compiler the same objects for files that did not change."""

from __future__ import annotations

from pathlib import Path

from ingressctl.manifests import load_paths
from ingressctl.providers.manifests import keep_unchanged
from ingressctl.routing import CompileCache, CompileOptions, compile

INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: shop}}
spec:
  ingressClassName: ingressctl
  rules:
    - host: {host}
      http:
        paths:
          - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
"""
SERVICE = """apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
"""


def test_only_objects_of_the_edited_file_are_new(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(INGRESS.format(name="a", host="a.test"))
    (tmp_path / "b.yaml").write_text(INGRESS.format(name="b", host="b.test"))
    (tmp_path / "svc.yaml").write_text(SERVICE)
    first = keep_unchanged(None, load_paths([str(tmp_path)]).snapshot)
    (tmp_path / "b.yaml").write_text(INGRESS.format(name="b", host="b2.test"))
    second = keep_unchanged(first, load_paths([str(tmp_path)]).snapshot)
    old = {i.meta.name: i for i in first.ingresses}
    new = {i.meta.name: i for i in second.ingresses}
    assert new["a"] is old["a"]
    assert new["b"] is not old["b"] and new["b"].rules[0].host == "b2.test"
    assert second.services[0] is first.services[0]
    # What that buys: the unchanged Ingress keeps its compiled route.
    cache = CompileCache()
    table1, _ = compile(first, CompileOptions(), cache)
    table2, _ = compile(second, CompileOptions(), cache)
    assert {r.id: r for r in table2.routes}["shop/a#r0p0"] is {r.id: r for r in table1.routes}["shop/a#r0p0"]
    assert table2.match("b2.test", "/") is not None and table2.match("b.test", "/") is None


def test_an_object_that_moved_in_its_file_is_a_new_object(tmp_path: Path) -> None:
    """Findings point at file:line: an object whose lines moved must not keep its old positions."""
    (tmp_path / "all.yaml").write_text(INGRESS.format(name="a", host="a.test"))
    first = keep_unchanged(None, load_paths([str(tmp_path)]).snapshot)
    (tmp_path / "all.yaml").write_text("# a comment on top\n" + INGRESS.format(name="a", host="a.test"))
    second = keep_unchanged(first, load_paths([str(tmp_path)]).snapshot)
    assert second.ingresses[0] is not first.ingresses[0]
    assert second.ingresses[0].meta.location is not None
    assert first.ingresses[0].meta.location is not None
    assert second.ingresses[0].meta.location.line == first.ingresses[0].meta.location.line + 1

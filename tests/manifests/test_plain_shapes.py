"""The shortcuts for the common shapes (meta._plain_meta, ingress._plain_rule, _plain_path and
_plain_service_backend, backends._plain_service and _plain_endpoint_slice) give exactly what the
general readers give, or leave the object to them.

Each input is loaded twice: as `validate` loads it, and with the shortcuts switched off (the
general readers alone, with their findings). Objects (with every location) and findings must be
equal, on the repository's manifests and on every one-line mutation of a typical Ingress,
Service and EndpointSlice (wrong types, empty and refused values, missing and unknown keys).

`validate`'s side is the modules as installed (compiled by `make install` when it can); the
shortcuts are switched off and counted on a copy imported from the Python source
(tests/manifests/python_source.py): compiled modules call them in C, past any replacement.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.generate import write_manifests
from ingressctl.manifests.loader import LoadResult, load_text
from tests.manifests.python_source import PythonSource

REPO = Path(__file__).resolve().parents[2]

BASE = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  labels:
    app: web
    tier:
  annotations:
    example.com/a: one
    example.com/b: "2"
spec:
  ingressClassName: traefik
  tls:
    - hosts: [web.example.test]
      secretName: web-tls
  rules:
    - host: web.example.test
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web
                port:
                  number: 80
          - path: /api
            pathType: Prefix
            backend:
              service:
                name: api
                port:
                  name: http
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  uid: "1234"
  resourceVersion: "7"
spec:
  type: ClusterIP
  clusterIP: 10.0.0.9
  ports:
    - name: http
      port: 80
      targetPort: web
      protocol: TCP
      appProtocol: http
    - port: 81
      targetPort: 8081
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
ports:
  - port: 8080
    name: http
    protocol: TCP
endpoints:
  - addresses: ["10.1.0.1"]
    nodeName: node-1
    conditions:
      ready: true
      serving: true
  - addresses:
      - 10.1.0.2
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-2
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
endpoints:
  - addresses: ["10.1.0.3"]
    targetRef:
      kind: Pod
      name: web-3
"""

REPLACEMENTS = [
    "",
    "null",
    '""',
    "0",
    "70000",
    '"80"',
    "true",
    "[a]",
    "[Web.Example.Test]",
    "[]",
    "{}",
    "{a: b}",
    "My_Name",
    "a--b",
    "-web",
    "1.5",
    "x" * 70,
    "web.example.test",
    "10.0.0.1",
    "/a//b",
    "/x/..",
    "ImplementationSpecific",
    "Exact",
]


def _variants() -> list[str]:
    lines = BASE.splitlines(keepends=True)
    out = []
    for index, line in enumerate(lines):
        stripped = line.rstrip("\n")
        if ": " in stripped or stripped.endswith(":"):
            key = stripped[: stripped.index(":") + 1]
            for value in REPLACEMENTS:
                out.append("".join([*lines[:index], f"{key} {value}\n", *lines[index + 1 :]]))
            indent = len(key) - len(key.lstrip(" -"))
            out.append("".join([*lines[:index], " " * indent + "unknown: 1\n", *lines[index:]]))
        if stripped.strip() != "---":
            out.append("".join([*lines[:index], *lines[index + 1 :]]))
    return out


@pytest.fixture(scope="module")
def source() -> PythonSource:
    """meta, ingress, backends and loader, from the Python source."""
    return PythonSource("meta", "ingress", "backends", "loader")


def _general(monkeypatch: pytest.MonkeyPatch, source: PythonSource, text: str, name: str) -> LoadResult:
    meta, ingress, backends = source.module("meta"), source.module("ingress"), source.module("backends")
    with source.active(), monkeypatch.context() as patch:
        patch.setattr(meta, "_plain_meta", lambda *args: None)
        patch.setattr(ingress, "_plain_service_backend", lambda *args: None)
        patch.setattr(ingress, "_plain_path", lambda *args: None)
        patch.setattr(ingress, "_plain_rule", lambda *args: None)
        patch.setattr(backends, "_plain_service", lambda *args: None)
        patch.setattr(backends, "_plain_endpoint_slice", lambda *args: None)
        loaded: LoadResult = source.module("loader").load_text(text, name)
        return loaded


def _same(monkeypatch: pytest.MonkeyPatch, source: PythonSource, text: str, name: str = "m.yaml") -> None:
    fast = load_text(text, name)
    slow = _general(monkeypatch, source, text, name)
    assert fast.snapshot == slow.snapshot, text
    assert fast.diagnostics == slow.diagnostics, text


def test_every_mutation_of_a_typical_input_reads_as_the_general_readers_read_it(
    monkeypatch: pytest.MonkeyPatch, source: PythonSource
) -> None:
    variants = _variants()
    assert len(variants) > 500
    for text in variants:
        _same(monkeypatch, source, text)
    # Without a file name (an object given as text), positions are not known: general readers.
    _same(monkeypatch, source, BASE, "")


def test_emptied_blocks_read_as_the_general_readers_read_them(
    monkeypatch: pytest.MonkeyPatch, source: PythonSource
) -> None:
    ingress_end = BASE.index("---")
    paths = BASE.index("        paths:")
    rules = BASE.index("  rules:")
    spec = BASE.index("spec:")
    metadata = BASE.index("metadata:")
    for text in [
        BASE[:paths] + "        paths: []\n" + BASE[ingress_end:],
        BASE[:paths] + "        paths:\n" + BASE[ingress_end:],
        BASE[:paths] + "        paths: [{path: /, pathType: Prefix}]\n" + BASE[ingress_end:],
        BASE[:paths] + "        paths: [x]\n" + BASE[ingress_end:],
        BASE[: paths - len("      http:\n")] + "      http: {}\n" + BASE[ingress_end:],
        BASE[: paths - len("      http:\n")] + "      http:\n" + BASE[ingress_end:],
        BASE[:rules] + "  rules: []\n" + BASE[ingress_end:],
        BASE[:rules] + "  rules:\n    - host: a.example.test\n" + BASE[ingress_end:],
        BASE[:spec] + "spec: {}\n" + BASE[ingress_end:],
        BASE[:metadata] + "metadata: {}\n" + BASE[spec:],
        BASE[:metadata] + "metadata: {name: x, labels: {}, annotations: {}}\n" + BASE[spec:],
    ]:
        _same(monkeypatch, source, text)


def test_repository_manifests_read_as_the_general_readers_read_them(
    monkeypatch: pytest.MonkeyPatch, source: PythonSource
) -> None:
    files = sorted((REPO / "examples").rglob("*.yaml")) + sorted((REPO / "tests").rglob("fixtures/**/*.yaml"))
    assert len(files) > 20
    for path in files:
        _same(monkeypatch, source, path.read_text(), str(path))


def test_generated_manifests_take_the_shortcuts(
    monkeypatch: pytest.MonkeyPatch, source: PythonSource, tmp_path: Path
) -> None:
    write_manifests(tmp_path, 30, per_file=30)
    (generated,) = tmp_path.iterdir()
    taken: dict[str, int] = {}

    def counting(module: object, name: str) -> None:
        shortcut = getattr(module, name)
        taken[name] = 0

        def count(*args: object) -> object:
            result = shortcut(*args)
            taken[name] += result is not None
            return result

        monkeypatch.setattr(module, name, count)

    counting(source.module("meta"), "_plain_meta")
    counting(source.module("ingress"), "_plain_rule")
    counting(source.module("backends"), "_plain_service")
    counting(source.module("backends"), "_plain_endpoint_slice")
    with source.active():
        source.module("loader").load_text(generated.read_text(), "m.yaml")
    _same(monkeypatch, source, generated.read_text())
    assert taken == {"_plain_meta": 90, "_plain_rule": 30, "_plain_service": 30, "_plain_endpoint_slice": 30}


def test_default_backends_take_the_backend_shortcut(
    monkeypatch: pytest.MonkeyPatch, source: PythonSource
) -> None:
    text = BASE.replace(
        "spec:\n  ingressClassName",
        "spec:\n  defaultBackend:\n    service: {name: d, port: {number: 1}}\n  ingressClassName",
        1,
    )
    _same(monkeypatch, source, text)
    assert load_text(text, "m.yaml").snapshot.ingresses[0].default_backend is not None

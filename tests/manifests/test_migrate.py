"""The migration itself (`ingressctl.manifests.migrate`), on the cases the CLI tests do not cover."""

from __future__ import annotations

import json

import yaml

from ingressctl.manifests import load_text
from ingressctl.manifests.migrate import guess_indentation, migrate_text
from ingressctl.model import PathType, Severity


def test_quoted_port_numbers_become_numbers_and_names_stay_names() -> None:
    text = """\
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - http:
      paths:
      - path: /a
        backend: {serviceName: web, servicePort: "8080"}
      - path: /b
        backend: {serviceName: web, servicePort: http}
      - path: /c
        pathType: Prefix
        backend:
          resource: {apiGroup: k8s.example.com, kind: Bucket, name: static}
"""
    migration = migrate_text(text, "web.yaml")
    assert migration.changed == [
        "Ingress default/web (extensions/v1beta1 -> networking.k8s.io/v1, line 1) in web.yaml"
    ]
    result = load_text(migration.text)
    assert [d for d in result.diagnostics if d.severity is Severity.ERROR] == []
    a, b, c = result.snapshot.ingresses[0].rules[0].paths
    assert (a.backend.port_number, a.path_type) == (8080, PathType.IMPLEMENTATION_SPECIFIC)
    assert (b.backend.port_name, b.path_type) == ("http", PathType.IMPLEMENTATION_SPECIFIC)
    assert (c.backend.resource_kind, c.path_type) == ("Bucket", PathType.PREFIX)


def test_lists_and_json_files() -> None:
    document = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "networking.k8s.io/v1beta1",
                "kind": "Ingress",
                "metadata": {"name": "in-list", "namespace": "shop"},
                "spec": {"backend": {"serviceName": "web", "servicePort": 80}},
            }
        ],
    }
    migration = migrate_text(json.dumps(document, indent=4), "list.json")
    assert migration.changed == [
        "Ingress shop/in-list (networking.k8s.io/v1beta1 -> networking.k8s.io/v1) in list.json"
    ]
    (item,) = json.loads(migration.text)["items"]
    assert item == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "in-list", "namespace": "shop"},
        "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}},
    }
    untouched = migrate_text('{"apiVersion": "v1", "kind": "Service"}', "svc.json")
    assert (untouched.text, untouched.changed) == ('{"apiVersion": "v1", "kind": "Service"}', [])


def test_v1_and_other_kinds_are_copied_byte_for_byte() -> None:
    text = (
        "# v1 already\napiVersion: networking.k8s.io/v1\nkind: Ingress\n"
        "metadata: {name: x}  # v1beta1 in a comment\n"
    )
    assert migrate_text(text).text == text
    assert migrate_text(text).changed == []


def test_indentation_guess() -> None:
    assert guess_indentation("a:\n  b:\n    - c: 1\n      d: 2\n") == (2, 2)
    assert guess_indentation("a:\n    b:\n    - c\n") == (4, 0)
    assert guess_indentation("a: 1\n") == (2, 0)


def test_document_marker_with_content_is_kept() -> None:
    text = (
        "--- {apiVersion: extensions/v1beta1, kind: Ingress, metadata: {name: a},"
        " spec: {backend: {serviceName: b, servicePort: 80}}}\n"
    )
    migration = migrate_text(text)
    assert migration.text.startswith("---")
    (ingress,) = load_text(migration.text).snapshot.ingresses
    assert ingress.api_version == "networking.k8s.io/v1"
    assert ingress.default_backend is not None and ingress.default_backend.port_number == 80


def test_typed_ingress_list_items_are_migrated_with_the_list() -> None:
    text = (
        "apiVersion: networking.k8s.io/v1beta1\nkind: IngressList\nitems:\n"
        "- metadata: {name: a}\n  spec: {backend: {serviceName: s, servicePort: 80}}\n"
    )
    migration = migrate_text(text)
    assert migration.changed == [
        "Ingress default/a (networking.k8s.io/v1beta1 -> networking.k8s.io/v1, line 4) in <stdin>"
    ]
    loaded = yaml.safe_load(migration.text)
    assert loaded["apiVersion"] == "networking.k8s.io/v1"
    assert loaded["items"][0]["spec"] == {
        "defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}
    }


def test_crlf_files_stay_crlf_and_an_unnamed_ingress_is_named_so() -> None:
    legacy = "apiVersion: extensions/v1beta1\r\nkind: Ingress\r\nspec:\r\n  backend:\r\n"
    legacy += "    serviceName: web\r\n    servicePort: 80\r\n"
    text = "apiVersion: v1\r\nkind: Service\r\nmetadata: {name: web}\r\n---\r\n" + legacy
    migration = migrate_text(text)
    assert "\n" not in migration.text.replace("\r\n", "")
    assert "service:\r\n" in migration.text
    assert migration.changed[0].startswith("Ingress default/(no name) (extensions/v1beta1")

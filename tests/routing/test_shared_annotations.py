"""Ingresses with the same annotations: the compiler parses them once when that parse is clean
(compiler._annotations), and every Ingress still gets exactly what compiling it alone gives."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from ingressctl.model import Ingress, Location, Secret
from tests.routing.builders import build, ingress, path, rule, secret, web_world

HTPASSWD = b"alice:$apr1$abcdefgh$Zo4a.zRe7RtZNr9rQ8xtC1\n"


def _ingresses(annotations: Mapping[str, str], namespaces: tuple[str, ...]) -> list[Ingress]:
    return [
        ingress(
            f"app-{index}",
            rule(f"app-{index}.example.test", path("/", location=Location("app.yaml", 10 * index + 5, 9))),
            ns=ns,
            annotations=annotations,
            location=Location("app.yaml", 10 * index + 1, 1),
        )
        for index, ns in enumerate(namespaces)
    ]


@pytest.mark.parametrize(
    "annotations",
    [
        {"traefik.ingress.kubernetes.io/router.entrypoints": "web,websecure"},  # clean: parsed once
        {"traefik.ingress.kubernetes.io/router.entrypoints": "web,,bad name"},  # a finding per Ingress
        {"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "creds"},
        {"nginx.ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8, not-a-cidr"},
    ],
)
def test_each_ingress_gets_what_compiling_it_alone_gives(annotations: Mapping[str, str]) -> None:
    namespaces = ("default", "default", "team-a", "default", "team-a")
    secrets: tuple[Secret, ...] = (secret("creds", {"auth": HTPASSWD}),)  # in default only
    many = _ingresses(annotations, namespaces)
    table, diagnostics = build(web_world(*many, secrets=secrets))
    for one in many:
        alone_table, alone = build(web_world(one, secrets=secrets))
        assert sorted(map(repr, (d for d in diagnostics if d.object == one.ref))) == sorted(map(repr, alone))
        assert [r for r in table.routes if r.source == one.ref] == list(alone_table.routes)

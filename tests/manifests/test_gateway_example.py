"""examples/gateway-api: loads cleanly, and serves what its comments promise (make run-gateway)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ingressctl.config import ConfigOverrides, load_static_config
from ingressctl.manifests import load_paths
from ingressctl.model import Severity
from ingressctl.routing import compile
from ingressctl.server.run import server_compile_options

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_gateway_example_compiles_with_the_example_configuration() -> None:
    result = load_paths([str(EXAMPLES / "gateway-api")])
    assert [d for d in result.diagnostics if d.severity is Severity.ERROR] == []
    static = load_static_config(str(EXAMPLES / "traefik.toml"), ConfigOverrides())
    options = server_compile_options(static)
    table, found = compile(result.snapshot, dataclasses.replace(options, gateway=True))
    assert [d.message for d in found if d.severity is not Severity.INFO] == []
    gateway = table.gateway_status.gateways
    (status,) = gateway.values()
    assert [(c.type, c.status.value) for c in status.conditions] == [
        ("Accepted", "True"),
        ("Programmed", "True"),
    ]
    assert status.listeners[0].attached_routes == 3
    canary = table.match_request("shop.example.test", "/cart", "GET", {"X-Canary": "always"}, "")
    assert canary is not None and canary.route.backend.service == "shop-v2"
    shop = table.match_request("shop.example.test", "/cart", "GET", {}, "")
    assert shop is not None and dict(shop.route.backend.split) == {"shop-v1": 90.0, "shop-v2": 10.0}
    assert all(route.entrypoints == ("http",) for route in table.routes)

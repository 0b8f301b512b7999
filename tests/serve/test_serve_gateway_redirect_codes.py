"""RequestRedirect with the Extended status codes 303, 307 and 308 (besides Core 301/302): validate
accepts them and a real `ingressctl serve --gateway` answers with them. Reference: kubernetes-sigs/
gateway-api apis/v1/httproute_types.go (HTTPRequestRedirectFilter.StatusCode, Enum=301;302;303;307;308)
and conformance/tests/httproute-redirect-status-code (the 303/307/308 features)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.serve.gateway_manifests import one_listener_gateway
from tests.serve.gateway_support import request, service
from tests.support.ports import free_port

from .backends import Backend
from .conftest import ServeProcess, run_cli

pytestmark = pytest.mark.timeout(120)

CODES = (301, 302, 303, 307, 308)


def manifests(port: int, backend: int) -> str:
    rules = "".join(
        f"""  - matches: [{{path: {{type: PathPrefix, value: /{code}}}}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {{path: {{type: ReplaceFullPath, replaceFullPath: /moved}}, statusCode: {code}}}
"""
        for code in CODES
    )
    return "---\n".join(
        [
            one_listener_gateway(port),
            f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: codes, namespace: infra}}
spec:
  parentRefs: [{{name: gw}}]
  hostnames: [redirect.test]
  rules:
{rules}  - backendRefs: [{{name: app, port: 8080}}]
""",
            service("app", "infra", backend),
        ]
    )


async def test_every_redirect_code_of_the_api_is_validated_and_served(
    tmp_path: Path, serve: Callable[..., ServeProcess], backend: Backend, cli_env: dict[str, str]
) -> None:
    port = free_port()
    (tmp_path / "gw.yaml").write_text(manifests(port, backend.port))
    checked = await asyncio.to_thread(
        run_cli, ["validate", str(tmp_path / "gw.yaml"), "--format", "json"], cli_env
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["findings"] == []
    sp = serve("--gateway", "--entrypoint", f"web=127.0.0.1:{port}", "--manifests", str(tmp_path))
    await asyncio.to_thread(sp.wait_ready)
    for code in CODES:
        # POST: 307 and 308 are the codes that keep the method (RFC 9110 15.4.8, 15.4.9).
        answer = await asyncio.to_thread(request, port, "redirect.test", f"/{code}/x", "POST")
        assert answer.status == code, (code, answer.status)
        assert answer.headers["Location"] == f"http://redirect.test:{port}/moved"
    assert backend.hits == 0

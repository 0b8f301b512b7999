"""What the Gateway API end-to-end tests share: echo backends on loopback like the conformance suite's
(`infra-backend-v1..v3` answer with their name and what they received), manifests in the shape of
kubernetes-sigs/gateway-api `conformance/tests/*.yaml`, and a plain HTTP client that never follows
redirects."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INFRA = "gateway-conformance-infra"
WEB = "gateway-conformance-web-backend"


class _Echo(BaseHTTPRequestHandler):
    server_version = "echo"
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(
            {
                "backend": self.server.name,  # type: ignore[attr-defined]
                "path": self.path,
                "method": self.command,
                "host": self.headers.get("Host", ""),
                "headers": {k: ", ".join(self.headers.get_all(k) or []) for k in self.headers},
            }
        ).encode()
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        # As the conformance echo server: the response carries headers the request asks for.
        for value in self.headers.get_all("X-Echo-Set-Header") or []:
            for pair in value.split(","):
                name, _, val = pair.partition(":")
                if name.strip():
                    self.send_header(name.strip(), val.strip())
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class EchoBackend:
    name: str
    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def hits(self) -> list[str]:
        return self.server.hits  # type: ignore[attr-defined, no-any-return]


@contextmanager
def echo_backends(*names: str) -> Iterator[dict[str, EchoBackend]]:
    backends: dict[str, EchoBackend] = {}
    try:
        for name in names:
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
            server.daemon_threads = True
            server.name = name  # type: ignore[attr-defined]
            server.hits = []  # type: ignore[attr-defined]
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            thread.start()
            backends[name] = EchoBackend(name, server, thread)
        yield backends
    finally:
        for backend in backends.values():
            backend.server.shutdown()
            backend.server.server_close()


def service(name: str, namespace: str, port: int) -> str:
    """A Service (port 8080, as in the conformance suite) and its EndpointSlice on a loopback backend."""
    return f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  ports: [{{name: http, port: 8080, targetPort: {port}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: {namespace}
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports: [{{name: http, port: {port}}}]
endpoints: [{{addresses: [127.0.0.1], conditions: {{ready: true}}}}]
"""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: dict[str, Any]

    @property
    def backend(self) -> str:
        return str(self.body.get("backend", ""))

    @property
    def path(self) -> str:
        return str(self.body.get("path", ""))

    def header(self, name: str) -> str | None:
        headers = self.body.get("headers", {})
        for key, value in headers.items():
            if key.lower() == name.lower():
                return str(value)
        return None


def request(
    port: int, host: str, path: str = "/", method: str = "GET", headers: dict[str, str] | None = None
) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers={"Host": host, **(headers or {})})
        resp = conn.getresponse()
        raw = resp.read()
        body: dict[str, Any] = {}
        if resp.getheader("Content-Type", "").startswith("application/json") and raw:
            body = json.loads(raw)
        return Answer(resp.status, resp.headers, body)
    finally:
        conn.close()

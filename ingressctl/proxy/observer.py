"""What the proxy tells the outside world about each request (metrics plug in here)."""

from __future__ import annotations

from typing import Protocol


class ProxyObserver(Protocol):
    """Receives one call per finished request, upstream failure and retry.

    Called on the event loop in the request path: implementations must be quick and never block.
    """

    def on_request(
        self,
        entrypoint: str,
        route_id: str,
        service: str,
        status: int,
        seconds: float,
        protocol: str = "http/1.1",
    ) -> None:
        """protocol: "http/1.1" (or "http/1.0"), "h2" (HTTP/2 over TLS) or "h2c"."""
        ...

    def on_upstream_error(
        self, entrypoint: str, route_id: str, service: str, upstream: str, kind: str
    ) -> None:
        """kind: "connect", "timeout", "reset" or "protocol"."""
        ...

    def on_retry(self, entrypoint: str, route_id: str, service: str, upstream: str) -> None: ...

    def on_refused(self, entrypoint: str, route_id: str, service: str, middleware: str) -> None:
        """A middleware refused the request to protect the route (rate-limit, in-flight-limit, ...)."""
        ...


class NullObserver:
    """The default observer: does nothing (the handler skips calling it altogether)."""

    def on_request(
        self,
        entrypoint: str,
        route_id: str,
        service: str,
        status: int,
        seconds: float,
        protocol: str = "http/1.1",
    ) -> None:
        return None

    def on_upstream_error(
        self, entrypoint: str, route_id: str, service: str, upstream: str, kind: str
    ) -> None:
        return None

    def on_retry(self, entrypoint: str, route_id: str, service: str, upstream: str) -> None:
        return None

    def on_refused(self, entrypoint: str, route_id: str, service: str, middleware: str) -> None:
        return None


NULL_OBSERVER = NullObserver()

"""How an upstream fails, as the forwarding code and the answers see it."""

from __future__ import annotations


class UpstreamError(Exception):
    """The upstream failed. kind: "connect", "timeout", "reset" or "protocol".

    before_send: no byte of the request can have reached the upstream (the connection was never
    established), so any request, idempotent or not, may be retried on another endpoint; this is
    when ingress-nginx and Traefik retry a POST.
    """

    def __init__(self, kind: str, message: str, *, before_send: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.before_send = before_send

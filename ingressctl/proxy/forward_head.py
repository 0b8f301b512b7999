"""The request head sent upstream: the client's headers minus hop-by-hop ones, the route's edits,
and the forwarded headers (X-Forwarded-*, X-Real-Ip), for HTTP/1.1 backends (and, translated, for
HTTP/2 ones and websocket handshakes).
"""

from __future__ import annotations

from typing import Final, Protocol

from aiohttp.web_request import BaseRequest

from ingressctl.proxy.exchange import REQUEST_DROP, ConstantEdits, HeaderEdits
from ingressctl.proxy.headers import FORWARDED, TrustedNetworks, connection_tokens, host_port

_REQUEST_DROP: Final = REQUEST_DROP
# Forwarded-header blocks kept (per client address and Host); past this many the cache restarts.
_FORWARDED_KEPT: Final = 1024
_METHODS: Final = {m: m.encode() for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")}


class HeadEntrypoint(Protocol):
    """The parts of the entrypoint that the request head depends on."""

    @property
    def scheme(self) -> str: ...

    @property
    def trusted(self) -> TrustedNetworks: ...


class RequestHeads:
    """Builds upstream request heads for one entrypoint."""

    __slots__ = ("_fixed_forwarded", "_forwarded", "ep")

    def __init__(self, ep: HeadEntrypoint, server_name: str) -> None:
        self.ep = ep
        self._fixed_forwarded = f"X-Forwarded-Server: {server_name}\r\n".encode("latin-1", "replace")
        # (client address, Host) -> the forwarded headers that end the head (_forwarded_tail).
        self._forwarded: dict[tuple[str, str], bytes] = {}

    def build(
        self,
        request: BaseRequest,
        method: str,
        target: str,
        host: str,
        chunked: bool,
        edits: HeaderEdits | None = None,
        upstream_host: str = "",
    ) -> bytes:
        """Request line and headers for the upstream, forwarded headers included; `edits` from
        the route's middlewares (never the framing, hop-by-hop or forwarded headers);
        `upstream_host`: the Host the backend sees instead of the client's (upstream-vhost, or its
        own address)."""
        ep = self.ep
        message = request._message  # (BaseRequest's fields: see handler._dispatch)
        raw = message.raw_headers
        drop: frozenset[bytes] = _REQUEST_DROP
        added: list[bytes] = []
        if upstream_host:
            drop = drop | {b"host"}
            added.append(b"Host: " + upstream_host.encode("latin-1", "replace") + b"\r\n")
        parts = [
            _METHODS.get(method) or method.encode("latin-1"),
            b" ",
            target.encode("utf-8", "surrogateescape"),
        ]
        parts.append(b" HTTP/1.1\r\n")
        conn_value = request._headers.get("Connection")
        tokens = connection_tokens(conn_value.encode("latin-1")) if conn_value else None
        edited_lines = b""
        if tokens:
            drop = drop | tokens
        elif type(edits) is ConstantEdits:
            # The route's constant edits: the headers they replace or remove and their lines,
            # derived once per plan (the same as the loops below would derive them).
            drop = edits.drop | {b"host"} if upstream_host else edits.drop
            edited_lines = edits.lines
            edits = None
        trusted_peer = False
        peer = request.remote or ""
        trusted = ep.trusted
        if trusted.configured and trusted.contains(peer):
            trusted_peer = True
        incoming: dict[bytes, bytes] | None = {} if trusted_peer else None
        has_host = False
        absolute_form = message.path[:1] != "/"
        for name, value in raw:
            lname = name.lower()
            if lname in drop:
                continue
            if lname in FORWARDED:
                if incoming is not None:
                    previous = incoming.get(lname)
                    incoming[lname] = previous + b", " + value if previous else value
                continue
            if lname == b"host":
                if absolute_form:  # the target's authority is the host: sent below instead
                    continue
                has_host = True
            elif edits and lname in edits:
                continue
            parts += (name, b": ", value, b"\r\n")
        if edits:
            for lname, edit in edits.items():
                if edit is not None and lname not in drop and lname not in FORWARDED and lname != b"host":
                    parts += (edit[0], b": ", edit[1], b"\r\n")
        elif edited_lines:
            parts.append(edited_lines)
        if not has_host and not upstream_host:
            parts.append(b"Host: " + host.encode("latin-1", "replace") + b"\r\n")
        parts += added
        if chunked:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        if incoming:
            peer_b = peer.encode()
            host_b = host.encode("latin-1", "replace")
            xff = incoming.get(b"x-forwarded-for")
            parts += (b"X-Forwarded-For: ", xff + b", " + peer_b if xff else peer_b, b"\r\n")
            parts += (
                b"X-Forwarded-Proto: ",
                incoming.get(b"x-forwarded-proto") or ep.scheme.encode(),
                b"\r\n",
            )
            parts += (b"X-Forwarded-Host: ", incoming.get(b"x-forwarded-host") or host_b, b"\r\n")
            port = incoming.get(b"x-forwarded-port")
            if port is None:
                port = str(host_port(host, 443 if ep.scheme == "https" else 80)).encode()
            parts += (b"X-Forwarded-Port: ", port, b"\r\n")
            parts += (b"X-Real-Ip: ", incoming.get(b"x-real-ip") or peer_b, b"\r\n")
            parts.append(self._fixed_forwarded)
        else:
            # The same for every request of a client and Host: built once, ends the head.
            key = (peer, host)
            tail = self._forwarded.get(key)
            if tail is None:
                tail = self._forwarded_tail(peer, host)
            parts.append(tail)
            return b"".join(parts)
        parts.append(b"\r\n")
        return b"".join(parts)

    def _forwarded_tail(self, peer: str, host: str) -> bytes:
        """The forwarded headers set from the connection alone (no trusted incoming ones), the
        end of the head included; kept for the next request of the same client and Host."""
        scheme = self.ep.scheme
        port = host_port(host, 443 if scheme == "https" else 80)
        peer_b = peer.encode()
        tail = b"".join(
            (
                b"X-Forwarded-For: ",
                peer_b,
                b"\r\nX-Forwarded-Proto: ",
                scheme.encode(),
                b"\r\nX-Forwarded-Host: ",
                host.encode("latin-1", "replace"),
                b"\r\nX-Forwarded-Port: %d\r\nX-Real-Ip: " % port,
                peer_b,
                b"\r\n",
                self._fixed_forwarded,
                b"\r\n",
            )
        )
        cache = self._forwarded
        if len(cache) >= _FORWARDED_KEPT:  # many clients (or Host values): start again
            cache.clear()
        cache[(peer, host)] = tail
        return tail

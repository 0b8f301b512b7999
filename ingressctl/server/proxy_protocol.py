"""The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2), read from a raw socket.

A load balancer that forwards TCP connections prepends one header naming the client it accepted:
v1 is a text line ("PROXY TCP4 203.0.113.7 10.0.0.5 51234 443\\r\\n", at most 107 bytes), v2 a binary
block (a 12-byte signature, version/command, family, length, addresses, then TLVs). The header is
read here before the connection becomes a transport, and never a byte past it: what follows (an HTTP
request, or a TLS ClientHello) stays in the kernel for the event loop's own transport to read, so TLS
entrypoints work unchanged.

Parsing is strict: anything but a well-formed header is refused (ProxyHeaderError), as the
specification asks of a receiver ("must not try to guess").
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_PREFIX = b"PROXY "
V1_MAX = 107  # the longest v1 header, CRLF included (spec 2.1)
V1_MIN = 15  # "PROXY UNKNOWN\r\n": no header of either version is shorter
_V2_FIXED = 16
_POLL_SECONDS = 0.005  # between peeks while too few bytes tell what a connection starts with

Client = tuple[str, int]


class ProxyHeaderError(Exception):
    """Why a connection's PROXY header is refused (one line, for the log)."""


class ConnectionClosed(ProxyHeaderError):
    """The peer closed before its header was complete (health checks that connect and leave do)."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    # The client the load balancer accepted; None: use the connection's own address (v1 UNKNOWN, v2
    # LOCAL such as the balancer's health checks, or a family without IP addresses).
    client: Client | None
    version: int


def parse_v1(line: bytes) -> ProxyHeader:
    """One v1 header line, CRLF included."""
    if not line.startswith(V1_PREFIX) or not line.endswith(b"\r\n") or len(line) > V1_MAX:
        raise ProxyHeaderError("malformed PROXY v1 header")
    try:
        text = line[:-2].decode("ascii")
    except UnicodeDecodeError:
        raise ProxyHeaderError("PROXY v1 header is not ASCII") from None
    parts = text.split(" ")
    if parts[1] == "UNKNOWN":  # the rest of the line is to be ignored (spec 2.1)
        return ProxyHeader(None, 1)
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError(f"malformed PROXY v1 header ({text[:60]!r})")
    _, family, source, destination, source_port, destination_port = parts
    version = 4 if family == "TCP4" else 6
    for address in (source, destination):
        try:
            if ipaddress.ip_address(address).version != version:
                raise ValueError
        except ValueError:
            raise ProxyHeaderError(f"PROXY v1 {family} header with address {address[:45]!r}") from None
    for port in (source_port, destination_port):
        if not port.isdigit() or len(port) > 5 or int(port) > 65535:
            raise ProxyHeaderError(f"PROXY v1 header with port {port[:8]!r}")
    return ProxyHeader((_unmapped(source), int(source_port)), 1)


def v2_length(fixed: bytes) -> int:
    """The length of the rest of a v2 header from its first 16 bytes (which it checks)."""
    if len(fixed) != _V2_FIXED or not fixed.startswith(V2_SIGNATURE):
        raise ProxyHeaderError("malformed PROXY v2 header")
    if fixed[12] >> 4 != 2:
        raise ProxyHeaderError(f"PROXY v2 header with version {fixed[12] >> 4}")
    if fixed[12] & 0x0F not in (0, 1):
        raise ProxyHeaderError(f"PROXY v2 header with command {fixed[12] & 0x0F}")
    return int.from_bytes(fixed[14:16], "big")


def parse_v2(header: bytes) -> ProxyHeader:
    """A whole v2 header: the 16 fixed bytes and the length they announce."""
    length = v2_length(header[:_V2_FIXED])
    if len(header) != _V2_FIXED + length:
        raise ProxyHeaderError("PROXY v2 header shorter than its length")
    command, family, transport = header[12] & 0x0F, header[13] >> 4, header[13] & 0x0F
    body = header[_V2_FIXED:]
    if command == 0:  # LOCAL: the balancer's own connection (health checks); the rest is ignored
        return ProxyHeader(None, 2)
    if family > 3 or transport > 2:
        raise ProxyHeaderError(f"PROXY v2 header with family/transport byte {header[13]:#04x}")
    if family in (0, 3):  # UNSPEC, UNIX: no client IP to take (spec 2.2: use the real addresses)
        return ProxyHeader(None, 2)
    if transport != 1:
        raise ProxyHeaderError("PROXY v2 header for a datagram connection on a TCP entrypoint")
    size = 4 if family == 1 else 16
    if length < 2 * size + 4:
        raise ProxyHeaderError("PROXY v2 header too short for its addresses")
    source = ipaddress.ip_address(body[:size])
    port = int.from_bytes(body[2 * size : 2 * size + 2], "big")
    # TLVs (body[2 * size + 4:]) carry nothing ingressctl uses (ALPN, authority, vendor data).
    return ProxyHeader((_unmapped(str(source)), port), 2)


def _unmapped(address: str) -> str:
    ip = ipaddress.ip_address(address)
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped) if mapped is not None else str(ip)


def starts_like_a_header(data: bytes) -> bool | None:
    """Whether the first bytes of a connection are a PROXY header (None: too few bytes to tell)."""
    for prefix in (V1_PREFIX, V2_SIGNATURE):
        common = min(len(data), len(prefix))
        if data[:common] == prefix[:common]:
            return True if common == len(prefix) else None
    return False


# ------------------------------------------------------------------ reading from the socket


async def read_header(sock: socket.socket) -> ProxyHeader:
    """Read exactly one PROXY header (v1 or v2) from the non-blocking `sock`, nothing after it.

    The caller bounds the time (asyncio.timeout). ProxyHeaderError when the connection does not
    start with a well-formed header.
    """
    start = await _read_exact(sock, V1_MIN)
    if start.startswith(V1_PREFIX):
        return parse_v1(await _read_v1_line(sock, start))
    if start.startswith(V2_SIGNATURE):
        fixed = start + await _read_exact(sock, _V2_FIXED - V1_MIN)
        rest = await _read_exact(sock, v2_length(fixed))
        return parse_v2(fixed + rest)
    raise ProxyHeaderError("no PROXY header from a peer that must send one")


async def _read_v1_line(sock: socket.socket, start: bytes) -> bytes:
    line = start
    while True:
        end = line.find(b"\r\n")
        if end >= 0:
            if end + 2 != len(line):  # only possible for the first read: CRLF inside 15 bytes
                raise ProxyHeaderError("malformed PROXY v1 header")
            return line
        if len(line) >= V1_MAX:
            raise ProxyHeaderError(f"PROXY v1 header longer than {V1_MAX} bytes")
        # Peek, then take only up to the CRLF: the request after the header stays unread.
        ahead = await _recv(sock, V1_MAX - len(line), peek=True)
        joined = line + ahead
        end = joined.find(b"\r\n", max(len(line) - 1, 0))
        take = len(ahead) if end < 0 else end + 2 - len(line)
        line += await _read_exact(sock, take)


async def _read_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        data += await _recv(sock, count - len(data))
    return data


async def _recv(sock: socket.socket, limit: int, *, peek: bool = False) -> bytes:
    flags = socket.MSG_PEEK if peek else 0
    while True:
        try:
            data = sock.recv(limit, flags)
        except (BlockingIOError, InterruptedError):
            await _readable(sock)
            continue
        if not data:
            raise ConnectionClosed("connection closed before the PROXY header was complete")
        return data


async def peek_start(sock: socket.socket) -> bool:
    """Whether `sock` starts with a PROXY header, without reading anything off it."""
    while True:
        decided = starts_like_a_header(await _recv(sock, len(V2_SIGNATURE), peek=True))
        if decided is not None:
            return decided
        # The bytes seen are still in the socket, so it stays readable: wait a little instead.
        await asyncio.sleep(_POLL_SECONDS)


async def _readable(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    fd = sock.fileno()

    def ready() -> None:
        if not waiter.done():
            waiter.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await waiter
    finally:
        loop.remove_reader(fd)

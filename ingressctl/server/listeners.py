"""Listening sockets for entrypoints, with one clear line when an address cannot be bound."""

from __future__ import annotations

import errno
import socket

from ingressctl.model import ConfigError


def split_address(address: str) -> tuple[str, int]:
    """ "host:port", ":port" or "[v6]:port" → (host, port); host "" means every interface."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"address {address!r} is not HOST:PORT or :PORT")
    return host.strip("[]"), int(port)


def bind_socket(
    name: str, address: str, *, reuse_port: bool = False, port: int | None = None, tls: bool = False
) -> socket.socket:
    """A bound (not yet listening) TCP socket for entrypoint `name`; ConfigError naming the fix on failure.

    ":PORT" and "[::]:PORT" listen on IPv6 and IPv4 alike (one IPv6 socket with IPV6_V6ONLY off, as Go
    and so Traefik do); ":PORT" falls back to IPv4 alone on a host without IPv6. "0.0.0.0:PORT" is
    IPv4 only (where Go would listen on both: an explicit IPv4 address means IPv4 here).
    `port` overrides the address's port (workers bind the port the supervisor already reserved).
    """
    try:
        return open_listener(address, reuse_port=reuse_port, port=port)
    except OSError as exc:
        raise ConfigError(bind_error_message(name, address, exc, tls=tls)) from None


def open_listener(address: str, *, reuse_port: bool = False, port: int | None = None) -> socket.socket:
    """A bound, non-blocking TCP socket for `address` (every listener: entrypoints, API, ping), with
    ":PORT" dual stack as bind_socket says; OSError when it cannot be bound."""
    host, addr_port = split_address(address)
    if port is None:
        port = addr_port
    if host in ("", "::"):
        try:
            return _bind(socket.AF_INET6, "::", port, reuse_port, dual_stack=True)
        except OSError as exc:
            if host or exc.errno not in _NO_IPV6:
                raise
        return _bind(socket.AF_INET, "0.0.0.0", port, reuse_port)
    return _bind(socket.AF_INET6 if ":" in host else socket.AF_INET, host, port, reuse_port)


# What binding "::" fails with on a host whose kernel has IPv6 off.
_NO_IPV6 = (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT)


def _bind(
    family: socket.AddressFamily, host: str, port: int, reuse_port: bool, *, dual_stack: bool = False
) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            # Explicit either way: the kernel default (net.ipv6.bindv6only) differs between hosts.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual_stack else 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def sees_mapped_ipv4(sock: socket.socket) -> bool:
    """True for a dual-stack socket, whose IPv4 peers appear as "::ffff:a.b.c.d"."""
    if sock.family != socket.AF_INET6:
        return False
    return sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0


def bind_error_message(name: str, address: str, exc: OSError, *, tls: bool = False) -> str:
    """`tls`: the entrypoint has TLS, whose address only the file can change (--entrypoint refuses it)."""
    where = f"cannot listen on {address} for entrypoint {name!r}"
    in_file = f"change entryPoints.{name}.address in the configuration file"
    if exc.errno == errno.EADDRINUSE:
        move = in_file if tls else f"pass --entrypoint {name}=:PORT"
        return f"{where}: address already in use; stop the other server or {move}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        move = in_file + " to" if tls else f"pass --entrypoint {name}=:8000 or another"
        return (
            f"{where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE); "
            f"{move} port above 1023"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: the address is not on this machine; use :PORT to listen on every interface"
    return f"{where}: {exc.strerror or exc}"


def bound_address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

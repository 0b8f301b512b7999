"""Tunables of the request path (timeouts, buffer sizes, pool limits)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProxyOptions:
    connect_timeout: float = 5.0
    # From the end of the request to the upstream's response status line and headers.
    response_header_timeout: float = 60.0
    # Longest silence while a body streams, in either direction.
    idle_timeout: float = 90.0
    # Idle keep-alive connections to upstreams are closed after this long.
    pool_idle_seconds: float = 60.0
    # Idle keep-alive connections kept per upstream address.
    pool_max_idle_per_upstream: int = 64
    # Bytes buffered from an upstream before reading pauses (backpressure). One socket read
    # (up to 256 KiB with uvloop) is enough to keep the client side busy; more only costs memory.
    read_high_water: int = 64 * 1024
    # Ejection after a connection failure: base * 2**(failures-1), capped.
    eject_base_seconds: float = 1.0
    eject_max_seconds: float = 30.0
    # Largest response head accepted from an upstream.
    max_head_bytes: int = 64 * 1024

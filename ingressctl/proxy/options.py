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
    # Idle keep-alive connections kept per upstream address: Traefik's default (maxIdleConnsPerHost
    # 200). At 64, 160 concurrent HTTP/2 streams (h2load -c16 -m10) opened a new upstream
    # connection for one request in four.
    pool_max_idle_per_upstream: int = 200
    # Streams one upstream HTTP/2 connection carries at once (h2c/h2 backends); beyond, another opens.
    h2_max_streams_per_connection: int = 100
    # HTTP/2 connections kept open to one upstream address at most: with every stream of every one
    # of them busy (the backend's SETTINGS_MAX_CONCURRENT_STREAMS may be far below the bound above),
    # a request waits up to connect_timeout for a stream to finish instead of opening yet another.
    h2_max_connections_per_upstream: int = 16
    # Bytes buffered from an upstream before reading pauses (backpressure); bounds memory per
    # stream. Measured with 1 MiB bodies at 16 connections and one shared read buffer: 256 KiB
    # cost +7.4 MB of peak RSS, 128 KiB +5.3 MB, 64 KiB +3.8 MB; CPU per MiB was about 5 % higher
    # at 64 KiB than at 256 KiB, and throughput differences were within the machine's noise.
    read_high_water: int = 128 * 1024
    # Ejection after a connection failure: base * 2**(failures-1), capped.
    eject_base_seconds: float = 1.0
    eject_max_seconds: float = 30.0
    # Move large Content-Length bodies between plain-TCP sockets with splice(2) (see proxy/splice.py).
    splice: bool = True
    # Largest response head accepted from an upstream.
    max_head_bytes: int = 64 * 1024

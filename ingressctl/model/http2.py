"""HTTP/2 on an entrypoint ([entryPoints.NAME.http2]): whether it is offered, and its limits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Http2Settings:
    """HTTP/2 to clients on one entrypoint; README "HTTP/2 and gRPC" documents each field.

    The windows bound what one connection can make the proxy buffer (a client may send up to the
    connection window before the proxy has read anything); the rates bound the work a client can
    cause without sending requests (CVE-2023-44487 rapid reset, SETTINGS/PING/empty-DATA floods).
    """

    # ALPN "h2" (before "http/1.1") on a TLS entrypoint.
    enabled: bool = True
    # HTTP/2 with prior knowledge (h2c) on a plain entrypoint: off unless asked for.
    h2c: bool = False
    # SETTINGS_MAX_CONCURRENT_STREAMS (Traefik's default).
    max_concurrent_streams: int = 250
    # SETTINGS_MAX_HEADER_LIST_SIZE: the decoded request head (names + values + 32 per field), and the
    # bound on a header block's encoded bytes across CONTINUATION frames (CVE-2024-27316).
    max_header_list_size: int = 65536
    # SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table the client may make the proxy keep.
    header_table_size: int = 4096
    # Flow-control windows the proxy grants for request bodies.
    initial_stream_window: int = 262144
    initial_connection_window: int = 1048576
    # Streams a client may reset (or have refused) per second, with a burst of twice that, before the
    # connection is closed with ENHANCE_YOUR_CALM.
    max_resets_per_second: int = 100
    # SETTINGS, PING and empty DATA frames a client may send per second (burst: twice that).
    max_control_frames_per_second: int = 100

    @property
    def protocols_tls(self) -> tuple[str, ...]:
        """What a TLS entrypoint offers in ALPN, in order of preference."""
        return ("h2", "http/1.1") if self.enabled else ("http/1.1",)

    def protocols(self, tls: bool) -> tuple[str, ...]:
        """The protocols an entrypoint serves: shown by routes, the API and the dashboard."""
        if tls:
            return self.protocols_tls
        return ("http/1.1", "h2c") if self.h2c else ("http/1.1",)

"""[entryPoints.NAME.http2]: HTTP/2 to clients (Traefik v2/v3 name the table the same way and share
maxConcurrentStreams; the other keys are ingressctl's own)."""

from __future__ import annotations

from ingressctl.config.reader import Section
from ingressctl.model.http2 import Http2Settings

# RFC 9113 6.5.2: a window is at most 2^31-1; a frame at least 16384 bytes.
_MAX_WINDOW = 2**31 - 1
_MIN_WINDOW = 65535


def read_http2(section: Section, tls: bool) -> Http2Settings:
    defaults = Http2Settings()
    enabled = section.boolean("enabled")
    h2c = section.boolean("h2c")
    streams = section.integer("maxConcurrentStreams", minimum=1)
    header_list = section.integer("maxHeaderListSize", minimum=4096)
    table = section.integer("headerTableSize", minimum=0)
    stream_window = section.integer("initialStreamWindowSize", minimum=_MIN_WINDOW)
    connection_window = section.integer("initialConnectionWindowSize", minimum=_MIN_WINDOW)
    resets = section.integer("maxResetsPerSecond", minimum=1)
    control = section.integer("maxControlFramesPerSecond", minimum=1)
    for key, value in (
        ("initialStreamWindowSize", stream_window),
        ("initialConnectionWindowSize", connection_window),
    ):
        if value is not None and value > _MAX_WINDOW:
            section.problems.error((*section.path, key), f"{section.name(key)} must be at most {_MAX_WINDOW}")
    if h2c and tls:
        section.problems.warn(
            (*section.path, "h2c"),
            f"{section.name('h2c')} applies to plain entrypoints only: a TLS entrypoint offers h2 by ALPN "
            "(ignored)",
        )
    section.finish()
    return Http2Settings(
        enabled=defaults.enabled if enabled is None else enabled,
        h2c=bool(h2c) and not tls,
        max_concurrent_streams=streams or defaults.max_concurrent_streams,
        max_header_list_size=header_list or defaults.max_header_list_size,
        header_table_size=defaults.header_table_size if table is None else table,
        initial_stream_window=min(stream_window or defaults.initial_stream_window, _MAX_WINDOW),
        initial_connection_window=min(connection_window or defaults.initial_connection_window, _MAX_WINDOW),
        max_resets_per_second=resets or defaults.max_resets_per_second,
        max_control_frames_per_second=control or defaults.max_control_frames_per_second,
    )

"""[entryPoints.NAME.transport]: the connection limits, their defaults, and refusals naming the line."""

from __future__ import annotations

from collections.abc import Callable

from ingressctl.model.config import ConnectionLimits, StaticConfig

Problems = Callable[..., list[str]]
Load = Callable[..., StaticConfig]


def test_defaults_without_a_transport_table(load: Load) -> None:
    config = load('[entryPoints.web]\naddress = ":80"\n')
    limits = config.entrypoints[0].limits
    assert limits == ConnectionLimits()
    assert (limits.read_header_timeout, limits.idle_timeout) == (30.0, 180.0)
    assert (limits.max_connections, limits.max_pipelined_requests) == (0, 32)


def test_every_key_is_read(load: Load) -> None:
    config = load(
        """
        [entryPoints.web]
        address = ":80"
          [entryPoints.web.transport]
          maxConnections = 500
          maxPipelinedRequests = 4
            [entryPoints.web.transport.respondingTimeouts]
            readHeaderTimeout = "5s"
            idleTimeout = 60
        """
    )
    assert config.entrypoints[0].limits == ConnectionLimits(
        read_header_timeout=5.0, idle_timeout=60.0, max_connections=500, max_pipelined_requests=4
    )


def test_bad_values_are_refused_with_their_line(problems: Problems) -> None:
    assert problems(
        """
        [entryPoints.web]
        address = ":80"
          [entryPoints.web.transport]
          maxConnections = -1
          maxPipelinedRequests = 0
          maxConnection = 3
            [entryPoints.web.transport.respondingTimeouts]
            readHeaderTimeout = "soon"
            idleTimeout = "0s"
        """
    ) == [
        "traefik.toml:4: entryPoints.web.transport.maxConnections must be an integer >= 0, got -1",
        "traefik.toml:5: entryPoints.web.transport.maxPipelinedRequests must be an integer >= 1, got 0",
        "traefik.toml:6: unknown key entryPoints.web.transport.maxConnection "
        '(did you mean "maxConnections"?)',
        "traefik.toml:8: entryPoints.web.transport.respondingTimeouts.readHeaderTimeout must be a duration "
        'in seconds or like "10s", "500ms", got "soon"',
        "traefik.toml:9: entryPoints.web.transport.respondingTimeouts.idleTimeout must be more than 0 "
        '(a duration like "30s")',
    ]


def test_traefik_whole_request_timeouts_are_a_warning(load: Load) -> None:
    config = load(
        """
        [entryPoints.web]
        address = ":80"
          [entryPoints.web.transport.respondingTimeouts]
          readTimeout = "10s"
        """
    )
    warnings = config.warnings
    assert any("respondingTimeouts.readTimeout is not supported" in w for w in warnings), warnings

"""[entryPoints.NAME.http2] and the --entrypoint options h2c / no-h2: defaults, every key, refusals."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ingressctl.config import ConfigOverrides, StaticConfigError, load_static_config
from ingressctl.model.config import StaticConfig
from ingressctl.model.http2 import Http2Settings

Problems = Callable[..., list[str]]
Load = Callable[..., StaticConfig]


def test_defaults_h2_on_tls_and_no_h2c(load: Load) -> None:
    config = load(
        '[entryPoints.web]\naddress = ":80"\n[entryPoints.tls]\naddress = ":443"\n  [entryPoints.tls.tls]\n'
    )
    web, tls = config.entrypoints
    assert web.http2 == tls.http2 == Http2Settings()
    assert web.http2.protocols(tls=False) == ("http/1.1",)
    assert tls.http2.protocols(tls=True) == ("h2", "http/1.1")
    assert tls.http2.max_concurrent_streams == 250


def test_every_key_is_read(load: Load) -> None:
    config = load(
        """
        [entryPoints.web]
        address = ":80"
          [entryPoints.web.http2]
          h2c = true
          maxConcurrentStreams = 100
          maxHeaderListSize = 32768
          headerTableSize = 0
          initialStreamWindowSize = 65535
          initialConnectionWindowSize = 4194304
          maxResetsPerSecond = 20
          maxControlFramesPerSecond = 50
        [entryPoints.tls]
        address = ":443"
          [entryPoints.tls.tls]
          [entryPoints.tls.http2]
          enabled = false
        """
    )
    web, tls = config.entrypoints
    assert web.http2 == Http2Settings(
        h2c=True,
        max_concurrent_streams=100,
        max_header_list_size=32768,
        header_table_size=0,
        initial_stream_window=65535,
        initial_connection_window=4194304,
        max_resets_per_second=20,
        max_control_frames_per_second=50,
    )
    assert web.http2.protocols(tls=False) == ("http/1.1", "h2c")
    assert tls.http2.protocols(tls=True) == ("http/1.1",)


def test_bad_values_are_refused_with_their_line(problems: Problems) -> None:
    assert problems(
        """
        [entryPoints.web]
        address = ":80"
          [entryPoints.web.http2]
          maxConcurrentStreams = 0
          initialStreamWindowSize = 2147483648
          h2c = "yes"
          maxConcurentStreams = 5
        """
    ) == [
        "traefik.toml:4: entryPoints.web.http2.maxConcurrentStreams must be an integer >= 1, got 0",
        "traefik.toml:5: entryPoints.web.http2.initialStreamWindowSize must be at most 2147483647",
        'traefik.toml:6: entryPoints.web.http2.h2c must be true or false, got "yes"',
        "traefik.toml:7: unknown key entryPoints.web.http2.maxConcurentStreams "
        '(did you mean "maxConcurrentStreams"?)',
    ]


def test_h2c_on_a_tls_entrypoint_is_ignored_with_a_warning(load: Load) -> None:
    config = load(
        '[entryPoints.tls]\naddress = ":443"\n  [entryPoints.tls.tls]\n'
        "  [entryPoints.tls.http2]\n  h2c = true\n"
    )
    assert config.entrypoints[0].http2.h2c is False
    assert any("h2c applies to plain entrypoints only" in w for w in config.warnings)


def flags(*values: str) -> ConfigOverrides:
    return ConfigOverrides(entrypoints=tuple(tuple(v.split("=", 1)) for v in values))  # type: ignore[arg-type]


def test_flags_h2c_and_no_h2() -> None:
    config = load_static_config(None, flags("web=:8000,h2c", "websecure=:8443,tls,no-h2"))
    by_name = {ep.name: ep for ep in config.entrypoints}
    assert by_name["web"].http2.protocols(tls=False) == ("http/1.1", "h2c")
    assert by_name["websecure"].http2.protocols(tls=True) == ("http/1.1",)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "web=:80,tls,h2c",
            "--entrypoint web=:80,tls,h2c: h2c is HTTP/2 on a plain entrypoint; a tls entrypoint "
            "offers h2 by ALPN",
        ),
        (
            "web=:80,no-h2",
            "--entrypoint web=:80,no-h2: no-h2 turns off h2 in ALPN on a tls entrypoint; add ,tls "
            "or leave it out",
        ),
    ],
)
def test_flag_mistakes_are_refused(value: str, message: str) -> None:
    with pytest.raises(StaticConfigError) as caught:
        load_static_config(None, flags(value))
    assert caught.value.problems == [message]

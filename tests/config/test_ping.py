"""[ping] and --ping-address: where the unauthenticated /ping and /ready listener goes."""

from __future__ import annotations

from collections.abc import Callable

from ingressctl.config import ConfigOverrides
from ingressctl.model.config import StaticConfig

Problems = Callable[..., list[str]]
Load = Callable[..., StaticConfig]

ENTRYPOINTS = """
[entryPoints]
  [entryPoints.http]
  address = ":8000"
  [entryPoints.https]
  address = ":8443"
    [entryPoints.https.tls]
"""


def test_address_is_the_probe_listener(load: Load) -> None:
    static = load(ENTRYPOINTS + '[ping]\naddress = ":8082"\n')
    assert static.ping_address == ":8082"
    assert [e.name for e in static.entrypoints] == ["http", "https"]
    assert static.warnings == ()


def test_traefik_entrypoint_spelling_takes_the_entrypoint_over(load: Load) -> None:
    static = load(ENTRYPOINTS + '  [entryPoints.ping]\n  address = ":8082"\n[ping]\nentryPoint = "ping"\n')
    assert static.ping_address == ":8082"
    assert [e.name for e in static.entrypoints] == ["http", "https"]  # it serves ping, not routes


def test_traefik_default_entrypoint_means_the_api(load: Load) -> None:
    static = load(ENTRYPOINTS + '[api]\naddress = "127.0.0.1:8080"\n[ping]\nentryPoint = "traefik"\n')
    assert static.ping_address == ""


def test_flag_wins_over_the_file(load: Load) -> None:
    static = load(ENTRYPOINTS + '[ping]\naddress = ":8082"\n', ConfigOverrides(ping_address="127.0.0.1:9000"))
    assert static.ping_address == "127.0.0.1:9000"


def test_mistakes_are_named(problems: Problems) -> None:
    assert problems(ENTRYPOINTS + '[ping]\naddress = "8082"\n') == [
        'traefik.toml:8: ping.address "8082": needs a port, like ":80" or "127.0.0.1:8080"'
    ]
    assert problems(ENTRYPOINTS + '[ping]\nadress = ":8082"\n') == [
        'traefik.toml:8: unknown key ping.adress (did you mean "address"?)'
    ]
    assert problems(ENTRYPOINTS + '[ping]\nentryPoint = "health"\n') == [
        'traefik.toml:8: ping.entryPoint "health" is not defined in [entryPoints] '
        '(or write address = ":8082")'
    ]
    assert problems(ENTRYPOINTS + '[ping]\nentryPoint = "https"\n') == [
        'traefik.toml:8: ping.entryPoint "https" has TLS: probes are plain HTTP; use an entrypoint without '
        '[tls] or address = ":8082"'
    ]
    assert problems(ENTRYPOINTS + '[ping]\naddress = ":8082"\nentryPoint = "http"\n') == [
        "traefik.toml:9: ping.address and ping.entryPoint both place /ping: keep one"
    ]


def test_a_port_taken_by_an_entrypoint_or_the_api_is_refused(problems: Problems) -> None:
    assert problems(ENTRYPOINTS + '[ping]\naddress = "127.0.0.1:8000"\n') == [
        "traefik.toml:8: ping address \"127.0.0.1:8000\" is already used by entrypoint 'http' (:8000)"
    ]
    assert problems(
        ENTRYPOINTS + '[api]\naddress = "127.0.0.1:8080"\n', ConfigOverrides(ping_address=":8080")
    ) == [
        'traefik.toml: ping address ":8080" is already used by the API (127.0.0.1:8080), which answers /ping '
        "and /ready itself: choose another port, or drop the ping address"
    ]
    assert problems(ENTRYPOINTS, ConfigOverrides(ping_address="8082")) == [
        '--ping-address "8082": needs a port, like ":80" or "127.0.0.1:8080"'
    ]

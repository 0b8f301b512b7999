"""--entrypoint NAME=ADDR[,tls][,redirect=OTHER][,proxy-protocol=CIDRS] and --default-certificate:
what a flag changes in the file's entrypoint, what it keeps, and the errors naming the bad part."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ingressctl.config import ConfigOverrides, StaticConfigError, load_static_config
from ingressctl.model.config import StaticConfig

Load = Callable[..., StaticConfig]

FILE = """
[entryPoints.http]
address = ":80"
  [entryPoints.http.redirect]
  entryPoint = "https"
  permanent = true
  [entryPoints.http.forwardedHeaders]
  trustedIPs = ["10.0.0.0/8"]
[entryPoints.https]
address = ":443"
  [entryPoints.https.tls]
  minVersion = "VersionTLS13"
  [entryPoints.https.proxyProtocol]
  trustedIPs = ["10.1.0.0/16"]
"""


def flags(*values: str, default_certificate: str | None = None) -> ConfigOverrides:
    pairs = [tuple(v.split("=", 1)) for v in values]
    return ConfigOverrides(entrypoints=pairs, default_certificate=default_certificate)  # type: ignore[arg-type]


def test_flags_alone_define_tls_redirect_and_proxy_protocol() -> None:
    config = load_static_config(
        None,
        flags(
            "web=:8000,redirect=websecure,proxy-protocol=10.0.0.0/8;192.168.1.5",
            "websecure=[::]:8443,tls",
        ),
    )
    web, websecure = config.entrypoints
    assert (web.name, web.address, web.tls) == ("web", ":8000", None)
    assert web.redirect is not None and (web.redirect.entrypoint, web.redirect.permanent) == (
        "websecure",
        False,
    )
    assert web.proxy_protocol is not None
    assert web.proxy_protocol.trusted_ips == ("10.0.0.0/8", "192.168.1.5/32")
    assert (websecure.address, websecure.tls is not None, websecure.redirect) == ("[::]:8443", True, None)
    assert config.default_entrypoints == ("web", "websecure")


def test_a_flag_keeps_what_it_does_not_say(load: Load) -> None:
    config = load(FILE, flags("http=:8000", "https=:8443,tls"))
    http, https = config.entrypoint("http"), config.entrypoint("https")
    assert http is not None and https is not None
    assert http.address == ":8000" and http.redirect is not None and http.redirect.permanent
    assert http.trusted_ips == ("10.0.0.0/8",)
    assert https.address == ":8443" and https.tls is not None and https.tls.min_version == "1.3"
    assert https.proxy_protocol is not None and https.proxy_protocol.trusted_ips == ("10.1.0.0/16",)


def test_what_a_flag_says_wins(load: Load) -> None:
    config = load(
        FILE + '[entryPoints.other]\naddress = ":81"\n',
        flags("http=:8000,redirect=other", "https=:8443,tls,proxy-protocol=192.168.0.0/16"),
    )
    http, https = config.entrypoint("http"), config.entrypoint("https")
    assert http is not None and https is not None
    assert http.redirect is not None and (http.redirect.entrypoint, http.redirect.permanent) == (
        "other",
        False,
    )
    assert https.proxy_protocol is not None and https.proxy_protocol.trusted_ips == ("192.168.0.0/16",)
    # A plain entrypoint of the file becomes a TLS one.
    tls = load(FILE, flags("http=:8000,tls")).entrypoint("http")
    assert tls is not None and tls.tls is not None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "web=:80,tsl",
            '--entrypoint web=:80,tsl: unknown part "tsl" (after the address: tls, redirect=OTHER, '
            'proxy-protocol=CIDR;CIDR, h2c, no-h2) (did you mean "tls"?)',
        ),
        ("web=80", '--entrypoint web=80: address "80" needs a port, like ":80" or "127.0.0.1:8080"'),
        (
            "web=:80,proxy-protocol=10.0.0.0/8;10.0.0.300",
            '--entrypoint web=:80,proxy-protocol=10.0.0.0/8;10.0.0.300: proxy-protocol "10.0.0.300" is not '
            "an IP address or CIDR (separate several with ';', like proxy-protocol=10.0.0.0/8;192.168.1.5)",
        ),
        (
            "web=:80,redirect=websecure",
            '--entrypoint web=:80,redirect=websecure: redirect=websecure: no entrypoint "websecure" is '
            "defined (define it with --entrypoint websecure=ADDR,tls)",
        ),
        (
            "web=:80,redirect=web",
            "--entrypoint web=:80,redirect=web: redirect=web redirects entrypoint web to itself",
        ),
        (
            "web=:80,redirect=",
            "--entrypoint web=:80,redirect=: redirect= needs the name of an entrypoint, "
            "like redirect=websecure",
        ),
        ("w.b=:80", "--entrypoint w.b=:80: may hold only letters, digits, '-' and '_'"),
    ],
)
def test_errors_name_the_flag_and_the_bad_part(value: str, message: str) -> None:
    with pytest.raises(StaticConfigError) as caught:
        load_static_config(None, flags(value))
    assert caught.value.problems == [message]


def test_an_entrypoint_given_twice_is_refused() -> None:
    with pytest.raises(StaticConfigError) as caught:
        load_static_config(None, flags("web=:8000", "web=:8001,tls"))
    assert caught.value.problems == [
        "--entrypoint web=:8001,tls: entrypoint web is already given by --entrypoint web=:8000"
    ]


def test_a_file_proxy_protocol_without_trusted_addresses_is_refused(
    problems: Callable[..., list[str]],
) -> None:
    assert problems('[entryPoints.web]\naddress = ":80"\n  [entryPoints.web.proxyProtocol]\n') == [
        "traefik.toml:3: [entryPoints.web.proxyProtocol] needs trustedIPs (the load balancers' addresses) "
        "or insecure = true (every peer must send a PROXY header)"
    ]
    config = load_static_config(None, ConfigOverrides())
    assert all(e.proxy_protocol is None for e in config.entrypoints)


def test_file_proxy_protocol_insecure_trusts_every_peer(load: Load) -> None:
    web = load(
        '[entryPoints.web]\naddress = ":80"\n  [entryPoints.web.proxyProtocol]\n  insecure = true\n'
    ).entrypoint("web")
    assert web is not None and web.proxy_protocol is not None
    assert web.proxy_protocol.trusted_ips == ("0.0.0.0/0", "::/0")


def test_default_certificate_flag(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    config = load_static_config(
        None, flags("web=:80", default_certificate=f"{tmp_path}/c.pem,{tmp_path}/k.pem")
    )
    assert config.default_certificate is not None
    assert config.default_certificate.cert_file == str(tmp_path / "c.pem")
    for value, message in (
        (f"{tmp_path}/c.pem", "expected CERT,KEY (two PEM files), like /etc/tls/tls.crt,/etc/tls/tls.key"),
        (f"{tmp_path}/c.pem,{tmp_path}/nope.pem", f"file '{tmp_path}/nope.pem' does not exist"),
    ):
        with pytest.raises(StaticConfigError) as caught:
            load_static_config(None, flags("web=:80", default_certificate=value))
        assert caught.value.problems == [f"--default-certificate {value}: {message}"]

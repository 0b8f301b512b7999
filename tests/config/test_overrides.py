"""Defaults without a file, command-line overrides over the file, and the compiler options."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ingressctl.config import ConfigOverrides, compile_options, load_static_config
from ingressctl.model import ConfigError
from ingressctl.model.config import StaticConfig
from ingressctl.routing.options import CompileOptions

Load = Callable[..., StaticConfig]


def test_defaults_without_a_file_are_http_and_https_like_traefik() -> None:
    config = load_static_config(None, ConfigOverrides())
    assert [(e.name, e.address, e.tls is not None) for e in config.entrypoints] == [
        ("http", ":80", False),
        ("https", ":443", True),
    ]
    assert config.default_entrypoints == ("http", "https")
    assert config.acme is None and config.api is None and config.kubernetes is None
    assert config.source == "" and config.warnings == ()
    assert compile_options(config) == CompileOptions(
        default_entrypoints=("http", "https"), entrypoint_ports=(("http", 80, False), ("https", 443, True))
    )


def test_entrypoint_flags_replace_the_defaults_and_move_plain_http_entrypoints(
    load: Load, apr1_hash: Callable[[str], str]
) -> None:
    assert [
        (e.name, e.address, e.tls)
        for e in load_static_config(None, ConfigOverrides(entrypoints=[("web", ":0")])).entrypoints
    ] == [("web", ":0", None)]
    config = load(
        f"""
        [entryPoints.http]
        address = ":80"
        [entryPoints.http.redirect]
        entryPoint = "https"
        [entryPoints.http.auth.basic]
        users = ["ops:{apr1_hash("pw")}"]
        [entryPoints.http.forwardedHeaders]
        trustedIPs = ["10.0.0.0/8"]
        [entryPoints.https]
        address = ":443"
        [entryPoints.https.tls]
        """,
        ConfigOverrides(entrypoints=[("http", "127.0.0.1:8000"), ("extra", ":9000")]),
    )
    http = config.entrypoint("http")
    # Only the address comes from the flag: the redirect, auth and trust of the file still apply.
    assert http is not None and http.address == "127.0.0.1:8000" and http.tls is None
    assert http.redirect is not None and http.redirect.entrypoint == "https"
    assert http.auth is not None and [user for user, _ in http.auth.users] == ["ops"]
    assert http.trusted_ips == ("10.0.0.0/8",)
    https = config.entrypoint("https")
    assert https is not None and https.address == ":443" and https.tls is not None
    extra = config.entrypoint("extra")
    assert extra is not None and extra.address == ":9000"
    assert (extra.tls, extra.redirect, extra.auth, extra.trusted_ips) == (None, None, None, ())
    assert config.default_entrypoints == ("http", "https", "extra")


def test_entrypoint_flag_refuses_a_tls_entrypoint_of_the_file(problems: Callable[..., list[str]]) -> None:
    assert problems(
        """
        [entryPoints.http]
        address = ":80"
        [entryPoints.https]
        address = ":443"
          [entryPoints.https.tls]
        """,
        ConfigOverrides(entrypoints=[("https", "127.0.0.1:8443"), ("http", ":8000")]),
    ) == [
        "--entrypoint https=127.0.0.1:8443: entrypoint https is a TLS entrypoint in traefik.toml:5; add ,tls "
        "to keep it one (--entrypoint https=127.0.0.1:8443,tls)"
    ]


def test_entrypoint_flag_refuses_the_entrypoint_the_api_took_over(problems: Callable[..., list[str]]) -> None:
    assert problems(
        """
        [entryPoints.http]
        address = ":80"
        [entryPoints.traefik]
        address = ":8080"
        [api]
        entryPoint = "traefik"
        """,
        ConfigOverrides(entrypoints=[("traefik", "127.0.0.1:9090")]),
    ) == [
        "--entrypoint traefik=127.0.0.1:9090: entrypoint traefik serves the API (api.entryPoint in "
        "traefik.toml:6): use --api-address 127.0.0.1:9090"
    ]


def test_a_flag_can_define_the_entrypoint_a_file_refers_to(load: Load) -> None:
    config = load(
        """
        defaultEntryPoints = ["web"]
        [entryPoints.http]
        address = ":80"
        [entryPoints.http.redirect]
        entryPoint = "web"
        """,
        ConfigOverrides(entrypoints=[("web", ":8000")]),
    )
    assert config.default_entrypoints == ("web",)


def test_scalar_flags_win_over_the_file(load: Load, tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("pem")
    config = load(
        """
        logLevel = "ERROR"
        [traefikLog]
        format = "common"
        [api]
        address = ":8080"
        [acme]
        email = "file@example.com"
        entryPoint = "https"
        [entryPoints.http]
        address = ":80"
        [entryPoints.https]
        address = ":443"
        [entryPoints.https.tls]
        [ingressctl]
        workers = 2
        ingressClass = "fromfile"
        manifests = ["a/"]
        """,
        ConfigOverrides(
            api_address="127.0.0.1:9999",
            api_insecure=True,
            workers=4,
            log_level="debug",
            log_format="json",
            access_log=True,
            manifests=["b/"],
            ingress_class="flag",
            controller_name="x.io/c",
            allow_external_name_services=True,
            acme_email="flag@example.com",
            acme_ca_server="letsencrypt",
            acme_storage="secret:ingress/acme",
            acme_on_host_rule=True,
            acme_on_demand=False,
            acme_ca_bundle=str(tmp_path / "ca.pem"),
        ),
    )
    assert config.api is not None and config.api.address == "127.0.0.1:9999" and config.api.insecure
    assert (config.workers, config.log_level, config.log_format, config.access_log) == (
        4,
        "DEBUG",
        "json",
        True,
    )
    assert config.manifests == ("b/",)
    assert (config.ingress_class, config.controller_name) == ("flag", "x.io/c")
    assert config.allow_external_name_services
    acme = config.acme
    assert acme is not None
    assert acme.email == "flag@example.com"
    assert acme.ca_server == "https://acme-v02.api.letsencrypt.org/directory"
    assert acme.storage == "secret:ingress/acme"
    assert acme.on_host_rule and not acme.on_demand
    assert acme.ca_bundle == str(tmp_path / "ca.pem")
    assert compile_options(config).acme_enabled


def test_acme_flags_alone_enable_acme() -> None:
    config = load_static_config(None, ConfigOverrides(acme_email="a@example.com", acme_on_host_rule=True))
    assert (
        config.acme is not None
        and config.acme.entrypoint == "https"
        and config.acme.http_entrypoint == "http"
    )
    assert compile_options(config).acme_enabled
    # ...but the entrypoints it needs must exist.
    with pytest.raises(ConfigError, match=r'acme\.entryPoint "https" is not defined'):
        load_static_config(None, ConfigOverrides(entrypoints=[("web", ":0")], acme_email="a@example.com"))


def test_relative_paths_resolve_against_the_config_directory(tmp_path: Path) -> None:
    conf_dir = tmp_path / "etc" / "ingressctl"
    (conf_dir / "tls").mkdir(parents=True)
    for name in ("a.crt", "a.key"):
        (conf_dir / "tls" / name).write_text("pem")
    (conf_dir / "traefik.toml").write_text(
        '[entryPoints.https]\naddress = ":443"\n[entryPoints.https.tls]\n'
        '[[entryPoints.https.tls.certificates]]\ncertFile = "tls/a.crt"\nkeyFile = "tls/a.key"\n'
        '[acme]\nstorage = "state/acme.json"\n[acme.tlsChallenge]\n'
        '[ingressctl]\nmanifests = ["../manifests"]\n'
    )
    # Loaded from another working directory, through a relative path.
    relative = str((conf_dir / "traefik.toml").relative_to(tmp_path))
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        config = load_static_config(relative, ConfigOverrides())
    finally:
        os.chdir(old)
    https = config.entrypoint("https")
    assert https is not None and https.tls is not None
    assert https.tls.certificates[0].cert_file == str(conf_dir / "tls" / "a.crt")
    assert config.acme is not None and config.acme.storage == str(conf_dir / "state" / "acme.json")
    assert config.manifests == (str(tmp_path / "etc" / "manifests"),)


def test_inline_pem_certificates_are_kept_as_text(load: Load) -> None:
    config = load(
        '''
        [entryPoints.https]
        address = ":443"
        [entryPoints.https.tls]
        [[entryPoints.https.tls.certificates]]
        certFile = """-----BEGIN CERTIFICATE-----
        MIIB
        -----END CERTIFICATE-----"""
        keyFile = """-----BEGIN PRIVATE KEY-----
        MIIB
        -----END PRIVATE KEY-----"""
        '''
    )
    https = config.entrypoint("https")
    assert https is not None and https.tls is not None
    assert https.tls.certificates[0].cert_file.startswith("-----BEGIN CERTIFICATE-----")


def test_api_on_a_traefik_entrypoint_and_web_legacy_table(load: Load) -> None:
    config = load(
        """
        [entryPoints.http]
        address = ":80"
        [api]
        entryPoint = "traefik"
        """
    )
    assert config.api is not None and config.api.address == ":8080"
    assert [e.name for e in config.entrypoints] == ["http"]
    config = load(
        """
        [entryPoints.http]
        address = ":80"
        [web]
        address = "127.0.0.1:7070"
        readOnly = true
        """
    )
    assert config.api is not None and config.api.address == "127.0.0.1:7070"


def test_kubernetes_ingress_class_and_default_class(load: Load) -> None:
    config = load('[entryPoints.http]\naddress = ":80"\n[kubernetes]\n')
    assert config.kubernetes is not None
    options = compile_options(config)
    assert options.ingress_class == "ingressctl" and options.extra_classes == ("traefik",)
    assert not options.acme_enabled


def test_durations_in_traefik_style(load: Load) -> None:
    config = load(
        """
        graceTimeOut = "1m30s"
        [entryPoints.http]
        address = ":80"
        [kubernetes]
        throttleDuration = "250ms"
        """
    )
    assert config.grace_period_seconds == 90.0
    assert config.throttle_seconds == 0.25


def test_access_log_format_flag_turns_the_log_on() -> None:
    config = load_static_config(None, ConfigOverrides(access_log_format="json"))
    assert config.access_log and config.access_log_format == "json"
    config = load_static_config(None, ConfigOverrides(access_log_format="common", access_log=False))
    assert not config.access_log
    with pytest.raises(ConfigError, match="--access-log-format"):
        load_static_config(None, ConfigOverrides(access_log_format="xml"))


def test_a_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbf[entryPoints.http]\naddress = ":81"\n')
    assert load_static_config(str(path), ConfigOverrides()).entrypoints[0].port == 81

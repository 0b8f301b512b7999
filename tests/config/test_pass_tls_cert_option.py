"""[kubernetes] enablePassTLSCert (Traefik 1.7): read from the file, handed to the compiler as the
default of every Ingress's pass-tls-cert."""

from __future__ import annotations

from collections.abc import Callable

from ingressctl.config.options import compile_options
from ingressctl.model.config import StaticConfig
from ingressctl.routing.annotations_client_cert_headers import parse_client_cert_headers
from tests.routing.builders import ingress

Load = Callable[..., StaticConfig]
Problems = Callable[..., list[str]]
HEAD = '[entryPoints.http]\naddress = ":80"\n[kubernetes]\n'


def test_the_option_reaches_the_compile_options(load: Load) -> None:
    assert compile_options(load(HEAD + "enablePassTLSCert = true\n")).pass_tls_cert
    assert not compile_options(load(HEAD)).pass_tls_cert


def test_a_value_that_is_not_a_boolean_is_refused_with_its_line(problems: Problems) -> None:
    (line,) = problems(HEAD + 'enablePassTLSCert = "yes"\n')
    assert "traefik.toml:4" in line and "enablePassTLSCert" in line


def test_the_default_passes_the_certificate_unless_the_ingress_says_false() -> None:
    plain, found = parse_client_cert_headers(ingress("a"), True)
    assert found == [] and plain.headers is not None and plain.headers.traefik_pem
    assert plain.headers.annotations == ("[kubernetes] enablePassTLSCert",)
    own = ingress("b", annotations={"traefik.ingress.kubernetes.io/pass-tls-cert": "false"})
    off, _ = parse_client_cert_headers(own, True)
    assert off.headers is not None and not off.headers.traefik_pem
    assert parse_client_cert_headers(ingress("c"), False)[0].headers is None

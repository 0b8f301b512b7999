"""onHostRule through the real `serve` process: a host that appears at run time is issued and served.

Every HTTPS check is a real handshake verified against Pebble's root (the CA that issued the certificate),
so "served with the certificate" means exactly what a browser would accept.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable

import pytest

from ingressctl.security.htpasswd import apr1
from tests.support.manifests import app_manifest

from .conftest import Site
from .lab import (
    Answer,
    Serve,
    acme_config,
    dns_names,
    htpasswd_secret,
    http_get,
    https_get,
    pebble_orders,
    self_signed,
    tls_ingress,
    tls_secret,
    wait_verified,
    write_manifest,
)

pytestmark = pytest.mark.timeout(60)


def test_http01_host_added_at_run_time_is_issued_and_served(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    site.config.write_text(acme_config(site.pebble, site.storage))
    sp = start_serve(site)
    https = sp.addresses["https"]
    before = https_get(https, "shop.example.test", cafile=None)
    assert "shop.example.test" not in dns_names(before.leaf)  # not served before the Ingress exists

    written = time.monotonic()
    write_manifest(site.manifests, "shop", tls_ingress("shop", "shop.example.test", backend_port))
    answer, served = wait_verified(https, "shop.example.test", site.root_ca)

    assert answer.body == b"backend shop.example.test /"
    assert dns_names(answer.leaf) == ["shop.example.test"]
    assert served - written < 5.0, sp.text  # the benchmark measures it; typically well under 1 s
    assert stat.S_IMODE(os.stat(site.storage).st_mode) == 0o600
    assert "shop.example.test" in site.storage.read_text()
    assert sp.count(r"requesting a certificate for shop\.example\.test") == 1


def test_tls_alpn01_validates_on_the_https_entrypoint(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    # Pebble validates TLS-ALPN-01 on its tlsPort: the https entrypoint listens there; nothing on httpPort.
    site.config.write_text(
        acme_config(
            site.pebble, site.storage, challenge="tls", https_address=f"127.0.0.1:{site.pebble.tls_port}"
        )
    )
    sp = start_serve(site)
    write_manifest(site.manifests, "alpn", tls_ingress("alpn", "alpn.example.test", backend_port))
    answer, _ = wait_verified(sp.addresses["https"], "alpn.example.test", site.root_ca)
    assert answer.body == b"backend alpn.example.test /"
    assert dns_names(answer.leaf) == ["alpn.example.test"]


LOCKED = {
    "ingress.kubernetes.io/ssl-redirect": "true",
    "ingress.kubernetes.io/auth-type": "basic",
    "ingress.kubernetes.io/auth-secret": "users",
}


def _write_locked(site: Site, backend_port: int) -> None:
    write_manifest(
        site.manifests,
        "locked",
        tls_ingress("locked", "locked.example.test", backend_port, annotations=LOCKED)
        + "---\n"
        + htpasswd_secret("users", (f"admin:{apr1(b'secret', 'saltsalt')}",)),
    )


def test_http01_is_answered_before_ingress_ssl_redirect_and_basic_auth(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    site.config.write_text(acme_config(site.pebble, site.storage))
    sp = start_serve(site)
    _write_locked(site, backend_port)
    answer = _wait_certificate(sp, site, "locked.example.test")
    assert dns_names(answer.leaf) == ["locked.example.test"]
    # Plain HTTP to the host is redirected and needs auth: the challenge got through only because it
    # is answered first.
    plain = http_get(sp.addresses["http"], "locked.example.test", "/x")
    assert plain is not None and plain.status == 301, plain
    assert plain.headers["location"].startswith("https://locked.example.test")
    assert sp.count(r"requesting a certificate for locked\.example\.test") == 1


def test_ssl_redirect_does_not_redirect_https_to_itself(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    site.config.write_text(acme_config(site.pebble, site.storage))
    sp = start_serve(site)
    _write_locked(site, backend_port)
    answer = _wait_certificate(sp, site, "locked.example.test")
    assert answer.status == 401, answer  # on https: basic auth, not a redirect to itself


def test_http01_is_answered_before_entrypoint_redirect_and_basic_auth(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    site.config.write_text(
        acme_config(
            site.pebble,
            site.storage,
            http_redirect=True,
            http_auth_users=(f"admin:{apr1(b'secret', 'saltsalt')}",),
        )
    )
    sp = start_serve(site)
    write_manifest(site.manifests, "edge", tls_ingress("edge", "edge.example.test", backend_port))
    answer, _ = wait_verified(sp.addresses["https"], "edge.example.test", site.root_ca)
    assert answer.body == b"backend edge.example.test /"
    plain = http_get(sp.addresses["http"], "edge.example.test", "/.well-known/acme-challenge/unknown")
    assert plain is not None and plain.status in (301, 302, 307, 308, 401), (
        plain
    )  # unknown tokens get no pass


def test_ingress_tls_secret_wins_over_acme(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    cert_pem, key_pem = self_signed("own.example.test")
    own_ca = site.root / "own-ca.pem"
    own_ca.write_bytes(cert_pem)
    site.config.write_text(acme_config(site.pebble, site.storage))
    write_manifest(
        site.manifests,
        "own",
        tls_ingress("own", "own.example.test", backend_port, secret="own-tls")
        + "---\n"
        + tls_secret("own-tls", cert_pem, key_pem),
    )
    sp = start_serve(site)
    # A host without a Secret in the same table is issued: the manager is running and saw the table.
    write_manifest(site.manifests, "acme", tls_ingress("acme", "acme.example.test", backend_port))
    wait_verified(sp.addresses["https"], "acme.example.test", site.root_ca)

    answer = https_get(sp.addresses["https"], "own.example.test", cafile=own_ca)
    assert answer.status == 200 and answer.body == b"backend own.example.test /"
    assert sp.count(r"requesting a certificate for .*own\.example\.test") == 0, sp.text
    assert "own.example.test" not in site.storage.read_text()
    assert pebble_orders(site.pebble, site.storage) == [["acme.example.test"]]


def _wait_certificate(sp: Serve, site: Site, host: str) -> Answer:
    """Wait for the issued certificate (HTTP-01 got through); the route itself still demands basic auth."""
    deadline = time.monotonic() + 20
    while True:
        try:
            answer = https_get(sp.addresses["https"], host, cafile=site.root_ca, timeout=2)
            assert dns_names(answer.leaf) == [host]
            return answer
        except OSError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"no verified certificate for {host}: {exc!r}\n{sp.text}") from None
            time.sleep(0.05)


def test_tls_secret_added_later_replaces_the_acme_certificate(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    site.config.write_text(acme_config(site.pebble, site.storage))
    sp = start_serve(site)
    write_manifest(site.manifests, "move", tls_ingress("move", "move.example.test", backend_port))
    wait_verified(sp.addresses["https"], "move.example.test", site.root_ca)

    cert_pem, key_pem = self_signed("move.example.test")
    own_ca = site.root / "own-ca.pem"
    own_ca.write_bytes(cert_pem)
    write_manifest(
        site.manifests,
        "move",
        tls_ingress("move", "move.example.test", backend_port, secret="move-tls")
        + "---\n"
        + tls_secret("move-tls", cert_pem, key_pem),
    )
    answer, _ = wait_verified(sp.addresses["https"], "move.example.test", own_ca)
    assert answer.body == b"backend move.example.test /"
    assert pebble_orders(site.pebble, site.storage) == [["move.example.test"]]


def test_host_without_tls_section_routed_on_https_gets_a_certificate(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    # The seedbox guides' Ingresses have no spec.tls: defaultEntryPoints serve them on http and https.
    site.config.write_text(acme_config(site.pebble, site.storage))
    sp = start_serve(site)
    write_manifest(site.manifests, "guide", app_manifest("guide", "guide.example.test", "/", backend_port))
    answer, _ = wait_verified(sp.addresses["https"], "guide.example.test", site.root_ca, timeout=10)
    assert answer.body == b"backend guide.example.test /"

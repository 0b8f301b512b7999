"""The bundled seedbox examples: both forms load cleanly and describe the same setup."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingressctl.manifests import LoadResult, load_paths
from ingressctl.model import Ingress, PathType, Severity
from ingressctl.security.htpasswd import verify

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HOSTS = {
    "h5ai.example.test": ("h5ai", 8080),
    "sickrage.example.test": ("sickrage", 8081),
    "rtorrent.example.test": ("rtorrent", 8082),
    "couchpotato.example.test": ("couchpotato", 8083),
}


def _load(form: str) -> LoadResult:
    return load_paths([str(EXAMPLES / form)])


@pytest.mark.parametrize("form", ["v1", "v1beta1"])
def test_example_loads_without_errors(form: str) -> None:
    result = _load(form)
    assert [
        f"{d.code} {d.location} {d.message}" for d in result.diagnostics if d.severity is Severity.ERROR
    ] == []
    assert result.skipped == {}
    (ingress,) = result.snapshot.ingresses
    assert (ingress.meta.namespace, ingress.meta.name) == ("default", "seedbox")
    assert ingress.meta.annotations["ingress.kubernetes.io/auth-type"] == "basic"
    assert ingress.meta.annotations["ingress.kubernetes.io/auth-secret"] == "seedbox-auth"
    assert {rule.host for rule in ingress.rules} == set(HOSTS)


@pytest.mark.parametrize("form", ["v1", "v1beta1"])
def test_each_host_reaches_its_local_port(form: str) -> None:
    snapshot = _load(form).snapshot
    (ingress,) = snapshot.ingresses
    services = {s.meta.name: s for s in snapshot.services}
    slices = {s.service_name: s for s in snapshot.endpoint_slices}
    for rule in ingress.rules:
        (path,) = rule.paths
        name, port = HOSTS[rule.host or ""]
        assert path.path == "/" and path.backend.service_name == name
        (service_port,) = services[name].ports
        assert path.backend.port_number in (None, service_port.port)
        assert path.backend.port_name in (None, service_port.name)
        (slice_port,) = slices[name].ports
        assert (slice_port.name, slice_port.port) == (service_port.name, port)
        assert [e.addresses for e in slices[name].endpoints] == [("127.0.0.1",)]


def test_forms_differ_only_in_api_version_and_class() -> None:
    old: Ingress = _load("v1beta1").snapshot.ingresses[0]
    new: Ingress = _load("v1").snapshot.ingresses[0]
    assert old.api_version == "extensions/v1beta1" and new.api_version == "networking.k8s.io/v1"
    assert old.meta.annotations["kubernetes.io/ingress.class"] == "traefik"
    assert old.meta.annotations["traefik.frontend.rule.type"] == "PathPrefixStrip"
    assert new.ingress_class_name == "ingressctl"
    assert all(p.path_type is None for r in old.rules for p in r.paths)
    assert all(p.path_type is PathType.PREFIX for r in new.rules for p in r.paths)


@pytest.mark.parametrize("form", ["v1", "v1beta1"])
def test_auth_secret_holds_admin_seedbox(form: str) -> None:
    (secret,) = _load(form).snapshot.secrets
    assert secret.meta.name == "seedbox-auth"
    users = [tuple(line.split(":", 1)) for line in secret.data["auth"].decode().splitlines()]
    assert users[0][1].startswith("$apr1$")
    assert verify(users, "admin", "seedbox")  # type: ignore[arg-type]
    assert not verify(users, "admin", "wrong")  # type: ignore[arg-type]


def test_traefik_toml_is_the_documented_static_configuration() -> None:
    from ingressctl.config.loader import load_static_config
    from ingressctl.config.overrides import ConfigOverrides

    config = load_static_config(str(EXAMPLES / "traefik.toml"), ConfigOverrides())
    assert config.warnings == ()
    assert config.default_entrypoints == ("http", "https")
    http, https = config.entrypoint("http"), config.entrypoint("https")
    assert http is not None and https is not None
    assert (http.address, http.redirect, http.tls) == ("127.0.0.1:8000", None, None)
    assert https.address == "127.0.0.1:8443" and https.tls is not None
    assert config.api is not None and config.api.address == "127.0.0.1:8080"
    assert config.acme is not None and config.acme.on_host_rule is False and config.acme.entrypoint == "https"
    assert "staging" in config.acme.ca_server
    assert config.kubernetes is None
    text = (EXAMPLES / "traefik.toml").read_text()
    assert '#  [entryPoints.http.redirect]\n  #  entryPoint = "https"' in text

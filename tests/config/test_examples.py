"""The bundled examples/traefik.toml loads cleanly and means what its comments say."""

from __future__ import annotations

from pathlib import Path

from ingressctl.config import ConfigOverrides, compile_options, load_static_config


def test_bundled_example_loads_without_warnings(repo_root: Path) -> None:
    path = repo_root / "examples" / "traefik.toml"
    config = load_static_config(str(path), ConfigOverrides())
    assert config.warnings == ()
    assert [(e.name, e.address, e.tls is not None) for e in config.entrypoints] == [
        ("http", "127.0.0.1:8000", False),
        ("https", "127.0.0.1:8443", True),
    ]
    assert all(e.host == "127.0.0.1" for e in config.entrypoints)  # "Every address stays on 127.0.0.1"
    assert config.api is not None and config.api.address == "127.0.0.1:8080"
    assert config.acme is not None and not config.acme.on_host_rule  # "keeps ACME idle"
    assert config.acme.storage == str(path.parent / "acme.json")
    assert not compile_options(config).acme_enabled


def test_bundled_example_with_make_run_flags(repo_root: Path) -> None:
    path = repo_root / "examples" / "traefik.toml"
    manifests = str(repo_root / "examples" / "v1")
    config = load_static_config(
        str(path), ConfigOverrides(manifests=[manifests], entrypoints=[("http", ":0")])
    )
    assert config.manifests == (manifests,)
    http = config.entrypoint("http")
    assert http is not None and http.address == ":0"

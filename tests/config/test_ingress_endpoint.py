"""[kubernetes.ingressEndpoint] (Traefik v1): the Ingress status address, from the file or serve's flags."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingressctl.cli.serve_cmd import ServeOptions, cluster_settings, load_config
from ingressctl.model import UsageError
from ingressctl.model.config import StaticConfig
from tests.config.conftest import WriteConfig
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress, service
from tests.serve.conftest import ServeProcess

Load = Callable[..., StaticConfig]
Problems = Callable[..., list[str]]

HEAD = '[entryPoints.http]\naddress = ":80"\n[kubernetes]\nnamespaces = ["shop"]\nlabelselector = "app=web"\n'


def test_ip_and_hostname_become_the_publish_address(load: Load) -> None:
    config = load(HEAD + '[kubernetes.ingressEndpoint]\nip = "192.0.2.10"\nhostname = "LB.Example.com."\n')
    assert config.kubernetes is not None
    assert config.kubernetes.publish_address == "192.0.2.10,lb.example.com"
    assert config.kubernetes.publish_service == ""
    assert config.warnings == ()


def test_published_service_wins_over_ip_like_traefik(load: Load) -> None:
    config = load(
        HEAD + '[kubernetes.ingressEndpoint]\nip = "192.0.2.10"\npublishedService = "kube-system/traefik"\n'
    )
    assert config.kubernetes is not None
    assert config.kubernetes.publish_service == "kube-system/traefik"
    assert config.kubernetes.publish_address == ""
    assert len(config.warnings) == 1
    assert "traefik.toml:8: kubernetes.ingressEndpoint.publishedService is set" in config.warnings[0]
    assert "ip/kubernetes.ingressEndpoint.hostname are ignored" in config.warnings[0]


def test_malformed_ingress_endpoints_are_refused_with_the_line(problems: Problems) -> None:
    assert problems(HEAD + '[kubernetes.ingressEndpoint]\nip = "192.0.2.300"\n') == [
        'traefik.toml:7: kubernetes.ingressEndpoint.ip "192.0.2.300" is not an IP address'
    ]
    (hostname,) = problems(HEAD + '[kubernetes.ingressEndpoint]\nhostname = "*.example.com"\n')
    assert hostname == "traefik.toml:7: kubernetes.ingressEndpoint.hostname: a wildcard is not an address"
    (service,) = problems(HEAD + '[kubernetes.ingressEndpoint]\npublishedService = "traefik"\n')
    assert service.startswith('traefik.toml:7: kubernetes.ingressEndpoint.publishedService "traefik" must be')
    assert "NAMESPACE/NAME" in service
    (empty,) = problems(HEAD + "[kubernetes.ingressEndpoint]\n")
    assert empty.startswith(
        "traefik.toml:6: [kubernetes.ingressEndpoint] needs ip, hostname or publishedService"
    )
    assert problems(HEAD + '[kubernetes.ingressEndpoint]\npublishService = "a/b"\n') == [
        "traefik.toml:7: unknown key kubernetes.ingressEndpoint.publishService"
        ' (did you mean "publishedService"?)'
    ]


def _serve_config(write_config: WriteConfig, **flags: object) -> tuple[StaticConfig, ServeOptions]:
    path = write_config(HEAD + '[kubernetes.ingressEndpoint]\npublishedService = "kube-system/traefik"\n')
    options = ServeOptions(config=str(path), **flags)  # type: ignore[arg-type]
    return load_config(options), options


def test_serve_uses_the_file_when_no_flag_is_given(write_config: WriteConfig) -> None:
    static, options = _serve_config(write_config)
    assert static.kubernetes is not None
    settings = cluster_settings(options, static.kubernetes)
    assert (settings.publish_service, settings.publish_address) == ("kube-system/traefik", "")
    assert static.kubernetes.namespaces == ("shop",) and static.kubernetes.label_selector == "app=web"


def test_serve_flags_override_the_file(write_config: WriteConfig) -> None:
    static, options = _serve_config(
        write_config, publish_address="203.0.113.5", namespaces=("a", "b"), label_selector="tier=edge"
    )
    assert static.kubernetes is not None
    settings = cluster_settings(options, static.kubernetes)
    # The flag replaces the file's publishedService (not both at once).
    assert (settings.publish_service, settings.publish_address) == ("", "203.0.113.5")
    assert static.kubernetes.namespaces == ("a", "b") and static.kubernetes.label_selector == "tier=edge"

    static, options = _serve_config(write_config, publish_service="ingressctl/lb")
    assert static.kubernetes is not None
    settings = cluster_settings(options, static.kubernetes)
    assert (settings.publish_service, settings.publish_address) == ("ingressctl/lb", "")


def test_serve_still_refuses_both_publish_flags(write_config: WriteConfig) -> None:
    with pytest.raises(UsageError, match="give one"):
        _serve_config(write_config, publish_address="203.0.113.5", publish_service="a/b")


# ---------------------------------------------------------------- end to end: serve writes the status


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeAPIServer]:
    with KubeAPIServer(tmp_path / "kubeapi", bookmark_interval=0.3) as server:
        yield server


@pytest.mark.timeout(60)
async def test_serve_publishes_the_file_ingress_endpoint(
    kube_api: KubeAPIServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    kube_api.apply_many([service("web", "shop"), ingress("web", "shop", host="web.test", service_name="web")])
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    config = write_config(
        '[kubernetes]\nnamespaces = ["shop"]\n'
        '[kubernetes.ingressEndpoint]\nip = "192.0.2.44"\nhostname = "edge.example.test"\n'
    )
    args = ["--config", str(config), "--kubeconfig", str(kubeconfig), "--entrypoint", "web=127.0.0.1:0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingressctl", "serve", *args, "--no-leader-election"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
    )
    sp = ServeProcess(proc)
    sp.start_reader()
    try:
        await asyncio.to_thread(sp.wait_ready)
        want = [{"ip": "192.0.2.44"}, {"hostname": "edge.example.test"}]
        deadline = time.monotonic() + 15
        while True:
            obj = kube_api.get("Ingress", "shop", "web") or {}
            got = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")
            if got == want:
                break
            assert time.monotonic() < deadline, f"status not written: {got!r}\n{sp.text}"
            await asyncio.sleep(0.05)
        assert "Ingress status is not written" not in sp.text
    finally:
        assert await asyncio.to_thread(sp.stop) == 0

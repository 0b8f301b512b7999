"""Where the provider finds its API server and credentials, and the errors when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ingressctl.model import ConfigError, InputError
from ingressctl.model.config import KubernetesConfig
from ingressctl.providers.kubernetes import connect, list_snapshot
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress

pytestmark = pytest.mark.timeout(30)


def two_contexts(server: KubeAPIServer, path: Path) -> Path:
    """One kubeconfig, two contexts: `bad` (current, wrong token) and `good`."""
    good = yaml.safe_load(server.write_kubeconfig(token="test-token", context="good").read_text())
    bad = yaml.safe_load(server.write_kubeconfig(token="wrong", context="bad").read_text())
    for key in ("clusters", "users", "contexts"):
        good[key] += bad[key]
    good["current-context"] = "bad"
    path.write_text(yaml.safe_dump(good))
    return path


def test_context_is_chosen_by_name(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    kube_api.apply(ingress("web"))
    path = two_contexts(kube_api, tmp_path / "config")
    snap = list_snapshot(KubernetesConfig(kubeconfig=str(path), context="good"))
    assert [i.meta.name for i in snap.ingresses] == ["web"]
    with pytest.raises(InputError, match=r"rejected our credentials \(401 Unauthorized\)"):
        list_snapshot(KubernetesConfig(kubeconfig=str(path)))  # current-context: the bad token
    connection = connect(KubernetesConfig(kubeconfig=str(path), context="good"))
    assert connection.source == f"kubeconfig {path} (context good)"
    assert connection.endpoint == kube_api.url


def test_kubeconfig_environment_variable(
    kube_api: KubeAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kube_api.write_kubeconfig(namespace="team-a")))
    connection = connect(KubernetesConfig())
    assert connection.endpoint == kube_api.url and connection.namespace == "team-a"


def test_missing_or_broken_configuration_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="no Kubernetes API to talk to: not running in a cluster"):
        connect(KubernetesConfig())
    with pytest.raises(ConfigError, match=r"kubeconfig '.*nope': no such file"):
        connect(KubernetesConfig(kubeconfig=str(tmp_path / "nope")))
    broken = tmp_path / "broken"
    broken.write_text("apiVersion: v1\nkind: Config\ncontexts: []\nclusters: []\nusers: []\n")
    with pytest.raises(ConfigError, match=f"kubeconfig {broken}"):
        connect(KubernetesConfig(kubeconfig=str(broken)))
    with pytest.raises(ConfigError, match="certAuthFilePath"):
        connect(
            KubernetesConfig(endpoint="https://127.0.0.1:1", cert_auth_file_path=str(tmp_path / "none.crt"))
        )


def test_in_cluster_without_token_names_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    with pytest.raises(ConfigError, match="INGRESSCTL_SERVICEACCOUNT_DIR") as err:
        connect(KubernetesConfig(), sa_dir=str(tmp_path / "sa"))
    assert str(tmp_path / "sa") in str(err.value)


def test_tls_verification_is_on(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    # Without the CA the server's certificate is not trusted: no silent fallback to insecure.
    config = KubernetesConfig(endpoint=kube_api.url, token="test-token")
    with pytest.raises(InputError, match="TLS failed"):
        list_snapshot(config)


def test_rotated_service_account_token_is_picked_up(
    kube_api: KubeAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingressctl.providers.kubernetes import client as provider_module

    monkeypatch.setattr(provider_module, "TOKEN_REFRESH_SECONDS", 0.0)
    kube_api.add_token("first", "system:serviceaccount:ingressctl:ingressctl")
    sa = tmp_path / "sa"
    for key, value in kube_api.write_serviceaccount(sa, token="first").items():
        monkeypatch.setenv(key, value)
    kube_api.apply(ingress("web"))
    # [kubernetes] endpoint without a token, in a pod: the mounted token is used, and re-read.
    config = KubernetesConfig(endpoint=kube_api.url)
    connection = connect(config, sa_dir=str(sa))
    assert len(list_snapshot(config, connection=connection).ingresses) == 1
    kube_api.add_token("second", "system:serviceaccount:ingressctl:ingressctl")
    kube_api._run(lambda: kube_api.tokens.pop("first"))
    (sa / "token").write_text("second")  # the kubelet rotated the projected token
    assert len(list_snapshot(config, connection=connection).ingresses) == 1

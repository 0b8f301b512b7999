"""acme.json bytes kept in a Secret, written only over the version read."""

from __future__ import annotations

import json

import pytest

from ingressctl.model import ConfigError
from ingressctl.providers.kubernetes import KubernetesProvider, SecretStore, StorageConflict
from tests.kubeapi import KubeAPIServer
from tests.kubernetes.conftest import kube_config

pytestmark = pytest.mark.timeout(30)


def store(server: KubeAPIServer) -> SecretStore:
    return SecretStore.from_spec("secret:ingressctl/acme", KubernetesProvider(kube_config(server)).connection)


def test_round_trip(kube_api: KubeAPIServer) -> None:
    s = store(kube_api)
    assert s.load_bytes() is None
    data = json.dumps({"default": {"Account": None, "Certificates": []}}).encode()
    s.save_bytes(data)
    assert store(kube_api).load_bytes() == data
    secret = kube_api.get("Secret", "ingressctl", "acme") or {}
    assert secret["type"] == "Opaque" and set(secret["data"]) == {"acme.json"}
    assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "ingressctl"
    s.save_bytes(b"{}")  # our own version: no conflict
    assert store(kube_api).load_bytes() == b"{}"
    assert s.describe() == "Secret ingressctl/acme (key acme.json)"


def test_concurrent_writers_never_lose_an_update(kube_api: KubeAPIServer) -> None:
    one, two = store(kube_api), store(kube_api)
    one.save_bytes(b"[]")
    assert one.load_bytes() == b"[]" and two.load_bytes() == b"[]"
    one.save_bytes(b'["one"]')
    with pytest.raises(StorageConflict, match="changed since it was read"):
        two.save_bytes(b'["two"]')  # would overwrite "one"
    # update() reads again and re-applies the change on a conflict.
    result = two.update(lambda old: json.dumps([*json.loads(old or b"[]"), "two"]).encode())
    assert json.loads(result) == ["one", "two"]
    assert json.loads(store(kube_api).load_bytes() or b"") == ["one", "two"]


def test_two_creators_race(kube_api: KubeAPIServer) -> None:
    one, two = store(kube_api), store(kube_api)
    assert one.load_bytes() is None and two.load_bytes() is None
    one.save_bytes(b"1")
    with pytest.raises(StorageConflict):
        two.save_bytes(b"2")
    assert store(kube_api).load_bytes() == b"1"


def test_bad_spec() -> None:
    for spec in ("secret:acme", "secret:/acme", "acme.json", "secret:ns/a/b"):
        with pytest.raises(ConfigError, match="secret:NAMESPACE/NAME"):
            SecretStore.from_spec(spec, None)  # type: ignore[arg-type]

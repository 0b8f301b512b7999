"""Namespaces in the test API server, as kube-apiserver serves them: the system ones exist from the
start, and every Namespace carries kubernetes.io/metadata.name = its name (set on every write,
whatever was sent), which label selectors can use."""

from __future__ import annotations

from kubernetes import client

NAME_LABEL = "kubernetes.io/metadata.name"


def test_namespaces_carry_their_name_label_and_the_system_ones_exist(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    created = core.create_namespace(
        {"metadata": {"name": "shop", "labels": {NAME_LABEL: "forged", "a": "1"}}}
    )
    assert created.metadata.labels == {NAME_LABEL: "shop", "a": "1"}
    patched = core.patch_namespace("shop", {"metadata": {"labels": {NAME_LABEL: None, "b": "2"}}})
    assert patched.metadata.labels == {NAME_LABEL: "shop", "a": "1", "b": "2"}
    selected = core.list_namespace(label_selector=f"{NAME_LABEL} in (shop,default),a")
    assert [n.metadata.name for n in selected.items] == ["shop"]
    core.delete_namespace("shop")
    assert "shop" not in {n.metadata.name for n in core.list_namespace().items}

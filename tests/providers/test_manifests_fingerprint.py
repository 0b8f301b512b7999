"""What the manifests provider watches is exactly what the loader loads."""

from __future__ import annotations

import os
from pathlib import Path

from ingressctl.manifests.loader import discover
from ingressctl.providers.manifests import fingerprint

INGRESS = "apiVersion: v1\nkind: Service\nmetadata: {name: s%d}\nspec: {ports: [{port: 80}]}\n"


def _configmap_mount(root: Path, version: int) -> None:
    """The layout kubelet writes for a ConfigMap volume: files are links through `..data`."""
    data = root / f"..2026_11_26_{version}"
    data.mkdir()
    (data / "app.yaml").write_text(INGRESS % version)
    tmp = root / "..data_tmp"
    tmp.symlink_to(data.name)
    os.replace(tmp, root / "..data")
    if not (root / "app.yaml").is_symlink():
        (root / "app.yaml").symlink_to("..data/app.yaml")


def test_configmap_mount_is_watched_once_and_sees_the_swap(tmp_path: Path) -> None:
    _configmap_mount(tmp_path, 1)
    (tmp_path / "loop").symlink_to(".")
    first = fingerprint([str(tmp_path)])
    assert [entry[0] for entry in first] == discover(str(tmp_path)) == [str(tmp_path / "app.yaml")]
    _configmap_mount(tmp_path, 2)  # kubelet's atomic update: a new directory, the link swapped
    second = fingerprint([str(tmp_path)])
    assert second != first


def test_unreadable_or_missing_paths_do_not_raise(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert fingerprint([str(missing)]) == ((str(missing), -1, -1, -1),)

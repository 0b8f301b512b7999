from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.kubeapi import KubeAPIServer


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeAPIServer]:
    with KubeAPIServer(tmp_path / "kubeapi", bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
def api_client(kube_api: KubeAPIServer) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(kube_api.write_kubeconfig()))
    yield api
    api.close()

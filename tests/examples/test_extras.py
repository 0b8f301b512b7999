"""examples/kubernetes/extras: the optional PodDisruptionBudget and ServiceMonitor fit the install."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from ingressctl.api.exposure import check_api_exposure
from ingressctl.config import ConfigOverrides, load_static_config
from tests.examples.harness import EXAMPLES, documents
from tests.examples.pod import pod_spec


def extras(name: str) -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / "extras" / name).read_text()) if d]


def pod_labels() -> dict[str, str]:
    (deployment,) = documents("40-deployment.yaml")
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_spec(deployment)  # a pod template
    return labels


def test_the_disruption_budget_selects_the_pods_and_keeps_one() -> None:
    (pdb,) = extras("pdb.yaml")
    spec = pdb["spec"]
    assert isinstance(spec, dict)
    assert spec["selector"]["matchLabels"].items() <= pod_labels().items()
    (deployment,) = documents("40-deployment.yaml")
    assert spec["minAvailable"] < deployment["spec"]["replicas"]  # a drain can still evict one


def test_the_service_monitor_scrapes_the_api_port_its_comment_configures() -> None:
    service, monitor = extras("servicemonitor.yaml")
    assert service["kind"] == "Service" and monitor["kind"] == "ServiceMonitor"
    metadata, spec = service["metadata"], service["spec"]
    assert isinstance(metadata, dict) and isinstance(spec, dict)
    assert spec["selector"].items() <= pod_labels().items()
    monitor_spec = monitor["spec"]
    assert isinstance(monitor_spec, dict)
    assert monitor_spec["selector"]["matchLabels"].items() <= metadata["labels"].items()
    (endpoint,) = monitor_spec["endpoints"]
    (port,) = spec["ports"]
    assert endpoint["port"] == port["name"] and endpoint["path"] == "/metrics"
    text = (EXAMPLES / "extras" / "servicemonitor.yaml").read_text()
    address = re.search(r'#\s+address = ":(\d+)"', text)
    assert address is not None and int(address.group(1)) == port["targetPort"]
    assert "basicAuth" in endpoint  # the API beyond loopback needs it


def test_the_api_change_the_service_monitor_asks_for_is_accepted(tmp_path: Path) -> None:
    """Its comment's [api] block, put into the ConfigMap's traefik.toml, loads and is not refused."""
    text = (EXAMPLES / "extras" / "servicemonitor.yaml").read_text()
    block = re.search(r"#[ \t]+\[api\]\n((?:#[ \t]+\S.*\n)+)", text)
    assert block is not None
    hashed = subprocess.run(
        ["openssl", "passwd", "-apr1", "secret"], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()
    lines = ["[api]"] + [line.lstrip("#").strip() for line in block.group(1).splitlines()]
    api = "\n".join(lines).replace("$2y$05$...", hashed)
    toml = traefik_toml_text()
    start = toml.index("[api]")
    end = toml.index("\n\n", start)
    (tmp_path / "traefik.toml").write_text(toml[:start] + api + toml[end:])
    static = load_static_config(str(tmp_path / "traefik.toml"), ConfigOverrides())
    assert static.api is not None and static.api.address == ":8080"
    check_api_exposure(static.api.address, static.api.auth, static.api.insecure)  # raises if refused


def traefik_toml_text() -> str:
    (configmap,) = [d for d in documents("20-configmap.yaml") if d["kind"] == "ConfigMap"]
    text: str = configmap["data"]["traefik.toml"]
    return text

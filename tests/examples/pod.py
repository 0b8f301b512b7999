"""Run a container of a workload manifest as the kubelet would, but here: a real `ingressctl` process.

Only what cannot be the same outside a cluster is replaced, and each replacement is explicit:
- volume mounts: a configMap volume becomes a directory holding its keys, an emptyDir an empty one
  (TMPDIR points at the one mounted on /tmp), and paths under a mount in args/env point there;
- the service account: token, ca.crt and namespace of the test API server, found where
  $INGRESSCTL_SERVICEACCOUNT_DIR says, with KUBERNETES_SERVICE_HOST/PORT as a pod has them;
- Downward API fields get this test's values (field_value);
- the image's ENTRYPOINT (`ingressctl`) is `python -m ingressctl`.
Ports are not touched: the process runs in a network namespace of its own (tests/examples/netns.py).
Anything else the manifest asks for that this does not know fails the test, naming it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Obj = dict[str, Any]


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def container(workload: Obj) -> Obj:
    (only,) = pod_spec(workload)["containers"]
    return dict(only)


def container_port(workload: Obj, port: int | str) -> int:
    """A probe's `port` (a number or a container port's name) as the container port number."""
    if isinstance(port, int):
        return port
    for declared in container(workload).get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise AssertionError(f"probe port {port!r} is not a named port of the container")


def field_value(path: str, workload: Obj, pod_name: str) -> str:
    """The Downward API fields the examples use, with this test's values."""
    values = {
        "metadata.name": pod_name,
        "metadata.namespace": workload["metadata"].get("namespace", "default"),
        "spec.nodeName": "node-1",
        "spec.serviceAccountName": pod_spec(workload).get("serviceAccountName", "default"),
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    if path not in values:
        raise AssertionError(f"env fieldRef {path!r}: unknown to this test, teach tests/examples/pod.py")
    return values[path]


@dataclass
class Launch:
    """A container turned into a command line and environment for this machine."""

    argv: list[str]
    env: dict[str, str]


def launch(
    workload: Obj,
    configmaps: Mapping[str, Obj],
    root: Path,
    cluster_env: Mapping[str, str],
    *,
    pod_name: str = "ingressctl-0",
) -> Launch:
    """`workload`'s container as a local process: configMaps by name, files under `root`."""
    spec = container(workload)
    if spec.get("command"):
        raise AssertionError("container sets `command`: the image's ENTRYPOINT is what this test runs")
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes") or []}
    mounts: dict[str, Path] = {}
    env: dict[str, str] = {}
    for index, mount in enumerate(spec.get("volumeMounts") or []):
        volume = volumes[mount["name"]]
        local = root / f"volume-{index}-{mount['name']}"
        local.mkdir(parents=True)
        if "configMap" in volume:
            data = configmaps[volume["configMap"]["name"]]["data"]
            for key, value in data.items():
                (local / key).write_text(value)
        elif "emptyDir" not in volume:
            raise AssertionError(f"volume {mount['name']!r}: only configMap and emptyDir are known here")
        mounts[mount["mountPath"].rstrip("/")] = local
        if mount["mountPath"].rstrip("/") == "/tmp":
            env["TMPDIR"] = str(local)

    def local_path(text: str) -> str:
        for mount_path, local in mounts.items():
            if text == mount_path or text.startswith(mount_path + "/"):
                return str(local) + text[len(mount_path) :]
        return text

    args = [local_path(arg) for arg in spec.get("args") or []]
    for item in spec.get("env") or []:
        if "value" in item:
            env[item["name"]] = local_path(str(item["value"]))
        elif "fieldRef" in (item.get("valueFrom") or {}):
            env[item["name"]] = field_value(item["valueFrom"]["fieldRef"]["fieldPath"], workload, pod_name)
        else:
            raise AssertionError(f"env {item['name']!r}: only value and fieldRef are known here")
    env.update(cluster_env)
    return Launch([sys.executable, "-m", "ingressctl", *args], env)

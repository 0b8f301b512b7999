"""`--kubernetes` for `validate` and `routes`: read the objects from an API server instead of files.

One LIST per kind through the Kubernetes provider (`list_update`): the same streams, selectors and
conversion the controller runs with, so the CLI shows what `serve` would serve.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

from ingressctl.model import Diagnostic, Snapshot, UsageError
from ingressctl.model.config import KubernetesConfig

if TYPE_CHECKING:
    from ingressctl.checks import CheckResult
    from ingressctl.routing.options import CompileOptions

# Shared option declarations: `validate` and `routes` take the same cluster flags.
KUBERNETES_OPTION = typer.Option(
    False,
    "--kubernetes",
    help="Read Ingresses, Services, EndpointSlices, Secrets and IngressClasses from the cluster, not files.",
)
KUBECONFIG_OPTION = typer.Option(
    None,
    "--kubeconfig",
    metavar="FILE",
    help="kubeconfig to use with --kubernetes (default: $KUBECONFIG, in-cluster, ~/.kube/config).",
)
CONTEXT_OPTION = typer.Option(None, "--context", metavar="NAME", help="kubeconfig context to use.")
NAMESPACE_OPTION = typer.Option(
    None,
    "--namespace",
    "-n",
    metavar="NS",
    help="Only this namespace (repeatable; default: all namespaces).",
)
LABEL_SELECTOR_OPTION = typer.Option(
    None,
    "--label-selector",
    "-l",
    metavar="SEL",
    help="Only Ingresses matching this label selector (e.g. team=shop,tier!=canary).",
)


@dataclass(frozen=True, slots=True)
class ClusterSource:
    """Where `--kubernetes` reads from (the flags, as given)."""

    kubeconfig: str = ""
    context: str = ""
    namespaces: tuple[str, ...] = ()
    label_selector: str = ""

    def config(self) -> KubernetesConfig:
        return KubernetesConfig(
            kubeconfig=self.kubeconfig,
            context=self.context,
            namespaces=self.namespaces,
            label_selector=self.label_selector,
        )


def cluster_source(
    *,
    paths: Sequence[str] | None,
    kubernetes: bool,
    kubeconfig: str | None,
    context: str | None,
    namespaces: Sequence[str] | None,
    label_selector: str | None,
) -> ClusterSource | None:
    """The cluster to read with --kubernetes, or None to read PATHs. Raises UsageError for a bad mix."""
    if kubernetes:
        if paths:
            raise UsageError(
                f"--kubernetes reads the cluster; do not also give PATH ({' '.join(paths)}): drop one of them"
            )
        for namespace in namespaces or ():
            if not namespace.strip():
                raise UsageError("--namespace: empty namespace name; omit it to read all namespaces")
        return ClusterSource(
            kubeconfig=kubeconfig or "",
            context=context or "",
            namespaces=tuple(dict.fromkeys(namespaces or ())),
            label_selector=label_selector or "",
        )
    given = [
        flag
        for flag, value in (
            ("--kubeconfig", kubeconfig),
            ("--context", context),
            ("--namespace", namespaces),
            ("--label-selector", label_selector),
        )
        if value
    ]
    if given:
        raise UsageError(f"{', '.join(given)} only apply with --kubernetes: add --kubernetes or drop them")
    if not paths:
        raise UsageError(
            "missing PATH: give manifest files or directories ('-' reads stdin), or --kubernetes"
        )
    return None


@dataclass(frozen=True, slots=True)
class ClusterLoad:
    """A cluster read, shaped like the manifest loader's result (`checks.LoadResultLike`)."""

    snapshot: Snapshot
    diagnostics: tuple[Diagnostic, ...] = ()
    skipped: dict[str, int] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    origin: str = ""  # "the cluster at https://...": what the summary line says was read


def read_cluster(source: ClusterSource, *, gateway: bool = False) -> ClusterLoad:
    """LIST every kind once (the Gateway API kinds too with `gateway`). Raises InputError (unreachable,
    401, 403) or ConfigError (bad kubeconfig)."""
    from ingressctl.providers.kubernetes.client import connect
    from ingressctl.providers.kubernetes.oneshot import list_update

    config = source.config()
    connection = connect(config)
    try:
        update = list_update(config, connection=connection, gateway=gateway)
    finally:
        connection.close()
    return ClusterLoad(update.snapshot, update.diagnostics, origin=f"the cluster at {connection.endpoint}")


def check_cluster(source: ClusterSource, options: CompileOptions) -> CheckResult:
    """Read the cluster and run every check, as `load_and_check` does for files."""
    from ingressctl.checks import check

    load = read_cluster(source, gateway=options.gateway)
    result = check(load, options, now=datetime.datetime.now(datetime.UTC))
    return dataclasses.replace(result, origin=load.origin)

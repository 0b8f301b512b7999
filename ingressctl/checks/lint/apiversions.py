"""IC301: apiVersions the API server no longer serves, with the exact replacement."""

from __future__ import annotations

from collections.abc import Iterator

from ingressctl.checks.context import LintContext
from ingressctl.model import Diagnostic, Severity

_INGRESS_CHANGES = (
    "use apiVersion networking.k8s.io/v1 (served since Kubernetes 1.19; the old ones were removed in 1.22): "
    "backend serviceName/servicePort become service.name and service.port.number (or service.port.name), "
    "spec.backend becomes spec.defaultBackend, and every path needs a pathType "
    "(ImplementationSpecific keeps the old prefix behaviour)"
)
_INGRESS_CLASS_CHANGES = (
    "use apiVersion networking.k8s.io/v1 (removed in Kubernetes 1.22; the fields are unchanged)"
)
_ENDPOINT_SLICE_CHANGES = (
    "use apiVersion discovery.k8s.io/v1 (v1beta1 was removed in Kubernetes 1.25): "
    "topology[kubernetes.io/hostname] becomes nodeName and topology[topology.kubernetes.io/zone] becomes zone"
)

DEPRECATED_INGRESS = ("extensions/v1beta1", "networking.k8s.io/v1beta1")


def check_deprecated_api_versions(ctx: LintContext) -> Iterator[Diagnostic]:
    # Every Ingress, not only the ones we serve: the API server rejects them whoever the controller is.
    for ingress in ctx.snapshot.ingresses:
        if ingress.api_version in DEPRECATED_INGRESS:
            yield Diagnostic(
                code="IC301",
                severity=Severity.WARNING,
                message=f"{ingress.ref} uses the removed apiVersion {ingress.api_version}; "
                f"{_INGRESS_CHANGES}",
                location=ingress.meta.location,
                hint="run `ingressctl migrate` on this file to rewrite it to networking.k8s.io/v1",
                object=ingress.ref,
            )
    for ingress_class in ctx.snapshot.ingress_classes:
        if ingress_class.api_version == "networking.k8s.io/v1beta1":
            yield Diagnostic(
                code="IC301",
                severity=Severity.WARNING,
                message=(
                    f"{ingress_class.ref} uses the removed apiVersion {ingress_class.api_version}; "
                    f"{_INGRESS_CLASS_CHANGES}"
                ),
                location=ingress_class.meta.location,
                hint="change apiVersion to networking.k8s.io/v1 (or run `ingressctl migrate` on this file)",
                object=ingress_class.ref,
            )
    for endpoint_slice in ctx.snapshot.endpoint_slices:
        if endpoint_slice.api_version == "discovery.k8s.io/v1beta1":
            yield Diagnostic(
                code="IC301",
                severity=Severity.WARNING,
                message=(
                    f"{endpoint_slice.ref} uses the removed apiVersion {endpoint_slice.api_version}; "
                    f"{_ENDPOINT_SLICE_CHANGES}"
                ),
                location=endpoint_slice.meta.location,
                hint="change apiVersion to discovery.k8s.io/v1 and move topology keys to nodeName/zone",
                object=endpoint_slice.ref,
            )

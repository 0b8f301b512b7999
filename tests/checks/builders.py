"""Builders for model objects written by hand: the checks are tested without the YAML loader."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence

from ingressctl.model import (
    Ingress,
    IngressBackend,
    IngressPath,
    IngressRule,
    IngressTLS,
    Location,
    ObjectMeta,
    PathType,
    Secret,
    Service,
    ServicePort,
)
from tests.certificates import self_signed

FILE = "manifests/app.yaml"


def loc(line: int, column: int = 1, file: str = FILE) -> Location:
    return Location(file, line, column)


def backend(service: str = "web", port: int | str = 80, line: int = 0) -> IngressBackend:
    number, name = (port, None) if isinstance(port, int) else (None, port)
    return IngressBackend(
        service_name=service,
        port_number=number,
        port_name=name,
        location=loc(line) if line else None,
        port_location=loc(line + 1, 9) if line else None,
    )


def rule(
    host: str | None,
    *paths: tuple[str, str, int | str],
    line: int = 0,
    path_type: PathType = PathType.PREFIX,
) -> IngressRule:
    """paths: (path, service, port)."""
    return IngressRule(
        host=host,
        paths=tuple(IngressPath(p, path_type, backend(s, port)) for p, s, port in paths)
        or (IngressPath("/", path_type, backend()),),
        location=loc(line) if line else None,
        host_location=loc(line, 5) if line else None,
    )


def ingress(
    name: str = "web",
    *,
    namespace: str = "default",
    rules: Sequence[IngressRule] = (),
    tls: Sequence[IngressTLS] = (),
    annotations: Mapping[str, str] | None = None,
    annotation_lines: Mapping[str, int] | None = None,
    api_version: str = "networking.k8s.io/v1",
    class_name: str | None = None,
    default_backend: IngressBackend | None = None,
    line: int = 1,
    file: str = FILE,
    created: str = "",
) -> Ingress:
    annotation_locations = {k: Location(file, v, 5) for k, v in (annotation_lines or {}).items()}
    return Ingress(
        meta=ObjectMeta(
            name=name,
            namespace=namespace,
            annotations=dict(annotations or {}),
            annotation_locations=annotation_locations,
            location=Location(file, line, 1),
            creation_timestamp=created,
        ),
        api_version=api_version,
        ingress_class_name=class_name,
        rules=tuple(rules),
        tls=tuple(tls),
        default_backend=default_backend,
    )


def tls(*hosts: str, secret: str | None = "web-tls", line: int = 0) -> IngressTLS:
    return IngressTLS(hosts=hosts, secret_name=secret, location=loc(line) if line else None)


def service(
    name: str = "web",
    *ports: ServicePort,
    namespace: str = "default",
    line: int = 40,
    type_: str = "ClusterIP",
) -> Service:
    return Service(
        meta=ObjectMeta(name=name, namespace=namespace, location=loc(line)),
        type=type_,
        ports=ports or (ServicePort(port=80, name="http"),),
    )


def certificate(
    *names: str,
    not_before: datetime.datetime = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    not_after: datetime.datetime = datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC),
    common_name: str = "",
) -> tuple[bytes, bytes]:
    """(certificate PEM, unencrypted key PEM), self-signed, naming `names` in its SAN."""
    common_name = common_name or (names[0] if names else "x")
    return self_signed(common_name, names=names, not_before=not_before, not_after=not_after)


def tls_secret(
    name: str, cert_pem: bytes, key_pem: bytes, namespace: str = "default", line: int = 70
) -> Secret:
    return Secret(
        meta=ObjectMeta(name=name, namespace=namespace, location=loc(line)),
        type="kubernetes.io/tls",
        data={"tls.crt": cert_pem, "tls.key": key_pem},
    )

"""Every kind and apiVersion ingressctl reads, normalised into the model."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from ingressctl.manifests import LoadResult, object_from_dict
from ingressctl.model import (
    Endpoint,
    EndpointPort,
    Endpoints,
    EndpointSlice,
    EndpointSubset,
    Ingress,
    IngressBackend,
    IngressClass,
    PathType,
    Secret,
    Service,
    ServicePort,
    Severity,
)

Load = Callable[[str], LoadResult]

LEGACY_INGRESS = """\
apiVersion: {api_version}
kind: Ingress
metadata:
  name: legacy
  namespace: media
  annotations:
    kubernetes.io/ingress.class: traefik
spec:
  backend:
    serviceName: fallback
    servicePort: 8080
  tls:
  - hosts: [a.example.test]
    secretName: a-tls
  rules:
  - host: a.example.test
    http:
      paths:
      - path: /
        backend:
          serviceName: web
          servicePort: 80
      - path: /api
        pathType: Exact
        backend:
          serviceName: api
          servicePort: http
  - http:
      paths:
      - backend:
          serviceName: catchall
          servicePort: 80
"""


def _errors(result: LoadResult) -> list[str]:
    return [f"{d.code} {d.location} {d.message}" for d in result.diagnostics if d.severity is Severity.ERROR]


@pytest.mark.parametrize("api_version", ["extensions/v1beta1", "networking.k8s.io/v1beta1"])
def test_legacy_ingress(load_yaml: Load, api_version: str) -> None:
    result = load_yaml(LEGACY_INGRESS.format(api_version=api_version))
    assert _errors(result) == []
    (ingress,) = result.snapshot.ingresses
    assert isinstance(ingress, Ingress)
    assert ingress.api_version == api_version
    assert (ingress.meta.namespace, ingress.meta.name) == ("media", "legacy")
    assert ingress.meta.annotations == {"kubernetes.io/ingress.class": "traefik"}
    assert ingress.default_backend is not None
    assert (ingress.default_backend.service_name, ingress.default_backend.port_number) == ("fallback", 8080)
    first, second = ingress.rules
    assert first.host == "a.example.test"
    assert [(p.path, p.path_type, p.backend.service_name, p.backend.port_text) for p in first.paths] == [
        ("/", None, "web", "80"),
        ("/api", PathType.EXACT, "api", "http"),
    ]
    assert first.paths[1].backend.port_name == "http" and first.paths[1].backend.port_number is None
    assert second.host is None
    assert [(p.path, p.backend.service_name) for p in second.paths] == [("", "catchall")]
    assert [(t.hosts, t.secret_name) for t in ingress.tls] == [(("a.example.test",), "a-tls")]


def test_v1_ingress(load_yaml: Load) -> None:
    result = load_yaml(
        """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
spec:
  ingressClassName: ingressctl
  defaultBackend:
    resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: static}
  rules:
    - host: "*.shop.example.test"
      http:
        paths:
          - path: /cart
            pathType: Prefix
            backend:
              service:
                name: cart
                port: {number: 8080}
          - path: /
            pathType: ImplementationSpecific
            backend:
              service:
                name: web
                port: {name: http}
"""
    )
    assert _errors(result) == []
    (ingress,) = result.snapshot.ingresses
    assert ingress.api_version == "networking.k8s.io/v1"
    assert ingress.meta.namespace == "default"
    assert ingress.ingress_class_name == "ingressctl"
    assert ingress.default_backend is not None
    assert (ingress.default_backend.resource_kind, ingress.default_backend.resource_name) == (
        "StorageBucket",
        "static",
    )
    assert ingress.default_backend.service_name is None
    (rule,) = ingress.rules
    assert rule.host == "*.shop.example.test"
    cart, web = rule.paths
    assert (cart.path, cart.path_type, cart.backend.service_name, cart.backend.port_number) == (
        "/cart",
        PathType.PREFIX,
        "cart",
        8080,
    )
    assert (web.path_type, web.backend.port_name, web.backend.port_number) == (
        PathType.IMPLEMENTATION_SPECIFIC,
        "http",
        None,
    )


@pytest.mark.parametrize("api_version", ["networking.k8s.io/v1", "networking.k8s.io/v1beta1"])
def test_ingress_class(load_yaml: Load, api_version: str) -> None:
    result = load_yaml(
        f"""\
apiVersion: {api_version}
kind: IngressClass
metadata:
  name: ingressctl
  annotations:
    ingressclass.kubernetes.io/is-default-class: "true"
spec:
  controller: ingressctl.io/ingress-controller
"""
    )
    assert _errors(result) == []
    (cls,) = result.snapshot.ingress_classes
    assert isinstance(cls, IngressClass)
    assert (cls.meta.name, cls.meta.namespace, cls.controller, cls.is_default) == (
        "ingressctl",
        "",
        "ingressctl.io/ingress-controller",
        True,
    )
    assert cls.api_version == api_version


def test_services_cluster_ip_named_ports_and_external_name(load_yaml: Load) -> None:
    result = load_yaml(
        """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.0.0.10
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: metrics, port: 9090, targetPort: metrics, protocol: TCP}
  - {port: 443}
---
apiVersion: v1
kind: Service
metadata: {name: legacy-db}
spec:
  type: ExternalName
  externalName: db.example.test
"""
    )
    assert _errors(result) == []
    web, external = result.snapshot.services
    assert isinstance(web, Service)
    assert (web.meta.namespace, web.type, web.cluster_ip) == ("shop", "ClusterIP", "10.0.0.10")
    assert web.ports == (
        ServicePort(port=80, name="http", target_port=8080),
        ServicePort(port=9090, name="metrics", target_port="metrics"),
        ServicePort(port=443, name="", target_port=None),
    )
    assert (external.type, external.external_name, external.ports) == ("ExternalName", "db.example.test", ())


@pytest.mark.parametrize("api_version", ["discovery.k8s.io/v1", "discovery.k8s.io/v1beta1"])
def test_endpoint_slices(load_yaml: Load, api_version: str) -> None:
    result = load_yaml(
        f"""\
apiVersion: {api_version}
kind: EndpointSlice
metadata:
  name: web-abc12
  namespace: shop
  labels: {{kubernetes.io/service-name: web}}
addressType: IPv4
ports:
- {{name: http, port: 8080, protocol: TCP}}
endpoints:
- addresses: [10.1.0.1]
  conditions: {{ready: true, serving: true, terminating: false}}
  nodeName: node-1
  targetRef: {{kind: Pod, name: web-1, namespace: shop}}
- addresses: [10.1.0.2]
- addresses: [10.1.0.3]
  conditions: {{ready: false, serving: true, terminating: true}}
"""
    )
    assert _errors(result) == []
    (eps,) = result.snapshot.endpoint_slices
    assert isinstance(eps, EndpointSlice)
    assert (eps.service_name, eps.address_type, eps.api_version) == ("web", "IPv4", api_version)
    assert eps.ports == (EndpointPort(port=8080, name="http", protocol="TCP"),)
    assert eps.endpoints == (
        Endpoint(("10.1.0.1",), True, True, False, node_name="node-1", target_ref="Pod shop/web-1"),
        # Conditions absent stay None: absence means "ready" only to the compiler, not here.
        Endpoint(("10.1.0.2",), None, None, None),
        Endpoint(("10.1.0.3",), False, True, True),
    )


def test_legacy_endpoints(load_yaml: Load) -> None:
    result = load_yaml(
        """\
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets:
- addresses: [{ip: 10.1.0.1}, {ip: 10.1.0.2, targetRef: {kind: Pod, name: web-2}}]
  notReadyAddresses: [{ip: 10.1.0.3}]
  ports: [{name: http, port: 8080}]
"""
    )
    assert _errors(result) == []
    (endpoints,) = result.snapshot.endpoints
    assert isinstance(endpoints, Endpoints)
    assert endpoints.meta.name == "web"
    assert endpoints.subsets == (
        EndpointSubset(
            addresses=("10.1.0.1", "10.1.0.2"),
            not_ready_addresses=("10.1.0.3",),
            ports=(EndpointPort(port=8080, name="http"),),
        ),
    )


def test_secrets_decode_data_and_merge_string_data(load_yaml: Load) -> None:
    result = load_yaml(
        """\
apiVersion: v1
kind: Secret
metadata: {name: site-tls}
type: kubernetes.io/tls
data:
  tls.crt: |
    LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    Cg==
  tls.key: a2V5
stringData:
  tls.key: plain key wins
  note: hello
---
apiVersion: v1
kind: Secret
metadata: {name: opaque}
"""
    )
    assert _errors(result) == []
    tls, opaque = result.snapshot.secrets
    assert isinstance(tls, Secret)
    assert tls.type == "kubernetes.io/tls"
    assert dict(tls.data) == {
        "tls.crt": b"-----BEGIN CERTIFICATE-----\n",
        "tls.key": b"plain key wins",
        "note": b"hello",
    }
    assert (opaque.type, dict(opaque.data)) == ("Opaque", {})
    assert "plain key wins" not in repr(tls)


def test_other_kinds_are_skipped_and_counted(load_yaml: Load) -> None:
    result = load_yaml(
        """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
---
apiVersion: traefik.containo.us/v1alpha1
kind: IngressRoute
metadata: {name: c}
"""
    )
    assert result.diagnostics == []
    assert result.skipped == {"Deployment": 1, "ConfigMap": 2, "IngressRoute": 1}
    assert result.documents == 4


def test_list_and_typed_list(load_yaml: Load) -> None:
    result = load_yaml(
        """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: one}
  spec: {ports: [{port: 80}]}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: skipped}
---
apiVersion: networking.k8s.io/v1
kind: IngressList
metadata: {resourceVersion: "42"}
items:
- metadata: {name: from-typed-list}
  spec:
    defaultBackend: {service: {name: one, port: {number: 80}}}
"""
    )
    assert _errors(result) == []
    assert [s.meta.name for s in result.snapshot.services] == ["one"]
    assert [i.meta.name for i in result.snapshot.ingresses] == ["from-typed-list"]
    assert result.snapshot.ingresses[0].api_version == "networking.k8s.io/v1"
    assert result.skipped == {"ConfigMap": 1}


def test_unquoted_timestamps_and_yes_no_stay_what_kubectl_reads(load_yaml: Load) -> None:
    result = load_yaml(
        """\
apiVersion: v1
kind: Service
metadata:
  name: web
  creationTimestamp: 2017-11-02T10:00:00Z
  labels:
    tier: "yes"
spec:
  ports: [{port: 80}]
"""
    )
    assert _errors(result) == []
    (service,) = result.snapshot.services
    assert service.meta.creation_timestamp == "2017-11-02T10:00:00Z"
    assert service.meta.labels == {"tier": "yes"}


def test_merge_keys_and_anchors(load_yaml: Load) -> None:
    result = load_yaml(
        """\
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: &labels {app: web, tier: front}
spec:
  selector:
    <<: *labels
    tier: back
  ports: [{port: 80}]
"""
    )
    assert _errors(result) == []
    assert result.snapshot.services[0].meta.labels == {"app": "web", "tier": "front"}


# ---------------------------------------------------------------- object_from_dict (the API path)


def _api_ingress(i: int) -> dict[str, object]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": f"app-{i}",
            "namespace": f"team-{i % 10}",
            "uid": f"uid-{i}",
            "resourceVersion": str(1000 + i),
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "annotations": {"traefik.ingress.kubernetes.io/router.entrypoints": "web"},
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {
            "ingressClassName": "ingressctl",
            "rules": [
                {
                    "host": f"app-{i}.example.test",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": f"app-{i}", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
        "status": {"loadBalancer": {}},
    }


def test_object_from_dict_reads_api_objects() -> None:
    obj, diags = object_from_dict(_api_ingress(7))
    assert diags == []
    assert isinstance(obj, Ingress)
    assert (obj.meta.namespace, obj.meta.name, obj.meta.uid, obj.meta.resource_version) == (
        "team-7",
        "app-7",
        "uid-7",
        "1007",
    )
    assert obj.rules[0].paths[0].backend == IngressBackend(service_name="app-7", port_number=80)


def test_object_from_dict_reports_with_the_given_location() -> None:
    from ingressctl.model import Location

    raw = _api_ingress(1)
    raw["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {"number": "80"}  # type: ignore[index]
    where = Location("kubernetes:Ingress team-1/app-1")
    obj, diags = object_from_dict(raw, where)
    assert isinstance(obj, Ingress)
    assert [(d.code, d.location) for d in diags] == [("IC102", where)]
    assert object_from_dict({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}) == (
        None,
        [],
    )


def test_object_from_dict_is_fast() -> None:
    objects = [_api_ingress(i) for i in range(5000)]
    for raw in objects[:10]:
        obj, diags = object_from_dict(raw)
        assert isinstance(obj, Ingress) and not diags
    timings = []
    for _ in range(3):  # best of three, in CPU time: the machine is shared with other test workers
        start = time.process_time()
        for raw in objects:
            object_from_dict(raw)
        timings.append(time.process_time() - start)
    assert min(timings) < 0.5, f"5,000 objects took {min(timings):.2f}s"


def test_a_list_or_mapping_where_text_belongs_is_not_told_to_quote(load_yaml) -> None:  # type: ignore[no-untyped-def]
    result = load_yaml(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {app: [a, b], tier: 3}\n"
        "spec: {ports: [{port: 80}]}\n"
    )
    hints = {d.message.rsplit(": ", 2)[-2]: d.hint for d in result.diagnostics}
    assert (
        hints["metadata.labels.app"]
        == "Write app as one piece of text, not as a list (check the indentation)."
    )
    assert hints["metadata.labels.tier"] == 'Quote the value: tier: "3".'


def test_secret_values_never_appear_in_findings(load_yaml: Load) -> None:
    result = load_yaml(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"
        "data: {token: 987654321, key: [31337]}\nstringData: {password: 123456, pin: 4.2}\n"
    )
    assert sorted(d.message.split(": ")[1] for d in result.diagnostics) == [
        "data.key",
        "data.token",
        "stringData.password",
        "stringData.pin",
    ]
    for diagnostic in result.diagnostics:
        shown = f"{diagnostic.message} {diagnostic.hint}"
        assert not any(secret in shown for secret in ("987654321", "31337", "123456", "4.2")), shown

"""`validate` refuses what the Kubernetes API server refuses (IC114), on Ingresses of every class.

The oracle below is written from the API server's validation code, not from ingressctl's: the
regular expressions and limits are copied from
- k8s.io/apimachinery/pkg/util/validation/validation.go (dns1123LabelFmt, dns1123SubdomainFmt,
  dns1035LabelFmt, wildcardDNS1123SubdomainFmt, DNS1123LabelMaxLength = 63,
  DNS1123SubdomainMaxLength = 253, DNS1035LabelMaxLength = 63, IsValidPortName),
- k8s.io/apimachinery/pkg/api/validate/content/kube.go (labelKeyFmt, labelKeyMaxLength = 63,
  labelValueFmt, LabelValueMaxLength = 63, IsLabelKey's prefix/name split),
- pkg/apis/networking/validation/validation.go (validateIngressRules: `ParseIPSloppy(host) != nil`
  refused, `*` → IsWildcardDNS1123Subdomain else IsDNS1123Subdomain; validateHTTPIngressPath:
  invalidPathSequences = {"//", "/./", "/../", "%2f", "%2F"}, invalidPathSuffixes = {"/..", "/."}),
and the property test feeds generated values through the real loader and checker (as `validate`
runs them) and compares the verdicts.
"""

from __future__ import annotations

import io
import json
import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingressctl.checks import check
from ingressctl.manifests import apirules, load_paths
from ingressctl.model import Diagnostic
from ingressctl.routing.options import CompileOptions

# ------------------------------------------------------------------ the oracle (Kubernetes' rules)

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
WILDCARD_FMT = "\\*\\." + DNS1123_SUBDOMAIN_FMT
LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + LABEL_KEY_FMT + ")?"


def _go_match(fmt: str, value: str) -> bool:
    # regexp.MustCompile("^" + fmt + "$").MatchString: Go's $ is end of text.
    return re.fullmatch(fmt, value) is not None


def _sloppy_ip(value: str) -> bool:
    parts = value.split(".")
    if len(parts) == 4 and all(p.isascii() and p.isdigit() and int(p) <= 255 for p in parts):
        return True
    return ":" in value and re.fullmatch(r"[0-9a-fA-F:.]+", value) is not None and _ipv6(value)


def _ipv6(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def subdomain_ok(value: str) -> bool:
    return len(value.encode()) <= 253 and _go_match(DNS1123_SUBDOMAIN_FMT, value)


def host_ok(host: str) -> bool:
    if _sloppy_ip(host):
        return False
    if "*" in host:
        return len(host.encode()) <= 253 and _go_match(WILDCARD_FMT, host)
    return subdomain_ok(host)


def namespace_ok(value: str) -> bool:
    return len(value.encode()) <= 63 and _go_match(DNS1123_LABEL_FMT, value)


def service_name_ok(value: str) -> bool:
    return len(value.encode()) <= 63 and _go_match(DNS1035_LABEL_FMT, value)


def port_name_ok(value: str) -> bool:
    return (
        len(value.encode()) <= 15
        and _go_match("[-a-z0-9]+", value)
        and re.search("[a-z]", value) is not None
        and "--" not in value
        and not value.startswith("-")
        and not value.endswith("-")
    )


def label_key_ok(key: str) -> bool:
    parts = key.split("/")
    if len(parts) > 2:
        return False
    if len(parts) == 2 and not (parts[0] and subdomain_ok(parts[0])):
        return False
    name = parts[-1]
    return 0 < len(name.encode()) <= 63 and _go_match(LABEL_KEY_FMT, name)


def label_value_ok(value: str) -> bool:
    return len(value.encode()) <= 63 and _go_match(LABEL_VALUE_FMT, value)


def path_ok(path: str, path_type: str) -> bool:
    if path_type == "ImplementationSpecific":
        return not path or path.startswith("/")
    if not path.startswith("/"):
        return False
    return not any(s in path for s in ("//", "/./", "/../", "%2f", "%2F")) and not path.endswith(
        ("/..", "/.")
    )


# ------------------------------------------------------------------ generated values

# Near misses are where rules differ: upper case, '_', '*', ':', '%', digits-only, dots, long runs.
_PIECES = ["a", "b", "z", "0", "9", "-", ".", "*", "*.", "A", "Q", "_", ":", "%2f", "%2F", "/", "..", " "]
near = st.lists(st.sampled_from(_PIECES), min_size=0, max_size=12).map("".join)
long_label = st.integers(min_value=60, max_value=66).map(lambda n: "a" * n)


def _values(valid_fmt: str) -> st.SearchStrategy[str]:
    return st.one_of(
        near,
        st.from_regex(re.compile(valid_fmt), fullmatch=True).filter(lambda v: len(v) < 300),
        st.tuples(long_label, st.sampled_from(["", ".example.com", "-x"])).map("".join),
        st.sampled_from(
            ["10.0.0.1", "010.000.000.001", "256.1.1.1", "::1", "[::1]", "0010.0.0.1", "a.example.com:80"]
        ),
    )


classes = st.sampled_from(["ingressctl", "nginx", "traefik", None])


def _ingress(
    *,
    name: str = "web",
    namespace: str = "default",
    host: str = "a.example.com",
    tls_host: str = "a.example.com",
    path: str = "/",
    path_type: str = "Prefix",
    service: str = "web",
    port_name: str = "http",
    label: tuple[str, str] = ("app", "web"),
    annotation: str = "example.com/note",
    class_name: str | None = "ingressctl",
) -> str:
    spec: dict[str, object] = {
        "tls": [{"hosts": [tls_host], "secretName": "web-tls"}],
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": path,
                            "pathType": path_type,
                            "backend": {"service": {"name": service, "port": {"name": port_name}}},
                        }
                    ]
                },
            }
        ],
    }
    if class_name is not None:
        spec["ingressClassName"] = class_name
    document = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {label[0]: label[1]},
            "annotations": {annotation: "x"},
        },
        "spec": spec,
    }
    # JSON is YAML: every generated string arrives exactly as written.
    return json.dumps(document)


def _refusals(text: str, field: str) -> list[Diagnostic]:
    loaded = load_paths(["-"], stdin=io.StringIO(text))
    result = check(loaded, CompileOptions())
    return [d for d in result.findings if d.code == "IC114" and f": {field}" in d.message]


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(host=_values(DNS1123_SUBDOMAIN_FMT) | _values(WILDCARD_FMT), class_name=classes)
@example(host="Shop.Example.com", class_name="nginx")
@example(host="0010.0.0.1", class_name=None)
@example(host="*.example.com", class_name="nginx")
@example(host="*", class_name="nginx")
@example(host="a.*.example.com", class_name="ingressctl")
@example(host="a." * 126 + "bc", class_name="nginx")
@example(host="a" * 64 + ".com", class_name="nginx")
def test_rule_hosts_are_refused_exactly_as_the_api_server_does(host: str, class_name: str | None) -> None:
    if not host:
        return  # an empty host is "every host", not a host to check
    found = _refusals(_ingress(host=host, class_name=class_name), "spec.rules[0].host:")
    assert bool(found) is not host_ok(host), (host, [d.message for d in found])


@SETTINGS
@given(host=_values(DNS1123_SUBDOMAIN_FMT) | _values(WILDCARD_FMT), class_name=classes)
def test_tls_hosts_follow_the_api_server(host: str, class_name: str | None) -> None:
    found = _refusals(_ingress(tls_host=host, class_name=class_name), "spec.tls[0].hosts:")
    # validateIngressTLS checks the name syntax only (an IP address fails it anyway, except none).
    expected = _go_match(WILDCARD_FMT, host) if "*" in host else _go_match(DNS1123_SUBDOMAIN_FMT, host)
    expected = expected and len(host.encode()) <= 253
    assert bool(found) is not expected, (host, [d.message for d in found])


@SETTINGS
@given(
    name=_values(DNS1123_SUBDOMAIN_FMT),
    namespace=_values(DNS1123_LABEL_FMT),
    class_name=classes,
)
@example(name="My_Ingress", namespace="Team.A", class_name="nginx")
@example(name="a" * 254, namespace="a" * 64, class_name=None)
@example(name="web.example", namespace="team.a", class_name=None)
def test_names_and_namespaces_follow_the_api_server(
    name: str, namespace: str, class_name: str | None
) -> None:
    if not name:
        return  # a missing name is IC101, not IC114
    text = _ingress(name=name, namespace=namespace or "default", class_name=class_name)
    assert bool(_refusals(text, "metadata.name:")) is not subdomain_ok(name), name
    if namespace:
        assert bool(_refusals(text, "metadata.namespace:")) is not namespace_ok(namespace), namespace


@SETTINGS
@given(
    path=st.one_of(
        near, st.sampled_from(["/", "/a/./b", "/a/../b", "/a/b/..", "/a/.", "/a.", "/.well-known"])
    ),
    path_type=st.sampled_from(["Exact", "Prefix", "ImplementationSpecific"]),
    class_name=classes,
)
def test_paths_follow_the_api_server(path: str, path_type: str, class_name: str | None) -> None:
    loaded = load_paths(
        ["-"], stdin=io.StringIO(_ingress(path=path, path_type=path_type, class_name=class_name))
    )
    # A relative path is IC105 (older than IC114); both are what kubectl refuses.
    refused = [
        d
        for d in loaded.diagnostics
        if d.code in ("IC105", "IC114") and "spec.rules[0].http.paths[0].path" in d.message
    ]
    assert bool(refused) is not path_ok(path, path_type), (path, path_type, [d.message for d in refused])


@SETTINGS
@given(
    service=_values(DNS1035_LABEL_FMT), port_name=near | st.from_regex("[a-z][-a-z0-9]{0,16}", fullmatch=True)
)
@example(service="web", port_name="a--b")
@example(service="web", port_name="-ab")
@example(service="web", port_name="ab-")
@example(service="web", port_name="8080")
@example(service="web", port_name="abcdefghijklmnop")
@example(service="9web", port_name="http")
@example(service="w" * 64, port_name="http")
def test_service_and_port_names_follow_the_api_server(service: str, port_name: str) -> None:
    if not service or not port_name:
        return  # empty values are IC101/IC109
    text = _ingress(service=service, port_name=port_name, class_name="nginx")
    assert bool(_refusals(text, "spec.rules[0].http.paths[0].backend.service.name:")) is not service_name_ok(
        service
    ), service
    assert bool(_refusals(text, "spec.rules[0].http.paths[0].backend.service.port.name:")) is not (
        port_name_ok(port_name)
    ), port_name


@SETTINGS
@given(
    key=st.one_of(near, st.from_regex(re.compile(r"([a-z0-9.]{1,20}/)?" + LABEL_KEY_FMT), fullmatch=True)),
    value=st.one_of(near, st.from_regex(re.compile(LABEL_VALUE_FMT), fullmatch=True), long_label),
)
@example(key="Example.COM/Name", value="v")
@example(key="a/b/c", value="v")
@example(key="/name", value="v")
@example(key="example.com/", value="v")
@example(key="k", value="v" * 64)
@example(key="k" * 64, value="v")
def test_label_and_annotation_keys_follow_the_api_server(key: str, value: str) -> None:
    text = _ingress(label=(key, value), annotation=key, class_name="traefik")
    key_refused = [d for d in _refusals(text, "metadata.labels.") if f"{key!r} " in d.message]
    value_refused = [d for d in _refusals(text, "metadata.labels.") if f"{value!r} " in d.message]
    if key == value:
        assert bool(key_refused) is not (label_key_ok(key) and label_value_ok(value))
    else:
        assert bool(key_refused) is not label_key_ok(key), key
        assert bool(value_refused) is not label_value_ok(value), value
    # Annotation keys: the same rule, case ignored (ValidateAnnotations lower-cases the key).
    assert bool(_refusals(text, "metadata.annotations.")) is not label_key_ok(key.lower()), key


def test_other_classes_are_checked_too() -> None:
    """The issue's examples: refused on an nginx Ingress as on ours."""
    for class_name in ("nginx", "ingressctl", None):
        text = _ingress(name="My_Ingress", host="Shop.Example.com", class_name=class_name)
        assert _refusals(text, "metadata.name:") and _refusals(text, "spec.rules[0].host:")
        placeholder = _ingress(host="registry.<your domain>", class_name=class_name)
        assert _refusals(placeholder, "spec.rules[0].host:")


def test_annotations_larger_than_256_kib_are_refused() -> None:
    big = _ingress().replace('"example.com/note": "x"', '"example.com/note": "' + "x" * (256 * 1024) + '"')
    [found] = _refusals(big, "metadata.annotations:")
    assert "262144 bytes" in found.message


@settings(max_examples=2000, deadline=None)
@given(value=_values(DNS1123_SUBDOMAIN_FMT) | _values(DNS1035_LABEL_FMT) | near)
@example(value="a" * 253)
@example(value="a" * 254)
@example(value="a" * 63)
@example(value="a" * 64)
@example(value="0abc")
@example(value="é")
def test_the_string_method_shortcuts_agree_with_the_regular_expressions(value: str) -> None:
    """apirules answers the names nearly every object has without its regular expressions: the
    same answers (the oracle here, and the module's own regular-expression path)."""
    assert apirules.dns1123_subdomain(value) == list(apirules._dns1123_subdomain(value))
    assert (not apirules.dns1123_subdomain(value)) is subdomain_ok(value)
    assert apirules.dns1123_label(value) == list(apirules._dns1123_label(value))
    assert (not apirules.dns1123_label(value)) is namespace_ok(value)
    assert apirules.dns1035_label(value) == list(apirules._dns1035_label(value))
    assert (not apirules.dns1035_label(value)) is service_name_ok(value)
    assert apirules.is_ip(value) is _sloppy_ip(value), value

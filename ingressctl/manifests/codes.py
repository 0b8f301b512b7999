"""The finding codes of `ingressctl.manifests`: IC0xx for YAML, IC1xx for the Kubernetes schema.

| code  | severity | meaning |
| ----- | -------- | ------- |
| IC001 | error    | YAML syntax error; the other documents of the file still load. |
| IC002 | error    | Duplicate key in a mapping (both places are given); the last value is used. |
| IC003 | error    | Aliases expand too far ("billion laughs") or refer to themselves; document not loaded. |
| IC004 | error    | Nesting deeper than any Kubernetes object needs; document not loaded. |
| IC005 | error    | Tag outside the YAML core schema (`!!python/...`, `!Ref`, `!!binary`); not loaded. |
| IC006 | error    | Value that its explicit core tag cannot hold (`!!int abc`). |
| IC007 | error    | Mapping key that is not a plain scalar (`? [a, b]`); entry not loaded. |
| IC101 | error    | Required field missing (metadata.name, a backend's service name or port, paths...). |
| IC102 | error    | Wrong type (a quoted "80" where a number belongs, a number where a string belongs...). |
| IC103 | error    | Unknown field in an Ingress, IngressClass or metadata; the closest known one is named. |
| IC104 | error    | pathType missing in networking.k8s.io/v1 (the API server rejects such an Ingress). |
| IC105 | error    | Path that does not start with "/". |
| IC106 | error    | pathType other than Exact, Prefix or ImplementationSpecific. |
| IC107 | error    | apiVersion that does not serve this kind (`networking.k8s.io/v2` Ingress). |
| IC108 | error    | Document that is not an object: not a mapping, or without apiVersion or kind. |
| IC109 | error    | Invalid value: a port outside 1-65535, an empty name, an unknown Service type. |
| IC110 | error    | Secret `data` value that is not valid base64; the key is left out. |
| IC111 | warning  | EndpointSlice without the kubernetes.io/service-name label: it belongs to no Service. |
| IC112 | error    | Fields that exclude each other (service and resource, port number and name). |
| IC113 | warning  | Unknown field in a Service, EndpointSlice, Endpoints, Secret (maybe a newer one). |
| IC114 | error    | A value the API server refuses (names, keys, hosts, paths, ports), on every Ingress. |

A `Diagnostic`'s location points at the offending key or value; a missing field points at the
mapping that should hold it.
"""

from __future__ import annotations

from typing import Final

from ingressctl.model import Severity

CODES: Final[dict[str, str]] = {
    "IC001": "YAML syntax error; the other documents of the file still load.",
    "IC002": "Duplicate key in a mapping (both places are given); the last value is used.",
    "IC003": 'Aliases expand too far ("billion laughs") or refer to themselves; the document is not loaded.',
    "IC004": "Nesting deeper than any Kubernetes object needs; the document is not loaded.",
    "IC005": "Tag outside the YAML core schema (e.g. !!python/object, !Ref, !!binary); value not loaded.",
    "IC006": "Value that its explicit core tag cannot hold (e.g. !!int abc).",
    "IC007": "Mapping key that is not a plain scalar (e.g. ? [a, b]); the entry is not loaded.",
    "IC101": "Required field missing (metadata.name, a backend's service name or port, http.paths...).",
    "IC102": 'Wrong type (a quoted "80" where a number belongs, a number where a string belongs...).',
    "IC103": "Unknown field in an Ingress, IngressClass or metadata (a typo there changes routing); "
    "the closest known field is suggested.",
    "IC104": "pathType missing in a networking.k8s.io/v1 Ingress.",
    "IC105": 'Ingress path that does not start with "/".',
    "IC106": "pathType other than Exact, Prefix or ImplementationSpecific.",
    "IC107": "apiVersion that does not serve this kind (e.g. networking.k8s.io/v2 Ingress).",
    "IC108": "Document that is not a Kubernetes object: not a mapping, or without apiVersion or kind.",
    "IC109": "Invalid value: a port outside 1-65535, an empty name, an unknown Service type.",
    "IC110": "Secret data value that is not valid base64; the key is left out.",
    "IC111": "EndpointSlice without the kubernetes.io/service-name label: it belongs to no Service.",
    "IC112": "Fields that exclude each other (a backend with service and resource, port number and name).",
    "IC113": "Unknown field in a Service, EndpointSlice, Endpoints or Secret: a typo, or a field added by a "
    "Kubernetes version newer than ingressctl (a warning, as these schemas grow); the closest known field "
    "is suggested.",
    "IC114": "A value the Kubernetes API server refuses, checked with its own rules on Ingresses of every "
    "class: metadata.name/namespace, label and annotation keys and sizes, hosts (lower-case DNS names, one "
    "leading `*.` label, no port, no IP), Exact/Prefix paths with `//`, `/./`, `/../` or `%2F`, Service "
    "names, port names, TLS hosts and Secret names.",
}

SEVERITIES: Final[dict[str, Severity]] = {code: Severity.ERROR for code in CODES} | {
    "IC111": Severity.WARNING,
    "IC113": Severity.WARNING,
}

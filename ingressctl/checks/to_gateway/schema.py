"""The Gateway API v1 rules the migrated objects must keep, as the CRDs' OpenAPI and CEL rules state them.

Checked locally so that `kubectl apply` never refuses what `migrate` wrote: object and section names
(DNS-1123), hostnames (RFC 1123, one leading `*.`, no IP address), path and header values, the
enums, and the list limits (a route holds at most 16 rules, 16 hostnames, 32 parentRefs; a rule at
most 64 matches, 16 filters, 16 backendRefs; the matches of a route at most 128 together; a Gateway
at most 64 listeners). The converter splits routes to stay inside them; `check_object` is the last
word before the YAML is written.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

JsonMap = dict[str, object]

GROUP = "gateway.networking.k8s.io"
API_VERSION = f"{GROUP}/v1"
GRANT_API_VERSION = f"{GROUP}/v1beta1"

MAX_RULES = 16
MAX_HOSTNAMES = 16
MAX_PARENT_REFS = 32
MAX_MATCHES = 64
MAX_MATCHES_PER_ROUTE = 128
MAX_FILTERS = 16
MAX_BACKEND_REFS = 16
MAX_LISTENERS = 64
MAX_CERTIFICATE_REFS = 64
MAX_HEADER_EDITS = 16
MAX_GRANT_TARGETS = 16
MAX_WEIGHT = 1_000_000
# The CRD's enum (gateway.networking.k8s.io/v1 HTTPRequestRedirectFilter.StatusCode, v1.1 and later):
# 301 and 302 Core, 303, 307 and 308 Extended.
REDIRECT_CODES = (301, 302, 303, 307, 308)

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")
_IPV4 = re.compile(r"^[0-9.]+$")
_PATH_CHARACTERS = re.compile(r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$")
_PATH_TYPES = ("Exact", "PathPrefix", "RegularExpression")
_HEADER_TYPES = ("Exact", "RegularExpression")
_FILTER_FIELDS = {
    "RequestHeaderModifier": "requestHeaderModifier",
    "ResponseHeaderModifier": "responseHeaderModifier",
    "RequestRedirect": "requestRedirect",
    "URLRewrite": "urlRewrite",
}


def dns_name(text: str, limit: int = 253) -> str:
    """`text` as a DNS-1123 subdomain (lower case; other characters become "-"; `*` becomes
    "wildcard"); cut to `limit` with a short hash of the whole so two long names stay apart."""
    name = text.lower().replace("*", "wildcard")
    name = re.sub(r"[^a-z0-9.-]+", "-", name)
    name = re.sub(r"-*\.-*", ".", name)
    name = re.sub(r"\.+", ".", name).strip(".-")
    if not name:
        name = "x"
    if len(name) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        name = name[: limit - 9].rstrip(".-") + "-" + digest
    return name


def is_dns_name(text: str, limit: int = 253) -> bool:
    return 0 < len(text) <= limit and bool(_SUBDOMAIN.match(text))


def is_hostname(text: str) -> bool:
    """A Gateway API Hostname: RFC 1123, an optional leading `*.`, no IP address, no port."""
    return 0 < len(text) <= 253 and bool(_HOSTNAME.match(text)) and not _IPV4.match(text)


def is_precise_hostname(text: str) -> bool:
    """A PreciseHostname (URLRewrite, RequestRedirect): a hostname without a wildcard."""
    return is_hostname(text) and not text.startswith("*")


def is_header_name(text: str) -> bool:
    return 0 < len(text) <= 256 and bool(_HEADER_NAME.match(text))


def check_object(document: JsonMap) -> list[str]:
    """What in `document` the Gateway API CRDs would refuse; empty when nothing."""
    kind = document.get("kind")
    meta = _map(document.get("metadata"))
    name = str(meta.get("name", ""))
    where = f"{kind} {meta.get('namespace', '')}/{name}".replace(" /", " ")
    problems = [] if is_dns_name(name) else [f"metadata.name {name!r} is not a DNS-1123 subdomain"]
    spec = _map(document.get("spec"))
    if kind == "Gateway":
        problems += _check_gateway(spec)
    elif kind == "HTTPRoute":
        problems += _check_route(spec)
    elif kind == "ReferenceGrant" and (
        len(_list(spec.get("to"))) > MAX_GRANT_TARGETS or not _list(spec.get("from"))
    ):
        problems.append("spec.from must name one source and spec.to at most 16 targets")
    return [f"{where}: {problem}" for problem in problems]


def _check_gateway(spec: JsonMap) -> list[str]:
    problems: list[str] = []
    listeners = _list(spec.get("listeners"))
    if not spec.get("gatewayClassName"):
        problems.append("spec.gatewayClassName is required")
    if not 1 <= len(listeners) <= MAX_LISTENERS:
        problems.append(f"spec.listeners holds {len(listeners)}; 1 to {MAX_LISTENERS} are allowed")
    seen_names: set[str] = set()
    seen_bindings: set[tuple[object, object, object]] = set()
    for index, item in enumerate(listeners):
        listener = _map(item)
        at = f"spec.listeners[{index}]"
        name = str(listener.get("name", ""))
        if not is_dns_name(name) or name in seen_names:
            problems.append(f"{at}.name {name!r} must be a unique DNS-1123 subdomain")
        seen_names.add(name)
        port = listener.get("port")
        if not isinstance(port, int) or not 1 <= port <= 65535:
            problems.append(f"{at}.port {port!r} is not a port")
        protocol = listener.get("protocol")
        if protocol not in ("HTTP", "HTTPS"):
            problems.append(f"{at}.protocol {protocol!r}: HTTP or HTTPS")
        hostname = listener.get("hostname")
        if hostname is not None and not is_hostname(str(hostname)):
            problems.append(f"{at}.hostname {hostname!r} is not a hostname")
        binding = (port, protocol, hostname)
        if binding in seen_bindings:
            problems.append(f"{at}: another listener has the same port, protocol and hostname")
        seen_bindings.add(binding)
        tls = _map(listener.get("tls"))
        if protocol == "HTTPS":
            refs = _list(tls.get("certificateRefs"))
            if tls.get("mode", "Terminate") != "Terminate" or not 1 <= len(refs) <= MAX_CERTIFICATE_REFS:
                problems.append(f"{at}.tls: HTTPS needs mode Terminate and 1 to 64 certificateRefs")
        elif tls:
            problems.append(f"{at}.tls is only for HTTPS listeners")
    return problems


def _check_route(spec: JsonMap) -> list[str]:
    problems: list[str] = []
    hostnames = _list(spec.get("hostnames"))
    rules = _list(spec.get("rules"))
    parents = _list(spec.get("parentRefs"))
    if len(hostnames) > MAX_HOSTNAMES:
        problems.append(f"spec.hostnames holds {len(hostnames)}; at most {MAX_HOSTNAMES}")
    problems += [f"spec.hostnames {h!r} is not a hostname" for h in hostnames if not is_hostname(str(h))]
    if not 1 <= len(parents) <= MAX_PARENT_REFS:
        problems.append(f"spec.parentRefs holds {len(parents)}; 1 to {MAX_PARENT_REFS}")
    for parent in parents:
        section = _map(parent).get("sectionName")
        if section is not None and not is_dns_name(str(section)):
            problems.append(f"spec.parentRefs sectionName {section!r} is not a DNS-1123 subdomain")
    if not 1 <= len(rules) <= MAX_RULES:
        problems.append(f"spec.rules holds {len(rules)}; 1 to {MAX_RULES} are allowed")
    matches = sum(len(_list(_map(rule).get("matches"))) or 1 for rule in rules)
    if matches > MAX_MATCHES_PER_ROUTE:
        problems.append(f"the rules hold {matches} matches together; at most {MAX_MATCHES_PER_ROUTE}")
    for index, rule in enumerate(rules):
        problems += [f"spec.rules[{index}]{p}" for p in _check_rule(_map(rule))]
    return problems


def _check_rule(rule: JsonMap) -> list[str]:
    problems: list[str] = []
    matches = [_map(m) for m in _list(rule.get("matches"))]
    filters = [_map(f) for f in _list(rule.get("filters"))]
    backends = [_map(b) for b in _list(rule.get("backendRefs"))]
    if len(matches) > MAX_MATCHES:
        problems.append(f".matches holds {len(matches)}; at most {MAX_MATCHES}")
    if len(filters) > MAX_FILTERS or len(backends) > MAX_BACKEND_REFS:
        problems.append(f": at most {MAX_FILTERS} filters and {MAX_BACKEND_REFS} backendRefs")
    path_types: set[object] = set()
    for match in matches:
        path = _map(match.get("path"))
        path_types.add(path.get("type", "PathPrefix"))
        problems += _check_path_match(path)
        for header in _list(match.get("headers")):
            entry = _map(header)
            if entry.get("type", "Exact") not in _HEADER_TYPES or not is_header_name(str(entry.get("name"))):
                problems.append(f".matches header {entry!r} is not a valid header match")
    kinds = [f.get("type") for f in filters]
    for kind in set(kinds):
        if kinds.count(kind) > 1 and kind in _FILTER_FIELDS:
            problems.append(f".filters: {kind} may be given once")
    if "RequestRedirect" in kinds and ("URLRewrite" in kinds or backends):
        problems.append(": RequestRedirect cannot stand with URLRewrite or backendRefs")
    for item in filters:
        problems += [f".filters {p}" for p in _check_filter(item, path_types)]
    for backend in backends:
        weight = backend.get("weight", 1)
        port = backend.get("port")
        if not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
            problems.append(f".backendRefs weight {weight!r} is not 0..{MAX_WEIGHT}")
        if backend.get("kind", "Service") == "Service" and (
            not isinstance(port, int) or not 1 <= port <= 65535
        ):
            problems.append(f".backendRefs {backend.get('name')!r}: a Service needs a port number")
        if not is_dns_name(str(backend.get("name", "")), 63):
            problems.append(f".backendRefs name {backend.get('name')!r} is not a Service name")
    return problems


def path_problem(path: JsonMap) -> str | None:
    """What the CRD would refuse in an HTTPPathMatch; None when it takes it."""
    problems = _check_path_match(path)
    return problems[0].removeprefix(".matches ") if problems else None


def _check_path_match(path: JsonMap) -> list[str]:
    kind = path.get("type", "PathPrefix")
    value = str(path.get("value", "/"))
    if kind not in _PATH_TYPES:
        return [f".matches path type {kind!r}: one of {', '.join(_PATH_TYPES)}"]
    if len(value) > 1024:
        return [".matches path value is longer than 1024 characters"]
    if kind != "RegularExpression":
        if not value.startswith("/") or "//" in value or "/./" in value or "/../" in value:
            return [f".matches path {value!r} must be an absolute path without // or dot segments"]
        lowered = value.lower()
        if not _PATH_CHARACTERS.match(value) or "%2f" in lowered or "%5c" in lowered or "#" in value:
            return [f".matches path {value!r} holds characters the CRD refuses (?, #, %2F, %5C, spaces, ...)"]
        if value.endswith(("/.", "/..")):
            return [f".matches path {value!r} must not end in a dot segment"]
    return []


def _check_filter(item: JsonMap, path_types: set[object]) -> list[str]:
    kind = str(item.get("type"))
    field = _FILTER_FIELDS.get(kind)
    if field is None or not isinstance(item.get(field), dict):
        return [f"{kind!r} needs its {field or 'own'} field"]
    body = _map(item.get(field))
    problems: list[str] = []
    if kind in ("RequestHeaderModifier", "ResponseHeaderModifier"):
        for verb in ("set", "add"):
            entries = [_map(e) for e in _list(body.get(verb))]
            names = [str(e.get("name", "")) for e in entries]
            problems += [f"{kind}.{verb} {n!r} is not a header name" for n in names if not is_header_name(n)]
            if len(entries) > MAX_HEADER_EDITS or len({n.lower() for n in names}) != len(names):
                problems.append(f"{kind}.{verb}: at most {MAX_HEADER_EDITS} distinct headers")
        removed = [str(n) for n in _list(body.get("remove"))]
        if len(removed) > MAX_HEADER_EDITS or not all(is_header_name(n) for n in removed):
            problems.append(f"{kind}.remove: at most {MAX_HEADER_EDITS} header names")
        return problems
    hostname = body.get("hostname")
    if hostname is not None and not is_precise_hostname(str(hostname)):
        problems.append(f"{kind}.hostname {hostname!r} is not a precise hostname")
    if kind == "RequestRedirect":
        if body.get("statusCode", 302) not in REDIRECT_CODES:
            problems.append(f"{kind}.statusCode {body.get('statusCode')!r}: 301, 302, 303, 307 or 308")
        if body.get("scheme", "http") not in ("http", "https"):
            problems.append(f"{kind}.scheme {body.get('scheme')!r}: http or https")
        port = body.get("port", 1)
        if not isinstance(port, int) or not 1 <= port <= 65535:
            problems.append(f"{kind}.port {port!r} is not a port")
    path = _map(body.get("path"))
    if path:
        kind_of_path = path.get("type")
        if kind_of_path == "ReplaceFullPath":
            if not str(path.get("replaceFullPath", "")).startswith("/"):
                problems.append(f"{kind}.path.replaceFullPath must start with /")
        elif kind_of_path == "ReplacePrefixMatch":
            if not str(path.get("replacePrefixMatch", "")).startswith("/"):
                problems.append(f"{kind}.path.replacePrefixMatch must start with /")
            if path_types != {"PathPrefix"}:
                problems.append(f"{kind}.path ReplacePrefixMatch needs PathPrefix matches only")
        else:
            problems.append(f"{kind}.path.type {kind_of_path!r}: ReplaceFullPath or ReplacePrefixMatch")
    return problems


def check_all(documents: Iterable[JsonMap]) -> list[str]:
    return [problem for document in documents for problem in check_object(document)]


def _map(value: object) -> JsonMap:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []

"""One Ingress as HTTPRoutes: one per host (and one for its defaultBackend), in the Ingress's namespace.

Paths: Exact → Exact, Prefix → PathPrefix, ImplementationSpecific → PathPrefix (with a comment:
ingressctl matched it as a plain string prefix), ingress-nginx regex paths → RegularExpression
(the `PREFIX(/|$)(.*)` + `/$2` idiom becomes PathPrefix + ReplacePrefixMatch). Backends: Service
name and port number (a named port is looked up in the Service of the input); Traefik
service-weights and ingress-nginx canaries become weighted backendRefs, canary-by-header a header
match. A route the limits of the CRD cannot hold is split (`NAME`, `NAME-2`, ...).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ingressctl.checks.to_gateway.filters import PathOp, RedirectSpec, Treatment
from ingressctl.checks.to_gateway.notes import Note, NoteKind
from ingressctl.checks.to_gateway.schema import (
    API_VERSION,
    MAX_RULES,
    MAX_WEIGHT,
    JsonMap,
    dns_name,
    is_hostname,
    path_problem,
)
from ingressctl.model import Ingress, IngressBackend, PathType, Service

_REGEX_CHARACTERS = re.compile(r"[\\^$.|?*+()\[\]{}]")
# ingress-nginx's strip-a-prefix idiom: path PREFIX(/|$)(.*) with rewrite-target /$2 (or PREFIX/?(.*), /$1).
_STRIP_IDIOMS = (
    (re.compile(r"^(/[^\\^$.|?*+()\[\]{}]*?)\(/\|\$\)\(\.\*\)$"), 2),
    (re.compile(r"^(/[^\\^$.|?*+()\[\]{}]*?)/\?\(\.\*\)$"), 1),
)


@dataclass(frozen=True, slots=True)
class ListenerInfo:
    name: str
    entrypoint: str
    port: int
    tls: bool
    hostname: str | None


@dataclass(frozen=True, slots=True)
class CanaryBackend:
    ref: JsonMap
    weight: int
    total: int
    header: str = ""
    header_value: str = ""
    header_pattern: str = ""


@dataclass(slots=True)
class RouteContext:
    gateway_name: str
    gateway_namespace: str
    listeners: tuple[ListenerInfo, ...]
    entrypoint_ports: dict[str, tuple[int, bool]]  # name -> (port, tls)
    services: dict[tuple[str, str], Service]
    canaries: dict[tuple[str, str, str], CanaryBackend] = field(default_factory=dict)
    regex_hosts: set[str] = field(default_factory=set)
    used_canaries: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass(slots=True)
class RouteDoc:
    document: JsonMap
    comments: list[str]
    source: str


@dataclass(slots=True)
class _Rule:
    path: JsonMap
    backends: list[JsonMap]
    rewrite: JsonMap | None = None
    headers: list[JsonMap] = field(default_factory=list)
    redirect: RedirectSpec | None = None

    def document(self, t: Treatment) -> JsonMap:
        match: JsonMap = {"path": self.path}
        if self.headers:
            match["headers"] = self.headers
        rule: JsonMap = {"matches": [match]}
        if self.redirect is not None:
            rule["filters"] = [{"type": "RequestRedirect", "requestRedirect": _redirect_body(self.redirect)}]
            return rule
        filters: list[JsonMap] = []
        if t.request_headers:
            filters.append({"type": "RequestHeaderModifier", "requestHeaderModifier": t.request_headers})
        if t.response_headers:
            filters.append({"type": "ResponseHeaderModifier", "responseHeaderModifier": t.response_headers})
        rewrite: JsonMap = {}
        if t.upstream_host:
            rewrite["hostname"] = t.upstream_host
        if self.rewrite is not None:
            rewrite["path"] = self.rewrite
        if rewrite:
            filters.append({"type": "URLRewrite", "urlRewrite": rewrite})
        if filters:
            rule["filters"] = filters
        if self.backends:
            rule["backendRefs"] = self.backends
        return rule


def _redirect_body(spec: RedirectSpec) -> JsonMap:
    body: JsonMap = {}
    if spec.scheme:
        body["scheme"] = spec.scheme
    if spec.hostname:
        body["hostname"] = spec.hostname
    if spec.port is not None:
        body["port"] = spec.port
    if spec.full_path:
        body["path"] = {"type": "ReplaceFullPath", "replaceFullPath": spec.full_path}
    body["statusCode"] = spec.status
    return body


class IngressRoutes:
    """Builds the HTTPRoutes of one Ingress; `notes` says what changed or could not be carried."""

    def __init__(self, ingress: Ingress, t: Treatment, ctx: RouteContext) -> None:
        self.ingress = ingress
        self.t = t
        self.ctx = ctx
        self.subject = str(ingress.ref)
        self.notes: list[Note] = []
        self.comments: list[str] = []  # for every route of this Ingress

    def note(self, kind: NoteKind, text: str, comment: bool = True) -> None:
        where = self.ingress.meta.location
        note = Note(kind, self.subject, "", text, str(where) if where is not None else "")
        self.notes.append(note)
        if comment:
            self.comments.append(note.comment())

    def build(self) -> list[RouteDoc]:
        groups: dict[str, list[_Rule]] = {}
        for rule in self.ingress.rules:
            host = (rule.host or "").lower()
            drafts = groups.setdefault(host, [])
            for item in rule.paths:
                drafts.extend(self._rules_for(host, item.path, item.path_type, item.backend, drafts))
        out: list[RouteDoc] = []
        name = self.ingress.meta.name
        for host, drafts in groups.items():
            base = f"{name}-{host}" if host else name
            out.extend(self._routes(dns_name(base), host, drafts))
        if self.ingress.default_backend is not None:
            ref = self._backend_ref(self.ingress.default_backend)
            catch_all = _Rule({"type": "PathPrefix", "value": "/"}, [ref] if ref else [])
            out.extend(self._routes(dns_name(f"{name}-default-backend"), "", [catch_all], default=True))
        return out

    # ---------------------------------------------------------------- paths and backends

    def _rules_for(
        self,
        host: str,
        path: str,
        declared_type: PathType | None,
        backend: IngressBackend,
        drafts: list[_Rule],
    ) -> list[_Rule]:
        path = path or "/"
        ptype = declared_type
        if self.t.rule_path_type is not None and ptype in (None, PathType.IMPLEMENTATION_SPECIFIC):
            ptype = self.t.rule_path_type
        ptype = ptype or PathType.IMPLEMENTATION_SPECIFIC
        match, rewrite = self._match(host, path, ptype)
        problem = path_problem(match)
        if problem is not None:
            self.note(NoteKind.PROBLEM, f"{problem}: this path of {host or 'any host'} is not migrated")
            return []
        ref = self._backend_ref(backend)
        for draft in drafts:
            if draft.path == match and not draft.headers:
                if ref is not None:
                    draft.backends.append(ref)
                    self._weigh(draft)
                return []
        rule = _Rule(match, [ref] if ref is not None else [], rewrite)
        key = (self.ingress.meta.namespace, host, path)
        canary = self.ctx.canaries.get(key)
        if canary is None:
            return [rule]
        self.ctx.used_canaries.add(key)
        return self._with_canary(rule, canary)

    def _match(self, host: str, path: str, ptype: PathType) -> tuple[JsonMap, JsonMap | None]:
        if self.t.nginx_regex or host in self.ctx.regex_hosts:
            return self._nginx_regex_match(path)
        if ptype is PathType.EXACT:
            match: JsonMap = {"type": "Exact", "value": path}
        else:
            match = {"type": "PathPrefix", "value": path.rstrip("/") or "/"}
            if ptype is PathType.IMPLEMENTATION_SPECIFIC:
                self._once(
                    NoteKind.CHANGED,
                    "ImplementationSpecific paths are written as PathPrefix: ingressctl matched them as "
                    "a plain string prefix (/app also matched /apple), PathPrefix matches whole segments",
                )
        return match, self._rewrite(match, path)

    def _nginx_regex_match(self, path: str) -> tuple[JsonMap, JsonMap | None]:
        target = self.t.nginx_rewrite_target
        for idiom, group in _STRIP_IDIOMS:
            found = idiom.match(path)
            if found and target is not None and target.rstrip("/").endswith(f"${group}"):
                replacement = target[: -len(f"${group}")].rstrip("/") or "/"
                if "$" not in replacement:
                    prefix = found.group(1).rstrip("/") or "/"
                    return (
                        {"type": "PathPrefix", "value": prefix},
                        {"type": "ReplacePrefixMatch", "replacePrefixMatch": replacement},
                    )
        self._once(
            NoteKind.CHANGED,
            "ingress-nginx matched these paths as case-insensitive regular expressions from the "
            "start of the path; plain ones are written as PathPrefix, the others as RegularExpression "
            "PATH.* (how a RegularExpression matches is implementation-specific: check yours)",
        )
        if _REGEX_CHARACTERS.search(path):
            match: JsonMap = {"type": "RegularExpression", "value": path + ".*"}
        else:
            # As written: for ingress-nginx /app/ (a regex) is not /app.
            match = {"type": "PathPrefix", "value": path}
        if target is None:
            return match, None
        if "$" in target:
            self._once(
                NoteKind.LOST,
                f"rewrite-target {target!r} refers to groups of the path: URLRewrite has no regex "
                "replacement; not migrated, the backend receives the original path",
            )
            return match, None
        return match, {"type": "ReplaceFullPath", "replaceFullPath": target}

    def _rewrite(self, match: JsonMap, declared: str) -> JsonMap | None:
        """Fold the Ingress's path steps into one URLRewrite path for this match."""
        value = str(match["value"])
        prefix = match["type"] == "PathPrefix"
        state = ("prefix", value) if prefix else ("full", value)
        for op in self.t.path_ops:
            state = _apply(state, op, declared)
        if state == (("prefix", value) if prefix else ("full", value)):
            return None
        if state[0] == "prefix":
            return {"type": "ReplacePrefixMatch", "replacePrefixMatch": state[1]}
        return {"type": "ReplaceFullPath", "replaceFullPath": state[1]}

    def _backend_ref(self, backend: IngressBackend) -> JsonMap | None:
        if backend.service_name is None:
            kind = backend.resource_kind or "resource"
            self.note(NoteKind.PROBLEM, f"the {kind} backend {backend.resource_name!r} is not migrated")
            return None
        namespace = self.ingress.meta.namespace
        port = backend.port_number
        service = self.ctx.services.get((namespace, backend.service_name))
        if port is None and service is not None:
            port = next((p.port for p in service.ports if p.name == backend.port_name), None)
        if port is None:
            self.note(
                NoteKind.PROBLEM,
                f"Service {backend.service_name} port {backend.port_name!r}: a backendRef needs the port "
                "number; give the Service's manifest too, or write the number in the Ingress",
            )
            return None
        if service is not None and service.type == "ExternalName":
            self._once(
                NoteKind.CHANGED,
                f"Service {backend.service_name} is an ExternalName Service: Gateway implementations "
                "differ (many refuse it); check yours",
            )
        return {"name": backend.service_name, "port": port}

    def _weigh(self, rule: _Rule) -> None:
        """Traefik service-weights: services named there get their percent, the others share the rest."""
        weights = self.t.service_weights
        if not weights:
            self._once(
                NoteKind.CHANGED,
                "a path is listed more than once: its Services share the requests equally",
            )
            return
        named = [b for b in rule.backends if b["name"] in weights]
        others = [b for b in rule.backends if b["name"] not in weights]
        rest = max(0.0, 100.0 - sum(weights[str(b["name"])] for b in named))
        for backend in named:
            backend["weight"] = round(weights[str(backend["name"])] * 100)
        for backend in others:
            backend["weight"] = round(rest * 100 / len(others))

    def _with_canary(self, rule: _Rule, canary: CanaryBackend) -> list[_Rule]:
        out: list[_Rule] = []
        main = [dict(b) for b in rule.backends]
        if canary.header:
            if canary.header_pattern:
                header: JsonMap = {
                    "type": "RegularExpression",
                    "name": canary.header,
                    "value": canary.header_pattern,
                }
            else:
                header = {"type": "Exact", "name": canary.header, "value": canary.header_value or "always"}
            out.append(_Rule(rule.path, [dict(canary.ref)], rule.rewrite, [header]))
            if not canary.header_value and not canary.header_pattern:
                never: JsonMap = {"type": "Exact", "name": canary.header, "value": "never"}
                out.append(_Rule(rule.path, [dict(b) for b in main], rule.rewrite, [never]))
        if main:
            share = sum(int(str(b.get("weight", 1))) for b in main)
            for backend in main:
                backend["weight"] = int(str(backend.get("weight", 1))) * (canary.total - canary.weight)
            canary_ref = dict(canary.ref)
            canary_ref["weight"] = canary.weight * share
            scale = math.gcd(*(int(str(b["weight"])) for b in [*main, canary_ref])) or 1
            for backend in [*main, canary_ref]:
                backend["weight"] = min(MAX_WEIGHT, int(str(backend["weight"])) // scale)
            rule.backends = [*main, canary_ref]
        out.append(rule)
        return out

    # ---------------------------------------------------------------- routes and parents

    def _routes(self, base: str, host: str, rules: list[_Rule], default: bool = False) -> list[RouteDoc]:
        t = self.t
        hostnames = [host] if host else list(t.allowed_hosts)
        if host and t.allowed_hosts and host not in t.allowed_hosts:
            self.note(
                NoteKind.CHANGED,
                f"host {host} is not in allowed-hosts (ingressctl answers 421): not migrated",
            )
            return []
        if any(not is_hostname(h) for h in hostnames):
            self.note(
                NoteKind.PROBLEM,
                f"host {host!r} is not a Gateway API hostname (an IP address?): not migrated",
            )
            return []
        if t.fixed_redirect is not None:
            rules = [_Rule(r.path, [], headers=r.headers, redirect=t.fixed_redirect) for r in rules]
        elif t.app_root is not None and not default:
            rules = [_Rule({"type": "Exact", "value": "/"}, [], redirect=t.app_root), *rules]
        plain, secure = self._listeners(host)
        redirect = self._redirect_spec(host)
        if redirect is not None and not secure:
            self.note(
                NoteKind.PROBLEM,
                f"the https redirect of {host or 'any host'} is not written: no HTTPS listener serves it "
                "(no TLS Secret for the host in spec.tls, or its entrypoints leave out the TLS ones)",
            )
            redirect = None
        out: list[RouteDoc] = []
        if redirect is not None and plain:
            # Every request for these paths is redirected, whatever its headers (canary rules).
            paths = [r.path for r in rules]
            unique = [p for i, p in enumerate(paths) if p not in paths[:i]]
            redirect_rules = [_Rule(p, [], redirect=redirect) for p in unique]
            out += self._documents(f"{base}-redirect", hostnames, plain, redirect_rules, "redirect to https")
            listeners = secure
        else:
            listeners = plain + secure
        if not listeners:
            wanted = ", ".join(t.entrypoints) or "any"
            self.note(
                NoteKind.PROBLEM,
                f"no listener of the Gateway serves entrypoints {wanted} for "
                f"{host or 'any host'}: declare them with --entrypoint NAME=:PORT[,tls]",
            )
            return out
        return out + self._documents(base, hostnames, listeners, rules, "")

    def _listeners(self, host: str) -> tuple[list[ListenerInfo], list[ListenerInfo]]:
        chosen = [
            listener
            for listener in self.ctx.listeners
            if (not self.t.entrypoints or listener.entrypoint in self.t.entrypoints)
            and (listener.tls or not self.t.tls_only)
            and _intersects(listener.hostname, host)
        ]
        return [x for x in chosen if not x.tls], [x for x in chosen if x.tls]

    def _redirect_spec(self, host: str) -> RedirectSpec | None:
        t = self.t
        if t.https_redirect is not None:
            if t.https_only_with_tls and not any(host in tls.hosts for tls in self.ingress.tls):
                return None
            port = t.https_redirect.port
            if port is None:
                port = next((p for p, tls in self.ctx.entrypoint_ports.values() if tls), 443)
            return RedirectSpec(
                t.https_redirect.status, "https", t.https_redirect.hostname, None if port == 443 else port
            )
        if t.entrypoint_redirect:
            target = self.ctx.entrypoint_ports.get(t.entrypoint_redirect)
            if target is None:
                self._once(
                    NoteKind.PROBLEM,
                    f"redirect-entry-point {t.entrypoint_redirect!r} is not an entrypoint "
                    "of the migration: declare it with --entrypoint NAME=:PORT[,tls]",
                )
                return None
            port, tls = target
            if not tls:
                self._once(
                    NoteKind.PROBLEM,
                    f"redirect-entry-point {t.entrypoint_redirect!r} is a plain entrypoint: only redirects "
                    "to https are migrated",
                )
                return None
            return RedirectSpec(t.entrypoint_redirect_status, "https", "", None if port == 443 else port)
        return None

    def _documents(
        self, base: str, hostnames: list[str], listeners: list[ListenerInfo], rules: list[_Rule], role: str
    ) -> list[RouteDoc]:
        everywhere = not self.t.entrypoints and not self.t.tls_only and not role
        every_listener = everywhere and len(listeners) == len(
            [
                x
                for x in self.ctx.listeners
                if _intersects(x.hostname, hostnames[0] if len(hostnames) == 1 else "")
            ]
        )
        parent: JsonMap = {"name": self.ctx.gateway_name}
        if self.ctx.gateway_namespace != self.ingress.meta.namespace:
            parent["namespace"] = self.ctx.gateway_namespace
        parents = [parent] if every_listener else [{**parent, "sectionName": x.name} for x in listeners]
        documents = [r.document(self.t) for r in rules]
        chunks = [documents[i : i + MAX_RULES] for i in range(0, len(documents), MAX_RULES)]
        out: list[RouteDoc] = []
        for index, chunk in enumerate(chunks):
            name = base if index == 0 else dns_name(f"{base}-{index + 1}")
            spec: JsonMap = {"parentRefs": parents}
            if hostnames:
                spec["hostnames"] = hostnames
            spec["rules"] = chunk
            document: JsonMap = {
                "apiVersion": API_VERSION,
                "kind": "HTTPRoute",
                "metadata": {"name": name, "namespace": self.ingress.meta.namespace},
                "spec": spec,
            }
            out.append(
                RouteDoc(document, [f"{role}: plain-HTTP listeners only"] if role else [], self.subject)
            )
        if len(chunks) > 1:
            self.note(
                NoteKind.CHANGED,
                f"{len(documents)} rules for {base}: split into {len(chunks)} "
                f"HTTPRoutes of at most {MAX_RULES} rules (the CRD's limit)",
                comment=False,
            )
        return out

    def _once(self, kind: NoteKind, text: str) -> None:
        if all(n.text != text for n in self.notes):
            self.note(kind, text)


def _apply(state: tuple[str, str], op: PathOp, declared: str) -> tuple[str, str]:
    kind, value = state
    if op.kind == "strip":
        return (kind, "/")
    if op.kind == "route-path":
        return ("full", declared)
    if op.kind == "prefix":
        return (kind, op.value)
    if op.kind == "full":
        return ("full", op.value)
    joined = op.value.rstrip("/") + (value if value != "/" else "/")
    return (kind, joined.rstrip("/") or "/" if kind == "prefix" else joined)


def _intersects(listener_host: str | None, host: str) -> bool:
    """Whether a listener hostname and a route hostname ("" for none) can both match a request."""
    if listener_host is None or not host:
        return True
    if listener_host == host:
        return True
    if listener_host.startswith("*."):
        return host.endswith(listener_host[1:]) and host.count(".") == listener_host.count(".")
    if host.startswith("*."):
        return listener_host.endswith(host[1:]) and host.count(".") == listener_host.count(".")
    return False

"""Gateway API objects (gateway.networking.k8s.io v1/v1beta1) → ingressctl.model.gateway.

The API server's defaults are applied here, so objects from files and from the API read alike: a
rule without matches matches PathPrefix "/", a path match without type is PathPrefix, a header or
query match without type is Exact, a backendRef's weight is 1 and its kind Service, a parentRef is
a gateway.networking.k8s.io Gateway, allowedRoutes takes namespaces from Same, a redirect answers 302.
"""

from __future__ import annotations

from ingressctl.manifests import apirules
from ingressctl.manifests.fields import Context, Fields
from ingressctl.manifests.meta import read_meta
from ingressctl.model.gateway import (
    GROUP,
    AllowedRoutes,
    BackendRef,
    FilterType,
    FromNamespaces,
    Gateway,
    GatewayClass,
    GrantFrom,
    GrantTo,
    HeaderModifier,
    HTTPRoute,
    HTTPRouteFilter,
    HTTPRouteMatch,
    HTTPRouteRule,
    LabelSelector,
    Listener,
    ListenerTLS,
    ParentRef,
    PathMatch,
    PathMatchType,
    PathModifier,
    PathModifierType,
    ReferenceGrant,
    RequestMirror,
    RequestRedirect,
    RouteGroupKind,
    SecretRef,
    SelectorRequirement,
    URLRewrite,
    ValueMatch,
    ValueMatchType,
)

_GATEWAY_CLASS_SPEC = frozenset({"controllerName", "description", "parametersRef"})
_GATEWAY_SPEC = frozenset({"gatewayClassName", "listeners", "addresses", "infrastructure", "backendTLS"})
_LISTENER = frozenset({"name", "hostname", "port", "protocol", "tls", "allowedRoutes"})
_TLS = frozenset({"mode", "certificateRefs", "options", "frontendValidation"})
_SECRET_REF = frozenset({"group", "kind", "name", "namespace"})
_ALLOWED = frozenset({"namespaces", "kinds"})
_NAMESPACES = frozenset({"from", "selector"})
_SELECTOR = frozenset({"matchLabels", "matchExpressions"})
_EXPRESSION = frozenset({"key", "operator", "values"})
_KIND = frozenset({"group", "kind"})
_ROUTE_SPEC = frozenset({"parentRefs", "hostnames", "rules"})
_PARENT = frozenset({"group", "kind", "namespace", "name", "sectionName", "port"})
_RULE = frozenset({"name", "matches", "filters", "backendRefs", "timeouts", "retry", "sessionPersistence"})
_MATCH = frozenset({"path", "headers", "queryParams", "method"})
_PATH = frozenset({"type", "value"})
_VALUE_MATCH = frozenset({"type", "name", "value"})
_FILTER = frozenset(
    {
        "type",
        "requestHeaderModifier",
        "responseHeaderModifier",
        "requestRedirect",
        "urlRewrite",
        "requestMirror",
        "extensionRef",
        "cors",
        "externalAuth",
    }
)
_MODIFIER = frozenset({"set", "add", "remove"})
_HEADER = frozenset({"name", "value"})
_REDIRECT = frozenset({"scheme", "hostname", "path", "port", "statusCode"})
_REWRITE = frozenset({"hostname", "path"})
_PATH_MODIFIER = frozenset({"type", "replaceFullPath", "replacePrefixMatch"})
_MIRROR = frozenset({"backendRef", "percent", "fraction"})
_BACKEND = frozenset({"group", "kind", "name", "namespace", "port", "weight", "filters"})
_GRANT_SPEC = frozenset({"from", "to"})
_GRANT_FROM = frozenset({"group", "kind", "namespace"})
_GRANT_TO = frozenset({"group", "kind", "name"})

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
_FILTER_FIELDS = {
    FilterType.REQUEST_HEADER_MODIFIER: "requestHeaderModifier",
    FilterType.RESPONSE_HEADER_MODIFIER: "responseHeaderModifier",
    FilterType.REQUEST_REDIRECT: "requestRedirect",
    FilterType.URL_REWRITE: "urlRewrite",
    FilterType.REQUEST_MIRROR: "requestMirror",
    FilterType.EXTENSION_REF: "extensionRef",
    FilterType.CORS: "cors",
    FilterType.EXTERNAL_AUTH: "externalAuth",
}
_HOSTNAME_HINT = (
    "Write a lower-case DNS name (shop.example.com) or one leading wildcard label (*.example.com), "
    "without a port; an IP address is not a hostname."
)


def read_gateway_class(top: Fields, ctx: Context) -> GatewayClass | None:
    meta = read_meta(top, ctx, namespaced=False, api_rules=True)
    if meta is None:
        return None
    spec = top.mapping("spec", required="A GatewayClass needs a spec with a controllerName.")
    if spec is None:
        return None
    spec.check_known(_GATEWAY_CLASS_SPEC)
    controller = spec.string(
        "controllerName",
        required="Name the controller: controllerName: ingressctl.io/gateway-controller.",
        allow_empty=False,
    )
    if controller is None:
        return None
    return GatewayClass(meta, controller, spec.string("description") or "", ctx.api_version)


def read_gateway(top: Fields, ctx: Context) -> Gateway | None:
    meta = read_meta(top, ctx, api_rules=True)
    if meta is None:
        return None
    spec = top.mapping("spec", required="A Gateway needs a spec with gatewayClassName and listeners.")
    if spec is None:
        return None
    spec.check_known(_GATEWAY_SPEC)
    class_name = spec.string(
        "gatewayClassName", required="Name the GatewayClass: gatewayClassName: ingressctl.", allow_empty=False
    )
    if class_name is None:
        return None
    listeners: list[Listener] = []
    names: set[str] = set()
    for item in spec.mappings(
        "listeners", required="List the listeners: name, port, protocol (HTTP, HTTPS)."
    ):
        listener = _listener(item)
        if listener is None:
            continue
        if listener.name in names:
            item.invalid(
                "name", f"listener name {listener.name!r} is used twice", "Give each listener its own name."
            )
            continue
        names.add(listener.name)
        listeners.append(listener)
    addresses: list[str] = []
    for item in spec.mappings("addresses"):
        value = item.string("value")
        if value:
            addresses.append(value)
    return Gateway(meta, class_name, tuple(listeners), tuple(addresses), ctx.api_version)


def _listener(item: Fields) -> Listener | None:
    item.check_known(_LISTENER)
    name = item.string(
        "name", required="Give the listener a name (a DNS label: http, https, ...).", allow_empty=False
    )
    port = item.integer(
        "port", required="Give the listener a port (the entrypoint with that port serves it).", port=True
    )
    protocol = item.string("protocol", required="Give the protocol: HTTP or HTTPS.", allow_empty=False)
    if name is None or port is None or protocol is None:
        return None
    if apirules.dns1123_label(name):
        item.invalid("name", f"{name!r} is not a DNS label", "Use lower-case letters, digits and '-'.")
    hostname = _hostname(item, "hostname")
    tls: ListenerTLS | None = None
    tls_fields = item.mapping("tls")
    if tls_fields is not None:
        tls_fields.check_known(_TLS)
        mode = tls_fields.string("mode") or "Terminate"
        if mode not in ("Terminate", "Passthrough"):
            tls_fields.invalid("mode", f"{mode!r} is not Terminate or Passthrough", "Write mode: Terminate.")
        refs: list[SecretRef] = []
        for ref in tls_fields.mappings("certificateRefs"):
            ref.check_known(_SECRET_REF)
            ref_name = ref.string(
                "name", required="Name the Secret holding tls.crt and tls.key.", allow_empty=False
            )
            if ref_name is None:
                continue
            refs.append(
                SecretRef(
                    ref_name,
                    group=ref.string("group") or "",
                    kind=ref.string("kind") or "Secret",
                    namespace=ref.string("namespace") or None,
                    location=ref.location,
                )
            )
        tls = ListenerTLS(mode, tuple(refs), tls_fields.location)
    elif protocol == "HTTPS":
        item.missing(
            "tls", "An HTTPS listener needs tls.certificateRefs naming a Secret of type kubernetes.io/tls."
        )
    return Listener(
        name=name,
        port=port,
        protocol=protocol,
        hostname=hostname,
        tls=tls,
        allowed_routes=_allowed_routes(item),
        location=item.location,
    )


def _allowed_routes(item: Fields) -> AllowedRoutes:
    allowed = item.mapping("allowedRoutes")
    if allowed is None:
        return AllowedRoutes()
    allowed.check_known(_ALLOWED)
    namespaces_from = FromNamespaces.SAME
    selector: LabelSelector | None = None
    namespaces = allowed.mapping("namespaces")
    if namespaces is not None:
        namespaces.check_known(_NAMESPACES)
        text = namespaces.string("from") or "Same"
        try:
            namespaces_from = FromNamespaces(text)
        except ValueError:
            namespaces.invalid(
                "from", f"{text!r} is not Same, All or Selector", "Write from: Same, All or Selector."
            )
        selector_fields = namespaces.mapping("selector")
        if selector_fields is not None:
            selector = _selector(selector_fields)
        elif namespaces_from is FromNamespaces.SELECTOR:
            namespaces.missing(
                "selector", "With from: Selector, give selector.matchLabels of the namespaces."
            )
    kinds: list[RouteGroupKind] = []
    for kind in allowed.mappings("kinds"):
        kind.check_known(_KIND)
        name = kind.string("kind", required="Name the route kind: kind: HTTPRoute.", allow_empty=False)
        if name is not None:
            group = kind.string("group")
            kinds.append(RouteGroupKind(name, GROUP if group is None else group))
    return AllowedRoutes(namespaces_from, selector, tuple(kinds), allowed.location)


def _selector(fields: Fields) -> LabelSelector:
    fields.check_known(_SELECTOR)
    labels, _ = fields.string_map("matchLabels", locations=False)
    expressions: list[SelectorRequirement] = []
    for expr in fields.mappings("matchExpressions"):
        expr.check_known(_EXPRESSION)
        key = expr.string("key", required="Name the label: key: team.", allow_empty=False)
        operator = expr.string("operator", required="Give the operator: In, NotIn, Exists or DoesNotExist.")
        if key is None or operator is None:
            continue
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            expr.invalid(
                "operator", f"{operator!r} is not In, NotIn, Exists or DoesNotExist", "Use one of those."
            )
            continue
        expressions.append(SelectorRequirement(key, operator, expr.strings("values")))
    return LabelSelector(labels, tuple(expressions))


def _hostname(fields: Fields, key: str, value: str | None = None) -> str | None:
    if value is None:
        value = fields.string(key, allow_empty=False)
    if value is None:
        return None
    errors = apirules.rule_host(value)
    if errors:
        fields.ctx.report(
            "IC114",
            fields.value_loc(key),
            f"{fields.sub(key)}: {value!r} {'; '.join(errors)}; the API server refuses this object",
            _HOSTNAME_HINT,
        )
        return None
    return value


# ---------------------------------------------------------------- HTTPRoute


def read_http_route(top: Fields, ctx: Context) -> HTTPRoute | None:
    meta = read_meta(top, ctx, api_rules=True)
    if meta is None:
        return None
    spec = top.mapping("spec")
    if spec is None:
        return HTTPRoute(meta, api_version=ctx.api_version)
    spec.check_known(_ROUTE_SPEC)
    parents = tuple(p for p in (_parent_ref(f) for f in spec.mappings("parentRefs")) if p is not None)
    hostnames: list[str] = []
    items = spec.items("hostnames") or []
    for index, value in enumerate(items):
        if not isinstance(value, str):
            spec.wrong_type("hostnames", value, "a string", "Each hostname is a string.")
            continue
        errors = apirules.rule_host(value)
        if errors:
            ctx.report(
                "IC114",
                spec.value_loc("hostnames"),
                f"spec.hostnames[{index}]: {value!r} {'; '.join(errors)}; the API server refuses this object",
                _HOSTNAME_HINT,
            )
            continue
        hostnames.append(value)
    rules: list[HTTPRouteRule] = []
    raw_rules = spec.raw.get("rules")
    for rule in spec.mappings("rules"):
        rules.append(_rule(rule))
    if raw_rules is None:
        rules.append(HTTPRouteRule(location=spec.location))
    return HTTPRoute(meta, parents, tuple(hostnames), tuple(rules), ctx.api_version)


def _parent_ref(fields: Fields) -> ParentRef | None:
    fields.check_known(_PARENT)
    name = fields.string("name", required="Name the Gateway this route attaches to.", allow_empty=False)
    if name is None:
        return None
    group = fields.string("group")
    return ParentRef(
        name=name,
        group=GROUP if group is None else group,
        kind=fields.string("kind") or "Gateway",
        namespace=fields.string("namespace") or None,
        section_name=fields.string("sectionName") or None,
        port=fields.integer("port", port=True),
        location=fields.location,
    )


def _rule(rule: Fields) -> HTTPRouteRule:
    rule.check_known(_RULE)
    matches = [m for m in (_match(f) for f in rule.mappings("matches")) if m is not None]
    if rule.raw.get("matches") is None or not rule.raw.get("matches"):
        matches = [HTTPRouteMatch(location=rule.location)]
    filters = tuple(f for f in (_filter(f) for f in rule.mappings("filters")) if f is not None)
    backends = tuple(
        b for b in (_backend_ref(f, weighted=True) for f in rule.mappings("backendRefs")) if b is not None
    )
    return HTTPRouteRule(tuple(matches), filters, backends, rule.string("name") or None, rule.location)


def _match(fields: Fields) -> HTTPRouteMatch | None:
    """A match, or None when any part of it is wrong: a condition left out would widen the match
    (a misspelt `headers` would open a header-gated rule to everyone), so the whole match goes."""
    if fields.check_known(_MATCH):
        return None
    path = PathMatch()
    path_fields = fields.mapping("path")
    if path_fields is not None:
        if path_fields.check_known(_PATH):
            return None
        text = path_fields.string("type") or "PathPrefix"
        value = path_fields.string("value")
        if value is None:
            value = "/"
        try:
            kind = PathMatchType(text)
        except ValueError:
            path_fields.invalid(
                "type", f"{text!r} is not Exact, PathPrefix or RegularExpression", "Write type: PathPrefix."
            )
            return None
        if kind is not PathMatchType.REGULAR_EXPRESSION:
            problem = _path_problem(value)
            if problem:
                path_fields.invalid("value", problem, "Write an absolute path such as /shop.")
                return None
        path = PathMatch(kind, value)
    headers = _value_matches(fields, "headers")
    params = _value_matches(fields, "queryParams")
    if headers is None or params is None:
        return None
    method = fields.string("method")
    if method is not None and method not in _METHODS:
        fields.invalid(
            "method", f"{method!r} is not an HTTP method", "Write GET, POST, PUT, ... in capitals."
        )
        return None
    return HTTPRouteMatch(path, headers, params, method, fields.location)


def _path_problem(value: str) -> str:
    if not value.startswith("/"):
        return f"path {value!r} does not start with '/'"
    if "//" in value or "/./" in value or "/../" in value or value.endswith(("/..", "/.")):
        return f"path {value!r} holds '//', '/./' or '/../'; the API server refuses it"
    if "%2f" in value.lower() or "#" in value:
        return f"path {value!r} holds an encoded '/' or a '#'; the API server refuses it"
    return ""


def _value_matches(fields: Fields, key: str) -> tuple[ValueMatch, ...] | None:
    """The header or query matches; None when one of them is wrong (the match is then left out)."""
    out: list[ValueMatch] = []
    seen: set[str] = set()
    raw = fields.raw.get(key)
    items = list(fields.mappings(key))
    if (isinstance(raw, list) and len(items) != len(raw)) or (raw is not None and not isinstance(raw, list)):
        return None  # an item that is not a mapping (reported)
    for item in items:
        unknown = item.check_known(_VALUE_MATCH)
        name = item.string("name", required="Name the header or query parameter.", allow_empty=False)
        value = item.string("value", required="Give the value to compare with.")
        text = item.string("type") or "Exact"
        if name is None or value is None or unknown:
            return None
        try:
            kind = ValueMatchType(text)
        except ValueError:
            item.invalid("type", f"{text!r} is not Exact or RegularExpression", "Write type: Exact.")
            return None
        folded = name.lower() if key == "headers" else name
        if folded in seen:
            # The API: "the first entry with an equivalent name MUST be considered for a match".
            continue
        seen.add(folded)
        out.append(ValueMatch(name, value, kind))
    return tuple(out)


def _filter(fields: Fields) -> HTTPRouteFilter | None:
    fields.check_known(_FILTER)
    text = fields.string(
        "type", required="Give the filter's type: RequestHeaderModifier, RequestRedirect, ..."
    )
    if text is None:
        return None
    try:
        kind = FilterType(text)
    except ValueError:
        fields.invalid(
            "type",
            f"{text!r} is not a filter type",
            "Use RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror.",
        )
        return None
    key = _FILTER_FIELDS[kind]
    body = fields.mapping(key, required=f"A {kind.value} filter needs its {key} settings.")
    if body is None:
        return None
    location = fields.location
    if kind is FilterType.REQUEST_HEADER_MODIFIER:
        return HTTPRouteFilter(kind, request_header_modifier=_modifier(body), location=location)
    if kind is FilterType.RESPONSE_HEADER_MODIFIER:
        return HTTPRouteFilter(kind, response_header_modifier=_modifier(body), location=location)
    if kind is FilterType.REQUEST_REDIRECT:
        redirect = _redirect(body)
        return HTTPRouteFilter(kind, request_redirect=redirect, location=location) if redirect else None
    if kind is FilterType.URL_REWRITE:
        body.check_known(_REWRITE)
        path = _path_modifier(body)
        hostname = _hostname(body, "hostname")
        return HTTPRouteFilter(kind, url_rewrite=URLRewrite(hostname, path), location=location)
    if kind is FilterType.REQUEST_MIRROR:
        body.check_known(_MIRROR)
        ref_fields = body.mapping("backendRef", required="Name the Service that receives the copies.")
        ref = _backend_ref(ref_fields, weighted=False) if ref_fields is not None else None
        if ref is None:
            return None
        percent = body.integer("percent")
        fraction = body.mapping("fraction")
        if fraction is not None:
            numerator = fraction.integer("numerator") or 0
            denominator = fraction.integer("denominator") or 100
            percent = round(100 * numerator / denominator) if denominator > 0 else 0
        return HTTPRouteFilter(kind, request_mirror=RequestMirror(ref, percent), location=location)
    group = body.string("group") or ""
    return HTTPRouteFilter(
        kind,
        extension_ref=f"{group}/{body.string('kind') or ''}/{body.string('name') or ''}",
        location=location,
    )


def _modifier(body: Fields) -> HeaderModifier:
    body.check_known(_MODIFIER)

    def pairs(key: str) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        for item in body.mappings(key):
            item.check_known(_HEADER)
            name = item.string("name", required="Name the header.", allow_empty=False)
            value = item.string("value", required="Give the header's value.")
            if name is not None and value is not None:
                if any(c in value for c in "\r\n\0"):
                    item.invalid("value", "holds a line break or NUL", "Write the value on one line.")
                    continue
                out.append((name, value))
        return tuple(out)

    return HeaderModifier(pairs("set"), pairs("add"), body.strings("remove"))


def _path_modifier(body: Fields) -> PathModifier | None:
    fields = body.mapping("path")
    if fields is None:
        return None
    fields.check_known(_PATH_MODIFIER)
    text = fields.string("type", required="Give the path type: ReplaceFullPath or ReplacePrefixMatch.")
    if text is None:
        return None
    try:
        kind = PathModifierType(text)
    except ValueError:
        fields.invalid("type", f"{text!r} is not ReplaceFullPath or ReplacePrefixMatch", "Use one of those.")
        return None
    key = "replaceFullPath" if kind is PathModifierType.REPLACE_FULL_PATH else "replacePrefixMatch"
    value = fields.string(key, required=f"Give {key}: the new path.")
    if value is None:
        return None
    if not value.startswith("/"):
        fields.invalid(key, f"{value!r} does not start with '/'", "Write an absolute path such as /v2.")
        return None
    return PathModifier(kind, value)


def _redirect(body: Fields) -> RequestRedirect | None:
    body.check_known(_REDIRECT)
    scheme = body.string("scheme")
    if scheme is not None and scheme not in ("http", "https"):
        body.invalid("scheme", f"{scheme!r} is not http or https", "Write scheme: https.")
        return None
    status = body.integer("statusCode")
    if status is not None and status not in (301, 302, 303, 307, 308):
        body.invalid(
            "statusCode", f"{status} is not a redirect status", "Use 301 or 302 (303, 307, 308 too)."
        )
        return None
    return RequestRedirect(
        scheme=scheme,
        hostname=_hostname(body, "hostname"),
        path=_path_modifier(body),
        port=body.integer("port", port=True),
        status_code=status or 302,
    )


def _backend_ref(fields: Fields, *, weighted: bool) -> BackendRef | None:
    fields.check_known(_BACKEND if weighted else _BACKEND - {"weight", "filters"})
    name = fields.string("name", required="Name the Service.", allow_empty=False)
    if name is None:
        return None
    weight = fields.integer("weight") if weighted else None
    if weight is not None and not 0 <= weight <= 1_000_000:
        fields.invalid("weight", f"{weight} is outside 0-1000000", "Use a weight between 0 and 1000000.")
        weight = None
    filters = (
        tuple(f for f in (_filter(f) for f in fields.mappings("filters")) if f is not None)
        if weighted
        else ()
    )
    return BackendRef(
        name=name,
        group=fields.string("group") or "",
        kind=fields.string("kind") or "Service",
        namespace=fields.string("namespace") or None,
        port=fields.integer("port", port=True),
        weight=1 if weight is None else weight,
        filters=filters,
        location=fields.location,
    )


# ---------------------------------------------------------------- ReferenceGrant


def read_reference_grant(top: Fields, ctx: Context) -> ReferenceGrant | None:
    meta = read_meta(top, ctx, api_rules=True)
    if meta is None:
        return None
    spec = top.mapping("spec", required="A ReferenceGrant needs a spec with from and to.")
    if spec is None:
        return None
    spec.check_known(_GRANT_SPEC)
    froms: list[GrantFrom] = []
    for item in spec.mappings("from", required="List who may refer: group, kind, namespace."):
        item.check_known(_GRANT_FROM)
        group = item.string("group", required="Give the group: gateway.networking.k8s.io.")
        kind = item.string("kind", required="Give the kind: HTTPRoute or Gateway.", allow_empty=False)
        namespace = item.string("namespace", required="Give the namespace of the referring objects.")
        if group is not None and kind is not None and namespace:
            froms.append(GrantFrom(group, kind, namespace))
    tos: list[GrantTo] = []
    for item in spec.mappings("to", required="List what may be referred to: group, kind (and name)."):
        item.check_known(_GRANT_TO)
        group = item.string("group", required='Give the group: "" for Services and Secrets.')
        kind = item.string("kind", required="Give the kind: Service or Secret.", allow_empty=False)
        if group is not None and kind is not None:
            tos.append(GrantTo(group, kind, item.string("name") or None))
    return ReferenceGrant(meta, tuple(froms), tuple(tos), ctx.api_version)

"""Finding codes of the Gateway API half of the compiler (IC26x); merged into routing.codes.CODES."""

from __future__ import annotations

NOT_ATTACHED = "IC260"
REFERENCE = "IC261"
LISTENER = "IC262"
CONFLICT = "IC263"
UNSUPPORTED = "IC264"
INVALID_MATCH = "IC265"
NOT_OURS = "IC266"
INGRESS_OVERLAP = "IC267"

CODES: dict[str, str] = {
    NOT_ATTACHED: "An HTTPRoute's parentRef to a Gateway of ours is not accepted: no listener allows routes "
    "from its namespace or kind (NotAllowedByListeners), its hostnames intersect no listener hostname "
    "(NoMatchingListenerHostname), or no listener has the sectionName/port (NoMatchingParent). The "
    "route serves nothing through that parent.",
    REFERENCE: "A Gateway API reference cannot be resolved: a backendRef to something other than a Service "
    "(InvalidKind), to a missing Service (BackendNotFound), into another namespace without a "
    "ReferenceGrant (RefNotPermitted), or a listener's certificateRef. Requests for that backend's share "
    "answer 500, as the API requires; a listener without its certificate is not served.",
    LISTENER: "A Gateway listener is not served: no entrypoint listens on its port, its protocol is not "
    "HTTP or HTTPS, its TLS mode is Passthrough, it conflicts with another listener on the port, or the "
    "entrypoint of its port serves TLS when it does not (or the reverse).",
    CONFLICT: "Two HTTPRoute matches are identical (hostname, path, method, headers, query parameters); the "
    "older route (then namespace/name) wins and the other match never serves.",
    UNSUPPORTED: "An HTTPRoute filter ingressctl does not implement (ExtensionRef, CORS, ExternalAuth, "
    "backendRef filters): the rule answers 500 rather than skip it, as the API requires.",
    INVALID_MATCH: "An HTTPRoute match ingressctl cannot serve (a RegularExpression it cannot match in "
    "linear time); the match is left out.",
    NOT_OURS: "A Gateway API object another controller serves: a GatewayClass with another controllerName, a "
    "Gateway of such a class, or an HTTPRoute none of whose parents is ours (with --gateway-class, "
    "classes of other names too).",
    INGRESS_OVERLAP: "An Ingress rule and an HTTPRoute match (without method, header or query conditions) "
    "claim the same host, path and path type on a shared entrypoint: the Ingress wins and the HTTPRoute "
    "match never serves there. The finding names both objects and where they are.",
}

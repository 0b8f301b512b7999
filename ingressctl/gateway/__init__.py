"""The Gateway API half of the compiler: GatewayClasses, Gateways, HTTPRoutes and ReferenceGrants
become routes of the same RoutingTable as Ingresses, plus the status ingressctl writes for them.

attach: listeners ↔ entrypoints, routes ↔ listeners (hostnames, allowedRoutes, ReferenceGrants);
backends: backendRefs with weights; filters: filters → the shared middleware chain; precedence and
index: the API's match ordering and header/query/method matches; status: the conditions.
"""

"""Backend resolution: Ingress backend → Service → port → EndpointSlice/Endpoints → upstreams."""

from __future__ import annotations

from collections.abc import Iterable

from ingressctl.model import (
    BackendProblem,
    Diagnostic,
    Endpoint,
    EndpointPort,
    Endpoints,
    EndpointSlice,
    Ingress,
    IngressBackend,
    Location,
    RouteBackend,
    Service,
    ServicePort,
    Severity,
    Snapshot,
    Upstream,
)
from ingressctl.routing import codes
from ingressctl.routing.memo import CompileCache, same_items
from ingressctl.routing.options import CompileOptions
from ingressctl.routing.report import finding


def endpoint_usable(endpoint: Endpoint) -> bool:
    """Ready, where an unset `ready` counts as true."""
    return endpoint.ready is not False


def endpoint_fallback(endpoint: Endpoint) -> bool:
    """Usable only when nothing is ready: serving (unset follows ready) and terminating."""
    serving = endpoint.serving if endpoint.serving is not None else endpoint_usable(endpoint)
    return bool(serving) and endpoint.terminating is True


def _port_of(ports: Iterable[EndpointPort], service_port: ServicePort) -> int | None:
    """The endpoint port carrying `service_port`: EndpointSlice ports are named like Service ports."""
    ports = tuple(ports)
    for port in ports:
        if port.name == service_port.name:
            return port.port
    if not ports:
        # A slice without ports means "all ports": the Service's numeric targetPort applies.
        if isinstance(service_port.target_port, int):
            return service_port.target_port
        if service_port.target_port is None:
            return service_port.port
    return None


_Resolved = tuple[RouteBackend, str, Severity, str, str]
# What a resolution read: the Service, its EndpointSlices and its Endpoints. A finding's severity
# depends on these and on the options only, never on what else the input holds.
_Inputs = tuple[Service | None, list[EndpointSlice] | None, Endpoints | None]


class BackendResolver:
    """Resolves backends of one snapshot; findings are reported once per Ingress and backend."""

    def __init__(self, snapshot: Snapshot, options: CompileOptions, memo: CompileCache | None = None) -> None:
        self.options = options
        self.memo = memo
        self.services = {(s.meta.namespace, s.meta.name): s for s in snapshot.services}
        self.slices: dict[tuple[str, str], list[EndpointSlice]] = {}
        for eps in sorted(snapshot.endpoint_slices, key=lambda s: (s.meta.namespace, s.meta.name)):
            key = (eps.meta.namespace, eps.service_name)
            self.slices.setdefault(key, []).append(eps)
        self.legacy = {(e.meta.namespace, e.meta.name): e for e in snapshot.endpoints}
        self._reported: set[tuple[str, str, str, str, str]] = set()
        # Many routes share a backend: resolve each (namespace, backend) once per compile.
        self._cache: dict[tuple[object, ...], _Resolved] = {}
        # Keyed by id(): every Service and its ports stay referenced by self.services meanwhile.
        self._port_cache: dict[tuple[int, int], _Resolved] = {}

    def resolve(
        self, ingress: Ingress, backend: IngressBackend, where: Location | None = None
    ) -> tuple[RouteBackend, list[Diagnostic]]:
        """`where` locates findings when the backend itself carries no location (the path's)."""
        ns = ingress.meta.namespace
        cache_key = (
            ns,
            backend.service_name,
            backend.port_number,
            backend.port_name,
            backend.resource_kind,
            backend.resource_name,
        )
        resolved = self._cache.get(cache_key)
        if resolved is None:
            if self.memo is None:
                resolved = self._cache[cache_key] = self._resolve(ns, backend)
            else:
                resolved = self._cache[cache_key] = self._resolve_once(ns, backend, cache_key)
        result, code, severity, message, hint = resolved
        diagnostics: list[Diagnostic] = []
        if code:
            key = (ingress.meta.namespace, ingress.meta.name, result.service, result.port, code)
            if key not in self._reported:
                self._reported.add(key)
                port_where = backend.port_location if code == codes.PORT_NOT_FOUND else None
                diagnostics.append(
                    finding(code, severity, ingress, message, hint, port_where or backend.location or where)
                )
        return result, diagnostics

    def resolve_service(self, ns: str, name: str, port: int | None) -> RouteBackend:
        """Service `ns/name` port `port` resolved without findings (the Gateway API reports through
        status conditions and its own findings)."""
        backend = IngressBackend(name, port)
        key = (ns, name, port, None, None, None)
        resolved = self._cache.get(key)
        if resolved is None:
            resolved = self._cache[key] = self._resolve_once(ns, backend, key)
        return resolved[0]

    def service_port(self, ns: str, backend: IngressBackend) -> tuple[Service | None, ServicePort | None]:
        """The Service a backend names and the port of it that it uses (None when unknown)."""
        service = self.services.get((ns, backend.service_name or ""))
        if service is None:
            return None, None
        return service, _service_port(service, backend)

    def _resolve_once(self, ns: str, backend: IngressBackend, cache_key: tuple[object, ...]) -> _Resolved:
        """_resolve(), or the previous compile's result when everything it read is the same."""
        memo = self.memo
        if memo is None:
            return self._resolve(ns, backend)
        key = (ns, backend.service_name or "")
        inputs: _Inputs = (
            self.services.get(key),
            self.slices.get(key),
            self.legacy.get(key),
        )
        previous = memo.backends.get(cache_key)
        if previous is not None and _same_inputs(previous[0], inputs):
            resolved: _Resolved = previous[1]
        else:
            resolved = self._resolve(ns, backend)
        memo.next_backends[cache_key] = (inputs, resolved)
        return resolved

    def _resolve(self, ns: str, backend: IngressBackend) -> _Resolved:
        port_text = backend.port_text
        if backend.service_name is None:
            if backend.resource_kind is not None:
                label = f"{backend.resource_kind}/{backend.resource_name or ''}"
                result = RouteBackend(
                    ns,
                    label,
                    "",
                    problem=BackendProblem.RESOURCE_BACKEND,
                    problem_detail=f"resource backend {label} is not proxied",
                )
                return (
                    result,
                    codes.RESOURCE_BACKEND,
                    Severity.WARNING,
                    f"backend is the resource {label}; ingressctl does not proxy resource backends",
                    "Point the path at a Service (backend.service.name and port).",
                )
            result = RouteBackend(
                ns,
                "",
                "",
                problem=BackendProblem.SERVICE_NOT_FOUND,
                problem_detail="the backend names no Service",
            )
            return (
                result,
                codes.MISSING_BACKEND,
                Severity.ERROR,
                "a backend names no Service",
                "Set backend.service.name and backend.service.port.",
            )
        name = backend.service_name
        service = self.services.get((ns, name))
        if service is not None and service.type != "ExternalName":
            service_port = _service_port(service, backend)
            if service_port is not None:
                return self._endpoints(ns, name, port_text, service, service_port)
        base = RouteBackend(ns, name, port_text)
        if service is None:
            detail = f"Service {ns}/{name} not found"
            result = _with_problem(base, BackendProblem.SERVICE_NOT_FOUND, detail)
            # One rule, whatever else the input holds: a Service missing from the input is an
            # error only when the input is declared complete (--require-services, --kubernetes).
            if self.options.require_services:
                return (
                    result,
                    codes.SERVICE_NOT_FOUND,
                    Severity.ERROR,
                    f"backend Service {ns}/{name} does not exist; requests answer 503",
                    f"Create Service {name} in namespace {ns} or fix backend.service.name.",
                )
            return (
                result,
                codes.SERVICE_NOT_IN_INPUT,
                Severity.INFO,
                f"backend Service {ns}/{name} is not part of the input; it could not be checked",
                "Pass the Service manifests too, and --require-services to make a missing one an error.",
            )
        if service.type == "ExternalName":
            return self._external(base, service, backend)
        # The usual case (a port the Service lists) returned above; this is a port it does not list.
        known = ", ".join(_describe_port(p) for p in service.ports) or "none"
        return (
            _with_problem(
                base, BackendProblem.PORT_NOT_FOUND, f"port {port_text} not in Service {ns}/{name}"
            ),
            codes.PORT_NOT_FOUND,
            Severity.ERROR,
            f"Service {ns}/{name} has no port {port_text or '(the backend names none)'}; requests answer 503",
            f"Use one of the Service ports ({known}).",
        )

    def _external(self, base: RouteBackend, service: Service, backend: IngressBackend) -> _Resolved:
        ref = f"{service.meta.namespace}/{service.meta.name}"
        if not self.options.allow_external_name_services:
            return (
                _with_problem(
                    base,
                    BackendProblem.EXTERNAL_NAME_NOT_ALLOWED,
                    f"ExternalName Service {ref} ({service.external_name}) is not allowed",
                ),
                codes.EXTERNAL_NAME_NOT_ALLOWED,
                Severity.ERROR,
                f"backend Service {ref} is of type ExternalName ({service.external_name}); "
                "requests answer 503",
                "Start ingressctl with --allow-external-name-services if Ingress authors may be trusted.",
            )
        port = backend.port_number
        if port is None:
            named = _service_port(service, backend)
            port = named.port if named is not None else None
        if port is None or not service.external_name:
            what = "no externalName" if not service.external_name else f"no port named {backend.port_name}"
            return (
                _with_problem(base, BackendProblem.PORT_NOT_FOUND, f"ExternalName Service {ref} has {what}"),
                codes.PORT_NOT_FOUND,
                Severity.ERROR,
                f"ExternalName Service {ref} has {what}; requests answer 503",
                "Give the port by number in the Ingress, or name a port the Service lists.",
            )
        upstream = Upstream(host=service.external_name, port=port)
        return _ok(RouteBackend(base.namespace, base.service, base.port, upstreams=(upstream,)))

    def _endpoints(
        self, ns: str, name: str, port_text: str, service: Service, service_port: ServicePort
    ) -> _Resolved:
        # Backends naming one Service port by number and by name (80 vs "http") share the endpoint
        # work; only the RouteBackend's port text differs, and no message mentions it.
        # By identity (hashing a ServicePort costs a call); a port object may be shared by Services.
        cache_key = (id(service), id(service_port))
        resolved = self._port_cache.get(cache_key)
        if resolved is None:
            base = RouteBackend(ns, name, port_text)
            resolved = self._port_cache[cache_key] = self._port_endpoints(base, service, service_port)
        result, code, severity, message, hint = resolved
        if result.port != port_text:
            # Spelled out: dataclasses.replace costs as much as the endpoint work it saves.
            result = RouteBackend(  # positional: namespace, service, port, upstreams, scheme, problem, ...
                result.namespace,
                result.service,
                port_text,
                result.upstreams,
                result.scheme,
                result.problem,
                result.problem_detail,
                result.split,
            )
        return result, code, severity, message, hint

    def _port_endpoints(self, base: RouteBackend, service: Service, service_port: ServicePort) -> _Resolved:
        key = (service.meta.namespace, service.meta.name)
        ref = f"{key[0]}/{key[1]}"
        # Keyed by (address, port): a dict keeps first-seen order and drops duplicates without
        # building an Upstream per endpoint address (most of the cost at thousands of backends).
        ready: dict[tuple[str, int], None] = {}
        fallback: dict[tuple[str, int], None] = {}
        candidates = 0
        unresolved_port = False
        slices = self.slices.get(key)
        if slices is not None:
            for eps in slices:
                ports, endpoints = eps.ports, eps.endpoints
                number = _port_of(ports, service_port)
                if number is None:
                    unresolved_port = unresolved_port or bool(endpoints)
                    continue
                for endpoint in endpoints:
                    addresses = endpoint.addresses
                    candidates += len(addresses)
                    # A usable endpoint never matters as a fallback: fallbacks count only when none is ready.
                    if endpoint_usable(endpoint):
                        for address in addresses:
                            ready[(address, number)] = None
                    elif endpoint_fallback(endpoint):
                        for address in addresses:
                            fallback[(address, number)] = None
        elif key in self.legacy:
            for subset in self.legacy[key].subsets:
                number = _port_of(subset.ports, service_port)
                if number is None:
                    unresolved_port = unresolved_port or bool(subset.addresses)
                    continue
                # Legacy addresses are ready; notReadyAddresses are neither ready nor serving.
                candidates += len(subset.addresses) + len(subset.not_ready_addresses)
                for address in subset.addresses:
                    ready[(address, number)] = None
        else:
            # Manifest repositories rarely hold EndpointSlices (the cluster makes them): only a
            # complete input (--require-services, --kubernetes) makes their absence a warning.
            severity = Severity.WARNING if self.options.require_services else Severity.INFO
            return (
                _with_problem(base, BackendProblem.NO_ENDPOINTS, f"no EndpointSlice or Endpoints for {ref}"),
                codes.NO_ENDPOINTS,
                severity,
                f"Service {ref} has no EndpointSlice or Endpoints; requests answer 503",
                "Check that the Service selector matches running Pods (kubectl get endpointslices).",
            )
        if ready:
            upstreams = tuple(Upstream(host, port) for host, port in sorted(ready))
            return _ok(RouteBackend(base.namespace, base.service, base.port, upstreams))
        if fallback:
            upstreams = tuple(Upstream(host, port, fallback=True) for host, port in sorted(fallback))
            result = RouteBackend(base.namespace, base.service, base.port, upstreams=upstreams)
            return (
                result,
                codes.TERMINATING_FALLBACK,
                Severity.WARNING,
                f"no endpoint of Service {ref} is ready; {len(upstreams)} terminating endpoint(s) "
                "serve meanwhile",
                "Usually a rollout in progress; check the Pods if it lasts.",
            )
        if unresolved_port and not candidates:
            detail = f"the endpoints of {ref} do not carry port {_describe_port(service_port)}"
        else:
            detail = f"none of the {candidates} endpoint(s) of {ref} is ready"
        return (
            _with_problem(base, BackendProblem.NO_READY_ENDPOINTS, detail),
            codes.NO_READY_ENDPOINTS,
            Severity.WARNING,
            f"{detail}; requests answer 503",
            "Check the Pods' readiness (kubectl get pods) and the Service targetPort.",
        )


def _same_inputs(a: _Inputs, b: _Inputs) -> bool:
    return a[0] is b[0] and a[2] is b[2] and same_items(a[1], b[1])


def _ok(result: RouteBackend) -> _Resolved:
    return result, "", Severity.INFO, "", ""


def _with_problem(base: RouteBackend, problem: BackendProblem, detail: str) -> RouteBackend:
    return RouteBackend(base.namespace, base.service, base.port, problem=problem, problem_detail=detail)


def _service_port(service: Service, backend: IngressBackend) -> ServicePort | None:
    for port in service.ports:
        if backend.port_number is not None and port.port == backend.port_number:
            return port
        if backend.port_name is not None and port.name == backend.port_name:
            return port
    if backend.port_number is None and backend.port_name is None and len(service.ports) == 1:
        # v1beta1 manifests sometimes omit servicePort for single-port Services.
        return service.ports[0]
    return None


def _describe_port(port: ServicePort) -> str:
    return f"{port.port} ({port.name})" if port.name else str(port.port)

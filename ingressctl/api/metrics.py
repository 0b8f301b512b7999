"""Prometheus metrics: counted in plain dicts on the hot path, exposed by a collector at scrape time.

prometheus_client's labelled children take a lock and do several lookups per increment; a proxy
calls the observer for every request, so counts live in dicts keyed by label tuples (one
lookup per request) and are turned into metric families only when Prometheus scrapes.
`tests/api/test_metrics.py::test_observer_is_cheaper_than_prometheus_children` measures the difference.
prometheus_client itself is imported at the first scrape: a proxy nobody scrapes does not carry it.

The observer methods are called from the event loop thread only (like everything in the proxy).
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from ingressctl import __version__
from ingressctl.api.view import RuntimeView
from ingressctl.proxy.middlewares.circuit_breaker import broken_requests
from ingressctl.proxy.splice import spliced_bytes

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector


# Request latency buckets (seconds): a proxy's own overhead is sub-millisecond, upstreams vary widely.
REQUEST_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
RELOAD_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


_RECENT_FAILURES_KEPT = 1024
_REQUESTS_HELP = "Requests answered, by router, status code and protocol (http/1.1, h2, h2c)."
_DURATION_HELP = "Time from request to the last byte of the response."


@dataclass(frozen=True, slots=True)
class UpstreamFailures:
    count: int  # since the process started
    last: float  # time.time() of the last one
    kind: str  # of the last one: connect, timeout, reset, protocol


@dataclass(frozen=True, slots=True)
class AcmeHold:
    """An ACME order the rate-limit guard holds back: for which names, until when, why."""

    names: tuple[str, ...]
    retry_at: float  # epoch seconds of the next attempt
    reason: str


@dataclass(frozen=True, slots=True)
class RouterTraffic:
    requests: int
    server_errors: int  # 5xx answers, ours (502/503/504) or the upstream's
    seconds: float  # summed durations

    @property
    def mean_seconds(self) -> float:
        return self.seconds / self.requests if self.requests else 0.0


class _Histogram:
    """Bucket counts (non-cumulative, last one is +Inf) and the sum of observations."""

    __slots__ = ("counts", "total")

    def __init__(self, size: int) -> None:
        self.counts = [0] * (size + 1)
        self.total = 0.0

    def cumulative(self, bounds: Sequence[float]) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*(repr(float(b)) for b in bounds), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


class _RouteSeries:
    """Everything counted for one (entrypoint, router, service), with its label text for /metrics."""

    __slots__ = ("by_protocol", "labels", "latency")

    def __init__(self, buckets: int, key: tuple[str, str, str]) -> None:
        # ingressctl_requests_total's series: (protocol, code) -> count ("http/1.1", "h2", "h2c").
        self.by_protocol: dict[tuple[str, int], int] = {}
        self.latency = _Histogram(buckets)
        self.labels = _label_text(_ROUTE_LABELS, key)


_ROUTE_LABELS = ("entrypoint", "router", "service")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(names: Sequence[str], values: Sequence[str]) -> str:
    return ",".join(f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True))


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    return "NaN" if math.isnan(value) else repr(float(value))


def _family_text(family: Metric, out: list[str]) -> None:
    """Prometheus text format (0.0.4) of one family, like prometheus_client writes it."""
    name = family.name + "_total" if family.type == "counter" else family.name
    doc = family.documentation.replace("\\", "\\\\").replace("\n", "\\n")
    out.append(f"# HELP {name} {doc}")
    out.append(f"# TYPE {name} {family.type}")
    for sample in family.samples:
        labels = _label_text(list(sample.labels), list(sample.labels.values()))
        out.append(
            f"{sample.name}{{{labels}}} {_number(sample.value)}"
            if labels
            else f"{sample.name} {_number(sample.value)}"
        )


class Metrics:
    """The process's metrics; implements the proxy's ProxyObserver and the server's reload hooks."""

    def __init__(
        self,
        view: RuntimeView | None = None,
        *,
        clock: Callable[[], float] = time.time,
        request_buckets: Sequence[float] = REQUEST_BUCKETS,
    ) -> None:
        self.view = view
        self._clock = clock
        self._bounds = tuple(request_buckets)
        self._routes: dict[tuple[str, str, str], _RouteSeries] = {}
        self._upstream_errors: dict[tuple[str, str, str, str], int] = {}
        self._recent_failures: dict[str, UpstreamFailures] = {}
        self._retries: dict[tuple[str, str, str], int] = {}
        self._refused: dict[tuple[str, str, str, str], int] = {}
        self._open: dict[str, int] = {}
        self._reloads: dict[str, int] = {}
        self._reload_latency = _Histogram(len(RELOAD_BUCKETS))
        self._acme_orders: dict[str, int] = {}
        self._acme_failures: dict[str, int] = {}
        self._acme_held: dict[tuple[str, ...], AcmeHold] = {}
        self._le_texts = [f'le="{_number(b)}"' for b in self._bounds] + ['le="+Inf"']

    @cached_property
    def _process_collectors(self) -> tuple[Collector, ...]:
        """process_cpu_seconds_total, process_resident_memory_bytes, ..., python_info."""
        from prometheus_client import PlatformCollector, ProcessCollector

        return ProcessCollector(registry=None), PlatformCollector(registry=None)

    @cached_property
    def _process_registry(self) -> CollectorRegistry:
        return _registry(self._process_collectors)

    @cached_property
    def registry(self) -> CollectorRegistry:
        """Everything, for prometheus_client's own tools (push gateway, WSGI/ASGI apps)."""
        from prometheus_client.registry import Collector

        metrics = self

        class Ours(Collector):
            def collect(self) -> Iterator[Metric]:
                return metrics.collect()

        return _registry((Ours(), *self._process_collectors))

    # ------------------------------------------------------------ proxy observer (hot path)

    def on_request(
        self,
        entrypoint: str,
        route_id: str,
        service: str,
        status: int,
        seconds: float,
        protocol: str = "http/1.1",
    ) -> None:
        key = (entrypoint, route_id, service)
        series = self._routes.get(key)
        if series is None:
            series = self._routes[key] = _RouteSeries(len(self._bounds), key)
        by_protocol = series.by_protocol
        pair = (protocol, status)
        by_protocol[pair] = by_protocol.get(pair, 0) + 1
        latency = series.latency
        latency.counts[bisect_left(self._bounds, seconds)] += 1
        latency.total += seconds

    def on_upstream_error(
        self, entrypoint: str, route_id: str, service: str, upstream: str, kind: str
    ) -> None:
        # Not a metric label: per-address series would grow without bound as pods come and go.
        key = (entrypoint, route_id, service, kind)
        self._upstream_errors[key] = self._upstream_errors.get(key, 0) + 1
        # For the dashboard: recent failures per address, bounded, most recent last.
        recent = self._recent_failures.pop(upstream, None)
        count = recent.count + 1 if recent is not None else 1
        self._recent_failures[upstream] = UpstreamFailures(count, self._clock(), kind)
        if len(self._recent_failures) > _RECENT_FAILURES_KEPT:
            del self._recent_failures[next(iter(self._recent_failures))]

    def router_traffic(self) -> dict[str, RouterTraffic]:
        """Requests per router id since the process started (all entrypoints and services summed)."""
        out: dict[str, RouterTraffic] = {}
        for (_, router, _), series in list(self._routes.items()):
            total = sum(series.by_protocol.values())
            server_errors = sum(n for (_, code), n in series.by_protocol.items() if code >= 500)
            seen = out.get(router)
            if seen is not None:
                total += seen.requests
                server_errors += seen.server_errors
                seconds = seen.seconds + series.latency.total
            else:
                seconds = series.latency.total
            out[router] = RouterTraffic(total, server_errors, seconds)
        return out

    def upstream_failures(self) -> dict[str, UpstreamFailures]:
        """Failures seen per upstream address ("10.0.0.1:8080"), for the dashboard."""
        return dict(self._recent_failures)

    def on_retry(self, entrypoint: str, route_id: str, service: str, upstream: str) -> None:
        _ = upstream
        key = (entrypoint, route_id, service)
        self._retries[key] = self._retries.get(key, 0) + 1

    def on_refused(self, entrypoint: str, route_id: str, service: str, middleware: str) -> None:
        key = (entrypoint, route_id, service, middleware)
        self._refused[key] = self._refused.get(key, 0) + 1

    def on_connection_open(self, entrypoint: str) -> None:
        self._open[entrypoint] = self._open.get(entrypoint, 0) + 1

    def on_connection_close(self, entrypoint: str) -> None:
        self._open[entrypoint] = max(0, self._open.get(entrypoint, 0) - 1)

    def open_connections(self, entrypoint: str) -> int:
        return self._open.get(entrypoint, 0)

    # ------------------------------------------------------------ server and ACME hooks

    def on_reload(self, success: bool, seconds: float) -> None:
        result = "success" if success else "failure"
        self._reloads[result] = self._reloads.get(result, 0) + 1
        self._reload_latency.counts[bisect_left(RELOAD_BUCKETS, seconds)] += 1
        self._reload_latency.total += seconds

    def on_acme_order(self, result: str) -> None:
        """result: "valid" (issued), "invalid" (the CA refused), "error" (could not finish)."""
        self._acme_orders[result] = self._acme_orders.get(result, 0) + 1

    def on_acme_failure(self, reason: str = "error") -> None:
        self._acme_failures[reason] = self._acme_failures.get(reason, 0) + 1

    def on_acme_hold(self, names: tuple[str, ...], retry_at: float | None, reason: str = "") -> None:
        """The rate-limit guard holds an order for `names` back until `retry_at` (None: no longer)."""
        if retry_at is None:
            self._acme_held.pop(names, None)
        else:
            self._acme_held[names] = AcmeHold(names, retry_at, reason)

    def acme_holds(self) -> list[AcmeHold]:
        """Orders the rate-limit guard holds back now (shown by /api/certificates)."""
        return sorted(self._acme_held.values(), key=lambda h: h.names)

    # ------------------------------------------------------------ exposition

    @property
    def series(self) -> int:
        """How many (entrypoint, router, service) series exist: what /metrics costs to write."""
        return len(self._routes)

    def render(self) -> bytes:
        """The /metrics body. Same samples as generate_latest(self.registry), written much faster.

        prometheus_client validates and escapes every label of every sample; with thousands of
        routers that takes seconds. Per-router series keep their label text from their first
        request, so writing them is string joins only. (Safe to call from a worker thread: it
        only takes snapshots of the dicts the event loop updates.)
        """
        out: list[str] = []
        self._route_text(out)
        for family in self._other_families():
            _family_text(family, out)
        out.append("")
        from prometheus_client import generate_latest

        process: bytes = generate_latest(self._process_registry)
        return "\n".join(out).encode() + process

    def render_openmetrics(self) -> bytes:
        """The same samples in the OpenMetrics 1.0.0 format, written by prometheus_client (slower
        than render(): only scrapers that ask for it pay for it)."""
        from prometheus_client.openmetrics import exposition

        # The library leaves this function unannotated: state its type once, here.
        generate: Callable[[CollectorRegistry], bytes] = exposition.generate_latest
        return generate(self.registry)

    def _route_text(self, out: list[str]) -> None:
        routes = [series for _, series in list(self._routes.items())]
        out.append(f"# HELP ingressctl_requests_total {_REQUESTS_HELP}")
        out.append("# TYPE ingressctl_requests_total counter")
        for series in routes:
            labels = series.labels
            for (protocol, code), count in list(series.by_protocol.items()):
                sample = f'{{{labels},code="{code}",protocol="{protocol}"}}'
                out.append(f"ingressctl_requests_total{sample} {float(count)!r}")
        name = "ingressctl_request_duration_seconds"
        out.append(f"# HELP {name} {_DURATION_HELP}")
        out.append(f"# TYPE {name} histogram")
        le_texts = self._le_texts
        for series in routes:
            labels = series.labels
            running = 0
            for le, count in zip(le_texts, list(series.latency.counts), strict=True):
                running += count
                out.append(f"{name}_bucket{{{labels},{le}}} {float(running)!r}")
            out.append(f"{name}_count{{{labels}}} {float(running)!r}")
            out.append(f"{name}_sum{{{labels}}} {float(series.latency.total)!r}")

    def collect(self) -> Iterator[Metric]:
        """Every family of ours, for prometheus_client (the registry); render() writes the same."""
        yield from self._route_families()
        yield from self._other_families()

    def _route_families(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        route_labels = list(_ROUTE_LABELS)
        requests = CounterMetricFamily(
            "ingressctl_requests", _REQUESTS_HELP, labels=[*route_labels, "code", "protocol"]
        )
        latency = HistogramMetricFamily(
            "ingressctl_request_duration_seconds", _DURATION_HELP, labels=route_labels
        )
        for (ep, router, service), series in list(self._routes.items()):
            for (protocol, code), count in list(series.by_protocol.items()):
                requests.add_metric([ep, router, service, str(code), protocol], count)
            latency.add_metric(
                [ep, router, service], series.latency.cumulative(self._bounds), series.latency.total
            )
        yield requests
        yield latency

    def _other_families(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        route_labels = list(_ROUTE_LABELS)
        errors = CounterMetricFamily(
            "ingressctl_upstream_errors",
            "Upstream connections or responses that failed (connect, timeout, reset).",
            labels=[*route_labels, "kind"],
        )
        for labels, count in list(self._upstream_errors.items()):
            errors.add_metric(list(labels), count)
        yield errors

        retries = CounterMetricFamily(
            "ingressctl_retries", "Requests retried on another upstream.", labels=route_labels
        )
        for labels3, count in list(self._retries.items()):
            retries.add_metric(list(labels3), count)
        yield retries

        refused = CounterMetricFamily(
            "ingressctl_middleware_refused_requests",
            "Requests a route's middleware refused to protect it (rate-limit, in-flight-limit, ...).",
            labels=[*route_labels, "middleware"],
        )
        for labels4, count in list(self._refused.items()):
            refused.add_metric(list(labels4), count)
        yield refused

        open_conns = GaugeMetricFamily(
            "ingressctl_open_connections", "Client connections open now.", labels=["entrypoint"]
        )
        for ep, count in list(self._open.items()):
            open_conns.add_metric([ep], count)
        yield open_conns

        spliced = CounterMetricFamily(
            "ingressctl_response_bytes_spliced",
            "Response body bytes the kernel moved from upstreams to clients (splice), not through Python.",
        )
        spliced.add_metric([], spliced_bytes())
        yield spliced

        broken = CounterMetricFamily(
            "ingressctl_circuit_broken_requests",
            "Requests answered 503 by an open circuit breaker, by router.",
            labels=["router"],
        )
        for router, count in sorted(broken_requests().items()):
            broken.add_metric([router], count)
        yield broken

        reloads = CounterMetricFamily(
            "ingressctl_config_reloads", "Configuration reloads, by result.", labels=["result"]
        )
        for result in ("success", "failure"):
            reloads.add_metric([result], self._reloads.get(result, 0))
        yield reloads
        reload_latency = HistogramMetricFamily(
            "ingressctl_config_reload_duration_seconds", "Time to compile and apply a configuration."
        )
        reload_latency.add_metric(
            [], self._reload_latency.cumulative(RELOAD_BUCKETS), self._reload_latency.total
        )
        yield reload_latency

        orders = CounterMetricFamily("ingressctl_acme_orders", "ACME orders, by result.", labels=["result"])
        for result, count in list(self._acme_orders.items()):
            orders.add_metric([result], count)
        yield orders
        failures = CounterMetricFamily(
            "ingressctl_acme_failures", "ACME operations that failed, by reason.", labels=["reason"]
        )
        for reason, count in list(self._acme_failures.items()):
            failures.add_metric([reason], count)
        yield failures
        held = GaugeMetricFamily(
            "ingressctl_acme_order_held_until_seconds",
            "Unix time of the next attempt for an order the rate-limit guard holds back, by set of names.",
            labels=["names"],
        )
        for hold in self.acme_holds():
            held.add_metric([",".join(hold.names)], hold.retry_at)
        yield held

        yield from self._collect_view()

    def _collect_view(self) -> Iterator[GaugeMetricFamily]:
        """Gauges read from the runtime at scrape time, so they are never stale."""
        from prometheus_client.core import GaugeMetricFamily

        expiry = GaugeMetricFamily(
            "ingressctl_certificate_expiry_seconds",
            "Seconds until the certificate expires (negative: expired).",
            labels=["names", "source"],
        )
        routes = GaugeMetricFamily("ingressctl_routes", "Routes in the routing table being served.")
        ready = GaugeMetricFamily("ingressctl_ready", "1 once the first configuration is applied.")
        # As Prometheus itself exports them: alert when the last reload failed or is old.
        successful = GaugeMetricFamily(
            "ingressctl_config_last_reload_successful", "1 when the last configuration reload succeeded."
        )
        applied = GaugeMetricFamily(
            "ingressctl_config_last_reload_success_timestamp_seconds",
            "When the configuration being served was applied (Unix time).",
        )
        leader: GaugeMetricFamily | None = None
        view = self.view
        if view is not None:
            leader = _leader_gauge(view)
            now = self._clock()
            for cert in view.certificates():
                expiry.add_metric([",".join(cert.names), cert.source.value], cert.not_after - now)
            table = view.table()
            routes.add_metric([], len(table.routes) if table is not None else 0)
            ready.add_metric([], 1 if view.ready() else 0)
            successful.add_metric([], 0 if view.last_error() else 1)
            reloaded = view.last_reload()
            if reloaded is not None:
                applied.add_metric([], reloaded)
        yield expiry
        yield routes
        yield ready
        yield successful
        yield applied
        if leader is not None:
            yield leader
        info = GaugeMetricFamily(
            "ingressctl_build_info", "Always 1; the version is a label.", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info


def _registry(collectors: Sequence[Collector]) -> CollectorRegistry:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry


def _leader_gauge(view: RuntimeView) -> GaugeMetricFamily | None:
    """ingressctl_leader from the runtime's leadership; None (no series) without leader election,
    where every replica acts on the cluster and "leader" would mean nothing."""
    from prometheus_client.core import GaugeMetricFamily

    leadership = view.config_summary().get("leadership")
    if not leadership or not leadership.get("election"):
        return None
    gauge = GaugeMetricFamily(
        "ingressctl_leader",
        "1 when this replica holds the leader Lease (writes Ingress status, orders ACME certificates).",
    )
    gauge.add_metric([], 1 if leadership.get("leader") else 0)
    return gauge

"""Live endpoint health laid over the services document: what the proxy itself saw.

The services document is built once per configuration (documents.py); whether an endpoint works
changes between requests. The proxy's upstream pool knows which addresses failed (connect refused
or timed out, reset, invalid response) with no success since, and for how long each is ejected;
the metrics know the kind and time of each address's last failure. Only services with such an
address are serialised again, so while everything works the cached bytes and ETag are served as
they are; while something fails the ETag follows the health, so pollers still get 304s between
changes.

Per endpoint: `state` is "healthy", "ejected" (the balancer skips it until `ejected_until`) or
"failing" (it failed and nothing succeeded since; it is tried again: its ejection ended, or it is
its service's only endpoint, which is always tried). Per service: "down" when every endpoint fails,
"degraded" when some do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ingressctl.api.documents import Documents
from ingressctl.api.metrics import UpstreamFailures
from ingressctl.api.serialize import Json, iso
from ingressctl.proxy.pool import EndpointFailing


def authority(host: str, port: int) -> str:
    """ "host:port" as the services document and the metrics write an endpoint ("[v6]:port")."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class LiveServices:
    body: bytes  # the JSON array
    etag: str
    counts: dict[str, int]  # services by status, for the overview


def _endpoint(
    endpoint: Json,
    failing: EndpointFailing,
    last: UpstreamFailures | None,
    can_eject: bool,
    now: float,
) -> Json:
    ejected = can_eject and failing.ejected_for > 0
    return {
        **endpoint,
        "state": "ejected" if ejected else "failing",
        "consecutive_failures": failing.failures,
        # Whole seconds: the document (and its ETag) stays the same while the ejection does.
        "ejected_until": iso(now + failing.ejected_for) if ejected else None,
        "last_error": {"kind": last.kind, "at": iso(last.last)} if last is not None else None,
    }


def service_with_health(
    service: Json,
    failing: Mapping[str, EndpointFailing],
    failures: Mapping[str, UpstreamFailures],
    now: float,
) -> Json:
    endpoints: list[Json] = service["endpoints"]
    # The balancer never skips a service's only endpoint: "ejected" would not be true of it.
    can_eject = sum(1 for e in endpoints if e["weight"] > 0) > 1
    out: list[Json] = []
    count = 0
    for endpoint in endpoints:
        state = failing.get(endpoint["address"])
        if state is None:
            out.append(endpoint)
            continue
        count += 1
        out.append(_endpoint(endpoint, state, failures.get(endpoint["address"]), can_eject, now))
    status = service["status"]
    if count and status != "down":
        status = "down" if count >= len(endpoints) else "degraded"
    return {**service, "status": status, "failing_endpoints": count, "endpoints": out}


class HealthOverlay:
    """Applies the live health to one Documents' services; remembers the last result."""

    def __init__(self) -> None:
        self._last: tuple[str, tuple[object, ...], LiveServices] | None = None

    def apply(
        self,
        docs: Documents,
        failing: Mapping[tuple[str, int], EndpointFailing],
        failures: Callable[[], Mapping[str, UpstreamFailures]],
        now: float,
    ) -> LiveServices:
        """The services of `docs` with the live health of their endpoints."""
        unchanged = LiveServices(docs.services_json, docs.etag, docs.service_counts)
        if not failing:
            return unchanged
        by_address = docs.services_by_address
        current = {authority(h, p): f for (h, p), f in failing.items() if authority(h, p) in by_address}
        if not current:
            return unchanged
        etag, services = docs.etag, docs.services
        last_failures = failures()
        affected = sorted({i for address in current for i in by_address[address]})
        updated = {i: service_with_health(services[i], current, last_failures, now) for i in affected}
        fingerprint = tuple(
            (i, e["address"], e["state"], e["consecutive_failures"], e["ejected_until"], str(e["last_error"]))
            for i in affected
            for e in updated[i]["endpoints"]
            if e["state"] != "healthy"
        )
        if self._last is not None and self._last[0] == etag and self._last[1] == fingerprint:
            return self._last[2]
        body_parts = list(docs.service_parts)
        live_counts = dict(docs.service_counts)
        for i, service in updated.items():
            before, after = services[i]["status"], service["status"]
            if before != after:
                live_counts[before] -= 1
                if not live_counts[before]:
                    del live_counts[before]
                live_counts[after] = live_counts.get(after, 0) + 1
            body_parts[i] = json.dumps(service, separators=(",", ":"), ensure_ascii=False).encode()
        digest = hashlib.blake2b(repr(fingerprint).encode(), digest_size=6).hexdigest()
        live = LiveServices(b"[" + b",".join(body_parts) + b"]", f'{etag[:-1]}-{digest}"', live_counts)
        self._last = (etag, fingerprint, live)
        return live

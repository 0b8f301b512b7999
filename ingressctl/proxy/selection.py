"""Choosing the endpoint when a route's upstream policy asks for more than round robin: a sticky cookie,
a consistent hash of a request value, or the least-latency method; plus the policy's timeouts and
retry rules, as the forwarder reads them (`BackendRuntime`).

The sticky cookie's value is a hash of the route's backend and the endpoint address: the address
itself never reaches the client. A cookie naming an endpoint that is gone or ejected is ignored and
the client is pinned again (a new Set-Cookie).
"""

from __future__ import annotations

import bisect
import hashlib
import time
from collections.abc import Callable
from email.utils import formatdate

from aiohttp.web_request import BaseRequest

from ingressctl.model.backend_policy import BackendPolicy, BalanceMethod, HashKey, StickyCookie
from ingressctl.proxy.balancer import Key, Peer, SmoothWeightedRoundRobin
from ingressctl.proxy.cookies import request_cookie
from ingressctl.proxy.error_pages import ErrorPage
from ingressctl.routing.hosts import normalize_request_host

_RING_POINTS = 64  # ring points per endpoint (on average): keys spread evenly, few move when endpoints change
_EWMA_DECAY = 0.3


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).digest(), "big")


def cookie_value(backend: str, peer: Peer) -> str:
    """What the sticky cookie holds for `peer`: a hash, not the address."""
    return hashlib.sha256(f"{backend}|{peer.label}".encode()).hexdigest()[:16]


def set_cookie_header(cookie: StickyCookie, value: str, now: float | None = None) -> str:
    parts = [f"{cookie.name}={value}", f"Path={cookie.path}"]
    if cookie.max_age:
        parts.append(f"Max-Age={cookie.max_age}")
    if cookie.expires:
        parts.append("Expires=" + formatdate((now or time.time()) + cookie.expires, usegmt=True))
    if cookie.secure:
        parts.append("Secure")
    if cookie.http_only:
        parts.append("HttpOnly")
    if cookie.same_site:
        parts.append(f"SameSite={cookie.same_site}")
    return "; ".join(parts)


def hash_input(key: HashKey, request: BaseRequest) -> str:
    """The request value an ingress-nginx upstream-hash-by template names."""
    out: list[str] = []
    for kind, name in key.parts:
        if kind == "text":
            out.append(name)
        elif name == "request_uri":
            out.append(request.raw_path)
        elif name == "uri":
            out.append(request.raw_path.partition("?")[0])
        elif name in ("remote_addr", "binary_remote_addr"):
            out.append(request.remote or "")
        elif name == "host":
            out.append(normalize_request_host(request.headers.get("Host", "")))
        elif name == "args":
            out.append(request.query_string)
        elif name.startswith("http_"):
            out.append(request.headers.get(name[5:].replace("_", "-"), ""))
        elif name.startswith("cookie_"):
            out.append(request.cookies.get(name[7:], ""))
        else:  # arg_NAME
            out.append(request.query.get(name[4:], ""))
    return "".join(out)


class Selector:
    """Endpoint choice for one route under its policy; falls back to the route's round robin."""

    __slots__ = (
        "_by_cookie",
        "_cookie_of",
        "_inflight",
        "_latency",
        "_ring",
        "_tracks",
        "_turn",
        "balancer",
        "policy",
    )

    def __init__(self, policy: BackendPolicy, balancer: SmoothWeightedRoundRobin, backend: str) -> None:
        self.policy = policy
        self.balancer = balancer
        self._cookie_of: dict[Key, str] = {p.key: cookie_value(backend, p) for p in balancer.peers}
        self._by_cookie: dict[str, Peer] = {cookie_value(backend, p): p for p in balancer.peers}
        self._ring: list[tuple[int, int]] = []  # (point, index into balancer.peers)
        if policy.hash_key is not None:
            peers = balancer.peers
            total = sum(p.weight for p in peers) or 1
            for index, peer in enumerate(peers):
                # Points in proportion to weight, about _RING_POINTS per endpoint in all: weights of
                # thousands (service-weights) must not make the ring huge.
                points = max(1, round(_RING_POINTS * len(peers) * peer.weight / total))
                for n in range(points):
                    self._ring.append((_hash64(f"{peer.label}#{n}"), index))
            self._ring.sort()
        self._inflight: dict[Key, int] = {}
        self._latency: dict[Key, float] = {}
        self._turn = 0
        # Requests in flight and latencies are read by the least-latency choice only: the other
        # methods (sticky cookie, hash, round robin) skip keeping them on every request.
        self._tracks = policy.method is BalanceMethod.LEAST_LATENCY

    def pick(
        self,
        request: BaseRequest,
        ejected: Callable[[Key], bool],
        exclude: Key | None,
        cookie: str | None = None,
    ) -> Peer | None:
        """`cookie`: the request's sticky cookie if the caller read it (the forwarder reads it once
        per request, by BackendRuntime.sticky_name); None: read it here."""
        sticky = self.policy.sticky
        if sticky is not None:
            if cookie is None:
                cookie = request_cookie(request, sticky.name)
            pinned = self._by_cookie.get(cookie or "")
            if pinned is not None and pinned.key != exclude and not ejected(pinned.key):
                return self._started(pinned) if self._tracks else pinned
        hash_key = self.policy.hash_key
        if hash_key is not None and self._ring:
            return self._started_or_none(self._from_ring(hash_input(hash_key, request), ejected, exclude))
        if self.policy.method is BalanceMethod.LEAST_LATENCY:
            return self._started_or_none(self._least_latency(ejected, exclude))
        return self._started_or_none(self.balancer.pick(ejected, exclude))

    def pinned(self, cookie: str, ejected: Callable[[Key], bool], exclude: Key | None) -> Peer | None:
        """The endpoint the request's sticky cookie names, if it can take the request; None: `pick`
        chooses (and `set_cookie` pins the client again). A pinned client needs no Set-Cookie."""
        peer = self._by_cookie.get(cookie)
        if peer is None or peer.key == exclude or ejected(peer.key):
            return None
        return self._started(peer) if self._tracks else peer

    def _from_ring(self, value: str, ejected: Callable[[Key], bool], exclude: Key | None) -> Peer | None:
        ring = self._ring
        peers = self.balancer.peers
        start = bisect.bisect_left(ring, (_hash64(value), -1))
        tried: set[int] = set()
        for offset in range(len(ring)):
            index = ring[(start + offset) % len(ring)][1]
            if index in tried:
                continue
            tried.add(index)
            peer = peers[index]
            if peer.key != exclude and not ejected(peer.key):
                return peer
            if len(tried) == len(peers):
                break
        return None

    def _least_latency(self, ejected: Callable[[Key], bool], exclude: Key | None) -> Peer | None:
        peers = self.balancer.peers
        count = len(peers)
        self._turn = (self._turn + 1) % max(count, 1)
        best: Peer | None = None
        best_score = 0.0
        for offset in range(count):  # rotating start: ties (all unmeasured) go round robin
            peer = peers[(self._turn + offset) % count]
            if peer.key == exclude or ejected(peer.key):
                continue
            score = (
                (self._inflight.get(peer.key, 0) + 1) * self._latency.get(peer.key, 0.0) / max(peer.weight, 1)
            )
            if best is None or score < best_score:
                best, best_score = peer, score
        return best

    def _started_or_none(self, peer: Peer | None) -> Peer | None:
        return self._started(peer) if peer is not None else None

    def _started(self, peer: Peer) -> Peer:
        if self._tracks:
            self._inflight[peer.key] = self._inflight.get(peer.key, 0) + 1
        return peer

    def release(self, key: Key) -> None:
        """No longer in flight, with nothing learnt about the endpoint's speed."""
        if self._tracks:
            self._inflight[key] = max(self._inflight.get(key, 0) - 1, 0)

    def finished(self, key: Key, seconds: float | None) -> None:
        """The request to `key` has its answer head (or failed: `seconds` None)."""
        if not self._tracks:
            return
        left = self._inflight.get(key, 0) - 1
        self._inflight[key] = max(left, 0)
        if seconds is not None:
            old = self._latency.get(key)
            self._latency[key] = seconds if old is None else old + _EWMA_DECAY * (seconds - old)
        elif self.policy.method is BalanceMethod.LEAST_LATENCY:
            # A failure counts as slow: the endpoint is avoided until it answers well again.
            self._latency[key] = max(self._latency.get(key, 0.0) * 2, 1.0)

    def set_cookie(self, request: BaseRequest, peer: Peer, cookie: str | None = None) -> str | None:
        """The Set-Cookie value pinning the client to `peer`, unless its cookie does already.
        `cookie` as for `pick`."""
        sticky = self.policy.sticky
        if sticky is None:
            return None
        value = self._cookie_of.get(peer.key, "")
        if cookie is None:
            cookie = request_cookie(request, sticky.name)
        if cookie == value:
            return None
        return set_cookie_header(sticky, value)


class BackendRuntime:
    """What the forwarder reads of a route's upstream policy (built once per route with the plan)."""

    __slots__ = (
        "answer_checks",
        "connect_timeout",
        "error_pages",
        "max_request_body",
        "max_response_body",
        "read_timeout",
        "retries",
        "retry_errors",
        "retry_non_idempotent",
        "retry_statuses",
        "retry_timeouts",
        "selector",
        "send_timeout",
        "sticky_name",
        "tracks",
    )

    def __init__(self, policy: BackendPolicy, balancer: SmoothWeightedRoundRobin, backend: str) -> None:
        needs_selector = (
            policy.sticky is not None
            or policy.hash_key is not None
            or policy.method is not BalanceMethod.ROUND_ROBIN
        )
        self.selector = Selector(policy, balancer, backend) if needs_selector else None
        # Read by the forwarder per request, so that a policy without them costs no call.
        self.sticky_name = policy.sticky.name if policy.sticky is not None else None
        self.tracks = policy.method is BalanceMethod.LEAST_LATENCY  # `finished` matters
        self.connect_timeout = policy.connect_timeout
        self.read_timeout = policy.read_timeout
        self.send_timeout = policy.send_timeout
        self.max_request_body = policy.max_request_body
        self.max_response_body = policy.max_response_body
        self.error_pages = tuple(ErrorPage(page) for page in policy.error_pages if page.backend is not None)
        retry_on = policy.retry_on
        if "off" in retry_on:
            self.retries = 0
        elif policy.tries is not None:
            self.retries = max(policy.tries - 1, 0)
        else:
            # The proxy's default: one other endpoint after a failure.
            self.retries = 2 if policy.retry_on else 1
        # Without proxy-next-upstream only a failed connect moves on (the proxy's default); with
        # it, errors and timeouts reading the answer's head too.
        self.retry_errors = "error" in policy.retry_on
        self.retry_timeouts = "timeout" in policy.retry_on
        self.retry_non_idempotent = "non_idempotent" in policy.retry_on
        self.retry_statuses = frozenset(int(w[5:]) for w in retry_on if w.startswith("http_"))
        # Anything the forwarder checks on each upstream answer before relaying it (a latency to
        # learn, a status to retry or replace, a size limit): False lets it skip those tests.
        self.answer_checks = bool(
            self.tracks or self.retry_statuses or self.error_pages or self.max_response_body is not None
        )

    def pick(
        self,
        request: BaseRequest,
        balancer: SmoothWeightedRoundRobin,
        ejected: Callable[[Key], bool],
        exclude: Key | None,
        cookie: str | None = None,
    ) -> Peer | None:
        if self.selector is not None:
            return self.selector.pick(request, ejected, exclude, cookie)
        return balancer.pick(ejected, exclude)

    def error_page(self, status: int) -> ErrorPage | None:
        for page in self.error_pages:
            if page.covers(status):
                return page
        return None

    def finished(self, key: Key, seconds: float | None) -> None:
        if self.selector is not None:
            self.selector.finished(key, seconds)

    def release(self, key: Key) -> None:
        if self.selector is not None:
            self.selector.release(key)

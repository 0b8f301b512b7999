"""List → watch → relist for one kind and scope, in a thread; typed events to the event loop.

- LIST (paginated), then WATCH from the list's resourceVersion with bookmarks, read line by line.
  The server ends a watch after `timeoutSeconds`: re-watch from the last version seen (a BOOKMARK
  moves that version on without an object). `410 Gone` (on the request or as an ERROR event): LIST
  again. A dropped connection, a line cut in half, or a stream silent for three bookmark intervals
  (learnt from the bookmarks that arrive, `pace`; never longer than `stall_timeout`): back off
  with jitter and re-watch (a first stall at once). Errors become a `StreamFailed` event and the
  stream keeps retrying.
- Logging: one line per problem, one when it is over (`problems`). What the API server does to
  every stream alike (unreachable, a stall, 401, 5xx, 410 right after each relist) is one problem
  shared by the streams; what concerns one resource (403 for it) is that resource's. A single 410
  is routine (relist; DEBUG).
- A server that does not serve EndpointSlices (404) is watched for legacy Endpoints instead:
  `legacy_kind` is that one decision, for the watch and for the one-shot listing alike.
- The Gateway API kinds (`--gateway`) are custom resources: without their CRDs (404) a stream holds
  no objects, says so once (one line for all of them) and looks again every `missing_kind_retry`
  seconds; the Ingress side is served meanwhile. Refused (403) before its first LIST, it counts as
  empty too (the problem is reported as any 403): Ingresses must not wait for Gateway permissions.
  Namespaces (watched with `--gateway` for their labels) are treated the same way on a 403: a
  listener selecting namespaces by label then attaches nothing it cannot judge (fail closed).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from ingressctl.providers.kubernetes.backoff import Backoff
from ingressctl.providers.kubernetes.cache import IGNORED_SECRET_TYPES, Converted, convert
from ingressctl.providers.kubernetes.client import (
    TRANSPORT_ERRORS,
    ApiError,
    KubeApi,
    StreamBroken,
    WatchStream,
    cut_off,
    stalled,
)
from ingressctl.providers.kubernetes.errors import describe_transport_error
from ingressctl.providers.kubernetes.kinds import (
    ENDPOINT_SLICE,
    ENDPOINTS,
    GATEWAY,
    GATEWAY_CLASS,
    GATEWAY_GROUP,
    HTTP_ROUTE,
    INGRESS,
    INGRESS_CLASS,
    NAMESPACE,
    REFERENCE_GRANT,
    SECRET,
    SERVICE,
    STATUS_KINDS,
    Key,
    Kind,
    describe_scope,
    key_of,
)
from ingressctl.providers.kubernetes.observed import Observed
from ingressctl.providers.kubernetes.pace import BookmarkPace
from ingressctl.providers.kubernetes.problems import REMINDER_SECONDS, ProblemLog
from ingressctl.providers.kubernetes.resources import KubeObject
from ingressctl.providers.kubernetes.status import IngressState

log = logging.getLogger(__package__)  # one logger for the whole provider


@dataclass(frozen=True, slots=True)
class StreamSpec:
    id: str
    kind: Kind
    namespace: str | None  # None: cluster scope
    label_selector: str = ""
    field_selector: str = ""


@dataclass(frozen=True, slots=True)
class Timing:
    """Every timeout of the watch loops; tests pass short ones."""

    watch_timeout: int = 300  # server-side timeoutSeconds of each watch request (jittered down to 80%)
    # No byte for this long (not even a bookmark): the stream is dead. Sooner once the bookmark
    # interval is known: three missed bookmarks, but not sooner than `stall_floor`.
    stall_timeout: float = 150.0
    stall_floor: float = 1.0
    connect_timeout: float = 10.0
    request_timeout: float = 30.0  # LIST and single-object calls
    backoff: Backoff = field(default_factory=Backoff)
    # A problem that persists (a 403, an unreachable server) is logged again this often; DEBUG in between.
    problem_reminder: float = REMINDER_SECONDS
    # A problem every stream had is over once none has had it for this long (`problems`).
    problem_settle: float = 1.0
    # A custom resource kind the server does not serve (the Gateway API CRDs not installed) is
    # looked for again this often.
    missing_kind_retry: float = 60.0


def _secret_field_selector() -> str:
    return ",".join(f"type!={t}" for t in IGNORED_SECRET_TYPES)


def stream_specs(
    namespaces: Sequence[str], label_selector: str, *, gateway: bool = False
) -> list[StreamSpec]:
    """One stream per kind and scope: per watched namespace, or cluster-wide when none are given.

    gateway: the Gateway API kinds too, and Namespaces for their labels (GatewayClasses and Namespaces
    are cluster-scoped: one stream each).
    """
    scopes: list[str | None] = list(dict.fromkeys(namespaces)) or [None]
    specs = [StreamSpec("ingressclasses", INGRESS_CLASS, None)]
    if gateway:
        specs.append(StreamSpec("gatewayclasses", GATEWAY_CLASS, None))
        specs.append(StreamSpec("namespaces", NAMESPACE, None))
    for ns in scopes:
        suffix = f"@{ns}" if ns else ""
        specs += [
            StreamSpec(f"ingresses{suffix}", INGRESS, ns, label_selector=label_selector),
            StreamSpec(f"services{suffix}", SERVICE, ns),
            StreamSpec(f"endpointslices{suffix}", ENDPOINT_SLICE, ns),
            StreamSpec(f"secrets{suffix}", SECRET, ns, field_selector=_secret_field_selector()),
        ]
        if gateway:
            specs += [
                StreamSpec(f"{k.plural}{suffix}", k, ns) for k in (GATEWAY, HTTP_ROUTE, REFERENCE_GRANT)
            ]
    return specs


# ====================================================================== events (thread → loop)


@dataclass(frozen=True, slots=True)
class Listed:
    """A LIST: the stream now holds exactly these objects."""

    stream: str
    items: tuple[Converted, ...]


@dataclass(frozen=True, slots=True)
class Upserted:
    stream: str
    item: Converted


@dataclass(frozen=True, slots=True)
class Deleted:
    stream: str
    key: Key


@dataclass(frozen=True, slots=True)
class KindSwitched:
    """EndpointSlices are not served: the stream carries legacy Endpoints from now on."""

    stream: str
    kind: Kind


@dataclass(frozen=True, slots=True)
class StreamFailed:
    stream: str
    message: str  # one line for people


@dataclass(frozen=True, slots=True)
class StreamWorking:
    stream: str


StreamEvent = Listed | Upserted | Deleted | KindSwitched | StreamFailed | StreamWorking
Emit = Callable[[StreamEvent], None]


# ====================================================================== listing


@dataclass(frozen=True, slots=True)
class Listing:
    """One LIST of a stream, converted."""

    kind: Kind  # the spec's, or legacy Endpoints when EndpointSlices are not served
    items: tuple[Converted, ...]
    ingresses: dict[Key, IngressState]  # Ingress streams only: the status each Ingress shows
    version: str  # the resourceVersion to watch from
    observed: dict[Key, Observed]  # STATUS_KINDS only: each object's status and version


def legacy_kind(kind: Kind, exc: ApiError) -> Kind | None:
    """The kind to read instead when the server does not serve `kind`: EndpointSlices → Endpoints."""
    if exc.status == 404 and kind is ENDPOINT_SLICE:
        return ENDPOINTS
    return None


def list_stream(api: KubeApi, spec: StreamSpec, kind: Kind | None = None) -> Listing:
    """LIST one stream (as `kind` when given: the stream may have switched to Endpoints)."""
    kind = kind or spec.kind
    raw_items, version = api.list_all(
        kind, spec.namespace, label_selector=spec.label_selector, field_selector=spec.field_selector
    )
    items: list[Converted] = []
    ingresses: dict[Key, IngressState] = {}
    observed: dict[Key, Observed] = {}
    for raw in raw_items:
        if kind is INGRESS:
            ingresses[key_of(raw)] = IngressState.of(raw)
        elif kind in STATUS_KINDS:
            observed[key_of(raw)] = Observed.of(raw)
        converted = convert(kind, raw)
        if converted is not None:
            items.append(converted)
    return Listing(kind, tuple(items), ingresses, version, observed)


def list_stream_once(api: KubeApi, spec: StreamSpec) -> Listing:
    """LIST one stream, falling back to legacy Endpoints as the watch does (for one-shot reads)."""
    try:
        return list_stream(api, spec)
    except ApiError as exc:
        instead = legacy_kind(spec.kind, exc)
        if instead is None:
            raise
        return list_stream(api, spec, instead)


# ====================================================================== one watch stream


# Problems of the API server itself, shared by every stream that meets them (`problems`).
SERVER_PROBLEM = "api-server"
MISSING_GATEWAY_API = "gateway-api-missing"  # the Gateway API CRDs are not installed
EXPIRED_PROBLEM = "expired"
QUICK_ENDS_LOGGED = 3  # watches in a row that end at once with nothing in them before it is a problem


class _Expired(Exception):
    """410 Gone: the version we watch from is history the server forgot; LIST again."""


class _Stalled(Exception):
    """No byte (not even a bookmark) for the stream's deadline: the connection is dead."""


def _parse_event(line: bytes) -> tuple[str, Mapping[str, object]]:
    try:
        event = json.loads(line)
        kind, obj = event["type"], event["object"]
    except (ValueError, KeyError, TypeError):
        raise StreamBroken("the watch stream sent a line that is not a JSON event") from None
    if not isinstance(kind, str) or not isinstance(obj, dict):
        raise StreamBroken("the watch stream sent a line that is not a JSON event")
    return kind, obj


def _status_code(value: object) -> int:
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else 0


class StreamWorker:
    """LIST + WATCH for one kind and scope, in its own thread, until stopped."""

    def __init__(
        self, api: KubeApi, spec: StreamSpec, timing: Timing, emit: Emit, problems: ProblemLog | None = None
    ) -> None:
        self.api = api
        self.problems = problems or ProblemLog(
            log, reminder=timing.problem_reminder, settle=timing.problem_settle
        )
        self.spec = spec
        self.kind = spec.kind
        self.timing = timing
        self._emit = emit
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"kube-{spec.id}", daemon=True)
        self._stream: WatchStream | None = None
        self._pace = BookmarkPace(
            ceiling=timing.stall_timeout, floor=min(timing.stall_floor, timing.stall_timeout)
        )
        self._delivered = False  # the current watch delivered a line
        # Watches in a row that ended at once with nothing in them, and relists in a row (410s with
        # no working watch between): what backs off a server that keeps doing either.
        self._in_a_row = 0
        # Ingress status as last seen, so the status writer skips Ingresses that already say the right thing.
        self._ingresses: dict[Key, IngressState] = {}
        self._observed: dict[Key, Observed] = {}  # likewise for the Gateway API kinds' status
        self._lb_lock = threading.Lock()
        self._listed_once = False

    def emit(self, event: StreamEvent) -> None:
        try:
            self._emit(event)
        except RuntimeError:  # the event loop is closed: the provider is gone
            self.stop_event.set()

    def ingress_state(self) -> dict[Key, IngressState]:
        with self._lb_lock:
            return dict(self._ingresses)

    def observed(self) -> dict[Key, Observed]:
        with self._lb_lock:
            return dict(self._observed)

    def _set_ingress_state(self, key: Key, raw: KubeObject | None) -> None:
        with self._lb_lock:
            if raw is None:
                self._ingresses.pop(key, None)
                self._observed.pop(key, None)
            elif self.kind is INGRESS:
                self._ingresses[key] = IngressState.of(raw)
            elif self.kind in STATUS_KINDS:
                self._observed[key] = Observed.of(raw)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        stream = self._stream
        if stream is not None:
            stream.shutdown()

    @property
    def what(self) -> str:
        return describe_scope(self.kind, self.spec.namespace)

    def _run(self) -> None:
        failures = 0
        version: str | None = None
        while not self.stop_event.is_set():
            try:
                if version is None:
                    version = self._list()
                    failures = 0
                started = time.monotonic()
                version, delivered = self._watch(version)
                failures = 0  # the server ended the watch (timeoutSeconds): re-watch at once ...
                if not delivered and time.monotonic() - started < 1.0:
                    # ... unless something keeps ending it at once: do not spin against the server
                    self._in_a_row += 1
                    self._ended_at_once(self._in_a_row)
                    self.stop_event.wait(self.timing.backoff.delay(self._in_a_row))
            except _Expired:
                self._in_a_row += 1
                self._expired(version, self._in_a_row)
                version = None
            except ApiError as exc:
                if exc.status == 410:  # refused on the request rather than as an ERROR event
                    self._in_a_row += 1
                    self._expired(version, self._in_a_row)
                    version = None
                    continue
                if self.kind.custom and exc.status == 404:
                    self._custom_kind_missing()
                    version = None
                    continue
                if self.kind.may_be_refused and exc.status == 403 and not self._listed_once:
                    self._listed_once = True  # empty, then failing as any 403 does
                    self.emit(Listed(self.spec.id, ()))
                instead = legacy_kind(self.kind, exc)
                if instead is not None:
                    log.info(
                        "kubernetes: EndpointSlices (discovery.k8s.io/v1) are not served by %s; "
                        "watching legacy Endpoints instead",
                        self.api.endpoint,
                    )
                    self.kind = instead
                    self.emit(KindSwitched(self.spec.id, instead))
                    version = None
                    continue
                failures += 1
                self._failed(str(exc), failures, level=exc.log_level, shared=_server_wide(exc))
            except _Stalled:
                failures += 1
                self._failed(self._stall_message(), failures, shared="stalled", retry_at_once=failures == 1)
            except StreamBroken as exc:
                failures += 1
                self._failed(f"{self.what}: {exc}", failures, shared="transport")
            except TRANSPORT_ERRORS as exc:
                if self.stop_event.is_set():
                    break
                failures += 1
                verb = "watch" if version else "list"
                self._failed(self._transport_message(verb, exc), failures, shared="transport")

    def _custom_kind_missing(self) -> None:
        """A custom kind not served (404: its CRD is missing): the stream holds nothing rather than
        holding every Snapshot back; one line for every such stream, then a look every
        `missing_kind_retry` seconds."""
        self._listed_once = True
        with self._lb_lock:
            self._observed.clear()
        self.emit(Listed(self.spec.id, ()))
        self.emit(StreamWorking(self.spec.id))
        retry = self.timing.missing_kind_retry
        self.problems.failed(
            MISSING_GATEWAY_API if self.kind.group == GATEWAY_GROUP else f"missing {self.kind.qualified}",
            f"the API server at {self.api.endpoint} does not serve {self.kind.group} "
            f"(are the Gateway API CRDs installed?): Gateways and HTTPRoutes are not served, Ingresses are",
            level=logging.WARNING,
            signature="404",
            detail=f"looking again every {retry:g}s",
            member=self.spec.id,
            what=f"the {self.kind.group} API",
        )
        self.stop_event.wait(retry)

    def _expired(self, version: str | None, in_a_row: int) -> None:
        what = f"{self.what}: resourceVersion {version} is too old (410 Gone)"
        if in_a_row == 1:  # routine (compaction, an API server restart): relist, say it at DEBUG only
            log.debug("kubernetes: %s, listing again", what)
            return
        # History vanishes again right after each relist: one problem for every stream, backed off.
        self.problems.failed(
            EXPIRED_PROBLEM,
            f"{what} again right after listing",
            signature="410",
            detail=f"listing again ({self.timing.backoff.describe(in_a_row - 1)})",
            member=self.spec.id,
            what="watches after repeated 410 Gone",
        )
        self.stop_event.wait(self.timing.backoff.delay(in_a_row - 1))

    def _ended_at_once(self, in_a_row: int) -> None:
        if in_a_row < QUICK_ENDS_LOGGED:
            return
        message = f"the API server at {self.api.endpoint} keeps ending the watch of {self.what} at once"
        self.problems.failed(
            SERVER_PROBLEM,
            message,
            signature="ended at once",
            detail=f"backing off ({self.timing.backoff.describe(in_a_row)})",
            member=self.spec.id,
            what=f"watches of the API server at {self.api.endpoint}",
        )

    def _stall_message(self) -> str:
        interval = self._pace.interval
        pace = f"bookmarks came every {interval:.1f}s" if interval is not None else "not even a bookmark"
        return (
            f"the watch of {self.what} at {self.api.endpoint} stalled (nothing for "
            f"{self._deadline:.3g}s; {pace}); restarting it"
        )

    def _transport_message(self, verb: str, exc: BaseException) -> str:
        cause = cut_off(exc) if verb == "watch" else None
        if cause is not None:
            return f"the watch of {self.what} at {self.api.endpoint} was cut off ({cause})"
        return describe_transport_error(verb, self.what, self.api.endpoint, exc)

    def _failed(
        self,
        message: str,
        failures: int,
        *,
        level: int = logging.WARNING,
        shared: str = "",
        retry_at_once: bool = False,
    ) -> None:
        """Log (once per problem), report and wait before the next attempt.

        shared: the class of a problem of the API server itself ("transport", "401", "5xx"): one
        problem for every stream that meets it. Empty: this stream's own problem.
        """
        backoff = self.timing.backoff
        delay = 0.0 if retry_at_once else backoff.delay(failures)
        detail = (
            "retrying now" if retry_at_once else f"retrying in {delay:.1f}s ({backoff.describe(failures)})"
        )
        if shared:
            self.problems.failed(
                SERVER_PROBLEM,
                message,
                level=level,
                signature=shared,
                detail=detail,
                member=self.spec.id,
                what=f"watches of the API server at {self.api.endpoint}",
            )
        else:
            # Keyed by the resource, not the stream: a RoleBinding removed is one line per resource,
            # however many namespaces are watched.
            self.problems.failed(
                f"resource {self.kind.plural}",
                message,
                level=level,
                detail=detail,
                member=self.spec.id,
                what=f"watch of {self.what}",
            )
        self.emit(StreamFailed(self.spec.id, message))
        if delay:
            self.stop_event.wait(delay)

    def _working(self, *, watching: bool) -> None:
        """The stream works again: after a LIST, or (what ends a run of 410s) once a watch delivers."""
        self.emit(StreamWorking(self.spec.id))
        keep = () if watching else (EXPIRED_PROBLEM,)
        self.problems.recovered(self.spec.id, f"watch of {self.what}", keep=keep)

    def _list(self) -> str:
        listing = list_stream(self.api, self.spec, self.kind)
        with self._lb_lock:
            self._ingresses = listing.ingresses
            self._observed = listing.observed
        self._listed_once = True
        self.emit(Listed(self.spec.id, listing.items))
        self._working(watching=False)
        return listing.version

    @property
    def _deadline(self) -> float:
        return self._pace.deadline

    def _watch(self, version: str) -> tuple[str, bool]:
        """Follow the stream until it ends; the last version seen, and whether any line came at all."""
        timeout = max(1, int(self.timing.watch_timeout * random.uniform(0.8, 1.0)))
        stream = self.api.open_watch(
            self.kind,
            self.spec.namespace,
            version,
            label_selector=self.spec.label_selector,
            field_selector=self.spec.field_selector,
            timeout_seconds=timeout,
            # The answer itself may be as slow as any request; silence after it is what stalls.
            read_timeout=max(self.timing.request_timeout, self.timing.stall_timeout),
        )
        self._stream = stream
        self._pace.stream_opened()
        deadline = self._deadline
        stream.set_read_timeout(deadline)
        self._delivered = False
        try:
            for line in stream.lines():
                if self.stop_event.is_set():
                    break
                kind, obj = _parse_event(line)
                if kind == "ERROR":
                    code = _status_code(obj.get("code"))
                    if code == 410:
                        raise _Expired()
                    message = obj.get("message", "")
                    raise ApiError(code, f"watch {self.what}: the server sent an error: {code} {message}")
                if not self._delivered:
                    self._delivered = True
                    self._in_a_row = 0
                    self._working(watching=True)
                raw = cast(KubeObject, obj)  # the API's JSON for this stream's kind
                version = str((raw.get("metadata") or {}).get("resourceVersion") or version)
                if kind == "BOOKMARK":
                    self._pace.bookmark(time.monotonic())
                    if self._deadline != deadline:
                        deadline = self._deadline
                        stream.set_read_timeout(deadline)
                    continue
                key = key_of(raw)
                if kind == "DELETED":
                    self._set_ingress_state(key, None)
                    self.emit(Deleted(self.spec.id, key))
                    continue
                self._set_ingress_state(key, raw)
                converted = convert(self.kind, raw)
                if converted is not None:
                    self.emit(Upserted(self.spec.id, converted))
        except TRANSPORT_ERRORS as exc:
            if stalled(exc) and not self.stop_event.is_set():
                raise _Stalled() from exc
            raise
        finally:
            self._stream = None
            stream.release()
        return version, self._delivered


def _server_wide(exc: ApiError) -> str:
    """The class of an API error that every stream meets alike ("" : this stream's own problem)."""
    if exc.status in (0, 401, 429):
        return f"api {exc.status}"
    if exc.status >= 500:
        return "api 5xx"
    return ""

"""A Kubernetes API server for tests: aiohttp on 127.0.0.1 (TLS with its own CA), in a background thread.

It speaks enough of the real protocol that the official client cannot tell the difference for the calls
ingressctl makes: discovery, LIST (selectors, pagination), WATCH (chunked JSON lines, bookmarks,
timeouts, 410 after compaction), create/update/patch/delete with optimistic concurrency, status
subresources, bearer tokens and an RBAC rule table. Tests drive faults through the Python API:
`apply`, `delete`, `compact`, `restart` (optionally changing objects while down), `stall_watches`
(half-open: the connection stays, no byte comes), `close_watches`, `break_stream_midline`, `set_delay`,
`set_errors` (500/503 phases), `set_bookmark_interval`; `list_calls` counts the LISTs clients made.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import copy
import json
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiohttp import web

from tests.kubeapi import certs, resources
from tests.kubeapi.patches import json_patch, merge_patch
from tests.kubeapi.rbac import Rule, rule, rules_from_rbac
from tests.kubeapi.resources import GATEWAY_RESOURCES, RESOURCES, Resource
from tests.kubeapi.selectors import SelectorError, field_matcher, label_matcher
from tests.kubeapi.store import ApiError, Obj, Store, Watcher

T = TypeVar("T")

ADMIN_USER = "kubernetes-admin"

__all__ = ["ADMIN_USER", "KubeAPIServer", "Rule", "rule", "rules_from_rbac"]


@dataclass(eq=False)
class _Stream:
    """One open watch response; faults are delivered through its queue or its transport."""

    watcher: Watcher
    response: web.StreamResponse
    request: web.Request
    stalled: bool = False


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    user: str
    status: int = 0
    verb: str = ""  # as RBAC names it: list, watch, get, create, update, patch, delete
    resource: str = ""  # "ingresses", "ingresses/status"


@dataclass
class _Delay:
    seconds: float
    path_contains: str = ""
    watch_only: bool = False


@dataclass
class _Error:
    status: int
    path_contains: str = ""
    verbs: frozenset[str] | None = None  # None: every request


@dataclass
class _Faults:
    delays: list[_Delay] = field(default_factory=list)
    errors: list[_Error] = field(default_factory=list)


_ERROR_REASONS = {
    500: ("InternalError", "Internal error occurred: etcdserver: request timed out"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
}


class KubeAPIServer:
    def __init__(
        self,
        workdir: Path,
        *,
        tls: bool = True,
        tokens: Mapping[str, str] | None = None,
        bookmark_interval: float = 1.0,
        history_limit: int = 10_000,
        serve_endpointslices: bool = True,
        # False: the Gateway API CRDs are not installed (discovery and every request about them: 404).
        gateway_api: bool = True,
        # "event": 200 + an ERROR 410 event (what kube-apiserver does); "status": HTTP 410 on the request.
        expired_watch: str = "event",
        default_watch_timeout: int = 1800,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tls = tls
        self.tokens: dict[str, str] = dict(tokens or {"test-token": ADMIN_USER})
        self.bookmark_interval = bookmark_interval
        self.expired_watch = expired_watch
        self.default_watch_timeout = default_watch_timeout
        self.served = tuple(r for r in RESOURCES if serve_endpointslices or r.plural != "endpointslices")
        if gateway_api:
            self.served += GATEWAY_RESOURCES
        self.store = Store(self.served, history_limit)
        # None: every authenticated user may do everything. A list: only what a rule grants.
        self.rules: list[Rule] | None = None
        self.faults = _Faults()
        self.requests: list[RequestRecord] = []
        self.port = 0
        self.certs = certs.generate(self.workdir / "pki") if tls else None
        self._streams: set[_Stream] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._closing: asyncio.Event | None = None

    # ================================================================ lifecycle

    def __enter__(self) -> KubeAPIServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            started.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="kubeapi", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("test API server did not start")

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.certs is None:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.certs.cert_file, self.certs.key_file)
        return ctx

    async def _start(self) -> None:
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, handle_signals=False)
        await self._runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl_context())
        await self._site.start()
        if not self.port:
            server = self._site._server
            assert isinstance(server, asyncio.base_events.Server)
            self.port = server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._closing is not None and self._runner is not None
        self._closing.set()
        for stream in list(self._streams):
            self._abort(stream)
        await self._runner.cleanup()

    def _call(self, coro: Awaitable[T]) -> T:
        assert self._loop is not None, "server not started"

        async def wrapper() -> T:
            return await coro

        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(wrapper(), self._loop)
        return future.result(30)

    def _run(self, fn: Callable[[], T]) -> T:
        async def call() -> T:
            return fn()

        return self._call(call())

    # ================================================================ files for clients

    def write_kubeconfig(
        self,
        path: Path | None = None,
        *,
        token: str = "test-token",
        context: str = "test",
        namespace: str = "default",
    ) -> Path:
        path = path or self.workdir / f"kubeconfig-{context}"
        cluster: dict[str, Any] = {"server": self.url}
        if self.certs is not None:
            cluster["certificate-authority"] = str(self.certs.ca_file)
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": f"{context}-cluster", "cluster": cluster}],
            "users": [{"name": f"{context}-user", "user": {"token": token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {
                        "cluster": f"{context}-cluster",
                        "user": f"{context}-user",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": context,
            "preferences": {},
        }
        path.write_text(yaml.safe_dump(doc))
        return path

    def write_serviceaccount(
        self, directory: Path, *, token: str = "test-token", namespace: str = "default"
    ) -> dict[str, str]:
        """The in-cluster layout (token, ca.crt, namespace); returns the environment a pod would have."""
        if self.certs is None:
            raise RuntimeError("in-cluster clients always use https: start the server with tls=True")
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "token").write_text(token)
        (directory / "namespace").write_text(namespace)
        (directory / "ca.crt").write_bytes(self.certs.ca_file.read_bytes())
        return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.port)}

    # ================================================================ admin API for tests

    def apply(self, obj: Mapping[str, Any]) -> Obj:
        """Create or replace (unconditionally) an object given as API JSON (kind + apiVersion + metadata)."""
        return self._run(lambda: self.store_apply(obj))

    def store_apply(self, obj: Mapping[str, Any]) -> Obj:
        """`apply`, for code already on the server's loop (`restart(while_down=...)`)."""
        res = resources.by_kind(obj["kind"], self.served)
        body = copy.deepcopy(dict(obj))
        ns = body.get("metadata", {}).get("namespace", "default") if res.namespaced else ""
        name = body["metadata"]["name"]
        body["metadata"].pop("resourceVersion", None)
        if (ns, name) in self.store.objects[res.plural]:
            updated = self.store.update(res, body, ns)
            if "status" in body and "status" in res.subresources:
                updated = self.store.update(res, body, ns, subresource="status")
            return copy.deepcopy(updated)
        created = self.store.create(res, body, ns)
        if "status" in body and "status" in res.subresources:
            created = self.store.update(res, body, ns, subresource="status")
        return copy.deepcopy(created)

    def apply_many(self, objs: Iterable[Mapping[str, Any]]) -> None:
        """Every object in one hop onto the server's loop (a burst, as a controller sees it)."""
        batch = list(objs)
        self._run(lambda: [self.store_apply(obj) for obj in batch] and None)

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        res = resources.by_kind(kind, self.served)

        def op() -> Obj | None:
            try:
                return copy.deepcopy(self.store.get(res, namespace, name))
            except ApiError:
                return None

        return self._run(op)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        res = resources.by_kind(kind, self.served)
        self._run(lambda: self.store.delete(res, namespace, name))

    @property
    def resource_version(self) -> int:
        return self._run(lambda: self.store.rv)

    def compact(self, *, expire_open_watches: bool = True) -> None:
        """Forget history: older resourceVersions get 410; open streams get an ERROR 410 event."""

        def op() -> None:
            self.store.compact()
            if expire_open_watches:
                for stream in self._streams:
                    stream.watcher.queue.put_nowait(("expire", None))

        self._run(op)

    def restart(self, downtime: float = 0.0, *, while_down: Callable[[], None] | None = None) -> None:
        """Every resourceVersion changes, history is lost, open watches drop; may refuse connections.

        while_down: changes made while no client can see them (`store_delete`, `store_apply`): they
        reach clients only through their next LIST.
        """

        async def op() -> None:
            self.store.renumber()
            for stream in list(self._streams):
                self._abort(stream)
            if downtime > 0:
                assert self._site is not None
                await self._site.stop()
            if while_down is not None:
                while_down()
                self.store.compact()  # the changes are history no watch can replay
            if downtime > 0:
                await asyncio.sleep(downtime)
                await self._listen()

        self._call(op())

    def store_delete(self, kind: str, namespace: str, name: str) -> None:
        """`delete`, for code already on the server's loop (`restart(while_down=...)`)."""
        self.store.delete(resources.by_kind(kind, self.served), namespace, name)

    def _open_streams(self, plural: str | None) -> list[_Stream]:
        return [s for s in self._streams if plural is None or s.watcher.resource.plural == plural]

    def stall_watches(self, plural: str | None = None) -> None:
        """Open watch streams (of `plural`, or all) go half-open: no events, no bookmarks, no FIN."""

        def op() -> None:
            for stream in self._open_streams(plural):
                stream.stalled = True  # at once: `open_watches` no longer counts it
                stream.watcher.queue.put_nowait(("stall", None))

        self._run(op)

    def close_watches(self, plural: str | None = None) -> None:
        """Open watch streams end at once, cleanly (as after timeoutSeconds): clients re-watch."""
        self._run(
            lambda: [s.watcher.queue.put_nowait(("drop", None)) for s in self._open_streams(plural)] and None
        )

    def install_gateway_api(self) -> None:
        """The Gateway API CRDs are installed (`kubectl apply -f standard-install.yaml`): served from now."""

        def op() -> None:
            for res in GATEWAY_RESOURCES:
                if res not in self.served:
                    self.served += (res,)
                    self.store.objects.setdefault(res.plural, {})

        self._run(op)

    def set_bookmark_interval(self, seconds: float) -> None:
        """Bookmarks every `seconds` from each stream's next bookmark on."""
        self._run(lambda: setattr(self, "bookmark_interval", seconds))

    def set_errors(self, status: int, *, path_contains: str = "", verbs: Iterable[str] | None = None) -> None:
        """Answer matching requests (verbs as RBAC names them: list, watch, get, ...) with `status`
        (500, 503, 429) until cleared with `set_errors(0)`."""

        def op() -> None:
            if status <= 0:
                self.faults.errors.clear()
            else:
                chosen = None if verbs is None else frozenset(verbs)
                self.faults.errors.append(_Error(status, path_contains, chosen))

        self._run(op)

    def list_calls(self, plural: str | None = None) -> int:
        """LIST requests answered so far (all pages, any status), of `plural` or of every resource."""
        return sum(
            1 for r in self.request_log() if r.verb == "list" and (plural is None or r.resource == plural)
        )

    def break_stream_midline(self) -> None:
        """Open watch streams get half a JSON line, then the connection is cut."""
        self._run(lambda: [s.watcher.queue.put_nowait(("break", None)) for s in self._streams] and None)

    def set_delay(self, seconds: float, *, path_contains: str = "", watch_only: bool = False) -> None:
        """Answer matching requests `seconds` late (0 clears every delay)."""

        def op() -> None:
            if seconds <= 0:
                self.faults.delays.clear()
            else:
                self.faults.delays.append(_Delay(seconds, path_contains, watch_only))

        self._run(op)

    def set_rules(self, rules: list[Rule] | None) -> None:
        self._run(lambda: setattr(self, "rules", rules))

    def add_token(self, token: str, user: str) -> None:
        self._run(lambda: self.tokens.__setitem__(token, user))

    def revoke_token(self, token: str) -> None:
        """Requests with `token` are answered 401 from now on."""
        self._run(lambda: self.tokens.pop(token, None) and None)

    def open_watches(self, plural: str | None = None) -> int:
        return self._run(
            lambda: sum(
                1
                for s in self._streams
                if not s.stalled and (plural is None or s.watcher.resource.plural == plural)
            )
        )

    def wait_for_watches(self, count: int, plural: str | None = None, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.open_watches(plural) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} open watches on {plural or 'any resource'}")
            time.sleep(0.01)

    def request_log(self) -> list[RequestRecord]:
        return self._run(lambda: list(self.requests))

    # ================================================================ HTTP

    def _abort(self, stream: _Stream) -> None:
        transport = stream.request.transport
        if transport is not None:
            transport.abort()
        stream.watcher.queue.put_nowait(("drop", None))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        record = RequestRecord(request.method, request.path, dict(request.query), "")
        self.requests.append(record)
        try:
            record.user = self._authenticate(request)
            response = await self._dispatch(request, record)
        except ApiError as err:
            response = web.json_response(err.status(), status=err.code)
        record.status = response.status
        return response

    def _authenticate(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return user

    async def _delay(self, request: web.Request, watching: bool) -> None:
        for delay in self.faults.delays:
            if delay.path_contains in request.path_qs and (watching or not delay.watch_only):
                await asyncio.sleep(delay.seconds)

    def _injected_error(self, request: web.Request, verb: str) -> None:
        for error in self.faults.errors:
            if error.path_contains in request.path_qs and (error.verbs is None or verb in error.verbs):
                reason, message = _ERROR_REASONS.get(error.status, ("InternalError", "injected error"))
                raise ApiError(error.status, reason, message)

    def _authorize(self, user: str, verb: str, res: Resource, namespace: str, name: str, sub: str) -> None:
        if self.rules is None:
            return
        resource = f"{res.plural}/{sub}" if sub else res.plural
        if any(r.allows(user, verb, res.group, resource, namespace, name) for r in self.rules):
            return
        subject = f'{res.qualified} "{name}"' if name else res.qualified
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        raise ApiError(
            403,
            "Forbidden",
            f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
            f'in API group "{res.group}" {scope}',
            {"name": name, "group": res.group, "kind": res.plural},
        )

    async def _dispatch(self, request: web.Request, record: RequestRecord) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        watching = _query_bool(request.query.get("watch"))
        await self._delay(request, watching)
        if parts == ["version"]:
            return web.json_response(
                {
                    "major": "1",
                    "minor": "31",
                    "gitVersion": "v1.31.0-kubeapi-test",
                    "gitCommit": "0000000000000000000000000000000000000000",
                    "gitTreeState": "clean",
                    "buildDate": "2026-01-01T00:00:00Z",
                    "goVersion": "go1.22.5",
                    "compiler": "gc",
                    "platform": "linux/amd64",
                }
            )
        if parts == ["api"]:
            return web.json_response(resources.api_versions())
        if parts == ["apis"]:
            return web.json_response(resources.api_group_list(self.served))
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[:1] == ["apis"] and len(parts) == 2:
            groups = [g for g in resources.api_group_list(self.served)["groups"] if g["name"] == parts[1]]
            if not groups:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return web.json_response({"kind": "APIGroup", "apiVersion": "v1", **groups[0]})
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            doc = resources.api_resource_list(group, version, self.served)
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return web.json_response(doc)

        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name, sub = rest[0], rest[1] if len(rest) > 1 else "", rest[2] if len(rest) > 2 else ""
        res = resources.find(group, version, plural, self.served)
        if (
            res is None
            or len(rest) > 3
            or (sub and sub not in res.subresources)
            or (namespace and not res.namespaced)
        ):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")

        method = request.method
        if method == "GET" and not name:
            verb = "watch" if watching else "list"
        else:
            verb = {
                "GET": "get",
                "POST": "create",
                "PUT": "update",
                "PATCH": "patch",
                "DELETE": "delete",
            }.get(method, "")
        if not verb or (method == "POST" and name):
            raise ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        record.verb, record.resource = verb, f"{res.plural}/{sub}" if sub else res.plural
        self._injected_error(request, verb)
        self._authorize(record.user, verb, res, namespace, name, sub)

        if verb == "watch":
            return await self._watch(request, res, namespace or None)
        if verb == "list":
            return web.json_response(self._list(request, res, namespace or None))
        if verb == "get":
            return web.json_response(_as_version(res, self.store.get(res, namespace, name)))
        if verb == "delete":
            gone = self.store.delete(res, namespace, name)
            return web.json_response(_as_version(res, gone))
        body = await self._body(request)
        if verb == "create":
            return web.json_response(_as_version(res, self.store.create(res, body, namespace)), status=201)
        if verb == "update":
            if body.get("metadata", {}).get("name") not in (None, name):
                raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
            body.setdefault("metadata", {})["name"] = name
            return web.json_response(
                _as_version(res, self.store.update(res, body, namespace, subresource=sub))
            )
        # patch
        current = copy.deepcopy(self.store.get(res, namespace, name))
        content_type = request.headers.get("Content-Type", "")
        raw = await request.read()
        try:
            patch = json.loads(raw or b"null")
        except ValueError as err:
            raise ApiError(400, "BadRequest", f"invalid JSON patch body: {err}") from None
        if "json-patch" in content_type:
            patched = json_patch(current, patch)
        elif "merge-patch" in content_type:
            patched = merge_patch(current, patch)
        else:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: {content_type}",
            )
        patched.setdefault("metadata", {})["name"] = name
        return web.json_response(
            _as_version(res, self.store.update(res, patched, namespace, subresource=sub))
        )

    async def _body(self, request: web.Request) -> Obj:
        try:
            body = await request.json()
        except ValueError as err:
            raise ApiError(
                400, "BadRequest", f"the body of the request could not be decoded: {err}"
            ) from None
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request must be a JSON object")
        return body

    def _matchers(self, request: web.Request, res: Resource) -> tuple[Any, Any]:
        try:
            return (
                label_matcher(request.query.get("labelSelector", "")),
                field_matcher(request.query.get("fieldSelector", ""), res.field_selectors),
            )
        except SelectorError as err:
            raise ApiError(400, "BadRequest", str(err)) from None

    def _list(self, request: web.Request, res: Resource, namespace: str | None) -> Obj:
        labels, fields = self._matchers(request, res)
        items = self.store.list(res, namespace, labels, fields)
        list_rv = self.store.rv
        token = request.query.get("continue", "")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()))
                list_rv, start = int(state["rv"]), tuple(state["start"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "BadRequest", "continue key is not valid") from None
            if list_rv < self.store.floor:
                raise ApiError(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result.",
                )
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start]
        meta: Obj = {"resourceVersion": str(list_rv)}
        limit = int(request.query.get("limit", "0") or 0)
        if limit and len(items) > limit:
            items = items[:limit]
            last = items[-1]["metadata"]
            state = {"rv": list_rv, "start": [last.get("namespace", ""), last["name"]]}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
            meta["remainingItemCount"] = len(self.store.list(res, namespace, labels, fields)) - len(items)
        # Items of a list carry no kind/apiVersion, as kube-apiserver answers: clients must not rely on them.
        stripped = []
        for obj in items:
            item = dict(obj)
            item.pop("kind", None)
            item.pop("apiVersion", None)
            stripped.append(item)
        return {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta, "items": stripped}

    async def _watch(self, request: web.Request, res: Resource, namespace: str | None) -> web.StreamResponse:
        query = request.query
        if query.get("sendInitialEvents") in ("true", "1"):
            raise ApiError(
                422,
                "Invalid",
                'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: '
                "sendInitialEvents is forbidden "
                "for watch unless the WatchList feature gate is enabled",
            )
        labels, fields = self._matchers(request, res)
        rv_text = query.get("resourceVersion", "")
        since: int | None = None
        if rv_text not in ("", "0"):
            try:
                since = int(rv_text)
            except ValueError:
                raise ApiError(400, "BadRequest", f"invalid resource version: {rv_text}") from None
        expired = since is not None and since < self.store.floor
        if expired and self.expired_watch == "status":
            raise ApiError(410, "Expired", f"too old resource version: {since} ({self.store.floor})")
        timeout = float(query.get("timeoutSeconds", self.default_watch_timeout) or self.default_watch_timeout)
        bookmarks = _query_bool(query.get("allowWatchBookmarks"))

        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        watcher = Watcher(res, namespace, labels, fields)
        stream = _Stream(watcher, response, request)

        async def send(event_type: str, obj: Obj) -> None:
            event = {"type": event_type, "object": _as_version(res, obj)}
            await response.write(json.dumps(event).encode() + b"\n")

        if expired:
            await send("ERROR", _expired_status(since))
            return response
        self.store.replay(watcher, since)
        self._streams.add(stream)
        assert self._closing is not None
        deadline = time.monotonic() + timeout
        next_bookmark = time.monotonic() + self.bookmark_interval
        try:
            while not self._closing.is_set():
                now = time.monotonic()
                if now >= deadline:
                    break
                wait = min(deadline, next_bookmark if bookmarks else deadline) - now
                try:
                    kind, payload = await asyncio.wait_for(watcher.queue.get(), max(wait, 0.001))
                except TimeoutError:
                    if bookmarks and time.monotonic() >= next_bookmark:
                        next_bookmark = time.monotonic() + self.bookmark_interval
                        await send(
                            "BOOKMARK",
                            {
                                "kind": res.kind,
                                "apiVersion": res.api_version,
                                "metadata": {"resourceVersion": str(self.store.rv)},
                            },
                        )
                    continue
                if kind == "event":
                    await send(*payload)
                elif kind == "expire":
                    await send("ERROR", _expired_status(since))
                    break
                elif kind == "drop":
                    break
                elif kind == "break":
                    await response.write(b'{"type": "MODIFIED", "object": {"kind": "' + res.kind.encode())
                    self._abort(stream)
                    break
                elif kind == "stall":
                    stream.stalled = True
                    # Hold the connection open, silent, until the client gives up or the server stops.
                    await asyncio.wait_for(self._closing.wait(), timeout=600)
                    break
        except (ConnectionResetError, TimeoutError, asyncio.CancelledError):
            pass
        finally:
            self._streams.discard(stream)
            self.store.watchers.discard(watcher)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response


def _as_version(res: Resource, obj: Obj) -> Obj:
    """An object as read through `res`'s version (ReferenceGrant: v1beta1 and v1 share one storage)."""
    if "apiVersion" not in obj or obj["apiVersion"] == res.api_version:
        return obj
    return {**obj, "apiVersion": res.api_version}


def _query_bool(value: str | None) -> bool:
    """A boolean query parameter as the API server reads it (apimachinery's
    Convert_Slice_string_To_bool): absent, "0" or "false" in any case is false, anything else true.
    Clients before kubernetes 37 send Python's "True"."""
    return value is not None and value != "0" and value.lower() != "false"


def _expired_status(since: int | None) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"too old resource version: {since}",
        "reason": "Expired",
        "code": 410,
    }

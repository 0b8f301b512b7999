"""Objects, resourceVersions, history and watchers of the test API server.

Everything here runs on the server's event loop thread (the admin API hops onto it), so no locks.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.kubeapi import gateway
from tests.kubeapi.resources import Resource

Obj = dict[str, Any]
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# The namespaces every cluster has from its first start.
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
Matcher = Callable[[Mapping[str, Any]], bool]


class ApiError(Exception):
    """Answered as a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = dict(details or {})

    def status(self) -> Obj:
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{res.qualified} "{name}" not found',
        {"name": name, "group": res.group, "kind": res.plural},
    )


@dataclass(frozen=True)
class Event:
    rv: int
    resource: Resource
    type: str  # ADDED / MODIFIED / DELETED
    obj: Obj
    old: Obj | None = None


@dataclass(eq=False)
class Watcher:
    resource: Resource
    namespace: str | None
    labels: Matcher
    fields: Matcher
    queue: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)

    def wants(self, obj: Mapping[str, Any] | None) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.labels(obj) and self.fields(obj)

    def offer(self, event: Event) -> None:
        if event.resource.storage != self.resource.storage:  # another kind (versions of one kind share)
            return
        now, before = self.wants(event.obj), self.wants(event.old)
        # Moving in or out of a selector is an ADDED/DELETED for that watcher (as kube-apiserver does).
        if event.type == "MODIFIED" and now and not before:
            self.queue.put_nowait(("event", ("ADDED", event.obj)))
        elif event.type == "MODIFIED" and before and not now:
            self.queue.put_nowait(("event", ("DELETED", event.obj)))
        elif now:
            self.queue.put_nowait(("event", (event.type, event.obj)))


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_of(res: Resource, obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace", "") if res.namespaced else "", meta.get("name", ""))


class Store:
    def __init__(self, resources: tuple[Resource, ...], history_limit: int = 10_000) -> None:
        self.resources = resources
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {r.plural: {} for r in resources}
        # resourceVersions start at an arbitrary number: clients must treat them as opaque strings.
        self.rv = 1000
        self.history: deque[Event] = deque()
        self.history_limit = history_limit
        # A watch may start from any resourceVersion >= floor; older ones are "too old" (410).
        self.floor = self.rv
        self.watchers: set[Watcher] = set()
        namespaces = next((r for r in resources if r.kind == "Namespace"), None)
        if namespaces is not None:
            for name in SYSTEM_NAMESPACES:
                self.create(namespaces, {"metadata": {"name": name}})

    # ------------------------------------------------------------ reads

    def list(self, res: Resource, namespace: str | None, labels: Matcher, fields: Matcher) -> list[Obj]:
        items = []
        for (ns, _), obj in sorted(self.objects[res.plural].items()):
            if namespace is not None and ns != namespace:
                continue
            if labels(obj) and fields(obj):
                items.append(obj)
        return items

    def get(self, res: Resource, namespace: str, name: str) -> Obj:
        obj = self.objects[res.plural].get((namespace if res.namespaced else "", name))
        if obj is None:
            raise not_found(res, name)
        return obj

    # ------------------------------------------------------------ writes

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _record(self, event: Event) -> None:
        self.history.append(event)
        while len(self.history) > self.history_limit:
            self.floor = self.history.popleft().rv
        for watcher in list(self.watchers):
            watcher.offer(event)

    def _stamp(self, res: Resource, obj: Obj, namespace: str) -> Obj:
        obj = copy.deepcopy(obj)
        obj["kind"] = res.kind
        obj["apiVersion"] = res.api_version
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ApiError(
                422, "Invalid", f"{res.kind} is invalid: metadata.name: Required value: name is required"
            )
        if res.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            meta["namespace"] = meta.get("namespace") or namespace or "default"
        else:
            meta.pop("namespace", None)
        if res.kind == "Namespace":
            # kube-apiserver sets this label on every write, whatever was sent (NamespaceDefaultLabelName).
            meta["labels"] = {**(meta.get("labels") or {}), NAMESPACE_NAME_LABEL: meta["name"]}
        return obj

    def _crd_write(self, res: Resource, obj: Obj) -> None:
        """What the API server does to a custom resource on every write: the schema's defaults, and a
        422 for a missing required field."""
        if not res.crd:
            return
        gateway.DEFAULTS[res.kind](obj)
        missing = gateway.required_fields(obj)
        if missing:
            name = obj["metadata"]["name"]
            raise ApiError(
                422,
                "Invalid",
                f'{res.kind}.{res.group} "{name}" is invalid: {missing}: Required value',
                {"name": name, "group": res.group, "kind": res.kind},
            )

    def create(self, res: Resource, obj: Obj, namespace: str = "") -> Obj:
        obj = self._stamp(res, obj, namespace)
        if res.crd and "status" in res.subresources:
            obj.pop("status", None)  # a create sets no status: the schema's default status applies
        self._crd_write(res, obj)
        key = key_of(res, obj)
        if key in self.objects[res.plural]:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{res.qualified} "{key[1]}" already exists',
                {"name": key[1], "group": res.group, "kind": res.plural},
            )
        meta = obj["metadata"]
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        meta["resourceVersion"] = self._next_rv()
        self.objects[res.plural][key] = obj
        self._record(Event(self.rv, res, "ADDED", obj))
        return obj

    def update(self, res: Resource, obj: Obj, namespace: str = "", subresource: str = "") -> Obj:
        obj = self._stamp(res, obj, namespace)
        key = key_of(res, obj)
        old = self.objects[res.plural].get(key)
        if old is None:
            raise not_found(res, key[1])
        sent_rv = obj["metadata"].get("resourceVersion")
        if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {res.qualified} "{key[1]}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                {"name": key[1], "group": res.group, "kind": res.plural},
            )
        if "status" in res.subresources:
            # With a status subresource, the main resource ignores status and /status ignores the rest.
            if subresource == "status":
                new = copy.deepcopy(old)
                new["status"] = obj.get("status", {})
                obj = new
            elif "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            else:
                obj.pop("status", None)
        self._crd_write(res, obj)
        meta = obj["metadata"]
        for kept in ("uid", "creationTimestamp"):
            meta[kept] = old["metadata"][kept]
        generation = old["metadata"].get("generation", 1)
        if subresource != "status" and obj.get("spec") != old.get("spec"):
            generation += 1
        meta["generation"] = generation
        meta["resourceVersion"] = self._next_rv()
        self.objects[res.plural][key] = obj
        self._record(Event(self.rv, res, "MODIFIED", obj, old))
        return obj

    def delete(self, res: Resource, namespace: str, name: str) -> Obj:
        key = (namespace if res.namespaced else "", name)
        old = self.objects[res.plural].pop(key, None)
        if old is None:
            raise not_found(res, name)
        gone = copy.deepcopy(old)
        gone["metadata"]["resourceVersion"] = self._next_rv()
        self._record(Event(self.rv, res, "DELETED", gone, old))
        return gone

    # ------------------------------------------------------------ watch support

    def replay(self, watcher: Watcher, since: int | None) -> None:
        """Queue what a new watch must see first: synthetic ADDEDs (no rv) or history after `since`."""
        if since is None:
            for obj in self.list(watcher.resource, watcher.namespace, watcher.labels, watcher.fields):
                watcher.queue.put_nowait(("event", ("ADDED", obj)))
        else:
            for event in self.history:
                if event.rv > since:
                    watcher.offer(event)
        self.watchers.add(watcher)

    def compact(self) -> None:
        self.history.clear()
        self.floor = self.rv

    def renumber(self, jump: int = 100_000) -> None:
        """What a restart looks like to clients: every resourceVersion changes, history is gone."""
        self.rv += jump
        for objects in self.objects.values():
            for obj in objects.values():
                obj["metadata"]["resourceVersion"] = self._next_rv()
        self.compact()

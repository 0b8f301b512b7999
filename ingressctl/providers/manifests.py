"""The manifests provider: YAML files and directories, re-read whenever they change.

Change detection polls (mtime, size, inode) of every watched file every `interval` seconds
(0.2 s by default). Polling was chosen over inotify: it needs no extra dependency, it sees
editors that replace files by rename, Kubernetes ConfigMap volumes that swap a `..data`
symlink, and network filesystems, and its cost is one stat per file per interval.

A read whose loader reports errors (broken YAML while a file is half written, an unreadable
file) is not published once a good configuration exists: the last good routes keep serving and
the provider reports itself unhealthy with the reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from ingressctl.manifests.loader import discover
from ingressctl.model import Diagnostic, IngressctlError, InputError, Severity, Snapshot
from ingressctl.providers.base import ProviderStatus, ProviderUpdate, Publish, ReportStatus

log = logging.getLogger("ingressctl.providers.manifests")

Fingerprint = tuple[tuple[str, int, int, int], ...]

_INLINE_FILES = 200


def fingerprint(paths: Sequence[str]) -> Fingerprint:
    """(path, mtime_ns, size, inode) of every file the paths stand for; missing paths count too.

    Directories are walked exactly as the loader walks them (links followed once, hidden entries
    such as a ConfigMap's `..data` skipped), so the watch sees precisely the files that are loaded.
    """
    out: list[tuple[str, int, int, int]] = []
    for path in paths:
        if os.path.isdir(path):
            try:
                files = discover(path)
            except InputError:  # unreadable now; the next load reports why
                out.append((path, -1, -1, -1))
                continue
            out.extend(_stat(name) for name in files)
        else:
            out.append(_stat(path))
    return tuple(out)


def _stat(path: str) -> tuple[str, int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (path, -1, -1, -1)
    return (path, st.st_mtime_ns, st.st_size, st.st_ino)


def keep_unchanged(previous: Snapshot | None, current: Snapshot) -> Snapshot:
    """`current` with every object equal to its previous version replaced by that very object.

    Every read parses all files anew; the watch loop's compile reuses its results for objects
    that are the same objects as last time (routing.CompileCache), so an edit to one file of a
    large repository recompiles what that file holds. Equal includes the source positions: an
    object that moved within its file is a changed object (its findings point elsewhere).
    """
    if previous is None:
        return current
    changes: dict[str, tuple[Any, ...]] = {}
    for spec in dataclasses.fields(Snapshot):
        old_objects = getattr(previous, spec.name)
        if not old_objects:
            continue
        by_key = {(o.meta.namespace, o.meta.name): o for o in old_objects}
        new_objects = getattr(current, spec.name)
        kept = tuple(_same_or(by_key.get((o.meta.namespace, o.meta.name)), o) for o in new_objects)
        changes[spec.name] = kept
    return dataclasses.replace(current, **changes)


def _same_or(old: Any, new: Any) -> Any:
    return old if old is not None and old == new else new


class ManifestsProvider:
    name = "manifests"

    def __init__(self, paths: Sequence[str], interval: float = 0.2) -> None:
        self.paths = tuple(paths)
        self.interval = interval
        self._published = False
        self._last: Snapshot | None = None
        self._reload = asyncio.Event()

    def reload(self) -> None:
        """Read the files again now, changed or not (SIGHUP)."""
        self._reload.set()

    async def run(self, publish: Publish, report: ReportStatus) -> None:
        seen: Fingerprint | None = None
        while True:
            current = await self._fingerprint(seen)
            if current != seen or self._reload.is_set():
                self._reload.clear()
                # A file still being written settles within a poll; read once it is stable.
                if seen is not None:
                    await asyncio.sleep(min(0.05, self.interval))
                    current = await self._fingerprint(seen)
                seen = current
                await self._read(publish, report)
            try:
                async with asyncio.timeout(self.interval):
                    await self._reload.wait()
            except TimeoutError:
                pass

    async def _fingerprint(self, previous: Fingerprint | None) -> Fingerprint:
        # A few dozen stat() calls take microseconds: done on the loop, they cost less than a
        # thread hop (and a GIL hand-over in the middle of the request path every interval).
        if previous is not None and len(previous) <= _INLINE_FILES:
            return fingerprint(self.paths)
        return await asyncio.to_thread(fingerprint, self.paths)

    async def _read(self, publish: Publish, report: ReportStatus) -> None:
        from ingressctl.manifests import load_paths

        previous = self._last

        def load() -> tuple[Any, Snapshot]:
            loaded = load_paths(list(self.paths))
            return loaded, keep_unchanged(previous, loaded.snapshot)

        try:
            result, snapshot = await asyncio.to_thread(load)
        except IngressctlError as exc:
            self._keep(report, str(exc))
            return
        except Exception as exc:  # a loader bug: keep serving what we have
            log.exception("manifests: reading %s failed", ", ".join(self.paths))
            self._keep(report, f"{type(exc).__name__}: {exc}")
            return
        diagnostics: list[Diagnostic] = list(result.diagnostics)
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        if errors and self._published:
            first = errors[0]
            where = f"{first.location}: " if first.location is not None else ""
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            self._keep(report, f"{where}{first.message}{more}")
            return
        for diag in errors:
            where = f"{diag.location}: " if diag.location is not None else ""
            log.warning("manifests: %s%s", where, diag.message)
        publish(ProviderUpdate(self.name, snapshot, tuple(diagnostics)))
        self._last = snapshot
        self._published = True
        report(ProviderStatus(self.name, healthy=True, last_sync=time.time()))

    def _keep(self, report: ReportStatus, reason: str) -> None:
        message = f"keeping the last good configuration: {reason}"
        report(ProviderStatus(self.name, healthy=False, message=message))

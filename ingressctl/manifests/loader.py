"""Files, directories and stdin → one Snapshot, with every finding as a Diagnostic.

Only inputs that cannot be read at all (a missing path, a permission problem, bytes that are not
text) raise `InputError`; everything wrong inside a file is a Diagnostic, and the other objects
still load.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO

from ingressctl.gc_pause import collector_paused
from ingressctl.manifests.objects import is_list, item_origin, list_items, normalise, not_a_mapping
from ingressctl.manifests.parallel import (
    MIN_BYTES,
    Claims,
    StreamingWorker,
    available_processes,
    reading_processes,
)
from ingressctl.manifests.positioned import FieldIndex
from ingressctl.manifests.yamldocs import read_documents
from ingressctl.model import (
    Diagnostic,
    Endpoints,
    EndpointSlice,
    Ingress,
    IngressClass,
    InputError,
    Location,
    Namespace,
    ObjectRef,
    Secret,
    Service,
    Snapshot,
)

if TYPE_CHECKING:
    from ingressctl.model.gateway import Gateway, GatewayClass, HTTPRoute, ReferenceGrant

STDIN = "-"
STDIN_NAME = "<stdin>"
EXTENSIONS = (".yaml", ".yml", ".json")


@dataclass(slots=True)
class LoadResult:
    """What `load_paths` read."""

    snapshot: Snapshot
    diagnostics: list[Diagnostic] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # kind -> objects of kinds ingressctl does not use
    files: list[str] = field(default_factory=list)
    documents: int = 0
    # id(model object) -> where each of its fields stands (the objects live as long as the snapshot).
    _indexes: dict[int, FieldIndex] = field(default_factory=dict, repr=False)
    # Files another process read: their objects' indexes are built when first asked for (only
    # findings and tests ask), by reading the file again. id(model object) -> its file in `_read_elsewhere`.
    _elsewhere: dict[int, int] = field(default_factory=dict, repr=False)
    _read_elsewhere: list[tuple[str, str, list[object]]] = field(default_factory=list, repr=False)

    def index_for(self, obj: object) -> FieldIndex | None:
        """The field locations of one object of `snapshot`."""
        index = self._indexes.get(id(obj))
        if index is None and id(obj) in self._elsewhere:
            self._index_file(self._elsewhere[id(obj)])
            index = self._indexes.get(id(obj))
        return index

    def _index_file(self, slot: int) -> None:
        name, text, objects = self._read_elsewhere[slot]
        again = _Collector()
        again.add_file(name, text)
        # The same text read again gives the same objects in the same order.
        for obj, twin in zip(objects, again.added, strict=True):
            index = again.result._indexes.get(id(twin))
            if index is not None:
                self._indexes[id(obj)] = index
            del self._elsewhere[id(obj)]

    def location_of(self, obj: object, *path: str | int) -> Location | None:
        """Where a field of an object of `snapshot` stands: `location_of(ing, "spec", "rules", 0, "host")`.

        Paths use the field names of the file (`serviceName` in v1beta1, `service` in v1). The answer
        falls back to the nearest enclosing field, then to the object itself; None for unknown objects.
        """
        index = self.index_for(obj)
        return index.key(*path) if index is not None else None

    def objects_named(self, ref: ObjectRef) -> list[object]:
        """Every object of `snapshot` with this kind/namespace/name (more than one when defined twice)."""
        out: list[object] = []
        for group in (
            self.snapshot.ingresses,
            self.snapshot.services,
            self.snapshot.endpoint_slices,
            self.snapshot.endpoints,
            self.snapshot.secrets,
            self.snapshot.ingress_classes,
            self.snapshot.gateway_classes,
            self.snapshot.gateways,
            self.snapshot.http_routes,
            self.snapshot.reference_grants,
            self.snapshot.namespaces,
        ):
            out.extend(obj for obj in group if getattr(obj, "ref", None) == ref)
        return out


# Told (files read so far, files in all) as reading goes: what a progress bar shows.
FilesRead = Callable[[int, int], None]


class _Collector:
    def __init__(self) -> None:
        self.ingresses: list[Ingress] = []
        self.services: list[Service] = []
        self.slices: list[EndpointSlice] = []
        self.endpoints: list[Endpoints] = []
        self.secrets: list[Secret] = []
        self.classes: list[IngressClass] = []
        self.gateway_classes: list[GatewayClass] = []
        self.gateways: list[Gateway] = []
        self.http_routes: list[HTTPRoute] = []
        self.reference_grants: list[ReferenceGrant] = []
        self.namespaces: list[Namespace] = []
        self.added: list[object] = []  # every object kept, in the order read
        self.result = LoadResult(Snapshot())
        # The list of each kind read most (one lookup instead of a chain of isinstance calls).
        self._by_type: dict[type, list[Any]] = {
            Ingress: self.ingresses,
            Service: self.services,
            EndpointSlice: self.slices,
            Endpoints: self.endpoints,
            Secret: self.secrets,
        }

    def add_file(self, name: str, text: str) -> None:
        self.result.files.append(name)
        docs, diags = read_documents(text, name)
        self.result.diagnostics.extend(diags)
        for doc in docs:
            self.add_document(doc.value, doc.location)

    def add_document(self, value: Any, origin: Location) -> None:
        if value is None:
            return  # an empty document (a stray `---`, only comments)
        self.result.documents += 1
        if not isinstance(value, Mapping):
            self.result.diagnostics.append(not_a_mapping(value, origin))
            return
        self._add_object(value, origin, None, None)

    def _add_object(
        self, raw: Mapping[str, Any], origin: Location | None, kind: str | None, api_version: str | None
    ) -> None:
        if is_list(raw):
            for item, index, item_kind, item_version in list_items(raw):
                where = item_origin(raw, index, origin)
                if not isinstance(item, Mapping):
                    self.result.diagnostics.append(not_a_mapping(item, where))
                    continue
                self._add_object(item, where, item_kind, item_version)
            return
        out = normalise(raw, origin, strict=True, default_kind=kind, default_api_version=api_version)
        self.result.diagnostics.extend(out.diagnostics)
        if out.skipped_kind is not None:
            self.result.skipped[out.skipped_kind] = self.result.skipped.get(out.skipped_kind, 0) + 1
            return
        obj = out.obj
        if obj is None:
            return
        if out.index is not None:
            self.result._indexes[id(obj)] = out.index
        self._keep(obj)

    def _keep(self, obj: object) -> None:
        self.added.append(obj)
        kept = self._by_type.get(type(obj))
        if kept is not None:
            kept.append(obj)
        else:
            self._keep_other(obj)

    def _keep_other(self, obj: object) -> None:
        if isinstance(obj, Ingress):
            self.ingresses.append(obj)
        elif isinstance(obj, Service):
            self.services.append(obj)
        elif isinstance(obj, EndpointSlice):
            self.slices.append(obj)
        elif isinstance(obj, Endpoints):
            self.endpoints.append(obj)
        elif isinstance(obj, Secret):
            self.secrets.append(obj)
        elif isinstance(obj, IngressClass):
            self.classes.append(obj)
        elif isinstance(obj, Namespace):
            self.namespaces.append(obj)
        else:
            self._add_gateway_api(obj)

    def _add_gateway_api(self, obj: object) -> None:
        # Only the Gateway API readers make these objects, and they have loaded the model already:
        # importing it here costs nothing, and a file of Ingresses never loads it (start-up time).
        from ingressctl.model.gateway import Gateway, GatewayClass, HTTPRoute, ReferenceGrant

        if isinstance(obj, HTTPRoute):
            self.http_routes.append(obj)
        elif isinstance(obj, Gateway):
            self.gateways.append(obj)
        elif isinstance(obj, GatewayClass):
            self.gateway_classes.append(obj)
        elif isinstance(obj, ReferenceGrant):
            self.reference_grants.append(obj)

    def absorb(self, other: _Collector) -> None:
        """Add what `other` read here, as if this collector had read it."""
        result, read = self.result, other.result
        result.files.extend(read.files)
        result.documents += read.documents
        result.diagnostics.extend(read.diagnostics)
        for kind, count in read.skipped.items():
            result.skipped[kind] = result.skipped.get(kind, 0) + count
        result._indexes.update(read._indexes)
        self.added.extend(other.added)
        for kept, read_there in zip(self._kinds(), other._kinds(), strict=True):
            kept.extend(read_there)

    def _kinds(self) -> tuple[list[Any], ...]:
        return (
            self.ingresses,
            self.services,
            self.slices,
            self.endpoints,
            self.secrets,
            self.classes,
            self.gateway_classes,
            self.gateways,
            self.http_routes,
            self.reference_grants,
            self.namespaces,
        )

    def merge(self, inputs: Sequence[tuple[str, str]], part: _Part) -> None:
        """Add what a worker read from `inputs`, as if they had been read here."""
        per_file, documents, diagnostics, skipped = part
        result = self.result
        result.documents += documents
        result.diagnostics.extend(diagnostics)
        for kind, count in skipped.items():
            result.skipped[kind] = result.skipped.get(kind, 0) + count
        for (name, text), objects in zip(inputs, per_file, strict=True):
            result.files.append(name)
            slot = len(result._read_elsewhere)
            result._read_elsewhere.append((name, text, objects))
            elsewhere = result._elsewhere
            keep = self._keep
            for obj in objects:
                elsewhere[id(obj)] = slot
                keep(obj)

    def finish(self) -> LoadResult:
        self.result.snapshot = Snapshot(
            ingresses=tuple(self.ingresses),
            services=tuple(self.services),
            endpoint_slices=tuple(self.slices),
            endpoints=tuple(self.endpoints),
            secrets=tuple(self.secrets),
            ingress_classes=tuple(self.classes),
            gateway_classes=tuple(self.gateway_classes),
            gateways=tuple(self.gateways),
            http_routes=tuple(self.http_routes),
            reference_grants=tuple(self.reference_grants),
            namespaces=tuple(self.namespaces),
        )
        self.result.diagnostics.sort(key=Diagnostic.sort_key)
        return self.result


def load_paths(
    paths: Sequence[str],
    stdin: TextIO | None = None,
    *,
    parallel: bool = False,
    on_files: FilesRead | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> LoadResult:
    """Read manifests from files, directories (recursively: *.yaml, *.yml, *.json) and `-` (stdin).

    `parallel` reads a large input (500 kB and more, in two files or more) in forked processes, one
    per CPU, with the same result. Only for single-threaded programs (the CLI): fork copies no
    other thread. `on_files(done, total)` is told how many files are read so far (a progress bar).
    `meanwhile()` is called once, in this process, after the workers started (validate imports the
    compiler there: the workers do not need it, and they read while it loads).
    """
    inputs = read_inputs(paths, stdin)
    if parallel:
        return load_parallel(inputs, available_processes(), on_files=on_files, meanwhile=meanwhile)
    if meanwhile is not None:
        meanwhile()
    return load_serial(inputs, on_files)


def load_text(text: str, name: str = STDIN_NAME) -> LoadResult:
    """Read manifests from a string (tests, the API's "check this YAML" form)."""
    return load_serial([(name, text)])


def load_serial(inputs: list[tuple[str, str]], on_files: FilesRead | None = None) -> LoadResult:
    told = on_files or _nobody
    collector = _Collector()
    with collector_paused():
        told(0, len(inputs))
        for done, (name, text) in enumerate(inputs, start=1):
            collector.add_file(name, text)
            told(done, len(inputs))
    return collector.finish()


def _nobody(done: int, total: int) -> None:
    return None


def _read_claimed(
    inputs: Sequence[tuple[str, str]], runs: Sequence[tuple[int, int]], claims: Claims
) -> Iterator[object]:
    """A worker's task: read the runs of files no process has taken yet, one at a time, and hand
    each back as (run number, the objects kept from each file in order, documents count,
    diagnostics in reading order, skipped kinds)."""
    while (run := claims.take()) is not None:
        start, end = runs[run]
        collector = _Collector()
        per_file: list[list[object]] = []
        for name, text in inputs[start:end]:
            before = len(collector.added)
            collector.add_file(name, text)
            per_file.append(collector.added[before:])
        result = collector.result
        yield run, per_file, result.documents, result.diagnostics, result.skipped


def _runs(files: int) -> list[tuple[int, int]]:
    """[start, end) runs of files, the pieces processes take: one file each, or a few each when
    there are more files than Claims holds numbers."""
    size = -(-files // Claims.LIMIT)
    return [(start, min(files, start + size)) for start in range(0, files, size)]


def load_parallel(
    inputs: list[tuple[str, str]],
    processes: int,
    min_bytes: int = MIN_BYTES,
    *,
    on_files: FilesRead | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> LoadResult:
    """`load_serial` shared with forked workers: each process reads the next file no process has
    taken yet (parallel.Claims); the parent merges them in file order. `meanwhile`: see load_paths."""
    count = reading_processes([len(text) for _, text in inputs], processes, min_bytes)
    if count < 2:
        if meanwhile is not None:
            meanwhile()
        return load_serial(inputs, on_files)
    from ingressctl.model.fast_init import speed_up_model  # a large input only (start-up, issue 18)

    speed_up_model()  # worth its 5 ms here (model/fast_init.py); before the workers fork
    told = on_files or _nobody
    total = len(inputs)
    runs = _runs(total)
    with collector_paused():
        told(0, total)
        claims = Claims(len(runs))
        workers: list[StreamingWorker] = []
        here: dict[int, _Collector] = {}  # run number -> what this process read of it
        sent: dict[int, _Part] = {}  # run number -> what a worker read of it
        merged = _Collector()
        # Runs are merged in file order as soon as every earlier run is in: between this process's
        # own files, while the workers still read, instead of all after the last file (when this
        # process alone runs).
        merging = _Merging(inputs, runs, merged, here, sent)
        try:
            task = partial(_read_claimed, inputs, runs, claims)
            workers = [StreamingWorker(task) for _ in range(count - 1)]
            if meanwhile is not None:
                meanwhile()  # the workers take more files meanwhile (Claims)
            read_here = 0
            taken = [0] * len(workers)  # values of each worker already taken into `sent`
            while (run := claims.take()) is not None:
                start, end = runs[run]
                collector = here[run] = _Collector()
                for name, text in inputs[start:end]:
                    collector.add_file(name, text)
                read_here += end - start
                # Unpickling what the workers sent so far here, between files, leaves less of it
                # for after the last file (when nothing else runs).
                for number, worker in enumerate(workers):
                    worker.poll()
                    received = worker.received
                    for done, part in _parts(received[taken[number] :], runs):
                        sent[done] = part
                    taken[number] = len(received)
                merging.advance()
                told(read_here + sum(_files_in(worker.received) for worker in workers), total)
        except BaseException:
            for worker in workers:
                worker.cancel()
            raise
        finally:
            claims.close()
        for number, worker in enumerate(workers):
            values = worker.finish()
            # A worker that failed: what it sent before is as good (each run is whole), the rest
            # is read here.
            for done, part in _parts(values[taken[number] :] if values is not None else (), runs):
                sent[done] = part
        merging.advance(finish=True)
        told(total, total)
    return merged.finish()


class _Merging:
    """Merges runs into `merged` in run order as far as every earlier run is in (`advance`)."""

    def __init__(
        self,
        inputs: Sequence[tuple[str, str]],
        runs: Sequence[tuple[int, int]],
        merged: _Collector,
        here: dict[int, _Collector],
        sent: dict[int, _Part],
    ) -> None:
        self.inputs = inputs
        self.runs = runs
        self.merged = merged
        self.here = here
        self.sent = sent
        self.next_run = 0  # every run before it is merged

    def advance(self, *, finish: bool = False) -> None:
        """`finish`: every run is in, or never comes (its worker failed): those are read here."""
        while self.next_run < len(self.runs):
            run = self.next_run
            start, end = self.runs[run]
            if run in self.here:
                self.merged.absorb(self.here.pop(run))
            elif run in self.sent:
                self.merged.merge(self.inputs[start:end], self.sent.pop(run))
            elif finish:  # same result, or the same error
                for name, text in self.inputs[start:end]:
                    self.merged.add_file(name, text)
            else:
                return
            self.next_run += 1


# A run of files another process read, as merged: per file, the objects kept in order; then the
# documents count, the diagnostics (unsorted, in reading order) and the skipped kinds.
_Part = tuple[list[list[object]], int, list[Diagnostic], dict[str, int]]


def _parts(values: Sequence[Any] | None, runs: Sequence[tuple[int, int]]) -> Iterator[tuple[int, _Part]]:
    """(run number, part) for each piece `_read_claimed` sent; none when the worker failed."""
    for value in values or ():
        run, per_file, documents, diagnostics, skipped = value
        start, end = runs[run]
        if len(per_file) == end - start:
            yield run, (per_file, documents, diagnostics, skipped)


def _files_in(values: Sequence[Any]) -> int:
    return sum(len(value[1]) for value in values)


def read_inputs(paths: Sequence[str], stdin: TextIO | None = None) -> list[tuple[str, str]]:
    """(name, text) for each file, in a stable order; every unreadable input raises before any is parsed.

    A file named more than once (a directory and a file in it, a symbolic link) is read once.
    """
    out: list[tuple[str, str]] = []
    stdin_read = False
    seen: set[str] = set()

    def add(file: str) -> None:
        # A file named twice (a directory and a file in it, a symlink) is read once.
        real = os.path.realpath(file)
        if real not in seen:
            seen.add(real)
            out.append((file, read_text(file)))

    for path in paths:
        if path == STDIN:
            if not stdin_read:
                out.append((STDIN_NAME, _read_stdin(stdin)))
                stdin_read = True
            continue
        if os.path.isdir(path):
            for file in discover(path):
                add(file)
        elif os.path.exists(path):
            add(path)
        else:
            raise InputError(f"{path}: no such file or directory")
    return out


def discover(directory: str) -> list[str]:
    """Manifest files under `directory`, sorted, each directory's files before its sub-directories.

    Symbolic links to directories are followed (a manifests tree assembled from links, a ConfigMap
    mounted below the directory); a directory reached twice (a link loop, two links to one place)
    is read once. Names starting with "." are skipped: that also skips the `..data` link and the
    `..2026_...` directory of a mounted ConfigMap, which would otherwise load every file twice.
    """
    found: list[str] = []
    entered: set[tuple[int, int]] = set()
    pending = [directory]
    while pending:
        current = pending.pop()
        try:
            status = os.stat(current)
            if (status.st_dev, status.st_ino) in entered:
                continue
            entered.add((status.st_dev, status.st_ino))
            with os.scandir(current) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as error:
            raise InputError(
                f"{error.filename or current}: cannot be read ({error.strerror or error})"
            ) from error
        subdirectories: list[str] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if _is_directory(entry):
                subdirectories.append(entry.path)
            elif entry.name.lower().endswith(EXTENSIONS):
                found.append(entry.path)
        pending.extend(reversed(subdirectories))
    return found


def _is_directory(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows a symbolic link
    except OSError:
        return False  # a link we may not follow: reading it as a file names the problem


def read_text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a directory") from exc
    except FileNotFoundError as exc:
        if os.path.islink(path):
            target = os.readlink(path)
            raise InputError(f"{path}: symbolic link to {target}, which does not exist") from exc
        raise InputError(f"{path}: no such file or directory") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return decode(data, path)


def decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16/32 with a BOM, as YAML allows."""
    encoding = "utf-8-sig"
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encoding = "utf-32"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8"
        ) from exc


def _read_stdin(stdin: TextIO | None) -> str:
    stream = stdin if stdin is not None else sys.stdin
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            return decode(buffer.read(), STDIN_NAME)
        return stream.read()
    except UnicodeDecodeError as exc:
        raise InputError(f"{STDIN_NAME}: not UTF-8 text; pipe UTF-8 YAML into ingressctl") from exc
    except OSError as exc:
        raise InputError(f"{STDIN_NAME}: cannot be read ({exc})") from exc
